/*
 * ops.c - mask-shaping rules and the mask algebra.
 *
 * Every constructor here makes a small node: a rule leaf holds O(B + H)
 * parameters, a composite holds references to its children.  Nothing is
 * evaluated until a row is asked for (representation.c).
 */
#include "internal.h"

#include <stdlib.h>

static int rule_dims(int64_t B, int64_t Q, int64_t K) {
    if (B < 0 || Q < 0 || K < 0) return MASKINFO_EINVAL;
    if (maskinfo__mul(maskinfo__mul(B, Q), K) < 0) return MASKINFO_EOVERFLOW;
    return MASKINFO_OK;
}

/* A rule leaf with per-batch offsets copied in (NULL offsets are zeros). */
static int rule_new(maskinfo_mask **out, mi_kind kind, int64_t B, int64_t H,
                    int64_t Q, int64_t K, const int64_t *off) {
    int st = rule_dims(B, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(kind, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->off = maskinfo__node_i64(m, off, B);
    if (!m->off) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_causal(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                         const int64_t *off) {
    return rule_new(out, MI_CAUSAL, B, 1, Q, K, off);
}

int maskinfo_mask_window(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                         int64_t nh, const int64_t *left, const int64_t *right,
                         const int64_t *off) {
    if (nh < 1 || !left || !right) return MASKINFO_EINVAL;
    for (int64_t i = 0; i < nh; i++)
        if (left[i] < 0 || right[i] < 0) return MASKINFO_EINVAL;
    maskinfo_mask *m;
    int st = rule_new(&m, MI_WINDOW, B, nh, Q, K, off);
    if (st) return st;
    m->nh = nh;
    m->left = maskinfo__node_i64(m, left, nh);
    m->right = maskinfo__node_i64(m, right, nh);
    if (!m->left || !m->right) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_chunked(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                          int64_t chunk, const int64_t *off) {
    if (chunk <= 0) return MASKINFO_EINVAL;
    maskinfo_mask *m;
    int st = rule_new(&m, MI_CHUNK, B, 1, Q, K, off);
    if (st) return st;
    m->chunk = chunk;
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_key_range(maskinfo_mask **out, int64_t B, int64_t Q,
                            int64_t K, const int64_t *lo, const int64_t *hi) {
    if (!hi) return MASKINFO_EINVAL;
    int st = rule_dims(B, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_KRANGE, B, 1, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->lo = maskinfo__node_i64(m, lo, B);
    m->hi = maskinfo__node_i64(m, hi, B);
    if (!m->lo || !m->hi) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    *out = m;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ algebra */

/* B may broadcast from 1 too: rule leaves are often built for one batch. */
static int binary(maskinfo_mask **out, mi_kind kind, maskinfo_mask *a,
                  maskinfo_mask *b) {
    if (!a || !b) return MASKINFO_EINVAL;
    if (a->Q != b->Q || a->K != b->K) return MASKINFO_ESHAPE;
    if (a->B != b->B && a->B != 1 && b->B != 1) return MASKINFO_ESHAPE;
    if (a->H != b->H && a->H != 1 && b->H != 1) return MASKINFO_ESHAPE;
    int64_t B = a->B > b->B ? a->B : b->B, H = a->H > b->H ? a->H : b->H;
    if (a->B == 0 || b->B == 0) B = 0;
    maskinfo_mask *m = maskinfo__node_new(kind, B, H, a->Q, a->K);
    if (!m) return MASKINFO_ENOMEM;
    m->a = maskinfo_mask_ref(a);
    m->b = maskinfo_mask_ref(b);
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_and(maskinfo_mask **out, maskinfo_mask *a, maskinfo_mask *b) {
    return binary(out, MI_AND, a, b);
}

int maskinfo_mask_or(maskinfo_mask **out, maskinfo_mask *a, maskinfo_mask *b) {
    return binary(out, MI_OR, a, b);
}

int maskinfo_mask_andnot(maskinfo_mask **out, maskinfo_mask *a,
                         maskinfo_mask *b) {
    return binary(out, MI_ANDNOT, a, b);
}

int maskinfo_mask_not(maskinfo_mask **out, maskinfo_mask *a) {
    if (!a) return MASKINFO_EINVAL;
    maskinfo_mask *m = maskinfo__node_new(MI_NOT, a->B, a->H, a->Q, a->K);
    if (!m) return MASKINFO_ENOMEM;
    m->a = maskinfo_mask_ref(a);
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_stack_heads(maskinfo_mask **out, maskinfo_mask **parts,
                              int64_t n) {
    if (n < 1 || !parts) return MASKINFO_EINVAL;
    for (int64_t i = 0; i < n; i++) {
        if (!parts[i] || parts[i]->H != 1) return MASKINFO_ESHAPE;
        if (parts[i]->B != parts[0]->B || parts[i]->Q != parts[0]->Q ||
            parts[i]->K != parts[0]->K)
            return MASKINFO_ESHAPE;
    }
    maskinfo_mask *m = maskinfo__node_new(MI_STACK, parts[0]->B, n, parts[0]->Q, parts[0]->K);
    if (!m) return MASKINFO_ENOMEM;
    m->parts = calloc((size_t)n, sizeof *m->parts);
    if (!m->parts) {
        free(m);
        return MASKINFO_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) m->parts[i] = maskinfo_mask_ref(parts[i]);
    m->bytes += (uint64_t)n * sizeof *m->parts;
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_broadcast(maskinfo_mask **out, maskinfo_mask *a, int64_t B,
                            int64_t H) {
    if (!a) return MASKINFO_EINVAL;
    if ((a->B != B && a->B != 1) || (a->H != H && a->H != 1) || H < 1 || B < 0)
        return MASKINFO_ESHAPE;
    if (maskinfo__mul(maskinfo__mul(maskinfo__mul(B, H), a->Q), a->K) < 0) return MASKINFO_EOVERFLOW;
    if (a->B == B && a->H == H) {
        *out = maskinfo_mask_ref(a);
        return MASKINFO_OK;
    }
    maskinfo_mask *m = maskinfo__node_new(MI_BCAST, B, H, a->Q, a->K);
    if (!m) return MASKINFO_ENOMEM;
    m->a = maskinfo_mask_ref(a);
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_slice(maskinfo_mask **out, maskinfo_mask *a,
                        const int64_t *qstart, int64_t newQ,
                        const int64_t *kstart, int64_t newK) {
    if (!a) return MASKINFO_EINVAL;
    if (newQ < 0 || newQ > a->Q || newK < 0 || newK > a->K) return MASKINFO_EINVAL;
    for (int64_t b = 0; b < a->B; b++) {
        int64_t qs = qstart ? qstart[b] : 0, ks = kstart ? kstart[b] : 0;
        if (qs < 0 || qs > a->Q - newQ || ks < 0 || ks > a->K - newK)
            return MASKINFO_EINVAL;
    }
    maskinfo_mask *m = maskinfo__node_new(MI_SLICE, a->B, a->H, newQ, newK);
    if (!m) return MASKINFO_ENOMEM;
    m->qstart = maskinfo__node_i64(m, qstart, a->B);
    m->kstart = maskinfo__node_i64(m, kstart, a->B);
    if (!m->qstart || !m->kstart) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    m->a = maskinfo_mask_ref(a);
    *out = m;
    return MASKINFO_OK;
}
