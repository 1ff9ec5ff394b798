/*
 * render_svg.c - the SVG backend of the figure renderer (figure.h).
 *
 * Text stays text (font-family DejaVu Sans) and decorations are rectangles
 * on the integer pixel grid of the PNG backend, so both draw the same
 * layout.  The heatmap is either rectangles, run-length merged along each
 * bucket row and over identical consecutive rows (small or simple masks),
 * or, past MI_SVG_MAX_RECTS rectangles, one embedded PNG under the vector
 * axes and text: a file stays small at any mask size.
 */
#include "atomic_file.h"
#include "figure.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MI_SVG_MAX_RECTS 20000

static void put_num(maskinfo__strbuf *sb, const char *key, int64_t v)
{
    maskinfo__sb_puts(sb, key);
    maskinfo__sb_i64(sb, v);
    maskinfo__sb_puts(sb, "\"");
}

static void put_colour(maskinfo__strbuf *sb, rgb c)
{
    char b[16];
    snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
    maskinfo__sb_puts(sb, b);
}

void maskinfo__svg_begin(maskinfo__strbuf *sb, int64_t w, int64_t h)
{
    maskinfo__sb_puts(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                          "xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\"");
    put_num(sb, " width=\"", w);
    put_num(sb, " height=\"", h);
    maskinfo__sb_puts(sb, " viewBox=\"0 0 ");
    maskinfo__sb_i64(sb, w);
    maskinfo__sb_puts(sb, " ");
    maskinfo__sb_i64(sb, h);
    maskinfo__sb_puts(sb, "\" font-family=\"DejaVu Sans, Verdana, sans-serif\" "
                          "shape-rendering=\"crispEdges\">\n"
                          "<defs><pattern id=\"pad\" width=\"6\" height=\"6\" "
                          "patternUnits=\"userSpaceOnUse\"><rect width=\"6\" height=\"6\" "
                          "fill=\"#ffffff\"/><path d=\"M0 6L6 0\" stroke=\"#b4b4b4\" "
                          "stroke-width=\"1\"/></pattern></defs>\n"
                          "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
}

void maskinfo__svg_end(maskinfo__strbuf *sb)
{
    maskinfo__sb_puts(sb, "</svg>\n");
}

static void rect(maskinfo__strbuf *sb, int64_t x, int64_t y, int64_t w, int64_t h)
{
    put_num(sb, "<rect x=\"", x);
    put_num(sb, " y=\"", y);
    put_num(sb, " width=\"", w);
    put_num(sb, " height=\"", h);
}

void maskinfo__svg_fill(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c, int alpha)
{
    rect(d->sb, x + d->ox, y + d->oy, w, h);
    maskinfo__sb_puts(d->sb, " fill=\"");
    put_colour(d->sb, c);
    maskinfo__sb_puts(d->sb, "\"");
    if (alpha < 255) {
        char b[32];
        snprintf(b, sizeof b, " fill-opacity=\"%.3f\"", alpha / 255.0);
        maskinfo__sb_puts(d->sb, b);
    }
    maskinfo__sb_puts(d->sb, "/>\n");
}

/* XML text: markup characters escaped, control bytes and malformed UTF-8
 * dropped (they would make the document invalid). */
static void put_escaped(maskinfo__strbuf *sb, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        int n = c < 0x80 ? 1 : c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        int ok = n > 0 && i + (size_t)n <= len;
        for (int k = 1; ok && k < n; k++) ok = (u[i + k] & 0xC0) == 0x80;
        if (!ok) {
            i++;
            continue;
        }
        if (c == '&')
            maskinfo__sb_puts(sb, "&amp;");
        else if (c == '<')
            maskinfo__sb_puts(sb, "&lt;");
        else if (c == '>')
            maskinfo__sb_puts(sb, "&gt;");
        else if (c >= 0x20 || n > 1)
            maskinfo__sb_put(sb, s + i, (size_t)n);
        i += (size_t)n;
    }
}

void maskinfo__svg_text(dc *d, int64_t x, int64_t y, const char *s, size_t len, double size,
                        int up, rgb c)
{
    maskinfo__strbuf *sb = d->sb;
    char b[96];
    int64_t asc = maskinfo__ascent(size), X = x + d->ox, Y = y + d->oy;
    if (!up) {
        snprintf(b, sizeof b, "<text x=\"%lld\" y=\"%lld\"", (long long)X, (long long)(Y + asc));
    } else {
        int64_t tw = maskinfo__text_width(s, len, size);
        snprintf(b, sizeof b, "<text transform=\"translate(%lld %lld) rotate(-90)\"",
                 (long long)(X + asc), (long long)(Y + tw));
    }
    maskinfo__sb_puts(sb, b);
    snprintf(b, sizeof b, " font-size=\"%.2f\" fill=\"", size);
    maskinfo__sb_puts(sb, b);
    put_colour(sb, c);
    maskinfo__sb_puts(sb, "\">");
    put_escaped(sb, s, len);
    maskinfo__sb_puts(sb, "</text>\n");
}

typedef struct {
    rgb c;
    int hatch;
} swatch;

static int same_swatch(swatch a, swatch b)
{
    return a.hatch == b.hatch && a.c.r == b.c.r && a.c.g == b.c.g && a.c.b == b.c.b;
}

static int is_white(swatch a)
{
    return !a.hatch && a.c.r == 255 && a.c.g == 255 && a.c.b == 255;
}

static void row_swatches(const panel *p, int64_t i, swatch *out)
{
    for (int64_t j = 0; j < p->cols.nb; j++) out[j].c = maskinfo__bucket_colour(p, i, j, &out[j].hatch);
}

/* Rectangles of one group of identical bucket rows (pixel rows y0..y1),
 * white runs left to the background; returns how many. */
static int64_t row_rects(dc *d, const panel *p, const swatch *row, int64_t y0, int64_t y1, int emit)
{
    int64_t n = 0;
    for (int64_t j = 0; j < p->cols.nb;) {
        int64_t k = j + 1;
        while (k < p->cols.nb && same_swatch(row[k], row[j])) k++;
        if (!is_white(row[j])) {
            n++;
            if (emit) {
                rect(d->sb, d->ox + p->cols.p[j], d->oy + y0, p->cols.p[k] - p->cols.p[j], y1 - y0);
                if (row[j].hatch) {
                    maskinfo__sb_puts(d->sb, " fill=\"url(#pad)\"/>\n");
                } else {
                    maskinfo__sb_puts(d->sb, " fill=\"");
                    put_colour(d->sb, row[j].c);
                    maskinfo__sb_puts(d->sb, "\"/>\n");
                }
            }
        }
        j = k;
    }
    return n;
}

/* All groups of identical consecutive bucket rows; with emit == 0 only
 * counts, stopping early past the limit. */
static int64_t heatmap_rects(dc *d, const panel *p, swatch *cur, swatch *next, int emit)
{
    int64_t total = 0, nc = p->cols.nb;
    for (int64_t i = 0; i < p->rows.nb;) {
        row_swatches(p, i, cur);
        int64_t k = i + 1;
        for (; k < p->rows.nb; k++) {
            row_swatches(p, k, next);
            int eq = 1;
            for (int64_t j = 0; j < nc && eq; j++) eq = same_swatch(cur[j], next[j]);
            if (!eq) break;
        }
        total += row_rects(d, p, cur, p->rows.p[i], p->rows.p[k], emit);
        if (!emit && total > MI_SVG_MAX_RECTS) return total;
        i = k;
    }
    return total;
}

static void put_base64(maskinfo__strbuf *sb, const uint8_t *b, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n) v |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < n) v |= b[i + 2];
        out[0] = tab[v >> 18];
        out[1] = tab[(v >> 12) & 63];
        out[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[3] = i + 2 < n ? tab[v & 63] : '=';
        maskinfo__sb_put(sb, out, 4);
    }
}

/* The heatmap as one embedded PNG, drawn by the raster backend. */
static int heatmap_image(dc *d, const panel *p)
{
    int st = MASKINFO_OK;
    uint8_t *px = mi_alloc(d->lim, p->hm_w * p->hm_h, 3, 0, &st);
    if (st) return st;
    dc r;
    maskinfo__dc_init(&r, DC_PNG);
    r.px = px;
    r.w = p->hm_w;
    r.h = p->hm_h;
    maskinfo__png_heatmap(&r, p);
    uint8_t *png = NULL;
    size_t len = 0;
    st = maskinfo__encode_png_mem(px, p->hm_w, p->hm_h, d->png_level, &png, &len);
    free(px);
    if (st) return st;
    maskinfo__sb_puts(d->sb, "<image");
    put_num(d->sb, " x=\"", d->ox);
    put_num(d->sb, " y=\"", d->oy);
    put_num(d->sb, " width=\"", p->hm_w);
    put_num(d->sb, " height=\"", p->hm_h);
    maskinfo__sb_puts(d->sb, " preserveAspectRatio=\"none\" image-rendering=\"pixelated\" "
                             "style=\"image-rendering:pixelated\" xlink:href=\"data:image/png;base64,");
    put_base64(d->sb, png, len);
    maskinfo__sb_puts(d->sb, "\"/>\n");
    free(png);
    return MASKINFO_OK;
}

void maskinfo__svg_heatmap(dc *d, const panel *p)
{
    if (d->status) return;
    int st = MASKINFO_OK;
    swatch *a = mi_alloc(d->lim, p->cols.nb, sizeof *a, 0, &st);
    swatch *b = mi_alloc(d->lim, p->cols.nb, sizeof *b, 0, &st);
    if (st == MASKINFO_OK) {
        if (heatmap_rects(d, p, a, b, 0) <= MI_SVG_MAX_RECTS) {
            maskinfo__sb_puts(d->sb, "<g>\n");
            heatmap_rects(d, p, a, b, 1);
            maskinfo__sb_puts(d->sb, "</g>\n");
        } else {
            st = heatmap_image(d, p);
        }
    }
    free(a);
    free(b);
    if (st) d->status = st;
}

static int fill_text(FILE *fp, void *ctx)
{
    const maskinfo__strbuf *sb = ctx;
    return fwrite(sb->p, 1, sb->len, fp) == sb->len ? MASKINFO_OK : MASKINFO_EIO;
}

int maskinfo__write_text_file(const char *path, const char *s, size_t len)
{
    maskinfo__strbuf sb = {(char *)s, len, len, MASKINFO_OK, NULL};
    return maskinfo__write_atomic(path, fill_text, &sb);
}
