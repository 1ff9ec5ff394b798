/*
 * ops.c - the composites of the mask algebra: and, or, not, andnot, stacked
 * heads, broadcast and slice views.
 *
 * A composite holds references to its children (and a slice its per-batch
 * starts); nothing is evaluated until a row is asked for (eval.c).  Each
 * kind's drop function sits next to its constructor and frees only its
 * own payload: node.c releases the children without recursion.
 *
 * Idempotent forms are simplified as they are built (a & a and a | a are
 * a, ~~a is a): the values are the same, and a loop such as m = m | m
 * then stays one node instead of doubling a chain.
 */
#include "node.h"

static void stack_drop(maskinfo_mask *m) { free(m->u.stack.parts); }

static void slice_drop(maskinfo_mask *m) {
    free(m->u.slice.qstart);
    free(m->u.slice.kstart);
}

/* B may broadcast from 1 too: rule leaves are often built for one batch. */
static int binary(maskinfo_mask **out, mi_kind kind, maskinfo_mask *a,
                  maskinfo_mask *b) {
    if (!a || !b) return MASKINFO_EINVAL;
    if (a->Q != b->Q || a->K != b->K) return MASKINFO_ESHAPE;
    if (a->B != b->B && a->B != 1 && b->B != 1) return MASKINFO_ESHAPE;
    if (a->H != b->H && a->H != 1 && b->H != 1) return MASKINFO_ESHAPE;
    if (a == b && kind != MI_ANDNOT) { /* a & a = a | a = a */
        *out = maskinfo_mask_ref(a);
        return MASKINFO_OK;
    }
    int64_t B = a->B > b->B ? a->B : b->B, H = a->H > b->H ? a->H : b->H;
    if (a->B == 0 || b->B == 0) B = 0;
    maskinfo_mask *m = maskinfo__node_new(kind, NULL, B, H, a->Q, a->K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.bin.a = maskinfo_mask_ref(a);
    m->u.bin.b = maskinfo_mask_ref(b);
    maskinfo__node_adopt(m);
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
    if (a->kind == MI_NOT) { /* ~~a = a, with a's shape */
        *out = maskinfo_mask_ref(a->u.un.a);
        return MASKINFO_OK;
    }
    maskinfo_mask *m = maskinfo__node_new(MI_NOT, NULL, a->B, a->H, a->Q, a->K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.un.a = maskinfo_mask_ref(a);
    maskinfo__node_adopt(m);
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
    maskinfo_mask *m = maskinfo__node_new(MI_STACK, stack_drop, parts[0]->B, n, parts[0]->Q, parts[0]->K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.stack.parts = calloc((size_t)n, sizeof *m->u.stack.parts);
    if (!m->u.stack.parts) {
        free(m);
        return MASKINFO_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) m->u.stack.parts[i] = maskinfo_mask_ref(parts[i]);
    m->bytes += (uint64_t)n * sizeof *m->u.stack.parts;
    maskinfo__node_adopt(m);
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
    maskinfo_mask *m = maskinfo__node_new(MI_BCAST, NULL, B, H, a->Q, a->K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.un.a = maskinfo_mask_ref(a);
    maskinfo__node_adopt(m);
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
    maskinfo_mask *m = maskinfo__node_new(MI_SLICE, slice_drop, a->B, a->H, newQ, newK);
    if (!m) return MASKINFO_ENOMEM;
    m->u.slice.qstart = maskinfo__node_i64(m, qstart, a->B);
    m->u.slice.kstart = maskinfo__node_i64(m, kstart, a->B);
    if (!m->u.slice.qstart || !m->u.slice.kstart) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    m->u.slice.a = maskinfo_mask_ref(a);
    maskinfo__node_adopt(m);
    *out = m;
    return MASKINFO_OK;
}
