/*
 * leaf_dense.c - the dense-bit leaf: a mask stored as one bit per cell,
 * 64 cells to a word, built from bytes, from an Array of any dtype, or at
 * random, and the row and column hashes of its planes that segment ids
 * number (conversions.c).  Its rows are evaluated in eval.c and
 * eval_bits.c.
 */
#include "node.h"
#include "leaf_dense.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static void dense_drop(maskinfo_mask *m) { free(m->u.dense.bits); }

int maskinfo__is_dense_leaf(const maskinfo_mask *m) { return m != NULL && m->kind == MI_DENSE; }

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

#if defined(__SSE2__)
/* 64 cells (bytes) to 64 bits, byte i to bit i, any non-zero byte set:
 * four 16-byte compares with zero (SSE2 is baseline on x86-64). */
static inline uint64_t pack64(const uint8_t *c) {
    const __m128i zero = _mm_setzero_si128();
    uint64_t v = 0;
    for (int i = 0; i < 4; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(c + 16 * i));
        unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero));
        v |= (uint64_t)(~z & 0xFFFFu) << (16 * i);
    }
    return v;
}
#else
/* 8 cells (bytes) to 8 bits, byte i to bit i, any non-zero byte set: the
 * high bit of each byte becomes "non-zero" and one multiply gathers them. */
static inline uint64_t pack8(const uint8_t *c) {
    uint64_t x;
    memcpy(&x, c, 8); /* an unaligned load */
    uint64_t t = (((x & UINT64_C(0x7F7F7F7F7F7F7F7F)) + UINT64_C(0x7F7F7F7F7F7F7F7F)) | x) &
                 UINT64_C(0x8080808080808080);
    return ((t >> 7) * UINT64_C(0x0102040810204080)) >> 56;
}

static inline uint64_t pack64(const uint8_t *c) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= pack8(c + 8 * i) << (8 * i);
    return v;
}
#endif

/* One row of K byte cells into bits; flip inverts every cell (the pad bits
 * past K stay clear). */
static void pack_row(uint64_t *w, const uint8_t *c, int64_t K, uint64_t flip) {
    int64_t full = K / 64;
    for (int64_t j = 0; j < full; j++) w[j] = pack64(c + j * 64) ^ flip;
    if (K % 64) {
        uint64_t v = 0;
        for (int64_t k = full * 64; k < K; k++)
            if (c[k]) v |= (uint64_t)1 << (k & 63);
        w[full] = (v ^ flip) & ((UINT64_C(1) << (K % 64)) - 1);
    }
}

/* Cells of any width: non-zero (NaN included) is allowed, as
 * maskinfo_array_get reads them; bool and uint8 take the byte path. */
static void pack_array_row(uint64_t *w, const maskinfo_array *a, int64_t base,
                           int64_t K, uint64_t flip) {
    for (int64_t j = 0; j * 64 < K; j++) {
        uint64_t v = 0;
        int64_t n = K - j * 64 < 64 ? K - j * 64 : 64;
        for (int64_t i = 0; i < n; i++)
            if (maskinfo_array_get(a, base + j * 64 + i) != 0.0) v |= (uint64_t)1 << i;
        w[j] = (v ^ flip) & (n == 64 ? ~UINT64_C(0) : (UINT64_C(1) << n) - 1);
    }
}

int maskinfo_mask_from_bytes(maskinfo_mask **out, int64_t B, int64_t H,
                             int64_t Q, int64_t K, const uint8_t *cells,
                             const maskinfo_limits *lim) {
    maskinfo_mask *m;
    int st = dense_alloc(&m, B, H, Q, K, lim);
    if (st) return st;
    int64_t rows = B * H * Q;
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (int64_t r = 0; r < rows; r++)
        pack_row(m->u.dense.bits + r * m->u.dense.words, cells + r * K, K, 0);
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_from_array_as(maskinfo_mask **out, const maskinfo_array *a,
                                const int64_t shape[4], int invert,
                                const maskinfo_limits *lim) {
    if (a == NULL || shape == NULL) return MASKINFO_EINVAL;
    int64_t n = maskinfo__mul(maskinfo__mul(shape[0], shape[1]), maskinfo__mul(shape[2], shape[3]));
    if (shape[0] < 0 || shape[1] < 0 || shape[2] < 0 || shape[3] < 0 || n != maskinfo_array_size(a))
        return MASKINFO_ESHAPE;
    maskinfo_mask *m;
    int st = dense_alloc(&m, shape[0], shape[1], shape[2], shape[3], lim);
    if (st) return st;
    int64_t rows = shape[0] * shape[1] * shape[2], K = shape[3], words = m->u.dense.words;
    uint64_t flip = invert ? ~UINT64_C(0) : 0;
    maskinfo_dtype dt = maskinfo_array_dtype(a);
    const uint8_t *c = maskinfo_array_cdata(a);
    int bytes = dt == MASKINFO_BOOL || dt == MASKINFO_UINT8;
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (int64_t r = 0; r < rows; r++) {
        if (bytes)
            pack_row(m->u.dense.bits + r * words, c + r * K, K, flip);
        else
            pack_array_row(m->u.dense.bits + r * words, a, r * K, K, flip);
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_from_array(maskinfo_mask **out, const maskinfo_array *a,
                             const maskinfo_limits *lim) {
    if (maskinfo_array_ndim(a) != 4) return MASKINFO_ESHAPE;
    return maskinfo_mask_from_array_as(out, a, maskinfo_array_shape(a), 0, lim);
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


/* ------------------------------------------------ hashing a dense plane */

/* Transpose a 64x64 bit tile in place: bit j of a[i] becomes bit i of a[j]
 * (Hacker's Delight 7-3, six rounds of block swaps). */
static void transpose64(uint64_t a[64]) {
    uint64_t m = UINT64_C(0x00000000FFFFFFFF);
    for (int j = 32; j; j >>= 1, m ^= m << j)
        for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
            uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
            a[k] ^= t << j;
            a[k | j] ^= t;
        }
}

/* The pseudo-random value of word w at position j of a row (or column) in
 * family key: a keyed splitmix64 finalizer, so sums of them behave like sums
 * of random 64-bit values. */
static inline uint64_t word_hash(uint64_t w, uint64_t key) {
    return maskinfo__splitmix64(w ^ key);
}

/*
 * Row and column keys of plane (b, h) of a dense leaf for segment ids
 * (conversions.c numbers them by first appearance; only which rows are equal
 * matters, so any collision-free key gives the same ids).  A row's key is
 * (sum_j H1(j, word_j), sum_j H2(j, word_j), or of its words) mod 2^64: two
 * different rows differ in some word, and both sums then agree with
 * probability about 2^-128 (the argument of the interval hashes in
 * conversions.c, with words as symbols).  Columns are keyed the same way by
 * 64-row slices, read from 64x64 tiles transposed in place.  The sums are
 * order independent, so any thread count gives the same keys.  rh1, rh2, rc get Q
 * entries; ch1, ch2, cc (if ch1) K; kw and qw hold the per-position keys, two
 * families each (words entries of kw, (Q + 63) / 64 of qw).
 */
int maskinfo__dense_plane_hashes(const maskinfo_mask *m, int64_t b, int64_t h,
                                 const uint64_t *kw1, const uint64_t *kw2,
                                 const uint64_t *qw1, const uint64_t *qw2,
                                 uint64_t *rh1, uint64_t *rh2, uint64_t *rc,
                                 uint64_t *ch1, uint64_t *ch2, uint64_t *cc,
                                 int nthreads, const maskinfo_limits *lim) {
    const int64_t Q = m->Q, K = m->K, words = m->u.dense.words;
    const uint64_t *bits = m->u.dense.bits + (b * m->u.dense.hd + (m->u.dense.hd == 1 ? 0 : h)) * Q * words;
    const int T = nthreads, want_kv = ch1 != NULL;
    const int64_t KW = words * 64; /* columns padded to whole tiles */
    int st = MASKINFO_OK;
    uint64_t *acc = want_kv ? mi_alloc(lim, (int64_t)T * 3, (size_t)(KW > 0 ? KW : 1) * sizeof *acc, 1, &st) : NULL;
    if (st) return st;
    const int64_t groups = (Q + 63) / 64;
#pragma omp parallel num_threads(T)
    {
        const int tid = mi_thread_id();
        uint64_t *a1 = want_kv ? acc + (size_t)tid * 3 * (size_t)KW : NULL;
        uint64_t *a2 = a1 ? a1 + KW : NULL, *ao = a2 ? a2 + KW : NULL;
        uint64_t tile[64];
#pragma omp for schedule(static)
        for (int64_t g = 0; g < groups; g++) {
            const int64_t q0 = g * 64, nq = Q - q0 < 64 ? Q - q0 : 64;
            for (int64_t i = 0; i < nq; i++) {
                const uint64_t *row = bits + (q0 + i) * words;
                uint64_t s1 = 0, s2 = 0, o = 0;
                for (int64_t c = 0; c < words; c++) {
                    s1 += word_hash(row[c], kw1[c]);
                    s2 += word_hash(row[c], kw2[c]);
                    o |= row[c];
                }
                rh1[q0 + i] = s1;
                rh2[q0 + i] = s2;
                rc[q0 + i] = o;
            }
            for (int64_t c = 0; want_kv && c < words; c++) {
                uint64_t any = 0;
                for (int64_t i = 0; i < 64; i++) {
                    tile[i] = i < nq ? bits[(q0 + i) * words + c] : 0;
                    any |= tile[i];
                }
                if (any) transpose64(tile);
                for (int j = 0; j < 64; j++) { /* all-zero slices count too */
                    a1[c * 64 + j] += word_hash(any ? tile[j] : 0, qw1[g]);
                    a2[c * 64 + j] += word_hash(any ? tile[j] : 0, qw2[g]);
                    ao[c * 64 + j] |= any ? tile[j] : 0;
                }
            }
        }
    }
    for (int64_t k = 0; want_kv && k < K; k++) {
        uint64_t s1 = 0, s2 = 0, o = 0;
        for (int t = 0; t < T; t++) {
            const uint64_t *p = acc + (size_t)t * 3 * (size_t)KW;
            s1 += p[k];
            s2 += p[KW + k];
            o |= p[2 * KW + k];
        }
        ch1[k] = s1;
        ch2[k] = s2;
        cc[k] = o;
    }
    free(acc);
    return MASKINFO_OK;
}
