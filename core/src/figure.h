/*
 * figure.h - the figure renderer's internal interface.
 *
 * layout.c decides where everything goes (panels, axes, ticks, labels,
 * bands, legends) and issues drawing calls on a dc; the dc's kind picks the
 * backend: DC_MEASURE only grows a bounding box, DC_PNG draws into an RGB
 * canvas (render_png.c), DC_SVG writes SVG elements (render_svg.c).  Text
 * metrics come from text_ft.c, so every backend places text the same way.
 */
#ifndef MASKINFO_FIGURE_H
#define MASKINFO_FIGURE_H

#include "raster.h"
#include "strbuf.h"

/* ---------------------------------------------------------------- text */
/* FreeType with a TrueType font (DejaVu Sans by default) when the font
 * file loads, the 5x8 bitmap font otherwise.  Not thread-safe: the face is
 * shared process-wide (figures are laid out on one thread). */
#define MI_DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

/* Select the font: path, else $MASKINFO_FONT, else MI_DEFAULT_FONT.
 * Returns 1 when FreeType draws the text, 0 for the bitmap fallback. */
int maskinfo__font_select(const char *path);
/* Advance width in pixels of one line of UTF-8 text at size px (em). */
int64_t maskinfo__text_width(const char *s, size_t len, double px);
/* Height of a line box at size px; the baseline is ascent(px) below its top. */
int64_t maskinfo__line_height(double px);
int64_t maskinfo__ascent(double px);
/* Code points of s the current font has no glyph for (drawn as '?'). */
int64_t maskinfo__text_missing(const char *s);
/* Anti-aliased text into an RGB canvas (w x h), line box top-left at
 * (x, y); up = 1 turns it to read bottom to top, the box then being
 * line_height wide and text_width tall. */
void maskinfo__text_raster(uint8_t *px, int64_t w, int64_t h, int64_t x, int64_t y,
                           const char *s, size_t len, double size, int up, rgb c);

/* ---------------------------------------------------------------- panels */

/* One axis of a panel: cells [lo, lo + n) of the mask in nb buckets; bucket
 * i covers cells [e[i], e[i+1]) (absolute) and pixels [p[i], p[i+1]). */
typedef struct {
    int64_t n, lo, nb, offset;
    int64_t *e, *p;
    uint8_t *pad;  /* per bucket: every cell is padding (id < 0), or NULL */
    int32_t *band; /* per bucket: the band category, -2 if mixed, or NULL */
} axis;

typedef struct {
    const maskinfo_mask *m;
    const maskinfo_png_opts *o;
    axis rows, cols;
    int64_t hm_w, hm_h;
    int grid, plain, labels_q, labels_kv;
    uint64_t *counts, *cb, *cboth; /* cb, cboth: diff panels only */
    uint64_t tot[3];               /* diff: only a, only b, both */
    uint8_t *blocks;               /* kernel-block classes, bnr x bnc */
    int64_t bnr, bnc;
    uint64_t bcount[3];            /* empty, partial, full blocks */
    palette pal;
    int fractional, hatched;       /* legend needs: partial pixels, padding */
    int64_t x0, y0, x1, y1;        /* measured box around the heatmap origin */
} panel;

/* Text sizes of a figure, in pixels. */
typedef struct {
    double tick, label, title, fig_title;
    int64_t lw; /* line width */
} type_sizes;

/* ---------------------------------------------------------------- drawing */
typedef enum { DC_MEASURE, DC_PNG, DC_SVG } dc_kind;

typedef struct {
    dc_kind kind;
    uint8_t *px;          /* DC_PNG: RGB canvas w x h */
    int64_t w, h;
    maskinfo__strbuf *sb; /* DC_SVG */
    int64_t ox, oy;       /* canvas position of the local origin */
    int64_t x0, y0, x1, y1;
    const type_sizes *ts;
    const maskinfo_limits *lim;
    int status;           /* first failure of a backend (SVG heatmap images) */
    int png_level;        /* DC_SVG: the embedded heatmap's zlib level */
} dc;

void maskinfo__dc_init(dc *d, dc_kind kind);
void maskinfo__dc_extend(dc *d, int64_t x, int64_t y, int64_t w, int64_t h);
/* A filled rectangle; alpha < 255 blends over what is there. */
void maskinfo__dc_fill(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c, int alpha);
/* One line of text, box top-left at (x, y) (see maskinfo__text_raster). */
void maskinfo__dc_text(dc *d, int64_t x, int64_t y, const char *s, size_t len, double size,
                       int up, rgb c);
/* The panel's heatmap with its top-left at the local origin. */
void maskinfo__dc_heatmap(dc *d, const panel *p);

/* Pixel offset of the boundary in front of cell v of the axis (v relative
 * to its first cell; v == n gives the far edge). */
int64_t maskinfo__axis_pixel(const axis *a, int64_t v);
/* Everything of one panel around its heatmap origin (annotate.c). */
void maskinfo__draw_panel(dc *d, const panel *p);
/* The figure's legend with its top-left at the origin: swatches for what
 * the panels show, a colour bar only where some pixel is fractional;
 * lines wrap at wrap pixels. */
void maskinfo__draw_legend(dc *d, const panel *ps, int64_t n, int64_t wrap);
/* Text wrapped to maxw pixels (\n starts a new line), top at y, starting
 * at x or (centre) centred on x; returns its height. */
int64_t maskinfo__text_block(dc *d, int64_t x, int64_t y, int64_t maxw, const char *s,
                             double size, int centre, rgb c);

/* aggregate any / all (heatmap.c): features thinner than 3 pixels on a
 * downsampled axis are widened to 3 in p->counts (0 or the bucket area). */
int maskinfo__thin_features(panel *p, const maskinfo_limits *lim);
/* Colour of bucket (i, j); *hatch = 1 when it is masked padding. */
rgb maskinfo__bucket_colour(const panel *p, int64_t i, int64_t j, int *hatch);
/* Hatching of padding: the pixel at heatmap position (x, y). */
static inline rgb hatch_colour(int64_t x, int64_t y)
{
    return (x + y) % 6 == 0 ? mk_rgb(180, 180, 180) : mk_rgb(255, 255, 255);
}

/* Diff panels: cells allowed only in a, only in b, in both (orange and
 * purple stay apart for colour-blind readers; "both" recedes in grey). */
#define MI_DIFF_A mk_rgb(230, 97, 1)
#define MI_DIFF_B mk_rgb(94, 60, 153)
#define MI_DIFF_BOTH mk_rgb(175, 175, 175)

/* Backends. */
void maskinfo__png_fill(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c, int alpha);
void maskinfo__png_heatmap(dc *d, const panel *p);
void maskinfo__svg_fill(dc *d, int64_t x, int64_t y, int64_t w, int64_t h, rgb c, int alpha);
void maskinfo__svg_text(dc *d, int64_t x, int64_t y, const char *s, size_t len, double size,
                        int up, rgb c);
void maskinfo__svg_heatmap(dc *d, const panel *p);
/* SVG document: header (w x h, white background, shared definitions). */
void maskinfo__svg_begin(maskinfo__strbuf *sb, int64_t w, int64_t h);
void maskinfo__svg_end(maskinfo__strbuf *sb);
int maskinfo__write_text_file(const char *path, const char *s, size_t len);
/* The PNG encoding of an RGB canvas in memory (malloc'd, *len bytes). */
int maskinfo__encode_png_mem(const uint8_t *px, int64_t w, int64_t h, int level, uint8_t **out,
                             size_t *len);

#endif
