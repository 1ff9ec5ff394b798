/*
 * text_ft.c - text metrics and anti-aliased text for the figure renderers
 * (figure.h), through FreeType and a TrueType font (DejaVu Sans by
 * default).  When the default font file does not load, the 5x8 bitmap
 * font of raster.c stands in (integer scales, ASCII only), so a figure is
 * always drawn; a font the caller names is checked first
 * (maskinfo_font_check) and refused by the binding.
 *
 * Both the layout and the PNG backend measure with the same advances
 * (unhinted, plus the font's pair kerning) so boxes and drawn text agree;
 * the SVG backend names the same family, and viewers that have it match
 * closely (they kern too).  FT_Get_Kerning reads only the legacy 'kern'
 * table; DejaVu Sans has one (besides GPOS), so "To", "AV", "P." close up
 * as in a typeset title without HarfBuzz (docs/decisions.md).
 */
#include "figure.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FT_Library ft_lib;
static FT_Face ft_face;
static char ft_path[1024];
static int ft_state; /* 0 not tried, 1 FreeType, -1 bitmap fallback */
static double ft_size = -1;

int maskinfo__font_select(const char *path)
{
    if (!path || !*path) path = getenv("MASKINFO_FONT");
    if (!path || !*path) path = MI_DEFAULT_FONT;
    if (ft_state != 0 && strcmp(path, ft_path) == 0) return ft_state > 0;
    if (ft_face) FT_Done_Face(ft_face);
    ft_face = NULL;
    ft_size = -1;
    snprintf(ft_path, sizeof ft_path, "%s", path);
    ft_state = -1;
    if (strlen(path) < sizeof ft_path && (ft_lib || FT_Init_FreeType(&ft_lib) == 0) &&
        FT_New_Face(ft_lib, path, 0, &ft_face) == 0) {
        if (FT_IS_SCALABLE(ft_face))
            ft_state = 1;
        else {
            FT_Done_Face(ft_face);
            ft_face = NULL;
        }
    }
    return ft_state > 0;
}

int maskinfo_font_check(const char *path, char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, n, "%s", strerror(errno));
        return -1;
    }
    errno = 0;
    int unreadable = fgetc(f) == EOF && ferror(f); /* a directory: EISDIR */
    int err = errno;
    fclose(f);
    if (unreadable) {
        snprintf(why, n, "%s", strerror(err ? err : EIO));
        return -1;
    }
    FT_Library lib;
    FT_Face face;
    if (FT_Init_FreeType(&lib)) {
        snprintf(why, n, "FreeType did not start");
        return -1;
    }
    FT_Error e = FT_New_Face(lib, path, 0, &face);
    int ok = e == 0;
    if (!ok) {
        const char *fs = FT_Error_String(e);
        snprintf(why, n, "FreeType: %s", fs ? fs : e == FT_Err_Unknown_File_Format ? "unknown file format"
                                                                                 : "cannot open the font");
    } else {
        ok = FT_IS_SCALABLE(face) != 0;
        if (!ok) snprintf(why, n, "not a scalable (TrueType or OpenType) font");
        FT_Done_Face(face);
    }
    FT_Done_FreeType(lib);
    return ok ? 0 : -1;
}

static int use_ft(void)
{
    if (ft_state == 0) maskinfo__font_select(NULL);
    return ft_state > 0;
}

static int bitmap_scale(double px)
{
    int sc = (int)(px / 9.0 + 0.5);
    return sc < 1 ? 1 : sc;
}

static void set_size(double px)
{
    if (px == ft_size) return;
    FT_Set_Char_Size(ft_face, 0, (FT_F26Dot6)(px * 64.0 + 0.5), 72, 72);
    ft_size = px;
}

/* Next code point of s[*i..len); a malformed byte counts as U+FFFD. */
static uint32_t next_cp(const char *s, size_t len, size_t *i)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c = u[(*i)++];
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (extra == 0) return c < 0x80 ? c : 0xFFFD;
    c &= 0x3Fu >> extra;
    for (int k = 0; k < extra; k++, (*i)++) {
        if (*i >= len || (u[*i] & 0xC0) != 0x80) return 0xFFFD;
        c = (c << 6) | (u[*i] & 0x3F);
    }
    return c;
}

static FT_UInt glyph_index(uint32_t cp)
{
    FT_UInt g = FT_Get_Char_Index(ft_face, cp);
    return g ? g : FT_Get_Char_Index(ft_face, '?');
}

int64_t maskinfo__text_missing(const char *s)
{
    if (!use_ft()) {
        int64_t n = 0;
        size_t len = strlen(s);
        for (size_t i = 0; i < len;) {
            uint32_t c = next_cp(s, len, &i);
            if ((c < 0x20 || c > 0x7e) && c != 0x2192) n++;
        }
        return n;
    }
    int64_t n = 0;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;)
        if (FT_Get_Char_Index(ft_face, next_cp(s, len, &i)) == 0) n++;
    return n;
}

/* Pair kerning of glyphs a then b at the current size, 26.6 (0 without a
 * 'kern' table). */
static FT_Pos kerning(FT_UInt a, FT_UInt b)
{
    FT_Vector v;
    if (!a || !FT_HAS_KERNING(ft_face) || FT_Get_Kerning(ft_face, a, b, FT_KERNING_UNFITTED, &v) != 0)
        return 0;
    return v.x;
}

int64_t maskinfo__text_width(const char *s, size_t len, double px)
{
    if (!use_ft()) return maskinfo__bitmap_width(s, len, bitmap_scale(px));
    set_size(px);
    int64_t adv = 0; /* 26.6 */
    FT_UInt prev = 0;
    for (size_t i = 0; i < len;) {
        FT_UInt g = glyph_index(next_cp(s, len, &i));
        adv += kerning(prev, g);
        prev = g;
        if (FT_Load_Glyph(ft_face, g, FT_LOAD_NO_HINTING) == 0) adv += ft_face->glyph->advance.x;
    }
    return (adv + 63) / 64;
}

int64_t maskinfo__line_height(double px)
{
    if (!use_ft()) return (int64_t)MI_FONT_H * bitmap_scale(px);
    return (int64_t)(px * 1.17 + 0.5);
}

int64_t maskinfo__ascent(double px)
{
    if (!use_ft()) return (int64_t)MI_FONT_CAP * bitmap_scale(px);
    return (int64_t)(px * 0.93 + 0.5);
}

static void blend(uint8_t *px, int64_t w, int64_t h, int64_t x, int64_t y, rgb c, int a)
{
    if (x < 0 || y < 0 || x >= w || y >= h || a == 0) return;
    uint8_t *q = px + (y * w + x) * 3;
    q[0] = (uint8_t)(q[0] + ((c.r - q[0]) * a + 127) / 255);
    q[1] = (uint8_t)(q[1] + ((c.g - q[1]) * a + 127) / 255);
    q[2] = (uint8_t)(q[2] + ((c.b - q[2]) * a + 127) / 255);
}

void maskinfo__text_raster(uint8_t *px, int64_t w, int64_t h, int64_t x, int64_t y,
                           const char *s, size_t len, double size, int up, rgb c)
{
    if (!use_ft()) {
        maskinfo__bitmap_text(px, w, h, x, y, s, len, bitmap_scale(size), up, c);
        return;
    }
    int64_t tw = maskinfo__text_width(s, len, size), base = maskinfo__ascent(size);
    set_size(size);
    int64_t pen = 0; /* 26.6, along the text */
    FT_UInt prev = 0;
    for (size_t i = 0; i < len;) {
        FT_UInt g = glyph_index(next_cp(s, len, &i));
        pen += kerning(prev, g);
        prev = g;
        if (FT_Load_Glyph(ft_face, g, FT_LOAD_NO_HINTING) != 0) continue;
        FT_GlyphSlot gs = ft_face->glyph;
        if (FT_Render_Glyph(gs, FT_RENDER_MODE_NORMAL) == 0 &&
            gs->bitmap.pixel_mode == FT_PIXEL_MODE_GRAY) {
            const FT_Bitmap *b = &gs->bitmap;
            int64_t gx = (pen + 32) / 64 + gs->bitmap_left, gy = base - gs->bitmap_top;
            for (unsigned r = 0; r < b->rows; r++)
                for (unsigned k = 0; k < b->width; k++) {
                    int a = b->buffer[(int64_t)r * b->pitch + k];
                    int64_t tx = gx + k, ty = gy + r; /* in the unturned box */
                    if (!up)
                        blend(px, w, h, x + tx, y + ty, c, a);
                    else
                        blend(px, w, h, x + ty, y + tw - 1 - tx, c, a);
                }
        }
        pen += gs->advance.x;
    }
}
