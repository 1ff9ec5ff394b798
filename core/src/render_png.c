/*
 * render_png.c - PNG heatmaps of one (b, h) plane of a mask: options,
 * geometry, panels and their decorations.  Drawing primitives are in
 * raster.c, the encoder in png_write.c.
 *
 * Picture model
 *   The plane's Q x K cells are grouped into buckets along each axis; every
 *   bucket is drawn as a block of pixels whose colour shows the exact
 *   fraction of allowed cells in it.  Counts come from
 *   maskinfo_mask_grid_counts under the caller's guard, so the mask is
 *   never expanded.
 *
 *   scale = N > 0   one bucket per cell, N x N pixels per cell.
 *   scale = 0       width/height are targets for the heatmap (one of them
 *                   may be 0: it then follows the mask's aspect ratio,
 *                   rounded to nearest and clamped to [1, MI_MAX_SIDE]):
 *                   - if the whole plane fits (Q <= height and K <= width)
 *                     every cell gets s x s pixels with
 *                     s = min(height / Q, width / K): cells stay square and
 *                     exact, and the picture may be smaller than the target;
 *                   - otherwise each axis on its own: an axis with at least
 *                     as many cells as target pixels is cut into exactly
 *                     `target` buckets with edges floor(i * n / target), one
 *                     pixel each; a shorter axis keeps one bucket per cell and
 *                     repeats it floor(target / n) times.
 *   png_geometry() alone turns the options into this geometry.  The real
 *   size is returned through *width / *height.  A side past MI_MAX_SIDE
 *   pixels is MASKINFO_EIMAGE; MASKINFO_ETOOBIG is only the memory guard.
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
 * plain == 1 draws only the heatmap; explicit requests (MASKINFO_GRID_ON,
 * show_segments) still draw their lines inside it, without labels.  All
 * text is twice as large for heatmaps of 640 pixels or more.
 *
 * Output: see png_write.c.  Files are written atomically (atomic_file.c).
 */
#include "raster.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define MI_MAX_SIDE MASKINFO_MAX_IMAGE_SIDE
#define MI_MAX_TITLE 160      /* glyphs; longer titles end in "..." */
#define MI_TICKS_MAX 8

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

static int axis_setup(axis *a, int64_t n, int64_t nb, int64_t px,
                      const maskinfo_limits *lim)
{
    a->n = n;
    a->nb = nb;
    a->px = px;
    int st = MASKINFO_OK;
    a->e = mi_alloc(lim, nb + 1, sizeof *a->e, 0, &st);
    if (st) return st;
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

/* Buckets and pixels per bucket along both axes of a Q x K plane. */
typedef struct {
    int64_t nr, nc, rpx, cpx;
} geometry;

/*
 * The one place that turns scale / width / height into a geometry (see the
 * file comment), derived sizes included: a width or height of 0 follows
 * the mask's aspect ratio.  Values out of their domain are EINVAL; a side
 * past MI_MAX_SIDE is EIMAGE.
 */
static int png_geometry(int64_t Q, int64_t K, const maskinfo_png_opts *o, geometry *g)
{
    if (o->scale < 0) return MASKINFO_EINVAL;
    if (o->scale > 0) {
        if (o->scale > MI_MAX_SIDE || Q > MI_MAX_SIDE / o->scale ||
            K > MI_MAX_SIDE / o->scale)
            return MASKINFO_EIMAGE;
        g->nr = Q;
        g->nc = K;
        g->rpx = g->cpx = o->scale;
        return MASKINFO_OK;
    }
    int64_t tw = o->width, th = o->height;
    if (tw < 0 || th < 0 || (tw == 0 && th == 0)) return MASKINFO_EINVAL;
    if (tw > MI_MAX_SIDE || th > MI_MAX_SIDE) return MASKINFO_EIMAGE;
    if (tw == 0) { /* follow the aspect ratio, clamped */
        double v = (double)th * (double)K / (double)Q + 0.5;
        tw = v < 1 ? 1 : v > MI_MAX_SIDE ? MI_MAX_SIDE : (int64_t)v;
    } else if (th == 0) {
        double v = (double)tw * (double)Q / (double)K + 0.5;
        th = v < 1 ? 1 : v > MI_MAX_SIDE ? MI_MAX_SIDE : (int64_t)v;
    }
    if (Q <= th && K <= tw) {
        int64_t sc = th / Q < tw / K ? th / Q : tw / K;
        g->nr = Q;
        g->nc = K;
        g->rpx = g->cpx = sc;
        return MASKINFO_OK;
    }
    if (Q >= th) {
        g->nr = th;
        g->rpx = 1;
    } else {
        g->nr = Q;
        g->rpx = th / Q;
    }
    if (K >= tw) {
        g->nc = tw;
        g->cpx = 1;
    } else {
        g->nc = K;
        g->cpx = tw / K;
    }
    return MASKINFO_OK;
}

/* Validate the options and fix the panel's geometry.  Allocates only the
 * bucket edges, which are bounded by MI_MAX_SIDE. */
static int panel_setup(panel *p, const maskinfo_mask *m, const maskinfo_png_opts *o,
                       const maskinfo_limits *lim)
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
    if (o->grid_lines != MASKINFO_GRID_AUTO && o->grid_lines != MASKINFO_GRID_OFF &&
        o->grid_lines != MASKINFO_GRID_ON)
        return MASKINFO_EINVAL;
    p->plain = o->plain != 0;
    geometry g;
    int st = png_geometry(Q, K, o, &g);
    if (st) return st;
    p->hm_h = g.nr * g.rpx;
    p->hm_w = g.nc * g.cpx;
    p->u = (p->hm_w >= 640 || p->hm_h >= 640) ? 2 : 1;
    int exact = g.nr == Q && g.nc == K;
    int64_t cell = g.rpx < g.cpx ? g.rpx : g.cpx;
    if (o->grid_lines == MASKINFO_GRID_ON)
        p->grid = exact && cell >= 2;
    else if (o->grid_lines == MASKINFO_GRID_AUTO)
        p->grid = !p->plain && exact && cell >= 8;
    maskinfo__palette_init(&p->pal, o->cmap);
    st = axis_setup(&p->rows, Q, g.nr, g.rpx, lim);
    if (st == MASKINFO_OK) st = axis_setup(&p->cols, K, g.nc, g.cpx, lim);
    return st;
}

static int panel_counts(panel *p, const maskinfo_limits *lim)
{
    int st = MASKINFO_OK;
    p->counts = mi_alloc(lim, p->rows.nb * p->cols.nb, sizeof *p->counts, 0, &st);
    if (st) return st;
    return maskinfo_mask_grid_counts(p->m, p->o->batch, p->o->head, p->rows.e,
                                     p->rows.nb, p->cols.e, p->cols.nb, p->counts, lim);
}

/* The heatmap: one colour per bucket, computed once per bucket row and
 * replicated; bucket rows are independent, so they are coloured in
 * parallel and the result does not depend on the thread count. */
static void draw_heatmap(dc *d, const panel *p)
{
    maskinfo__dc_extend(d, 0, 0, p->hm_w, p->hm_h);
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
    int64_t min_px = horizontal ? glyphs_width(maskinfo__text_glyphs(buf), u) + 6 * u : cap + 5 * u;
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
        int64_t tw = glyphs_width(maskinfo__text_glyphs(buf), u);
        if (tw > widest) widest = tw;
        if (horizontal) {
            maskinfo__dc_rect(d, mark, -1 - len, 1, len, pal->frame);
            maskinfo__dc_text(d, pos - tw / 2, -1 - gap - cap, buf, u, 0, pal->ink, 32);
        } else {
            maskinfo__dc_rect(d, -1 - len, mark, len, 1, pal->frame);
            maskinfo__dc_text(d, -1 - gap - tw, pos - cap / 2, buf, u, 0, pal->ink, 32);
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
                maskinfo__dc_rect(d, px, 0, 1, other, p->pal.accent);
            else
                maskinfo__dc_rect(d, 0, px, other, 1, p->pal.accent);
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
        int64_t tw = glyphs_width(maskinfo__text_glyphs(buf), u);
        if (horizontal_axis) {
            if (p1 - p0 >= tw + 4) {
                maskinfo__dc_text(d, (p0 + p1) / 2 - tw / 2, p->hm_h + 4, buf, u, 0, p->pal.accent, 16);
                labelled = 1;
            }
        } else if (p1 - p0 >= cap + 3) {
            maskinfo__dc_text(d, p->hm_w + 4, (p0 + p1) / 2 - cap / 2, buf, u, 0, p->pal.accent, 16);
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
    maskinfo__dc_text(d, 0, ty, "0%", u, 0, pal->ink, 8);
    maskinfo__dc_rect(d, x - 1, y - 1, bw + 2, 1, pal->frame);
    maskinfo__dc_rect(d, x - 1, y + bh, bw + 2, 1, pal->frame);
    maskinfo__dc_rect(d, x - 1, y, 1, bh, pal->frame);
    maskinfo__dc_rect(d, x + bw, y, 1, bh, pal->frame);
    maskinfo__dc_rect(d, x, y, sw, bh, pal->empty);
    maskinfo__dc_rect(d, x + bw - sw, y, sw, bh, pal->full);
    int64_t ramp = bw - 2 * sw;
    for (int64_t i = 0; i < ramp; i++) {
        int k = (int)((i * 256 + 128) / ramp);
        if (k > 255) k = 255;
        maskinfo__dc_rect(d, x + sw + i, y, 1, bh, pal->part[k]);
    }
    maskinfo__dc_text(d, x + bw + 6 * u, ty, "100% allowed", u, 0, pal->ink, 16);
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
    maskinfo__dc_rect(d, -1, -1, p->hm_w + 2, 1, pal->frame);
    maskinfo__dc_rect(d, -1, p->hm_h, p->hm_w + 2, 1, pal->frame);
    maskinfo__dc_rect(d, -1, 0, 1, p->hm_h, pal->frame);
    maskinfo__dc_rect(d, p->hm_w, 0, 1, p->hm_h, pal->frame);
    draw_ticks(d, &p->cols, 1, pal, u);
    int64_t lw = draw_ticks(d, &p->rows, 0, pal, u);
    /* axis names: "key ->" over the tick labels, "query ->" turned to read
     * (and point) downwards left of them */
    const char *key = "key \001", *query = "query \001";
    int64_t y_key = -3 - 3 * u - cap - 4 * u - fh;
    int64_t kw = glyphs_width(maskinfo__text_glyphs(key), u);
    maskinfo__dc_text(d, p->hm_w / 2 - kw / 2, y_key, key, u, 0, pal->ink, 16);
    int64_t qw = glyphs_width(maskinfo__text_glyphs(query), u);
    maskinfo__dc_text(d, -3 - 3 * u - lw - 6 * u - fh, p->hm_h / 2 - qw / 2, query, u, 1, pal->ink, 16);
    if (o->title && o->title[0]) {
        int ts = u + 1;
        int64_t tw = glyphs_width(maskinfo__shown_glyphs(o->title, MI_MAX_TITLE), ts);
        maskinfo__dc_text(d, p->hm_w / 2 - tw / 2, y_key - 6 * u - (int64_t)MI_FONT_H * ts, o->title,
                ts, 0, pal->ink, MI_MAX_TITLE);
    }
    int64_t y = p->hm_h + 4;
    if (segs && o->q_ids) draw_segments(d, p, &p->rows, o->q_ids, 0);
    if (segs && o->kv_ids && draw_segments(d, p, &p->cols, o->kv_ids, 1)) y += fh + 2;
    draw_colour_bar(d, p, y + 8 * u);
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
    if (n > MI_MAX_SIDE) return MASKINFO_EIMAGE; /* a renderer limit, like a side */
    int st = MASKINFO_OK;
    panel *ps = mi_alloc(lim, n, sizeof *ps, 1, &st);
    if (st) return st;
    int all_plain = 1;
    int64_t L = 0, T = 0, R = 0, B = 0;
    uint64_t ncounts = 0;
    uint8_t *px = NULL;
    for (int64_t i = 0; i < n && st == MASKINFO_OK; i++) {
        st = panel_setup(&ps[i], ms[i], &opts[i], lim);
        if (st != MASKINFO_OK) break;
        dc d;
        maskinfo__dc_measure_init(&d);
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
        /* no overflow: panels are at most ~MI_MAX_SIDE pixels and n too */
        W = 2 * margin + cols * cw + (cols - 1) * gap;
        H = 2 * margin + nrow * ch + (nrow - 1) * gap;
        /* the canvas, every panel's counts and the encoder's grey row go
         * past the guard first (ETOOBIG), the side limit next (EIMAGE) */
        uint64_t bytes;
        if (__builtin_mul_overflow((uint64_t)W, (uint64_t)H * 3u, &bytes) ||
            ncounts > (UINT64_MAX - bytes - (uint64_t)W) / 8u)
            st = MASKINFO_ETOOBIG;
        else
            st = maskinfo_check_alloc(lim, bytes + ncounts * 8u + (uint64_t)W, 1);
        if (st == MASKINFO_OK && (W > MI_MAX_SIDE || H > MI_MAX_SIDE))
            st = MASKINFO_EIMAGE;
        if (st == MASKINFO_OK) {
            px = malloc((size_t)W * (size_t)H * 3);
            if (!px) st = MASKINFO_ENOMEM;
        }
        for (int64_t i = 0; i < n && st == MASKINFO_OK; i++) st = panel_counts(&ps[i], lim);
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
            st = maskinfo__write_png(path, px, W, H);
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
