/*
 * annotate.c - what surrounds a heatmap (figure.h): frame, ticks or token
 * labels, axis names, panel title, token-type bands, segment boundaries
 * with their ids, the kernel-block overlay, footers (block sparsity, diff
 * counts) and the figure legend.  Every call goes through a dc, so the
 * same code measures, rasterises and writes SVG.
 *
 * Panel coordinates: the heatmap's top-left is (0, 0); the top axis holds
 * the key ticks, the left axis the query ticks, read like a matrix.
 */
#include "figure.h"

#include <stdio.h>
#include <string.h>

#define INK mk_rgb(32, 32, 32)
#define FRAME mk_rgb(64, 64, 64)
#define MI_TICKS_MAX 10

static int64_t ipx(double v)
{
    return (int64_t)(v + 0.5);
}

/* ---------------------------------------------------------------- text */

static void line_out(dc *d, int64_t x, int64_t y, const char *s, size_t len, double size,
                     int centre, rgb c)
{
    int64_t w = maskinfo__text_width(s, len, size);
    maskinfo__dc_text(d, centre ? x - w / 2 : x, y, s, len, size, 0, c);
}

/* Greedy word wrap of one paragraph (s, plen) to maxw pixels; draws the
 * lines from y when d is not NULL; returns the number of lines. */
static int64_t wrap_para(dc *d, int64_t x, int64_t y, int64_t maxw, const char *s, size_t plen,
                         double size, int centre, rgb c)
{
    int64_t lh = maskinfo__line_height(size), n = 0;
    size_t a = 0;
    while (a < plen) {
        size_t k = a, end = a;
        int have = 0;
        while (k < plen) { /* add words while the line fits */
            size_t we = k;
            while (we < plen && s[we] != ' ') we++;
            if (have && maskinfo__text_width(s + a, we - a, size) > maxw) break;
            if (!have && maskinfo__text_width(s + a, we - a, size) > maxw) {
                /* a word wider than the line is broken between code points:
                 * the longest start that fits, at least one code point */
                size_t cut = a + 1;
                while (cut < we && ((unsigned char)s[cut] & 0xC0) == 0x80) cut++;
                for (size_t t = cut; t < we;) {
                    size_t u = t + 1;
                    while (u < we && ((unsigned char)s[u] & 0xC0) == 0x80) u++;
                    if (maskinfo__text_width(s + a, u - a, size) > maxw) break;
                    cut = t = u;
                }
                end = k = cut;
                break;
            }
            end = we;
            have = 1;
            k = we;
            while (k < plen && s[k] == ' ') k++;
        }
        if (d) line_out(d, x, y + n * lh, s + a, end - a, size, centre, c);
        n++;
        a = k;
    }
    return n;
}

int64_t maskinfo__text_block(dc *d, int64_t x, int64_t y, int64_t maxw, const char *s,
                             double size, int centre, rgb c)
{
    int64_t lh = maskinfo__line_height(size), y0 = y;
    for (;;) {
        const char *nl = strchr(s, '\n');
        size_t plen = nl ? (size_t)(nl - s) : strlen(s);
        int64_t n = wrap_para(NULL, 0, 0, maxw, s, plen, size, centre, c);
        /* balanced: the narrowest width that keeps the same number of
         * lines, so a wrapped title has no one-word last line */
        int64_t w = maxw;
        if (n > 1) {
            int64_t lo = 1;
            while (lo < w) {
                int64_t mid = lo + (w - lo) / 2;
                if (wrap_para(NULL, 0, 0, mid, s, plen, size, centre, c) <= n)
                    w = mid;
                else
                    lo = mid + 1;
            }
        }
        wrap_para(d, x, y, w, s, plen, size, centre, c);
        y += (n > 0 ? n : 1) * lh;
        if (!nl) break;
        s = nl + 1;
    }
    return y - y0;
}

/* ---------------------------------------------------------------- ticks */

static int64_t next_step(int64_t s)
{
    int64_t m = 1;
    while (s >= 10) {
        s /= 10;
        m *= 10;
    }
    return (s == 1 ? 2 : s == 2 ? 5 : 10) * m;
}

/* v in the axis unit (k or M), with one decimal where needed (0.2M, not
 * 200k, on an axis that reaches 1M; 1M, not 1000k, among k labels); plain
 * when it is no multiple of a tenth of the unit (a first cell at 999999). */
static void fmt_tick(char *b, size_t n, int64_t v, int64_t unit)
{
    if (unit == 1000 && v != 0 && v % 1000000 == 0) unit = 1000000; /* 999k, 1M */
    if (unit > 1 && v != 0 && v % unit == 0)
        snprintf(b, n, "%lld%s", (long long)(v / unit), unit == 1000000 ? "M" : "k");
    else if (unit > 1 && v != 0 && v % (unit / 10) == 0)
        snprintf(b, n, "%lld.%lld%s", (long long)(v / unit), (long long)(v % unit / (unit / 10)),
                 unit == 1000000 ? "M" : "k");
    else
        snprintf(b, n, "%lld", (long long)v);
}

static int centred_ticks(const axis *a)
{
    if (a->nb != a->n) return 0;
    for (int64_t i = 0; i < a->nb; i++)
        if (a->p[i + 1] - a->p[i] < 8) return 0;
    return 1;
}

static int64_t min_cell(const axis *a)
{
    int64_t m = INT64_MAX;
    for (int64_t i = 0; i < a->nb; i++)
        if (a->p[i + 1] - a->p[i] < m) m = a->p[i + 1] - a->p[i];
    return m;
}

/* Token labels, one per cell (or every k-th): key labels turned to read upwards above the
 * heatmap, query labels right-aligned on the left.  Returns the depth. */
static int64_t draw_token_labels(dc *d, const axis *a, const char *const *labels, int top,
                                 int64_t out)
{
    /* type of the ticks' size, or smaller to fit the cells, but never
     * below 3/4 of it (and 6 px): past that every k-th token is labelled */
    double cell = (double)min_cell(a), size = d->ts->tick < cell * 0.8 ? d->ts->tick : cell * 0.8;
    double least = d->ts->tick * 0.75 > 6 ? d->ts->tick * 0.75 : 6;
    int64_t step = 1;
    if (size < least) {
        size = least;
        int64_t need = (int64_t)(least / (cell * 0.8)) + 1;
        while (step < need) step = next_step(step); /* 2, 5, 10, ... */
    }
    int64_t lh = maskinfo__line_height(size), deep = 0;
    for (int64_t v = 0; v < a->n; v++) {
        if ((a->lo + v) % step) continue;
        const char *s = labels[a->lo + v];
        if (!s) continue;
        size_t len = strlen(s);
        int64_t tw = maskinfo__text_width(s, len, size), mid = (a->p[v] + a->p[v + 1]) / 2;
        if (tw > deep) deep = tw;
        if (top)
            maskinfo__dc_text(d, mid - lh / 2, -out - tw, s, len, size, 1, INK);
        else
            maskinfo__dc_text(d, -out - tw, mid - lh / 2, s, len, size, 0, INK);
    }
    return deep;
}

/* Ticks along one axis at multiples of the smallest 1/2/5 * 10^k step
 * whose labels keep apart (at most MI_TICKS_MAX), in one format for the
 * whole axis (k or M only when every label is a multiple).  Labels name
 * cells at their centres when every cell is >= 8 pixels, and boundaries
 * otherwise; values are absolute: zoom start plus offset.  Returns the
 * depth the labels take beyond out. */
/* One tick at position t; its mark reaches reach pixels further in, to
 * touch the frame. */
static int64_t tick_at(dc *d, const axis *a, int top, int64_t out, int64_t reach, int64_t t,
                       int64_t unit, int centred)
{
    const type_sizes *ts = d->ts;
    double size = ts->tick;
    int64_t extent = a->p[a->nb], lh = maskinfo__line_height(size);
    int64_t len = ipx(size * 0.35), gap = ipx(size * 0.25);
    char b[40];
    int64_t v = t - (a->lo + a->offset);
    int64_t pos = centred ? (a->p[v] + a->p[v + 1]) / 2 : maskinfo__axis_pixel(a, v);
    int64_t mark = pos >= extent ? extent - ts->lw : pos;
    fmt_tick(b, sizeof b, t, unit);
    size_t bl = strlen(b);
    int64_t tw = maskinfo__text_width(b, bl, size);
    if (top) {
        maskinfo__dc_fill(d, mark, -out - len, ts->lw, len + reach, FRAME, 255);
        maskinfo__dc_text(d, pos - tw / 2, -out - len - gap - lh, b, bl, size, 0, INK);
        return len + gap + lh;
    }
    maskinfo__dc_fill(d, -out - len, mark, len + reach, ts->lw, FRAME, 255);
    maskinfo__dc_text(d, -out - len - gap - tw, pos - lh / 2, b, bl, size, 0, INK);
    return len + gap + tw;
}

/* Pixels a label of t needs along the axis to keep apart from the next. */
static double tick_need(const axis *a, int top, int64_t t, int64_t unit, double size)
{
    char b[40];
    fmt_tick(b, sizeof b, t, unit);
    (void)a;
    return top ? (double)maskinfo__text_width(b, strlen(b), size) + size * 0.8
               : maskinfo__line_height(size) + size * 0.3;
}

/* Ticks along one axis at multiples of the smallest 1/2/5 * 10^k step
 * whose labels keep apart (at most MI_TICKS_MAX), in one unit for the
 * whole axis (k or M when every label is a multiple of a tenth of it).
 * Labels name cells at their centres when every cell is >= 8 pixels, and
 * boundaries otherwise; values are absolute: zoom start plus offset.  The
 * first cell is always labelled (a decode step's one row at 63 included),
 * dropping the first multiple when it would collide.  Returns the depth
 * the labels take beyond out. */
static int64_t draw_ticks(dc *d, const axis *a, int top, int64_t out, int64_t reach)
{
    double size = d->ts->tick;
    int centred = centred_ticks(a);
    int64_t extent = a->p[a->nb];
    int64_t start = a->lo + a->offset, last = start + (centred ? a->n - 1 : a->n);
    int64_t s = 1, unit = 1;
    double per = (double)extent / (double)a->n; /* pixels per position */
    for (;;) {
        unit = s % 100000 == 0 && last >= 1000000 ? 1000000 : s % 1000 == 0 && last >= 1000 ? 1000 : 1;
        double need = tick_need(a, top, last - last % s, unit, size);
        int64_t first = (start + s - 1) / s * s, count = last >= first ? (last - first) / s + 1 : 0;
        if (count <= MI_TICKS_MAX && (double)s * per >= need) break;
        if (s > last || s > INT64_MAX / 10) break;
        s = next_step(s);
    }
    int64_t deep = 0, t = (start + s - 1) / s * s;
    if (t != start) {
        deep = tick_at(d, a, top, out, reach, start, unit, centred);
        double need = tick_need(a, top, start, unit, size), need2 = tick_need(a, top, t, unit, size);
        if ((double)(t - start) * per < (need > need2 ? need : need2) && t <= last)
            t = t > INT64_MAX - s ? last + 1 : t + s;
    }
    for (; t <= last; t += s) {
        int64_t dd = tick_at(d, a, top, out, reach, t, unit, centred);
        if (dd > deep) deep = dd;
        if (t > INT64_MAX - s) break;
    }
    return deep;
}

/* ---------------------------------------------------------------- bands, segments */

static rgb band_colour(int32_t v)
{
    static const uint8_t pal[8][3] = {{230, 159, 0},  {86, 180, 233}, {0, 158, 115},
                                      {240, 228, 66}, {0, 114, 178},  {213, 94, 0},
                                      {204, 121, 167}, {120, 120, 120}};
    if (v < 0) return mk_rgb(225, 225, 225);
    return mk_rgb(pal[v % 8][0], pal[v % 8][1], pal[v % 8][2]);
}

/* A strip of category colours along one axis, thickness th, at distance
 * out from the heatmap edge. */
static void draw_band(dc *d, const axis *a, int top, int64_t out, int64_t th)
{
    for (int64_t i = 0; i < a->nb;) {
        int64_t k = i + 1;
        while (k < a->nb && a->band[k] == a->band[i]) k++;
        if (a->band[i] != -2) {
            rgb c = band_colour(a->band[i]);
            int64_t p0 = a->p[i], w = a->p[k] - a->p[i];
            if (top)
                maskinfo__dc_fill(d, p0, -out - th, w, th, c, 255);
            else
                maskinfo__dc_fill(d, -out - th, p0, th, w, c, 255);
        }
        i = k;
    }
}

/* Segment boundaries inside the shown range (none when it holds one
 * segment; skipped when denser than one per 4 pixels), and each
 * non-padding segment's id beside the heatmap where it has room: right of
 * it for queries, below it for keys.  Returns the depth of the labels. */
static int64_t draw_segments(dc *d, const panel *p, const axis *a, const int32_t *ids, int keys)
{
    int64_t lo = a->lo, hi = a->lo + a->n, extent = a->p[a->nb];
    int64_t other = keys ? p->hm_h : p->hm_w, nbound = 0, lastpx = -1;
    for (int64_t v = lo + 1; v < hi; v++)
        if (ids[v] != ids[v - 1]) {
            int64_t px = maskinfo__axis_pixel(a, v - lo);
            if (px != lastpx) nbound++;
            lastpx = px;
        }
    if (nbound == 0) return 0;
    if (nbound * 4 <= extent) {
        lastpx = -1;
        for (int64_t v = lo + 1; v < hi; v++) {
            if (ids[v] == ids[v - 1]) continue;
            int64_t px = maskinfo__axis_pixel(a, v - lo);
            if (px == lastpx) continue;
            lastpx = px;
            if (keys)
                maskinfo__dc_fill(d, px, 0, 1, other, p->pal.accent, 255);
            else
                maskinfo__dc_fill(d, 0, px, other, 1, p->pal.accent, 255);
        }
    }
    if (p->plain) return 0;
    double size = d->ts->tick;
    int64_t lh = maskinfo__line_height(size), gap = 3 * d->ts->lw + ipx(size * 0.3), deep = 0;
    char b[16];
    for (int64_t s0 = lo; s0 < hi;) {
        int64_t s1 = s0 + 1;
        while (s1 < hi && ids[s1] == ids[s0]) s1++;
        int64_t p0 = maskinfo__axis_pixel(a, s0 - lo), p1 = maskinfo__axis_pixel(a, s1 - lo);
        if (ids[s0] >= 0) {
            snprintf(b, sizeof b, "%ld", (long)ids[s0]);
            size_t bl = strlen(b);
            int64_t tw = maskinfo__text_width(b, bl, size);
            if (keys && p1 - p0 >= tw + 4) {
                maskinfo__dc_text(d, (p0 + p1) / 2 - tw / 2, other + gap, b, bl, size, 0, p->pal.accent);
                deep = gap + lh;
            } else if (!keys && p1 - p0 >= lh) {
                maskinfo__dc_text(d, other + gap, (p0 + p1) / 2 - lh / 2, b, bl, size, 0, p->pal.accent);
                if (gap + tw > deep) deep = gap + tw;
            }
        }
        s0 = s1;
    }
    return deep;
}

/* ---------------------------------------------------------------- blocks */

/* Block tints by class (empty, partial, full) and their opacity. */
static const int BLOCK_ALPHA[3] = {0, 80, 70};
static const uint8_t BLOCK_TINT[3][3] = {{255, 255, 255}, {240, 170, 0}, {0, 158, 115}};

/* The overlay is drawn when blocks are >= 3 pixels. */
static int blocks_shown(const panel *p)
{
    const maskinfo_png_opts *o = p->o;
    return p->blocks && o->block_q * p->hm_h / p->rows.n >= 3 && o->block_kv * p->hm_w / p->cols.n >= 3;
}

/* Kernel blocks: full ones tinted green, partial ones amber, empty ones
 * left alone, with their boundaries. */
static void draw_blocks(dc *d, const panel *p)
{
    const maskinfo_png_opts *o = p->o;
    int64_t bq = o->block_q, bk = o->block_kv;
    if (!blocks_shown(p)) return;
    const int *alpha = BLOCK_ALPHA;
    rgb tint[3];
    for (int k = 0; k < 3; k++) tint[k] = mk_rgb(BLOCK_TINT[k][0], BLOCK_TINT[k][1], BLOCK_TINT[k][2]);
    for (int64_t i = 0; i < p->bnr; i++) {
        int64_t y0 = maskinfo__axis_pixel(&p->rows, i * bq);
        int64_t y1 = maskinfo__axis_pixel(&p->rows, (i + 1) * bq < p->rows.n ? (i + 1) * bq : p->rows.n);
        for (int64_t j = 0; j < p->bnc; j++) {
            int c = p->blocks[i * p->bnc + j];
            if (!alpha[c]) continue;
            int64_t x0 = maskinfo__axis_pixel(&p->cols, j * bk);
            int64_t x1 = maskinfo__axis_pixel(&p->cols, (j + 1) * bk < p->cols.n ? (j + 1) * bk : p->cols.n);
            maskinfo__dc_fill(d, x0, y0, x1 - x0, y1 - y0, tint[c], alpha[c]);
        }
    }
    const rgb line = mk_rgb(0, 90, 181);
    for (int64_t i = 1; i < p->bnr; i++)
        maskinfo__dc_fill(d, 0, maskinfo__axis_pixel(&p->rows, i * bq), p->hm_w, 1, line, 170);
    for (int64_t j = 1; j < p->bnc; j++)
        maskinfo__dc_fill(d, maskinfo__axis_pixel(&p->cols, j * bk), 0, 1, p->hm_h, line, 170);
}

/* ---------------------------------------------------------------- panel */

static void grid_lines(dc *d, const panel *p)
{
    const rgb g = mk_rgb(136, 136, 136);
    for (int64_t i = 1; i < p->rows.nb; i++) maskinfo__dc_fill(d, 0, p->rows.p[i], p->hm_w, 1, g, 128);
    for (int64_t j = 1; j < p->cols.nb; j++) maskinfo__dc_fill(d, p->cols.p[j], 0, 1, p->hm_h, g, 128);
}

#define NBSP "\xc2\xa0" /* U+00A0 in UTF-8 */

/* v with thousands separators ("2,851,200"); out holds >= 27 bytes. */
static void grouped(char *out, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = t[i];
    }
    out[o] = 0;
}

void maskinfo__draw_panel(dc *d, const panel *p)
{
    const maskinfo_png_opts *o = p->o;
    const type_sizes *ts = d->ts;
    maskinfo__dc_heatmap(d, p);
    if (p->grid) grid_lines(d, p);
    if (p->blocks) draw_blocks(d, p);
    int segs = o->show_segments != 0;
    int64_t right = 0, below = 0;
    if (segs && o->q_ids) right = draw_segments(d, p, &p->rows, o->q_ids, 0);
    if (segs && o->kv_ids) below = draw_segments(d, p, &p->cols, o->kv_ids, 1);
    if (p->plain) return;
    /* the frame lies flush outside the heatmap: a white gap between them
     * read as a band of masked cells (docs/decisions.md).  The decorations
     * keep their places (fo), so figure sizes are as before. */
    const int64_t lw = ts->lw, W = p->hm_w, H = p->hm_h, fo = 3 * lw;
    maskinfo__dc_fill(d, -lw, -lw, W + 2 * lw, lw, FRAME, 255);
    maskinfo__dc_fill(d, -lw, H, W + 2 * lw, lw, FRAME, 255);
    maskinfo__dc_fill(d, -lw, 0, lw, H, FRAME, 255);
    maskinfo__dc_fill(d, W, 0, lw, H, FRAME, 255);
    maskinfo__dc_extend(d, -fo, -fo, W + 2 * fo, H + 2 * fo);
    int64_t top = fo, left = fo, gap = ipx(ts->tick * 0.25);
    if (p->rows.band || p->cols.band) {
        int64_t th = ipx(ts->tick * 0.6);
        if (p->cols.band) draw_band(d, &p->cols, 1, top + gap, th);
        if (p->rows.band) draw_band(d, &p->rows, 0, left + gap, th);
        top += gap + th;
        left += gap + th;
    }
    if (p->labels_kv)
        top += gap + draw_token_labels(d, &p->cols, o->kv_labels, 1, top + gap);
    else
        top += draw_ticks(d, &p->cols, 1, top, top == fo ? fo - lw : 0);
    if (p->labels_q)
        left += gap + draw_token_labels(d, &p->rows, o->q_labels, 0, left + gap);
    else
        left += draw_ticks(d, &p->rows, 0, left, left == fo ? fo - lw : 0);
    /* axis names: "key" over the top ticks, "query" reading upwards */
    double ls = ts->label;
    int64_t llh = maskinfo__line_height(ls), lgap = ipx(ls * 0.35);
    int64_t kw = maskinfo__text_width("key", 3, ls), qw = maskinfo__text_width("query", 5, ls);
    top += lgap + llh;
    maskinfo__dc_text(d, W / 2 - kw / 2, -top, "key", 3, ls, 0, INK);
    maskinfo__dc_text(d, -left - lgap - llh, H / 2 - qw / 2, "query", 5, ls, 1, INK);
    if (o->title && o->title[0]) {
        int64_t wrap = W > ipx(ts->title * 18) ? W : ipx(ts->title * 18);
        dc m;
        maskinfo__dc_init(&m, DC_MEASURE);
        m.ts = ts;
        int64_t th = maskinfo__text_block(&m, 0, 0, wrap, o->title, ts->title, 1, INK);
        top += lgap + th;
        maskinfo__text_block(d, W / 2, -top, wrap, o->title, ts->title, 1, INK);
    }
    (void)right;
    /* footers: block sparsity, diff counts */
    int64_t y = H + fo + (below > 0 ? below : 0) + gap;
    char b[200];
    if (p->blocks) {
        uint64_t nb = p->bcount[0] + p->bcount[1] + p->bcount[2];
        /* two lines: the counts, then the sparsity as BlockMask prints it */
        snprintf(b, sizeof b, "blocks %lldx%lld: %llu full, %llu partial, %llu empty\nsparsity %.2f%%",
                 (long long)o->block_q, (long long)o->block_kv, (unsigned long long)p->bcount[2],
                 (unsigned long long)p->bcount[1], (unsigned long long)p->bcount[0],
                 nb ? 100.0 * (double)p->bcount[0] / (double)nb : 0.0);
        y += maskinfo__text_block(d, 0, y, W > ipx(ts->tick * 20) ? W : ipx(ts->tick * 20), b, ts->tick, 0, INK);
    }
    if (o->diff) {
        char n[3][32];
        for (int k = 0; k < 3; k++) grouped(n[k], p->tot[k]);
        /* no-break spaces inside an item: a wrap falls between items */
        snprintf(b, sizeof b, "only" NBSP "a:" NBSP "%s   only" NBSP "b:" NBSP "%s   both:" NBSP "%s" NBSP "cells", n[0], n[1],
                 n[2]);
        maskinfo__text_block(d, 0, y, W > ipx(ts->tick * 20) ? W : ipx(ts->tick * 20), b, ts->tick, 0, INK);
    }
}

/* ---------------------------------------------------------------- legend */

/* A swatch (framed square) and its name; returns the x after it. */
/* The legend's pen: items flow left to right and wrap at wrap pixels
 * (at least one item a line), so the legend never widens the figure. */
typedef struct {
    int64_t x, y, wrap, lh;
} pen;

/* Moves the pen to a new line when w more pixels do not fit. */
static void pen_room(pen *p, int64_t w)
{
    if (p->x > 0 && p->x + w > p->wrap) {
        p->x = 0;
        p->y += p->lh;
    }
}

static void swatch(dc *d, pen *p, int64_t sz, rgb c, int hatch, const char *name, double size)
{
    size_t len = strlen(name);
    int64_t tw = maskinfo__text_width(name, len, size);
    pen_room(p, sz + 2 + ipx(size * 0.35) + tw);
    int64_t lh = maskinfo__line_height(size), y = p->y + (lh - sz) / 2, x = p->x;
    maskinfo__dc_fill(d, x, y, sz + 2, sz + 2, FRAME, 255);
    if (hatch) {
        maskinfo__dc_fill(d, x + 1, y + 1, sz, sz, mk_rgb(255, 255, 255), 255);
        for (int64_t k = 0; k < sz; k++)
            for (int64_t l = 0; l < sz; l++)
                if ((k + l) % 6 == 0) maskinfo__dc_fill(d, x + 1 + l, y + 1 + k, 1, 1, hatch_colour(0, 0), 255);
    } else {
        maskinfo__dc_fill(d, x + 1, y + 1, sz, sz, c, 255);
    }
    x += sz + 2 + ipx(size * 0.35);
    maskinfo__dc_text(d, x, p->y, name, len, size, 0, INK);
    p->x = x + tw + ipx(size * 1.2);
}

/* The partial ramp, from just above 0% to just below 100% allowed; its
 * caption goes on to the next line when the line is full. */
static void ramp(dc *d, pen *p, int64_t sz, const palette *pal, double size)
{
    int64_t lh = maskinfo__line_height(size), bw = ipx(size * 8), sp = ipx(size * 0.35);
    const char *l0 = "0%", *l1 = "100% allowed (fraction per pixel)", *l2 = "100%",
               *l3 = "allowed (fraction per pixel)";
    int64_t w0 = maskinfo__text_width(l0, 2, size), w1 = maskinfo__text_width(l1, strlen(l1), size);
    int64_t w2 = maskinfo__text_width(l2, strlen(l2), size), bar = w0 + sp + bw + 2 + sp;
    int whole = p->x + bar + w1 <= p->wrap || bar + w1 <= p->wrap;
    pen_room(p, bar + (whole ? w1 : w2));
    int64_t x = p->x, y = p->y + (lh - sz) / 2;
    maskinfo__dc_text(d, x, p->y, l0, 2, size, 0, INK);
    x += w0 + sp;
    maskinfo__dc_fill(d, x, y, bw + 2, sz + 2, FRAME, 255);
    for (int64_t i = 0; i < bw; i++) {
        int k = (int)((i * 256 + 128) / bw);
        maskinfo__dc_fill(d, x + 1 + i, y + 1, 1, sz, pal->part[k > 255 ? 255 : k], 255);
    }
    x += bw + 2 + sp;
    if (whole) {
        maskinfo__dc_text(d, x, p->y, l1, strlen(l1), size, 0, INK);
        return;
    }
    maskinfo__dc_text(d, x, p->y, l2, strlen(l2), size, 0, INK);
    p->x = x + w2 + sp;
    pen_room(p, maskinfo__text_width(l3, strlen(l3), size));
    maskinfo__dc_text(d, p->x, p->y, l3, strlen(l3), size, 0, INK);
}

/* One swatch per band colour the panels show: "band 2" (or "band 2, 10,
 * ..." where ids past 7 reuse a colour), and "mixed" for pixels that
 * span several categories or padding. */
static void band_legend(dc *d, pen *p, int64_t sz, const panel *ps, int64_t n, double size)
{
    int32_t first[8], more[8], other = 0;
    for (int k = 0; k < 8; k++) first[k] = more[k] = -1;
    for (int64_t i = 0; i < n; i++)
        for (int ax = 0; ax < 2; ax++) {
            const axis *a = ax ? &ps[i].cols : &ps[i].rows;
            if (!a->band) continue;
            for (int64_t j = 0; j < a->nb; j++) {
                int32_t v = a->band[j];
                if (v < 0) {
                    other = 1;
                } else if (first[v % 8] < 0 || v < first[v % 8]) {
                    if (first[v % 8] >= 0) more[v % 8] = first[v % 8];
                    first[v % 8] = v;
                } else if (v != first[v % 8]) {
                    more[v % 8] = v;
                }
            }
        }
    char b[48];
    for (int k = 0; k < 8; k++) {
        if (first[k] < 0) continue;
        if (more[k] >= 0)
            snprintf(b, sizeof b, "band %d, %d, ...", (int)first[k], (int)(first[k] + 8));
        else
            snprintf(b, sizeof b, "band %d", (int)first[k]);
        swatch(d, p, sz, band_colour(k), 0, b, size);
    }
    if (other) swatch(d, p, sz, band_colour(-1), 0, "band: mixed or none", size);
}

void maskinfo__draw_legend(dc *d, const panel *ps, int64_t n, int64_t wrap)
{
    double size = d->ts->tick;
    int64_t sz = ipx(size * 0.8);
    pen p = {0, 0, wrap, maskinfo__line_height(size) + ipx(size * 0.4)};
    int diff = 0, plainpanel = 0, fractional = 0, hatched = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ps[i].o->diff) diff = 1; else plainpanel = 1;
        fractional |= ps[i].fractional;
        hatched |= ps[i].hatched;
    }
    const palette *pal = &ps[0].pal;
    if (plainpanel) {
        swatch(d, &p, sz, pal->full, 0, "allowed", size);
        swatch(d, &p, sz, pal->empty, 0, "masked", size);
    }
    if (diff) {
        swatch(d, &p, sz, MI_DIFF_A, 0, "only a", size);
        swatch(d, &p, sz, MI_DIFF_B, 0, "only b", size);
        swatch(d, &p, sz, MI_DIFF_BOTH, 0, "both", size);
    }
    if (hatched) swatch(d, &p, sz, pal->empty, 1, "padding", size);
    int blocks = 0;
    for (int64_t i = 0; i < n; i++) blocks |= blocks_shown(&ps[i]);
    if (blocks) {
        /* the tints as they look over a masked (white) cell */
        static const char *const name[3] = {NULL, "partial block", "full block"};
        for (int k = 2; k >= 1; k--) {
            int c[3];
            for (int j = 0; j < 3; j++) c[j] = 255 + ((BLOCK_TINT[k][j] - 255) * BLOCK_ALPHA[k] + 127) / 255;
            swatch(d, &p, sz, mk_rgb(c[0], c[1], c[2]), 0, name[k], size);
        }
    }
    band_legend(d, &p, sz, ps, n, size);
    if (fractional && plainpanel) ramp(d, &p, sz, pal, size);
}
