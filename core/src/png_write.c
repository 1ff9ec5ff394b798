/*
 * png_write.c - an RGB canvas to a PNG file, through libpng and the atomic
 * writer, or to a PNG in memory (the SVG backend's embedded heatmaps).
 *
 * 8-bit greyscale when every pixel is grey, 8-bit RGB otherwise.  zlib
 * level 1 and no row filters: several times faster on mask pictures, for
 * files at most ~20% larger.  libpng's longjmp never leaves this file.
 */
#include "atomic_file.h"
#include "figure.h"

#include <png.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    FILE *fp;                 /* NULL: into the memory buffer below */
    uint8_t *mem;
    size_t len, cap;
    int io_error;
    int io_errno; /* errno of the failed write, which libpng's cleanup may clobber */
} png_sink;

static void sink_write(png_structp png, png_bytep data, size_t len)
{
    png_sink *s = png_get_io_ptr(png);
    if (!s->fp) {
        if (s->cap - s->len < len) {
            size_t cap = s->cap ? s->cap : 4096;
            while (cap - s->len < len) cap *= 2;
            uint8_t *m = realloc(s->mem, cap);
            if (!m) png_error(png, "out of memory");
            s->mem = m;
            s->cap = cap;
        }
        memcpy(s->mem + s->len, data, len);
        s->len += len;
        return;
    }
    if (fwrite(data, 1, len, s->fp) != len) {
        s->io_error = 1;
        s->io_errno = errno;
        png_error(png, "write failed");
    }
}

static void sink_flush(png_structp png)
{
    png_sink *s = png_get_io_ptr(png);
    if (s->fp && fflush(s->fp) != 0) {
        s->io_error = 1;
        s->io_errno = errno;
        png_error(png, "flush failed");
    }
}

/* libpng reports errors by calling this; it must not return.  The jump
 * lands in encode_png() below and never leaves this file.  Messages are
 * dropped: the status code says what happened. */
static void png_fail(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Encode the canvas into fp.  sink and row live in the caller's frame or on
 * the heap and are not modified here after setjmp, and png/info are only
 * assigned before it, so nothing this function reads after a longjmp is
 * indeterminate. */
static int encode_png(png_sink *sink, const uint8_t *px, int64_t w, int64_t h,
                      int grey, int level, uint8_t *row)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail,
                                              png_warn);
    if (!png) return MASKINFO_ENOMEM;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return MASKINFO_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        if (!sink->io_error)
            return MASKINFO_EPNG;
        errno = sink->io_errno;
        return MASKINFO_EIO;
    }
    png_set_write_fn(png, sink, sink_write, sink_flush);
    /* level 0 means the fast default; 6 and up let libpng pick row filters */
    png_set_compression_level(png, level < 1 ? 1 : level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, level >= 6 ? PNG_ALL_FILTERS : PNG_FILTER_NONE);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 grey ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    png_write_info(png, info);
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *src = px + y * w * 3;
        if (grey) {
            for (int64_t x = 0; x < w; x++) row[x] = src[3 * x];
            png_write_row(png, row);
        } else {
            png_write_row(png, (png_const_bytep)src);
        }
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return MASKINFO_OK;
}

static int all_grey(const uint8_t *px, int64_t n)
{
    for (int64_t i = 0; i < n; i++, px += 3)
        if (px[0] != px[1] || px[1] != px[2]) return 0;
    return 1;
}

/* The canvas as the content of an atomic write. */
typedef struct {
    const uint8_t *px;
    int64_t w, h;
    int grey, level;
    uint8_t *row;
} png_job;

static int fill_png(FILE *fp, void *ctx)
{
    png_job *j = ctx;
    png_sink sink = {fp, NULL, 0, 0, 0, 0};
    return encode_png(&sink, j->px, j->w, j->h, j->grey, j->level, j->row);
}

int maskinfo__write_png(const char *path, const uint8_t *px, int64_t w, int64_t h, int level)
{
    png_job j = {px, w, h, all_grey(px, w * h), level, NULL};
    if (j.grey && (j.row = malloc((size_t)w)) == NULL) return MASKINFO_ENOMEM;
    int status = maskinfo__write_atomic(path, fill_png, &j);
    free(j.row);
    return status;
}

int maskinfo__encode_png_mem(const uint8_t *px, int64_t w, int64_t h, int level, uint8_t **out,
                             size_t *len)
{
    png_sink sink = {NULL, NULL, 0, 0, 0, 0};
    int grey = all_grey(px, w * h);
    uint8_t *row = grey ? malloc((size_t)w) : NULL;
    int st = grey && !row ? MASKINFO_ENOMEM : encode_png(&sink, px, w, h, grey, level, row);
    free(row);
    if (st) {
        free(sink.mem);
        return st == MASKINFO_EPNG ? MASKINFO_ENOMEM : st;
    }
    *out = sink.mem;
    *len = sink.len;
    return MASKINFO_OK;
}
