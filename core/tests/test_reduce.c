/* test_reduce.c - the reductions (counts, empty rows, diff, dense output,
 * bias, grid counts), each against a naive cell-by-cell reference; the
 * memory guard on every allocating reduction; thread invariance.  Only the
 * public header is used. */
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

/* ---------------------------------------------------------------- reductions */
static void test_counts_and_empty(void)
{
    for (int trial = 0; trial < 10; trial++) {
        int64_t B = 1 + rndi(3), H = 1 + rndi(4), Q = 1 + rndi(30), K = 1 + rndi(90);
        int64_t n = B * H * Q * K;
        uint8_t *cells = rnd_cells(n, trial % 2 ? 3 : 50);
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
        uint8_t *ca = rnd_cells(n, 50);
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
    uint8_t *cells = rnd_cells(n, 45);
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
    uint8_t *cells = rnd_cells(n, 50);
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
            cells = rnd_cells(n, trial % 3 ? 70 : 20);
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

/* ---------------------------------------------------------------- closed forms */

/* A per-batch parameter: mostly small, sometimes past the closed forms'
 * bound (2^60), where the row-by-row path must take over. */
static int64_t rnd_param(int64_t lo, int64_t hi)
{
    int64_t r = rndi(40);
    if (r == 0) return (int64_t)1 << 61;
    if (r == 1) return -((int64_t)1 << 61);
    return rndr(lo, hi);
}

/* One random leaf of (B, 1 or H, Q, K) that has a closed form. */
static maskinfo_mask *rnd_rule(int64_t B, int64_t H, int64_t Q, int64_t K)
{
    maskinfo_mask *m = NULL;
    int64_t off[2], lo[2], hi[2], left[3], right[3];
    for (int i = 0; i < 2; i++) {
        off[i] = rnd_param(-Q, Q / 2);
        lo[i] = rnd_param(-3, K);
        hi[i] = rnd_param(0, K + 3);
    }
    switch (rndi(6)) {
    case 0: maskinfo_mask_causal(&m, B, Q, K, rndi(2) ? off : NULL); break;
    case 1: {
        int64_t nh = rndi(2) ? H : 1;
        for (int i = 0; i < 3; i++) {
            left[i] = rndi(30) ? rndi(Q + 2) : (int64_t)1 << 61;
            right[i] = rndi(3) ? rndi(4) : rndi(K + 2);
        }
        maskinfo_mask_window(&m, B, Q, K, nh, left, right, rndi(2) ? off : NULL);
        break;
    }
    case 2: maskinfo_mask_chunked(&m, B, Q, K, 1 + rndi(Q + 1), rndi(2) ? off : NULL); break;
    case 3: maskinfo_mask_key_range(&m, B, Q, K, rndi(3) ? lo : NULL, hi); break;
    case 4: maskinfo_mask_constant(&m, rndi(2) ? B : 1, 1, Q, K, rndi(5) != 0); break;
    default: {
        /* segments: runs of ids, some ids with several key runs, padding */
        int64_t Hq = rndi(3) ? 1 : H, Hk = Hq == 1 && rndi(3) == 0 ? H : 1;
        int64_t *qv = malloc((size_t)(B * Hq * Q) * sizeof *qv);
        int64_t *kv = malloc((size_t)(B * Hk * K) * sizeof *kv);
        int64_t run = 1 + rndi(Q), krun = 1 + rndi(K), wrap = 1 + rndi(4);
        for (int64_t i = 0; i < B * Hq * Q; i++)
            qv[i] = rndi(25) ? (i % Q) / run : MASKINFO_NOMATCH_Q;
        for (int64_t i = 0; i < B * Hk * K; i++)
            kv[i] = rndi(25) ? (i % K) / krun % (K / krun + (rndi(4) ? 1 : wrap))
                             : MASKINFO_NOMATCH_KV;
        maskinfo_mask_segments(&m, B, Hq, Hk, Q, K, qv, kv);
        free(qv);
        free(kv);
    }
    }
    return m;
}

/* and of 1-5 random leaves, sometimes as stacked heads or broadcast */
static maskinfo_mask *rnd_chain(int64_t B, int64_t H, int64_t Q, int64_t K)
{
    maskinfo_mask *m = rnd_rule(B, H, Q, K);
    for (int64_t n = rndi(5); n > 0 && m; n--) {
        maskinfo_mask *x = rnd_rule(B, H, Q, K), *y = NULL;
        if (x) maskinfo_mask_and(&y, m, x);
        maskinfo_mask_unref(x);
        maskinfo_mask_unref(m);
        m = y;
    }
    int64_t sh[4] = {0, 0, 0, 0}, ps[4];
    if (m) maskinfo_mask_shape(m, sh);
    if (m && sh[1] == 1 && H > 1 && rndi(2)) {
        maskinfo_mask *parts[3] = {m, NULL, NULL}, *y = NULL;
        for (int64_t i = 1; i < H; i++) parts[i] = rndi(2) ? m : rnd_rule(B, 1, Q, K);
        int ok = 1;
        for (int64_t i = 0; i < H && ok; i++) {
            ok = parts[i] != NULL;
            if (ok) maskinfo_mask_shape(parts[i], ps);
            ok = ok && ps[1] == 1 && ps[0] == sh[0];
        }
        if (ok) maskinfo_mask_stack_heads(&y, parts, H);
        for (int64_t i = 1; i < H; i++) if (parts[i] != m) maskinfo_mask_unref(parts[i]);
        if (y) { maskinfo_mask_unref(m); m = y; }
    }
    if (m) maskinfo_mask_shape(m, sh);
    if (m && (sh[0] != B || sh[1] != H) && rndi(2)) {
        maskinfo_mask *y = NULL;
        if (maskinfo_mask_broadcast(&y, m, B, H) == MASKINFO_OK) { maskinfo_mask_unref(m); m = y; }
    }
    return m;
}

/* Counts, grid counts and dense output of random chains of rule leaves and
 * segments (closed forms) against the same mask behind not(not(.)), which
 * has none, and against its rows one by one. */
static void test_closed_forms(void)
{
    int bad_count = 0, bad_grid = 0, bad_fill = 0, trials = 400;
    maskinfo_scratch *s = maskinfo_scratch_new();
    for (int trial = 0; trial < trials; trial++) {
        int64_t B = 1 + rndi(2), H = 1 + rndi(3), Q = 1 + rndi(90), K = 1 + rndi(120);
        maskinfo_mask *m = rnd_chain(B, H, Q, K), *n1 = NULL, *nn = NULL;
        if (!m) { CHECK(m != NULL); continue; }
        maskinfo_mask_not(&n1, m);
        maskinfo_mask_not(&nn, n1);
        int64_t sh[4];
        maskinfo_mask_shape(m, sh);
        B = sh[0];
        H = sh[1];
        /* the cells, row by row */
        uint8_t *cells = calloc((size_t)(B * H * Q * K), 1);
        uint64_t want = 0, wph[6] = {0};
        for (int64_t r = 0; r < B * H * Q; r++) {
            const int64_t *iv;
            int64_t n;
            maskinfo_mask_row(m, r / Q / H, r / Q % H, r % Q, s, &iv, &n);
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = iv[2 * i]; k < iv[2 * i + 1]; k++) cells[r * K + k] = 1;
            for (int64_t i = 0; i < n; i++) {
                want += (uint64_t)(iv[2 * i + 1] - iv[2 * i]);
                wph[r / Q] += (uint64_t)(iv[2 * i + 1] - iv[2 * i]);
            }
        }
        uint64_t t1 = 0, t2 = 0, ph1[6] = {0}, ph2[6] = {0};
        maskinfo_mask_count(m, &t1, ph1, NULL);
        maskinfo_mask_count(nn, &t2, ph2, NULL);
        if (t1 != want || t2 != want || memcmp(ph1, wph, sizeof wph) || memcmp(ph2, wph, sizeof wph))
            bad_count++;
        /* grid counts: uniform blocks and random edges, every plane */
        for (int g = 0; g < 2; g++) {
            int64_t nr = 1 + rndi(9), nc = 1 + rndi(17), re[10], ce[18];
            if (g == 0) {
                int64_t bq = 1 + rndi(Q), bk = 1 + rndi(K);
                nr = (Q + bq - 1) / bq;
                nc = (K + bk - 1) / bk;
                if (nr > 9) { nr = 9; }
                if (nc > 17) { nc = 17; }
                for (int64_t i = 0; i <= nr; i++) re[i] = i == nr ? Q : (i * bq < Q ? i * bq : Q);
                for (int64_t j = 0; j <= nc; j++) ce[j] = j == nc ? K : (j * bk < K ? j * bk : K);
            } else {
                random_edges(re, nr, 0, Q);
                random_edges(ce, nc, rndi(K / 3 + 1), K);
            }
            for (int64_t p = 0; p < B * H; p++) {
                uint64_t a[9 * 17], b2[9 * 17];
                memset(b2, 0xff, sizeof b2);
                int st1 = maskinfo_mask_grid_counts(m, p / H, p % H, re, nr, ce, nc, a, NULL);
                int st2 = maskinfo_mask_grid_counts(nn, p / H, p % H, re, nr, ce, nc, b2, NULL);
                if (st1 || st2 || memcmp(a, b2, (size_t)(nr * nc) * sizeof *a) ||
                    !grid_ok(m, cells, H, Q, K, p / H, p % H, re, nr, ce, nc))
                    bad_grid++;
            }
        }
        /* dense output: bool and a float bias against the cells */
        maskinfo_array *ab = NULL, *af = NULL;
        maskinfo_mask_to_array(m, MASKINFO_BOOL, &ab, NULL);
        maskinfo_mask_to_bias(m, trial % 2 ? MASKINFO_BFLOAT16 : MASKINFO_FLOAT32, &af, NULL);
        if (!ab || !af || memcmp(maskinfo_array_cdata(ab), cells, (size_t)(B * H * Q * K)))
            bad_fill++;
        for (int64_t i = 0; af && i < B * H * Q * K; i++)
            if ((maskinfo_array_get(af, i) == 0.0) != cells[i]) { bad_fill++; break; }
        maskinfo_array_free(ab);
        maskinfo_array_free(af);
        free(cells);
        maskinfo_mask_unref(nn);
        maskinfo_mask_unref(n1);
        maskinfo_mask_unref(m);
    }
    maskinfo_scratch_free(s);
    CHECKF(bad_count == 0, "%d of %d chains count differently", bad_count, trials);
    CHECKF(bad_grid == 0, "%d grids of %d chains differ", bad_grid, trials);
    CHECKF(bad_fill == 0, "%d of %d chains fill differently", bad_fill, trials);
}

/* A bias big enough for mapped pages (at least 4 MiB): every element is
 * 0 or the lowest float, as the rows say; the same from 1 and 2 threads. */
static void test_big_fill(void)
{
    int64_t Q = 1100, K = 1024, off[1] = {-5};
    maskinfo_mask *c = NULL, *w = NULL, *m = NULL;
    int64_t left[1] = {300}, right[1] = {0};
    maskinfo_mask_causal(&c, 1, Q, K, off);
    maskinfo_mask_window(&w, 1, Q, K, 1, left, right, NULL);
    maskinfo_mask_and(&m, c, w);
    if (!m) { CHECK(m != NULL); return; }
    maskinfo_array *a = NULL, *b = NULL, *bb = NULL;
    omp_set_num_threads(1);
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_FLOAT32, &a, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_to_array(m, MASKINFO_BOOL, &bb, NULL) == MASKINFO_OK);
    omp_set_num_threads(2);
    CHECK(maskinfo_mask_to_bias(m, MASKINFO_FLOAT32, &b, NULL) == MASKINFO_OK);
    if (a && b && bb) {
        const float *d = maskinfo_array_cdata(a);
        const uint8_t *e = maskinfo_array_cdata(bb);
        int ok = 1;
        for (int64_t q = 0; q < Q; q++)
            for (int64_t k = 0; k < K; k++) {
                int on = k <= q - 5 && k >= q - 300;
                if ((on ? d[q * K + k] != 0.0f : d[q * K + k] != -FLT_MAX) || e[q * K + k] != on) ok = 0;
            }
        CHECK(ok);
        CHECK(memcmp(d, maskinfo_array_cdata(b), (size_t)(Q * K) * 4) == 0);
    }
    maskinfo_array_free(a);
    maskinfo_array_free(b);
    maskinfo_array_free(bb);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(w);
    maskinfo_mask_unref(c);
}

/* ---------------------------------------------------------------- memory guard */
static void test_fill_guard(void)
{
    maskinfo_limits small = {1024};
    maskinfo_array *arr = NULL;
    /* to_array / to_bias: the guard is checked before the array exists */
    maskinfo_mask *c = NULL;
    CHECK(maskinfo_mask_constant(&c, 1, 1, 1 << 20, 1 << 20, 1) == MASKINFO_OK);
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

/* Every allocating reduction honours the caller's guard: a guard below its
 * per-row or per-thread buffers refuses with ETOOBIG, the default guard
 * (NULL) and a roomy one let it through with the same result. */
static void test_limits(void)
{
    const int64_t B = 2, H = 2, Q = 300, K = 200, rows = B * Q; /* m's rows */
    maskinfo_mask *m = NULL, *r = NULL;
    CHECK(maskinfo_mask_random(&r, B, H, Q, K, 0.5, 3, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_causal(&m, B, Q, K, NULL) == MASKINFO_OK);
    if (!m || !r) return;
    maskinfo_limits tiny = {64}, roomy = {1 << 20};
    uint64_t t0 = 0, t1 = 1, nd = 0, e0 = 0, e1 = 1;
    int64_t first[4];
    /* count: 8 bytes per row, row by row (not causal has no closed form) */
    maskinfo_mask *nm = NULL;
    CHECK(maskinfo_mask_not(&nm, m) == MASKINFO_OK);
    if (!nm) return;
    CHECK(maskinfo_mask_count(nm, &t0, NULL, &tiny) == MASKINFO_ETOOBIG);
    maskinfo_limits under = {(uint64_t)(rows * 8 - 1)};
    CHECK(maskinfo_mask_count(nm, &t0, NULL, &under) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_count(nm, &t0, NULL, &roomy) == MASKINFO_OK);
    CHECK(maskinfo_mask_count(nm, &t1, NULL, NULL) == MASKINFO_OK && t0 == t1);
    maskinfo_mask_unref(nm);
    /* the closed form of a rule mask needs no row buffer */
    CHECK(maskinfo_mask_count(m, &t0, NULL, &tiny) == MASKINFO_OK);
    CHECK(maskinfo_mask_count(m, &t1, NULL, NULL) == MASKINFO_OK && t0 == t1);
    /* r has H times the rows */
    CHECK(maskinfo_mask_count(r, &t0, NULL, &under) == MASKINFO_ETOOBIG);
    /* empty rows: the flags when the caller passes none */
    CHECK(maskinfo_mask_empty_rows(m, &e0, NULL, &tiny) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_empty_rows(m, &e0, NULL, &roomy) == MASKINFO_OK);
    CHECK(maskinfo_mask_empty_rows(m, &e1, NULL, NULL) == MASKINFO_OK && e0 == e1);
    /* diff of dense masks: each thread's bit rows (K / 64 words per row) */
    CHECK(maskinfo_mask_diff(r, m, &nd, first, &tiny) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_diff(r, m, &nd, first, &roomy) == MASKINFO_OK && nd > 0);
    /* grid counts: each thread's difference row over the columns */
    int64_t re[2] = {0, Q}, ce[101];
    for (int j = 0; j <= 100; j++) ce[j] = j * K / 100;
    uint64_t cnt[100];
    CHECK(maskinfo_mask_grid_counts(m, 0, 0, re, 1, ce, 100, cnt, &tiny) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_mask_grid_counts(m, 0, 0, re, 1, ce, 100, cnt, &roomy) == MASKINFO_OK);
    /* dense output: the array and the row driver under one guard */
    maskinfo_array *a = NULL;
    CHECK(maskinfo_mask_to_array(r, MASKINFO_BOOL, &a, &tiny) == MASKINFO_ETOOBIG && !a);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(r);
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
    uint8_t *cells = rnd_cells(B * H * Q * K, 30);
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
    test_counts_and_empty();
    test_diff();
    test_to_array();
    test_to_bias();
    test_grid_counts();
    test_fill_guard();
    test_limits();
    test_threads();
    test_closed_forms();
    test_big_fill();
    return check_summary();
}
