/*
 * internal.h - the mask expression node, shared by representation.c and
 * ops.c.  Nothing here is part of the public API.
 */
#ifndef MASKINFO_INTERNAL_H
#define MASKINFO_INTERNAL_H

#include "maskinfo.h"

#include <stdio.h>

typedef enum {
    MI_CONST,   /* every cell = value */
    MI_SEG,     /* qv[b,hq,q] == kv[b,hk,k] */
    MI_DENSE,   /* bit-packed cells */
    MI_IVL,     /* explicit per-row intervals (CSR) */
    MI_CAUSAL,  /* k <= q + off[b] */
    MI_WINDOW,  /* q+off-left <= k <= q+off+right */
    MI_CHUNK,   /* same chunk and causal */
    MI_KRANGE,  /* lo[b] <= k < hi[b] */
    MI_AND,
    MI_OR,
    MI_NOT,
    MI_ANDNOT,
    MI_STACK,   /* head h is parts[h] */
    MI_SLICE,   /* shifted window of a child */
    MI_BCAST    /* child broadcast to a larger (B, H) */
} mi_kind;

struct maskinfo_mask {
    int refs;
    mi_kind kind;
    int64_t B, H, Q, K;
    int value;                 /* MI_CONST */
    /* MI_SEG */
    int64_t hq, hk;            /* head extents of qv / kv (1 or H) */
    int64_t *qv;               /* (B, hq, Q); kv ids live on as runs only */
    int64_t *run_off;          /* B*hk + 1 offsets into the run arrays */
    int64_t *run_id, *run_lo, *run_hi; /* kv runs sorted by (id, lo) */
    /* MI_DENSE: rows of `words` 64-bit words, hd heads (1 or H) */
    uint64_t *bits;
    int64_t words, hd;
    /* MI_IVL */
    int64_t *iv_off, *iv;
    /* rules: per-batch offsets, per-head windows */
    int64_t *off;              /* B entries (MI_CAUSAL, MI_WINDOW, MI_CHUNK) */
    int64_t *left, *right;     /* nh entries (MI_WINDOW) */
    int64_t nh;
    int64_t chunk;             /* MI_CHUNK */
    int64_t *lo, *hi;          /* MI_KRANGE, B entries */
    /* composites */
    maskinfo_mask *a, *b;
    maskinfo_mask **parts;     /* MI_STACK, H entries */
    int64_t *qstart, *kstart;  /* MI_SLICE, B entries */
    uint64_t bytes;            /* memory held by this node alone */
};

/* Half-precision rounding straight from double (status.c): going through
 * float first could round twice. */
uint16_t maskinfo__double_to_f16(double d);
uint16_t maskinfo__double_to_bf16(double d);

/* Write path whole or not at all (atomic_file.c): fill(fp, ctx) writes the
 * content to a temporary file beside path and returns a status; the file is
 * then fsync'd and renamed over path.  Any failure removes the temporary
 * file and leaves path untouched. */
typedef int (*maskinfo__fill_fn)(FILE *fp, void *ctx);
int maskinfo__write_atomic(const char *path, maskinfo__fill_fn fill, void *ctx);

/* A zeroed node with one reference, or NULL. */
maskinfo_mask *maskinfo__node_new(mi_kind kind, int64_t B, int64_t H, int64_t Q,
                           int64_t K);
/* Copy n int64 values (NULL src -> zeros) into a new buffer counted in
 * node->bytes; NULL on allocation failure. */
int64_t *maskinfo__node_i64(maskinfo_mask *node, const int64_t *src, int64_t n);
/* Checked product of non-negative sizes; -1 on overflow. */
int64_t maskinfo__mul(int64_t a, int64_t b);

static inline int64_t mi_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t mi_max64(int64_t a, int64_t b) { return a > b ? a : b; }
/* a + b clamped to the int64 range: offsets and windows may be huge */
static inline int64_t mi_sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}
static inline int64_t mi_sat_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* splitmix64: a bijective 64-bit mixer, for counter-based random bits and
 * hash weights that depend only on their input (so on no thread count) */
static inline uint64_t maskinfo__splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* floor division for a possibly negative numerator, d > 0 */
static inline int64_t mi_floordiv(int64_t n, int64_t d) {
    int64_t q = n / d;
    return (n % d != 0 && n < 0) ? q - 1 : q;
}

#endif
