/*
 * eval.h - the row evaluator's private state, shared by eval.c (intervals,
 * the plan and the memo) and eval_bits.c (bit rows).  Only those two
 * include it.
 */
#ifndef MASKINFO_EVAL_H
#define MASKINFO_EVAL_H

#include "node.h"

/* Expressions up to this height with no shared node are evaluated by plain
 * (bounded) recursion; the rest on explicit frames. */
#define MI_REC_HEIGHT 48

typedef struct {
    const maskinfo_mask *m;    /* the node (a chain's top) */
    const maskinfo_mask *cur;  /* chain: the next node to open, or the last operand */
    int64_t b, h, q;           /* m's own coordinates */
    int64_t base, mid;         /* interval stack marks */
    int64_t o;                 /* bit rows: the output slot */
    int state, last, memo;     /* last: cur is a plain operand; memo: m is shared */
} frame;

typedef struct {
    const maskinfo_mask *m;
    int64_t b, h, q, off, n;
    uint64_t gen;              /* valid only for the row of this generation */
} memo_slot;

typedef struct {
    const maskinfo_mask *m;
    int64_t deg;               /* parents while planning; then the shared index */
} plan_slot;

struct mi_eval_state {
    frame *fr;                 /* interval frames */
    int64_t nfr, capfr;
    frame *bf;                 /* bit-row frames */
    int64_t nbf, capbf;
    /* the plan: composites of root reached along more than one path */
    const maskinfo_mask *root;
    uint64_t serial;
    plan_slot *set;            /* NULL when nothing is shared */
    int64_t setcap, nshared;
    /* the memo of the current row */
    uint64_t gen;
    memo_slot *memo;
    int64_t memocap, memoused;
    int64_t *arena;
    int64_t arenalen, arenacap;
    /* bit rows: working slots and the memo rows of shared nodes */
    uint64_t *slots;
    int64_t slotcap;           /* words */
    uint64_t *brow, *bgen;     /* nshared rows of bnw words, their generations */
    int64_t bnw;
};


/* Grow *p (elements of sz bytes) to hold at least need, doubling, checked
 * against the guard. */
static inline int mi_grow_to(void **p, int64_t *cap, int64_t need, size_t sz,
                   const maskinfo_limits *lim) {
    if (need <= *cap) return MASKINFO_OK;
    int64_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > INT64_MAX / 2) return MASKINFO_EOVERFLOW;
        c *= 2;
    }
    int st = maskinfo_check_alloc(lim, (uint64_t)c, sz);
    if (st) return st;
    void *n = realloc(*p, (size_t)c * sz);
    if (!n) return MASKINFO_ENOMEM;
    *p = n;
    *cap = c;
    return MASKINFO_OK;
}


static inline int64_t ptr_slot(const maskinfo_mask *m, int64_t cap) {
    return (int64_t)(maskinfo__splitmix64((uint64_t)(uintptr_t)m) & (uint64_t)(cap - 1));
}

/* The slot of m in set (capacity a power of two, at most half full): m's,
 * or the empty one where it would go. */
static inline plan_slot *set_find(plan_slot *set, int64_t cap, const maskinfo_mask *m) {
    int64_t j = ptr_slot(m, cap);
    while (set[j].m && set[j].m != m) j = (j + 1) & (cap - 1);
    return &set[j];
}

/* m's shared index, or -1 (also for every node when nothing is shared). */
static inline int64_t shared_idx(const struct mi_eval_state *es, const maskinfo_mask *m) {
    if (!es->set) return -1;
    const plan_slot *p = set_find(es->set, es->setcap, m);
    return p->m ? p->deg : -1;
}

/* May x continue a chain of kind (fold into its frame)?  Not when it is
 * shared: the memo keeps it whole. */
static inline int chains(const struct mi_eval_state *es, const maskinfo_mask *x, mi_kind kind) {
    return x->kind == kind && shared_idx(es, x) < 0;
}

/* The next node of an andnot chain frame: another subtrahend (state 2,
 * to join the union) or the minuend at the bottom (state 3). */
static inline const maskinfo_mask *andnot_next(const struct mi_eval_state *es, frame *f) {
    const maskinfo_mask *x = f->cur;
    if (chains(es, x, MI_ANDNOT)) {
        f->state = 2;
        f->cur = x->u.bin.a;
        return x->u.bin.b;
    }
    f->state = 3;
    return x;
}

/* The next operand of an and/or chain frame (f->cur is NULL after the
 * last one). */
const maskinfo_mask *maskinfo__next_operand(const struct mi_eval_state *es, frame *f);
/* Make s ready for a new row of root: its plan, and a fresh memo. */
int maskinfo__row_start(maskinfo_scratch *s, const maskinfo_mask *root);
/* Append row (b, h, q) of m to s within the current row (same memo). */
int maskinfo__eval_in_row(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                          maskinfo_scratch *s);

#endif
