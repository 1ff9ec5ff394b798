/* test_conversions.c - segment ids from masks, validity, positions. */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#define TEST_RNG_SEED 0x1234567887654321ull
#include "rng.h"

static int same32(const int32_t *a, const int32_t *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static maskinfo_mask *from_cells(int64_t B, int64_t H, int64_t Q, int64_t K,
                                 const uint8_t *cells)
{
    maskinfo_mask *m = NULL;
    if (maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) != MASKINFO_OK)
        return NULL;
    return m;
}

/*
 * Naive reference for one (Q, K) plane, in the seed's terms: the anchor of
 * a row is the lowest row with the same pattern (pairwise comparison), and
 * ids number the distinct anchors of non-empty rows in increasing order.
 * `stride_q` / `stride_k` address cell (q, k) as plane[q*sq + k*sk], so the
 * same routine does columns (transpose) too.
 */
static void ref_ids(const uint8_t *plane, int64_t n, int64_t len,
                    int64_t sn, int64_t sl, int32_t *out)
{
    int64_t *anchor = malloc((size_t)n * sizeof *anchor);
    for (int64_t i = 0; i < n; i++) {
        anchor[i] = i;
        for (int64_t j = 0; j < i; j++) {
            int eq = 1;
            for (int64_t l = 0; l < len && eq; l++)
                eq = plane[i * sn + l * sl] == plane[j * sn + l * sl];
            if (eq) {
                anchor[i] = j;
                break;
            }
        }
    }
    int32_t next = 0;
    int32_t *id_of = malloc((size_t)(n ? n : 1) * sizeof *id_of);
    for (int64_t i = 0; i < n; i++) {
        int empty = 1;
        for (int64_t l = 0; l < len; l++)
            if (plane[i * sn + l * sl])
                empty = 0;
        if (empty) {
            out[i] = -1;
            continue;
        }
        if (anchor[i] == i)
            id_of[i] = next++;
        out[i] = id_of[anchor[i]];
    }
    free(id_of);
    free(anchor);
}

/* ---------------------------------------------------------- segment ids */

static void test_seed_example(void)
{
    /* _mask_to_segments_single docstring: [[1,1,0],[1,1,0],[0,0,1]] */
    const uint8_t cells[9] = { 1, 1, 0, 1, 1, 0, 0, 0, 1 };
    maskinfo_mask *m = from_cells(1, 1, 3, 3, cells);
    CHECK(m != NULL);
    int32_t q[3], kv[3];
    const int32_t want[3] = { 0, 0, 1 };
    CHECK(maskinfo_mask_segment_ids(m, 0, q, kv, NULL) == MASKINFO_OK);
    CHECK(same32(q, want, 3));
    CHECK(same32(kv, want, 3));
    CHECK(maskinfo_mask_segment_ids(m, 1, q, kv, NULL) == MASKINFO_OK);
    CHECK(same32(q, want, 3) && same32(kv, want, 3));
    maskinfo_mask_unref(m);

    /* _compress_ids_from_anchors example: anchors [0,0,2,2,4], last padded:
     * rows 0,1 equal, rows 2,3 equal, row 4 empty -> [0,0,1,1,-1] */
    const uint8_t c2[5 * 2] = { 1, 0, 1, 0, 0, 1, 0, 1, 0, 0 };
    m = from_cells(1, 1, 5, 2, c2);
    int32_t q5[5], kv2[2];
    const int32_t w5[5] = { 0, 0, 1, 1, -1 }, w2[2] = { 0, 1 };
    CHECK(maskinfo_mask_segment_ids(m, 0, q5, kv2, NULL) == MASKINFO_OK);
    CHECK(same32(q5, w5, 5) && same32(kv2, w2, 2));
    maskinfo_mask_unref(m);
}

static void test_empty_and_order(void)
{
    /* empty rows and columns get -1; ids follow first appearance */
    const uint8_t cells[4 * 3] = {
        0, 0, 0,
        1, 0, 1,
        0, 0, 0,
        1, 0, 1,
    };
    maskinfo_mask *m = from_cells(1, 1, 4, 3, cells);
    int32_t q[4], kv[3];
    const int32_t wq[4] = { -1, 0, -1, 0 }, wk[3] = { 0, -1, 0 };
    CHECK(maskinfo_mask_segment_ids(m, 0, q, kv, NULL) == MASKINFO_OK);
    CHECK(same32(q, wq, 4) && same32(kv, wk, 3));
    /* either output may be NULL */
    int32_t q2[4] = { 9, 9, 9, 9 }, kv2[3] = { 9, 9, 9 };
    CHECK(maskinfo_mask_segment_ids(m, 0, q2, NULL, NULL) == MASKINFO_OK);
    CHECK(same32(q2, wq, 4));
    CHECK(maskinfo_mask_segment_ids(m, 0, NULL, kv2, NULL) == MASKINFO_OK);
    CHECK(same32(kv2, wk, 3));
    CHECK(maskinfo_mask_segment_ids(NULL, 0, q, kv, NULL) == MASKINFO_EINVAL);
    maskinfo_mask_unref(m);

    const uint8_t c2[3 * 2] = { 0, 1, 1, 0, 0, 1 };
    m = from_cells(1, 1, 3, 2, c2);
    int32_t q3[3], k2[2];
    const int32_t w3[3] = { 0, 1, 0 }, wk2[2] = { 0, 1 };
    CHECK(maskinfo_mask_segment_ids(m, 0, q3, k2, NULL) == MASKINFO_OK);
    CHECK(same32(q3, w3, 3) && same32(k2, wk2, 2));
    maskinfo_mask_unref(m);
}

static void test_structured(void)
{
    /* segments [5,5,3,3,7,pad] per batch, second batch reversed-ish */
    const int64_t N = MASKINFO_NOMATCH_Q, NK = MASKINFO_NOMATCH_KV;
    const int64_t qv[2 * 6] = { 5, 5, 3, 3, 7, N, 1, 2, 2, 1, N, N };
    const int64_t kv[2 * 6] = { 5, 5, 3, 3, 7, NK, 1, 2, 2, 1, NK, NK };
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_segments(&m, 2, 1, 1, 6, 6, qv, kv) == MASKINFO_OK);
    int32_t q[12], k[12];
    const int32_t want[12] = { 0, 0, 1, 1, 2, -1, 0, 1, 1, 0, -1, -1 };
    CHECK(maskinfo_mask_segment_ids(m, 0, q, k, NULL) == MASKINFO_OK);
    CHECK(same32(q, want, 12) && same32(k, want, 12));
    maskinfo_mask_unref(m);

    /* causal: every row and every column is distinct */
    CHECK(maskinfo_mask_causal(&m, 1, 5, 5, NULL) == MASKINFO_OK);
    int32_t c[5], ck[5];
    const int32_t iota[5] = { 0, 1, 2, 3, 4 };
    CHECK(maskinfo_mask_segment_ids(m, 0, c, ck, NULL) == MASKINFO_OK);
    CHECK(same32(c, iota, 5) && same32(ck, iota, 5));

    /* per head: head 0 causal, head 1 all ones */
    maskinfo_mask *ones = NULL, *two = NULL;
    CHECK(maskinfo_mask_constant(&ones, 1, 1, 5, 5, 1) == MASKINFO_OK);
    maskinfo_mask *parts[2] = { m, ones };
    CHECK(maskinfo_mask_stack_heads(&two, parts, 2) == MASKINFO_OK);
    int32_t ph[10], pk[10];
    const int32_t wph[10] = { 0, 1, 2, 3, 4, 0, 0, 0, 0, 0 };
    CHECK(maskinfo_mask_segment_ids(two, 1, ph, pk, NULL) == MASKINFO_OK);
    CHECK(same32(ph, wph, 10) && same32(pk, wph, 10));
    /* per_head = 0 uses head 0 only (the seed's choice) */
    CHECK(maskinfo_mask_segment_ids(two, 0, c, ck, NULL) == MASKINFO_OK);
    CHECK(same32(c, iota, 5) && same32(ck, iota, 5));
    parts[1] = m;
    parts[0] = ones;
    maskinfo_mask *two_b = NULL;
    CHECK(maskinfo_mask_stack_heads(&two_b, parts, 2) == MASKINFO_OK);
    const int32_t zeros[5] = { 0, 0, 0, 0, 0 };
    CHECK(maskinfo_mask_segment_ids(two_b, 0, c, ck, NULL) == MASKINFO_OK);
    CHECK(same32(c, zeros, 5) && same32(ck, zeros, 5));
    maskinfo_mask_unref(two_b);
    maskinfo_mask_unref(two);
    maskinfo_mask_unref(ones);
    maskinfo_mask_unref(m);

    /* all-false mask: everything -1 */
    CHECK(maskinfo_mask_constant(&m, 2, 1, 3, 4, 0) == MASKINFO_OK);
    int32_t eq[6], ek[8];
    CHECK(maskinfo_mask_segment_ids(m, 0, eq, ek, NULL) == MASKINFO_OK);
    int allneg = 1;
    for (int i = 0; i < 6; i++) allneg &= eq[i] == -1;
    for (int i = 0; i < 8; i++) allneg &= ek[i] == -1;
    CHECK(allneg);
    maskinfo_mask_unref(m);
}

/* Rows drawn from a small palette so that duplicates are common. */
static void random_cells(uint8_t *cells, int64_t B, int64_t H, int64_t Q,
                         int64_t K)
{
    uint8_t pal[4][16];
    int dens = 1 + (int)rndi(9); /* density in tenths */
    for (int p = 0; p < 4; p++)
        for (int64_t k = 0; k < K; k++)
            pal[p][k] = (uint8_t)(rndi(10) < dens);
    int mode = (int)rndi(3);
    for (int64_t r = 0; r < B * H * Q; r++) {
        uint8_t *row = cells + r * K;
        int pick = (int)rndi(6);
        if (mode == 0 || pick >= 5) { /* fully random row */
            for (int64_t k = 0; k < K; k++)
                row[k] = (uint8_t)(rndi(10) < dens);
        } else if (pick == 4) {
            memset(row, 0, (size_t)K);
        } else {
            memcpy(row, pal[pick], (size_t)K);
        }
    }
}

static void test_random_vs_reference(void)
{
    int bad_q = 0, bad_k = 0, bad_rc = 0;
    for (int it = 0; it < 300; it++) {
        int64_t B = 1 + rndi(3), H = 1 + rndi(3);
        int64_t Q = 1 + rndi(14), K = 1 + rndi(14);
        uint8_t *cells = malloc((size_t)(B * H * Q * K));
        random_cells(cells, B, H, Q, K);
        maskinfo_mask *m = from_cells(B, H, Q, K, cells);
        int32_t *q = malloc((size_t)(B * H * Q) * sizeof *q);
        int32_t *k = malloc((size_t)(B * H * K) * sizeof *k);
        int32_t *rq = malloc((size_t)Q * sizeof *rq);
        int32_t *rk = malloc((size_t)K * sizeof *rk);
        for (int per_head = 0; per_head <= 1; per_head++) {
            if (!m || maskinfo_mask_segment_ids(m, per_head, q, k, NULL)) {
                bad_rc++;
                continue;
            }
            int64_t nh = per_head ? H : 1;
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < nh; h++) {
                    const uint8_t *plane = cells + (b * H + h) * Q * K;
                    ref_ids(plane, Q, K, K, 1, rq);
                    ref_ids(plane, K, Q, 1, K, rk);
                    if (!same32(q + (b * nh + h) * Q, rq, Q))
                        bad_q++;
                    if (!same32(k + (b * nh + h) * K, rk, K))
                        bad_k++;
                }
        }
        maskinfo_mask_unref(m);
        free(cells);
        free(q);
        free(k);
        free(rq);
        free(rk);
    }
    CHECK(bad_rc == 0);
    CHECK(bad_q == 0);
    CHECK(bad_k == 0);
}

/* Larger random masks: identical ids for 1, 2 and 3 threads. */
static void test_thread_invariance(void)
{
#ifdef _OPENMP
    const int64_t B = 2, H = 2, Q = 300, K = 257;
    uint8_t *cells = malloc((size_t)(B * H * Q * K));
    /* palette rows of 16 keys, spread over K keys (duplicates survive) */
    uint8_t *rows16 = malloc((size_t)(B * H * Q * 16));
    random_cells(rows16, B, H, Q, 16);
    for (int64_t r = 0; r < B * H * Q; r++)
        for (int64_t k = 0; k < K; k++)
            cells[r * K + k] = rows16[r * 16 + (k * 7) % 16];
    maskinfo_mask *m = from_cells(B, H, Q, K, cells);
    int32_t *q[3], *k[3];
    uint8_t *qv[3], *kv[3];
    int prev = omp_get_max_threads();
    int ok = m != NULL;
    for (int t = 0; t < 3; t++) {
        q[t] = malloc((size_t)(B * H * Q) * sizeof *q[t]);
        k[t] = malloc((size_t)(B * H * K) * sizeof *k[t]);
        qv[t] = malloc((size_t)(B * Q));
        kv[t] = malloc((size_t)(B * K));
        omp_set_num_threads(t + 1);
        ok &= m && maskinfo_mask_segment_ids(m, 1, q[t], k[t], NULL) == MASKINFO_OK;
        ok &= m && maskinfo_mask_validity(m, 1, qv[t], kv[t], NULL) == MASKINFO_OK;
    }
    omp_set_num_threads(prev);
    CHECK(ok);
    CHECK(same32(q[0], q[1], B * H * Q) && same32(q[0], q[2], B * H * Q));
    CHECK(same32(k[0], k[1], B * H * K) && same32(k[0], k[2], B * H * K));
    CHECK(memcmp(qv[0], qv[1], (size_t)(B * Q)) == 0 &&
          memcmp(qv[0], qv[2], (size_t)(B * Q)) == 0);
    CHECK(memcmp(kv[0], kv[1], (size_t)(B * K)) == 0 &&
          memcmp(kv[0], kv[2], (size_t)(B * K)) == 0);
    /* and the ids are right: compare one plane with the reference */
    int32_t *rq = malloc((size_t)Q * sizeof *rq);
    int32_t *rk = malloc((size_t)K * sizeof *rk);
    const uint8_t *plane = cells + (1 * H + 1) * Q * K;
    ref_ids(plane, Q, K, K, 1, rq);
    ref_ids(plane, K, Q, 1, K, rk);
    CHECK(same32(q[2] + 3 * Q, rq, Q) && same32(k[2] + 3 * K, rk, K));
    free(rq);
    free(rk);
    for (int t = 0; t < 3; t++) {
        free(q[t]);
        free(k[t]);
        free(qv[t]);
        free(kv[t]);
    }
    free(rows16);
    free(cells);
    maskinfo_mask_unref(m);
#endif
}

/* 2^18 tokens: a dense mask would need 2^36 cells; hashing needs O(tokens). */
static void test_long_sequence(void)
{
    const int64_t L = INT64_C(1) << 18, seg = 1000;
    int64_t *ids = malloc((size_t)L * sizeof *ids);
    for (int64_t i = 0; i < L; i++)
        ids[i] = (i / seg) * 3 + 11; /* ids need not be compact */
    maskinfo_mask *s = NULL, *c = NULL, *m = NULL;
    CHECK(maskinfo_mask_segments(&s, 1, 1, 1, L, L, ids, ids) == MASKINFO_OK);
    CHECK(maskinfo_mask_causal(&c, 1, L, L, NULL) == MASKINFO_OK);
    int32_t *q = malloc((size_t)L * sizeof *q), *k = malloc((size_t)L * sizeof *k);
    CHECK(maskinfo_mask_segment_ids(s, 0, q, k, NULL) == MASKINFO_OK);
    int ok = 1;
    for (int64_t i = 0; i < L; i++)
        if (q[i] != (int32_t)(i / seg) || k[i] != (int32_t)(i / seg))
            ok = 0;
    CHECK(ok);
    /* segments AND causal: every row within a segment differs */
    CHECK(maskinfo_mask_and(&m, s, c) == MASKINFO_OK);
    CHECK(maskinfo_mask_segment_ids(m, 0, q, k, NULL) == MASKINFO_OK);
    ok = 1;
    for (int64_t i = 0; i < L; i++)
        if (q[i] != (int32_t)i || k[i] != (int32_t)i)
            ok = 0;
    CHECK(ok);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(s);
    free(q);
    free(k);
    free(ids);
}

/* ---------------------------------------------------------- validity */

static void ref_validity(const uint8_t *cells, int64_t B, int64_t H,
                         int64_t Q, int64_t K, int mode, uint8_t *qv,
                         uint8_t *kv)
{
    memset(qv, 0, (size_t)(B * Q));
    memset(kv, 0, (size_t)(B * K));
    for (int64_t b = 0; b < B; b++)
        for (int64_t q = 0; q < Q; q++)
            for (int64_t k = 0; k < K; k++) {
                int v;
                if (mode == 2) {
                    v = cells[((b * H) * Q + q) * K + k];
                } else {
                    v = mode == 1;
                    for (int64_t h = 0; h < H; h++) {
                        int c = cells[((b * H + h) * Q + q) * K + k] != 0;
                        v = mode == 1 ? (v && c) : (v || c);
                    }
                }
                if (v) {
                    qv[b * Q + q] = 1;
                    kv[b * K + k] = 1;
                }
            }
}

static void test_validity(void)
{
    /* head 0: q0 110, q1 000;  head 1: q0 011, q1 001 */
    const uint8_t cells[2 * 2 * 3] = { 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1 };
    maskinfo_mask *m = from_cells(1, 2, 2, 3, cells);
    uint8_t q[2], k[3];
    CHECK(maskinfo_mask_validity(m, 0, q, k, NULL) == MASKINFO_OK);
    CHECK(q[0] == 1 && q[1] == 1 && k[0] == 1 && k[1] == 1 && k[2] == 1);
    CHECK(maskinfo_mask_validity(m, 1, q, k, NULL) == MASKINFO_OK);
    CHECK(q[0] == 1 && q[1] == 0 && k[0] == 0 && k[1] == 1 && k[2] == 0);
    CHECK(maskinfo_mask_validity(m, 2, q, k, NULL) == MASKINFO_OK);
    CHECK(q[0] == 1 && q[1] == 0 && k[0] == 1 && k[1] == 1 && k[2] == 0);
    memset(k, 7, sizeof k);
    CHECK(maskinfo_mask_validity(m, 1, q, NULL, NULL) == MASKINFO_OK);
    CHECK(q[0] == 1 && q[1] == 0 && k[0] == 7);
    CHECK(maskinfo_mask_validity(m, 0, NULL, k, NULL) == MASKINFO_OK);
    CHECK(k[0] == 1 && k[2] == 1);
    CHECK(maskinfo_mask_validity(m, 3, q, k, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_validity(m, -1, q, k, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_validity(NULL, 0, q, k, NULL) == MASKINFO_EINVAL);
    maskinfo_mask_unref(m);

    /* segments with padding: q valid iff id not padding (and matched) */
    const int64_t N = MASKINFO_NOMATCH_Q, NK = MASKINFO_NOMATCH_KV;
    const int64_t ids_q[6] = { 0, 0, 1, 1, N, N };
    const int64_t ids_k[6] = { 0, 0, 1, NK, NK, 5 };
    CHECK(maskinfo_mask_segments(&m, 1, 1, 1, 6, 6, ids_q, ids_k) == MASKINFO_OK);
    uint8_t q6[6], k6[6];
    const uint8_t wq6[6] = { 1, 1, 1, 1, 0, 0 }, wk6[6] = { 1, 1, 1, 0, 0, 0 };
    CHECK(maskinfo_mask_validity(m, 0, q6, k6, NULL) == MASKINFO_OK);
    CHECK(memcmp(q6, wq6, 6) == 0 && memcmp(k6, wk6, 6) == 0);
    maskinfo_mask_unref(m);

    int bad = 0, bad_rc = 0;
    for (int it = 0; it < 300; it++) {
        int64_t B = 1 + rndi(3), H = 1 + rndi(4);
        int64_t Q = 1 + rndi(12), K = 1 + rndi(12);
        uint8_t *c = malloc((size_t)(B * H * Q * K));
        random_cells(c, B, H, Q, K);
        /* make "all heads" interesting: often copy head 0 into others */
        if (rndi(2))
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 1; h < H; h++)
                    for (int64_t i = 0; i < Q * K; i++)
                        if (rndi(4))
                            c[(b * H + h) * Q * K + i] = c[b * H * Q * K + i];
        maskinfo_mask *mm = from_cells(B, H, Q, K, c);
        uint8_t *qv = malloc((size_t)(B * Q)), *kv = malloc((size_t)(B * K));
        uint8_t *rq = malloc((size_t)(B * Q)), *rk = malloc((size_t)(B * K));
        for (int mode = 0; mode < 3; mode++) {
            if (!mm || maskinfo_mask_validity(mm, mode, qv, kv, NULL)) {
                bad_rc++;
                continue;
            }
            ref_validity(c, B, H, Q, K, mode, rq, rk);
            if (memcmp(qv, rq, (size_t)(B * Q)) || memcmp(kv, rk, (size_t)(B * K)))
                bad++;
        }
        maskinfo_mask_unref(mm);
        free(c);
        free(qv);
        free(kv);
        free(rq);
        free(rk);
    }
    CHECK(bad_rc == 0);
    CHECK(bad == 0);
}

/* ---------------------------------------------------------- positions */

static void test_positions(void)
{
    /* the seed: [[-1,-1,0,0,0,1,1,-1]] -> [[-1,-1,0,1,2,0,1,-1]] */
    const int32_t ids[8] = { -1, -1, 0, 0, 0, 1, 1, -1 };
    const int32_t want[8] = { -1, -1, 0, 1, 2, 0, 1, -1 };
    int32_t out[8];
    maskinfo_positions_from_segments(ids, 1, 8, -1, out);
    CHECK(same32(out, want, 8));
    /* README: [[1,1,2,2]] -> [0,1,0,1]; kv padding gets int32 max */
    const int32_t i2[4] = { 1, 1, 2, 2 }, w2[4] = { 0, 1, 0, 1 };
    maskinfo_positions_from_segments(i2, 1, 4, -1, out);
    CHECK(same32(out, w2, 4));
    const int32_t i3[6] = { 0, 0, -1, 0, 0, 0 };
    const int32_t w3[6] = { 0, 1, INT32_MAX, 0, 1, 2 };
    maskinfo_positions_from_segments(i3, 1, 6, INT32_MAX, out);
    CHECK(same32(out, w3, 6)); /* padding restarts even the same id */
    /* returning to an earlier id starts over; every row is independent */
    const int32_t i4[2 * 4] = { 0, 1, 0, 0, 3, 3, 3, -1 };
    const int32_t w4[2 * 4] = { 0, 0, 0, 1, 0, 1, 2, -7 };
    maskinfo_positions_from_segments(i4, 2, 4, -7, out);
    CHECK(same32(out, w4, 8));
    /* any negative id is padding */
    const int32_t i5[4] = { 2, -5, 2, 2 }, w5[4] = { 0, -1, 0, 1 };
    maskinfo_positions_from_segments(i5, 1, 4, -1, out);
    CHECK(same32(out, w5, 4));

    /* property: a valid token's position is the number of tokens right
     * before it, without a break, that carry the same id */
    int bad = 0;
    for (int it = 0; it < 200; it++) {
        int64_t rows = 1 + rndi(4), len = 1 + rndi(40);
        int32_t *in = malloc((size_t)(rows * len) * sizeof *in);
        int32_t *o = malloc((size_t)(rows * len) * sizeof *o);
        for (int64_t i = 0; i < rows * len; i++)
            in[i] = (int32_t)rndi(4) - 1;
        maskinfo_positions_from_segments(in, rows, len, -3, o);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < len; i++) {
                const int32_t *row = in + r * len;
                int32_t expect = -3;
                if (row[i] >= 0) {
                    expect = 0;
                    for (int64_t j = i - 1; j >= 0 && row[j] == row[i]; j--)
                        expect++;
                }
                if (o[r * len + i] != expect)
                    bad++;
            }
        free(in);
        free(o);
    }
    CHECK(bad == 0);
    /* empty input is a no-op */
    out[0] = 42;
    maskinfo_positions_from_segments(ids, 0, 8, -1, out);
    maskinfo_positions_from_segments(ids, 1, 0, -1, out);
    CHECK(out[0] == 42);
}

/* segment_ids and validity honour the caller's guard: their per-row hash
 * arrays, per-thread accumulators and row scratch are checked before they
 * are allocated. */
static void test_limits(void)
{
    const int64_t Q = 400, K = 300;
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, Q, K, NULL) == MASKINFO_OK);
    if (!m) return;
    int32_t *qi = malloc((size_t)Q * sizeof *qi), *ki = malloc((size_t)K * sizeof *ki);
    int32_t *qj = malloc((size_t)Q * sizeof *qj), *kj = malloc((size_t)K * sizeof *kj);
    uint8_t qv[400], kv[300], qw[400], kw[300];
    maskinfo_limits tiny = {64}, roomy = {1 << 24};
    CHECK(maskinfo_mask_segment_ids(m, 0, qi, ki, &tiny) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_segment_ids(m, 0, qi, ki, &roomy) == MASKINFO_OK);
    CHECK(maskinfo_mask_segment_ids(m, 0, qj, kj, NULL) == MASKINFO_OK);
    CHECK(memcmp(qi, qj, (size_t)Q * sizeof *qi) == 0 && memcmp(ki, kj, (size_t)K * sizeof *ki) == 0);
    CHECK(maskinfo_mask_validity(m, MASKINFO_HEADS_ANY, qv, kv, &tiny) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_validity(m, MASKINFO_HEADS_ANY, qv, kv, &roomy) == MASKINFO_OK);
    CHECK(maskinfo_mask_validity(m, MASKINFO_HEADS_ANY, qw, kw, NULL) == MASKINFO_OK);
    CHECK(memcmp(qv, qw, sizeof qv) == 0 && memcmp(kv, kw, sizeof kv) == 0);
    free(qi);
    free(ki);
    free(qj);
    free(kj);
    maskinfo_mask_unref(m);
}

/* ------------------------------------------------------------ spans */

/* valid_spans and spans_to_valid against a scan per row, over random rows
 * (empty, full, one run, scattered) of lengths around the word sizes. */
static void test_spans(void)
{
    for (int rep = 0; rep < 200; rep++) {
        const int64_t rows = 1 + rndi(5), len = rndi(70);
        uint8_t *v = malloc((size_t)(rows * len + 1));
        int32_t *sp = malloc((size_t)rows * 2 * sizeof *sp);
        for (int64_t i = 0; i < rows * len; i++)
            v[i] = (uint8_t)(rndi(3) == 0 ? 0 : rndi(256) * (rep % 4 != 0));
        maskinfo_valid_spans(v, rows, len, sp);
        int ok = 1;
        for (int64_t r = 0; r < rows; r++) {
            int64_t first = -1, last = -1;
            for (int64_t j = 0; j < len; j++)
                if (v[r * len + j]) {
                    if (first < 0) first = j;
                    last = j;
                }
            ok &= first < 0 ? sp[2 * r] == 0 && sp[2 * r + 1] == 0
                            : sp[2 * r] == first && sp[2 * r + 1] == last + 1;
        }
        CHECKF(ok, "valid_spans rep %d", rep);
        int64_t *pairs = malloc((size_t)rows * 2 * sizeof *pairs);
        for (int64_t r = 0; r < rows; r++) {
            pairs[2 * r] = rndi(len + 3) - 1; /* clipped at both ends */
            pairs[2 * r + 1] = rndi(len + 3) - 1;
        }
        maskinfo_spans_to_valid(pairs, rows, len, v);
        ok = 1;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < len; j++)
                ok &= v[r * len + j] == (j >= pairs[2 * r] && j < pairs[2 * r + 1]);
        CHECKF(ok, "spans_to_valid rep %d", rep);
        free(pairs);
        free(sp);
        free(v);
    }
}

int main(void)
{
    test_seed_example();
    test_empty_and_order();
    test_structured();
    test_random_vs_reference();
    test_thread_invariance();
    test_long_sequence();
    test_validity();
    test_positions();
    test_spans();
    test_limits();
    return check_summary();
}
