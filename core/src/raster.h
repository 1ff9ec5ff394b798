/*
 * raster.h - the drawing layer of the PNG renderer (raster.c): colours and
 * colormaps, an RGB canvas that can also just measure, and bitmap text.
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

void maskinfo__dc_measure_init(dc *d);
void maskinfo__dc_extend(dc *d, int64_t x, int64_t y, int64_t w, int64_t h);
void maskinfo__dc_rect(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c);

/* Glyphs in s (UTF-8 continuation bytes do not count). */
int64_t maskinfo__text_glyphs(const char *s);
/* Glyphs actually shown for a text limited to maxg glyphs. */
int64_t maskinfo__shown_glyphs(const char *s, int64_t maxg);
/* Pixel width of n glyphs at scale sc. */
static inline int64_t glyphs_width(int64_t n, int sc)
{
    return n > 0 ? (n * MI_FONT_ADV - 1) * sc : 0;
}
/* Text with its top-left corner at (x, y); rot = 1 turns it clockwise so it
 * reads downwards.  At most maxg glyphs; a longer text ends in "...".
 * Byte 1 draws an arrow. */
void maskinfo__dc_text(dc *d, int64_t x, int64_t y, const char *s, int sc, int rot,
                       rgb c, int64_t maxg);

/* The w x h canvas to path as a PNG, atomically (png_write.c): path is only
 * ever replaced by a complete file; on MASKINFO_EIO errno says why. */
int maskinfo__write_png(const char *path, const uint8_t *px, int64_t w, int64_t h);

#endif
