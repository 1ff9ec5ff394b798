/* test_eval.c - row evaluation through the public entry points: argument
 * checks of maskinfo_mask_row and maskinfo_mask_get, the scratch life
 * cycle, expressions of any depth (no recursion) and DAGs (shared nodes
 * evaluated once per row), and random DAGs against a cell reference.  The
 * rows of every kind are checked in test_leaves.c and test_ops.c
 * (mask_ref.h reads every row).  Only the public header is used. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pthreads */
#include "maskinfo.h"

#include <pthread.h>
#include <time.h>

#define TEST_RNG_SEED 0x65766131ull
#include "check.h"
#include "expr_ref.h"
#include "mask_ref.h"
#include "rng.h"

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

/* ---------------------------------------------------------------- depth */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A chain of n steps over a small (1, 1, 8, 70) shape, in one of five
 * forms, with a fresh leaf per step (so nothing simplifies away), checked
 * cell by cell; then dropped (freeing is a loop too).  n is far past what
 * a recursive walk survives in a 1 MiB stack. */
static void chain_case(int form, int dense, int64_t n)
{
    const int64_t Q = 8, K = 70;
    uint8_t ref[8 * 70], cell[8 * 70];
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_constant(&m, 1, 1, Q, K, form == 1 || form == 4 ? 0 : 1) == MASKINFO_OK);
    memset(ref, form == 1 || form == 4 ? 0 : 1, sizeof ref);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        maskinfo_mask *leaf = NULL, *next = NULL;
        int64_t off = -(i % 5) - 1, left = i % 7, right = 1 + (i % 3) * 20;
        if (dense && i % 1000 == 0) {
            for (int64_t c = 0; c < Q * K; c++) cell[c] = (uint8_t)(rndi(100) < 85);
            ok = maskinfo_mask_from_bytes(&leaf, 1, 1, Q, K, cell, NULL) == MASKINFO_OK;
        } else {
            ok = maskinfo_mask_window(&leaf, 1, Q, K, 1, &left, &right, &off) == MASKINFO_OK;
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) cell[q * K + k] = (uint8_t)(k >= q + off - left && k <= q + off + right);
        }
        if (!ok) break;
        switch (form) {
        case 0: ok = !maskinfo_mask_and(&next, m, leaf); break;    /* left-deep and */
        case 1: ok = !maskinfo_mask_or(&next, leaf, m); break;     /* right-deep or */
        case 2: ok = !maskinfo_mask_andnot(&next, m, leaf); break; /* m - leaf - leaf ... */
        case 3: { /* ~(~m & leaf): alternating kinds, nothing folds */
            maskinfo_mask *t = NULL, *u = NULL;
            ok = !maskinfo_mask_not(&t, m) && !maskinfo_mask_and(&u, t, leaf) && !maskinfo_mask_not(&next, u);
            maskinfo_mask_unref(t);
            maskinfo_mask_unref(u);
            break;
        }
        default: ok = !maskinfo_mask_or(&next, m, leaf); break;    /* left-deep or */
        }
        for (int64_t c = 0; c < Q * K; c++) {
            int a = ref[c], b = cell[c];
            ref[c] = (uint8_t)(form == 0 ? a && b : form == 1 || form == 4 ? a || b : form == 2 ? a && !b : !(!a && b));
        }
        maskinfo_mask_unref(leaf);
        maskinfo_mask_unref(m);
        m = next;
    }
    CHECKF(ok, "chain form %d: a constructor failed", form);
    /* rows through one scratch and the count (mask_matches_cells would ask
     * every cell separately, each a walk of the whole expression) */
    maskinfo_scratch *s = maskinfo_scratch_new();
    uint64_t want = 0, total = 0;
    for (int64_t q = 0; q < Q && ok; q++) {
        const int64_t *iv;
        int64_t nv, prev = 0;
        ok = maskinfo_mask_row(m, 0, 0, q, s, &iv, &nv) == MASKINFO_OK;
        for (int64_t i = 0; i <= nv && ok; i++) {
            int64_t lo = i < nv ? iv[2 * i] : K, hi = i < nv ? iv[2 * i + 1] : K;
            for (int64_t k = prev; k < hi; k++) ok = ok && (ref[q * K + k] != 0) == (k >= lo);
            prev = hi;
        }
    }
    for (int64_t c = 0; c < Q * K; c++) want += ref[c];
    CHECKF(ok, "chain form %d dense %d: rows differ", form, dense);
    CHECK(maskinfo_mask_count(m, &total, NULL, NULL) == MASKINFO_OK && total == want);
    maskinfo_scratch_free(s);
    maskinfo_mask_unref(m);
}

static void *deep_cases(void *arg)
{
    (void)arg;
    for (int form = 0; form < 5; form++) chain_case(form, 0, 100000);
    chain_case(0, 1, 50000);
    chain_case(2, 1, 50000);
    chain_case(3, 1, 50000);
    return NULL;
}

/* On a thread with a 1 MiB stack, as host programs often give theirs: a
 * recursive evaluator died there at about 12,000 levels. */
static void test_deep(void)
{
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, (size_t)1 << 20);
    CHECK(pthread_create(&t, &at, deep_cases, NULL) == 0 && pthread_join(t, NULL) == 0);
    pthread_attr_destroy(&at);
}

/* m = m | (m & w_i), 64 times: every step reuses m twice, so a tree walk
 * costs 2^64 rows; the memo makes it 64 steps per row. */
static void test_shared(void)
{
    for (int dense = 0; dense < 2; dense++) {
        const int64_t Q = 16, K = 100;
        uint8_t ref[16 * 100], cell[16 * 100];
        maskinfo_mask *m = NULL;
        for (int64_t c = 0; c < Q * K; c++) ref[c] = (uint8_t)(rndi(100) < 30);
        if (dense) {
            CHECK(maskinfo_mask_from_bytes(&m, 2, 1, Q, K / 2, ref, NULL) == MASKINFO_OK);
            maskinfo_mask *d = NULL;
            CHECK(maskinfo_mask_from_bytes(&d, 1, 1, Q, K, ref, NULL) == MASKINFO_OK);
            maskinfo_mask_unref(m);
            m = d;
        } else {
            int64_t off = -3;
            CHECK(maskinfo_mask_causal(&m, 1, Q, K, &off) == MASKINFO_OK);
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) ref[q * K + k] = (uint8_t)(k <= q - 3);
        }
        double t0 = now_s();
        for (int64_t i = 1; i <= 64; i++) {
            maskinfo_mask *w = NULL, *a = NULL, *o = NULL, *same = NULL;
            int64_t off = i % 9, left = i % 4, right = i % 6;
            CHECK(maskinfo_mask_window(&w, 1, Q, K, 1, &left, &right, &off) == MASKINFO_OK);
            CHECK(maskinfo_mask_and(&a, m, w) == MASKINFO_OK);
            CHECK(maskinfo_mask_or(&o, m, a) == MASKINFO_OK);
            CHECK(maskinfo_mask_or(&same, o, o) == MASKINFO_OK && same == o); /* a | a is a */
            maskinfo_mask_unref(same);
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) cell[q * K + k] = (uint8_t)(k >= q + off - left && k <= q + off + right);
            for (int64_t c = 0; c < Q * K; c++) ref[c] = (uint8_t)(ref[c] || (ref[c] && cell[c]));
            maskinfo_mask_unref(w);
            maskinfo_mask_unref(a);
            maskinfo_mask_unref(m);
            m = o;
        }
        uint64_t total = 0;
        CHECK(maskinfo_mask_count(m, &total, NULL, NULL) == MASKINFO_OK);
        CHECKF(now_s() - t0 < 2.0, "64 shared steps took %.3f s", now_s() - t0);
        CHECK(mask_matches_cells(m, ref, 1, 1, Q, K, "shared"));
        maskinfo_mask *nn = NULL, *n2 = NULL;
        CHECK(maskinfo_mask_not(&nn, m) == MASKINFO_OK && maskinfo_mask_not(&n2, nn) == MASKINFO_OK && n2 == m);
        maskinfo_mask_unref(nn);
        maskinfo_mask_unref(n2);
        uint64_t bytes = maskinfo_mask_bytes(m);
        CHECKF(bytes > 0 && bytes < 200000, "bytes of 64 shared steps: %llu", (unsigned long long)bytes);
        maskinfo_mask_unref(m);
    }
}

/* ---------------------------------------------------------------- random DAGs */

static uint32_t rng_next(void *ctx)
{
    (void)ctx;
    return rnd();
}

static void test_random_dags(void)
{
    xr_src src = {rng_next, NULL};
    for (int round = 0; round < 300; round++) {
        xr_pool p = {1 + rndi(3), 1 + rndi(3), rndi(7), rndi(90), NULL, 0, 0};
        int ok = 1;
        for (int step = 0, n = 2 + (int)rndi(25); step < n && ok; step++) ok = xr_step(&src, &p);
        CHECKF(ok, "round %d: a constructor failed", round);
        for (int64_t i = 0; i < p.count && ok; i++)
            ok = mask_matches_cells(p.n[i].m, p.n[i].ref, p.B, p.n[i].H, p.Q, p.K, "dag");
        CHECKF(ok, "round %d: a node differs from its reference", round);
        xr_free(&p);
    }
}

int main(void)
{
    test_row_args();
    test_deep();
    test_shared();
    test_random_dags();
    return check_summary();
}
