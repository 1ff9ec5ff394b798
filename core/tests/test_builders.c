/* test_builders.c - the builders for ML inputs (builders.c): segment ids from
 * lengths and from packed cu_seqlens, arange positions, numbered image runs,
 * and tree attention against a reference that walks every node's ancestors;
 * bad inputs report the offending index; a 1,048,576-node chain stays
 * compact; a tree whose rows need many runs is refused by the guard.  Only
 * the public header is used. */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#define TEST_RNG_SEED 0x5eed0b1d7e55ull
#include "rng.h"
#include "mask_ref.h"

static int same_i32(const int32_t *got, const int32_t *want, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("  element %lld: got %d, want %d\n", (long long)i, got[i], want[i]);
            return 0;
        }
    return 1;
}

static void test_lengths(void) {
    int32_t ids[8];
    int64_t bad = 99;
    CHECK(maskinfo_ids_from_lengths((int64_t[]){3, 0, 2}, 3, 7, ids, &bad) == MASKINFO_OK);
    CHECK(bad == -1);
    CHECK(same_i32(ids, (int32_t[]){0, 0, 0, 2, 2, -1, -1}, 7));
    CHECK(maskinfo_ids_from_lengths(NULL, 0, 3, ids, &bad) == MASKINFO_OK);
    CHECK(same_i32(ids, (int32_t[]){-1, -1, -1}, 3));
    CHECK(maskinfo_ids_from_lengths((int64_t[]){4, 4}, 2, 8, ids, NULL) == MASKINFO_OK);
    CHECK(same_i32(ids, (int32_t[]){0, 0, 0, 0, 1, 1, 1, 1}, 8));
    CHECK(maskinfo_ids_from_lengths((int64_t[]){2, -1}, 2, 8, ids, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 1);
    CHECK(maskinfo_ids_from_lengths((int64_t[]){5, 2, 2}, 3, 8, ids, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 2);
    /* a sum that would overflow int64 is caught, not wrapped */
    CHECK(maskinfo_ids_from_lengths((int64_t[]){INT64_MAX, INT64_MAX}, 2, 8, ids, &bad) ==
          MASKINFO_EINVAL);
    CHECK(bad == 0);
    CHECK(maskinfo_ids_from_lengths((int64_t[]){1}, 1, -1, ids, &bad) == MASKINFO_EINVAL);
}

static void test_cu(void) {
    int32_t ids[16];
    int64_t bad = 99;
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){0, 5, 12, 16}, 4, 16, ids, &bad) == MASKINFO_OK);
    CHECK(bad == -1);
    CHECK(same_i32(ids, (int32_t[]){0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2}, 16));
    /* an empty document takes an id but no token */
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){0, 2, 2, 3}, 4, 3, ids, &bad) == MASKINFO_OK);
    CHECK(same_i32(ids, (int32_t[]){0, 0, 2}, 3));
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){0}, 1, 0, ids, &bad) == MASKINFO_OK);
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){1, 5}, 2, 5, ids, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 0);
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){0, 5, 3, 8}, 4, 8, ids, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 2);
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){0, 5, 7}, 3, 8, ids, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 2);
    CHECK(maskinfo_ids_from_cu_seqlens((int64_t[]){0, 9, 8}, 3, 8, ids, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 1);
    CHECK(maskinfo_ids_from_cu_seqlens(NULL, 0, 0, ids, &bad) == MASKINFO_EINVAL);
}

static void test_arange(void) {
    int32_t out[6];
    CHECK(maskinfo_positions_arange(2, 3, 5, out) == MASKINFO_OK);
    CHECK(same_i32(out, (int32_t[]){5, 6, 7, 5, 6, 7}, 6));
    CHECK(maskinfo_positions_arange(1, 3, INT32_MAX - 2, out) == MASKINFO_OK);
    CHECK(out[2] == INT32_MAX);
    CHECK(maskinfo_positions_arange(1, 3, INT32_MAX - 1, out) == MASKINFO_EOVERFLOW);
    CHECK(maskinfo_positions_arange(1, 0, INT64_MAX, out) == MASKINFO_OK);
    CHECK(maskinfo_positions_arange(-1, 3, 0, out) == MASKINFO_EINVAL);
}

static void test_image_runs(void) {
    int32_t out[10];
    int64_t bad = 99;
    const int32_t types[10] = {0, 1, 1, 0, 1, 1, 2, 2, 0, 1};
    CHECK(maskinfo_image_runs(types, 1, 10, out, &bad) == MASKINFO_OK);
    CHECK(bad == -1);
    /* runs are maximal stretches of one non-zero type: 1 1 | 2 2 are two */
    CHECK(same_i32(out, (int32_t[]){0, 1, 1, 0, 2, 2, 3, 3, 0, 4}, 10));
    /* numbering restarts in each row; a run cannot continue across rows */
    const int32_t two[6] = {1, 1, 1, 1, 0, 1};
    CHECK(maskinfo_image_runs(two, 2, 3, out, &bad) == MASKINFO_OK);
    CHECK(same_i32(out, (int32_t[]){1, 1, 1, 1, 0, 2}, 6));
    const int32_t neg[3] = {0, 1, -1};
    CHECK(maskinfo_image_runs(neg, 1, 3, out, &bad) == MASKINFO_EINVAL);
    CHECK(bad == 2);
}

/* The reference: cell (i, prefix + j) for every ancestor-or-self j of i,
 * and the prefix keys. */
static uint8_t *tree_ref(const int64_t *parents, int64_t n, int64_t prefix) {
    int64_t K = prefix + n;
    uint8_t *c = calloc((size_t)(n * K > 0 ? n * K : 1), 1);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < prefix; k++) c[i * K + k] = 1;
        for (int64_t j = i; j >= 0; j = parents[j]) c[i * K + prefix + j] = 1;
    }
    return c;
}

static void check_tree(const int64_t *parents, int64_t n, int64_t prefix, const char *label) {
    maskinfo_mask *m = NULL;
    int32_t *depth = malloc((size_t)(n > 0 ? n : 1) * sizeof *depth);
    int32_t *root = malloc((size_t)(n > 0 ? n : 1) * sizeof *root);
    int st = maskinfo_mask_tree(&m, parents, n, prefix, depth, root, NULL, NULL);
    CHECKF(st == MASKINFO_OK, "%s: status %d", label, st);
    if (!st) {
        uint8_t *ref = tree_ref(parents, n, prefix);
        CHECK(mask_matches_cells(m, ref, 1, 1, n, prefix + n, label));
        free(ref);
        int ok = 1;
        int32_t roots = 0;
        for (int64_t i = 0; i < n; i++) {
            int32_t d = 0;
            int64_t j = i;
            while (parents[j] >= 0) j = parents[j], d++;
            int32_t want_root = parents[i] < 0 ? roots++ : root[parents[i]];
            ok = ok && depth[i] == d && root[i] == want_root && root[j] == root[i];
        }
        CHECKF(ok, "%s: depth or root ids", label);
        maskinfo_mask_unref(m);
    }
    free(depth);
    free(root);
}

static void test_tree(void) {
    /* Medusa's example: a root, its top-2, and the top-3 of each */
    const int64_t medusa[9] = {-1, 0, 0, 1, 1, 1, 2, 2, 2};
    check_tree(medusa, 9, 0, "medusa");
    check_tree(medusa, 9, 5, "medusa after a 5-token prefix");
    const int64_t forest[6] = {-1, -1, 0, 1, 2, 2};
    check_tree(forest, 6, 0, "forest");
    check_tree(forest, 6, 1, "forest after a 1-token prefix");
    check_tree(NULL, 0, 0, "empty");
    check_tree(NULL, 0, 4, "empty after a prefix");
    for (int round = 0; round < 40; round++) {
        int64_t n = rndr(1, 60), prefix = rndi(3) == 0 ? 0 : rndr(1, 8);
        int64_t *p = malloc((size_t)n * sizeof *p);
        for (int64_t i = 0; i < n; i++) p[i] = (i == 0 || rndi(6) == 0) ? -1 : rndi(i);
        char label[64];
        snprintf(label, sizeof label, "random tree %d (n %lld)", round, (long long)n);
        check_tree(p, n, prefix, label);
        free(p);
    }

    maskinfo_mask *m = NULL;
    int32_t depth[4], root[4];
    int64_t bad = 99;
    CHECK(maskinfo_mask_tree(&m, (int64_t[]){-1, 0, 2, 1}, 4, 0, depth, root, &bad, NULL) ==
          MASKINFO_EINVAL);
    CHECK(bad == 2);
    CHECK(maskinfo_mask_tree(&m, (int64_t[]){-1, -2}, 2, 0, depth, root, &bad, NULL) == MASKINFO_EINVAL);
    CHECK(bad == 1);
    CHECK(maskinfo_mask_tree(&m, (int64_t[]){-1}, 1, -1, depth, root, &bad, NULL) == MASKINFO_EINVAL);
    CHECK(m == NULL);
}

/* A chain of 2^20 nodes is a causal mask: one run per row. */
static void test_chain(void) {
    int64_t n = (int64_t)1 << 20;
    int64_t *p = malloc((size_t)n * sizeof *p);
    int32_t *depth = malloc((size_t)n * sizeof *depth), *root = malloc((size_t)n * sizeof *root);
    for (int64_t i = 0; i < n; i++) p[i] = i - 1;
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_tree(&m, p, n, 0, depth, root, NULL, NULL) == MASKINFO_OK);
    if (m) {
        uint64_t total = 0;
        CHECK(maskinfo_mask_count(m, &total, NULL, NULL) == MASKINFO_OK);
        CHECK(total == (uint64_t)n * (uint64_t)(n + 1) / 2);
        CHECKF(maskinfo_mask_bytes(m) < (uint64_t)64 << 20, "chain holds %llu bytes",
               (unsigned long long)maskinfo_mask_bytes(m));
        CHECK(depth[n - 1] == n - 1 && root[n - 1] == 0);
        maskinfo_mask_unref(m);
    }
    /* Two interleaved chains: node i's ancestors are every second node, so
     * the rows hold n^2/4 runs in all; a small guard refuses them. */
    int64_t k = 4096;
    for (int64_t i = 0; i < k; i++) p[i] = i < 2 ? -1 : i - 2;
    maskinfo_limits lim = {1 << 20};
    m = NULL;
    CHECK(maskinfo_mask_tree(&m, p, k, 0, depth, root, NULL, &lim) == MASKINFO_ETOOBIG);
    CHECK(m == NULL);
    lim.max_bytes = 0; /* the default guard lets it through */
    CHECK(maskinfo_mask_tree(&m, p, k, 0, depth, root, NULL, &lim) == MASKINFO_OK);
    if (m) {
        uint64_t total = 0;
        CHECK(maskinfo_mask_count(m, &total, NULL, NULL) == MASKINFO_OK);
        uint64_t want = 0;
        for (int64_t i = 0; i < k; i++) want += (uint64_t)(i / 2 + 1);
        CHECK(total == want);
        maskinfo_mask_unref(m);
    }
    free(p);
    free(depth);
    free(root);
}

int main(void) {
    test_lengths();
    test_cu();
    test_arange();
    test_image_runs();
    test_tree();
    test_chain();
    return check_summary();
}
