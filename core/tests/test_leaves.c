/* test_leaves.c - every leaf kind (constant, segments, dense bytes and
 * arrays, random, intervals; the rule leaves are in test_ops.c with the
 * reference builders they share) against a naive cell-by-cell reference,
 * and the memory guard of the dense leaves.  Only the public header is
 * used. */
#include "maskinfo.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#define TEST_RNG_SEED 0x9e3779b97f4a7c15ull
#include "rng.h"
#include "mask_ref.h"

/* ---------------------------------------------------------------- constants */
static void test_constant(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_constant(&m, 2, 3, 4, 5, 1) == MASKINFO_OK);
    uint8_t ones[120], zeros[120];
    memset(ones, 1, sizeof ones);
    memset(zeros, 0, sizeof zeros);
    CHECK(mask_matches_cells(m, ones, 2, 3, 4, 5, "constant 1"));
    CHECK(!maskinfo_mask_is_dense(m));
    CHECK(maskinfo_mask_bytes(m) > 0 && maskinfo_mask_bytes(m) < 4096);
    uint64_t e = 99;
    CHECK(maskinfo_mask_empty_rows(m, &e, NULL, NULL) == MASKINFO_OK && e == 0);
    maskinfo_mask_unref(m);

    CHECK(maskinfo_mask_constant(&m, 2, 3, 4, 5, 0) == MASKINFO_OK);
    CHECK(mask_matches_cells(m, zeros, 2, 3, 4, 5, "constant 0"));
    CHECK(maskinfo_mask_empty_rows(m, &e, NULL, NULL) == MASKINFO_OK && e == 24);
    maskinfo_mask_unref(m);

    /* any nonzero value means "allowed" */
    CHECK(maskinfo_mask_constant(&m, 2, 3, 4, 5, 7) == MASKINFO_OK);
    CHECK(mask_matches_cells(m, ones, 2, 3, 4, 5, "constant 7"));
    /* the reference count: a second reference keeps the mask alive */
    maskinfo_mask *r = maskinfo_mask_ref(m);
    CHECK(r == m);
    maskinfo_mask_unref(m);
    CHECK(mask_matches_cells(r, ones, 2, 3, 4, 5, "constant after unref"));
    maskinfo_mask_unref(r);
    maskinfo_mask_unref(NULL); /* a no-op */

    /* empty extents are fine; K == 0 makes every row empty */
    CHECK(maskinfo_mask_constant(&m, 2, 1, 3, 0, 1) == MASKINFO_OK);
    uint64_t t = 1;
    CHECK(maskinfo_mask_count(m, &t, NULL, NULL) == MASKINFO_OK && t == 0);
    CHECK(maskinfo_mask_empty_rows(m, &e, NULL, NULL) == MASKINFO_OK && e == 6);
    maskinfo_mask_unref(m);
    CHECK(maskinfo_mask_constant(&m, 0, 2, 3, 4, 1) == MASKINFO_OK);
    CHECK(maskinfo_mask_count(m, &t, NULL, NULL) == MASKINFO_OK && t == 0);
    maskinfo_mask_unref(m);

    /* bad extents */
    m = NULL;
    CHECK(maskinfo_mask_constant(&m, -1, 1, 1, 1, 1) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_constant(&m, 1, 0, 1, 1, 1) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_constant(&m, 1, 1, -1, 1, 1) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_constant(&m, 1, 1, 1, -5, 1) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_constant(&m, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1) ==
          MASKINFO_EOVERFLOW);
    CHECK(maskinfo_mask_constant(&m, INT64_MAX, 2, 1, 1, 1) == MASKINFO_EOVERFLOW);
    CHECK(m == NULL);
}

/* ---------------------------------------------------------------- segments */

static void test_segments(void)
{
    /* a hand example: non-contiguous ids, the same id in two runs */
    {
        int64_t qv[6] = {5, 5, -3, 5, 9, MASKINFO_NOMATCH_Q};
        int64_t kv[6] = {5, -3, 5, 5, MASKINFO_NOMATCH_KV, 9};
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_segments(&m, 1, 1, 1, 6, 6, qv, kv) == MASKINFO_OK);
        static const uint8_t want[36] = {
            1, 0, 1, 1, 0, 0, /* q0 id 5 */
            1, 0, 1, 1, 0, 0, /* q1 id 5 */
            0, 1, 0, 0, 0, 0, /* q2 id -3 */
            1, 0, 1, 1, 0, 0, /* q3 id 5 */
            0, 0, 0, 0, 0, 1, /* q4 id 9 */
            0, 0, 0, 0, 0, 0, /* q5 padding */
        };
        CHECK(mask_matches_cells(m, want, 1, 1, 6, 6, "segments hand"));
        CHECK(!maskinfo_mask_is_dense(m));
        /* row 0 is exactly [0,1) [2,4) */
        maskinfo_scratch *s = maskinfo_scratch_new();
        const int64_t *iv;
        int64_t n = 0;
        CHECK(maskinfo_mask_row(m, 0, 0, 0, s, &iv, &n) == MASKINFO_OK && n == 2 &&
              iv[0] == 0 && iv[1] == 1 && iv[2] == 2 && iv[3] == 4);
        /* the arrays were copied: changing them changes nothing */
        qv[2] = 5;
        kv[1] = 5;
        CHECK(mask_matches_cells(m, want, 1, 1, 6, 6, "segments after source change"));
        uint64_t e = 0;
        uint8_t flags[6];
        CHECK(maskinfo_mask_empty_rows(m, &e, flags, NULL) == MASKINFO_OK && e == 1 &&
              flags[5] == 1 && flags[0] == 0 && flags[4] == 0);
        maskinfo_scratch_free(s);
        maskinfo_mask_unref(m);
    }
    /* sentinels never match, wherever they appear */
    {
        int64_t qv[4] = {MASKINFO_NOMATCH_Q, MASKINFO_NOMATCH_KV, 1, INT64_MAX};
        int64_t kv[5] = {MASKINFO_NOMATCH_Q, MASKINFO_NOMATCH_KV, 1,
                         MASKINFO_NOMATCH_KV, INT64_MAX};
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_segments(&m, 1, 1, 1, 4, 5, qv, kv) == MASKINFO_OK);
        uint8_t want[20] = {0};
        want[2 * 5 + 2] = 1;
        want[3 * 5 + 4] = 1;
        CHECK(mask_matches_cells(m, want, 1, 1, 4, 5, "segments sentinels"));
        maskinfo_mask_unref(m);
    }
    /* all padding */
    {
        int64_t qv[2 * 7], kv[2 * 9];
        for (int i = 0; i < 14; i++) qv[i] = MASKINFO_NOMATCH_Q;
        for (int i = 0; i < 18; i++) kv[i] = MASKINFO_NOMATCH_KV;
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_segments(&m, 2, 1, 1, 7, 9, qv, kv) == MASKINFO_OK);
        uint8_t want[2 * 7 * 9] = {0};
        CHECK(mask_matches_cells(m, want, 2, 1, 7, 9, "segments all padding"));
        uint64_t e = 0;
        CHECK(maskinfo_mask_empty_rows(m, &e, NULL, NULL) == MASKINFO_OK && e == 14);
        maskinfo_mask_unref(m);
        /* padding queries against real keys, and the reverse */
        for (int i = 0; i < 18; i++) kv[i] = i % 3;
        CHECK(maskinfo_mask_segments(&m, 2, 1, 1, 7, 9, qv, kv) == MASKINFO_OK);
        CHECK(mask_matches_cells(m, want, 2, 1, 7, 9, "segments padded queries"));
        maskinfo_mask_unref(m);
        for (int i = 0; i < 14; i++) qv[i] = i % 3;
        for (int i = 0; i < 18; i++) kv[i] = MASKINFO_NOMATCH_KV;
        CHECK(maskinfo_mask_segments(&m, 2, 1, 1, 7, 9, qv, kv) == MASKINFO_OK);
        CHECK(mask_matches_cells(m, want, 2, 1, 7, 9, "segments padded keys"));
        maskinfo_mask_unref(m);
    }
    /* random ids, every head layout */
    static const int64_t alphabet[] = {5,  -3, 7, 0, INT64_MAX, INT64_MIN + 2,
                                       MASKINFO_NOMATCH_Q, MASKINFO_NOMATCH_KV};
    static const int64_t layouts[][2] = {{1, 1}, {3, 1}, {1, 3}, {3, 3}, {4, 4}};
    for (int trial = 0; trial < 40; trial++) {
        int64_t Hq = layouts[trial % 5][0], Hk = layouts[trial % 5][1];
        int64_t B = 1 + rndi(3), Q = rndi(20), K = rndi(70);
        int64_t na = trial % 2 ? 8 : 3; /* few ids -> long runs */
        int64_t *qv = malloc((size_t)(B * Hq * Q + 1) * sizeof *qv);
        int64_t *kv = malloc((size_t)(B * Hk * K + 1) * sizeof *kv);
        for (int64_t i = 0; i < B * Hq * Q; i++) qv[i] = alphabet[rndi(na)];
        /* keys in runs, so the run-based lookup is exercised */
        for (int64_t i = 0; i < B * Hk * K; i++)
            kv[i] = (i > 0 && rndi(3)) ? kv[i - 1] : alphabet[rndi(na)];
        maskinfo_mask *m = NULL;
        int st = maskinfo_mask_segments(&m, B, Hq, Hk, Q, K, qv, kv);
        CHECK(st == MASKINFO_OK);
        if (st == MASKINFO_OK) {
            uint8_t *ref = seg_ref(B, Hq, Hk, Q, K, qv, kv);
            char label[64];
            snprintf(label, sizeof label, "segments trial %d (Hq %lld Hk %lld)",
                     trial, (long long)Hq, (long long)Hk);
            CHECK(mask_matches_cells(m, ref, B, Hq > Hk ? Hq : Hk, Q, K, label));
            free(ref);
            maskinfo_mask_unref(m);
        }
        free(qv);
        free(kv);
    }
    /* bad head layouts and extents */
    int64_t ids[64] = {0};
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_segments(&m, 1, 2, 3, 2, 2, ids, ids) == MASKINFO_ESHAPE);
    int st = maskinfo_mask_segments(&m, 1, 0, 1, 2, 2, ids, ids);
    CHECK(st == MASKINFO_ESHAPE || st == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_segments(&m, -1, 1, 1, 2, 2, ids, ids) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_segments(&m, 1, 1, 1, -2, 2, ids, ids) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_segments(&m, 1 << 30, 1, 1, 1 << 30, 1 << 30, ids, ids) ==
          MASKINFO_EOVERFLOW);
    CHECK(m == NULL);
}

/* int32 ids read through a mode, widened as the int64 path wants them */
static int64_t widen_id(int32_t x, maskinfo_ids_mode mode, int64_t nomatch)
{
    if ((mode == MASKINFO_IDS_SEGMENT && x < 0) || (mode == MASKINFO_IDS_NONZERO && x == 0))
        return nomatch;
    return x;
}

/* 1 when rows of a and b give the same interval lists */
static int same_rows(const maskinfo_mask *a, const maskinfo_mask *b)
{
    int64_t sa[4], sb[4];
    maskinfo_mask_shape(a, sa);
    maskinfo_mask_shape(b, sb);
    if (memcmp(sa, sb, sizeof sa)) return 0;
    maskinfo_scratch *s1 = maskinfo_scratch_new(), *s2 = maskinfo_scratch_new();
    int ok = s1 && s2;
    for (int64_t r = 0; ok && r < sa[0] * sa[1] * sa[2]; r++) {
        int64_t b_ = r / (sa[1] * sa[2]), h = r / sa[2] % sa[1], q = r % sa[2];
        const int64_t *i1, *i2;
        int64_t n1, n2;
        ok = maskinfo_mask_row(a, b_, h, q, s1, &i1, &n1) == MASKINFO_OK &&
             maskinfo_mask_row(b, b_, h, q, s2, &i2, &n2) == MASKINFO_OK && n1 == n2 &&
             (n1 == 0 || !memcmp(i1, i2, (size_t)(2 * n1) * sizeof *i1));
    }
    maskinfo_scratch_free(s1);
    maskinfo_scratch_free(s2);
    return ok;
}

/* The int32 leaf against the int64 one built from the widened ids and the
 * cell-by-cell reference: padding, ids that come back after others (runs
 * out of order, so the radix sort runs), extreme values, every mode and
 * head layout, batches > 1. */
static void test_segments_i32(void)
{
    static const int32_t alphabet[] = {0, 1, -1, 7, 3, INT32_MAX, INT32_MIN, -5, 2, 300000};
    static const int64_t layouts[][2] = {{1, 1}, {3, 1}, {1, 3}, {3, 3}, {2, 2}};
    for (int trial = 0; trial < 60; trial++) {
        int64_t Hq = layouts[trial % 5][0], Hk = layouts[trial % 5][1];
        int64_t B = 1 + rndi(3), Q = rndi(24), K = rndi(90);
        int64_t na = 3 + rndi(8);
        maskinfo_ids_mode qm = (maskinfo_ids_mode)rndi(3), km = (maskinfo_ids_mode)rndi(3);
        int64_t nq = B * Hq * Q, nk = B * Hk * K;
        int32_t *q32 = malloc((size_t)(nq + 1) * sizeof *q32);
        int32_t *k32 = malloc((size_t)(nk + 1) * sizeof *k32);
        int64_t *q64 = malloc((size_t)(nq + 1) * sizeof *q64);
        int64_t *k64 = malloc((size_t)(nk + 1) * sizeof *k64);
        for (int64_t i = 0; i < nq; i++) q32[i] = alphabet[rndi(na)];
        for (int64_t i = 0; i < nk; i++)
            k32[i] = (i > 0 && rndi(4)) ? k32[i - 1] : alphabet[rndi(na)];
        if (trial % 4 == 0) /* sorted documents then padding, the common case */
            for (int64_t i = 0; i < nk; i++) {
                int64_t j = i % K; /* nk > 0 only when K > 0 */
                k32[i] = j * 8 >= 7 * K ? -1 : (int32_t)(j * 3 / K);
            }
        for (int64_t i = 0; i < nq; i++) q64[i] = widen_id(q32[i], qm, MASKINFO_NOMATCH_Q);
        for (int64_t i = 0; i < nk; i++) k64[i] = widen_id(k32[i], km, MASKINFO_NOMATCH_KV);
        maskinfo_mask *m = NULL, *old = NULL;
        CHECK(maskinfo_mask_segments_i32(&m, B, Hq, Hk, Q, K, q32, qm, k32, km) == MASKINFO_OK);
        CHECK(maskinfo_mask_segments(&old, B, Hq, Hk, Q, K, q64, k64) == MASKINFO_OK);
        if (m && old) {
            char label[64];
            uint8_t *ref = seg_ref(B, Hq, Hk, Q, K, q64, k64);
            snprintf(label, sizeof label, "segments_i32 trial %d (modes %d %d)", trial, qm, km);
            CHECK(mask_matches_cells(m, ref, B, Hq > Hk ? Hq : Hk, Q, K, label));
            CHECKF(same_rows(m, old), "segments_i32 trial %d: rows differ from the int64 leaf", trial);
            CHECK(maskinfo_mask_bytes(m) == maskinfo_mask_bytes(old));
            free(ref);
        }
        maskinfo_mask_unref(m);
        maskinfo_mask_unref(old);
        free(q32);
        free(k32);
        free(q64);
        free(k64);
    }
    /* many short runs whose ids come back: one long unsorted plane */
    {
        int64_t K = 1500;
        int32_t *ids = malloc((size_t)K * sizeof *ids);
        int64_t *wide = malloc((size_t)K * sizeof *wide), *wkv = malloc((size_t)K * sizeof *wkv);
        for (int64_t i = 0; i < K; i++) {
            ids[i] = (int32_t)((i / 3 * 7919) % 1009) - (i % 97 == 0);
            wide[i] = widen_id(ids[i], MASKINFO_IDS_SEGMENT, MASKINFO_NOMATCH_Q);
            wkv[i] = widen_id(ids[i], MASKINFO_IDS_SEGMENT, MASKINFO_NOMATCH_KV);
        }
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_segments_i32(&m, 1, 1, 1, K, K, ids, MASKINFO_IDS_SEGMENT, ids,
                                         MASKINFO_IDS_SEGMENT) == MASKINFO_OK);
        uint8_t *ref = seg_ref(1, 1, 1, K, K, wide, wkv);
        CHECK(m && mask_matches_cells(m, ref, 1, 1, K, K, "segments_i32 long unsorted plane"));
        free(ref);
        maskinfo_mask_unref(m);
        free(ids);
        free(wide);
        free(wkv);
    }
    int32_t ids[8] = {0};
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_segments_i32(&m, 1, 2, 3, 2, 2, ids, MASKINFO_IDS_SEGMENT, ids,
                                     MASKINFO_IDS_SEGMENT) == MASKINFO_ESHAPE);
    CHECK(maskinfo_mask_segments_i32(&m, 1, 1, 1, 2, 2, ids, (maskinfo_ids_mode)7, ids,
                                     MASKINFO_IDS_SEGMENT) == MASKINFO_EINVAL);
    CHECK(m == NULL);
}

/* ---------------------------------------------------------------- dense leaves */
static void test_dense(void)
{
    /* widths around the 64-bit word boundaries */
    static const int64_t widths[] = {1, 2, 63, 64, 65, 127, 128, 130, 200};
    for (int i = 0; i < 9; i++) {
        int64_t B = 2, H = 2, Q = 5, K = widths[i];
        uint8_t *cells = rnd_cells(B * H * Q * K, i % 3 == 0 ? 90 : 40);
        /* a full row and an empty row */
        memset(cells, 7, (size_t)K);
        memset(cells + K, 0, (size_t)K);
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
        char label[48];
        snprintf(label, sizeof label, "from_bytes K=%lld", (long long)K);
        CHECK(mask_matches_cells(m, cells, B, H, Q, K, label));
        CHECK(maskinfo_mask_is_dense(m));
        /* bit-packed: at least one bit per cell, far less than a byte each */
        uint64_t bytes = maskinfo_mask_bytes(m);
        CHECK(bytes >= (uint64_t)(B * H * Q * ((K + 63) / 64) * 8));
        CHECK(bytes < (uint64_t)(B * H * Q * ((K + 63) / 64) * 8) + 4096);
        maskinfo_mask_unref(m);
        free(cells);
    }
    /* from_array in every dtype: nonzero (incl. -1, NaN, denormals) = allowed */
    int64_t shape[4] = {2, 3, 4, 5};
    int64_t n = 120;
    for (int dt = MASKINFO_BOOL; dt <= MASKINFO_BFLOAT16; dt++) {
        maskinfo_array *a = NULL;
        CHECK(maskinfo_array_new(&a, (maskinfo_dtype)dt, 4, shape, NULL) == MASKINFO_OK);
        if (!a) continue;
        uint8_t ref[120];
        void *d = maskinfo_array_data(a);
        for (int64_t i = 0; i < n; i++) {
            int pick = (int)rndi(4);
            ref[i] = pick != 0;
            switch (dt) {
            case MASKINFO_BOOL: ((uint8_t *)d)[i] = (uint8_t)(pick ? 1 : 0); break;
            case MASKINFO_INT32: {
                static const int32_t v[4] = {0, -1, 2, INT32_MIN};
                ((int32_t *)d)[i] = v[pick];
                break;
            }
            case MASKINFO_FLOAT32: {
                float v[4] = {pick == 0 && i % 2 ? -0.0f : 0.0f, -1.5f, 1e-40f, NAN};
                ((float *)d)[i] = v[pick];
                break;
            }
            case MASKINFO_FLOAT16: { /* 0/-0, 1.0, smallest denormal, -inf */
                static const uint16_t v[4] = {0x0000, 0x3c00, 0x0001, 0xfc00};
                ((uint16_t *)d)[i] = (pick == 0 && i % 2) ? 0x8000 : v[pick];
                break;
            }
            default: { /* bfloat16: 0/-0, 1.0, smallest denormal, NaN */
                static const uint16_t v[4] = {0x0000, 0x3f80, 0x0001, 0x7fc0};
                ((uint16_t *)d)[i] = (pick == 0 && i % 2) ? 0x8000 : v[pick];
                break;
            }
            }
        }
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_array(&m, a, NULL) == MASKINFO_OK);
        if (m) {
            char label[48];
            snprintf(label, sizeof label, "from_array %s",
                     maskinfo_dtype_name((maskinfo_dtype)dt));
            CHECK(mask_matches_cells(m, ref, 2, 3, 4, 5, label));
            CHECK(maskinfo_mask_is_dense(m));
            maskinfo_mask_unref(m);
        }
        maskinfo_array_free(a);
    }
    /* a non-4-D array is a shape error */
    {
        maskinfo_array *a = NULL;
        int64_t s3[3] = {2, 3, 4};
        CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 3, s3, NULL) == MASKINFO_OK);
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_array(&m, a, NULL) == MASKINFO_ESHAPE);
        CHECK(m == NULL);
        maskinfo_array_free(a);
    }
    /* bad extents */
    maskinfo_mask *m = NULL;
    int st;
    uint8_t c[4] = {1, 1, 1, 1};
    CHECK(maskinfo_mask_from_bytes(&m, 1, 0, 2, 2, c, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_from_bytes(&m, 1, 1, -2, 2, c, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_from_bytes(&m, INT64_MAX, 2, 2, 2, c, NULL) ==
          MASKINFO_EOVERFLOW);
    /* a key extent near INT64_MAX: refused (too big or overflowing), and the
     * words-per-row computation must not overflow on the way */
    st = maskinfo_mask_random(&m, 1, 1, 1, INT64_MAX - 1, 0.5, 1, NULL);
    CHECK(st == MASKINFO_ETOOBIG || st == MASKINFO_EOVERFLOW);
    st = maskinfo_mask_random(&m, 1, 1, 0, INT64_MAX, 0.5, 1, NULL);
    CHECK(st == MASKINFO_OK || st == MASKINFO_ETOOBIG || st == MASKINFO_EOVERFLOW);
    if (st == MASKINFO_OK) maskinfo_mask_unref(m);
    m = NULL;
    CHECK(m == NULL);
    /* empty dense leaves */
    CHECK(maskinfo_mask_from_bytes(&m, 1, 1, 3, 0, c, NULL) == MASKINFO_OK);
    uint64_t e = 0;
    CHECK(m && maskinfo_mask_empty_rows(m, &e, NULL, NULL) == MASKINFO_OK && e == 3);
    maskinfo_mask_unref(m);
}

/* ---------------------------------------------------------------- random */
static void test_random(void)
{
    maskinfo_mask *a = NULL, *b = NULL, *c = NULL;
    CHECK(maskinfo_mask_random(&a, 2, 3, 40, 100, 0.5, 42, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_random(&b, 2, 3, 40, 100, 0.5, 42, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_random(&c, 2, 3, 40, 100, 0.5, 43, NULL) == MASKINFO_OK);
    uint64_t nd = 1;
    int64_t first[4];
    CHECK(maskinfo_mask_diff(a, b, &nd, first, NULL) == MASKINFO_OK && nd == 0 &&
          first[0] == -1 && first[3] == -1);
    /* another seed: about half the cells differ */
    CHECK(maskinfo_mask_diff(a, c, &nd, first, NULL) == MASKINFO_OK && nd > 9000 &&
          nd < 15000);
    CHECK(maskinfo_mask_is_dense(a));
    /* heads and batches are not copies of each other */
    maskinfo_array *arr = NULL;
    CHECK(maskinfo_mask_to_array(a, MASKINFO_BOOL, &arr, NULL) == MASKINFO_OK);
    if (arr) {
        const uint8_t *d = maskinfo_array_cdata(arr);
        CHECK(memcmp(d, d + 4000, 4000) != 0);
        CHECK(memcmp(d, d + 12000, 4000) != 0);
        maskinfo_array_free(arr);
    }
    maskinfo_mask_unref(a);
    maskinfo_mask_unref(b);
    maskinfo_mask_unref(c);

    /* density near p on large shapes (262144 cells: sd < 0.001) */
    static const double ps[] = {0.05, 0.3, 0.5, 0.77, 0.999};
    for (int i = 0; i < 5; i++) {
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_random(&m, 1, 2, 256, 512, ps[i], 1000 + (uint64_t)i,
                                   NULL) == MASKINFO_OK);
        uint64_t t = 0, ph[2];
        CHECK(m && maskinfo_mask_count(m, &t, ph, NULL) == MASKINFO_OK);
        double dens = (double)t / 262144.0;
        CHECK(fabs(dens - ps[i]) < 0.01);
        CHECK(fabs((double)ph[0] / 131072.0 - ps[i]) < 0.015);
        maskinfo_mask_unref(m);
    }
    /* p = 0 and p = 1 are exact */
    maskinfo_mask *m = NULL;
    uint64_t t = 7;
    CHECK(maskinfo_mask_random(&m, 2, 2, 33, 77, 0.0, 5, NULL) == MASKINFO_OK);
    CHECK(m && maskinfo_mask_count(m, &t, NULL, NULL) == MASKINFO_OK && t == 0);
    maskinfo_mask_unref(m);
    CHECK(maskinfo_mask_random(&m, 2, 2, 33, 77, 1.0, 5, NULL) == MASKINFO_OK);
    CHECK(m && maskinfo_mask_count(m, &t, NULL, NULL) == MASKINFO_OK &&
          t == 2 * 2 * 33 * 77);
    maskinfo_mask_unref(m);
    /* invalid p */
    m = NULL;
    CHECK(maskinfo_mask_random(&m, 1, 1, 4, 4, -0.01, 1, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_random(&m, 1, 1, 4, 4, 1.0001, 1, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_random(&m, 1, 1, 4, 4, NAN, 1, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_random(&m, 1, 1, 4, 4, INFINITY, 1, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_random(&m, 1, 0, 4, 4, 0.5, 1, NULL) == MASKINFO_EINVAL);
    CHECK(m == NULL);
}

/* ---------------------------------------------------------------- intervals */
static void test_intervals(void)
{
    /* one row per case: unsorted, overlapping, touching, empty, clipped */
    {
        int64_t off[5] = {0, 4, 6, 6, 10};
        int64_t iv[20] = {
            7, 9, 1, 3, 2, 5, 8, 8,      /* row 0: [1,5) [7,9); [8,8) empty */
            -5, 2, 10, 99,               /* row 1: clipped to [0,2) [10,12) */
                                         /* row 2: nothing */
            4, 6, 6, 8, 3, 1, 20, 30,    /* row 3: touching -> [4,8); reversed, outside */
        };
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_intervals(&m, 1, 2, 2, 12, off, iv, NULL) ==
              MASKINFO_OK);
        uint8_t want[48] = {0};
        for (int k = 1; k < 5; k++) want[k] = 1;
        for (int k = 7; k < 9; k++) want[k] = 1;
        for (int k = 0; k < 2; k++) want[12 + k] = 1;
        for (int k = 10; k < 12; k++) want[12 + k] = 1;
        for (int k = 4; k < 8; k++) want[36 + k] = 1;
        CHECK(mask_matches_cells(m, want, 1, 2, 2, 12, "intervals hand"));
        maskinfo_scratch *s = maskinfo_scratch_new();
        const int64_t *r;
        int64_t n = 0;
        CHECK(maskinfo_mask_row(m, 0, 0, 0, s, &r, &n) == MASKINFO_OK && n == 2 &&
              r[0] == 1 && r[1] == 5 && r[2] == 7 && r[3] == 9);
        CHECK(maskinfo_mask_row(m, 0, 1, 0, s, &r, &n) == MASKINFO_OK && n == 0);
        CHECK(maskinfo_mask_row(m, 0, 1, 1, s, &r, &n) == MASKINFO_OK && n == 1 &&
              r[0] == 4 && r[1] == 8);
        maskinfo_scratch_free(s);
        CHECK(!maskinfo_mask_is_dense(m));
        maskinfo_mask_unref(m);
    }
    /* random rows against a cell reference */
    for (int trial = 0; trial < 30; trial++) {
        int64_t B = 1 + rndi(2), H = 1 + rndi(3), Q = rndi(12), K = rndi(50);
        int64_t rows = B * H * Q;
        int64_t *off = malloc((size_t)(rows + 1) * sizeof *off);
        int64_t *iv = malloc((size_t)(rows * 12 + 2) * sizeof *iv);
        uint8_t *ref = calloc((size_t)(rows * K + 1), 1);
        int64_t w = 0;
        for (int64_t r = 0; r < rows; r++) {
            off[r] = w;
            int64_t cnt = rndi(7);
            for (int64_t j = 0; j < cnt; j++, w++) {
                int64_t lo = rndi(K + 10) - 5, hi = lo + rndi(15) - 2;
                iv[2 * w] = lo;
                iv[2 * w + 1] = hi;
                for (int64_t k = lo < 0 ? 0 : lo; k < hi && k < K; k++)
                    ref[r * K + k] = 1;
            }
        }
        off[rows] = w;
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_intervals(&m, B, H, Q, K, off, iv, NULL) ==
              MASKINFO_OK);
        if (m) {
            char label[40];
            snprintf(label, sizeof label, "intervals trial %d", trial);
            CHECK(mask_matches_cells(m, ref, B, H, Q, K, label));
            maskinfo_mask_unref(m);
        }
        free(off);
        free(iv);
        free(ref);
    }
    /* offsets need not start at 0: pairs before offsets[0] are not used */
    {
        int64_t off[3] = {2, 3, 5};
        int64_t iv[10] = {0, 9, 0, 9, 3, 5, 6, 7, 1, 2};
        uint8_t want[18] = {0};
        want[3] = want[4] = 1;
        want[9 + 6] = want[9 + 1] = 1;
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_intervals(&m, 1, 1, 2, 9, off, iv, NULL) == MASKINFO_OK);
        CHECK(m && mask_matches_cells(m, want, 1, 1, 2, 9, "intervals from offset 2"));
        maskinfo_mask_unref(m);
    }
    /* decreasing or negative offsets would index outside iv: refused */
    {
        int64_t bad1[4] = {0, 7, 0, 7}, bad2[4] = {-1, 0, 1, 2};
        int64_t iv[14] = {0};
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_intervals(&m, 1, 1, 3, 9, bad1, iv, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_from_intervals(&m, 1, 1, 3, 9, bad2, iv, NULL) == MASKINFO_EINVAL);
    }
    /* bad extents; the memory guard applies to the interval storage */
    int64_t off[3] = {0, 0, 0};
    int64_t iv[2] = {0, 1};
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_from_intervals(&m, 1, 0, 2, 3, off, iv, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_from_intervals(&m, -1, 1, 2, 3, off, iv, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_from_intervals(&m, INT64_MAX / 2, 4, 2, 3, off, iv, NULL) ==
          MASKINFO_EOVERFLOW);
    int64_t big_off[2] = {0, (int64_t)1 << 40};
    maskinfo_limits lim = {1 << 20};
    CHECK(maskinfo_mask_from_intervals(&m, 1, 1, 1, 8, big_off, iv, &lim) ==
          MASKINFO_ETOOBIG);
    CHECK(m == NULL);
}

/* ---------------------------------------------------------------- memory guard */
static void test_leaf_guard(void)
{
    maskinfo_limits small = {1024};
    uint8_t *cells = calloc(64 * 256, 1);
    maskinfo_mask *m = NULL;
    /* 64 rows * 4 words * 8 bytes = 2048 bytes > 1024 */
    CHECK(maskinfo_mask_from_bytes(&m, 1, 1, 64, 256, cells, &small) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_random(&m, 1, 1, 64, 256, 0.5, 1, &small) == MASKINFO_ETOOBIG);
    CHECK(m == NULL);
    /* a small dense leaf passes the same guard */
    CHECK(maskinfo_mask_from_bytes(&m, 1, 1, 8, 64, cells, &small) == MASKINFO_OK);
    maskinfo_mask_unref(m);
    m = NULL;
    maskinfo_array *arr = NULL;
    int64_t shape[4] = {1, 1, 64, 256};
    CHECK(maskinfo_array_new(&arr, MASKINFO_BOOL, 4, shape, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_from_array(&m, arr, &small) == MASKINFO_ETOOBIG);
    CHECK(m == NULL);
    maskinfo_array_free(arr);
    free(cells);
    /* shapes far beyond memory are refused by the guard, not by malloc:
     * 2^40 cells = 128 GiB of bits, over both a small limit and the default */
    CHECK(maskinfo_mask_random(&m, 1, 1, 1 << 20, 1 << 20, 0.5, 1, &small) ==
          MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_random(&m, 1, 1, 1 << 20, 1 << 20, 0.5, 1, NULL) ==
          MASKINFO_ETOOBIG);
    CHECK(m == NULL);
}

int main(void)
{
    test_constant();
    test_segments();
    test_segments_i32();
    test_dense();
    test_random();
    test_intervals();
    test_leaf_guard();
    return check_summary();
}
