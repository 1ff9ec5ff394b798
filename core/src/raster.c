/*
 * raster.c - colours, the measuring canvas and bitmap text for the PNG
 * renderer (raster.h).
 */
#include "raster.h"
#include "font.h"

#include <string.h>

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

void maskinfo__palette_init(palette *p, maskinfo_colormap cm)
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

/* ---------------------------------------------------------------- drawing */

void maskinfo__dc_measure_init(dc *d)
{
    memset(d, 0, sizeof *d);
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

void maskinfo__dc_rect(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c)
{
    maskinfo__dc_extend(d, x, y, w, h);
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

int64_t maskinfo__text_glyphs(const char *s)
{
    int64_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_continuation(*p)) n++;
    return n;
}

int64_t maskinfo__shown_glyphs(const char *s, int64_t maxg)
{
    int64_t n = maskinfo__text_glyphs(s);
    return n > maxg ? maxg : n;
}

static void draw_glyph(dc *d, int64_t x, int64_t y, int g, int sc, int rot, rgb c)
{
    for (int r = 0; r < MI_FONT_H; r++)
        for (int k = 0; k < MI_FONT_W; k++) {
            if (mi_font[g][r][k] != '#') continue;
            if (!rot)
                maskinfo__dc_rect(d, x + k * sc, y + r * sc, sc, sc, c);
            else /* clockwise: rows run right to left, columns downwards */
                maskinfo__dc_rect(d, x + (MI_FONT_H - 1 - r) * sc, y + k * sc, sc, sc, c);
        }
}

/* Text with its top-left corner at (x, y); rot = 1 turns it clockwise so it
 * reads downwards.  At most maxg glyphs; a longer text ends in "...".  The
 * box measured is the full advance times the font height, descenders
 * included, so measuring and drawing agree. */
void maskinfo__dc_text(dc *d, int64_t x, int64_t y, const char *s, int sc, int rot,
                       rgb c, int64_t maxg)
{
    int64_t n = maskinfo__shown_glyphs(s, maxg);
    int64_t len = glyphs_width(n, sc), hgt = (int64_t)MI_FONT_H * sc;
    if (rot)
        maskinfo__dc_extend(d, x, y, hgt, len);
    else
        maskinfo__dc_extend(d, x, y, len, hgt);
    if (!d->px) return;
    int64_t total = maskinfo__text_glyphs(s), i = 0;
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
