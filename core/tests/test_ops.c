/* test_ops.c - rule leaves (causal, window, chunked, key range), the mask
 * algebra (and, or, not, andnot with B/H broadcasting), stack_heads,
 * broadcast, slice and deep nesting, each against a cell-by-cell reference
 * built from the definitions in maskinfo.h; and a 1,048,576-token
 * segments+causal+window mask whose count has a closed form.  Only the public
 * header is used. */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#define TEST_RNG_SEED 0x0123456789abcdefull
#include "rng.h"
#include "mask_ref.h"

/* A reference mask: cells of shape (B, H, Q, K), one byte each. */
typedef struct {
    int64_t B, H, Q, K;
    uint8_t *c;
} ref;

static ref ref_new(int64_t B, int64_t H, int64_t Q, int64_t K)
{
    ref r = {B, H, Q, K, NULL};
    int64_t n = B * H * Q * K;
    r.c = calloc((size_t)(n > 0 ? n : 1), 1);
    return r;
}

static uint8_t *cell(const ref *r, int64_t b, int64_t h, int64_t q, int64_t k)
{
    /* extents of 1 broadcast */
    if (r->B == 1) b = 0;
    if (r->H == 1) h = 0;
    return r->c + ((b * r->H + h) * r->Q + q) * r->K + k;
}

/* Compare a mask with a reference (see mask_ref.h); prints the first
 * disagreement under `label`. */
static int same(const maskinfo_mask *m, const ref *r, const char *label)
{
    return mask_matches_cells(m, r->c, r->B, r->H, r->Q, r->K, label);
}

/* Two checks: `call` (which writes the mask to `m`) succeeds, and its mask
 * matches the reference `want`; then the mask is dropped.  A macro, so that a
 * failure names the caller's line. */
#define CHECK_MAKES(call, want, label)                                       \
    do {                                                                     \
        CHECK((call) == MASKINFO_OK);                                        \
        CHECK(m && same(m, (want), (label)));                                \
        maskinfo_mask_unref(m);                                              \
        m = NULL;                                                            \
    } while (0)

/* Release two operand masks and their references. */
static void drop_operands(maskinfo_mask *a, maskinfo_mask *b, ref *ra, ref *rb)
{
    maskinfo_mask_unref(a);
    maskinfo_mask_unref(b);
    free(ra->c);
    free(rb->c);
}

/* ---------------------------------------------------------------- references */

static int64_t floordiv(int64_t n, int64_t d)
{
    int64_t q = n / d;
    return (n % d != 0 && n < 0) ? q - 1 : q;
}

static int64_t at(const int64_t *v, int64_t i) { return v ? v[i] : 0; }

static ref ref_causal(int64_t B, int64_t Q, int64_t K, const int64_t *off)
{
    ref r = ref_new(B, 1, Q, K);
    for (int64_t b = 0; b < B; b++)
        for (int64_t q = 0; q < Q; q++)
            for (int64_t k = 0; k < K; k++)
                *cell(&r, b, 0, q, k) = k <= q + at(off, b);
    return r;
}

static ref ref_window(int64_t B, int64_t Q, int64_t K, int64_t nh,
                      const int64_t *left, const int64_t *right, const int64_t *off)
{
    ref r = ref_new(B, nh, Q, K);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < nh; h++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) {
                    int64_t c = q + at(off, b);
                    *cell(&r, b, h, q, k) = c - left[h] <= k && k <= c + right[h];
                }
    return r;
}

static ref ref_chunk(int64_t B, int64_t Q, int64_t K, int64_t chunk,
                     const int64_t *off)
{
    ref r = ref_new(B, 1, Q, K);
    for (int64_t b = 0; b < B; b++)
        for (int64_t q = 0; q < Q; q++)
            for (int64_t k = 0; k < K; k++)
                *cell(&r, b, 0, q, k) = floordiv(q, chunk) == floordiv(k, chunk) &&
                                        k <= q + at(off, b);
    return r;
}

static ref ref_krange(int64_t B, int64_t Q, int64_t K, const int64_t *lo,
                      const int64_t *hi)
{
    ref r = ref_new(B, 1, Q, K);
    for (int64_t b = 0; b < B; b++)
        for (int64_t q = 0; q < Q; q++)
            for (int64_t k = 0; k < K; k++)
                *cell(&r, b, 0, q, k) = at(lo, b) <= k && k < hi[b];
    return r;
}

enum { OP_AND, OP_OR, OP_ANDNOT, OP_NOT };

static ref ref_op(int op, const ref *a, const ref *b)
{
    int64_t B = a->B, H = a->H;
    if (b) {
        B = a->B > b->B ? a->B : b->B;
        H = a->H > b->H ? a->H : b->H;
        if (a->B == 0 || b->B == 0) B = 0;
    }
    ref r = ref_new(B, H, a->Q, a->K);
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t q = 0; q < a->Q; q++)
                for (int64_t k = 0; k < a->K; k++) {
                    int x = *cell(a, bb, h, q, k) != 0;
                    int y = b ? *cell(b, bb, h, q, k) != 0 : 0;
                    int v = op == OP_AND ? x && y : op == OP_OR ? x || y
                          : op == OP_ANDNOT ? x && !y : !x;
                    *cell(&r, bb, h, q, k) = (uint8_t)v;
                }
    return r;
}

static int apply(int op, maskinfo_mask **out, maskinfo_mask *a, maskinfo_mask *b)
{
    switch (op) {
    case OP_AND: return maskinfo_mask_and(out, a, b);
    case OP_OR: return maskinfo_mask_or(out, a, b);
    case OP_ANDNOT: return maskinfo_mask_andnot(out, a, b);
    default: return maskinfo_mask_not(out, a);
    }
}

static const char *op_name[] = {"and", "or", "andnot", "not"};

/* ---------------------------------------------------------------- operands */

/*
 * A random operand of shape (B or 1, H or 1, Q, K) and its reference.  Kinds:
 * dense random cells, causal / window / chunked / key range with random
 * per-batch offsets, segments, intervals, constants.
 */
static maskinfo_mask *operand(int kind, int64_t B, int64_t H, int64_t Q,
                              int64_t K, ref *r)
{
    maskinfo_mask *m = NULL;
    int64_t Bx = rndi(4) == 0 ? 1 : B;
    int64_t off[8], lo[8], hi[8];
    for (int i = 0; i < 8; i++) {
        off[i] = rndr(-K - 2, K + 2);
        lo[i] = rndr(-3, K + 1);
        hi[i] = rndr(-2, K + 3);
    }
    switch (kind) {
    case 0: { /* dense random */
        int64_t Hx = rndi(3) == 0 ? 1 : H;
        int dens = (int)rndi(101);
        *r = ref_new(Bx, Hx, Q, K);
        int64_t n = Bx * Hx * Q * K;
        for (int64_t i = 0; i < n; i++) r->c[i] = rndi(100) < dens;
        if (maskinfo_mask_from_bytes(&m, Bx, Hx, Q, K, r->c, NULL)) return NULL;
        return m;
    }
    case 1:
        *r = ref_causal(Bx, Q, K, off);
        return maskinfo_mask_causal(&m, Bx, Q, K, off) ? NULL : m;
    case 2: {
        int64_t nh = rndi(2) ? H : 1, left[8], right[8];
        for (int i = 0; i < 8; i++) {
            left[i] = rndi(8);
            right[i] = rndi(8);
        }
        *r = ref_window(Bx, Q, K, nh, left, right, off);
        return maskinfo_mask_window(&m, Bx, Q, K, nh, left, right, off) ? NULL : m;
    }
    case 3: {
        int64_t chunk = rndr(1, 9);
        *r = ref_chunk(Bx, Q, K, chunk, off);
        return maskinfo_mask_chunked(&m, Bx, Q, K, chunk, off) ? NULL : m;
    }
    case 4:
        *r = ref_krange(Bx, Q, K, lo, hi);
        return maskinfo_mask_key_range(&m, Bx, Q, K, lo, hi) ? NULL : m;
    case 5: { /* segments, Hq = Hk = 1 or H */
        int64_t Hx = rndi(2) ? H : 1;
        int64_t *qv = malloc((size_t)(Bx * Hx * Q + 1) * sizeof *qv);
        int64_t *kv = malloc((size_t)(Bx * Hx * K + 1) * sizeof *kv);
        for (int64_t i = 0; i < Bx * Hx * Q; i++)
            qv[i] = rndi(9) == 0 ? MASKINFO_NOMATCH_Q : (i % (Q ? Q : 1)) / 4 % 3;
        for (int64_t i = 0; i < Bx * Hx * K; i++)
            kv[i] = rndi(9) == 0 ? MASKINFO_NOMATCH_KV : (i % (K ? K : 1)) / 3 % 3;
        *r = ref_new(Bx, Hx, Q, K);
        for (int64_t b = 0; b < Bx; b++)
            for (int64_t h = 0; h < Hx; h++)
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t x = qv[(b * Hx + h) * Q + q], y = kv[(b * Hx + h) * K + k];
                        *cell(r, b, h, q, k) = x == y && x != MASKINFO_NOMATCH_Q &&
                                               x != MASKINFO_NOMATCH_KV;
                    }
        int st = maskinfo_mask_segments(&m, Bx, Hx, Hx, Q, K, qv, kv);
        free(qv);
        free(kv);
        return st ? NULL : m;
    }
    case 6: { /* intervals, 0..3 per row */
        int64_t Hx = rndi(2) ? H : 1, rows = Bx * Hx * Q;
        int64_t *o = malloc((size_t)(rows + 1) * sizeof *o);
        int64_t *iv = malloc((size_t)(rows * 6 + 2) * sizeof *iv);
        *r = ref_new(Bx, Hx, Q, K);
        int64_t w = 0;
        for (int64_t row = 0; row < rows; row++) {
            o[row] = w;
            for (int64_t j = rndi(4); j > 0; j--, w++) {
                iv[2 * w] = rndr(-2, K);
                iv[2 * w + 1] = iv[2 * w] + rndr(0, 9);
                for (int64_t k = iv[2 * w] < 0 ? 0 : iv[2 * w]; k < iv[2 * w + 1] && k < K; k++)
                    r->c[row * K + k] = 1;
            }
        }
        o[rows] = w;
        int st = maskinfo_mask_from_intervals(&m, Bx, Hx, Q, K, o, iv, NULL);
        free(o);
        free(iv);
        return st ? NULL : m;
    }
    default: { /* constant */
        int v = (int)rndi(2);
        *r = ref_new(Bx, 1, Q, K);
        memset(r->c, v, (size_t)(Bx * Q * K));
        return maskinfo_mask_constant(&m, Bx, 1, Q, K, v) ? NULL : m;
    }
    }
}
#define NKINDS 8

/* ---------------------------------------------------------------- rule leaves */
static void test_rules(void)
{
    char label[80];
    for (int trial = 0; trial < 60; trial++) {
        int64_t B = rndr(1, 4), Q = rndi(25), K = rndi(25);
        int64_t off[4], lo[4], hi[4];
        for (int i = 0; i < 4; i++) {
            off[i] = rndr(-K - 3, K + 3); /* negative offsets too */
            lo[i] = rndr(-4, K + 2);
            hi[i] = rndr(-4, K + 4);
        }
        const int64_t *o = trial % 5 == 0 ? NULL : off;
        maskinfo_mask *m = NULL;
        ref r;

        r = ref_causal(B, Q, K, o);
        CHECK(maskinfo_mask_causal(&m, B, Q, K, o) == MASKINFO_OK);
        snprintf(label, sizeof label, "causal trial %d", trial);
        CHECK(m && same(m, &r, label));
        CHECK(m && !maskinfo_mask_is_dense(m));
        maskinfo_mask_unref(m);
        free(r.c);

        int64_t nh = trial % 2 ? 1 : rndr(2, 4), left[4], right[4];
        for (int i = 0; i < 4; i++) {
            left[i] = rndi(trial % 3 ? 6 : 40);
            right[i] = rndi(trial % 3 ? 6 : 40);
        }
        r = ref_window(B, Q, K, nh, left, right, o);
        m = NULL;
        CHECK(maskinfo_mask_window(&m, B, Q, K, nh, left, right, o) == MASKINFO_OK);
        snprintf(label, sizeof label, "window trial %d (nh %lld)", trial, (long long)nh);
        CHECK(m && same(m, &r, label));
        maskinfo_mask_unref(m);
        free(r.c);

        int64_t chunk = trial % 7 == 0 ? 100 : rndr(1, 8);
        r = ref_chunk(B, Q, K, chunk, o);
        m = NULL;
        CHECK(maskinfo_mask_chunked(&m, B, Q, K, chunk, o) == MASKINFO_OK);
        snprintf(label, sizeof label, "chunked trial %d (chunk %lld)", trial,
                 (long long)chunk);
        CHECK(m && same(m, &r, label));
        maskinfo_mask_unref(m);
        free(r.c);

        const int64_t *l = trial % 4 == 0 ? NULL : lo;
        r = ref_krange(B, Q, K, l, hi);
        m = NULL;
        CHECK(maskinfo_mask_key_range(&m, B, Q, K, l, hi) == MASKINFO_OK);
        snprintf(label, sizeof label, "key_range trial %d", trial);
        CHECK(m && same(m, &r, label));
        maskinfo_mask_unref(m);
        free(r.c);
    }
    /* hand examples */
    {
        maskinfo_mask *m = NULL;
        maskinfo_scratch *s = maskinfo_scratch_new();
        const int64_t *iv;
        int64_t n = 0, off[2] = {-2, 3};
        CHECK(maskinfo_mask_causal(&m, 2, 4, 6, off) == MASKINFO_OK);
        int64_t sh[4];
        maskinfo_mask_shape(m, sh);
        CHECK(sh[0] == 2 && sh[1] == 1 && sh[2] == 4 && sh[3] == 6);
        CHECK(maskinfo_mask_row(m, 0, 0, 1, s, &iv, &n) == MASKINFO_OK && n == 0);
        CHECK(maskinfo_mask_row(m, 0, 0, 3, s, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 0 && iv[1] == 2);
        CHECK(maskinfo_mask_row(m, 1, 0, 0, s, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 0 && iv[1] == 4);
        CHECK(maskinfo_mask_row(m, 1, 0, 3, s, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 0 && iv[1] == 6);
        maskinfo_mask_unref(m);
        /* chunk 3, offset 0: row 4 sees keys 3..4 */
        CHECK(maskinfo_mask_chunked(&m, 1, 8, 8, 3, NULL) == MASKINFO_OK);
        CHECK(maskinfo_mask_row(m, 0, 0, 4, s, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 3 && iv[1] == 5);
        maskinfo_mask_unref(m);
        /* per-head windows: head 1 is (left 0, right 2) */
        int64_t left[2] = {1, 0}, right[2] = {0, 2};
        CHECK(maskinfo_mask_window(&m, 1, 5, 5, 2, left, right, NULL) == MASKINFO_OK);
        maskinfo_mask_shape(m, sh);
        CHECK(sh[1] == 2);
        CHECK(maskinfo_mask_row(m, 0, 0, 0, s, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 0 && iv[1] == 1);
        CHECK(maskinfo_mask_row(m, 0, 1, 3, s, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 3 && iv[1] == 5);
        maskinfo_mask_unref(m);
        maskinfo_scratch_free(s);
    }
    /* extreme parameters: the definitions hold for any int64 value, so
     * INT64_MAX / INT64_MIN mean "no limit" / "nothing" on that side (one
     * check per formula, so a failure names its line) */
    {
        maskinfo_mask *m = NULL;
        ref full = ref_new(2, 1, 5, 7), none = ref_new(2, 1, 5, 7);
        memset(full.c, 1, 70);
        ref tril = ref_causal(2, 5, 7, NULL);
        int64_t big[2] = {INT64_MAX, INT64_MAX}, small[2] = {INT64_MIN, INT64_MIN};
        int64_t zero[2] = {0, 0};
        /* k <= q + off with off = INT64_MAX: every key */
        CHECK_MAKES(maskinfo_mask_causal(&m, 2, 5, 7, big),
                    &full, "causal, offset INT64_MAX");
        CHECK_MAKES(maskinfo_mask_causal(&m, 2, 5, 7, small),
                    &none, "causal, offset INT64_MIN");
        /* left = INT64_MAX, right = 0: exactly causal */
        CHECK_MAKES(maskinfo_mask_window(&m, 2, 5, 7, 1, big, zero, NULL),
                    &tril, "window, left INT64_MAX");
        /* right = INT64_MAX as well: every key */
        CHECK_MAKES(maskinfo_mask_window(&m, 2, 5, 7, 1, big, big, NULL),
                    &full, "window, left and right INT64_MAX");
        CHECK_MAKES(maskinfo_mask_window(&m, 2, 5, 7, 1, zero, zero, small),
                    &none, "window, offset INT64_MIN");
        /* one chunk of INT64_MAX keys: exactly causal */
        CHECK_MAKES(maskinfo_mask_chunked(&m, 2, 5, 7, INT64_MAX, NULL),
                    &tril, "chunked, chunk INT64_MAX");
        /* chunk 3 with offset INT64_MAX: whole chunks */
        ref r3 = ref_chunk(2, 5, 7, 3, zero);
        for (int64_t i = 0; i < 70; i++) {
            int64_t q = (i / 7) % 5, k = i % 7;
            r3.c[i] = q / 3 == k / 3;
        }
        CHECK_MAKES(maskinfo_mask_chunked(&m, 2, 5, 7, 3, big),
                    &r3, "chunked, offset INT64_MAX");
        CHECK_MAKES(maskinfo_mask_key_range(&m, 2, 5, 7, small, big),
                    &full, "key_range [INT64_MIN, INT64_MAX)");
        CHECK_MAKES(maskinfo_mask_key_range(&m, 2, 5, 7, big, big),
                    &none, "key_range [INT64_MAX, INT64_MAX)");
        free(full.c);
        free(none.c);
        free(tril.c);
        free(r3.c);
    }
    /* bad arguments */
    {
        maskinfo_mask *m = NULL;
        int64_t one[2] = {1, 1}, neg[2] = {1, -1};
        CHECK(maskinfo_mask_causal(&m, -1, 4, 4, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_causal(&m, 1, -4, 4, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_causal(&m, 1, 4, -4, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_causal(&m, 1 << 22, 1 << 22, 1 << 22, NULL) ==
              MASKINFO_EOVERFLOW);
        CHECK(maskinfo_mask_window(&m, 1, 4, 4, 0, one, one, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_window(&m, 1, 4, 4, 2, neg, one, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_window(&m, 1, 4, 4, 2, one, neg, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_window(&m, 1, 4, 4, 1, NULL, one, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_window(&m, -1, 4, 4, 1, one, one, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_chunked(&m, 1, 4, 4, 0, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_chunked(&m, 1, 4, 4, -3, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_chunked(&m, 1, -4, 4, 2, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_key_range(&m, 1, 4, 4, one, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_key_range(&m, 1, 4, -4, NULL, one) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_key_range(&m, 1 << 22, 1 << 22, 1 << 22, NULL, one) ==
              MASKINFO_EOVERFLOW);
        CHECK(m == NULL);
    }
}

/* ---------------------------------------------------------------- algebra */
static void test_algebra(void)
{
    char label[96];
    for (int trial = 0; trial < 160; trial++) {
        int64_t B = rndr(1, 3), H = rndr(1, 3), Q = rndi(16), K = rndi(90);
        ref ra, rb;
        int ka = (int)rndi(NKINDS), kb = (int)rndi(NKINDS);
        maskinfo_mask *a = operand(ka, B, H, Q, K, &ra);
        maskinfo_mask *b = operand(kb, B, H, Q, K, &rb);
        CHECK(a && b);
        if (!a || !b) {
            drop_operands(a, b, &ra, &rb);
            continue;
        }
        for (int op = OP_AND; op <= OP_NOT; op++) {
            maskinfo_mask *m = NULL;
            CHECK(apply(op, &m, a, b) == MASKINFO_OK);
            ref want = ref_op(op, &ra, op == OP_NOT ? NULL : &rb);
            snprintf(label, sizeof label, "%s trial %d (kinds %d,%d; a %lldx%lld, b %lldx%lld)",
                     op_name[op], trial, ka, kb, (long long)ra.B, (long long)ra.H,
                     (long long)rb.B, (long long)rb.H);
            CHECK(m && same(m, &want, label));
            if (m)
                CHECK(maskinfo_mask_is_dense(m) ==
                      (maskinfo_mask_is_dense(a) || (op != OP_NOT && maskinfo_mask_is_dense(b))));
            maskinfo_mask_unref(m);
            free(want.c);
        }
        drop_operands(a, b, &ra, &rb);
    }
    /* explicit broadcasting: (1,1) with (3,1), (1,4) with (3,1), (3,4) with (1,1) */
    {
        static const int64_t shapes[][4] = {{1, 1, 3, 1}, {1, 4, 3, 1}, {3, 4, 1, 1},
                                            {3, 1, 3, 4}, {2, 2, 2, 2}};
        for (int i = 0; i < 5; i++) {
            int64_t Q = 7, K = 45;
            ref ra = ref_new(shapes[i][0], shapes[i][1], Q, K);
            ref rb = ref_new(shapes[i][2], shapes[i][3], Q, K);
            for (int64_t j = 0; j < ra.B * ra.H * Q * K; j++) ra.c[j] = rndi(2);
            for (int64_t j = 0; j < rb.B * rb.H * Q * K; j++) rb.c[j] = rndi(3) != 0;
            maskinfo_mask *a = NULL, *b = NULL;
            CHECK(maskinfo_mask_from_bytes(&a, ra.B, ra.H, Q, K, ra.c, NULL) == MASKINFO_OK);
            CHECK(maskinfo_mask_from_bytes(&b, rb.B, rb.H, Q, K, rb.c, NULL) == MASKINFO_OK);
            for (int op = OP_AND; op <= OP_ANDNOT; op++)
                for (int rev = 0; rev < 2; rev++) { /* rev: the other way round */
                    maskinfo_mask *m = NULL;
                    CHECK(apply(op, &m, rev ? b : a, rev ? a : b) == MASKINFO_OK);
                    ref want = rev ? ref_op(op, &rb, &ra) : ref_op(op, &ra, &rb);
                    snprintf(label, sizeof label, "broadcast %s case %d%s", op_name[op], i,
                             rev ? " reversed" : "");
                    CHECK(m && same(m, &want, label));
                    maskinfo_mask_unref(m);
                    free(want.c);
                }
            drop_operands(a, b, &ra, &rb);
        }
    }
    /* the operands may be released right away: the result holds them */
    {
        int64_t off[2] = {0, -3}, left[3] = {2, 0, 5}, right[3] = {0, 0, 1};
        maskinfo_mask *c = NULL, *w = NULL, *m = NULL;
        CHECK(maskinfo_mask_causal(&c, 2, 12, 12, off) == MASKINFO_OK);
        CHECK(maskinfo_mask_window(&w, 2, 12, 12, 3, left, right, NULL) == MASKINFO_OK);
        ref rc = ref_causal(2, 12, 12, off), rw = ref_window(2, 12, 12, 3, left, right, NULL);
        CHECK(maskinfo_mask_and(&m, c, w) == MASKINFO_OK);
        maskinfo_mask_unref(c);
        maskinfo_mask_unref(w);
        ref want = ref_op(OP_AND, &rc, &rw);
        CHECK(m && same(m, &want, "and after releasing operands"));
        CHECK(m && !maskinfo_mask_is_dense(m));
        maskinfo_mask_unref(m);
        free(rc.c);
        free(rw.c);
        free(want.c);
    }
    /* a mask combined with itself */
    {
        ref ra;
        maskinfo_mask *a = operand(0, 2, 2, 9, 70, &ra), *m = NULL;
        CHECK(a && maskinfo_mask_and(&m, a, a) == MASKINFO_OK && same(m, &ra, "a and a"));
        maskinfo_mask_unref(m);
        m = NULL;
        CHECK(a && maskinfo_mask_or(&m, a, a) == MASKINFO_OK && same(m, &ra, "a or a"));
        maskinfo_mask_unref(m);
        m = NULL;
        memset(ra.c, 0, (size_t)(ra.B * ra.H * 9 * 70));
        CHECK(a && maskinfo_mask_andnot(&m, a, a) == MASKINFO_OK &&
              same(m, &ra, "a andnot a"));
        maskinfo_mask_unref(m);
        maskinfo_mask_unref(a);
        free(ra.c);
    }
    /* shape errors */
    {
        maskinfo_mask *a = NULL, *b = NULL, *m = NULL;
        CHECK(maskinfo_mask_constant(&a, 2, 3, 4, 5, 1) == MASKINFO_OK);
        static const int64_t bad[][4] = {{2, 3, 5, 5}, {2, 3, 4, 6}, {3, 3, 4, 5},
                                         {2, 2, 4, 5}, {0, 3, 4, 5}};
        for (int i = 0; i < 5; i++) {
            CHECK(maskinfo_mask_constant(&b, bad[i][0], bad[i][1], bad[i][2], bad[i][3], 1) ==
                  MASKINFO_OK);
            for (int op = OP_AND; op <= OP_ANDNOT; op++) {
                CHECK(apply(op, &m, a, b) == MASKINFO_ESHAPE);
                CHECK(apply(op, &m, b, a) == MASKINFO_ESHAPE);
            }
            maskinfo_mask_unref(b);
        }
        CHECK(maskinfo_mask_and(&m, a, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_or(&m, NULL, a) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_andnot(&m, NULL, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_not(&m, NULL) == MASKINFO_EINVAL);
        CHECK(m == NULL);
        maskinfo_mask_unref(a);
    }
}

/* ---------------------------------------------------------------- stack / broadcast */
static void test_stack_broadcast(void)
{
    char label[64];
    for (int trial = 0; trial < 20; trial++) {
        int64_t B = rndr(1, 3), Q = rndi(12), K = rndi(80), n = rndr(1, 5);
        maskinfo_mask *parts[5];
        ref rp[5];
        for (int64_t i = 0; i < n; i++) {
            /* an operand with H == 1 and full B */
            do {
                parts[i] = operand((int)rndi(NKINDS), B, 1, Q, K, &rp[i]);
                if (parts[i] && rp[i].B == B && rp[i].H == 1) break;
                maskinfo_mask_unref(parts[i]);
                free(rp[i].c);
            } while (1);
        }
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_stack_heads(&m, parts, n) == MASKINFO_OK);
        ref want = ref_new(B, n, Q, K);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < n; h++)
                memcpy(cell(&want, b, h, 0, 0), cell(&rp[h], b, 0, 0, 0), (size_t)(Q * K));
        for (int64_t i = 0; i < n; i++) maskinfo_mask_unref(parts[i]);
        snprintf(label, sizeof label, "stack_heads trial %d (n %lld)", trial, (long long)n);
        CHECK(m && same(m, &want, label));
        /* and broadcast the stack over nothing new: the same mask */
        maskinfo_mask *bc = NULL;
        CHECK(m && maskinfo_mask_broadcast(&bc, m, B, n) == MASKINFO_OK &&
              same(bc, &want, "broadcast to its own shape"));
        maskinfo_mask_unref(bc);
        maskinfo_mask_unref(m);
        free(want.c);
        for (int64_t i = 0; i < n; i++) free(rp[i].c);
    }
    /* stack errors */
    {
        maskinfo_mask *a = NULL, *b = NULL, *m = NULL;
        CHECK(maskinfo_mask_constant(&a, 2, 1, 4, 5, 1) == MASKINFO_OK);
        maskinfo_mask *ps[2] = {a, NULL};
        CHECK(maskinfo_mask_stack_heads(&m, ps, 0) == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_stack_heads(&m, NULL, 2) == MASKINFO_EINVAL);
        static const int64_t bad[][4] = {{2, 2, 4, 5}, {1, 1, 4, 5}, {2, 1, 3, 5}, {2, 1, 4, 6}};
        for (int i = 0; i < 4; i++) {
            CHECK(maskinfo_mask_constant(&b, bad[i][0], bad[i][1], bad[i][2], bad[i][3], 0) ==
                  MASKINFO_OK);
            ps[1] = b;
            CHECK(maskinfo_mask_stack_heads(&m, ps, 2) == MASKINFO_ESHAPE);
            maskinfo_mask_unref(b);
        }
        CHECK(m == NULL);
        maskinfo_mask_unref(a);
    }
    /* broadcast (1,1) / (B,1) / (1,H) leaves to (3,4) */
    {
        static const int64_t from[][2] = {{1, 1}, {3, 1}, {1, 4}};
        for (int i = 0; i < 3; i++) {
            int64_t Q = 6, K = 50;
            ref ra = ref_new(from[i][0], from[i][1], Q, K);
            for (int64_t j = 0; j < ra.B * ra.H * Q * K; j++) ra.c[j] = rndi(2);
            maskinfo_mask *a = NULL, *m = NULL;
            CHECK(maskinfo_mask_from_bytes(&a, ra.B, ra.H, Q, K, ra.c, NULL) == MASKINFO_OK);
            CHECK(maskinfo_mask_broadcast(&m, a, 3, 4) == MASKINFO_OK);
            ref want = ref_new(3, 4, Q, K);
            for (int64_t b = 0; b < 3; b++)
                for (int64_t h = 0; h < 4; h++)
                    memcpy(cell(&want, b, h, 0, 0), cell(&ra, b, h, 0, 0), (size_t)(Q * K));
            snprintf(label, sizeof label, "broadcast (%lld,%lld) to (3,4)",
                     (long long)ra.B, (long long)ra.H);
            CHECK(m && same(m, &want, label));
            uint64_t ph[12], t = 0;
            CHECK(m && maskinfo_mask_count(m, &t, ph, NULL) == MASKINFO_OK);
            if (i == 0) {
                int eq = 1;
                for (int j = 1; j < 12; j++) eq &= ph[j] == ph[0];
                CHECK(eq && t == 12 * ph[0]);
            }
            /* and a broadcast mask in the algebra */
            maskinfo_mask *n = NULL;
            CHECK(m && maskinfo_mask_not(&n, m) == MASKINFO_OK);
            ref wn = ref_op(OP_NOT, &want, NULL);
            CHECK(n && same(n, &wn, "not of a broadcast"));
            maskinfo_mask_unref(n);
            free(wn.c);
            maskinfo_mask_unref(m);
            maskinfo_mask_unref(a);
            free(ra.c);
            free(want.c);
        }
        maskinfo_mask *a = NULL, *m = NULL;
        CHECK(maskinfo_mask_constant(&a, 2, 1, 3, 3, 1) == MASKINFO_OK);
        CHECK(maskinfo_mask_broadcast(&m, a, 3, 1) == MASKINFO_ESHAPE);
        CHECK(maskinfo_mask_broadcast(&m, a, 1, 1) == MASKINFO_ESHAPE);
        int st = maskinfo_mask_broadcast(&m, a, 2, 0);
        CHECK(st == MASKINFO_ESHAPE || st == MASKINFO_EINVAL);
        CHECK(maskinfo_mask_broadcast(&m, NULL, 2, 2) == MASKINFO_EINVAL);
        CHECK(m == NULL);
        maskinfo_mask_unref(a);
        CHECK(maskinfo_mask_constant(&a, 1, 1, 1 << 20, 1 << 20, 1) == MASKINFO_OK);
        CHECK(maskinfo_mask_broadcast(&m, a, 1 << 20, 1 << 20) == MASKINFO_EOVERFLOW);
        CHECK(m == NULL);
        maskinfo_mask_unref(a);
    }
}

/* ---------------------------------------------------------------- slice */
static ref ref_slice(const ref *a, const int64_t *qs, int64_t nq, const int64_t *ks,
                     int64_t nk)
{
    ref r = ref_new(a->B, a->H, nq, nk);
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->H; h++)
            for (int64_t q = 0; q < nq; q++)
                for (int64_t k = 0; k < nk; k++)
                    *cell(&r, b, h, q, k) = *cell(a, b, h, q + at(qs, b), k + at(ks, b));
    return r;
}

/* the status of a slice; a mask it returns is released at once */
static int slice_status(maskinfo_mask *a, const int64_t *qs, int64_t nq,
                        const int64_t *ks, int64_t nk)
{
    maskinfo_mask *s = NULL;
    int st = maskinfo_mask_slice(&s, a, qs, nq, ks, nk);
    if (st == MASKINFO_OK) maskinfo_mask_unref(s);
    else if (s != NULL) st = -1; /* out must be untouched on failure */
    return st;
}

static void test_slice(void)
{
    char label[64];
    for (int trial = 0; trial < 50; trial++) {
        int64_t B = rndr(1, 3), H = rndr(1, 3), Q = rndi(18), K = rndi(100);
        ref ra, rb;
        maskinfo_mask *a = operand((int)rndi(NKINDS), B, H, Q, K, &ra);
        maskinfo_mask *b = operand((int)rndi(NKINDS), B, H, Q, K, &rb);
        maskinfo_mask *x = NULL;
        CHECK(a && b && maskinfo_mask_or(&x, a, b) == MASKINFO_OK);
        maskinfo_mask_unref(a);
        maskinfo_mask_unref(b);
        if (!x) { free(ra.c); free(rb.c); continue; }
        ref rx = ref_op(OP_OR, &ra, &rb);
        free(ra.c);
        free(rb.c);
        int64_t nq = rndi(rx.Q + 1), nk = rndi(rx.K + 1), qs[3], ks[3];
        for (int i = 0; i < 3; i++) {
            qs[i] = rndi(rx.Q - nq + 1);
            ks[i] = rndi(rx.K - nk + 1);
        }
        const int64_t *pq = trial % 5 == 0 ? NULL : qs, *pk = trial % 7 == 0 ? NULL : ks;
        maskinfo_mask *s = NULL;
        CHECK(maskinfo_mask_slice(&s, x, pq, nq, pk, nk) == MASKINFO_OK);
        ref want = ref_slice(&rx, pq, nq, pk, nk);
        snprintf(label, sizeof label, "slice trial %d", trial);
        CHECK(s && same(s, &want, label));
        /* a slice of the slice, then combined with a leaf */
        if (s && nq > 0 && nk > 0) {
            int64_t nq2 = rndi(nq + 1), nk2 = rndi(nk + 1), qs2[3], ks2[3];
            for (int i = 0; i < 3; i++) {
                qs2[i] = rndi(nq - nq2 + 1);
                ks2[i] = rndi(nk - nk2 + 1);
            }
            maskinfo_mask *s2 = NULL, *c = NULL, *y = NULL;
            CHECK(maskinfo_mask_slice(&s2, s, qs2, nq2, ks2, nk2) == MASKINFO_OK);
            ref want2 = ref_slice(&want, qs2, nq2, ks2, nk2);
            snprintf(label, sizeof label, "slice of slice trial %d", trial);
            CHECK(s2 && same(s2, &want2, label));
            CHECK(maskinfo_mask_causal(&c, 1, nq2, nk2, NULL) == MASKINFO_OK);
            CHECK(s2 && maskinfo_mask_andnot(&y, s2, c) == MASKINFO_OK);
            ref rc = ref_causal(1, nq2, nk2, NULL);
            ref wy = ref_op(OP_ANDNOT, &want2, &rc);
            snprintf(label, sizeof label, "slice andnot causal trial %d", trial);
            CHECK(y && same(y, &wy, label));
            maskinfo_mask_unref(s2);
            maskinfo_mask_unref(c);
            maskinfo_mask_unref(y);
            free(want2.c);
            free(rc.c);
            free(wy.c);
        }
        maskinfo_mask_unref(s);
        maskinfo_mask_unref(x);
        free(rx.c);
        free(want.c);
    }
    /* hand example: causal sliced per batch keeps its diagonal shifted */
    {
        maskinfo_mask *c = NULL, *s = NULL;
        CHECK(maskinfo_mask_causal(&c, 2, 10, 10, NULL) == MASKINFO_OK);
        /* the causal leaf has B == 2 here; batch 1 looks at rows 4.., keys 2.. */
        int64_t qs[2] = {0, 4}, ks[2] = {0, 2};
        CHECK(maskinfo_mask_slice(&s, c, qs, 3, ks, 5) == MASKINFO_OK);
        maskinfo_scratch *sc = maskinfo_scratch_new();
        const int64_t *iv;
        int64_t n = 0;
        /* batch 1, row 0 = old row 4: keys 0..4 -> new keys 0..2 */
        CHECK(maskinfo_mask_row(s, 1, 0, 0, sc, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 0 && iv[1] == 3);
        /* batch 0, row 2: keys 0..2 */
        CHECK(maskinfo_mask_row(s, 0, 0, 2, sc, &iv, &n) == MASKINFO_OK && n == 1 &&
              iv[0] == 0 && iv[1] == 3);
        maskinfo_scratch_free(sc);
        maskinfo_mask_unref(s);
        /* bounds errors */
        int64_t neg[2] = {0, -1}, far[2] = {0, 8}, huge[2] = {0, INT64_MAX};
        CHECK(slice_status(c, NULL, 11, NULL, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(c, NULL, 3, NULL, 11) == MASKINFO_EINVAL);
        CHECK(slice_status(c, NULL, -1, NULL, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(c, NULL, 3, NULL, -1) == MASKINFO_EINVAL);
        CHECK(slice_status(c, neg, 3, NULL, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(c, NULL, 3, neg, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(c, far, 3, NULL, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(c, NULL, 3, far, 3) == MASKINFO_EINVAL);
        /* a start so large that start + length wraps around */
        CHECK(slice_status(c, huge, 3, NULL, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(c, NULL, 3, huge, 3) == MASKINFO_EINVAL);
        CHECK(slice_status(NULL, NULL, 3, NULL, 3) == MASKINFO_EINVAL);
        s = NULL;
        /* the edges themselves are fine: a window ending at Q / K, and empty ones */
        CHECK(maskinfo_mask_slice(&s, c, far, 2, far, 2) == MASKINFO_OK);
        maskinfo_mask_unref(s);
        s = NULL;
        CHECK(maskinfo_mask_slice(&s, c, NULL, 0, NULL, 0) == MASKINFO_OK);
        uint64_t t = 1;
        CHECK(s && maskinfo_mask_count(s, &t, NULL, NULL) == MASKINFO_OK && t == 0);
        maskinfo_mask_unref(s);
        maskinfo_mask_unref(c);
    }
}

/* ---------------------------------------------------------------- nesting */
static void test_nesting(void)
{
    int64_t B = 2, H = 3, Q = 20, K = 150;
    char label[64];
    for (int variant = 0; variant < 3; variant++) {
        ref racc;
        maskinfo_mask *acc = operand(0, B, H, Q, K, &racc);
        CHECK(acc != NULL);
        if (!acc) { free(racc.c); continue; }
        int ok = 1;
        for (int i = 1; i <= 50 && ok; i++) {
            int op = i % 2 ? OP_AND : OP_OR;
            if (variant == 2 && i % 5 == 0) op = OP_ANDNOT;
            ref rl;
            maskinfo_mask *leaf = operand((int)rndi(NKINDS), B, H, Q, K, &rl);
            maskinfo_mask *next = NULL;
            ref rn;
            /* variant 0 nests on the left, variant 1 on the right */
            if (variant == 1 && op != OP_ANDNOT) {
                ok = leaf && apply(op, &next, leaf, acc) == MASKINFO_OK;
                rn = ref_op(op, &rl, &racc);
            } else {
                ok = leaf && apply(op, &next, acc, leaf) == MASKINFO_OK;
                rn = ref_op(op, &racc, &rl);
            }
            maskinfo_mask_unref(leaf);
            maskinfo_mask_unref(acc);
            free(rl.c);
            free(racc.c);
            acc = next;
            racc = rn;
        }
        CHECK(ok);
        snprintf(label, sizeof label, "chain of 50 (variant %d)", variant);
        CHECK(acc && same(acc, &racc, label));
        /* the per-head counts of a deep expression match the reference */
        uint64_t t = 0, ph[6], wph[6] = {0};
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++) wph[b * H + h] += *cell(&racc, b, h, q, k);
        CHECK(acc && racc.B == B && racc.H == H &&
              maskinfo_mask_count(acc, &t, ph, NULL) == MASKINFO_OK &&
              memcmp(ph, wph, sizeof ph) == 0);
        maskinfo_mask_unref(acc);
        free(racc.c);
    }
    /* 501 NOTs in a row are one NOT */
    {
        ref ra;
        maskinfo_mask *a = operand(1, 2, 1, 9, 13, &ra), *acc = maskinfo_mask_ref(a);
        for (int i = 0; i < 501; i++) {
            maskinfo_mask *n = NULL;
            if (maskinfo_mask_not(&n, acc) != MASKINFO_OK) break;
            maskinfo_mask_unref(acc);
            acc = n;
        }
        ref want = ref_op(OP_NOT, &ra, NULL);
        CHECK(same(acc, &want, "501 nots"));
        uint64_t nd = 1;
        int64_t first[4];
        maskinfo_mask *n = NULL;
        CHECK(maskinfo_mask_not(&n, acc) == MASKINFO_OK &&
              maskinfo_mask_diff(n, a, &nd, first, NULL) == MASKINFO_OK && nd == 0);
        maskinfo_mask_unref(n);
        maskinfo_mask_unref(acc);
        maskinfo_mask_unref(a);
        free(ra.c);
        free(want.c);
    }
}

/* ---------------------------------------------------------------- 1M tokens */

/* allowed cells of one segment of length n under causal + left window w */
static uint64_t seg_cells(uint64_t n, uint64_t w)
{
    if (n <= w + 1) return n * (n + 1) / 2;
    return (w + 1) * (w + 2) / 2 + (n - w - 1) * (w + 1);
}

static void test_million(void)
{
    const int64_t N = 1 << 20, pad = 777, w = 128;
    static const int64_t lens[] = {1, 2, 17, 300, 4096, 65536, 1000, 12345, 129, 130, 3};
    int64_t *qv = malloc((size_t)N * sizeof *qv), *kv = malloc((size_t)N * sizeof *kv);
    int64_t *start = malloc((size_t)N * sizeof *start); /* segment start per token */
    uint64_t want = 0;
    int64_t pos = 0, id = 0;
    while (pos < N - pad) {
        int64_t len = lens[id % 11];
        if (len > N - pad - pos) len = N - pad - pos;
        for (int64_t i = pos; i < pos + len; i++) {
            /* ids are neither contiguous nor in the order of the segments */
            qv[i] = kv[i] = (id % 2 ? 1 : -1) * (3 * id + 11);
            start[i] = pos;
        }
        want += seg_cells((uint64_t)len, (uint64_t)w);
        pos += len;
        id++;
    }
    for (int64_t i = N - pad; i < N; i++) {
        qv[i] = MASKINFO_NOMATCH_Q;
        kv[i] = MASKINFO_NOMATCH_KV;
        start[i] = -1;
    }
    maskinfo_mask *seg = NULL, *c = NULL, *win = NULL, *sc = NULL, *m = NULL;
    int64_t left = w, right = 5;
    CHECK(maskinfo_mask_segments(&seg, 1, 1, 1, N, N, qv, kv) == MASKINFO_OK);
    CHECK(maskinfo_mask_causal(&c, 1, N, N, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_window(&win, 1, N, N, 1, &left, &right, NULL) == MASKINFO_OK);
    CHECK(seg && c && maskinfo_mask_and(&sc, seg, c) == MASKINFO_OK);
    CHECK(sc && win && maskinfo_mask_and(&m, sc, win) == MASKINFO_OK);
    free(qv);
    free(kv);
    maskinfo_mask_unref(seg);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(win);
    maskinfo_mask_unref(sc);
    if (!m) {
        free(start);
        return;
    }
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    CHECK(sh[0] == 1 && sh[1] == 1 && sh[2] == N && sh[3] == N);
    CHECK(!maskinfo_mask_is_dense(m));
    CHECK(maskinfo_mask_bytes(m) < ((uint64_t)64 << 20));
    uint64_t t = 0;
    CHECKF(maskinfo_mask_count(m, &t, NULL, NULL) == MASKINFO_OK && t == want,
           "1M tokens: count %llu, closed form %llu", (unsigned long long)t,
           (unsigned long long)want);
    uint64_t e = 0;
    CHECK(maskinfo_mask_empty_rows(m, &e, NULL, NULL) == MASKINFO_OK && e == (uint64_t)pad);
    /* rows: [max(start, q - w), q + 1), sampled */
    maskinfo_scratch *s = maskinfo_scratch_new();
    int rows_ok = 1;
    for (int i = 0; i < 4000; i++) {
        int64_t q = i < 20 ? N - 1 - i : rndi(N);
        const int64_t *iv;
        int64_t n = 0;
        if (maskinfo_mask_row(m, 0, 0, q, s, &iv, &n) != MASKINFO_OK) { rows_ok = 0; break; }
        if (start[q] < 0) {
            if (n != 0) rows_ok = 0;
        } else {
            int64_t lo = q - w > start[q] ? q - w : start[q];
            if (n != 1 || iv[0] != lo || iv[1] != q + 1) rows_ok = 0;
        }
        if (!rows_ok) {
            printf("  1M tokens: row %lld wrong\n", (long long)q);
            break;
        }
    }
    CHECK(rows_ok);
    maskinfo_scratch_free(s);
    /* a 16x16 grid over the whole plane sums to the count and is zero above
     * the diagonal blocks (k <= q) */
    int64_t edges[17];
    for (int i = 0; i <= 16; i++) edges[i] = (int64_t)i * N / 16;
    uint64_t g[256], sum = 0;
    int upper_zero = 1;
    CHECK(maskinfo_mask_grid_counts(m, 0, 0, edges, 16, edges, 16, g, NULL) == MASKINFO_OK);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            sum += g[i * 16 + j];
            if (j > i && g[i * 16 + j] != 0) upper_zero = 0;
        }
    CHECK(sum == want);
    CHECK(upper_zero);
    /* dense output of the full mask would be 1 TiB: the guard refuses it */
    maskinfo_array *a = NULL;
    CHECK(maskinfo_mask_to_array(m, MASKINFO_BOOL, &a, NULL) == MASKINFO_ETOOBIG);
    CHECK(a == NULL);
    maskinfo_mask_unref(m);
    free(start);
}

int main(void)
{
    test_rules();
    test_algebra();
    test_stack_broadcast();
    test_slice();
    test_nesting();
    test_million();
    return check_summary();
}
