/*
 * test_blocks.c - block classes against a per-cell count, FlexAttention
 * block tables against a naive stable argsort, thread invariance, the
 * memory guard and a million-token timing (blocks.c).
 */
#define _POSIX_C_SOURCE 200809L
#define TEST_RNG_SEED 0xE4905A11D0C5ull

#include "maskinfo.h"
#include "check.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ block classes */

/* Per-cell reference: count every block's allowed cells from the dense
 * expansion and classify against the block's area inside the mask. */
static maskinfo_array *naive_classes(const maskinfo_mask *m, int64_t bq, int64_t bk)
{
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_array *d = NULL;
    if (maskinfo_mask_to_array(m, MASKINFO_BOOL, &d, NULL)) return NULL;
    const uint8_t *c = maskinfo_array_cdata(d);
    int64_t R = (s[2] + bq - 1) / bq, C = (s[3] + bk - 1) / bk;
    int64_t sh[4] = {s[0], s[1], R, C};
    maskinfo_array *o = NULL;
    if (maskinfo_array_new(&o, MASKINFO_UINT8, 4, sh, NULL)) {
        maskinfo_array_free(d);
        return NULL;
    }
    uint8_t *op = maskinfo_array_data(o);
    for (int64_t p = 0; p < s[0] * s[1]; p++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                int64_t n = 0, area = 0;
                for (int64_t q = i * bq; q < (i + 1) * bq && q < s[2]; q++)
                    for (int64_t k = j * bk; k < (j + 1) * bk && k < s[3]; k++) {
                        area++;
                        n += c[(p * s[2] + q) * s[3] + k];
                    }
                op[(p * R + i) * C + j] = n == 0 ? 0 : n == area ? 2 : 1;
            }
    maskinfo_array_free(d);
    return o;
}

static int check_classes(const maskinfo_mask *m, int64_t bq, int64_t bk, const char *what)
{
    maskinfo_array *got = NULL, *want = naive_classes(m, bq, bk);
    int st = maskinfo_mask_block_classes(m, bq, bk, &got, NULL);
    int ok = st == MASKINFO_OK && want && maskinfo_array_dtype(got) == MASKINFO_UINT8 &&
             maskinfo_array_equal(got, want);
    CHECKF(ok, "block classes of %s at %lldx%lld differ (status %d)", what,
           (long long)bq, (long long)bk, st);
    int has[3] = {0, 0, 0};
    if (want)
        for (int64_t i = 0; i < maskinfo_array_size(want); i++)
            has[((const uint8_t *)maskinfo_array_cdata(want))[i]] = 1;
    maskinfo_array_free(got);
    maskinfo_array_free(want);
    return has[0] + 2 * has[1] + 4 * has[2];
}

static const int64_t block_sizes[][2] = {
    {1, 1}, {2, 3}, {4, 4}, {5, 7}, {8, 3}, {16, 16}, {13, 64}, {100, 100},
};
#define NBS ((int)(sizeof block_sizes / sizeof block_sizes[0]))

static void test_block_classes_random(void)
{
    int seen = 0;
    for (int t = 0; t < 12; t++) {
        int64_t B = rndr(1, 2), H = rndr(1, 3), Q = rndr(1, 70), K = rndr(1, 90);
        uint8_t *cells = malloc((size_t)(B * H * Q * K));
        /* blocks of a random size are empty, full or noisy, so every class
         * shows up at the block sizes checked */
        int64_t gq = rndr(1, 9), gk = rndr(1, 9);
        int64_t gR = (Q + gq - 1) / gq, gC = (K + gk - 1) / gk;
        uint8_t *kind = malloc((size_t)(B * H * gR * gC));
        for (int64_t i = 0; i < B * H * gR * gC; i++) kind[i] = (uint8_t)rndi(3);
        for (int64_t p = 0; p < B * H; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) {
                    uint8_t kd = kind[(p * gR + q / gq) * gC + k / gk];
                    cells[(p * Q + q) * K + k] = kd == 2 ? 1 : kd == 1 ? (uint8_t)(rndi(2)) : 0;
                }
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
        for (int s = 0; s < NBS && m; s++)
            seen |= check_classes(m, block_sizes[s][0], block_sizes[s][1], "random dense");
        if (m) seen |= check_classes(m, rndr(1, Q + 3), rndr(1, K + 3), "random dense");
        maskinfo_mask_unref(m);
        free(kind);
        free(cells);
    }
    CHECKF(seen == 7, "random masks covered classes %d of 7", seen);
}

static void test_block_classes_structured(void)
{
    int seen = 0;
    for (int t = 0; t < 8; t++) {
        int64_t B = rndr(1, 3), Q = rndr(1, 80), K = rndr(1, 80), H = rndr(1, 3);
        int64_t *off = malloc((size_t)B * sizeof *off);
        for (int64_t b = 0; b < B; b++) off[b] = rndr(-10, 20);
        int64_t *left = malloc((size_t)H * sizeof *left), *right = malloc((size_t)H * sizeof *right);
        for (int64_t h = 0; h < H; h++) {
            left[h] = rndr(0, 30);
            right[h] = rndr(0, 5);
        }
        maskinfo_mask *c = NULL, *w = NULL, *cw = NULL;
        CHECK(maskinfo_mask_causal(&c, B, Q, K, off) == MASKINFO_OK);
        CHECK(maskinfo_mask_window(&w, B, Q, K, H, left, right, off) == MASKINFO_OK);
        CHECK(c && w && maskinfo_mask_and(&cw, c, w) == MASKINFO_OK);
        if (cw)
            for (int s = 0; s < NBS; s++)
                seen |= check_classes(cw, block_sizes[s][0], block_sizes[s][1], "causal & window");
        /* segments (packed documents with padding), and them with causal */
        int64_t *qv = malloc((size_t)(B * Q) * sizeof *qv), *kv = malloc((size_t)(B * K) * sizeof *kv);
        for (int64_t b = 0; b < B; b++) {
            int64_t id = 0;
            for (int64_t q = 0; q < Q; q++) {
                if (rndi(9) == 0) id++;
                qv[b * Q + q] = q > Q - 4 && rndi(2) ? MASKINFO_NOMATCH_Q : id;
            }
            id = 0;
            for (int64_t k = 0; k < K; k++) {
                if (rndi(9) == 0) id++;
                kv[b * K + k] = id;
            }
        }
        maskinfo_mask *sg = NULL, *sc = NULL;
        CHECK(maskinfo_mask_segments(&sg, B, 1, 1, Q, K, qv, kv) == MASKINFO_OK);
        CHECK(sg && maskinfo_mask_and(&sc, sg, c) == MASKINFO_OK);
        for (int s = 0; s < NBS && sc; s++) {
            seen |= check_classes(sg, block_sizes[s][0], block_sizes[s][1], "segments");
            seen |= check_classes(sc, block_sizes[s][0], block_sizes[s][1], "segments & causal");
        }
        maskinfo_mask_unref(c);
        maskinfo_mask_unref(w);
        maskinfo_mask_unref(cw);
        maskinfo_mask_unref(sg);
        maskinfo_mask_unref(sc);
        free(qv);
        free(kv);
        free(off);
        free(left);
        free(right);
    }
    CHECKF(seen == 7, "structured masks covered classes %d of 7", seen);

    /* edges: empty Q or K, blocks larger than the mask, bad block sizes */
    maskinfo_mask *m = NULL;
    maskinfo_array *o = NULL;
    CHECK(maskinfo_mask_constant(&m, 2, 1, 0, 5, 1) == MASKINFO_OK);
    CHECK(maskinfo_mask_block_classes(m, 4, 4, &o, NULL) == MASKINFO_OK);
    CHECK(o && maskinfo_array_ndim(o) == 4 && maskinfo_array_shape(o)[2] == 0 &&
          maskinfo_array_shape(o)[3] == 2 && maskinfo_array_size(o) == 0);
    maskinfo_array_free(o);
    maskinfo_mask_unref(m);
    CHECK(maskinfo_mask_constant(&m, 1, 1, 3, 5, 1) == MASKINFO_OK);
    CHECK(maskinfo_mask_block_classes(m, 1000, 1000, &o, NULL) == MASKINFO_OK);
    CHECK(o && maskinfo_array_size(o) == 1 && ((uint8_t *)maskinfo_array_data(o))[0] == 2);
    maskinfo_array_free(o);
    o = (maskinfo_array *)1;
    CHECK(maskinfo_mask_block_classes(m, 0, 4, &o, NULL) == MASKINFO_EINVAL && o == NULL);
    CHECK(maskinfo_mask_block_classes(m, 4, -1, &o, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_block_classes(NULL, 4, 4, &o, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_block_classes(m, 4, 4, NULL, NULL) == MASKINFO_EINVAL);
    maskinfo_mask_unref(m);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The class of block (i, j) of k <= q and q - L <= k, blocks of n x n on an
 * N x N mask (N a multiple of n), worked out from the block corners. */
static uint8_t cw_class(int64_t i, int64_t j, int64_t n, int64_t L)
{
    int64_t q0 = i * n, q1 = q0 + n - 1, k0 = j * n, k1 = k0 + n - 1;
    if (k0 > q1 || k1 < q0 - L) return 0;
    if (k1 <= q0 && k0 >= q1 - L) return 2;
    return 1;
}

/* A million-token causal sliding-window mask at 128 x 128 blocks: the
 * classes come from rows of intervals, never from a dense mask.  The guard
 * is set to exactly the output size, so any dense expansion would fail. */
static void test_block_classes_large(void)
{
    const int64_t N = INT64_C(1) << 20, n = 128, L = 4000, R = N / n;
    maskinfo_mask *c = NULL, *w = NULL, *m = NULL;
    const int64_t left = L, right = 0;
    CHECK(maskinfo_mask_causal(&c, 1, N, N, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_window(&w, 1, N, N, 1, &left, &right, NULL) == MASKINFO_OK);
    CHECK(c && w && maskinfo_mask_and(&m, c, w) == MASKINFO_OK);
    if (!m) return;
    CHECK(!maskinfo_mask_is_dense(m) && maskinfo_mask_bytes(m) < 4096);
    /* the output plus one thread's two count rows (16 bytes per column) */
    maskinfo_limits lim = {(uint64_t)(R * R + 16 * (R + 1))};
    maskinfo_array *o = NULL;
    double t0 = now_s();
    int st = maskinfo_mask_block_classes(m, n, n, &o, &lim);
    double t1 = now_s();
    CHECKF(st == MASKINFO_OK, "1M-token block classes: status %d", st);
    if (o) {
        const int64_t *s = maskinfo_array_shape(o);
        CHECK(s[0] == 1 && s[1] == 1 && s[2] == R && s[3] == R);
        const uint8_t *cl = maskinfo_array_cdata(o);
        const int64_t rows[] = {0, 1, 31, 32, 33, 4095, 4096, R / 2 + 7, R - 2, R - 1};
        int bad = 0;
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            for (int64_t j = 0; j < R; j++)
                bad += cl[rows[r] * R + j] != cw_class(rows[r], j, n, L);
        CHECKF(bad == 0, "1M-token classes: %d blocks wrong in the rows checked", bad);
        /* every row: the diagonal block is partial, far blocks are empty */
        int diag = 1;
        for (int64_t i = 0; i < R; i++)
            diag &= cl[i * R + i] == 1 && (i < 40 || cl[i * R + i - 40] == 0);
        CHECK(diag);
        maskinfo_array *num = NULL, *idx = NULL;
        maskinfo_limits tl = {(uint64_t)(R * R + R) * 4 + 65 * (uint64_t)R};
        double t2 = now_s();
        st = maskinfo_block_table(o, 1, 0, &num, &idx, &tl);
        double t3 = now_s();
        CHECK(st == MASKINFO_OK);
        /* partial-block counts of a few rows, from the corner rule */
        int nbad = !num;
        for (size_t r = 0; num && r < sizeof rows / sizeof rows[0]; r++) {
            int32_t want = 0;
            for (int64_t j = 0; j < R; j++) want += cw_class(rows[r], j, n, L) == 1;
            nbad += ((int32_t *)maskinfo_array_data(num))[rows[r]] != want;
        }
        CHECK(nbad == 0);
        CHECK(num && ((int32_t *)maskinfo_array_data(num))[0] == 1);
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        st = maskinfo_block_table(o, 2, 1, &num, &idx, &tl);
        double t4 = now_s();
        CHECK(st == MASKINFO_OK);
        printf("info: 1,048,576 tokens, 128x128 blocks: classes %.3f s, "
               "table %.3f s, transposed table %.3f s (%d threads)\n",
               t1 - t0, t3 - t2, t4 - t3,
#ifdef _OPENMP
               omp_get_max_threads()
#else
               1
#endif
        );
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
    }
    maskinfo_array_free(o);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(w);
    maskinfo_mask_unref(m);
}

/* ------------------------------------------------------------ block tables */

/* Naive reference: build the (possibly transposed) matrix explicitly, then
 * a stable insertion sort of the column indices by (class != want). */
static int check_table(const maskinfo_array *cls, int want, int tr)
{
    const int64_t *s = maskinfo_array_shape(cls);
    const int64_t B = s[0], H = s[1], R = s[2], C = s[3];
    const int64_t nr = tr ? C : R, nc = tr ? R : C;
    const uint8_t *c = maskinfo_array_cdata(cls);
    maskinfo_array *num = NULL, *idx = NULL;
    int st = maskinfo_block_table(cls, want, tr, &num, &idx, NULL);
    CHECKF(st == MASKINFO_OK, "block table status %d", st);
    if (st) return 0;
    const int64_t *ns = maskinfo_array_shape(num), *is = maskinfo_array_shape(idx);
    CHECK(maskinfo_array_dtype(num) == MASKINFO_INT32 && maskinfo_array_dtype(idx) == MASKINFO_INT32);
    CHECK(maskinfo_array_ndim(num) == 3 && ns[0] == B && ns[1] == H && ns[2] == nr);
    CHECK(maskinfo_array_ndim(idx) == 4 && is[0] == B && is[1] == H && is[2] == nr && is[3] == nc);
    uint8_t *mat = malloc((size_t)(B * H * R * C) + 1);
    int32_t *ord = malloc((size_t)(nc + 1) * sizeof *ord);
    for (int64_t p = 0; p < B * H; p++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                uint8_t v = c[(p * R + i) * C + j];
                if (tr) mat[(p * C + j) * R + i] = v;
                else mat[(p * R + i) * C + j] = v;
            }
    const int32_t *gn = maskinfo_array_cdata(num), *gi = maskinfo_array_cdata(idx);
    int bad = 0;
    for (int64_t r = 0; r < B * H * nr; r++) {
        const uint8_t *row = mat + r * nc;
        int32_t cnt = 0;
        for (int64_t j = 0; j < nc; j++) {
            ord[j] = (int32_t)j;
            cnt += row[j] == want;
        }
        for (int64_t a = 1; a < nc; a++) { /* stable: move only past larger keys */
            int32_t x = ord[a];
            int kx = row[x] != want;
            int64_t b = a - 1;
            while (b >= 0 && (row[ord[b]] != want) > kx) {
                ord[b + 1] = ord[b];
                b--;
            }
            ord[b + 1] = x;
        }
        bad += gn[r] != cnt || (nc && memcmp(gi + r * nc, ord, (size_t)nc * 4) != 0);
    }
    CHECKF(bad == 0, "block table (want %d, transpose %d): %d rows differ", want, tr, bad);
    free(mat);
    free(ord);
    maskinfo_array_free(num);
    maskinfo_array_free(idx);
    return bad == 0;
}

static maskinfo_array *random_classes(int64_t B, int64_t H, int64_t R, int64_t C)
{
    const int64_t sh[4] = {B, H, R, C};
    maskinfo_array *a = NULL;
    if (maskinfo_array_new(&a, MASKINFO_UINT8, 4, sh, NULL)) return NULL;
    uint8_t *d = maskinfo_array_data(a);
    int bias = (int)rndi(3);
    for (int64_t i = 0; i < maskinfo_array_size(a); i++)
        d[i] = (uint8_t)(rndi(4) == 0 ? bias : rndi(3));
    return a;
}

static void test_block_tables(void)
{
    const int64_t shapes[][4] = {
        {1, 1, 1, 1}, {1, 1, 4, 4}, {2, 3, 5, 7}, {1, 2, 70, 150}, {1, 1, 130, 3},
        {2, 1, 0, 4}, {1, 1, 3, 0}, {1, 1, 64, 64}, {1, 1, 65, 129},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        maskinfo_array *c = random_classes(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
        for (int want = 1; want <= 2; want++)
            for (int tr = 0; tr <= 1; tr++) check_table(c, want, tr);
        maskinfo_array_free(c);
    }
    /* a known case: row [2 1 0 1] with want 1 -> num 2, idx 1 3 0 2 */
    {
        const int64_t sh[4] = {1, 1, 2, 4};
        maskinfo_array *c = NULL, *num = NULL, *idx = NULL;
        CHECK(maskinfo_array_new(&c, MASKINFO_UINT8, 4, sh, NULL) == MASKINFO_OK);
        const uint8_t v[8] = {2, 1, 0, 1, 0, 0, 2, 2};
        memcpy(maskinfo_array_data(c), v, 8);
        CHECK(maskinfo_block_table(c, 1, 0, &num, &idx, NULL) == MASKINFO_OK);
        const int32_t wn[2] = {2, 0}, wi[8] = {1, 3, 0, 2, 0, 1, 2, 3};
        CHECK(num && memcmp(maskinfo_array_cdata(num), wn, sizeof wn) == 0);
        CHECK(idx && memcmp(maskinfo_array_cdata(idx), wi, sizeof wi) == 0);
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        /* transposed, want 2: columns are [2 0] [1 0] [0 2] [1 2] */
        CHECK(maskinfo_block_table(c, 2, 1, &num, &idx, NULL) == MASKINFO_OK);
        const int32_t tn[4] = {1, 0, 1, 1}, ti[8] = {0, 1, 0, 1, 1, 0, 1, 0};
        CHECK(num && memcmp(maskinfo_array_cdata(num), tn, sizeof tn) == 0);
        CHECK(idx && memcmp(maskinfo_array_cdata(idx), ti, sizeof ti) == 0);
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        /* argument errors leave the outputs NULL */
        num = idx = (maskinfo_array *)1;
        CHECK(maskinfo_block_table(c, 0, 0, &num, &idx, NULL) == MASKINFO_EINVAL && !num && !idx);
        CHECK(maskinfo_block_table(c, 3, 0, &num, &idx, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_block_table(NULL, 1, 0, &num, &idx, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_block_table(c, 1, 0, NULL, &idx, NULL) == MASKINFO_EINVAL);
        maskinfo_array *i32 = NULL;
        CHECK(maskinfo_array_astype(c, MASKINFO_INT32, &i32, NULL) == MASKINFO_OK);
        CHECK(maskinfo_block_table(i32, 1, 0, &num, &idx, NULL) == MASKINFO_EDTYPE);
        maskinfo_array_free(i32);
        const int64_t sh3[3] = {1, 2, 4};
        CHECK(maskinfo_array_reshape(c, 3, sh3) == MASKINFO_OK);
        CHECK(maskinfo_block_table(c, 1, 0, &num, &idx, NULL) == MASKINFO_ESHAPE);
        maskinfo_array_free(c);
    }
    /* end to end: tables of computed classes of causal & segments */
    {
        const int64_t Q = 37, K = 41;
        int64_t qv[37], kv[41];
        for (int64_t q = 0; q < Q; q++) qv[q] = q / 13;
        for (int64_t k = 0; k < K; k++) kv[k] = k / 13;
        maskinfo_mask *sg = NULL, *c = NULL, *m = NULL;
        maskinfo_mask_segments(&sg, 1, 1, 1, Q, K, qv, kv);
        maskinfo_mask_causal(&c, 1, Q, K, NULL);
        CHECK(sg && c && maskinfo_mask_and(&m, sg, c) == MASKINFO_OK);
        maskinfo_array *cls = NULL;
        CHECK(m && maskinfo_mask_block_classes(m, 4, 4, &cls, NULL) == MASKINFO_OK);
        for (int want = 1; want <= 2 && cls; want++)
            for (int tr = 0; tr <= 1; tr++) check_table(cls, want, tr);
        maskinfo_array_free(cls);
        maskinfo_mask_unref(sg);
        maskinfo_mask_unref(c);
        maskinfo_mask_unref(m);
    }
}

/* ------------------------------------------------------------ threads, guard */

static void set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static void test_thread_invariance(void)
{
    /* large enough to cross every parallel threshold */
    const int64_t B = 2, Q = 2048, K = 2048;
    const int64_t off[2] = {0, 100}, left[2] = {300, 17}, right[2] = {0, 9};
    maskinfo_mask *c = NULL, *w = NULL, *m = NULL, *r = NULL, *mr = NULL;
    maskinfo_mask_causal(&c, B, Q, K, off);
    maskinfo_mask_window(&w, B, Q, K, 2, left, right, off);
    maskinfo_mask_and(&m, c, w);
    maskinfo_mask_random(&r, B, 1, Q, K, 0.97, 42, NULL);
    CHECK(m && r && maskinfo_mask_or(&mr, m, r) == MASKINFO_OK);
    maskinfo_mask *ms[2] = {m, mr};
    for (int t = 0; t < 2; t++) {
        if (!ms[t]) continue;
        maskinfo_array *o1 = NULL, *o3 = NULL;
        set_threads(1);
        int s1 = maskinfo_mask_block_classes(ms[t], 16, 16, &o1, NULL);
        set_threads(3);
        int s3 = maskinfo_mask_block_classes(ms[t], 16, 16, &o3, NULL);
        CHECK(s1 == MASKINFO_OK && s3 == MASKINFO_OK && o1 && o3 &&
              maskinfo_array_size(o1) == B * 2 * 128 * 128 &&
              memcmp(maskinfo_array_cdata(o1), maskinfo_array_cdata(o3),
                     (size_t)maskinfo_array_size(o1)) == 0);
        for (int tr = 0; tr <= 1 && o1; tr++) {
            maskinfo_array *n1 = NULL, *i1 = NULL, *n3 = NULL, *i3 = NULL;
            set_threads(1);
            maskinfo_block_table(o1, 1 + t, tr, &n1, &i1, NULL);
            set_threads(3);
            maskinfo_block_table(o1, 1 + t, tr, &n3, &i3, NULL);
            CHECK(n1 && n3 && i1 && i3 && maskinfo_array_equal(n1, n3) &&
                  maskinfo_array_equal(i1, i3));
            maskinfo_array_free(n1);
            maskinfo_array_free(i1);
            maskinfo_array_free(n3);
            maskinfo_array_free(i3);
        }
        maskinfo_array_free(o1);
        maskinfo_array_free(o3);
    }
    set_threads(2);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(w);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(r);
    maskinfo_mask_unref(mr);
}

/* Bytes in use by malloc, to show a refused call allocated nothing. */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

static void test_guard(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, 1000, 1000, NULL) == MASKINFO_OK);
    if (!m) return;
    /* 10 x 10 blocks: 100 output bytes + 16 * (10 + 1) for the count rows */
    maskinfo_limits tiny = {276};
    maskinfo_array *o = NULL;
    size_t h0 = heap_in_use();
    int st = maskinfo_mask_block_classes(m, 99, 99, &o, &tiny); /* 11 x 11 */
    size_t h1 = heap_in_use();
    CHECK(st == MASKINFO_ETOOBIG && o == NULL);
    CHECK(h0 == h1);
    tiny.max_bytes = 275;
    CHECK(maskinfo_mask_block_classes(m, 100, 100, &o, &tiny) == MASKINFO_ETOOBIG && o == NULL);
    tiny.max_bytes = 276;
    CHECK(maskinfo_mask_block_classes(m, 100, 100, &o, &tiny) == MASKINFO_OK);
    CHECK(o && maskinfo_array_size(o) == 100);
    /* tables need 4 * (10 + 100) bytes */
    maskinfo_array *num = NULL, *idx = NULL;
    maskinfo_limits small = {439};
    h0 = heap_in_use();
    st = maskinfo_block_table(o, 1, 0, &num, &idx, &small);
    h1 = heap_in_use();
    CHECK(st == MASKINFO_ETOOBIG && num == NULL && idx == NULL);
    CHECK(h0 == h1);
    small.max_bytes = 440;
    CHECK(maskinfo_block_table(o, 1, 0, &num, &idx, &small) == MASKINFO_OK);
    maskinfo_array_free(num);
    maskinfo_array_free(idx);
    /* transposed: + a thread's 10 column counts of 8 bytes */
    small.max_bytes = 519;
    CHECK(maskinfo_block_table(o, 1, 1, &num, &idx, &small) == MASKINFO_ETOOBIG);
    small.max_bytes = 520;
    CHECK(maskinfo_block_table(o, 1, 1, &num, &idx, &small) == MASKINFO_OK);
    maskinfo_array_free(num);
    maskinfo_array_free(idx);
    maskinfo_array_free(o);
    /* an absurd request: 2^60 blocks refused under the default guard */
    maskinfo_mask *big = NULL;
    CHECK(maskinfo_mask_constant(&big, 1, 1, INT64_C(1) << 40, INT64_C(1) << 20, 1) == MASKINFO_OK);
    o = NULL;
    CHECK(big && maskinfo_mask_block_classes(big, 1, 1, &o, NULL) == MASKINFO_ETOOBIG && o == NULL);
    maskinfo_mask_unref(big);
    maskinfo_mask_unref(m);
}

int main(void)
{
    set_threads(2);
    test_block_classes_random();
    test_block_classes_structured();
    test_block_tables();
    test_thread_invariance();
    test_guard();
    test_block_classes_large();
    return check_summary();
}
