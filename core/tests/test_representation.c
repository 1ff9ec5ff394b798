/* test_representation.c - mask leaves, row evaluation and the reductions
 * (counts, empty rows, diff, dense output, bias, grid counts, memory guard,
 * thread invariance), each checked against a naive cell-by-cell reference.
 * Only the public header is used. */
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

static uint8_t *random_cells(int64_t n, int percent)
{
    uint8_t *c = malloc((size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++)
        c[i] = rndi(100) < percent ? (uint8_t)(1 + rndi(255)) : 0;
    return c;
}

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

static int seg_match(int64_t a, int64_t b)
{
    return a == b && a != MASKINFO_NOMATCH_Q && a != MASKINFO_NOMATCH_KV;
}

static uint8_t *seg_ref(int64_t B, int64_t Hq, int64_t Hk, int64_t Q, int64_t K,
                        const int64_t *qv, const int64_t *kv)
{
    int64_t H = Hq > Hk ? Hq : Hk;
    uint8_t *r = malloc((size_t)(B * H * Q * K > 0 ? B * H * Q * K : 1));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++)
                    r[((b * H + h) * Q + q) * K + k] = (uint8_t)seg_match(
                        qv[(b * Hq + (Hq == 1 ? 0 : h)) * Q + q],
                        kv[(b * Hk + (Hk == 1 ? 0 : h)) * K + k]);
    return r;
}

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

/* ---------------------------------------------------------------- dense leaves */
static void test_dense(void)
{
    /* widths around the 64-bit word boundaries */
    static const int64_t widths[] = {1, 2, 63, 64, 65, 127, 128, 130, 200};
    for (int i = 0; i < 9; i++) {
        int64_t B = 2, H = 2, Q = 5, K = widths[i];
        uint8_t *cells = random_cells(B * H * Q * K, i % 3 == 0 ? 90 : 40);
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

/* ---------------------------------------------------------------- row / get args */
static void test_row_args(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_constant(&m, 2, 3, 4, 5, 1) == MASKINFO_OK);
    maskinfo_scratch *s = maskinfo_scratch_new();
    CHECK(s != NULL);
    const int64_t *iv;
    int64_t n;
    CHECK(maskinfo_mask_row(m, 2, 0, 0, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, -1, 0, 0, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 0, 3, 0, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 0, 0, 4, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 0, 0, -1, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 1, 2, 3, s, &iv, &n) == MASKINFO_OK && n == 1 &&
          iv[0] == 0 && iv[1] == 5);
    int v = -7;
    CHECK(maskinfo_mask_get(m, 0, 0, 0, 5, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 0, 0, 0, -1, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 0, 3, 0, 0, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 2, 0, 0, 0, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 0, 0, 4, 0, &v) == MASKINFO_EINVAL);
    CHECK(v == -7);
    CHECK(maskinfo_mask_get(m, 1, 2, 3, 4, &v) == MASKINFO_OK && v == 1);
    maskinfo_scratch_free(s);
    maskinfo_scratch_free(NULL);
    maskinfo_mask_unref(m);
}

/* ---------------------------------------------------------------- reductions */
static void test_counts_and_empty(void)
{
    for (int trial = 0; trial < 10; trial++) {
        int64_t B = 1 + rndi(3), H = 1 + rndi(4), Q = 1 + rndi(30), K = 1 + rndi(90);
        int64_t n = B * H * Q * K;
        uint8_t *cells = random_cells(n, trial % 2 ? 3 : 50);
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
        if (!m) { free(cells); continue; }
        uint64_t total = 0, *ph = calloc((size_t)(B * H), sizeof *ph);
        uint64_t want = 0, *wph = calloc((size_t)(B * H), sizeof *wph);
        for (int64_t i = 0; i < n; i++)
            if (cells[i]) { want++; wph[i / (Q * K)]++; }
        CHECK(maskinfo_mask_count(m, &total, ph, NULL) == MASKINFO_OK && total == want);
        CHECK(memcmp(ph, wph, (size_t)(B * H) * sizeof *ph) == 0);
        CHECK(maskinfo_mask_count(m, &total, NULL, NULL) == MASKINFO_OK && total == want);
        uint8_t *flags = malloc((size_t)(B * H * Q)), *wf = malloc((size_t)(B * H * Q));
        uint64_t ec = 0, wec = 0;
        for (int64_t r = 0; r < B * H * Q; r++) {
            wf[r] = 1;
            for (int64_t k = 0; k < K; k++) if (cells[r * K + k]) wf[r] = 0;
            wec += wf[r];
        }
        CHECK(maskinfo_mask_empty_rows(m, &ec, flags, NULL) == MASKINFO_OK && ec == wec);
        CHECK(memcmp(flags, wf, (size_t)(B * H * Q)) == 0);
        CHECK(maskinfo_mask_empty_rows(m, &ec, NULL, NULL) == MASKINFO_OK && ec == wec);
        free(flags);
        free(wf);
        free(ph);
        free(wph);
        free(cells);
        maskinfo_mask_unref(m);
    }
}

/* naive diff: count and first differing cell in row-major order; b may have
 * H == 1 and is then broadcast */
static void naive_diff(const uint8_t *a, const uint8_t *b, int64_t B, int64_t H,
                       int64_t Hb, int64_t Q, int64_t K, uint64_t *nd,
                       int64_t first[4])
{
    *nd = 0;
    first[0] = first[1] = first[2] = first[3] = -1;
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) {
                    int x = a[((bb * H + h) * Q + q) * K + k] != 0;
                    int y = b[((bb * Hb + (Hb == 1 ? 0 : h)) * Q + q) * K + k] != 0;
                    if (x != y) {
                        if (*nd == 0) {
                            first[0] = bb; first[1] = h; first[2] = q; first[3] = k;
                        }
                        (*nd)++;
                    }
                }
}

static void test_diff(void)
{
    for (int trial = 0; trial < 24; trial++) {
        int64_t B = 1 + rndi(2), H = 1 + rndi(3), Q = 1 + rndi(20), K = 1 + rndi(140);
        int64_t Hb = trial % 3 == 0 ? 1 : H;
        int64_t n = B * H * Q * K, nb = B * Hb * Q * K;
        uint8_t *ca = random_cells(n, 50);
        uint8_t *cb = malloc((size_t)nb);
        /* b: a copy of a (head 0 when broadcast) with a few flips, or none */
        int flips = trial % 4 == 1 ? 0 : (int)rndi(6) + (trial % 2 ? 0 : 40);
        for (int64_t i = 0; i < nb; i++) {
            int64_t k = i % K, q = (i / K) % Q, hb = (i / K / Q) % Hb, bb = i / K / Q / Hb;
            cb[i] = ca[((bb * H + hb) * Q + q) * K + k] ? 3 : 0;
        }
        for (int f = 0; f < flips; f++) {
            int64_t i = rndi(nb);
            cb[i] = cb[i] ? 0 : 1;
        }
        maskinfo_mask *ma = NULL, *mb = NULL;
        CHECK(maskinfo_mask_from_bytes(&ma, B, H, Q, K, ca, NULL) == MASKINFO_OK);
        CHECK(maskinfo_mask_from_bytes(&mb, B, Hb, Q, K, cb, NULL) == MASKINFO_OK);
        uint64_t nd = 0, wnd = 0;
        int64_t first[4], wfirst[4];
        naive_diff(ca, cb, B, H, Hb, Q, K, &wnd, wfirst);
        CHECK(maskinfo_mask_diff(ma, mb, &nd, first, NULL) == MASKINFO_OK && nd == wnd);
        CHECKF(memcmp(first, wfirst, sizeof first) == 0,
               "diff trial %d: first (%lld,%lld,%lld,%lld) want (%lld,%lld,%lld,%lld)",
               trial, (long long)first[0], (long long)first[1], (long long)first[2],
               (long long)first[3], (long long)wfirst[0], (long long)wfirst[1],
               (long long)wfirst[2], (long long)wfirst[3]);
        /* symmetric, and a mask equals itself */
        CHECK(maskinfo_mask_diff(mb, ma, &nd, first, NULL) == MASKINFO_OK && nd == wnd &&
              memcmp(first, wfirst, sizeof first) == 0);
        CHECK(maskinfo_mask_diff(ma, ma, &nd, first, NULL) == MASKINFO_OK && nd == 0 &&
              first[0] == -1 && first[1] == -1 && first[2] == -1 && first[3] == -1);
        maskinfo_mask_unref(ma);
        maskinfo_mask_unref(mb);
        free(ca);
        free(cb);
    }
    /* a structured mask against its dense twin: no difference; one flip in
     * the last cell is found there */
    {
        int64_t Q = 9, K = 70;
        maskinfo_mask *c = NULL, *d = NULL;
        int64_t qv[9], kv[70];
        for (int i = 0; i < 9; i++) qv[i] = i / 4;
        for (int i = 0; i < 70; i++) kv[i] = i % 3;
        CHECK(maskinfo_mask_segments(&c, 1, 1, 1, Q, K, qv, kv) == MASKINFO_OK);
        uint8_t cells[9 * 70];
        for (int q = 0; q < 9; q++)
            for (int k = 0; k < 70; k++) cells[q * 70 + k] = qv[q] == kv[k];
        CHECK(maskinfo_mask_from_bytes(&d, 1, 1, Q, K, cells, NULL) == MASKINFO_OK);
        uint64_t nd = 1;
        int64_t first[4];
        CHECK(maskinfo_mask_diff(c, d, &nd, first, NULL) == MASKINFO_OK && nd == 0);
        maskinfo_mask_unref(d);
        cells[9 * 70 - 1] ^= 1;
        CHECK(maskinfo_mask_from_bytes(&d, 1, 1, Q, K, cells, NULL) == MASKINFO_OK);
        CHECK(maskinfo_mask_diff(c, d, &nd, first, NULL) == MASKINFO_OK && nd == 1 &&
              first[0] == 0 && first[1] == 0 && first[2] == 8 && first[3] == 69);
        maskinfo_mask_unref(d);
        /* shapes must agree */
        CHECK(maskinfo_mask_constant(&d, 1, 1, Q, K + 1, 0) == MASKINFO_OK);
        CHECK(maskinfo_mask_diff(c, d, &nd, first, NULL) == MASKINFO_ESHAPE);
        maskinfo_mask_unref(d);
        CHECK(maskinfo_mask_constant(&d, 2, 1, Q, K, 0) == MASKINFO_OK);
        CHECK(maskinfo_mask_diff(c, d, &nd, first, NULL) == MASKINFO_ESHAPE);
        maskinfo_mask_unref(d);
        maskinfo_mask *e = NULL;
        CHECK(maskinfo_mask_constant(&d, 1, 2, Q, K, 0) == MASKINFO_OK);
        CHECK(maskinfo_mask_constant(&e, 1, 3, Q, K, 0) == MASKINFO_OK);
        CHECK(maskinfo_mask_diff(d, e, &nd, first, NULL) == MASKINFO_ESHAPE);
        maskinfo_mask_unref(d);
        maskinfo_mask_unref(e);
        maskinfo_mask_unref(c);
    }
}

/* ---------------------------------------------------------------- dense output */
static void test_to_array(void)
{
    int64_t B = 2, H = 2, Q = 7, K = 67, n = B * H * Q * K;
    uint8_t *cells = random_cells(n, 45);
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
    static const uint16_t one16[5] = {0, 0, 0, 0x3c00, 0x3f80};
    for (int dt = MASKINFO_BOOL; dt <= MASKINFO_BFLOAT16; dt++) {
        maskinfo_array *a = NULL;
        CHECK(maskinfo_mask_to_array(m, (maskinfo_dtype)dt, &a, NULL) == MASKINFO_OK);
        if (!a) continue;
        const int64_t *s = maskinfo_array_shape(a);
        CHECK(maskinfo_array_ndim(a) == 4 && s[0] == B && s[1] == H && s[2] == Q &&
              s[3] == K);
        CHECK(maskinfo_array_dtype(a) == (maskinfo_dtype)dt);
        int ok = 1;
        const void *d = maskinfo_array_cdata(a);
        for (int64_t i = 0; i < n; i++) {
            int on = cells[i] != 0;
            if (maskinfo_array_get(a, i) != (on ? 1.0 : 0.0)) ok = 0;
            switch (dt) {
            case MASKINFO_BOOL: if (((const uint8_t *)d)[i] != on) ok = 0; break;
            case MASKINFO_INT32: if (((const int32_t *)d)[i] != on) ok = 0; break;
            case MASKINFO_FLOAT32: {
                uint32_t u;
                memcpy(&u, (const float *)d + i, 4);
                if (u != (on ? 0x3f800000u : 0u)) ok = 0;
                break;
            }
            default:
                if (((const uint16_t *)d)[i] != (on ? one16[dt] : 0)) ok = 0;
            }
        }
        CHECKF(ok, "to_array %s differs", maskinfo_dtype_name((maskinfo_dtype)dt));
        maskinfo_array_free(a);
    }
    /* structured masks fill the same way */
    maskinfo_mask *c = NULL;
    CHECK(maskinfo_mask_constant(&c, 1, 1, 3, 4, 1) == MASKINFO_OK);
    maskinfo_array *a = NULL;
    CHECK(maskinfo_mask_to_array(c, MASKINFO_FLOAT16, &a, NULL) == MASKINFO_OK);
    if (a) {
        const uint16_t *d = maskinfo_array_cdata(a);
        int ok = 1;
        for (int i = 0; i < 12; i++) if (d[i] != 0x3c00) ok = 0;
        CHECK(ok);
        maskinfo_array_free(a);
    }
    /* an unknown dtype is refused */
    a = NULL;
    int st = maskinfo_mask_to_array(c, (maskinfo_dtype)9, &a, NULL);
    CHECK(st == MASKINFO_EDTYPE && a == NULL);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(m);
    free(cells);
}

static void test_to_bias(void)
{
    int64_t B = 1, H = 3, Q = 5, K = 70, n = B * H * Q * K;
    uint8_t *cells = random_cells(n, 50);
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
    maskinfo_array *a = NULL;
    /* float32: 0 where allowed, the lowest finite float (-3.4028235e38) elsewhere */
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_FLOAT32, &a, NULL) == MASKINFO_OK);
    if (a) {
        const float *d = maskinfo_array_cdata(a);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, d + i, 4);
            if (cells[i] ? d[i] != 0.0f : (d[i] != -FLT_MAX || u != 0xff7fffffu)) ok = 0;
        }
        CHECK(ok);
        CHECK(-FLT_MAX == -3.4028235e38f);
        CHECK(maskinfo_array_dtype(a) == MASKINFO_FLOAT32 && maskinfo_array_size(a) == n);
        maskinfo_array_free(a);
    }
    /* float16: -65504 = 0xFBFF */
    a = NULL;
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_FLOAT16, &a, NULL) == MASKINFO_OK);
    if (a) {
        const uint16_t *d = maskinfo_array_cdata(a);
        int ok = 1;
        for (int64_t i = 0; i < n; i++)
            if (cells[i] ? (d[i] & 0x7fff) != 0 : d[i] != 0xfbff) ok = 0;
        CHECK(ok);
        /* the first masked cell reads back as -65504 */
        int64_t i0 = 0;
        while (i0 < n && cells[i0]) i0++;
        CHECK(i0 < n && maskinfo_array_get(a, i0) == -65504.0);
        maskinfo_array_free(a);
    }
    /* bfloat16: lowest finite = 0xFF7F */
    a = NULL;
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_BFLOAT16, &a, NULL) == MASKINFO_OK);
    if (a) {
        const uint16_t *d = maskinfo_array_cdata(a);
        int ok = 1;
        for (int64_t i = 0; i < n; i++)
            if (cells[i] ? (d[i] & 0x7fff) != 0 : d[i] != 0xff7f) ok = 0;
        CHECK(ok);
        maskinfo_array_free(a);
    }
    /* int and bool dtypes have no bias */
    a = NULL;
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_INT32, &a, NULL) == MASKINFO_EDTYPE);
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_BOOL, &a, NULL) == MASKINFO_EDTYPE);
    CHECK(a == NULL);
    /* a fully allowed and a fully masked structured mask */
    maskinfo_mask *c = NULL;
    CHECK(maskinfo_mask_constant(&c, 1, 1, 2, 3, 0) == MASKINFO_OK);
    CHECK(maskinfo_mask_to_bias(c, MASKINFO_BFLOAT16, &a, NULL) == MASKINFO_OK);
    if (a) {
        const uint16_t *d = maskinfo_array_cdata(a);
        int ok = 1;
        for (int i = 0; i < 6; i++) if (d[i] != 0xff7f) ok = 0;
        CHECK(ok);
        maskinfo_array_free(a);
    }
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(m);
    free(cells);
}

/* ---------------------------------------------------------------- grid counts */

/* edges: n+1 non-decreasing values in [lo, hi], with repeats (empty buckets) */
static void random_edges(int64_t *e, int64_t n, int64_t lo, int64_t hi)
{
    for (int64_t i = 0; i <= n; i++) e[i] = lo + rndi(hi - lo + 1);
    /* insertion sort */
    for (int64_t i = 1; i <= n; i++)
        for (int64_t j = i; j > 0 && e[j - 1] > e[j]; j--) {
            int64_t t = e[j]; e[j] = e[j - 1]; e[j - 1] = t;
        }
}

static int grid_ok(const maskinfo_mask *m, const uint8_t *cells, int64_t H,
                   int64_t Q, int64_t K, int64_t b, int64_t h,
                   const int64_t *re, int64_t nr, const int64_t *ce, int64_t nc)
{
    uint64_t *got = malloc((size_t)(nr * nc + 1) * sizeof *got);
    if (maskinfo_mask_grid_counts(m, b, h, re, nr, ce, nc, got, NULL) != MASKINFO_OK) {
        free(got);
        return 0;
    }
    int ok = 1;
    for (int64_t i = 0; i < nr; i++)
        for (int64_t j = 0; j < nc; j++) {
            uint64_t want = 0;
            for (int64_t q = re[i]; q < re[i + 1]; q++)
                for (int64_t k = ce[j]; k < ce[j + 1]; k++)
                    want += cells[((b * H + h) * Q + q) * K + k] != 0;
            if (got[i * nc + j] != want) ok = 0;
        }
    free(got);
    return ok;
}

static void test_grid_counts(void)
{
    for (int trial = 0; trial < 40; trial++) {
        int64_t B = 1 + rndi(2), H = 1 + rndi(3), Q = 1 + rndi(60), K = 1 + rndi(200);
        int64_t n = B * H * Q * K;
        uint8_t *cells;
        maskinfo_mask *m = NULL;
        if (trial % 3 == 2) {
            /* a structured mask: segments with runs of ids */
            int64_t *qv = malloc((size_t)(B * Q) * sizeof *qv);
            int64_t *kv = malloc((size_t)(B * K) * sizeof *kv);
            for (int64_t i = 0; i < B * Q; i++) qv[i] = (i % Q) / 7 % 3;
            for (int64_t i = 0; i < B * K; i++)
                kv[i] = (i % K) % 11 == 10 ? MASKINFO_NOMATCH_KV : (i % K) / 9 % 3;
            CHECK(maskinfo_mask_segments(&m, B, 1, 1, Q, K, qv, kv) == MASKINFO_OK);
            H = 1;
            n = B * Q * K;
            cells = seg_ref(B, 1, 1, Q, K, qv, kv);
            free(qv);
            free(kv);
        } else {
            cells = random_cells(n, trial % 3 ? 70 : 20);
            CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
        }
        if (!m) { free(cells); continue; }
        int64_t nr = 1 + rndi(9), nc = 1 + rndi(17);
        int64_t re[10], ce[18];
        if (trial % 4 == 0) {
            /* the whole plane in even-ish blocks (uneven last block) */
            for (int64_t i = 0; i <= nr; i++) re[i] = i * Q / nr;
            for (int64_t j = 0; j <= nc; j++) ce[j] = j * K / nc;
        } else if (trial % 4 == 1) {
            /* a partial grid: edges inside the plane */
            random_edges(re, nr, rndi(Q / 2 + 1), Q - rndi(Q / 2 + 1));
            random_edges(ce, nc, rndi(K / 2 + 1), K - rndi(K / 2 + 1));
        } else {
            random_edges(re, nr, 0, Q);
            random_edges(ce, nc, 0, K);
        }
        int64_t b = rndi(B), h = rndi(H);
        CHECK(grid_ok(m, cells, H, Q, K, b, h, re, nr, ce, nc));
        maskinfo_mask_unref(m);
        free(cells);
    }
    /* empty buckets everywhere, one cell per bucket, and degenerate grids */
    {
        int64_t Q = 6, K = 6;
        uint8_t cells[36];
        for (int i = 0; i < 36; i++) cells[i] = (uint8_t)(i % 5 != 0);
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_bytes(&m, 1, 1, Q, K, cells, NULL) == MASKINFO_OK);
        int64_t re[4] = {0, 0, 6, 6}, ce[5] = {0, 3, 3, 3, 6};
        CHECK(grid_ok(m, cells, 1, Q, K, 0, 0, re, 3, ce, 4));
        int64_t unit[7] = {0, 1, 2, 3, 4, 5, 6};
        CHECK(grid_ok(m, cells, 1, Q, K, 0, 0, unit, 6, unit, 6));
        uint64_t cnt[4] = {9, 9, 9, 9};
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, re, 0, ce, 4, cnt, NULL) == MASKINFO_OK);
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, re, 3, ce, 0, cnt, NULL) == MASKINFO_OK);
        /* bad arguments */
        int64_t bad1[3] = {0, 4, 2}, bad2[2] = {-1, 3}, bad3[2] = {0, 7};
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, bad1, 2, ce, 4, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, bad2, 1, ce, 1, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, bad3, 1, ce, 1, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, unit, 1, bad1, 2, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, unit, 1, bad3, 1, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 1, 0, unit, 1, unit, 1, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 0, 1, unit, 1, unit, 1, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, -1, 0, unit, 1, unit, 1, cnt, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_grid_counts(m, 0, 0, unit, -1, unit, 1, cnt, NULL) == MASKINFO_EINVAL);
        maskinfo_mask_unref(m);
    }
}

/* ---------------------------------------------------------------- memory guard */
static void test_guard(void)
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

    /* to_array / to_bias: the guard is checked before the array exists */
    maskinfo_mask *c = NULL;
    CHECK(maskinfo_mask_constant(&c, 1, 1, 1 << 20, 1 << 20, 1) == MASKINFO_OK);
    arr = NULL;
    CHECK(maskinfo_mask_to_array(c, MASKINFO_BOOL, &arr, NULL) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_to_array(c, MASKINFO_FLOAT32, &arr, &small) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_to_bias(c, MASKINFO_FLOAT32, &arr, &small) == MASKINFO_ETOOBIG);
    CHECK(arr == NULL);
    maskinfo_mask_unref(c);
    /* the limit is inclusive: exactly max_bytes is allowed */
    CHECK(maskinfo_mask_constant(&c, 1, 2, 8, 16, 1) == MASKINFO_OK); /* 256 cells */
    maskinfo_limits exact = {1024}, under = {1023};
    CHECK(maskinfo_mask_to_array(c, MASKINFO_INT32, &arr, &exact) == MASKINFO_OK);
    maskinfo_array_free(arr);
    arr = NULL;
    CHECK(maskinfo_mask_to_array(c, MASKINFO_INT32, &arr, &under) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_to_array(c, MASKINFO_FLOAT16, &arr, &under) == MASKINFO_OK);
    maskinfo_array_free(arr);
    arr = NULL;
    CHECK(maskinfo_mask_to_bias(c, MASKINFO_FLOAT32, &arr, &under) == MASKINFO_ETOOBIG);
    CHECK(arr == NULL);
    maskinfo_mask_unref(c);
}

/* ---------------------------------------------------------------- threads */

typedef struct {
    uint64_t total, ph[6], empty, nd;
    int64_t first[4];
    uint8_t *flags, *cells, *rcells;
    uint64_t grid[7 * 9];
} snapshot;

static void take(snapshot *s, maskinfo_mask *m, maskinfo_mask *other)
{
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    int64_t rows = sh[0] * sh[1] * sh[2];
    s->flags = malloc((size_t)rows);
    CHECK(maskinfo_mask_count(m, &s->total, s->ph, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_empty_rows(m, &s->empty, s->flags, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_diff(m, other, &s->nd, s->first, NULL) == MASKINFO_OK);
    maskinfo_array *a = NULL;
    CHECK(maskinfo_mask_to_array(m, MASKINFO_BOOL, &a, NULL) == MASKINFO_OK);
    s->cells = malloc((size_t)(rows * sh[3]));
    if (a) memcpy(s->cells, maskinfo_array_cdata(a), (size_t)(rows * sh[3]));
    maskinfo_array_free(a);
    int64_t re[8], ce[10];
    for (int i = 0; i <= 7; i++) re[i] = i * sh[2] / 7;
    for (int j = 0; j <= 9; j++) ce[j] = j * sh[3] / 9;
    CHECK(maskinfo_mask_grid_counts(m, 1, 2, re, 7, ce, 9, s->grid, NULL) == MASKINFO_OK);
    /* a fresh random leaf, dense output and bias */
    maskinfo_mask *r = NULL;
    CHECK(maskinfo_mask_random(&r, 2, 3, 300, 301, 0.4, 77, NULL) == MASKINFO_OK);
    a = NULL;
    CHECK(r && maskinfo_mask_to_bias(r, MASKINFO_BFLOAT16, &a, NULL) == MASKINFO_OK);
    s->rcells = malloc(2 * 3 * 300 * 301 * 2);
    if (a) memcpy(s->rcells, maskinfo_array_cdata(a), 2 * 3 * 300 * 301 * 2);
    maskinfo_array_free(a);
    maskinfo_mask_unref(r);
}

static void test_threads(void)
{
    int64_t B = 2, H = 3, Q = 500, K = 333;
    uint8_t *cells = random_cells(B * H * Q * K, 30);
    /* dense rows with runs of zeros so that rows are not uniform */
    for (int64_t i = 0; i < B * H * Q * K; i++)
        if ((i / K) % 7 == 3) cells[i] = 0;
    maskinfo_mask *m = NULL, *other = NULL;
    CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_random(&other, B, H, Q, K, 0.3, 9, NULL) == MASKINFO_OK);
    free(cells);
    if (!m || !other) return;
    /* a composite over the dense leaves as well: (m and not other) or
     * (segments over heads), segments being structured */
    maskinfo_mask *no = NULL, *mo = NULL, *sg = NULL, *comp = NULL;
    int64_t *qv = malloc((size_t)(B * Q) * sizeof *qv), *kv = malloc((size_t)(B * K) * sizeof *kv);
    for (int64_t i = 0; i < B * Q; i++) qv[i] = (i % Q) / 50;
    for (int64_t i = 0; i < B * K; i++) kv[i] = (i % K) / 40;
    CHECK(maskinfo_mask_not(&no, other) == MASKINFO_OK);
    CHECK(maskinfo_mask_and(&mo, m, no) == MASKINFO_OK);
    CHECK(maskinfo_mask_segments(&sg, B, 1, 1, Q, K, qv, kv) == MASKINFO_OK);
    CHECK(maskinfo_mask_or(&comp, mo, sg) == MASKINFO_OK);
    free(qv);
    free(kv);
    maskinfo_mask *subjects[2] = {m, comp};
    for (int i = 0; i < 2; i++) {
        if (!subjects[i]) continue;
        snapshot s1, s4;
        memset(&s1, 0, sizeof s1);
        memset(&s4, 0, sizeof s4);
        omp_set_num_threads(1);
        take(&s1, subjects[i], other);
        omp_set_num_threads(4);
        take(&s4, subjects[i], other);
        CHECK(s1.total == s4.total && memcmp(s1.ph, s4.ph, sizeof s1.ph) == 0);
        CHECK(s1.empty == s4.empty);
        CHECK(memcmp(s1.flags, s4.flags, (size_t)(B * H * Q)) == 0);
        CHECK(s1.nd == s4.nd && s1.nd > 0 &&
              memcmp(s1.first, s4.first, sizeof s1.first) == 0);
        CHECK(memcmp(s1.cells, s4.cells, (size_t)(B * H * Q * K)) == 0);
        CHECK(memcmp(s1.grid, s4.grid, sizeof s1.grid) == 0);
        CHECK(memcmp(s1.rcells, s4.rcells, 2 * 3 * 300 * 301 * 2) == 0);
        if (i == 0) {
            CHECK(s1.empty >= (uint64_t)(B * H * (Q / 7)));
        } else {
            /* the composite's count agrees with its own dense output */
            uint64_t t = 0;
            for (int64_t j = 0; j < B * H * Q * K; j++) t += s1.cells[j];
            CHECK(t == s1.total);
        }
        free(s1.flags); free(s1.cells); free(s1.rcells);
        free(s4.flags); free(s4.cells); free(s4.rcells);
    }
    maskinfo_mask_unref(no);
    maskinfo_mask_unref(mo);
    maskinfo_mask_unref(sg);
    maskinfo_mask_unref(comp);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(other);
    omp_set_num_threads(2);
}

int main(void)
{
    test_constant();
    test_segments();
    test_dense();
    test_random();
    test_intervals();
    test_row_args();
    test_counts_and_empty();
    test_diff();
    test_to_array();
    test_to_bias();
    test_grid_counts();
    test_guard();
    test_threads();
    return check_summary();
}
