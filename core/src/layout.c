/*
 * layout.c - figures of masks (maskinfo_render_figure): options, geometry,
 * pixel colours, the grid of panels, and the dc that sends every drawing
 * call to the measuring, PNG or SVG backend (figure.h).  What surrounds a
 * heatmap is placed by annotate.c.
 *
 * Picture model
 *   The shown Q x K cells of a plane (all, or the zoom q_range x kv_range)
 *   are grouped into buckets along each axis; every bucket is one colour.
 *   Counts come from maskinfo_mask_grid_counts under the caller's guard, so
 *   the mask is never expanded.
 *
 *   scale = N > 0   one bucket per cell, N x N pixels per cell.
 *   scale = 0       width x height pixels, both honoured (one of them 0:
 *                   it follows the aspect ratio, rounded to nearest and
 *                   clamped to [1, MI_MAX_SIDE]), each axis on its own:
 *                   - at least as many cells as pixels: `target` buckets
 *                     with cell edges floor(i * n / target), one pixel each;
 *                   - fewer: one bucket per cell, pixel edges
 *                     floor(i * target / n) (cells differ by at most one
 *                     pixel).
 *
 * Colours (f = fraction of allowed cells in a bucket)
 *   aggregate mean: f == 0 white, f == 1 the colormap's dark end, partial
 *   buckets on the colormap between t = 0.25 and 0.80 (raster.c);
 *   any: full colour when f > 0; all: full colour when f == 1; on an axis
 *   with several cells per pixel, any / all draw a thinner feature 3
 *   pixels wide (heatmap.c, which colours the buckets).  Diff
 *   panels blend MI_DIFF_A / _B / _BOTH by their share of the bucket (any:
 *   the categories present, equally).  Masked buckets whose rows or
 *   columns are all padding (id < 0) are hatched unless plain.
 *
 * Type: sizes in points at fig->dpi (auto: the largest heatmap's long side
 * spans MI_AUTO_INCHES, >= 96 dpi) times font_scale: ticks 7 pt, axis names
 * 8 pt, panel titles 9 pt, the figure title 10 pt.
 */
#include "figure.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MI_MAX_SIDE MASKINFO_MAX_IMAGE_SIDE
#define MI_MAX_BLOCKS 4096 /* kernel blocks per axis of an overlay */
/* Auto type: the largest heatmap's long side spans this many inches.  With
 * the axes around it a one-panel figure is then ~3.3 in wide, so printed
 * at one column of a two-column paper its ticks are ~7 pt (3.2 gave 6). */
#define MI_AUTO_INCHES 2.7

/* ---------------------------------------------------------------- dc */

void maskinfo__dc_init(dc *d, dc_kind kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->x0 = d->y0 = INT64_MAX;
    d->x1 = d->y1 = INT64_MIN;
}

void maskinfo__dc_extend(dc *d, int64_t x, int64_t y, int64_t w, int64_t h)
{
    if (w <= 0 || h <= 0) return;
    if (x < d->x0) d->x0 = x;
    if (y < d->y0) d->y0 = y;
    if (x + w > d->x1) d->x1 = x + w;
    if (y + h > d->y1) d->y1 = y + h;
}

void maskinfo__dc_fill(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c, int alpha)
{
    if (w <= 0 || h <= 0) return;
    maskinfo__dc_extend(d, x, y, w, h);
    if (d->kind == DC_PNG) maskinfo__png_fill(d, x, y, w, h, c, alpha);
    if (d->kind == DC_SVG) maskinfo__svg_fill(d, x, y, w, h, c, alpha);
}

void maskinfo__dc_text(dc *d, int64_t x, int64_t y, const char *s, size_t len, double size,
                       int up, rgb c)
{
    if (len == 0) return;
    int64_t tw = maskinfo__text_width(s, len, size), lh = maskinfo__line_height(size);
    if (up)
        maskinfo__dc_extend(d, x, y, lh, tw);
    else
        maskinfo__dc_extend(d, x, y, tw, lh);
    if (d->kind == DC_PNG) maskinfo__text_raster(d->px, d->w, d->h, x + d->ox, y + d->oy, s, len, size, up, c);
    if (d->kind == DC_SVG) maskinfo__svg_text(d, x, y, s, len, size, up, c);
}

void maskinfo__dc_heatmap(dc *d, const panel *p)
{
    maskinfo__dc_extend(d, 0, 0, p->hm_w, p->hm_h);
    if (d->kind == DC_PNG) maskinfo__png_heatmap(d, p);
    if (d->kind == DC_SVG) maskinfo__svg_heatmap(d, p);
}

/* ---------------------------------------------------------------- axes */

/* floor(i * n / nb) without overflowing for any n < 2^62 and nb <= 2^31. */
static int64_t edge_at(int64_t i, int64_t n, int64_t nb)
{
    int64_t q = n / nb, r = n % nb;
    return i * q + (i * r) / nb;
}

/* Cells [lo, lo + n) on `extent` pixels. */
static int axis_setup(axis *a, int64_t lo, int64_t n, int64_t extent, int64_t offset,
                      const maskinfo_limits *lim)
{
    a->lo = lo;
    a->n = n;
    a->offset = offset;
    a->nb = n >= extent ? extent : n;
    int st = MASKINFO_OK;
    a->e = mi_alloc(lim, a->nb + 1, sizeof *a->e, 0, &st);
    a->p = mi_alloc(lim, a->nb + 1, sizeof *a->p, 0, &st);
    if (st) return st;
    for (int64_t i = 0; i <= a->nb; i++) {
        a->e[i] = lo + (a->nb == n ? i : edge_at(i, n, a->nb));
        a->p[i] = a->nb == n ? edge_at(i, extent, n) : i;
    }
    return MASKINFO_OK;
}

int64_t maskinfo__axis_pixel(const axis *a, int64_t v)
{
    if (v >= a->n) return a->p[a->nb];
    if (a->nb == a->n) return a->p[v];
    int64_t lo = 0, hi = a->nb; /* e[lo] <= lo + v < e[hi] */
    v += a->lo;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a->e[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return a->p[lo];
}

/* Per bucket: all padding; band category (-2 mixed). */
static int axis_marks(axis *a, const int32_t *ids, const int32_t *bands, const maskinfo_limits *lim)
{
    int st = MASKINFO_OK;
    if (ids) a->pad = mi_alloc(lim, a->nb, 1, 0, &st);
    if (bands) a->band = mi_alloc(lim, a->nb, sizeof *a->band, 0, &st);
    if (st) return st;
    for (int64_t i = 0; i < a->nb; i++) {
        if (ids) {
            int all = 1;
            for (int64_t v = a->e[i]; v < a->e[i + 1] && all; v++) all = ids[v] < 0;
            a->pad[i] = (uint8_t)all;
        }
        if (bands) {
            int32_t b = bands[a->e[i]];
            for (int64_t v = a->e[i] + 1; v < a->e[i + 1]; v++)
                if (bands[v] != b) b = -2;
            a->band[i] = b;
        }
    }
    return MASKINFO_OK;
}

static void axis_free(axis *a)
{
    free(a->e);
    free(a->p);
    free(a->pad);
    free(a->band);
}

/* ---------------------------------------------------------------- panels */

static int64_t derive_side(int64_t t, int64_t num, int64_t den)
{
    double v = (double)t * (double)num / (double)den + 0.5;
    return v < 1 ? 1 : v > MI_MAX_SIDE ? MI_MAX_SIDE : (int64_t)v;
}

static int range_of(const int64_t r[2], int64_t n, int64_t *lo, int64_t *len)
{
    if (r[0] == 0 && r[1] == 0) {
        *lo = 0;
        *len = n;
        return MASKINFO_OK;
    }
    if (r[0] < 0 || r[1] <= r[0] || r[1] > n) return MASKINFO_EINVAL;
    *lo = r[0];
    *len = r[1] - r[0];
    return MASKINFO_OK;
}

static void panel_free(panel *p)
{
    axis_free(&p->rows);
    axis_free(&p->cols);
    free(p->counts);
    free(p->cb);
    free(p->cboth);
    free(p->blocks);
    memset(p, 0, sizeof *p);
}

/* Validate the options and fix the panel's geometry (allocations bounded
 * by MI_MAX_SIDE). */
static int panel_setup(panel *p, const maskinfo_mask *m, const maskinfo_png_opts *o,
                       const maskinfo_limits *lim)
{
    memset(p, 0, sizeof *p);
    if (!m || !o) return MASKINFO_EINVAL;
    p->m = m;
    p->o = o;
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    if (o->batch < 0 || o->batch >= sh[0] || o->head < 0 || o->head >= sh[1]) return MASKINFO_EINVAL;
    if (sh[2] < 1 || sh[3] < 1) return MASKINFO_EINVAL;
    if ((int)o->cmap < MASKINFO_CMAP_GREY || (int)o->cmap > MASKINFO_CMAP_MAGMA) return MASKINFO_EINVAL;
    if ((int)o->aggregate < MASKINFO_AGG_MEAN || (int)o->aggregate > MASKINFO_AGG_ALL) return MASKINFO_EINVAL;
    if (o->grid_lines != MASKINFO_GRID_AUTO && o->grid_lines != MASKINFO_GRID_OFF &&
        o->grid_lines != MASKINFO_GRID_ON)
        return MASKINFO_EINVAL;
    if (o->diff) {
        int64_t sb[4];
        maskinfo_mask_shape(o->diff, sb);
        if (sb[0] != sh[0] || sb[1] != sh[1] || sb[2] != sh[2] || sb[3] != sh[3]) return MASKINFO_EINVAL;
    }
    int64_t qlo, Q, klo, K;
    if (range_of(o->q_range, sh[2], &qlo, &Q) || range_of(o->kv_range, sh[3], &klo, &K))
        return MASKINFO_EINVAL;
    if (o->block_q < 0 || o->block_kv < 0 || (o->block_q > 0) != (o->block_kv > 0)) return MASKINFO_EINVAL;
    if (o->block_q > 0 && ((Q + o->block_q - 1) / o->block_q > MI_MAX_BLOCKS ||
                           (K + o->block_kv - 1) / o->block_kv > MI_MAX_BLOCKS))
        return MASKINFO_EINVAL;
    int64_t H, W;
    if (o->scale < 0) return MASKINFO_EINVAL;
    if (o->scale > 0) {
        if (o->scale > MI_MAX_SIDE || Q > MI_MAX_SIDE / o->scale || K > MI_MAX_SIDE / o->scale)
            return MASKINFO_EIMAGE;
        H = Q * o->scale;
        W = K * o->scale;
    } else {
        W = o->width;
        H = o->height;
        if (W < 0 || H < 0 || (W == 0 && H == 0)) return MASKINFO_EINVAL;
        if (W > MI_MAX_SIDE || H > MI_MAX_SIDE) return MASKINFO_EIMAGE;
        if (W == 0) W = derive_side(H, K, Q);
        if (H == 0) H = derive_side(W, Q, K);
    }
    p->plain = o->plain != 0;
    p->hm_w = W;
    p->hm_h = H;
    int st = axis_setup(&p->rows, qlo, Q, H, o->q_offset, lim);
    if (st == MASKINFO_OK) st = axis_setup(&p->cols, klo, K, W, o->kv_offset, lim);
    if (st) return st;
    int exact = p->rows.nb == Q && p->cols.nb == K;
    int64_t cell = (H / Q < W / K ? H / Q : W / K);
    if (o->grid_lines == MASKINFO_GRID_ON)
        p->grid = exact && cell >= 2;
    else if (o->grid_lines == MASKINFO_GRID_AUTO)
        p->grid = !p->plain && exact && cell >= 8;
    maskinfo__palette_init(&p->pal, o->cmap);
    const int32_t *qi = p->plain ? NULL : o->q_ids, *ki = p->plain ? NULL : o->kv_ids;
    st = axis_marks(&p->rows, qi, p->plain ? NULL : o->q_bands, lim);
    if (st == MASKINFO_OK) st = axis_marks(&p->cols, ki, p->plain ? NULL : o->kv_bands, lim);
    p->labels_q = !p->plain && o->q_labels && exact && H / Q >= 7;
    p->labels_kv = !p->plain && o->kv_labels && exact && W / K >= 7;
    return st;
}

static int grid_counts(const panel *p, const maskinfo_mask *m, uint64_t **out, const maskinfo_limits *lim)
{
    int st = MASKINFO_OK;
    *out = mi_alloc(lim, p->rows.nb * p->cols.nb, sizeof **out, 0, &st);
    if (st) return st;
    return maskinfo_mask_grid_counts(m, p->o->batch, p->o->head, p->rows.e, p->rows.nb, p->cols.e,
                                     p->cols.nb, *out, lim);
}

/* Kernel-block classes of the shown range (block edges from its start). */
static int panel_blocks(panel *p, const maskinfo_limits *lim)
{
    const maskinfo_png_opts *o = p->o;
    int64_t bq = o->block_q, bk = o->block_kv;
    p->bnr = (p->rows.n + bq - 1) / bq;
    p->bnc = (p->cols.n + bk - 1) / bk;
    int st = MASKINFO_OK;
    int64_t *re = mi_alloc(lim, p->bnr + 1, sizeof *re, 0, &st);
    int64_t *ce = mi_alloc(lim, p->bnc + 1, sizeof *ce, 0, &st);
    uint64_t *c = mi_alloc(lim, p->bnr * p->bnc, sizeof *c, 0, &st);
    p->blocks = mi_alloc(lim, p->bnr * p->bnc, 1, 0, &st);
    if (st == MASKINFO_OK) {
        for (int64_t i = 0; i <= p->bnr; i++) re[i] = p->rows.lo + (i * bq < p->rows.n ? i * bq : p->rows.n);
        for (int64_t j = 0; j <= p->bnc; j++) ce[j] = p->cols.lo + (j * bk < p->cols.n ? j * bk : p->cols.n);
        st = maskinfo_mask_grid_counts(p->m, o->batch, o->head, re, p->bnr, ce, p->bnc, c, lim);
    }
    if (st == MASKINFO_OK)
        for (int64_t i = 0; i < p->bnr; i++)
            for (int64_t j = 0; j < p->bnc; j++) {
                uint64_t area = (uint64_t)(re[i + 1] - re[i]) * (uint64_t)(ce[j + 1] - ce[j]);
                uint64_t n = c[i * p->bnc + j];
                int k = n == 0 ? MASKINFO_BLOCK_EMPTY : n >= area ? MASKINFO_BLOCK_FULL : MASKINFO_BLOCK_PARTIAL;
                p->blocks[i * p->bnc + j] = (uint8_t)k;
                p->bcount[k]++;
            }
    free(re);
    free(ce);
    free(c);
    return st;
}

static int panel_counts(panel *p, const maskinfo_limits *lim)
{
    const maskinfo_png_opts *o = p->o;
    int st = grid_counts(p, p->m, &p->counts, lim);
    if (st == MASKINFO_OK && o->diff) {
        maskinfo_mask *both = NULL;
        st = grid_counts(p, o->diff, &p->cb, lim);
        if (st == MASKINFO_OK)
            st = maskinfo_mask_and(&both, (maskinfo_mask *)p->m, (maskinfo_mask *)o->diff);
        if (st == MASKINFO_OK) st = grid_counts(p, both, &p->cboth, lim);
        maskinfo_mask_unref(both);
        if (st == MASKINFO_OK)
            for (int64_t k = 0; k < p->rows.nb * p->cols.nb; k++) {
                p->tot[0] += p->counts[k] - p->cboth[k];
                p->tot[1] += p->cb[k] - p->cboth[k];
                p->tot[2] += p->cboth[k];
            }
    }
    if (st == MASKINFO_OK && !o->diff && o->aggregate != MASKINFO_AGG_MEAN) st = maskinfo__thin_features(p, lim);
    if (st == MASKINFO_OK && o->block_q > 0 && !p->plain) st = panel_blocks(p, lim);
    if (st || p->plain) return st;
    /* what the legend must explain (plain panels have no legend) */
    for (int64_t i = 0; i < p->rows.nb; i++)
        for (int64_t j = 0; j < p->cols.nb; j++) {
            int hatch;
            uint64_t area = (uint64_t)(p->rows.e[i + 1] - p->rows.e[i]) *
                            (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]);
            uint64_t n = p->counts[i * p->cols.nb + j];
            if (!o->diff && o->aggregate == MASKINFO_AGG_MEAN && n > 0 && n < area) p->fractional = 1;
            maskinfo__bucket_colour(p, i, j, &hatch);
            if (hatch) p->hatched = 1;
        }
    return MASKINFO_OK;
}

/* ---------------------------------------------------------------- figure */

static type_sizes sizes_for(const panel *ps, int64_t n, const maskinfo_figure_opts *fig)
{
    double dpi = fig->dpi, fs = fig->font_scale > 0 ? fig->font_scale : 1.0;
    if (dpi <= 0) {
        int64_t big = 0;
        for (int64_t i = 0; i < n; i++) {
            if (ps[i].hm_w > big) big = ps[i].hm_w;
            if (ps[i].hm_h > big) big = ps[i].hm_h;
        }
        dpi = big / MI_AUTO_INCHES < 96 ? 96 : big / MI_AUTO_INCHES;
    }
    type_sizes t;
    double pt = dpi / 72.0 * fs;
    t.tick = 7 * pt;
    t.label = 8 * pt;
    t.title = 9 * pt;
    t.fig_title = 10 * pt;
    t.lw = (int64_t)(t.tick / 14 + 0.5);
    if (t.lw < 1) t.lw = 1;
    return t;
}

typedef struct {
    int64_t W, H, L, cw, cols, gap, margin, title_h, legend_y, legend_x, grid_w, legend_wrap;
    int all_plain;
} arrangement;

/* The extent of grid row r: decorations above the heatmap origins (*top)
 * and everything below them (*bottom), from the measured panel boxes. */
static void row_extent(const panel *ps, int64_t n, int64_t cols, int64_t r, int64_t *top, int64_t *bottom)
{
    *top = *bottom = 0;
    for (int64_t i = r * cols; i < n && i < (r + 1) * cols; i++) {
        if (-ps[i].y0 > *top) *top = -ps[i].y0;
        if (ps[i].y1 > *bottom) *bottom = ps[i].y1;
    }
}

/* Measure every panel, the figure title and the legend; columns as wide
 * as the widest panel, each row as tall as its tallest (so a short panel
 * under a tall one leaves no empty band), heatmap origins aligned along
 * rows and columns. */
static void arrange(panel *ps, int64_t n, int64_t columns, const maskinfo_figure_opts *fig,
                    const type_sizes *ts, arrangement *a)
{
    memset(a, 0, sizeof *a);
    int64_t R = 0;
    a->all_plain = 1;
    for (int64_t i = 0; i < n; i++) {
        dc d;
        maskinfo__dc_init(&d, DC_MEASURE);
        d.ts = ts;
        maskinfo__draw_panel(&d, &ps[i]);
        ps[i].x0 = d.x0;
        ps[i].y0 = d.y0;
        ps[i].x1 = d.x1;
        ps[i].y1 = d.y1;
        if (-d.x0 > a->L) a->L = -d.x0;
        if (d.x1 > R) R = d.x1;
        if (!ps[i].plain) a->all_plain = 0;
    }
    a->cols = columns == 0 || columns > n ? n : columns;
    int64_t nrow = (n + a->cols - 1) / a->cols;
    a->margin = a->all_plain ? 0 : (int64_t)(ts->tick + 0.5);
    a->gap = a->all_plain ? 4 : (int64_t)(ts->tick * 1.5 + 0.5);
    a->cw = a->L + R;
    a->grid_w = a->cols * a->cw + (a->cols - 1) * a->gap;
    int64_t grid_h = (nrow - 1) * a->gap, W = a->grid_w, extra = 0;
    for (int64_t r = 0; r < nrow; r++) {
        int64_t T, B;
        row_extent(ps, n, a->cols, r, &T, &B);
        grid_h += T + B;
    }
    if (fig->title && fig->title[0]) {
        dc d;
        maskinfo__dc_init(&d, DC_MEASURE);
        d.ts = ts;
        int64_t wrap = W > (int64_t)(ts->fig_title * 20) ? W : (int64_t)(ts->fig_title * 20);
        a->title_h = maskinfo__text_block(&d, 0, 0, wrap, fig->title, ts->fig_title, 1, mk_rgb(0, 0, 0));
        if (d.x1 - d.x0 > W) W = d.x1 - d.x0;
        a->title_h += (int64_t)(ts->tick * 0.6);
    }
    a->legend_y = -1;
    if (fig->legend && !a->all_plain) {
        dc d;
        maskinfo__dc_init(&d, DC_MEASURE);
        d.ts = ts;
        a->legend_wrap = W; /* the panels' width (or the title's) */
        maskinfo__draw_legend(&d, ps, n, a->legend_wrap);
        if (d.x1 > d.x0) {
            a->legend_y = a->title_h + grid_h + a->gap;
            extra = a->gap + (d.y1 - d.y0);
            a->legend_x = d.x1 - d.x0 < W ? (W - (d.x1 - d.x0)) / 2 : 0;
            if (d.x1 - d.x0 > W) W = d.x1 - d.x0;
        }
    }
    a->W = 2 * a->margin + W;
    a->H = 2 * a->margin + a->title_h + grid_h + extra;
}

static void draw_figure(dc *base, panel *ps, int64_t n, const maskinfo_figure_opts *fig,
                        const arrangement *a)
{
    dc d = *base;
    int64_t x0 = a->margin + (a->W - 2 * a->margin - a->grid_w) / 2;
    if (fig->title && fig->title[0]) {
        d.ox = a->W / 2;
        d.oy = a->margin;
        int64_t wrap = a->W - 2 * a->margin;
        maskinfo__text_block(&d, 0, 0, wrap, fig->title, d.ts->fig_title, 1, mk_rgb(0, 0, 0));
    }
    int64_t y = a->margin + a->title_h;
    for (int64_t r = 0; r * a->cols < n; r++) {
        int64_t T, B;
        row_extent(ps, n, a->cols, r, &T, &B);
        for (int64_t i = r * a->cols; i < n && i < (r + 1) * a->cols; i++) {
            d.ox = x0 + (i % a->cols) * (a->cw + a->gap) + a->L;
            d.oy = y + T;
            maskinfo__draw_panel(&d, &ps[i]);
        }
        y += T + B + a->gap;
    }
    if (a->legend_y >= 0) {
        d.ox = a->margin + a->legend_x;
        d.oy = a->margin + a->legend_y;
        maskinfo__draw_legend(&d, ps, n, a->legend_wrap);
    }
    base->status = d.status;
}

static int write_figure(panel *ps, int64_t n, const maskinfo_figure_opts *fig, const type_sizes *ts,
                        const arrangement *a, const char *path, const maskinfo_limits *lim)
{
    int st;
    dc d;
    if (fig->format == MASKINFO_FORMAT_SVG) {
        maskinfo__strbuf sb = {NULL, 0, 0, MASKINFO_OK, lim};
        maskinfo__dc_init(&d, DC_SVG);
        d.sb = &sb;
        d.ts = ts;
        d.lim = lim;
        d.png_level = fig->png_level;
        maskinfo__svg_begin(&sb, a->W, a->H);
        draw_figure(&d, ps, n, fig, a);
        maskinfo__svg_end(&sb);
        st = d.status ? d.status : sb.err;
        if (st == MASKINFO_OK) st = maskinfo__write_text_file(path, sb.p, sb.len);
        free(sb.p);
        return st;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)a->W, (uint64_t)a->H * 3u, &bytes)) return MASKINFO_ETOOBIG;
    st = maskinfo_check_alloc(lim, bytes + (uint64_t)a->W, 1);
    if (st) return st;
    uint8_t *px = malloc((size_t)bytes);
    if (!px) return MASKINFO_ENOMEM;
    memset(px, 255, (size_t)bytes);
    maskinfo__dc_init(&d, DC_PNG);
    d.px = px;
    d.w = a->W;
    d.h = a->H;
    d.ts = ts;
    d.lim = lim;
    draw_figure(&d, ps, n, fig, a);
    st = maskinfo__write_png(path, px, a->W, a->H, fig->png_level);
    free(px);
    return st;
}

int maskinfo_render_figure(const maskinfo_mask *const *ms, const maskinfo_png_opts *opts,
                           int64_t n, int64_t columns, const maskinfo_figure_opts *fig,
                           const char *path, int64_t *width, int64_t *height,
                           const maskinfo_limits *lim)
{
    if (width) *width = 0;
    if (height) *height = 0;
    if (!ms || !opts || !fig || !path || n < 1 || columns < 0) return MASKINFO_EINVAL;
    if (fig->format != MASKINFO_FORMAT_PNG && fig->format != MASKINFO_FORMAT_SVG) return MASKINFO_EINVAL;
    if (!(fig->dpi >= 0) || !(fig->font_scale >= 0) || fig->dpi > 10000 || fig->font_scale > 100)
        return MASKINFO_EINVAL;
    if (fig->png_level < 0 || fig->png_level > 9) return MASKINFO_EINVAL;
    if (n > MI_MAX_SIDE) return MASKINFO_EIMAGE; /* a renderer limit, like a side */
    int st = MASKINFO_OK;
    panel *ps = mi_alloc(lim, n, sizeof *ps, 1, &st);
    if (st) return st;
    for (int64_t i = 0; i < n && st == MASKINFO_OK; i++) st = panel_setup(&ps[i], ms[i], &opts[i], lim);
    for (int64_t i = 0; i < n && st == MASKINFO_OK; i++) st = panel_counts(&ps[i], lim);
    arrangement a;
    memset(&a, 0, sizeof a);
    if (st == MASKINFO_OK) {
        maskinfo__font_select(fig->font);
        type_sizes ts = sizes_for(ps, n, fig);
        arrange(ps, n, columns, fig, &ts, &a);
        /* the guard first (ETOOBIG), the side limit next (EIMAGE) */
        uint64_t bytes;
        if (fig->format == MASKINFO_FORMAT_PNG) {
            if (__builtin_mul_overflow((uint64_t)a.W, (uint64_t)a.H * 3u, &bytes))
                st = MASKINFO_ETOOBIG;
            else
                st = maskinfo_check_alloc(lim, bytes + (uint64_t)a.W, 1);
        }
        if (st == MASKINFO_OK && (a.W > MI_MAX_SIDE || a.H > MI_MAX_SIDE)) st = MASKINFO_EIMAGE;
        if (st == MASKINFO_OK) st = write_figure(ps, n, fig, &ts, &a, path, lim);
    }
    for (int64_t i = 0; i < n; i++) panel_free(&ps[i]);
    free(ps);
    if (st == MASKINFO_OK) {
        if (width) *width = a.W;
        if (height) *height = a.H;
    }
    return st;
}

int maskinfo_render_png_grid(const maskinfo_mask *const *ms, const maskinfo_png_opts *opts, int64_t n,
                             int64_t columns, const char *path, int64_t *width, int64_t *height,
                             const maskinfo_limits *lim)
{
    maskinfo_figure_opts fig;
    memset(&fig, 0, sizeof fig);
    fig.legend = 1;
    return maskinfo_render_figure(ms, opts, n, columns, &fig, path, width, height, lim);
}

int maskinfo_render_png(const maskinfo_mask *m, const char *path, const maskinfo_png_opts *o,
                        int64_t *width, int64_t *height, const maskinfo_limits *lim)
{
    const maskinfo_mask *const ms[1] = {m};
    if (!m || !o) {
        if (width) *width = 0;
        if (height) *height = 0;
        return MASKINFO_EINVAL;
    }
    return maskinfo_render_png_grid(ms, o, 1, 1, path, width, height, lim);
}
