/*
 * png_read.h - read a PNG back as RGB for the renderer tests (libpng's
 * simplified API; alpha is composited away).
 */
#ifndef MASKINFO_TEST_PNG_READ_H
#define MASKINFO_TEST_PNG_READ_H

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ok;
    int w, h;
    uint8_t *px; /* RGB */
} image;

static inline image read_png(const char *path)
{
    image im = {0, 0, 0, NULL};
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path)) return im;
    pi.format = PNG_FORMAT_RGB;
    im.px = malloc(PNG_IMAGE_SIZE(pi));
    if (!im.px || !png_image_finish_read(&pi, NULL, im.px, 0, NULL)) {
        free(im.px);
        im.px = NULL;
        png_image_free(&pi);
        return im;
    }
    im.ok = 1;
    im.w = (int)pi.width;
    im.h = (int)pi.height;
    return im;
}

static inline const uint8_t *pix(const image *im, int x, int y)
{
    return im->px + 3 * ((size_t)y * im->w + x);
}

#endif
