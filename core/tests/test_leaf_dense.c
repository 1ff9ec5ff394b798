/* test_leaf_dense.c - the dense leaf's fast paths against brute force:
 * packing cells of every dtype (read in place, plain and inverted) and
 * segment ids hashed from the bits against the interval path. */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#define TEST_RNG_SEED 0x5eed0fdea5e1eaf5ull
#include "rng.h"

static const maskinfo_dtype all_dtypes[] = {
    MASKINFO_BOOL, MASKINFO_INT32, MASKINFO_FLOAT32, MASKINFO_FLOAT16,
    MASKINFO_BFLOAT16, MASKINFO_INT64, MASKINFO_UINT8,
};
#define N_DTYPES ((int)(sizeof all_dtypes / sizeof all_dtypes[0]))

/* Random values: zero with probability about 1 - p/10, else a small value
 * that is non-zero in every dtype; bytes of bool and uint8 arrays are any
 * non-zero byte, which counts as allowed too. */
static void fill_random(maskinfo_array *a, int p)
{
    int64_t n = maskinfo_array_size(a);
    maskinfo_dtype dt = maskinfo_array_dtype(a);
    for (int64_t i = 0; i < n; i++) {
        int on = (int)rndi(10) < p;
        if (dt == MASKINFO_BOOL || dt == MASKINFO_UINT8)
            ((uint8_t *)maskinfo_array_data(a))[i] = on ? (uint8_t)(1 + rndi(255)) : 0;
        else
            maskinfo_array_set(a, i, on ? (rndi(2) ? -1.0 : 1.0) * (double)(1 + rndi(5)) : 0.0);
    }
}

/* Every cell of m agrees with a's cell (non-zero allowed), flipped if inv. */
static int cells_agree(const maskinfo_mask *m, const maskinfo_array *a, int inv)
{
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    int64_t i = 0;
    for (int64_t b = 0; b < s[0]; b++)
        for (int64_t h = 0; h < s[1]; h++)
            for (int64_t q = 0; q < s[2]; q++)
                for (int64_t k = 0; k < s[3]; k++, i++) {
                    int v = -1;
                    if (maskinfo_mask_get(m, b, h, q, k, &v) != MASKINFO_OK)
                        return 0;
                    if (v != ((maskinfo_array_get(a, i) != 0.0) ^ inv))
                        return 0;
                }
    return 1;
}

/* Rows past K hold no stray bits: the count is the number of allowed cells. */
static int64_t cells_on(const maskinfo_array *a, int inv)
{
    int64_t n = 0;
    for (int64_t i = 0; i < maskinfo_array_size(a); i++)
        n += (maskinfo_array_get(a, i) != 0.0) ^ inv;
    return n;
}

static void test_pack_every_dtype(void)
{
    static const int64_t Ks[] = { 1, 7, 8, 63, 64, 65, 127, 130, 200 };
    for (int d = 0; d < N_DTYPES; d++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
            const int64_t K = Ks[ki], Q = 1 + rndi(9), B = 1 + rndi(2), H = 1 + rndi(2);
            const int64_t shape[4] = { B, H, Q, K };
            /* any rank holding the cells is read as the given 4-D shape */
            const int64_t flat[2] = { B * H, Q * K };
            maskinfo_array *a = NULL;
            CHECK(maskinfo_array_new(&a, all_dtypes[d], 2, flat, NULL) == MASKINFO_OK);
            fill_random(a, 1 + (int)rndi(9));
            for (int inv = 0; inv < 2; inv++) {
                maskinfo_mask *m = NULL;
                CHECK(maskinfo_mask_from_array_as(&m, a, shape, inv, NULL) == MASKINFO_OK);
                CHECKF(m && cells_agree(m, a, inv), "dtype %s K=%lld inv=%d",
                       maskinfo_dtype_name(all_dtypes[d]), (long long)K, inv);
                uint64_t cnt = UINT64_MAX;
                CHECK(m && maskinfo_mask_count(m, &cnt, NULL, NULL) == MASKINFO_OK &&
                      cnt == (uint64_t)cells_on(a, inv));
                maskinfo_mask_unref(m);
            }
            if (all_dtypes[d] == MASKINFO_BOOL || all_dtypes[d] == MASKINFO_UINT8) {
                maskinfo_mask *m = NULL;
                CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, maskinfo_array_cdata(a), NULL) == MASKINFO_OK);
                CHECK(m && cells_agree(m, a, 0));
                maskinfo_mask_unref(m);
            }
            maskinfo_array_free(a);
        }
}

static void test_from_array_as_errors(void)
{
    const int64_t s2[2] = { 3, 4 };
    maskinfo_array *a = NULL;
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 2, s2, NULL) == MASKINFO_OK);
    maskinfo_mask *m = NULL;
    const int64_t bad[4] = { 1, 1, 3, 5 }, neg[4] = { -1, 1, -3, 4 }, ok[4] = { 1, 1, 3, 4 };
    CHECK(maskinfo_mask_from_array_as(&m, a, bad, 0, NULL) == MASKINFO_ESHAPE && m == NULL);
    CHECK(maskinfo_mask_from_array_as(&m, a, neg, 0, NULL) == MASKINFO_ESHAPE && m == NULL);
    CHECK(maskinfo_mask_from_array_as(&m, NULL, ok, 0, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_from_array_as(&m, a, NULL, 0, NULL) == MASKINFO_EINVAL);
    /* the guard sees the bit-packed leaf */
    maskinfo_limits tight = { .max_bytes = 8 };
    CHECK(maskinfo_mask_from_array_as(&m, a, ok, 0, &tight) == MASKINFO_ETOOBIG && m == NULL);
    /* a 4-D array keeps going through maskinfo_mask_from_array */
    const int64_t s4[4] = { 1, 1, 3, 4 };
    CHECK(maskinfo_array_reshape(a, 4, s4) == MASKINFO_OK);
    CHECK(maskinfo_mask_from_array(&m, a, NULL) == MASKINFO_OK);
    CHECK(m && cells_agree(m, a, 0));
    maskinfo_mask_unref(m);
    maskinfo_array_free(a);
}

/* Rows picked from a small palette (duplicates common), some empty, some
 * random; then a random set of columns cleared, so columns repeat too. */
static void palette_cells(uint8_t *c, int64_t rows, int64_t K)
{
    enum { NP = 5 };
    uint8_t *pal = malloc((size_t)(NP * K));
    int dens = 1 + (int)rndi(9);
    for (int64_t i = 0; i < NP * K; i++) pal[i] = (uint8_t)((int)rndi(10) < dens);
    for (int64_t r = 0; r < rows; r++) {
        int64_t pick = rndi(NP + 2);
        for (int64_t k = 0; k < K; k++)
            c[r * K + k] = pick < NP ? pal[pick * K + k] : pick == NP ? 0 : (uint8_t)rndi(2);
    }
    for (int64_t k = 0; k < K; k++)
        if (rndi(4) == 0)
            for (int64_t r = 0; r < rows; r++) c[r * K + k] = 0;
    free(pal);
}

/* Segment ids of the dense leaf (bit hashing) against the same cells seen
 * through an and-node (the interval path, which the C tests of
 * conversions check against pairwise comparison). */
static int ids_match(int64_t B, int64_t H, int64_t Q, int64_t K, const uint8_t *cells)
{
    maskinfo_mask *d = NULL, *ones = NULL, *slow = NULL;
    int ok = maskinfo_mask_from_bytes(&d, B, H, Q, K, cells, NULL) == MASKINFO_OK &&
             maskinfo_mask_constant(&ones, B, H, Q, K, 1) == MASKINFO_OK &&
             maskinfo_mask_and(&slow, d, ones) == MASKINFO_OK;
    for (int ph = 0; ok && ph < 2; ph++) {
        int64_t nh = ph ? H : 1;
        size_t nq = (size_t)(B * nh * Q), nk = (size_t)(B * nh * K);
        int32_t *q1 = malloc(nq * 4 + 4), *q2 = malloc(nq * 4 + 4);
        int32_t *k1 = malloc(nk * 4 + 4), *k2 = malloc(nk * 4 + 4);
        ok = maskinfo_mask_segment_ids(d, ph, q1, k1, NULL) == MASKINFO_OK &&
             maskinfo_mask_segment_ids(slow, ph, q2, k2, NULL) == MASKINFO_OK &&
             memcmp(q1, q2, nq * 4) == 0 && memcmp(k1, k2, nk * 4) == 0;
        /* one side alone gives the same ids */
        if (ok) {
            memset(q2, 0x55, nq * 4);
            memset(k2, 0x55, nk * 4);
            ok = maskinfo_mask_segment_ids(d, ph, q2, NULL, NULL) == MASKINFO_OK &&
                 maskinfo_mask_segment_ids(d, ph, NULL, k2, NULL) == MASKINFO_OK &&
                 memcmp(q1, q2, nq * 4) == 0 && memcmp(k1, k2, nk * 4) == 0;
        }
        free(q1); free(q2); free(k1); free(k2);
    }
    maskinfo_mask_unref(slow);
    maskinfo_mask_unref(ones);
    maskinfo_mask_unref(d);
    return ok;
}

static void test_segment_ids_vs_intervals(void)
{
    static const int64_t sizes[][4] = {
        { 1, 1, 1, 1 },   { 1, 1, 3, 5 },    { 2, 3, 9, 70 },   { 1, 1, 64, 64 },
        { 1, 2, 65, 63 }, { 2, 1, 130, 129 }, { 1, 1, 300, 200 }, { 1, 2, 257, 1000 },
        { 3, 1, 40, 4100 }, { 1, 1, 0, 5 },    { 1, 1, 5, 0 },    { 2, 2, 0, 0 },
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int rep = 0; rep < 3; rep++) {
            const int64_t *s = sizes[i];
            int64_t n = s[0] * s[1] * s[2] * s[3];
            uint8_t *c = malloc((size_t)n);
            palette_cells(c, s[0] * s[1] * s[2], s[3]);
            CHECKF(ids_match(s[0], s[1], s[2], s[3], c), "ids %lldx%lldx%lldx%lld rep %d",
                   (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3], rep);
            /* all allowed and all empty */
            memset(c, rep == 0 ? 0 : 1, (size_t)n);
            CHECK(ids_match(s[0], s[1], s[2], s[3], c));
            free(c);
        }
}

/* A dense Q x K palette mask and two pairs of id buffers for it. */
typedef struct {
    maskinfo_mask *m;
    int32_t *q1, *k1, *q2, *k2;
} ids_case;

static ids_case ids_case_new(int64_t Q, int64_t K)
{
    ids_case t = { NULL, malloc(Q * 4), malloc(K * 4), malloc(Q * 4), malloc(K * 4) };
    uint8_t *c = malloc((size_t)(Q * K));
    palette_cells(c, Q, K);
    CHECK(maskinfo_mask_from_bytes(&t.m, 1, 1, Q, K, c, NULL) == MASKINFO_OK);
    free(c);
    return t;
}

/* Both runs gave the same ids; frees the case. */
static void ids_case_done(ids_case *t, int64_t Q, int64_t K)
{
    CHECK(memcmp(t->q1, t->q2, Q * 4) == 0 && memcmp(t->k1, t->k2, K * 4) == 0);
    free(t->q1); free(t->k1); free(t->q2); free(t->k2);
    maskinfo_mask_unref(t->m);
}

/* The guard sees the dense path's buffers: a refusal, never a crash. */
static void test_segment_ids_guard(void)
{
    const int64_t Q = 300, K = 500;
    ids_case t = ids_case_new(Q, K);
    maskinfo_limits tiny = { 64 }, roomy = { 1 << 24 };
    CHECK(maskinfo_mask_segment_ids(t.m, 0, t.q1, t.k1, &tiny) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_segment_ids(t.m, 0, t.q1, t.k1, &roomy) == MASKINFO_OK);
    CHECK(maskinfo_mask_segment_ids(t.m, 0, t.q2, t.k2, NULL) == MASKINFO_OK);
    ids_case_done(&t, Q, K);
}

/* The same ids whatever the thread count (the hashes are sums mod 2^64). */
static void test_thread_invariance(void)
{
#ifdef _OPENMP
    const int64_t Q = 700, K = 333;
    ids_case t = ids_case_new(Q, K);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(maskinfo_mask_segment_ids(t.m, 0, t.q1, t.k1, NULL) == MASKINFO_OK);
    omp_set_num_threads(3);
    CHECK(maskinfo_mask_segment_ids(t.m, 0, t.q2, t.k2, NULL) == MASKINFO_OK);
    omp_set_num_threads(saved);
    ids_case_done(&t, Q, K);
#endif
}

int main(void)
{
    test_pack_every_dtype();
    test_from_array_as_errors();
    test_segment_ids_vs_intervals();
    test_segment_ids_guard();
    test_thread_invariance();
    return check_summary();
}
