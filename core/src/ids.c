/*
 * ids.c - O(n) passes over segment ids (counts, cumulative lengths, valid
 * counts per row, chunk ids) and elementwise tests of an Array, so the Lua
 * layer never loops over elements.  Each is one streaming pass; only the
 * elementwise test is big enough (masks of Q x K cells) to use threads.
 */
#include "maskinfo.h"

#include <string.h>

#include "util.h"

int32_t maskinfo_ids_max(const int32_t *ids, int64_t n)
{
    int32_t mx = -1;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] > mx) mx = ids[i];
    return mx;
}

int32_t maskinfo_ids_min(const int32_t *ids, int64_t n)
{
    int32_t mn = INT32_MAX;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < mn) mn = ids[i];
    return mn;
}

void maskinfo_ids_replace(const int32_t *ids, int64_t n, int32_t from, int32_t to,
                          int32_t *out)
{
    for (int64_t i = 0; i < n; i++) out[i] = ids[i] == from ? to : ids[i];
}

void maskinfo_ids_cut(const int32_t *ids, int64_t B, int64_t inner, int64_t len,
                      const int64_t *len_of, int32_t *out)
{
    for (int64_t b = 0; b < B; b++) {
        int64_t keep = mi_max64(0, mi_min64(len_of[b], len));
        for (int64_t r = b * inner; r < (b + 1) * inner; r++) {
            const int32_t *row = ids + r * len;
            int32_t *o = out + r * len;
            if (o != row) memcpy(o, row, (size_t)keep * sizeof *o);
            for (int64_t k = keep; k < len; k++) o[k] = -1;
        }
    }
}

int maskinfo_ids_bincount(const int32_t *ids, int64_t n, int64_t nbins,
                          int32_t *counts, int64_t *bad)
{
    if (nbins < 0 || n < 0) return MASKINFO_EINVAL;
    if (nbins > 0) memset(counts, 0, (size_t)nbins * sizeof *counts);
    /* a run at a time: segment ids come in runs, and counting each element
     * into the same bin waits on the store before */
    for (int64_t i = 0; i < n;) {
        int32_t v = ids[i];
        int64_t e = i + 1;
        while (e < n && ids[e] == v) e++;
        if (v >= 0) {
            if (v >= nbins) {
                if (bad) *bad = v;
                return MASKINFO_EINVAL;
            }
            counts[v] += (int32_t)(e - i);
        }
        i = e;
    }
    return MASKINFO_OK;
}

int maskinfo_ids_cu_seqlens(const int32_t *ids, int64_t n, int64_t max_segments,
                            int32_t *cu, int64_t *bad)
{
    if (n > INT32_MAX) return MASKINFO_EOVERFLOW;
    int st = maskinfo_ids_bincount(ids, n, max_segments, cu + 1, bad);
    if (st) return st;
    cu[0] = 0;
    for (int64_t i = 1; i <= max_segments; i++) cu[i] += cu[i - 1];
    return MASKINFO_OK;
}

void maskinfo_ids_valid_per_row(const int32_t *ids, int64_t rows, int64_t len,
                                int32_t *out)
{
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *row = ids + r * len;
        int32_t c = 0;
        for (int64_t j = 0; j < len; j++) c += row[j] >= 0;
        out[r] = c;
    }
}

int maskinfo_ids_chunk(const int32_t *ids, int64_t rows, int64_t len,
                       int64_t chunk, int32_t *out)
{
    if (chunk < 1 || rows < 0 || len < 0) return MASKINFO_EINVAL;
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *row = ids + r * len;
        int32_t *o = out + r * len;
        /* walk the chunks instead of dividing per element */
        int32_t k = 1;
        for (int64_t j0 = 0; j0 < len; j0 += chunk, k++) {
            int64_t j1 = len - j0 < chunk ? len : j0 + chunk;
            for (int64_t j = j0; j < j1; j++) o[j] = row[j] < 0 ? -1 : k;
        }
    }
    return MASKINFO_OK;
}

static inline int pass(maskinfo_test test, double x, double c)
{
    switch (test) {
    case MASKINFO_TEST_NONZERO: return x != 0.0;
    case MASKINFO_TEST_EQ: return x == c;
    case MASKINFO_TEST_ABS_GE: return x >= c || x <= -c;
    }
    return 0;
}

/* elements per thread-team decision unit: a team pays off from ~4M cells */
#define WHERE_BLOCK 16384

/* one block [i0, i1) with the source type, test and output size fixed, so
 * each combination compiles to a branch-free loop */
#define WHERE_LOOP(ST, OT, TEST)                                              \
    do {                                                                      \
        const ST *s_ = (const ST *)src;                                       \
        OT *d_ = (OT *)dst, y_, n_;                                           \
        memcpy(&y_, yb, sizeof y_);                                           \
        memcpy(&n_, nb, sizeof n_);                                           \
        for (int64_t i = i0; i < i1; i++) {                                   \
            double x = (double)s_[i];                                         \
            d_[i] = pass(TEST, x, c) ? y_ : n_;                               \
        }                                                                     \
    } while (0)
#define WHERE_TESTS(ST, OT)                                                   \
    do {                                                                      \
        if (test == MASKINFO_TEST_NONZERO) WHERE_LOOP(ST, OT, MASKINFO_TEST_NONZERO); \
        else if (test == MASKINFO_TEST_EQ) WHERE_LOOP(ST, OT, MASKINFO_TEST_EQ); \
        else WHERE_LOOP(ST, OT, MASKINFO_TEST_ABS_GE);                        \
    } while (0)

static void where_block(const maskinfo_array *a, const void *src, maskinfo_dtype sd,
                        maskinfo_test test, double c, const unsigned char *yb,
                        const unsigned char *nb, size_t sz, unsigned char *dst,
                        int64_t i0, int64_t i1)
{
    int u8 = sd == MASKINFO_BOOL || sd == MASKINFO_UINT8;
    if (sz == 1 && u8) WHERE_TESTS(uint8_t, uint8_t);
    else if (sz == 4 && u8) WHERE_TESTS(uint8_t, uint32_t);
    else if (sz == 1 && sd == MASKINFO_INT32) WHERE_TESTS(int32_t, uint8_t);
    else if (sz == 4 && sd == MASKINFO_INT32) WHERE_TESTS(int32_t, uint32_t);
    else if (sz == 1 && sd == MASKINFO_FLOAT32) WHERE_TESTS(float, uint8_t);
    else if (sz == 4 && sd == MASKINFO_FLOAT32) WHERE_TESTS(float, uint32_t);
    else
        for (int64_t i = i0; i < i1; i++) /* halves, int64: through the double */
            memcpy(dst + (size_t)i * sz, pass(test, maskinfo_array_get(a, i), c) ? yb : nb, sz);
}

int maskinfo_array_where(const maskinfo_array *a, maskinfo_test test, double c,
                         double yes, double no, maskinfo_dtype dt,
                         maskinfo_array **out, const maskinfo_limits *lim)
{
    if (!a || !out || (unsigned)test > MASKINFO_TEST_ABS_GE) return MASKINFO_EINVAL;
    maskinfo_array *r;
    int st = maskinfo_array_new(&r, dt, maskinfo_array_ndim(a), maskinfo_array_shape(a), lim);
    if (st) return st;
    int64_t n = maskinfo_array_size(a);
    if (n == 0) {
        *out = r;
        return MASKINFO_OK;
    }
    /* the stored bytes of yes and no, converted once as maskinfo_array_set does */
    size_t sz = maskinfo_dtype_size(dt);
    unsigned char yb[8], nb[8];
    maskinfo_array_set(r, 0, yes);
    memcpy(yb, maskinfo_array_cdata(r), sz);
    maskinfo_array_set(r, 0, no);
    memcpy(nb, maskinfo_array_cdata(r), sz);
    maskinfo_dtype sd = maskinfo_array_dtype(a);
    const void *src = maskinfo_array_cdata(a);
    unsigned char *dst = maskinfo_array_data(r);
    int nt = mi_max_threads(n / WHERE_BLOCK);
    int64_t nblk = mi_ceil_div(n, WHERE_BLOCK);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t blk = 0; blk < nblk; blk++)
        where_block(a, src, sd, test, c, yb, nb, sz, dst, blk * WHERE_BLOCK,
                    mi_min64(n, (blk + 1) * WHERE_BLOCK));
    *out = r;
    return MASKINFO_OK;
}
