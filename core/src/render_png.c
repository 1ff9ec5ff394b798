/*
 * render_png.c - PNG heatmaps of one (b, h) plane of a mask.
 *
 * Picture model
 *   The plane's Q x K cells are grouped into buckets along each axis; every
 *   bucket is drawn as a block of pixels whose colour shows the exact
 *   fraction of allowed cells in it.  Counts come from
 *   maskinfo_mask_grid_counts(, NULL), so the mask is never expanded.
 *
 *   scale = N > 0   one bucket per cell, N x N pixels per cell.
 *   scale = 0       width/height are targets for the heatmap (one of them
 *                   may be 0: it then follows the mask's aspect ratio):
 *                   - if the whole plane fits (Q <= height and K <= width)
 *                     every cell gets s x s pixels with
 *                     s = min(height / Q, width / K): cells stay square and
 *                     exact, and the picture may be smaller than the target;
 *                   - otherwise each axis on its own: an axis with at least
 *                     as many cells as target pixels is cut into exactly
 *                     `target` buckets with edges floor(i * n / target), one
 *                     pixel each; a shorter axis keeps one bucket per cell and
 *                     repeats it floor(target / n) times.
 *   The real size is returned through *width / *height.
 *
 * Colours (fraction f of allowed cells in a pixel)
 *   f == 0     white (masked)
 *   f == 1     the dark end of the colormap (grey: black, viridis: purple,
 *              magma: near-black)
 *   0 < f < 1  the colormap between t = 0.25 (f near 1) and t = 0.80
 *              (f near 0), so partial pixels keep a visible gap from both
 *              the full colour and white; quantised to 256 levels.
 *   plain=1 with scale=1 is therefore exactly one pixel per cell: allowed =
 *   the colormap's dark end, masked = white.
 *
 * Decorations (plain == 0): title (top, larger), "key ->" above and a
 * rotated "query ->" (pointing down) on the left, tick labels at multiples
 * of a 1/2/5 * 10^k step giving at most 8 ticks that do not collide (labels
 * name cell indices at cell centres when cells are >= 8 pixels, and cell
 * boundaries otherwise), a frame, segment boundaries with their ids
 * (show_segments with q_ids/kv_ids), grid lines between cells (auto: cells
 * of >= 8 pixels), and a colour bar "0% [masked|partial|full] 100% allowed".
 * plain == 1 draws only the heatmap; explicit requests (grid_lines == 1,
 * show_segments) still draw their lines inside it, without labels.  All
 * text is twice as large for heatmaps of 640 pixels or more.
 *
 * Output: 8-bit greyscale when every pixel is grey (the grey colormap without
 * coloured segment lines), 8-bit RGB otherwise.  zlib level 1 and no row
 * filters: several times faster on mask pictures for files at most ~20%
 * larger (see shared/PLATFORM.md).  Files are written to "<path>.tmpXXXXXX"
 * in the same directory, fsync'd and renamed over path; on any failure the
 * temporary file is removed and an existing file at path is left untouched.
 * New files get mode 0644; a replaced file keeps its permission bits.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "font.h"

#include <png.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MI_MAX_SIDE 1000000   /* libpng's default user limit per side */
#define MI_MAX_TITLE 160      /* glyphs; longer titles end in "..." */
#define MI_TICKS_MAX 8

typedef struct {
    uint8_t r, g, b;
} rgb;

static rgb mk_rgb(int r, int g, int b)
{
    rgb c;
    c.r = (uint8_t)r;
    c.g = (uint8_t)g;
    c.b = (uint8_t)b;
    return c;
}

/* ---------------------------------------------------------------- colours */

/* Anchors of the perceptual maps, evenly spaced from the dark end (t = 0) to
 * the light end (t = 1), from the published viridis (8 samples) and magma
 * (9 samples) tables; linear interpolation in between. */
static const uint8_t viridis_anchor[8][3] = {
    {68, 1, 84},    {70, 51, 126},  {54, 92, 141},  {39, 127, 142},
    {31, 161, 135}, {74, 193, 109}, {159, 218, 58}, {253, 231, 37},
};
static const uint8_t magma_anchor[9][3] = {
    {0, 0, 4},      {28, 16, 68},    {79, 18, 123},
    {129, 37, 129}, {181, 54, 122},  {229, 80, 100},
    {251, 135, 97}, {254, 194, 135}, {252, 253, 191},
};

static rgb cmap_at(maskinfo_colormap cm, double t)
{
    const uint8_t(*a)[3];
    int n;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    if (cm == MASKINFO_CMAP_GREY) {
        int v = (int)(t * 255.0 + 0.5);
        return mk_rgb(v, v, v);
    }
    if (cm == MASKINFO_CMAP_MAGMA) {
        a = magma_anchor;
        n = 9;
    } else {
        a = viridis_anchor;
        n = 8;
    }
    double x = t * (n - 1);
    int i = (int)x;
    if (i > n - 2) i = n - 2;
    double f = x - i;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)(a[i][k] + (a[i + 1][k] - a[i][k]) * f + 0.5);
    return mk_rgb(c[0], c[1], c[2]);
}

#define T_PART_FULL 0.25 /* colormap position of a fraction just below 1 */
#define T_PART_EMPTY 0.80 /* ... and just above 0 */

typedef struct {
    rgb empty, full, part[256];
    rgb bg, ink, frame, accent;
    maskinfo_colormap cm;
} palette;

static void palette_init(palette *p, maskinfo_colormap cm)
{
    p->cm = cm;
    p->empty = mk_rgb(255, 255, 255);
    p->full = cmap_at(cm, 0.0);
    for (int k = 0; k < 256; k++) {
        double f = (k + 0.5) / 256.0;
        p->part[k] = cmap_at(cm, T_PART_FULL + (T_PART_EMPTY - T_PART_FULL) * (1.0 - f));
    }
    p->bg = mk_rgb(255, 255, 255);
    p->ink = mk_rgb(32, 32, 32);
    p->frame = mk_rgb(64, 64, 64);
    /* boundaries must not be mistaken for cells: red is in neither grey nor
     * viridis; magma is red-purple, so it gets a cyan blue */
    p->accent = cm == MASKINFO_CMAP_MAGMA ? mk_rgb(0, 150, 210) : mk_rgb(220, 40, 30);
}

/* Colour of a bucket with n allowed cells out of area.  Empty and full are
 * decided on the integers, so they are exact. */
static rgb frac_colour(const palette *p, uint64_t n, uint64_t area)
{
    if (n == 0) return p->empty;
    if (n >= area) return p->full;
    int k = (int)((double)n / (double)area * 256.0);
    if (k < 0) k = 0;
    if (k > 255) k = 255;
    return p->part[k];
}

/* Grid lines are the cell colour pulled half way to a mid grey, so they
 * read on white, on the full colour and on partial cells alike, and a pixel
 * shared by a row and a column line gets the same value either way. */
static rgb grid_colour(rgb c)
{
    return mk_rgb((c.r + 136) / 2, (c.g + 136) / 2, (c.b + 136) / 2);
}

/* ---------------------------------------------------------------- drawing */

/* One code path measures and draws: with px == NULL the drawing calls only
 * grow the bounding box (coordinates relative to the panel's heatmap
 * origin), which is how the canvas size is found before anything large is
 * allocated. */
typedef struct {
    uint8_t *px; /* RGB canvas, or NULL when measuring */
    int64_t w, h;
    int64_t ox, oy; /* canvas position of the heatmap origin */
    int64_t x0, y0, x1, y1;
} dc;

static void dc_measure_init(dc *d)
{
    memset(d, 0, sizeof *d);
    d->x0 = d->y0 = INT64_MAX;
    d->x1 = d->y1 = INT64_MIN;
}

static void dc_extend(dc *d, int64_t x, int64_t y, int64_t w, int64_t h)
{
    if (w <= 0 || h <= 0) return;
    if (x < d->x0) d->x0 = x;
    if (y < d->y0) d->y0 = y;
    if (x + w > d->x1) d->x1 = x + w;
    if (y + h > d->y1) d->y1 = y + h;
}

static void dc_rect(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c)
{
    dc_extend(d, x, y, w, h);
    if (!d->px || w <= 0 || h <= 0) return;
    int64_t X0 = x + d->ox, Y0 = y + d->oy, X1 = X0 + w, Y1 = Y0 + h;
    if (X0 < 0) X0 = 0;
    if (Y0 < 0) Y0 = 0;
    if (X1 > d->w) X1 = d->w;
    if (Y1 > d->h) Y1 = d->h;
    for (int64_t yy = Y0; yy < Y1; yy++) {
        uint8_t *p = d->px + (yy * d->w + X0) * 3;
        for (int64_t xx = X0; xx < X1; xx++, p += 3) {
            p[0] = c.r;
            p[1] = c.g;
            p[2] = c.b;
        }
    }
}

/* ---------------------------------------------------------------- text */

/* Glyph for one byte.  Code 1 is the arrow; other control bytes and the
 * lead byte of a UTF-8 sequence show as '?' (continuation bytes are skipped
 * by the callers, so one non-ASCII character is one '?'). */
static int glyph_of(unsigned char c)
{
    if (c >= 0x20 && c <= 0x7e) return c - 0x20;
    if (c == 1) return MI_GLYPH_ARROW;
    return '?' - 0x20;
}

static int is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

static int64_t text_glyphs(const char *s)
{
    int64_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_continuation(*p)) n++;
    return n;
}

/* Glyphs actually shown for a text limited to maxg glyphs. */
static int64_t shown_glyphs(const char *s, int64_t maxg)
{
    int64_t n = text_glyphs(s);
    return n > maxg ? maxg : n;
}

static int64_t glyphs_width(int64_t n, int sc)
{
    return n > 0 ? (n * MI_FONT_ADV - 1) * sc : 0;
}

static void draw_glyph(dc *d, int64_t x, int64_t y, int g, int sc, int rot, rgb c)
{
    for (int r = 0; r < MI_FONT_H; r++)
        for (int k = 0; k < MI_FONT_W; k++) {
            if (mi_font[g][r][k] != '#') continue;
            if (!rot)
                dc_rect(d, x + k * sc, y + r * sc, sc, sc, c);
            else /* clockwise: rows run right to left, columns downwards */
                dc_rect(d, x + (MI_FONT_H - 1 - r) * sc, y + k * sc, sc, sc, c);
        }
}

/* Text with its top-left corner at (x, y); rot = 1 turns it clockwise so it
 * reads downwards.  At most maxg glyphs; a longer text ends in "...".  The
 * box measured is the full advance times the font height, descenders
 * included, so measuring and drawing agree. */
static void dc_text(dc *d, int64_t x, int64_t y, const char *s, int sc, int rot,
                    rgb c, int64_t maxg)
{
    int64_t n = shown_glyphs(s, maxg);
    int64_t len = glyphs_width(n, sc), hgt = (int64_t)MI_FONT_H * sc;
    if (rot)
        dc_extend(d, x, y, hgt, len);
    else
        dc_extend(d, x, y, len, hgt);
    if (!d->px) return;
    int64_t total = text_glyphs(s), i = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && i < n; p++) {
        if (is_continuation(*p)) continue;
        int g = glyph_of(*p);
        if (total > n && i >= n - 3) g = '.' - 0x20;
        int64_t off = i * MI_FONT_ADV * sc;
        if (rot)
            draw_glyph(d, x, y + off, g, sc, 1, c);
        else
            draw_glyph(d, x + off, y, g, sc, 0, c);
        i++;
    }
}

/* ---------------------------------------------------------------- panels */

/* One axis of the heatmap: n cells cut into nb buckets (edges e[0..nb]) of
 * px pixels each. */
typedef struct {
    int64_t n, nb, px;
    int64_t *e;
} axis;

typedef struct {
    const maskinfo_mask *m;
    const maskinfo_png_opts *o;
    axis rows, cols;
    int64_t hm_w, hm_h;
    int grid;       /* grid lines between cells */
    int plain;
    int u;          /* text scale: 2 for heatmaps of >= 640 pixels */
    uint64_t *counts;
    palette pal;
    int64_t x0, y0, x1, y1; /* measured box relative to the heatmap origin */
} panel;

/* floor(i * n / nb) without overflowing for any n < 2^62 and nb <= 2^31. */
static int64_t edge_at(int64_t i, int64_t n, int64_t nb)
{
    int64_t q = n / nb, r = n % nb;
    return i * q + (i * r) / nb;
}

static int axis_setup(axis *a, int64_t n, int64_t nb, int64_t px)
{
    a->n = n;
    a->nb = nb;
    a->px = px;
    a->e = malloc((size_t)(nb + 1) * sizeof *a->e);
    if (!a->e) return MASKINFO_ENOMEM;
    for (int64_t i = 0; i <= nb; i++) a->e[i] = nb == n ? i : edge_at(i, n, nb);
    return MASKINFO_OK;
}

/* The bucket holding cell v (v == n gives nb). */
static int64_t axis_bucket(const axis *a, int64_t v)
{
    if (a->nb == a->n) return v;
    if (v >= a->n) return a->nb;
    int64_t lo = 0, hi = a->nb; /* e[lo] <= v < e[hi] */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a->e[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Pixel offset of the boundary in front of cell v. */
static int64_t axis_pixel(const axis *a, int64_t v)
{
    return axis_bucket(a, v) * a->px;
}

static void panel_free(panel *p)
{
    free(p->rows.e);
    free(p->cols.e);
    free(p->counts);
    p->rows.e = p->cols.e = NULL;
    p->counts = NULL;
}

/* Validate options and fix the heatmap geometry (see the file comment).
 * Allocates only the bucket edges, which are bounded by MI_MAX_SIDE. */
static int panel_setup(panel *p, const maskinfo_mask *m, const maskinfo_png_opts *o)
{
    memset(p, 0, sizeof *p);
    if (!m || !o) return MASKINFO_EINVAL;
    p->m = m;
    p->o = o;
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    int64_t Q = sh[2], K = sh[3];
    if (o->batch < 0 || o->batch >= sh[0] || o->head < 0 || o->head >= sh[1])
        return MASKINFO_EINVAL;
    if (Q < 1 || K < 1) return MASKINFO_EINVAL;
    if ((int)o->cmap < MASKINFO_CMAP_GREY || (int)o->cmap > MASKINFO_CMAP_MAGMA)
        return MASKINFO_EINVAL;
    if (o->grid_lines < -1 || o->grid_lines > 1) return MASKINFO_EINVAL;
    p->plain = o->plain != 0;

    int64_t nr, nc, rpx, cpx;
    if (o->scale < 0) return MASKINFO_EINVAL;
    if (o->scale > 0) {
        if (o->scale > MI_MAX_SIDE || Q > MI_MAX_SIDE / o->scale ||
            K > MI_MAX_SIDE / o->scale)
            return MASKINFO_ETOOBIG;
        nr = Q;
        nc = K;
        rpx = cpx = o->scale;
    } else {
        int64_t tw = o->width, th = o->height;
        if (tw < 0 || th < 0 || (tw == 0 && th == 0)) return MASKINFO_EINVAL;
        if (tw > MI_MAX_SIDE || th > MI_MAX_SIDE) return MASKINFO_ETOOBIG;
        if (tw == 0) { /* follow the aspect ratio, clamped */
            double v = (double)th * (double)K / (double)Q + 0.5;
            tw = v < 1 ? 1 : v > MI_MAX_SIDE ? MI_MAX_SIDE : (int64_t)v;
        } else if (th == 0) {
            double v = (double)tw * (double)Q / (double)K + 0.5;
            th = v < 1 ? 1 : v > MI_MAX_SIDE ? MI_MAX_SIDE : (int64_t)v;
        }
        if (Q <= th && K <= tw) {
            int64_t s = th / Q < tw / K ? th / Q : tw / K;
            nr = Q;
            nc = K;
            rpx = cpx = s;
        } else {
            if (Q >= th) {
                nr = th;
                rpx = 1;
            } else {
                nr = Q;
                rpx = th / Q;
            }
            if (K >= tw) {
                nc = tw;
                cpx = 1;
            } else {
                nc = K;
                cpx = tw / K;
            }
        }
    }
    p->hm_h = nr * rpx;
    p->hm_w = nc * cpx;
    p->u = (p->hm_w >= 640 || p->hm_h >= 640) ? 2 : 1;
    int exact = nr == Q && nc == K;
    int64_t cell = rpx < cpx ? rpx : cpx;
    if (o->grid_lines == 1)
        p->grid = exact && cell >= 2;
    else if (o->grid_lines == -1)
        p->grid = !p->plain && exact && cell >= 8;
    palette_init(&p->pal, o->cmap);
    int st = axis_setup(&p->rows, Q, nr, rpx);
    if (st == MASKINFO_OK) st = axis_setup(&p->cols, K, nc, cpx);
    return st;
}

static int panel_counts(panel *p)
{
    size_t n = (size_t)(p->rows.nb * p->cols.nb);
    p->counts = malloc(n * sizeof *p->counts);
    if (!p->counts) return MASKINFO_ENOMEM;
    return maskinfo_mask_grid_counts(p->m, p->o->batch, p->o->head, p->rows.e,
                                     p->rows.nb, p->cols.e, p->cols.nb, p->counts, NULL);
}

/* The heatmap: one colour per bucket, computed once per bucket row and
 * replicated; bucket rows are independent, so they are coloured in
 * parallel and the result does not depend on the thread count. */
static void draw_heatmap(dc *d, const panel *p)
{
    dc_extend(d, 0, 0, p->hm_w, p->hm_h);
    if (!d->px) return;
    const int64_t nr = p->rows.nb, nc = p->cols.nb, rpx = p->rows.px, cpx = p->cols.px;
    const int64_t stride = d->w * 3;
    uint8_t *base = d->px + d->oy * stride + d->ox * 3;
    const palette *pal = &p->pal;
#pragma omp parallel for schedule(static) if (nr * nc > 65536)
    for (int64_t i = 0; i < nr; i++) {
        uint8_t *row0 = base + i * rpx * stride;
        uint64_t rh = (uint64_t)(p->rows.e[i + 1] - p->rows.e[i]);
        const uint64_t *cnt = p->counts + i * nc;
        uint8_t *q = row0;
        for (int64_t j = 0; j < nc; j++) {
            uint64_t area = rh * (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]);
            rgb c = frac_colour(pal, cnt[j], area);
            for (int64_t k = 0; k < cpx; k++, q += 3) {
                q[0] = c.r;
                q[1] = c.g;
                q[2] = c.b;
            }
        }
        for (int64_t y = 1; y < rpx; y++)
            memcpy(row0 + y * stride, row0, (size_t)p->hm_w * 3);
        if (p->grid) {
            /* the first pixel row and column of every cell but the first
             * ones carry the line; its colour comes from the cell itself */
            for (int64_t j = 0; j < nc; j++) {
                uint64_t area = rh * (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]);
                rgb g = grid_colour(frac_colour(pal, cnt[j], area));
                for (int64_t y = 0; y < rpx; y++) {
                    uint8_t *c0 = row0 + y * stride + j * cpx * 3;
                    int64_t w = (i > 0 && y == 0) ? cpx : (j > 0 ? 1 : 0);
                    for (int64_t k = 0; k < w; k++) {
                        c0[3 * k] = g.r;
                        c0[3 * k + 1] = g.g;
                        c0[3 * k + 2] = g.b;
                    }
                }
            }
        }
    }
}

/* 1, 2, 5, 10, 20, 50, ... */
static int64_t next_step(int64_t s)
{
    int64_t m = 1;
    while (s >= 10) {
        s /= 10;
        m *= 10;
    }
    return (s == 1 ? 2 : s == 2 ? 5 : 10) * m;
}

static void fmt_tick(char *buf, size_t n, int64_t v)
{
    if (v >= 1000000 && v % 1000000 == 0)
        snprintf(buf, n, "%lldM", (long long)(v / 1000000));
    else if (v >= 1000 && v % 1000 == 0)
        snprintf(buf, n, "%lldk", (long long)(v / 1000));
    else
        snprintf(buf, n, "%lld", (long long)v);
}

/* Ticks along one axis.  Labels name cell indices at cell centres when the
 * axis is cell-exact with cells of >= 8 pixels, and cell boundaries
 * (0 .. n) otherwise.  The step is the smallest 1/2/5 * 10^k giving at most
 * MI_TICKS_MAX ticks whose labels keep apart.  Returns the widest label's
 * width (for the left axis).  u is the text scale. */
static int64_t draw_ticks(dc *d, const axis *a, int horizontal, const palette *pal, int u)
{
    int centred = a->nb == a->n && a->px >= 8;
    int64_t extent = a->nb * a->px;
    int64_t maxv = centred ? a->n - 1 : a->n;
    int64_t cap = (int64_t)MI_FONT_CAP * u, len = 3 * u, gap = 2 + len;
    char buf[32];
    fmt_tick(buf, sizeof buf, maxv);
    int64_t min_px = horizontal ? glyphs_width(text_glyphs(buf), u) + 6 * u : cap + 5 * u;
    int64_t s = 1;
    for (;;) {
        double spacing = (double)s * (double)extent / (double)a->n;
        if (maxv / s + 1 <= MI_TICKS_MAX && spacing >= (double)min_px) break;
        if (s > maxv || s > INT64_MAX / 10) break;
        s = next_step(s);
    }
    int64_t widest = 0;
    for (int64_t v = 0; v <= maxv; v += s) {
        int64_t pos = centred ? v * a->px + a->px / 2
                              : (v >= a->n ? extent : axis_pixel(a, v));
        int64_t mark = pos >= extent ? extent - 1 : pos;
        fmt_tick(buf, sizeof buf, v);
        int64_t tw = glyphs_width(text_glyphs(buf), u);
        if (tw > widest) widest = tw;
        if (horizontal) {
            dc_rect(d, mark, -1 - len, 1, len, pal->frame);
            dc_text(d, pos - tw / 2, -1 - gap - cap, buf, u, 0, pal->ink, 32);
        } else {
            dc_rect(d, -1 - len, mark, len, 1, pal->frame);
            dc_text(d, -1 - gap - tw, pos - cap / 2, buf, u, 0, pal->ink, 32);
        }
        if (v > INT64_MAX - s) break;
    }
    return widest;
}

/* Segment boundaries along one axis: a line where the id changes (skipped
 * when boundaries are denser than one per 4 pixels: they would hide the
 * mask), and each segment's id beside the heatmap (right of it for query
 * segments, below it for key segments) where the segment is long enough in
 * pixels to hold it.  Returns 1 if any label was placed. */
static int draw_segments(dc *d, const panel *p, const axis *a, const int32_t *ids,
                         int horizontal_axis)
{
    int64_t extent = a->nb * a->px, other = horizontal_axis ? p->hm_h : p->hm_w;
    int64_t nb = 0, last = -1;
    for (int64_t v = 1; v < a->n; v++)
        if (ids[v] != ids[v - 1]) {
            int64_t px = axis_pixel(a, v);
            if (px != last) nb++;
            last = px;
        }
    if (nb * 4 <= extent) {
        last = -1;
        for (int64_t v = 1; v < a->n; v++) {
            if (ids[v] == ids[v - 1]) continue;
            int64_t px = axis_pixel(a, v);
            if (px == last) continue;
            last = px;
            if (horizontal_axis)
                dc_rect(d, px, 0, 1, other, p->pal.accent);
            else
                dc_rect(d, 0, px, other, 1, p->pal.accent);
        }
    }
    if (p->plain) return 0;
    const int u = p->u;
    const int64_t cap = (int64_t)MI_FONT_CAP * u;
    int labelled = 0;
    char buf[16];
    for (int64_t s0 = 0; s0 < a->n;) {
        int64_t s1 = s0 + 1;
        while (s1 < a->n && ids[s1] == ids[s0]) s1++;
        int64_t p0 = axis_pixel(a, s0), p1 = s1 >= a->n ? extent : axis_pixel(a, s1);
        snprintf(buf, sizeof buf, "%ld", (long)ids[s0]);
        int64_t tw = glyphs_width(text_glyphs(buf), u);
        if (horizontal_axis) {
            if (p1 - p0 >= tw + 4) {
                dc_text(d, (p0 + p1) / 2 - tw / 2, p->hm_h + 4, buf, u, 0, p->pal.accent, 16);
                labelled = 1;
            }
        } else if (p1 - p0 >= cap + 3) {
            dc_text(d, p->hm_w + 4, (p0 + p1) / 2 - cap / 2, buf, u, 0, p->pal.accent, 16);
            labelled = 1;
        }
        s0 = s1;
    }
    return labelled;
}

/* A colour bar under the heatmap: "0%", a framed bar that runs from the
 * masked colour through the partial ramp to the full colour, then
 * "100% allowed".  The ends are solid swatches so the gaps show. */
static void draw_colour_bar(dc *d, const panel *p, int64_t y)
{
    const palette *pal = &p->pal;
    const int u = p->u;
    const int64_t bw = 120 * u, bh = 9 * u, sw = 10 * u;
    int64_t x = glyphs_width(2, u) + 5 * u;
    int64_t ty = y + (bh - (int64_t)MI_FONT_CAP * u + 1) / 2;
    dc_text(d, 0, ty, "0%", u, 0, pal->ink, 8);
    dc_rect(d, x - 1, y - 1, bw + 2, 1, pal->frame);
    dc_rect(d, x - 1, y + bh, bw + 2, 1, pal->frame);
    dc_rect(d, x - 1, y, 1, bh, pal->frame);
    dc_rect(d, x + bw, y, 1, bh, pal->frame);
    dc_rect(d, x, y, sw, bh, pal->empty);
    dc_rect(d, x + bw - sw, y, sw, bh, pal->full);
    int64_t ramp = bw - 2 * sw;
    for (int64_t i = 0; i < ramp; i++) {
        int k = (int)((i * 256 + 128) / ramp);
        if (k > 255) k = 255;
        dc_rect(d, x + sw + i, y, 1, bh, pal->part[k]);
    }
    dc_text(d, x + bw + 6 * u, ty, "100% allowed", u, 0, pal->ink, 16);
}

/* Everything of one panel, relative to its heatmap origin. */
static void draw_panel(dc *d, panel *p)
{
    const palette *pal = &p->pal;
    const maskinfo_png_opts *o = p->o;
    draw_heatmap(d, p);
    int segs = o->show_segments != 0;
    if (p->plain) {
        if (segs && o->q_ids) draw_segments(d, p, &p->rows, o->q_ids, 0);
        if (segs && o->kv_ids) draw_segments(d, p, &p->cols, o->kv_ids, 1);
        return;
    }
    const int u = p->u;
    const int64_t cap = (int64_t)MI_FONT_CAP * u, fh = (int64_t)MI_FONT_H * u;
    /* frame */
    dc_rect(d, -1, -1, p->hm_w + 2, 1, pal->frame);
    dc_rect(d, -1, p->hm_h, p->hm_w + 2, 1, pal->frame);
    dc_rect(d, -1, 0, 1, p->hm_h, pal->frame);
    dc_rect(d, p->hm_w, 0, 1, p->hm_h, pal->frame);
    draw_ticks(d, &p->cols, 1, pal, u);
    int64_t lw = draw_ticks(d, &p->rows, 0, pal, u);
    /* axis names: "key ->" over the tick labels, "query ->" turned to read
     * (and point) downwards left of them */
    const char *key = "key \001", *query = "query \001";
    int64_t y_key = -3 - 3 * u - cap - 4 * u - fh;
    int64_t kw = glyphs_width(text_glyphs(key), u);
    dc_text(d, p->hm_w / 2 - kw / 2, y_key, key, u, 0, pal->ink, 16);
    int64_t qw = glyphs_width(text_glyphs(query), u);
    dc_text(d, -3 - 3 * u - lw - 6 * u - fh, p->hm_h / 2 - qw / 2, query, u, 1, pal->ink, 16);
    if (o->title && o->title[0]) {
        int ts = u + 1;
        int64_t tw = glyphs_width(shown_glyphs(o->title, MI_MAX_TITLE), ts);
        dc_text(d, p->hm_w / 2 - tw / 2, y_key - 6 * u - (int64_t)MI_FONT_H * ts, o->title,
                ts, 0, pal->ink, MI_MAX_TITLE);
    }
    int64_t y = p->hm_h + 4;
    if (segs && o->q_ids) draw_segments(d, p, &p->rows, o->q_ids, 0);
    if (segs && o->kv_ids && draw_segments(d, p, &p->cols, o->kv_ids, 1)) y += fh + 2;
    draw_colour_bar(d, p, y + 8 * u);
}

/* ---------------------------------------------------------------- libpng */

typedef struct {
    FILE *fp;
    int io_error;
} png_sink;

static void sink_write(png_structp png, png_bytep data, size_t len)
{
    png_sink *s = png_get_io_ptr(png);
    if (fwrite(data, 1, len, s->fp) != len) {
        s->io_error = 1;
        png_error(png, "write failed");
    }
}

static void sink_flush(png_structp png)
{
    png_sink *s = png_get_io_ptr(png);
    if (fflush(s->fp) != 0) {
        s->io_error = 1;
        png_error(png, "flush failed");
    }
}

/* libpng reports errors by calling this; it must not return.  The jump
 * lands in encode_png() below and never leaves this file.  Messages are
 * dropped: the status code says what happened. */
static void png_fail(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Encode the canvas into fp.  sink and row live in the caller's frame or on
 * the heap and are not modified here after setjmp, and png/info are only
 * assigned before it, so nothing this function reads after a longjmp is
 * indeterminate. */
static int encode_png(png_sink *sink, const uint8_t *px, int64_t w, int64_t h,
                      int grey, uint8_t *row)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail,
                                              png_warn);
    if (!png) return MASKINFO_ENOMEM;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return MASKINFO_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return sink->io_error ? MASKINFO_EIO : MASKINFO_EPNG;
    }
    png_set_write_fn(png, sink, sink_write, sink_flush);
    png_set_compression_level(png, 1);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 grey ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    png_write_info(png, info);
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *src = px + y * w * 3;
        if (grey) {
            for (int64_t x = 0; x < w; x++) row[x] = src[3 * x];
            png_write_row(png, row);
        } else {
            png_write_row(png, (png_const_bytep)src);
        }
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return MASKINFO_OK;
}

static int all_grey(const uint8_t *px, int64_t n)
{
    for (int64_t i = 0; i < n; i++, px += 3)
        if (px[0] != px[1] || px[1] != px[2]) return 0;
    return 1;
}

/* The canvas as the content of an atomic write. */
typedef struct {
    const uint8_t *px;
    int64_t w, h;
    int grey;
    uint8_t *row;
} png_job;

static int fill_png(FILE *fp, void *ctx)
{
    png_job *j = ctx;
    png_sink sink;
    sink.fp = fp;
    sink.io_error = 0;
    return encode_png(&sink, j->px, j->w, j->h, j->grey, j->row);
}

/* Write the canvas to path atomically (atomic_file.c): path is only ever
 * replaced by a complete file. */
static int write_png_atomic(const char *path, const uint8_t *px, int64_t w, int64_t h)
{
    png_job j = {px, w, h, all_grey(px, w * h), NULL};
    if (j.grey && (j.row = malloc((size_t)w)) == NULL) return MASKINFO_ENOMEM;
    int status = maskinfo__write_atomic(path, fill_png, &j);
    free(j.row);
    return status;
}

/* ---------------------------------------------------------------- API */

/* Panels are measured first; every panel gets a cell as large as the
 * largest one, with heatmap origins aligned within their rows and columns.
 * Counts and the canvas are checked against the guard together before
 * either is allocated. */
int maskinfo_render_png_grid(const maskinfo_mask *const *ms,
                             const maskinfo_png_opts *opts, int64_t n,
                             int64_t columns, const char *path,
                             int64_t *width, int64_t *height,
                             const maskinfo_limits *lim)
{
    if (width) *width = 0;
    if (height) *height = 0;
    if (!ms || !opts || !path || n < 1 || columns < 0) return MASKINFO_EINVAL;
    if (n > MI_MAX_SIDE) return MASKINFO_ETOOBIG;
    panel *ps = calloc((size_t)n, sizeof *ps);
    if (!ps) return MASKINFO_ENOMEM;
    int st = MASKINFO_OK;
    int all_plain = 1;
    int64_t L = 0, T = 0, R = 0, B = 0;
    uint64_t ncounts = 0;
    uint8_t *px = NULL;
    for (int64_t i = 0; i < n && st == MASKINFO_OK; i++) {
        st = panel_setup(&ps[i], ms[i], &opts[i]);
        if (st != MASKINFO_OK) break;
        dc d;
        dc_measure_init(&d);
        draw_panel(&d, &ps[i]);
        ps[i].x0 = d.x0;
        ps[i].y0 = d.y0;
        ps[i].x1 = d.x1;
        ps[i].y1 = d.y1;
        if (-d.x0 > L) L = -d.x0;
        if (-d.y0 > T) T = -d.y0;
        if (d.x1 > R) R = d.x1;
        if (d.y1 > B) B = d.y1;
        if (!ps[i].plain) all_plain = 0;
        ncounts += (uint64_t)(ps[i].rows.nb * ps[i].cols.nb);
    }
    int64_t W = 0, H = 0;
    if (st == MASKINFO_OK) {
        int64_t cols = columns == 0 || columns > n ? n : columns;
        int64_t nrow = (n + cols - 1) / cols;
        int64_t margin = all_plain ? 0 : 10, gap = all_plain ? 4 : 16;
        int64_t cw = L + R, ch = T + B;
        if (cw > MI_MAX_SIDE || ch > MI_MAX_SIDE ||
            cols > (MI_MAX_SIDE - 2 * margin + gap) / (cw + gap) ||
            nrow > (MI_MAX_SIDE - 2 * margin + gap) / (ch + gap))
            st = MASKINFO_ETOOBIG;
        if (st == MASKINFO_OK) {
            W = 2 * margin + cols * cw + (cols - 1) * gap;
            H = 2 * margin + nrow * ch + (nrow - 1) * gap;
            uint64_t bytes = (uint64_t)W * (uint64_t)H * 3u;
            if (ncounts > (UINT64_MAX - bytes) / 8u)
                st = MASKINFO_ETOOBIG;
            else
                st = maskinfo_check_alloc(lim, bytes + ncounts * 8u, 1);
        }
        if (st == MASKINFO_OK) {
            px = malloc((size_t)W * (size_t)H * 3);
            if (!px) st = MASKINFO_ENOMEM;
        }
        for (int64_t i = 0; i < n && st == MASKINFO_OK; i++) st = panel_counts(&ps[i]);
        if (st == MASKINFO_OK) {
            memset(px, 255, (size_t)W * (size_t)H * 3); /* white background */
            for (int64_t i = 0; i < n; i++) {
                dc d;
                memset(&d, 0, sizeof d);
                d.px = px;
                d.w = W;
                d.h = H;
                d.ox = margin + (i % cols) * (cw + gap) + L;
                d.oy = margin + (i / cols) * (ch + gap) + T;
                draw_panel(&d, &ps[i]);
            }
            st = write_png_atomic(path, px, W, H);
        }
    }
    for (int64_t i = 0; i < n; i++) panel_free(&ps[i]);
    free(ps);
    free(px);
    if (st == MASKINFO_OK) {
        if (width) *width = W;
        if (height) *height = H;
    }
    return st;
}

int maskinfo_render_png(const maskinfo_mask *m, const char *path,
                        const maskinfo_png_opts *o, int64_t *width,
                        int64_t *height, const maskinfo_limits *lim)
{
    const maskinfo_mask *const ms[1] = {m};
    if (!m || !o) {
        if (width) *width = 0;
        if (height) *height = 0;
        return MASKINFO_EINVAL;
    }
    return maskinfo_render_png_grid(ms, o, 1, 1, path, width, height, lim);
}
