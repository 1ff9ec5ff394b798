/*
 * node.h - the mask expression node, the row evaluators that walk it and
 * the count grid kernel.  Only the files that build or evaluate nodes
 * include this (node.c, leaves.c, ops.c, eval.c, reduce.c, blocks.c); the
 * others use maskinfo.h and util.h.
 */
#ifndef MASKINFO_NODE_H
#define MASKINFO_NODE_H

#include "util.h"

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

/* ---- leaf payloads (leaves.c) */
typedef struct { int value; } mi_const_leaf;
typedef struct {
    int64_t hq, hk;            /* head extents of qv / kv (1 or H) */
    int64_t *qv;               /* (B, hq, Q); kv ids live on as runs only */
    int64_t *run_off;          /* B*hk + 1 offsets into the run arrays */
    int64_t *run_id, *run_lo, *run_hi; /* kv runs sorted by (id, lo) */
} mi_seg_leaf;
typedef struct {
    uint64_t *bits;            /* rows of `words` 64-bit words */
    int64_t words, hd;         /* hd heads (1 or H) */
} mi_dense_leaf;
typedef struct { int64_t *off, *iv; } mi_ivl_leaf; /* CSR: B*H*Q + 1 offsets */
typedef struct { int64_t *off; } mi_causal_leaf;  /* B entries */
typedef struct {
    int64_t *off;              /* B entries */
    int64_t *left, *right, nh; /* nh entries */
} mi_window_leaf;
typedef struct { int64_t *off, chunk; } mi_chunk_leaf;
typedef struct { int64_t *lo, *hi; } mi_krange_leaf; /* B entries each */

/* ---- composite payloads (ops.c) */
typedef struct { maskinfo_mask *a, *b; } mi_binary_op; /* and, or, andnot */
typedef struct { maskinfo_mask *a; } mi_unary_op;      /* not, broadcast */
typedef struct { maskinfo_mask **parts; } mi_stack_op; /* H entries */
typedef struct {
    maskinfo_mask *a;
    int64_t *qstart, *kstart;  /* B entries */
} mi_slice_op;

struct maskinfo_mask {
    int refs;
    mi_kind kind;
    int has_dense;                  /* a dense leaf at or below this node */
    int height;                     /* 1 for a leaf, else 1 + the tallest child (saturating) */
    int64_t B, H, Q, K;
    uint64_t bytes;                 /* memory held by this node alone */
    uint64_t serial;                /* unique per node ever made: caches key on it */
    maskinfo_mask *dead_next;       /* the free list of maskinfo_mask_unref */
    /* frees the payload (never the children: unref walks those itself,
     * without recursion), set by the kind */
    void (*drop)(maskinfo_mask *m);
    union {
        mi_const_leaf cst;
        mi_seg_leaf seg;
        mi_dense_leaf dense;
        mi_ivl_leaf ivl;
        mi_causal_leaf causal;
        mi_window_leaf window;
        mi_chunk_leaf chunk;
        mi_krange_leaf krange;
        mi_binary_op bin;
        mi_unary_op un;
        mi_stack_op stack;
        mi_slice_op slice;
    } u;
};

/* ---- life cycle (node.c) */
/* A zeroed node with one reference whose payload drop frees, or NULL. */
/* MASKINFO_OK when B >= 0, H >= 1, Q >= 0, K >= 0 and B*H*Q*K fits. */
int maskinfo__check_dims(int64_t B, int64_t H, int64_t Q, int64_t K);

maskinfo_mask *maskinfo__node_new(mi_kind kind, void (*drop)(maskinfo_mask *),
                                  int64_t B, int64_t H, int64_t Q, int64_t K);
/* Set m->has_dense and m->height from its children (composites call it
 * once they hold them). */
void maskinfo__node_adopt(maskinfo_mask *m);
/* Copy n int64 values (NULL src -> zeros) into a new buffer counted in
 * node->bytes; NULL on allocation failure. */
int64_t *maskinfo__node_i64(maskinfo_mask *node, const int64_t *src, int64_t n);

/* Children of a composite, for walks that need no kind: none for a leaf. */
static inline int64_t mi_nkids(const maskinfo_mask *m)
{
    switch (m->kind) {
    case MI_AND: case MI_OR: case MI_ANDNOT: return 2;
    case MI_NOT: case MI_BCAST: case MI_SLICE: return 1;
    case MI_STACK: return m->u.stack.parts ? m->H : 0;
    default: return 0;
    }
}
static inline maskinfo_mask *mi_kid(const maskinfo_mask *m, int64_t i)
{
    switch (m->kind) {
    case MI_AND: case MI_OR: case MI_ANDNOT: return i ? m->u.bin.b : m->u.bin.a;
    case MI_NOT: case MI_BCAST: return m->u.un.a;
    case MI_SLICE: return m->u.slice.a;
    case MI_STACK: return m->u.stack.parts[i];
    default: return NULL;
    }
}

/* ---- rows (eval.c) */
/* The evaluator's private state: its explicit frame stacks, the shared
 * nodes of the current root and the per-row memo (eval.c). */
struct mi_eval_state;
/* The interval stack; public code sees it only as an opaque handle. */
struct maskinfo_scratch {
    int64_t *v;
    int64_t len, cap;          /* in int64 units; intervals take two */
    maskinfo_limits lim;       /* growth is checked against this guard */
    struct mi_eval_state *es;  /* made on the first composite row */
};
/* Append row (b, h, q) of m to s (no argument checks: callers validate).
 * Never recurses: any depth that fits in memory evaluates, and a node
 * reached along several paths is evaluated once per row. */
int maskinfo__eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                   maskinfo_scratch *s);
/* Words of bit rows eval_bits needs in pool (0: the scratch holds them). */
int maskinfo__bit_depth(const maskinfo_mask *m);
/* Row (b, h, q) into w (nw words, bits past K zero); pool holds
 * maskinfo__bit_depth(m) * nw words. */
int maskinfo__eval_bits(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                        uint64_t *w, int64_t nw, uint64_t *pool, maskinfo_scratch *s);

/* ---- count grids (reduce.c) */
/* Columns of a count grid: n uniform blocks of width keys (the last one cut
 * at K), or, with width 0, n buckets between non-decreasing edges[0..n]. */
typedef struct {
    const int64_t *edges;
    int64_t n, width, K;
} mi_grid_cols;

#endif
