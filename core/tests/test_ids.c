/* test_ids.c - the O(n) id passes and Array tests against naive loops. */
#include "maskinfo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#define TEST_RNG_SEED 0x1d5c0ffee1d5ull
#include "rng.h"

static void random_ids(int32_t *ids, int64_t n, int32_t hi)
{
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)rndr(-1, hi);
}

static void test_counts(void)
{
    enum { R = 3, L = 1000, N = R * L, MS = 40 };
    static int32_t ids[N], cu[MS + 1], cnt[MS], ref[MS + 1], rows[R];
    random_ids(ids, N, MS - 1);
    int64_t bad = -7;
    CHECK(maskinfo_ids_max(ids, N) <= MS - 1);
    CHECK(maskinfo_ids_max(ids, 0) == -1);
    CHECK(maskinfo_ids_bincount(ids, N, MS, cnt, &bad) == MASKINFO_OK);
    memset(ref, 0, sizeof ref);
    for (int i = 0; i < N; i++)
        if (ids[i] >= 0) ref[ids[i]]++;
    CHECK(memcmp(cnt, ref, sizeof cnt) == 0);
    CHECK(maskinfo_ids_cu_seqlens(ids, N, MS, cu, &bad) == MASKINFO_OK);
    int32_t acc = 0;
    int ok = cu[0] == 0;
    for (int v = 0; v < MS; v++) ok &= cu[v + 1] == (acc += ref[v]);
    CHECK(ok);
    /* the first id past the bins is named, in flat order */
    ids[5] = MS + 3;
    ids[9] = MS + 1;
    CHECK(maskinfo_ids_cu_seqlens(ids, N, MS, cu, &bad) == MASKINFO_EINVAL && bad == MS + 3);
    int first = 0;
    while (ids[first] < 0) first++;
    CHECK(maskinfo_ids_bincount(ids, N, 0, NULL, &bad) == MASKINFO_EINVAL && bad == ids[first]);
    maskinfo_ids_valid_per_row(ids, R, L, rows);
    ok = 1;
    for (int r = 0; r < R; r++) {
        int32_t c = 0;
        for (int j = 0; j < L; j++) c += ids[r * L + j] != -1;
        ok &= rows[r] == c;
    }
    CHECK(ok);
}

/* ids in runs (documents, padding, ids that come back), as bincount counts
 * them a run at a time, against a naive count; the first id past the bins
 * in flat order is named, also inside a run */
static void test_bincount_runs(void)
{
    enum { N = 3000, MS = 40 };
    static int32_t ids[N], cnt[MS], ref[MS];
    for (int i = 0; i < N; i++) ids[i] = (i / 37) % 9 == 4 ? -1 : (int32_t)((i / 37 * 5) % MS);
    int64_t bad = -7;
    CHECK(maskinfo_ids_bincount(ids, N, MS, cnt, &bad) == MASKINFO_OK);
    memset(ref, 0, sizeof ref);
    for (int i = 0; i < N; i++)
        if (ids[i] >= 0) ref[ids[i]]++;
    CHECK(memcmp(cnt, ref, sizeof cnt) == 0);
    ids[100] = ids[101] = MS + 3;
    ids[2000] = MS + 1;
    CHECK(maskinfo_ids_bincount(ids, N, MS, cnt, &bad) == MASKINFO_EINVAL && bad == MS + 3);
}

static void test_chunk(void)
{
    enum { R = 2, L = 37 };
    int32_t ids[R * L], out[R * L];
    random_ids(ids, R * L, 3);
    for (int64_t chunk = 1; chunk <= L + 2; chunk++) {
        CHECK(maskinfo_ids_chunk(ids, R, L, chunk, out) == MASKINFO_OK);
        int ok = 1;
        for (int i = 0; i < R * L; i++)
            ok &= out[i] == (ids[i] < 0 ? -1 : (int32_t)((i % L) / chunk + 1));
        CHECKF(ok, "chunk %lld", (long long)chunk);
    }
    CHECK(maskinfo_ids_chunk(ids, R, L, 0, out) == MASKINFO_EINVAL);
}

static void test_where(void)
{
    const maskinfo_dtype src[] = {MASKINFO_BOOL, MASKINFO_INT32, MASKINFO_FLOAT32, MASKINFO_FLOAT16,
                                  MASKINFO_BFLOAT16, MASKINFO_INT64, MASKINFO_UINT8};
    const double vals[] = {0, 1, -1, 2, -2, 0.5, -0.5, 1.5, NAN, -3};
    int64_t shape[2] = {3, 10};
    for (size_t s = 0; s < sizeof src / sizeof *src; s++) {
        maskinfo_array *a = NULL;
        if (maskinfo_array_new(&a, src[s], 2, shape, NULL)) { check_fail_msg("array_new"); return; }
        for (int i = 0; i < 30; i++) maskinfo_array_set(a, i, vals[i % 10]);
        for (int t = 0; t <= MASKINFO_TEST_ABS_GE; t++)
            for (int od = 0; od < 2; od++) {
                maskinfo_dtype dt = od ? MASKINFO_INT32 : MASKINFO_BOOL;
                double c = t == MASKINFO_TEST_EQ ? -1 : 1, yes = od ? -1 : 1, no = 0;
                maskinfo_array *o = NULL;
                CHECK(maskinfo_array_where(a, (maskinfo_test)t, c, yes, no, dt, &o, NULL) == MASKINFO_OK);
                if (!o) continue;
                int ok = maskinfo_array_ndim(o) == 2 && maskinfo_array_shape(o)[1] == 10 &&
                         maskinfo_array_dtype(o) == dt;
                for (int i = 0; ok && i < 30; i++) {
                    double x = maskinfo_array_get(a, i);
                    int p = t == 0 ? x != 0 : t == 1 ? x == c : (x >= c || x <= -c);
                    ok &= maskinfo_array_get(o, i) == (p ? (od ? yes : 1) : no);
                }
                CHECKF(ok, "where src %d test %d out %d", (int)src[s], t, od);
                maskinfo_array_free(o);
            }
        maskinfo_array_free(a);
    }
    /* the guard refuses before anything is written */
    maskinfo_limits lim = {.max_bytes = 16};
    maskinfo_array *a = NULL, *o = NULL;
    if (maskinfo_array_new(&a, MASKINFO_BOOL, 2, shape, NULL) == MASKINFO_OK) {
        CHECK(maskinfo_array_where(a, MASKINFO_TEST_NONZERO, 0, 0, 1, MASKINFO_INT32, &o, &lim) ==
              MASKINFO_ETOOBIG && o == NULL);
        maskinfo_array_free(a);
    }
}

/* min, replace and cut against naive loops, in place and not, over random
 * (B, inner, len) ids with padding and lengths past the row */
static void test_min_replace_cut(void)
{
    for (int trial = 0; trial < 30; trial++) {
        int64_t B = 1 + rndi(3), inner = 1 + rndi(3), len = rndi(40), n = B * inner * len;
        int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids), *out = malloc((size_t)(n + 1) * sizeof *out);
        int64_t lens[3];
        random_ids(ids, n, 5);
        if (n && trial % 3 == 0) ids[rndi(n)] = INT32_MIN;
        int32_t mn = INT32_MAX;
        for (int64_t i = 0; i < n; i++) mn = ids[i] < mn ? ids[i] : mn;
        CHECK(maskinfo_ids_min(ids, n) == mn);
        int32_t from = (int32_t)rndr(-1, 2), to = (int32_t)rndr(-3, 3);
        maskinfo_ids_replace(ids, n, from, to, out);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) ok &= out[i] == (ids[i] == from ? to : ids[i]);
        CHECKF(ok, "ids_replace trial %d", trial);
        for (int64_t b = 0; b < B; b++) lens[b] = rndi(len + 5);
        maskinfo_ids_cut(ids, B, inner, len, lens, out);
        ok = 1;
        for (int64_t i = 0; i < n; i++) ok &= out[i] == (i % len < lens[i / (inner * len)] ? ids[i] : -1);
        CHECKF(ok, "ids_cut trial %d", trial);
        memcpy(out, ids, (size_t)n * sizeof *ids);
        maskinfo_ids_cut(out, B, inner, len, lens, out); /* in place */
        for (int64_t i = 0; i < n; i++) ok &= out[i] == (i % len < lens[i / (inner * len)] ? ids[i] : -1);
        CHECKF(ok, "ids_cut in place, trial %d", trial);
        free(ids);
        free(out);
    }
    CHECK(maskinfo_ids_min(NULL, 0) == INT32_MAX);
}

int main(void)
{
    test_counts();
    test_bincount_runs();
    test_chunk();
    test_where();
    test_min_replace_cut();
    return check_summary();
}
