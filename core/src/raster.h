/*
 * raster.h - colours and colormaps of the figure renderers, and the bitmap
 * font fallback (raster.c).
 */
#ifndef MASKINFO_RASTER_H
#define MASKINFO_RASTER_H

#include "maskinfo.h"

/* Font metrics (the glyphs are in font.h, read by raster.c only). */
#define MI_FONT_W 5
#define MI_FONT_H 8
#define MI_FONT_CAP 7      /* rows above the descender row */
#define MI_FONT_ADV 6      /* horizontal advance per glyph */

typedef struct {
    uint8_t r, g, b;
} rgb;

static inline rgb mk_rgb(int r, int g, int b)
{
    rgb c;
    c.r = (uint8_t)r;
    c.g = (uint8_t)g;
    c.b = (uint8_t)b;
    return c;
}

typedef struct {
    rgb empty, full, part[256];
    rgb bg, ink, frame, accent;
    maskinfo_colormap cm;
} palette;

void maskinfo__palette_init(palette *p, maskinfo_colormap cm);

/* Colour of a bucket with n allowed cells out of area.  Empty and full are
 * decided on the integers, so they are exact. */
static inline rgb frac_colour(const palette *p, uint64_t n, uint64_t area)
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
static inline rgb grid_colour(rgb c)
{
    return mk_rgb((c.r + 136) / 2, (c.g + 136) / 2, (c.b + 136) / 2);
}

/* Bitmap text (the fallback when no TrueType font loads): one line of
 * UTF-8 text at integer scale sc, box top-left at (x, y), into an RGB
 * canvas w x h (clipped); up = 1 reads bottom to top.  A code point
 * outside printable ASCII shows as '?'; U+2192 (right arrow) has a glyph. */
int64_t maskinfo__bitmap_width(const char *s, size_t len, int sc);
void maskinfo__bitmap_text(uint8_t *px, int64_t w, int64_t h, int64_t x, int64_t y,
                           const char *s, size_t len, int sc, int up, rgb c);

/* The w x h canvas to path as a PNG, atomically (png_write.c): path is only
 * ever replaced by a complete file; on MASKINFO_EIO errno says why. */
int maskinfo__write_png(const char *path, const uint8_t *px, int64_t w, int64_t h, int level);

#endif
