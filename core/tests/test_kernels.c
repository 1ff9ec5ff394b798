/*
 * test_kernels.c - kernel formats against cell-by-cell references:
 * maskinfo_mask_varlen_match (flash_attn_varlen_func's documents with a
 * bottom-right window), maskinfo_mask_bsr_mask (FlashInfer's per-block
 * mask) and the gather indices of maskinfo_mask_packbits.
 */
#define TEST_RNG_SEED 0x6b65726e656c73ull
#include "check.h"
#include "maskinfo.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

enum { MAXL = 16 };

/* flash-attn's rule for (B, 1, Q, K) from ids: query i of a document of lq
 * queries and lk keys sees its keys j with diag - left <= j <= diag + right,
 * diag = i + lk - lq (-1 unbounded).  Documents are runs of equal ids among
 * the kept tokens. */
static void flash_ref(const int32_t *q, const int32_t *kv, int64_t B, int64_t Q, int64_t K, int64_t left,
                      int64_t right, uint8_t *out)
{
    memset(out, 0, (size_t)(B * Q * K));
    for (int64_t b = 0; b < B; b++) {
        int64_t qt[MAXL], kt[MAXL], nq = 0, nk = 0;
        for (int64_t x = 0; x < Q; x++)
            if (q[b * Q + x] >= 0)
                qt[nq++] = x;
        for (int64_t x = 0; x < K; x++)
            if (kv[b * K + x] >= 0)
                kt[nk++] = x;
        for (int64_t a = 0, c = 0; a < nq; ) {
            int64_t a2 = a, c2 = c;
            const int32_t id = q[b * Q + qt[a]];
            while (a2 < nq && q[b * Q + qt[a2]] == id)
                a2++;
            while (c2 < nk && kv[b * K + kt[c2]] == id)
                c2++;
            const int64_t lq = a2 - a, lk = c2 - c;
            for (int64_t i = 0; i < lq; i++)
                for (int64_t j = 0; j < lk; j++) {
                    const int64_t d = i + lk - lq;
                    if ((left < 0 || j >= d - left) && (right < 0 || j <= d + right))
                        out[(b * Q + qt[a + i]) * K + kt[c + j]] = 1;
                }
            a = a2, c = c2;
        }
    }
}

/* Random paired documents: n ids per row, 1..4 tokens each side, some
 * padding keys; rows padded to the longest. */
static void random_docs(int64_t B, int32_t *q, int32_t *kv, int64_t *Q, int64_t *K)
{
    int32_t tq[4][MAXL], tk[4][MAXL];
    int64_t lq[4], lk[4];
    const int64_t n = rndr(1, 3);
    *Q = *K = 0;
    for (int64_t b = 0; b < B; b++) {
        lq[b] = lk[b] = 0;
        for (int32_t d = 0; d < n; d++) {
            for (int64_t t = rndr(1, 4); t > 0; t--)
                tq[b][lq[b]++] = d;
            for (int64_t t = rndr(1, 4); t > 0; t--)
                tk[b][lk[b]++] = rndi(5) == 0 ? -1 : d;
            tk[b][lk[b]++] = d; /* at least one key of d */
        }
        *Q = lq[b] > *Q ? lq[b] : *Q;
        *K = lk[b] > *K ? lk[b] : *K;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t x = 0; x < *Q || x < *K; x++) {
            if (x < *Q)
                q[b * *Q + x] = x < lq[b] ? tq[b][x] : -1;
            if (x < *K)
                kv[b * *K + x] = x < lk[b] ? tk[b][x] : -1;
        }
}

/* match m; OK must come with a window whose reference is cells. */
static int match(const uint8_t *cells, const int32_t *q, const int32_t *kv, int64_t B, int64_t Q, int64_t K,
                 char *why, size_t wl)
{
    maskinfo_mask *m = NULL;
    maskinfo_varlen_info v;
    int64_t left, right;
    int st = maskinfo_mask_from_bytes(&m, B, 1, Q, K, cells, NULL);
    CHECK(st == MASKINFO_OK);
    CHECK(maskinfo_varlen(q, kv, B, Q, K, &v, why, wl, NULL) == MASKINFO_OK);
    st = maskinfo_mask_varlen_match(m, q, kv, &v, &left, &right, why, wl, NULL);
    if (st == MASKINFO_OK) {
        uint8_t *ref = malloc((size_t)(B * Q * K));
        flash_ref(q, kv, B, Q, K, left, right, ref);
        CHECKF(memcmp(ref, cells, (size_t)(B * Q * K)) == 0, "window (%lld, %lld) does not give the mask",
               (long long)left, (long long)right);
        free(ref);
    }
    maskinfo_varlen_info_free(&v);
    maskinfo_mask_unref(m);
    return st;
}

static void test_varlen_match(void)
{
    int refused = 0;
    for (int it = 0; it < 200; it++) {
        int32_t q[4 * MAXL], kv[4 * MAXL];
        int64_t Q, K, B = rndr(1, 2);
        random_docs(B, q, kv, &Q, &K);
        const int64_t left = rndr(-1, 3), right = rndr(-1, 2);
        uint8_t cells[4 * MAXL * MAXL];
        flash_ref(q, kv, B, Q, K, left, right, cells);
        char why[480] = "";
        CHECKF(match(cells, q, kv, B, Q, K, why, sizeof why) == MASKINFO_OK, "case %d: %s", it, why);
        cells[rndi(B * Q * K)] ^= 1;
        why[0] = 0;
        if (match(cells, q, kv, B, Q, K, why, sizeof why) != MASKINFO_OK) {
            refused++;
            CHECKF(strncmp(why, "the mask is not block-diagonal documents", 40) == 0, "%s", why);
        }
    }
    CHECKF(refused > 150, "only %d of 200 flipped masks refused", refused);
}

static void test_bsr_mask(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        const int64_t br = 1 + (int64_t)(seed % 3), bc = 1 + (int64_t)(seed % 2), Q = 4 * br, K = 5 * bc;
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_random(&m, 1, 1, Q, K, seed % 4 == 0 ? 1.0 : 0.4, seed, NULL) == MASKINFO_OK);
        maskinfo_array *ip = NULL, *ix = NULL, *bm = NULL;
        char why[160];
        CHECK(maskinfo_mask_bsr(m, 0, 0, br, bc, &ip, &ix, why, sizeof why, NULL) == MASKINFO_OK);
        CHECK(maskinfo_mask_bsr_mask(m, 0, 0, br, bc, ip, ix, &bm, why, sizeof why, NULL) == MASKINFO_OK);
        const int32_t *p = maskinfo_array_cdata(ip), *c = maskinfo_array_cdata(ix);
        const uint8_t *cells = bm ? maskinfo_array_cdata(bm) : NULL;
        int partial = 0, same = 1;
        for (int64_t i = 0; i < Q / br; i++)
            for (int32_t n = p[i]; n < p[i + 1]; n++)
                for (int64_t a = 0; a < br; a++)
                    for (int64_t z = 0; z < bc; z++) {
                        int v = 0;
                        maskinfo_mask_get(m, 0, 0, i * br + a, c[n] * bc + z, &v);
                        partial |= !v;
                        if (cells)
                            same &= cells[(n * br + a) * bc + z] == v;
                    }
        CHECKF(partial == (bm != NULL), "seed %llu: mask present %d, partial %d", (unsigned long long)seed,
               bm != NULL, partial);
        CHECKF(same, "seed %llu: block cells differ", (unsigned long long)seed);
        maskinfo_array_free(ip);
        maskinfo_array_free(ix);
        maskinfo_array_free(bm);
        maskinfo_mask_unref(m);
    }
}

static void test_packbits_indices(void)
{
    const uint8_t qv[6] = {1, 0, 1, 0, 1, 1}, kv[6] = {0, 1, 1, 1, 1, 0};
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_constant(&m, 2, 1, 3, 3, 1) == MASKINFO_OK);
    maskinfo_packed_mask p;
    char why[160];
    CHECK(maskinfo_mask_packbits(m, 0, qv, kv, &p, why, sizeof why, NULL) == MASKINFO_OK);
    const int64_t wq[4] = {0, 2, 4, 5}, wk[4] = {1, 2, 3, 4};
    CHECK(maskinfo_array_size(p.indices_q) == 4 && maskinfo_array_size(p.indices_k) == 4);
    CHECK(memcmp(maskinfo_array_cdata(p.indices_q), wq, sizeof wq) == 0);
    CHECK(memcmp(maskinfo_array_cdata(p.indices_k), wk, sizeof wk) == 0);
    maskinfo_packed_mask_free(&p);
    maskinfo_mask_unref(m);
}

int main(void)
{
    test_varlen_match();
    test_bsr_mask();
    test_packbits_indices();
    return check_summary();
}
