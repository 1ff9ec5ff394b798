/*
 * mask_ref.h - compare a mask with a naive reference: one byte per cell of
 * shape (B, H, Q, K), row-major, nonzero = allowed.  Shared by the C tests
 * that build references cell by cell (test_ops.c, test_leaves.c,
 * test_reduce.c).
 * Only the public header is used.
 */
#ifndef MASKINFO_TESTS_MASK_REF_H
#define MASKINFO_TESTS_MASK_REF_H

#include "maskinfo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Segment equality as maskinfo.h defines it: equal ids that are not the
 * no-match sentinels. */
static inline int seg_match(int64_t a, int64_t b)
{
    return a == b && a != MASKINFO_NOMATCH_Q && a != MASKINFO_NOMATCH_KV;
}

static inline uint8_t *seg_ref(int64_t B, int64_t Hq, int64_t Hk, int64_t Q, int64_t K,
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

/* maskinfo_mask_get is asked about every cell of masks up to this size */
#define MASK_REF_GET_CELLS 6000
/* the whole-mask paths (empty rows, dense output) up to this size */
#define MASK_REF_DENSE_CELLS ((int64_t)1 << 22)

/*
 * Check every public reading path against the reference: the shape,
 * maskinfo_mask_row (sorted, disjoint, non-empty intervals inside [0, K) that
 * cover exactly the allowed cells), maskinfo_mask_get on every cell of small
 * masks, the total and per-head counts, and on masks up to
 * MASK_REF_DENSE_CELLS the empty-row flags and the bool and float32 dense
 * output.  Returns 1 if all agree; otherwise prints the first disagreement
 * under `label` and returns 0, so a caller counts one CHECK per comparison.
 */
static inline int mask_matches_cells(const maskinfo_mask *m, const uint8_t *ref,
                                     int64_t B, int64_t H, int64_t Q, int64_t K,
                                     const char *label)
{
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    if (sh[0] != B || sh[1] != H || sh[2] != Q || sh[3] != K) {
        printf("  %s: shape (%lld,%lld,%lld,%lld), want (%lld,%lld,%lld,%lld)\n",
               label, (long long)sh[0], (long long)sh[1], (long long)sh[2],
               (long long)sh[3], (long long)B, (long long)H, (long long)Q,
               (long long)K);
        return 0;
    }
    maskinfo_scratch *s = maskinfo_scratch_new();
    int ok = 1;
    uint64_t total_ref = 0;
    uint64_t *ph_ref = calloc((size_t)(B * H > 0 ? B * H : 1), sizeof *ph_ref);
    for (int64_t b = 0; b < B && ok; b++)
        for (int64_t h = 0; h < H && ok; h++)
            for (int64_t q = 0; q < Q && ok; q++) {
                const uint8_t *row = ref + ((b * H + h) * Q + q) * K;
                const int64_t *iv;
                int64_t n, prev = 0;
                if (maskinfo_mask_row(m, b, h, q, s, &iv, &n) != MASKINFO_OK) {
                    printf("  %s: row (%lld,%lld,%lld) failed\n", label,
                           (long long)b, (long long)h, (long long)q);
                    ok = 0;
                    break;
                }
                for (int64_t i = 0; i <= n && ok; i++) {
                    int64_t lo = i < n ? iv[2 * i] : K, hi = i < n ? iv[2 * i + 1] : K;
                    if (lo < prev || (i < n && (lo >= hi || hi > K))) {
                        printf("  %s: row (%lld,%lld,%lld) interval %lld = [%lld,%lld) bad\n",
                               label, (long long)b, (long long)h, (long long)q,
                               (long long)i, (long long)lo, (long long)hi);
                        ok = 0;
                        break;
                    }
                    for (int64_t k = prev; k < hi && ok; k++)
                        if ((row[k] != 0) != (k >= lo)) {
                            printf("  %s: cell (%lld,%lld,%lld,%lld) is %d\n",
                                   label, (long long)b, (long long)h,
                                   (long long)q, (long long)k, k >= lo);
                            ok = 0;
                        }
                    prev = hi;
                }
                for (int64_t k = 0; k < K; k++)
                    if (row[k]) {
                        total_ref++;
                        ph_ref[b * H + h]++;
                    }
            }
    maskinfo_scratch_free(s);
    int64_t cells = B * H * Q * K;
    if (ok && cells <= MASK_REF_GET_CELLS) {
        for (int64_t i = 0; i < cells && ok; i++) {
            int v = -1;
            int64_t k = i % K, q = (i / K) % Q, h = (i / K / Q) % H, b = i / K / Q / H;
            if (maskinfo_mask_get(m, b, h, q, k, &v) != MASKINFO_OK ||
                v != (ref[i] != 0)) {
                printf("  %s: get (%lld,%lld,%lld,%lld) = %d\n", label,
                       (long long)b, (long long)h, (long long)q, (long long)k, v);
                ok = 0;
            }
        }
    }
    if (ok) {
        uint64_t total = 0;
        uint64_t *ph = calloc((size_t)(B * H > 0 ? B * H : 1), sizeof *ph);
        if (maskinfo_mask_count(m, &total, ph, NULL) != MASKINFO_OK || total != total_ref ||
            memcmp(ph, ph_ref, (size_t)(B * H) * sizeof *ph) != 0) {
            printf("  %s: count %llu, want %llu\n", label,
                   (unsigned long long)total, (unsigned long long)total_ref);
            ok = 0;
        }
        free(ph);
    }
    free(ph_ref);
    int64_t rows = B * H * Q;
    if (ok && cells <= MASK_REF_DENSE_CELLS) {
        uint8_t *flags = malloc((size_t)(rows > 0 ? rows : 1));
        uint64_t e = 0, we = 0;
        int st = maskinfo_mask_empty_rows(m, &e, flags, NULL);
        for (int64_t i = 0; i < rows && !st; i++) {
            int empty = 1;
            for (int64_t k = 0; k < K; k++)
                if (ref[i * K + k]) empty = 0;
            we += (uint64_t)empty;
            if (flags[i] != empty) st = -1;
        }
        if (st || e != we) {
            printf("  %s: empty_rows differ\n", label);
            ok = 0;
        }
        free(flags);
        for (int dt = 0; dt < 2 && ok; dt++) {
            maskinfo_array *a = NULL;
            maskinfo_dtype t = dt ? MASKINFO_FLOAT32 : MASKINFO_BOOL;
            if (maskinfo_mask_to_array(m, t, &a, NULL) != MASKINFO_OK) {
                printf("  %s: to_array failed\n", label);
                ok = 0;
                break;
            }
            for (int64_t i = 0; i < cells && ok; i++)
                if (maskinfo_array_get(a, i) != (ref[i] ? 1.0 : 0.0)) {
                    printf("  %s: to_array(%s) cell %lld\n", label,
                           maskinfo_dtype_name(t), (long long)i);
                    ok = 0;
                }
            maskinfo_array_free(a);
        }
    }
    return ok;
}

#endif
