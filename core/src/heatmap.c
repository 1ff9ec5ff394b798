/*
 * heatmap.c - the colour of each bucket of a heatmap (figure.h): the
 * aggregation of its cells (mean, any, all), thin features kept visible
 * under any / all, diff blends and padding.  layout.c counts the cells;
 * the backends (render_png.c, render_svg.c) paint what this decides, so
 * PNG and SVG agree pixel for pixel.
 */
#include "figure.h"
#include "util.h"

#include <string.h>

#define MI_MIN_FEATURE 3 /* pixels: the thinnest feature any / all draw */

/* Widen runs of f (nb entries, stride apart) shorter than MI_MIN_FEATURE
 * into g, keeping them centred where the edges allow. */
static void widen_runs(const uint8_t *f, uint8_t *g, int64_t nb, int64_t stride)
{
    for (int64_t s = 0; s < nb;) {
        if (!f[s * stride]) {
            s++;
            continue;
        }
        int64_t e = s;
        while (e < nb && f[e * stride]) e++;
        if (e - s < MI_MIN_FEATURE) {
            int64_t a = s - (MI_MIN_FEATURE - (e - s)) / 2;
            if (a < 0) a = 0;
            int64_t b = a + MI_MIN_FEATURE;
            if (b > nb) b = nb;
            if (b - a < MI_MIN_FEATURE) a = b - MI_MIN_FEATURE < 0 ? 0 : b - MI_MIN_FEATURE;
            for (int64_t k = a; k < b; k++) g[k * stride] = 1;
        }
        s = e;
    }
}

/* aggregate any / all: on an axis drawn at less than one pixel per cell, a
 * feature (any: a run of drawn buckets; all: a run of blank ones) thinner
 * than MI_MIN_FEATURE pixels is drawn that wide, so StreamingLLM's sinks or
 * Longformer's global tokens at 128k into 1024 px stay visible in print.
 * Counts become 0 or the bucket's area.  mean is never touched. */
int maskinfo__thin_features(panel *p, const maskinfo_limits *lim)
{
    const int64_t nr = p->rows.nb, nc = p->cols.nb;
    const int wide_c = nc < p->cols.n, wide_r = nr < p->rows.n;
    const int any = p->o->aggregate == MASKINFO_AGG_ANY;
    if (!wide_c && !wide_r) return MASKINFO_OK;
    int st = MASKINFO_OK;
    uint8_t *f = mi_alloc(lim, nr * nc, 1, 0, &st), *g = mi_alloc(lim, nr * nc, 1, 0, &st);
    if (st == MASKINFO_OK) {
        for (int64_t i = 0; i < nr; i++)
            for (int64_t j = 0; j < nc; j++) {
                uint64_t area = (uint64_t)(p->rows.e[i + 1] - p->rows.e[i]) *
                                (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]);
                uint64_t n = p->counts[i * nc + j];
                f[i * nc + j] = (uint8_t)(any ? n > 0 : n < area);
            }
        memcpy(g, f, (size_t)(nr * nc));
        if (wide_c)
            for (int64_t i = 0; i < nr; i++) widen_runs(f + i * nc, g + i * nc, nc, 1);
        if (wide_r)
            for (int64_t j = 0; j < nc; j++) widen_runs(f + j, g + j, nr, nc);
        for (int64_t i = 0; i < nr; i++)
            for (int64_t j = 0; j < nc; j++) {
                uint64_t area = (uint64_t)(p->rows.e[i + 1] - p->rows.e[i]) *
                                (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]);
                p->counts[i * nc + j] = (g[i * nc + j] != 0) == any ? area : 0;
            }
    }
    free(f);
    free(g);
    return st;
}

static rgb mix3(const uint64_t w[3], uint64_t area)
{
    const rgb c[3] = {MI_DIFF_A, MI_DIFF_B, MI_DIFF_BOTH};
    double r = 0, g = 0, b = 0, rest = (double)area;
    for (int k = 0; k < 3; k++) {
        r += (double)w[k] * c[k].r;
        g += (double)w[k] * c[k].g;
        b += (double)w[k] * c[k].b;
        rest -= (double)w[k];
    }
    r += rest * 255;
    g += rest * 255;
    b += rest * 255;
    return mk_rgb((int)(r / area + 0.5), (int)(g / area + 0.5), (int)(b / area + 0.5));
}

rgb maskinfo__bucket_colour(const panel *p, int64_t i, int64_t j, int *hatch)
{
    int64_t k = i * p->cols.nb + j;
    uint64_t area = (uint64_t)(p->rows.e[i + 1] - p->rows.e[i]) * (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]);
    uint64_t n = p->counts[k];
    int padded = (p->rows.pad && p->rows.pad[i]) || (p->cols.pad && p->cols.pad[j]);
    maskinfo_aggregate agg = p->o->aggregate;
    if (p->cb) {
        uint64_t w[3] = {n - p->cboth[k], p->cb[k] - p->cboth[k], p->cboth[k]};
        *hatch = padded && w[0] + w[1] + w[2] == 0;
        if (agg == MASKINFO_AGG_MEAN) return mix3(w, area);
        uint64_t present = 0;
        for (int c = 0; c < 3; c++) {
            int on = agg == MASKINFO_AGG_ANY ? w[c] > 0 : w[c] >= area;
            w[c] = on ? 1 : 0;
            present += w[c];
        }
        return present ? mix3(w, present) : p->pal.empty;
    }
    *hatch = padded && n == 0;
    if (agg == MASKINFO_AGG_ANY) return n > 0 ? p->pal.full : p->pal.empty;
    if (agg == MASKINFO_AGG_ALL) return n >= area ? p->pal.full : p->pal.empty;
    return frac_colour(&p->pal, n, area);
}
