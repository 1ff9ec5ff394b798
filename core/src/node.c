/*
 * node.c - the life cycle of a mask expression node: creation, reference
 * counting, shape and the memory it holds.  Each kind frees its own payload
 * (its drop function sits next to its constructor in leaves.c or ops.c).
 */
#include "node.h"

#include <string.h>

maskinfo_mask *maskinfo__node_new(mi_kind kind, void (*drop)(maskinfo_mask *),
                                  int64_t B, int64_t H, int64_t Q, int64_t K)
{
    maskinfo_mask *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->refs = 1;
    m->kind = kind;
    m->drop = drop;
    m->B = B;
    m->H = H;
    m->Q = Q;
    m->K = K;
    m->bytes = sizeof *m;
    return m;
}

int64_t *maskinfo__node_i64(maskinfo_mask *node, const int64_t *src, int64_t n)
{
    size_t sz = (size_t)(n > 0 ? n : 1) * sizeof(int64_t);
    int64_t *p = src ? malloc(sz) : calloc(1, sz);
    if (!p) return NULL;
    if (src && n > 0) memcpy(p, src, (size_t)n * sizeof(int64_t));
    node->bytes += sz;
    return p;
}

maskinfo_mask *maskinfo_mask_ref(maskinfo_mask *m)
{
    if (m) m->refs++;
    return m;
}

void maskinfo_mask_unref(maskinfo_mask *m)
{
    if (!m || --m->refs > 0) return;
    if (m->drop) m->drop(m);
    free(m);
}

void maskinfo_mask_shape(const maskinfo_mask *m, int64_t shape[4])
{
    shape[0] = m->B;
    shape[1] = m->H;
    shape[2] = m->Q;
    shape[3] = m->K;
}

int maskinfo_mask_is_dense(const maskinfo_mask *m)
{
    if (!m) return 0;
    if (m->kind == MI_DENSE) return 1;
    for (int64_t i = 0, n = mi_nkids(m); i < n; i++)
        if (maskinfo_mask_is_dense(mi_kid(m, i))) return 1;
    return 0;
}

uint64_t maskinfo_mask_bytes(const maskinfo_mask *m)
{
    if (!m) return 0;
    uint64_t t = m->bytes;
    for (int64_t i = 0, n = mi_nkids(m); i < n; i++) t += maskinfo_mask_bytes(mi_kid(m, i));
    return t;
}
