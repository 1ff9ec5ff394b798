/*
 * test_blocks_diff.c - differential test of the block forms: block classes
 * (both tail rules), the FlexAttention tables (plain and transposed) and
 * the block runs of random masks against brute force from a byte per cell,
 * at every block size from 1 to past the mask's sides (ragged tails).
 *
 * Two kinds of masks: `and` chains of rule leaves over packed documents
 * (the closed forms of blocks.c, with the odd repeated id or pad that
 * sends a block row to the grid kernel instead), and random expression
 * DAGs of every node kind (expr_ref.h: dense leaves, slices, stacked
 * heads, broadcasts).
 */
#define TEST_RNG_SEED 0xB10C5D1FF0ull

#include "maskinfo.h"
#include "check.h"
#include "expr_ref.h"
#include "rng.h"

#include <stdio.h>

/* ------------------------------------------------------------ references */

/* Classes (B, H, R, C) from cells (B, H, Q, K), by counting each block. */
static uint8_t *ref_classes(const uint8_t *cells, int64_t P, int64_t Q, int64_t K, int64_t bq,
                            int64_t bk, int padded)
{
    const int64_t R = (Q + bq - 1) / bq, C = (K + bk - 1) / bk;
    uint8_t *o = malloc((size_t)(P * R * C) + 1);
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                int64_t n = 0, area = padded ? bq * bk : 0;
                for (int64_t q = i * bq; q < (i + 1) * bq && q < Q; q++)
                    for (int64_t k = j * bk; k < (j + 1) * bk && k < K; k++) {
                        area += !padded;
                        n += cells[(p * Q + q) * K + k] != 0;
                    }
                o[(p * R + i) * C + j] = n == 0 ? 0 : n == area ? 2 : 1;
            }
    return o;
}

/* Whether classes match ref; then the four tables and the block runs. */
static int check_forms(const maskinfo_mask *m, const uint8_t *cells, int64_t P, int64_t Q, int64_t K,
                       int64_t bq, int64_t bk, int padded)
{
    const int64_t R = (Q + bq - 1) / bq, C = (K + bk - 1) / bk;
    uint8_t *ref = ref_classes(cells, P, Q, K, bq, bk, padded);
    maskinfo_array *cls = NULL;
    int st = maskinfo_mask_block_classes_tail(m, bq, bk, padded ? MASKINFO_TAIL_PADDED : MASKINFO_TAIL_EXACT,
                                              &cls, NULL);
    int bad = st != MASKINFO_OK || maskinfo_array_size(cls) != P * R * C ||
              memcmp(maskinfo_array_cdata(cls), ref, (size_t)(P * R * C)) != 0;
    /* tables: per row the wanted columns ascending, then the others */
    int32_t *want_idx = malloc((size_t)(R + C + 1) * sizeof *want_idx);
    for (int want = 1; want <= 2 && !bad; want++)
        for (int tr = 0; tr < 2 && !bad; tr++) {
            maskinfo_array *num = NULL, *idx = NULL;
            bad |= maskinfo_block_table(cls, want, tr, &num, &idx, NULL) != MASKINFO_OK;
            const int64_t nr = tr ? C : R, nc = tr ? R : C;
            for (int64_t p = 0; p < P && !bad; p++)
                for (int64_t r = 0; r < nr; r++) {
                    int64_t k = 0;
                    for (int pass = 0; pass < 2; pass++)
                        for (int64_t j = 0; j < nc; j++) {
                            uint8_t v = tr ? ref[(p * R + j) * C + r] : ref[(p * R + r) * C + j];
                            if ((v == want) == (pass == 0)) want_idx[k++] = (int32_t)j;
                        }
                    int64_t n = 0;
                    for (int64_t j = 0; j < nc; j++) n += (tr ? ref[(p * R + j) * C + r] : ref[(p * R + r) * C + j]) == want;
                    const int64_t row = p * nr + r;
                    bad |= ((const int32_t *)maskinfo_array_cdata(num))[row] != n ||
                           (nc && memcmp((const int32_t *)maskinfo_array_cdata(idx) + row * nc, want_idx,
                                         (size_t)nc * 4) != 0);
                }
            maskinfo_array_free(num);
            maskinfo_array_free(idx);
        }
    /* the block runs (format "csr") are the same classes as runs */
    maskinfo_runs part, full;
    if (!bad && maskinfo_mask_block_runs(m, bq, bk, padded ? MASKINFO_TAIL_PADDED : MASKINFO_TAIL_EXACT, &part,
                                         &full, NULL, 0, NULL) == MASKINFO_OK) {
        for (int k = 0; k < 2; k++) {
            const maskinfo_runs *x = k ? &full : &part;
            const int64_t *ptr = maskinfo_array_cdata(x->ptr);
            const int32_t *lo = maskinfo_array_cdata(x->lo), *hi = maskinfo_array_cdata(x->hi);
            for (int64_t r = 0; r < P * R; r++) {
                int64_t j = 0;
                for (int64_t t = ptr[r]; t < ptr[r + 1]; t++) {
                    for (; j < lo[t]; j++) bad |= ref[r * C + j] == k + 1;
                    for (; j < hi[t]; j++) bad |= ref[r * C + j] != k + 1;
                }
                for (; j < C; j++) bad |= ref[r * C + j] == k + 1;
            }
        }
        maskinfo_runs_free(&part);
        maskinfo_runs_free(&full);
    } else {
        bad = 1;
    }
    free(want_idx);
    free(ref);
    maskinfo_array_free(cls);
    return !bad;
}

/* Every block size from 1 to past each side, both tail rules. */
static void check_all_sizes(const maskinfo_mask *m, const uint8_t *cells, int64_t P, int64_t Q, int64_t K,
                            const char *what, int seed)
{
    int bad = 0;
    int64_t bbq = 0, bbk = 0;
    for (int64_t bq = 1; bq <= Q + 2; bq++)
        for (int64_t bk = 1; bk <= K + 2; bk++)
            for (int padded = 0; padded < 2; padded++)
                if (!check_forms(m, cells, P, Q, K, bq, bk, padded) && !bad++) {
                    bbq = bq;
                    bbk = bk;
                }
    CHECKF(bad == 0, "%s #%d (P %lld, Q %lld, K %lld): %d block sizes differ, first %lldx%lld", what, seed,
           (long long)P, (long long)Q, (long long)K, bad, (long long)bbq, (long long)bbk);
}

/* ------------------------------------------------------------ closed-form chains */

/* Ids of n tokens in documents of random lengths, each id one run (ids in
 * a random order); now and then an id repeats (two runs: no closed form)
 * and the tail is padding. */
static void doc_ids(int64_t *v, int64_t n, int64_t pad, int repeat)
{
    int64_t id = rndi(4), len = 0;
    for (int64_t i = 0; i < n; i++) {
        if (len == 0) {
            id = repeat && rndi(4) == 0 ? id - 2 : id + 1 + rndi(3);
            len = 1 + rndi(9);
        }
        v[i] = id;
        len--;
    }
    for (int64_t i = n - pad; i < n; i++) v[i] = MASKINFO_NOMATCH_KV;
}

/* Sets cell (b, h, q, k) of an (B, H, Q, K) byte mask to its and with x. */
#define AND_CELL(c, x) ((c) = (uint8_t)((c) && (x)))

static void test_closed_chains(void)
{
    for (int t = 0; t < 60; t++) {
        const int64_t B = rndr(1, 2), H = rndr(1, 3), Q = rndr(1, 22), K = rndr(1, 22), P = B * H;
        uint8_t *cells = malloc((size_t)(P * Q * K));
        memset(cells, 1, (size_t)(P * Q * K));
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_constant(&m, B, 1, Q, K, 1) == MASKINFO_OK);
        if (!m) break;
        const int links = (int)rndr(1, 4);
        for (int l = 0; l < links; l++) {
            maskinfo_mask *x = NULL;
            int64_t off[2], lo[2], hi[2], left[3], right[3];
            for (int64_t b = 0; b < B; b++) {
                off[b] = rndr(-6, 12);
                lo[b] = rndr(-2, K);
                hi[b] = rndr(0, K + 2);
            }
            const int kind = (int)rndi(6);
            const int64_t nh = rndi(2) ? H : 1, ch = rndr(1, 7);
            for (int64_t h = 0; h < nh; h++) {
                left[h] = rndr(0, 9);
                right[h] = rndr(0, 4);
            }
            int64_t *qv = NULL, *kv = NULL, hq = rndi(2) ? H : 1;
            if (kind == 0) {
                CHECK(maskinfo_mask_causal(&x, B, Q, K, off) == MASKINFO_OK);
            } else if (kind == 1) {
                CHECK(maskinfo_mask_window(&x, B, Q, K, nh, left, right, off) == MASKINFO_OK);
            } else if (kind == 2) {
                CHECK(maskinfo_mask_chunked(&x, B, Q, K, ch, off) == MASKINFO_OK);
            } else if (kind == 3) {
                CHECK(maskinfo_mask_key_range(&x, B, Q, K, lo, hi) == MASKINFO_OK);
            } else {
                /* packed documents: the same ids on both sides, or not */
                qv = malloc((size_t)(B * hq * Q) * sizeof *qv);
                kv = malloc((size_t)(B * K) * sizeof *kv);
                const int rep = rndi(3) == 0;
                for (int64_t r = 0; r < B * hq; r++) doc_ids(qv + r * Q, Q, rndi(3) ? 0 : rndi(Q + 1), rep);
                for (int64_t q = 0; q < B * hq * Q; q++)
                    if (qv[q] == MASKINFO_NOMATCH_KV) qv[q] = MASKINFO_NOMATCH_Q;
                for (int64_t b = 0; b < B; b++) {
                    if (kind == 4 && K == Q) memcpy(kv + b * K, qv + b * hq * Q, (size_t)K * sizeof *kv);
                    else doc_ids(kv + b * K, K, rndi(3) ? 0 : rndi(K + 1), rep);
                }
                CHECK(maskinfo_mask_segments(&x, B, hq, 1, Q, K, qv, kv) == MASKINFO_OK);
            }
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t q = 0; q < Q; q++)
                        for (int64_t k = 0; k < K; k++) {
                            uint8_t *c = &cells[((b * H + h) * Q + q) * K + k];
                            const int64_t hh = nh == 1 ? 0 : h;
                            if (kind == 0) AND_CELL(*c, k <= q + off[b]);
                            else if (kind == 1) AND_CELL(*c, k >= q + off[b] - left[hh] && k <= q + off[b] + right[hh]);
                            else if (kind == 2) AND_CELL(*c, q / ch == k / ch && k <= q + off[b]);
                            else if (kind == 3) AND_CELL(*c, k >= lo[b] && k < hi[b]);
                            else {
                                const int64_t a = qv[(b * hq + (hq == 1 ? 0 : h)) * Q + q], z = kv[b * K + k];
                                AND_CELL(*c, a == z && a != MASKINFO_NOMATCH_Q);
                            }
                        }
            free(qv);
            free(kv);
            maskinfo_mask *y = NULL;
            /* sometimes through a broadcast to every head first */
            if (x && rndi(4) == 0 && maskinfo_mask_broadcast(&y, x, B, H) == MASKINFO_OK) {
                maskinfo_mask_unref(x);
                x = y;
                y = NULL;
            }
            CHECK(x && maskinfo_mask_and(&y, m, x) == MASKINFO_OK);
            maskinfo_mask_unref(x);
            maskinfo_mask_unref(m);
            m = y;
            if (!m) break;
        }
        if (m) {
            /* the mask may have ended with one head: broadcast for the shape */
            int64_t s[4];
            maskinfo_mask_shape(m, s);
            maskinfo_mask *y = NULL;
            if (s[1] != H && maskinfo_mask_broadcast(&y, m, B, H) == MASKINFO_OK) {
                maskinfo_mask_unref(m);
                m = y;
            }
            check_all_sizes(m, cells, P, Q, K, "document chain", t);
        }
        maskinfo_mask_unref(m);
        free(cells);
    }
}

/* Block rows of more pieces than the closed form keeps (documents of one
 * or two tokens) are counted row by row instead. */
static void test_many_pieces(void)
{
    const int64_t N = 75;
    int64_t ids[75];
    for (int64_t i = 0, id = 0; i < N; i++) ids[i] = rndi(3) ? ++id : id;
    maskinfo_mask *s = NULL, *c = NULL, *m = NULL;
    CHECK(maskinfo_mask_segments(&s, 1, 1, 1, N, N, ids, ids) == MASKINFO_OK);
    CHECK(maskinfo_mask_causal(&c, 1, N, N, NULL) == MASKINFO_OK);
    CHECK(s && c && maskinfo_mask_and(&m, s, c) == MASKINFO_OK);
    uint8_t *cells = malloc((size_t)(N * N));
    for (int64_t q = 0; q < N; q++)
        for (int64_t k = 0; k < N; k++) cells[q * N + k] = ids[q] == ids[k] && k <= q;
    const int64_t bqs[] = {33, 48, 64, 74, 75, 76};
    int bad = 0;
    for (int i = 0; m && i < 6; i++)
        for (int64_t bk = 1; bk <= N + 1; bk++)
            for (int padded = 0; padded < 2; padded++) bad += !check_forms(m, cells, 1, N, N, bqs[i], bk, padded);
    CHECKF(bad == 0, "documents of 1-2 tokens: %d block sizes differ", bad);
    free(cells);
    maskinfo_mask_unref(s);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(m);
}

/* ------------------------------------------------------------ any expression */

static uint32_t next_u32(void *ctx)
{
    (void)ctx;
    return rnd();
}

static void test_random_expressions(void)
{
    xr_src src = {next_u32, NULL};
    for (int t = 0; t < 30; t++) {
        xr_pool p = {rndr(1, 2), rndr(1, 3), rndr(1, 14), rndr(1, 14), NULL, 0, 0};
        const int steps = (int)rndr(2, 7);
        for (int i = 0; i < steps; i++) CHECK(xr_step(&src, &p));
        /* the last node, broadcast to the pool's shape */
        const xr_node *x = &p.n[p.count - 1];
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_broadcast(&m, x->m, p.B, p.H) == MASKINFO_OK);
        uint8_t *cells = malloc((size_t)(p.B * p.H * p.Q * p.K));
        for (int64_t b = 0; b < p.B; b++)
            for (int64_t h = 0; h < p.H; h++)
                for (int64_t q = 0; q < p.Q; q++)
                    for (int64_t k = 0; k < p.K; k++)
                        cells[((b * p.H + h) * p.Q + q) * p.K + k] = xr_cell(x, p.Q, p.K, b, h, q, k);
        if (m) check_all_sizes(m, cells, p.B * p.H, p.Q, p.K, "random expression", t);
        free(cells);
        maskinfo_mask_unref(m);
        xr_free(&p);
    }
}

int main(void)
{
    test_closed_chains();
    test_many_pieces();
    test_random_expressions();
    return check_summary();
}
