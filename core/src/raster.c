/*
 * raster.c - colours and the bitmap font fallback of the figure renderers
 * (raster.h).
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

/* ---------------------------------------------------------------- bitmap text */

/* Next code point of s[*i..len) (a malformed byte counts as one). */
static uint32_t next_cp(const char *s, size_t len, size_t *i)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c = u[*i];
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    (*i)++;
    if (extra == 0) return c;
    c &= 0x3Fu >> extra;
    for (int k = 0; k < extra && *i < len && (u[*i] & 0xC0) == 0x80; k++, (*i)++)
        c = (c << 6) | (u[*i] & 0x3F);
    return c;
}

static int glyph_of(uint32_t c)
{
    if (c >= 0x20 && c <= 0x7e) return (int)c - 0x20;
    if (c == 0x2192) return MI_GLYPH_ARROW;
    return '?' - 0x20;
}

int64_t maskinfo__bitmap_width(const char *s, size_t len, int sc)
{
    int64_t n = 0;
    for (size_t i = 0; i < len;) {
        next_cp(s, len, &i);
        n++;
    }
    return n > 0 ? (n * MI_FONT_ADV - 1) * sc : 0;
}

static void put(uint8_t *px, int64_t w, int64_t h, int64_t x, int64_t y, int sc, rgb c)
{
    for (int64_t yy = y; yy < y + sc; yy++)
        for (int64_t xx = x; xx < x + sc; xx++) {
            if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
            uint8_t *q = px + (yy * w + xx) * 3;
            q[0] = c.r;
            q[1] = c.g;
            q[2] = c.b;
        }
}

void maskinfo__bitmap_text(uint8_t *px, int64_t w, int64_t h, int64_t x, int64_t y,
                           const char *s, size_t len, int sc, int up, rgb c)
{
    int64_t tw = maskinfo__bitmap_width(s, len, sc), k = 0;
    for (size_t i = 0; i < len; k++) {
        int g = glyph_of(next_cp(s, len, &i));
        int64_t off = k * MI_FONT_ADV * sc;
        for (int r = 0; r < MI_FONT_H; r++)
            for (int col = 0; col < MI_FONT_W; col++) {
                if (mi_font[g][r][col] != '#') continue;
                if (!up)
                    put(px, w, h, x + off + col * sc, y + r * sc, sc, c);
                else /* counter-clockwise: the text runs upwards */
                    put(px, w, h, x + r * sc, y + tw - sc - off - col * sc, sc, c);
            }
    }
}
