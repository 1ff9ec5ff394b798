/*
 * leaf_dense.c - the dense-bit leaf: a mask stored as one bit per cell,
 * 64 cells to a word, built from bytes, from an Array of any dtype, or at
 * random.  Its rows are evaluated in eval.c and eval_bits.c.
 */
#include "node.h"

static void dense_drop(maskinfo_mask *m) { free(m->u.dense.bits); }

static int dense_alloc(maskinfo_mask **out, int64_t B, int64_t H, int64_t Q,
                       int64_t K, const maskinfo_limits *lim) {
    int st = maskinfo__check_dims(B, H, Q, K);
    if (st) return st;
    int64_t words = K / 64 + (K % 64 != 0);
    int64_t rows = B * H * Q;
    int64_t n = maskinfo__mul(rows, words);
    if (n < 0) return MASKINFO_EOVERFLOW;
    st = maskinfo_check_alloc(lim, (uint64_t)n, 8);
    /* rows cost even without cells (see MASKINFO_ROW_BYTES) */
    int64_t walked = maskinfo__mul(maskinfo__mul(B ? B : 1, H), Q ? Q : 1);
    if (!st) st = walked < 0 ? MASKINFO_EOVERFLOW : maskinfo_check_alloc(lim, (uint64_t)walked, MASKINFO_ROW_BYTES);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_DENSE, dense_drop, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.dense.words = words;
    m->u.dense.hd = H;
    m->u.dense.bits = calloc((size_t)(n > 0 ? n : 1), sizeof(uint64_t));
    if (!m->u.dense.bits) {
        free(m);
        return MASKINFO_ENOMEM;
    }
    m->bytes += (uint64_t)n * 8;
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_from_bytes(maskinfo_mask **out, int64_t B, int64_t H,
                             int64_t Q, int64_t K, const uint8_t *cells,
                             const maskinfo_limits *lim) {
    maskinfo_mask *m;
    int st = dense_alloc(&m, B, H, Q, K, lim);
    if (st) return st;
    int64_t rows = B * H * Q;
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *w = m->u.dense.bits + r * m->u.dense.words;
        const uint8_t *c = cells + r * K;
        for (int64_t k = 0; k < K; k++)
            if (c[k]) w[k >> 6] |= (uint64_t)1 << (k & 63);
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_from_array(maskinfo_mask **out, const maskinfo_array *a,
                             const maskinfo_limits *lim) {
    if (maskinfo_array_ndim(a) != 4) return MASKINFO_ESHAPE;
    const int64_t *s = maskinfo_array_shape(a);
    maskinfo_mask *m;
    int st = dense_alloc(&m, s[0], s[1], s[2], s[3], lim);
    if (st) return st;
    int64_t rows = s[0] * s[1] * s[2], K = s[3];
    if (maskinfo_array_dtype(a) == MASKINFO_BOOL) {
        const uint8_t *c = maskinfo_array_cdata(a);
#pragma omp parallel for schedule(static) if (rows * K > 65536)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < K; k++)
                if (c[r * K + k])
                    m->u.dense.bits[r * m->u.dense.words + (k >> 6)] |= (uint64_t)1 << (k & 63);
    } else {
#pragma omp parallel for schedule(static) if (rows * K > 65536)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < K; k++)
                if (maskinfo_array_get(a, r * K + k) != 0.0)
                    m->u.dense.bits[r * m->u.dense.words + (k >> 6)] |= (uint64_t)1 << (k & 63);
    }
    *out = m;
    return MASKINFO_OK;
}

/* A counter-based generator: the value of a cell depends only on the seed
 * and the cell index, so any thread count gives the same mask. */

int maskinfo_mask_random(maskinfo_mask **out, int64_t B, int64_t H, int64_t Q,
                         int64_t K, double p, uint64_t seed,
                         const maskinfo_limits *lim) {
    if (!(p >= 0.0 && p <= 1.0)) return MASKINFO_EINVAL;
    maskinfo_mask *m;
    int st = dense_alloc(&m, B, H, Q, K, lim);
    if (st) return st;
    int64_t rows = B * H * Q;
    /* threshold on 53-bit uniforms; p == 1 sets every cell */
    uint64_t thr = (uint64_t)(p * 9007199254740992.0);
    uint64_t base = maskinfo__splitmix64(seed ^ 0x6D61736B696E666FULL);
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *w = m->u.dense.bits + r * m->u.dense.words;
        for (int64_t k = 0; k < K; k++) {
            uint64_t u = maskinfo__splitmix64(base + (uint64_t)(r * K + k)) >> 11;
            if (p >= 1.0 || u < thr) w[k >> 6] |= (uint64_t)1 << (k & 63);
        }
    }
    *out = m;
    return MASKINFO_OK;
}

