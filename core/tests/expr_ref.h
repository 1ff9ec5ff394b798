/*
 * expr_ref.h - random mask expressions (DAGs: later nodes reuse earlier
 * ones) built through the public API next to a naive reference of one byte
 * per cell.  Shared by test_eval.c (driven by rng.h) and the differential
 * fuzz target core/fuzz/fuzz_expr.c (driven by the fuzzer's bytes).
 * Only the public header is used.
 */
#ifndef MASKINFO_TESTS_EXPR_REF_H
#define MASKINFO_TESTS_EXPR_REF_H

#include "maskinfo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Where the random choices come from: a function and its state. */
typedef struct {
    uint32_t (*next)(void *ctx);
    void *ctx;
} xr_src;

static inline int64_t xr_pick(xr_src *r, int64_t n) { return n <= 0 ? 0 : (int64_t)(r->next(r->ctx) % (uint32_t)n); }

/* An offset or window: small, or near the int64 ends (saturation paths). */
static inline int64_t xr_off(xr_src *r, int nonneg)
{
    int64_t v;
    switch (xr_pick(r, 6)) {
    case 0: v = INT64_MAX - xr_pick(r, 20); break;
    case 1: v = INT64_MIN + xr_pick(r, 20); break;
    case 2: v = (INT64_C(1) << 62) + xr_pick(r, 5); break;
    default: v = xr_pick(r, 25) - 12; break;
    }
    if (nonneg && v < 0) v = v == INT64_MIN ? INT64_MAX : -v;
    return v;
}

typedef struct {
    maskinfo_mask *m;
    uint8_t *ref;              /* (B, H, Q, K) cells */
    int64_t B, H;
} xr_node;

/* Every node has the pool's B, Q and K, and H or 1 heads (B, H <= 4). */
typedef struct {
    int64_t B, H, Q, K;
    xr_node *n;
    int64_t count, cap;
} xr_pool;

static inline uint8_t xr_cell(const xr_node *x, int64_t Q, int64_t K, int64_t b, int64_t h, int64_t q, int64_t k)
{
    if (x->B == 1) b = 0;
    if (x->H == 1) h = 0;
    return x->ref[((b * x->H + h) * Q + q) * K + k];
}

static inline int xr_add(xr_pool *p, maskinfo_mask *m, uint8_t *ref, int64_t B, int64_t H)
{
    if (p->count == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->n = realloc(p->n, (size_t)p->cap * sizeof *p->n);
    }
    p->n[p->count++] = (xr_node){m, ref, B, H};
    return 1;
}

static inline uint8_t *xr_cells(int64_t B, int64_t H, int64_t Q, int64_t K)
{
    return calloc((size_t)(B * H * Q * K > 0 ? B * H * Q * K : 1), 1);
}

__extension__ typedef __int128 xr_i128;

/* The exact rules of the window and causal leaves, in 128 bits where
 * nothing saturates. */
static inline int xr_win(int64_t q, int64_t k, int64_t off, int64_t left, int64_t right)
{
    xr_i128 c = (xr_i128)q + off;
    return (xr_i128)k >= c - left && (xr_i128)k <= c + right;
}
static inline int xr_causal(int64_t q, int64_t k, int64_t off) { return (xr_i128)k <= (xr_i128)q + off; }

/* One random leaf of shape (B, 1 or H, Q + dq, K + dk) (with dq = dk = 0
 * it joins the pool); returns its mask and reference. */
static inline maskinfo_mask *xr_leaf(xr_src *r, int64_t B, int64_t H, int64_t Q, int64_t K,
                                     uint8_t **ref, int64_t *Hout)
{
    maskinfo_mask *m = NULL;
    int64_t off[4], lo[4], hi[4], Hl = 1;
    for (int64_t b = 0; b < B; b++) off[b] = xr_off(r, 0);
    uint8_t *c = NULL;
    int kind = (int)xr_pick(r, 8);
    if (kind == 0) {
        int v = (int)xr_pick(r, 2);
        Hl = xr_pick(r, 2) ? H : 1;
        if (maskinfo_mask_constant(&m, B, Hl, Q, K, v)) return NULL;
        c = xr_cells(B, Hl, Q, K);
        memset(c, v, (size_t)(B * Hl * Q * K));
    } else if (kind == 1) {
        if (maskinfo_mask_causal(&m, B, Q, K, off)) return NULL;
        c = xr_cells(B, 1, Q, K);
        for (int64_t b = 0; b < B; b++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++)
                    c[(b * Q + q) * K + k] = xr_causal(q, k, off[b]);
    } else if (kind == 2) {
        int64_t nh = xr_pick(r, 2) ? H : 1, L[4], R[4];
        for (int64_t i = 0; i < nh; i++) { L[i] = xr_off(r, 1); R[i] = xr_off(r, 1); }
        if (maskinfo_mask_window(&m, B, Q, K, nh, L, R, off)) return NULL;
        Hl = nh;
        c = xr_cells(B, nh, Q, K);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < nh; h++)
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++)
                        c[((b * nh + h) * Q + q) * K + k] = (uint8_t)xr_win(q, k, off[b], L[h], R[h]);
    } else if (kind == 3) {
        int64_t ch = 1 + xr_pick(r, 9);
        if (maskinfo_mask_chunked(&m, B, Q, K, ch, off)) return NULL;
        c = xr_cells(B, 1, Q, K);
        for (int64_t b = 0; b < B; b++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++)
                    c[(b * Q + q) * K + k] = q / ch == k / ch && xr_causal(q, k, off[b]);
    } else if (kind == 4) {
        for (int64_t b = 0; b < B; b++) { lo[b] = xr_pick(r, K + 4) - 2; hi[b] = xr_pick(r, K + 4) - 2; }
        if (maskinfo_mask_key_range(&m, B, Q, K, lo, hi)) return NULL;
        c = xr_cells(B, 1, Q, K);
        for (int64_t b = 0; b < B; b++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) c[(b * Q + q) * K + k] = k >= lo[b] && k < hi[b];
    } else if (kind == 5) {
        int64_t Hq = xr_pick(r, 2) ? H : 1, Hk = Hq == 1 && xr_pick(r, 2) ? H : 1;
        int64_t *qv = malloc((size_t)(B * Hq * Q + 1) * sizeof *qv), *kv = malloc((size_t)(B * Hk * K + 1) * sizeof *kv);
        for (int64_t i = 0; i < B * Hq * Q; i++) qv[i] = xr_pick(r, 5) ? xr_pick(r, 3) : MASKINFO_NOMATCH_Q;
        for (int64_t i = 0; i < B * Hk * K; i++) kv[i] = xr_pick(r, 5) ? xr_pick(r, 3) : MASKINFO_NOMATCH_KV;
        Hl = Hq > Hk ? Hq : Hk;
        int st = maskinfo_mask_segments(&m, B, Hq, Hk, Q, K, qv, kv);
        if (!st) {
            c = xr_cells(B, Hl, Q, K);
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < Hl; h++)
                    for (int64_t q = 0; q < Q; q++)
                        for (int64_t k = 0; k < K; k++) {
                            int64_t a = qv[(b * Hq + (Hq == 1 ? 0 : h)) * Q + q], z = kv[(b * Hk + (Hk == 1 ? 0 : h)) * K + k];
                            c[((b * Hl + h) * Q + q) * K + k] = a == z && a != MASKINFO_NOMATCH_Q && a != MASKINFO_NOMATCH_KV;
                        }
        }
        free(qv);
        free(kv);
        if (st) return NULL;
    } else if (kind == 6) {
        Hl = xr_pick(r, 2) ? H : 1;
        c = xr_cells(B, Hl, Q, K);
        int pct = (int)xr_pick(r, 101);
        for (int64_t i = 0; i < B * Hl * Q * K; i++) c[i] = xr_pick(r, 100) < pct;
        if (maskinfo_mask_from_bytes(&m, B, Hl, Q, K, c, NULL)) { free(c); return NULL; }
    } else {
        int64_t rows = B * H * Q, *offs = malloc((size_t)(rows + 1) * sizeof *offs), *iv = malloc((size_t)(rows * 6 + 2) * sizeof *iv);
        int64_t n = 0;
        c = xr_cells(B, H, Q, K);
        Hl = H;
        for (int64_t i = 0; i < rows; i++) {
            offs[i] = n;
            for (int64_t j = xr_pick(r, 4); j > 0; j--) {
                int64_t a = xr_pick(r, K + 3) - 1, z = a + xr_pick(r, K / 2 + 2);
                iv[2 * n] = a;
                iv[2 * n + 1] = z;
                n++;
                for (int64_t k = a < 0 ? 0 : a; k < z && k < K; k++) c[i * K + k] = 1;
            }
        }
        offs[rows] = n;
        int st = maskinfo_mask_from_intervals(&m, B, H, Q, K, offs, iv, NULL);
        free(offs);
        free(iv);
        if (st) { free(c); return NULL; }
    }
    *ref = c;
    *Hout = Hl;
    return m;
}

/* One random step: a leaf, an operator on earlier nodes (often the same
 * ones again: a DAG), a broadcast, a slice of a bigger leaf or stacked
 * heads.  0 when a constructor refused (never expected). */
static inline int xr_step(xr_src *r, xr_pool *p)
{
    int64_t B = p->B, H = p->H, Q = p->Q, K = p->K;
    int op = p->count < 2 ? 0 : (int)xr_pick(r, 9);
    uint8_t *c;
    maskinfo_mask *m = NULL;
    if (op == 0) {
        int64_t Hl;
        m = xr_leaf(r, B, H, Q, K, &c, &Hl);
        return m ? xr_add(p, m, c, B, Hl) : 0;
    }
    if (op <= 4) { /* and, or, andnot, not; sometimes a node with itself */
        xr_node *a = &p->n[xr_pick(r, p->count)];
        xr_node *b = &p->n[p->count - 1 - xr_pick(r, p->count < 4 ? p->count : 4)];
        if (xr_pick(r, 4) == 0) b = a;
        int64_t Hr = a->H > b->H ? a->H : b->H;
        int st = op == 1 ? maskinfo_mask_and(&m, a->m, b->m) : op == 2 ? maskinfo_mask_or(&m, a->m, b->m)
               : op == 3 ? maskinfo_mask_andnot(&m, a->m, b->m) : maskinfo_mask_not(&m, a->m);
        if (op == 4) Hr = a->H;
        if (st) return 0;
        c = xr_cells(B, Hr, Q, K);
        for (int64_t bb = 0; bb < B; bb++)
            for (int64_t h = 0; h < Hr; h++)
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++) {
                        int x = xr_cell(a, Q, K, bb, h, q, k), y = xr_cell(b, Q, K, bb, h, q, k);
                        c[((bb * Hr + h) * Q + q) * K + k] =
                            (uint8_t)(op == 1 ? x && y : op == 2 ? x || y : op == 3 ? x && !y : !x);
                    }
        return xr_add(p, m, c, B, Hr);
    }
    if (op == 5) { /* broadcast to (B, H) */
        xr_node *a = &p->n[xr_pick(r, p->count)];
        if (maskinfo_mask_broadcast(&m, a->m, B, H)) return 0;
        c = xr_cells(B, H, Q, K);
        for (int64_t bb = 0; bb < B; bb++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++) c[((bb * H + h) * Q + q) * K + k] = xr_cell(a, Q, K, bb, h, q, k);
        return xr_add(p, m, c, B, H);
    }
    if (op == 6) { /* a slice of a bigger leaf, or of a composite over it */
        int64_t dq = xr_pick(r, 4), dk = xr_pick(r, 70), Hl, qs[4], ks[4];
        uint8_t *big;
        maskinfo_mask *lm = xr_leaf(r, B, H, Q + dq, K + dk, &big, &Hl);
        if (!lm) return 0;
        for (int64_t bb = 0; bb < B; bb++) { qs[bb] = xr_pick(r, dq + 1); ks[bb] = xr_pick(r, dk + 1); }
        int st = maskinfo_mask_slice(&m, lm, qs, Q, ks, K);
        maskinfo_mask_unref(lm);
        if (st) { free(big); return 0; }
        c = xr_cells(B, Hl, Q, K);
        for (int64_t bb = 0; bb < B; bb++)
            for (int64_t h = 0; h < Hl; h++)
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++)
                        c[((bb * Hl + h) * Q + q) * K + k] = big[((bb * Hl + h) * (Q + dq) + q + qs[bb]) * (K + dk) + k + ks[bb]];
        free(big);
        return xr_add(p, m, c, B, Hl);
    }
    /* stacked heads from single-head nodes of the pool (or new leaves) */
    maskinfo_mask *parts[8];
    const xr_node *src[8];
    int64_t n = 0;
    for (int64_t i = 0; i < p->count && n < H; i++) {
        xr_node *x = &p->n[xr_pick(r, p->count)];
        if (x->H == 1 && x->B == B) src[n++] = x;
    }
    if (n < H) return 1; /* nothing to stack this time */
    for (int64_t i = 0; i < H; i++) parts[i] = src[i]->m;
    if (maskinfo_mask_stack_heads(&m, parts, H)) return 0;
    c = xr_cells(B, H, Q, K);
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) c[((bb * H + h) * Q + q) * K + k] = xr_cell(src[h], Q, K, bb, 0, q, k);
    return xr_add(p, m, c, B, H);
}

/* Release every node of the pool. */
static inline void xr_free(xr_pool *p)
{
    for (int64_t i = 0; i < p->count; i++) {
        maskinfo_mask_unref(p->n[i].m);
        free(p->n[i].ref);
    }
    free(p->n);
    p->n = NULL;
    p->count = p->cap = 0;
}

#endif
