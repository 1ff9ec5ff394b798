/*
 * render_png.c - the raster backend of the figure renderer (figure.h):
 * rectangles, blended overlays and heatmaps into an RGB canvas, which
 * png_write.c encodes.  Where things go is decided by layout.c.
 */
#include "figure.h"

#include <string.h>

void maskinfo__png_fill(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c, int alpha)
{
    int64_t X0 = x + d->ox, Y0 = y + d->oy, X1 = X0 + w, Y1 = Y0 + h;
    if (X0 < 0) X0 = 0;
    if (Y0 < 0) Y0 = 0;
    if (X1 > d->w) X1 = d->w;
    if (Y1 > d->h) Y1 = d->h;
    for (int64_t yy = Y0; yy < Y1; yy++) {
        uint8_t *p = d->px + (yy * d->w + X0) * 3;
        for (int64_t xx = X0; xx < X1; xx++, p += 3) {
            if (alpha >= 255) {
                p[0] = c.r;
                p[1] = c.g;
                p[2] = c.b;
            } else {
                p[0] = (uint8_t)(p[0] + ((c.r - p[0]) * alpha + 127) / 255);
                p[1] = (uint8_t)(p[1] + ((c.g - p[1]) * alpha + 127) / 255);
                p[2] = (uint8_t)(p[2] + ((c.b - p[2]) * alpha + 127) / 255);
            }
        }
    }
}

/* The heatmap: one colour per bucket, computed once per bucket row and
 * replicated down its pixel rows; bucket rows are independent, so they are
 * coloured in parallel and the result does not depend on the thread
 * count.  Masked padding is hatched in heatmap coordinates.  Also used by
 * the SVG backend (canvas = the heatmap alone) for its embedded image. */
void maskinfo__png_heatmap(dc *d, const panel *p)
{
    const int64_t nr = p->rows.nb, nc = p->cols.nb;
    const int64_t stride = d->w * 3;
    uint8_t *base = d->px + d->oy * stride + d->ox * 3;
#pragma omp parallel for schedule(static) if (nr * nc > 65536)
    for (int64_t i = 0; i < nr; i++) {
        int64_t y0 = p->rows.p[i], y1 = p->rows.p[i + 1];
        if (y1 <= y0) continue;
        uint8_t *row0 = base + y0 * stride;
        int any_hatch = 0;
        /* the common case (no diff, no padding) inline: 16M buckets at 4096^2 */
        const int fast = !p->cb && !p->rows.pad && !p->cols.pad;
        const uint64_t rh = (uint64_t)(p->rows.e[i + 1] - p->rows.e[i]);
        const uint64_t *cnt = p->counts + i * nc;
        const maskinfo_aggregate agg = p->o->aggregate;
        for (int64_t j = 0; j < nc; j++) {
            int hatch = 0;
            rgb c;
            if (fast) {
                uint64_t area = rh * (uint64_t)(p->cols.e[j + 1] - p->cols.e[j]), n = cnt[j];
                c = agg == MASKINFO_AGG_MEAN ? frac_colour(&p->pal, n, area)
                    : (agg == MASKINFO_AGG_ANY ? n > 0 : n >= area) ? p->pal.full : p->pal.empty;
            } else {
                c = maskinfo__bucket_colour(p, i, j, &hatch);
            }
            any_hatch |= hatch;
            uint8_t *q = row0 + p->cols.p[j] * 3;
            for (int64_t k = p->cols.p[j]; k < p->cols.p[j + 1]; k++, q += 3) {
                q[0] = c.r;
                q[1] = c.g;
                q[2] = c.b;
            }
        }
        for (int64_t y = y0 + 1; y < y1; y++)
            memcpy(row0 + (y - y0) * stride, row0, (size_t)p->hm_w * 3);
        if (!any_hatch) continue;
        for (int64_t j = 0; j < nc; j++) {
            int hatch;
            maskinfo__bucket_colour(p, i, j, &hatch);
            if (!hatch) continue;
            for (int64_t y = y0; y < y1; y++)
                for (int64_t x = p->cols.p[j]; x < p->cols.p[j + 1]; x++) {
                    rgb c = hatch_colour(x, y);
                    uint8_t *q = base + y * stride + x * 3;
                    q[0] = c.r;
                    q[1] = c.g;
                    q[2] = c.b;
                }
        }
    }
}
