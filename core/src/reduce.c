/*
 * reduce.c - whole-mask reductions on the row evaluators: the row-parallel
 * driver, counts, empty rows, diff, dense fills and biases, and the count
 * grid kernel shared by grid_counts and the block classes (blocks.c).
 *
 * Every allocation, per-thread scratch included, is checked against the
 * caller's guard first.  Per-thread buffers are checked one thread's worth
 * at a time, so whether a call is refused does not depend on the thread
 * count.
 */
#include "linear.h"
#include "pages.h"

#include <string.h>

/*
 * Row-parallel driver.  Each thread owns one scratch; the callback sees one
 * row's intervals.  Rows are numbered r = (b*H + h)*Q + q.  An error in any
 * row is reported after the loop (OpenMP forbids leaving it early).
 */
typedef void (*row_fn)(void *ctx, int64_t r, const int64_t *iv, int64_t n);
/* The same row as nw words of bits (bits past K are zero). */
typedef void (*bits_fn)(void *ctx, int64_t r, const uint64_t *w, int64_t nw);

/* row_work: the callback's own cost per row, in maskinfo__row_cost units */
static int for_rows(const maskinfo_mask *m, int64_t r0, int64_t r1, row_fn fn,
                    bits_fn bfn, void *ctx, int64_t row_work, const maskinfo_limits *lim) {
    int use_bits = bfn && maskinfo_mask_is_dense(m);
    int64_t nw = (m->K + 63) / 64, depth = use_bits ? maskinfo__bit_depth(m) : 0;
    int64_t nwb = use_bits ? (depth + 1) * nw + 1 : 0; /* one thread's bit rows */
    int err = maskinfo_check_alloc(lim, (uint64_t)nwb, sizeof(uint64_t));
    if (err) return err;
    int64_t work = maskinfo__mul(r1 - r0, row_work + (use_bits ? (depth + 1) * nw
                                                               : maskinfo__row_cost(m)));
#pragma omp parallel if (r1 - r0 > 1 && (work < 0 || work >= MI_PAR_WORK))
    {
        maskinfo_scratch *s = maskinfo__scratch_new(lim);
        uint64_t *wb = use_bits ? malloc((size_t)nwb * sizeof *wb) : NULL;
        int lerr = (s && (wb || !use_bits)) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 256)
        for (int64_t r = r0; r < r1; r++) {
            if (lerr) continue;
            int64_t q = r % m->Q, bh = r / m->Q;
            if (use_bits) {
                lerr = maskinfo__eval_bits(m, bh / m->H, bh % m->H, q, wb, nw, wb + nw, s);
                if (!lerr) bfn(ctx, r, wb, nw);
            } else {
                s->len = 0;
                lerr = maskinfo__eval(m, bh / m->H, bh % m->H, q, s);
                if (!lerr) fn(ctx, r, s->v, s->len / 2);
            }
        }
        if (lerr) {
#pragma omp critical
            err = lerr;
        }
        free(wb);
        maskinfo_scratch_free(s);
    }
    return err;
}

typedef struct { const maskinfo_mask *m; uint64_t *row_counts; } count_ctx;

static void count_row(void *ctx, int64_t r, const int64_t *iv, int64_t n) {
    count_ctx *c = ctx;
    uint64_t t = 0;
    for (int64_t i = 0; i < n; i++) t += (uint64_t)(iv[2 * i + 1] - iv[2 * i]);
    c->row_counts[r] = t;
}

static void count_bits(void *ctx, int64_t r, const uint64_t *w, int64_t nw) {
    count_ctx *c = ctx;
    uint64_t t = 0;
    for (int64_t j = 0; j < nw; j++) t += (uint64_t)__builtin_popcountll(w[j]);
    c->row_counts[r] = t;
}

/*
 * Counts per (b, h) plane from the closed forms of linear.h: O(pieces) per
 * plane.  Pieces without one (a segment id with several key runs) are
 * evaluated row by row; past rows / 8 of those (*closed = 0) the caller
 * takes the parallel row-by-row path instead.
 */
static int count_closed(const maskinfo_mask *m, uint64_t *plane, int *closed,
                        const maskinfo_limits *lim) {
    *closed = 0;
    mi_lin_ctx *c = maskinfo__lin_new(m, lim);
    if (!c) return MASKINFO_OK;
    maskinfo_scratch *s = maskinfo__scratch_new(lim);
    int st = s ? MASKINFO_OK : MASKINFO_ENOMEM;
    int64_t planes = m->B * m->H, budget = planes * m->Q / 8 + 1024;
    for (int64_t p = 0; p < planes && !st && budget >= 0; p++) {
        uint64_t t = 0;
        for (int64_t q = 0, qend; q < m->Q && !st && budget >= 0; q = qend) {
            mi_lin f;
            int lin;
            st = maskinfo__lin_piece(c, p / m->H, p % m->H, q, m->Q, &f, &qend, &lin);
            if (!st && lin) t += maskinfo__lin_sum(&f, q, qend, 0, m->K);
            for (int64_t r = q; !st && !lin && r < qend; r++, budget--) {
                s->len = 0;
                st = maskinfo__eval(m, p / m->H, p % m->H, r, s);
                for (int64_t i = 0; !st && i < s->len; i += 2) t += (uint64_t)(s->v[i + 1] - s->v[i]);
            }
        }
        plane[p] = t;
    }
    *closed = !st && budget >= 0;
    maskinfo_scratch_free(s);
    maskinfo__lin_free(c);
    return st;
}

/* Counts are gathered per row and summed afterwards in a fixed order, so
 * the result is the same for any thread count (integers would be anyway;
 * this keeps the per-head split simple). */
int maskinfo_mask_count(const maskinfo_mask *m, uint64_t *total,
                        uint64_t *per_head, const maskinfo_limits *lim) {
    int64_t rows = m->B * m->H * m->Q, planes = m->B * m->H;
    int st = MASKINFO_OK, closed;
    uint64_t *ph = mi_alloc(lim, planes, sizeof *ph, 0, &st);
    if (st) return st;
    st = count_closed(m, ph, &closed, lim);
    if (!st && !closed) {
        uint64_t *rc = mi_alloc(lim, rows, sizeof *rc, 0, &st);
        count_ctx c = {m, rc};
        if (!st) st = for_rows(m, 0, rows, count_row, count_bits, &c, 0, lim);
        for (int64_t p = 0; p < planes && !st; p++) {
            ph[p] = 0;
            for (int64_t q = 0; q < m->Q; q++) ph[p] += rc[p * m->Q + q];
        }
        free(rc);
    }
    if (!st) {
        uint64_t t = 0;
        for (int64_t p = 0; p < planes; p++) {
            if (per_head) per_head[p] = ph[p];
            t += ph[p];
        }
        *total = t;
    }
    free(ph);
    return st;
}

typedef struct { uint8_t *flags; } empty_ctx;

static void empty_row(void *ctx, int64_t r, const int64_t *iv, int64_t n) {
    (void)iv;
    ((empty_ctx *)ctx)->flags[r] = n == 0;
}

static void empty_bits(void *ctx, int64_t r, const uint64_t *w, int64_t nw) {
    uint64_t any = 0;
    for (int64_t j = 0; j < nw; j++) any |= w[j];
    ((empty_ctx *)ctx)->flags[r] = any == 0;
}

int maskinfo_mask_empty_rows(const maskinfo_mask *m, uint64_t *count,
                             uint8_t *flags, const maskinfo_limits *lim) {
    int64_t rows = m->B * m->H * m->Q;
    int st = MASKINFO_OK;
    uint8_t *f = flags ? flags : mi_alloc(lim, rows, 1, 0, &st);
    if (st) return st;
    empty_ctx c = {f};
    st = for_rows(m, 0, rows, empty_row, empty_bits, &c, 0, lim);
    if (!st) {
        uint64_t t = 0;
        for (int64_t r = 0; r < rows; r++) t += f[r];
        *count = t;
    }
    if (!flags) free(f);
    return st;
}

/* Cells where two interval lists differ: |A xor B|, and the first such k. */
static uint64_t xor_len(const int64_t *A, int64_t na, const int64_t *Bv,
                        int64_t nb, int64_t *first) {
    /* sweep over the merged boundaries */
    uint64_t t = 0;
    int64_t i = 0, j = 0, pos = INT64_MIN;
    int ina = 0, inb = 0;
    *first = -1;
    while (i < 2 * na || j < 2 * nb) {
        int64_t x = (j >= 2 * nb || (i < 2 * na && A[i] <= Bv[j])) ? A[i] : Bv[j];
        if (ina != inb && pos != INT64_MIN) {
            t += (uint64_t)(x - pos);
            if (*first < 0 && x > pos) *first = pos;
        }
        while (i < 2 * na && A[i] == x) { ina = !ina; i++; }
        while (j < 2 * nb && Bv[j] == x) { inb = !inb; j++; }
        pos = x;
    }
    return t;
}

/* Cells where two bit rows differ, and the first such k (or -1). */
static uint64_t xor_bits(const uint64_t *wa, const uint64_t *wb, int64_t nw,
                         int64_t *first) {
    uint64_t t = 0;
    *first = -1;
    for (int64_t j = 0; j < nw; j++) {
        uint64_t x = wa[j] ^ wb[j];
        if (x) {
            if (*first < 0) *first = j * 64 + __builtin_ctzll(x);
            t += (uint64_t)__builtin_popcountll(x);
        }
    }
    return t;
}

/* Each thread keeps its smallest differing row; the smallest over threads
 * is then the first in row-major order, whatever the thread count.  Masks
 * with dense leaves compare 64 cells per word (a random row has ~K/2 runs). */
int maskinfo_mask_diff(const maskinfo_mask *a, const maskinfo_mask *b,
                       uint64_t *ndiff, int64_t first[4], const maskinfo_limits *lim) {
    if (a->B != b->B || a->Q != b->Q || a->K != b->K ||
        (a->H != b->H && a->H != 1 && b->H != 1))
        return MASKINFO_ESHAPE;
    int64_t H = a->H > b->H ? a->H : b->H, Q = a->Q;
    int64_t rows = a->B * H * Q;
    int use_bits = maskinfo_mask_is_dense(a) || maskinfo_mask_is_dense(b);
    int64_t nw = (a->K + 63) / 64;
    int64_t da = use_bits ? maskinfo__bit_depth(a) : 0, db = use_bits ? maskinfo__bit_depth(b) : 0;
    int64_t nwb = use_bits ? (da + db + 2) * nw + 1 : 0; /* one thread's bit rows */
    uint64_t total = 0;
    int64_t best = INT64_MAX, bestk = -1;
    int err = maskinfo_check_alloc(lim, (uint64_t)nwb, sizeof(uint64_t));
    if (err) return err;
    int64_t work = maskinfo__mul(rows, use_bits ? (da + db + 2) * nw
                                              : maskinfo__row_cost(a) + maskinfo__row_cost(b));
#pragma omp parallel if (rows > 1 && (work < 0 || work >= MI_PAR_WORK))
    {
        maskinfo_scratch *sa = maskinfo__scratch_new(lim), *sb = maskinfo__scratch_new(lim);
        uint64_t *wa = use_bits ? malloc((size_t)nwb * sizeof *wa) : NULL;
        uint64_t *wb = wa ? wa + (da + 1) * nw : NULL;
        int lerr = (sa && sb && (wa || !use_bits)) ? MASKINFO_OK : MASKINFO_ENOMEM;
        uint64_t lt = 0;
        int64_t lbest = INT64_MAX, lk = -1;
#pragma omp for schedule(dynamic, 256)
        for (int64_t r = 0; r < rows; r++) {
            if (lerr) continue;
            int64_t q = r % Q, bh = r / Q, bb = bh / H, hh = bh % H;
            int64_t f;
            uint64_t d;
            if (use_bits) {
                lerr = maskinfo__eval_bits(a, bb, hh, q, wa, nw, wa + nw, sa);
                if (!lerr) lerr = maskinfo__eval_bits(b, bb, hh, q, wb, nw, wb + nw, sb);
                if (lerr) continue;
                d = xor_bits(wa, wb, nw, &f);
            } else {
                sa->len = sb->len = 0;
                lerr = maskinfo__eval(a, bb, hh, q, sa);
                if (!lerr) lerr = maskinfo__eval(b, bb, hh, q, sb);
                if (lerr) continue;
                d = xor_len(sa->v, sa->len / 2, sb->v, sb->len / 2, &f);
            }
            lt += d;
            if (d && r < lbest) { lbest = r; lk = f; }
        }
#pragma omp critical
        {
            if (lerr) err = lerr;
            total += lt;
            if (lbest < best) { best = lbest; bestk = lk; }
        }
        free(wa);
        maskinfo_scratch_free(sa);
        maskinfo_scratch_free(sb);
    }
    if (err) return err;
    *ndiff = total;
    if (best == INT64_MAX) {
        first[0] = first[1] = first[2] = first[3] = -1;
    } else {
        first[0] = best / Q / H;
        first[1] = (best / Q) % H;
        first[2] = best % Q;
        first[3] = bestk;
    }
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ dense output */

/* Bytes of the repeated element pattern: a multiple of every element size,
 * so a span is filled by whole memcpy's of it (typed stores, vectorised by
 * libc) instead of one small memcpy per cell. */
#define MI_PAT_BYTES 1024

typedef struct {
    const maskinfo_mask *m;
    uint8_t *data;
    size_t esz;
    int bool_mask;                 /* plain bool mask: on = 1, off = 0 */
    int on_nz, off_nz;             /* pattern has a non-zero byte */
    uint8_t on_pat[MI_PAT_BYTES], off_pat[MI_PAT_BYTES];
} fill_ctx;

/* The bytes maskinfo_array_set would store for v in dtype dt, repeated
 * over MI_PAT_BYTES; whether any is non-zero. */
static int elem_pattern(maskinfo_dtype dt, double v, uint8_t pat[MI_PAT_BYTES]) {
    uint8_t one[8] = {0};
    switch (dt) {
    case MASKINFO_BOOL: one[0] = v != 0.0; break;
    case MASKINFO_INT32: { int32_t x = (int32_t)v; memcpy(one, &x, 4); break; }
    case MASKINFO_FLOAT32: { float x = (float)v; memcpy(one, &x, 4); break; }
    case MASKINFO_FLOAT16: { uint16_t x = maskinfo_f32_to_f16((float)v); memcpy(one, &x, 2); break; }
    case MASKINFO_BFLOAT16: { uint16_t x = maskinfo_f32_to_bf16((float)v); memcpy(one, &x, 2); break; }
    case MASKINFO_INT64: { int64_t x = (int64_t)v; memcpy(one, &x, 8); break; }
    case MASKINFO_UINT8: one[0] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); break;
    }
    size_t esz = maskinfo_dtype_size(dt);
    for (size_t i = 0; i < MI_PAT_BYTES; i += esz) memcpy(pat + i, one, esz);
    for (int i = 0; i < 8; i++)
        if (one[i]) return 1;
    return 0;
}

/* Elements [lo, hi) of row d get the pattern. */
static inline void fill_span(uint8_t *d, size_t esz, int64_t lo, int64_t hi,
                             const uint8_t *pat) {
    if (lo >= hi) return;
    uint8_t *p = d + (size_t)lo * esz;
    size_t n = (size_t)(hi - lo) * esz;
    for (; n > MI_PAT_BYTES; n -= MI_PAT_BYTES, p += MI_PAT_BYTES) memcpy(p, pat, MI_PAT_BYTES);
    memcpy(p, pat, n);
}

static void fill_row(void *ctx, int64_t r, const int64_t *iv, int64_t n) {
    fill_ctx *c = ctx;
    int64_t K = c->m->K;
    uint8_t *d = c->data + (size_t)(r * K) * c->esz;
    if (c->bool_mask) {
        for (int64_t i = 0; i < n; i++)
            memset(d + iv[2 * i], 1, (size_t)(iv[2 * i + 1] - iv[2 * i]));
        return;
    }
    /* The array starts zeroed: only non-zero patterns are written. */
    int64_t prev = 0;
    for (int64_t i = 0; i <= n; i++) {
        int64_t lo = i < n ? iv[2 * i] : K;
        if (c->off_nz) fill_span(d, c->esz, prev, lo, c->off_pat);
        if (i < n && c->on_nz) fill_span(d, c->esz, lo, iv[2 * i + 1], c->on_pat);
        if (i < n) prev = iv[2 * i + 1];
    }
}

/* Bits 0..7 of b to bytes 0..7 of the result (0 or 1 each). */
static inline uint64_t spread8(uint64_t b) {
    b = (b | b << 28) & 0x0000000F0000000FULL;
    b = (b | b << 14) & 0x0003000300030003ULL;
    return (b | b << 7) & 0x0101010101010101ULL;
}

/* Dense-leaf masks: bool output straight from the bits, 8 cells a store. */
static void fill_bits_row(void *ctx, int64_t r, const uint64_t *w, int64_t nw) {
    fill_ctx *c = ctx;
    int64_t K = c->m->K, k = 0;
    uint8_t *d = c->data + r * K;
    (void)nw;
    for (; k + 8 <= K; k += 8) {
        uint64_t v = spread8((w[k >> 6] >> (k & 63)) & 0xFF);
        memcpy(d + k, &v, 8); /* little-endian: bit i -> byte i */
    }
    for (; k < K; k++) d[k] = (uint8_t)((w[k >> 6] >> (k & 63)) & 1);
}

/*
 * Whether the fill writes enough of the output for huge pages to pay:
 * bit-row fills write every byte; interval fills are judged on up to 64
 * evenly spaced rows (at least a quarter of the elements written).  A
 * banded mask stays on lazily mapped 4 KiB pages, so its untouched pages
 * cost no memory.
 */
static int fill_is_dense(const fill_ctx *c, int bits, const maskinfo_limits *lim) {
    const maskinfo_mask *m = c->m;
    int64_t rows = m->B * m->H * m->Q;
    if (bits) return 1;
    if (rows == 0 || m->K == 0) return 0;
    maskinfo_scratch *s = maskinfo__scratch_new(lim);
    if (!s) return 0;
    int64_t samples = mi_min64(rows, 64);
    uint64_t written = 0, total = 0;
    for (int64_t i = 0; i < samples; i++) {
        int64_t r = (rows - 1) * i / (samples > 1 ? samples - 1 : 1);
        int64_t q = r % m->Q, bh = r / m->Q;
        s->len = 0;
        if (maskinfo__eval(m, bh / m->H, bh % m->H, q, s)) break;
        uint64_t on = 0;
        for (int64_t j = 0; j < s->len; j += 2) on += (uint64_t)(s->v[j + 1] - s->v[j]);
        written += (c->on_nz ? on : 0) + (c->off_nz ? (uint64_t)m->K - on : 0);
        total += (uint64_t)m->K;
    }
    maskinfo_scratch_free(s);
    return total > 0 && written * 4 >= total;
}

static int fill_array(const maskinfo_mask *m, maskinfo_dtype dt, double on,
                      double off, int bias, maskinfo_array **out,
                      const maskinfo_limits *lim) {
    int64_t shape[4] = {m->B, m->H, m->Q, m->K};
    maskinfo_array *a;
    int st = maskinfo_array_new(&a, dt, 4, shape, lim);
    if (st) return st;
    fill_ctx *c = malloc(sizeof *c);
    if (!c) {
        maskinfo_array_free(a);
        return MASKINFO_ENOMEM;
    }
    c->m = m;
    c->data = maskinfo_array_data(a);
    c->esz = maskinfo_dtype_size(dt);
    c->bool_mask = dt == MASKINFO_BOOL && !bias;
    c->on_nz = elem_pattern(dt, on, c->on_pat);
    c->off_nz = elem_pattern(dt, off, c->off_pat);
    int bits = c->bool_mask && maskinfo_mask_is_dense(m);
    size_t bytes = (size_t)maskinfo_array_size(a) * c->esz;
    if (fill_is_dense(c, bits, lim)) maskinfo__pages_dense(c->data, bytes);
    /* writing a row costs about a unit per 256 bytes */
    st = for_rows(m, 0, m->B * m->H * m->Q, fill_row, c->bool_mask ? fill_bits_row : NULL,
                  c, m->K * (int64_t)c->esz / 256, lim);
    free(c);
    if (st) {
        maskinfo_array_free(a);
        return st;
    }
    *out = a;
    return MASKINFO_OK;
}

int maskinfo_mask_to_array(const maskinfo_mask *m, maskinfo_dtype dt,
                           maskinfo_array **out, const maskinfo_limits *lim) {
    return fill_array(m, dt, 1.0, 0.0, 0, out, lim);
}

int maskinfo_mask_to_bias(const maskinfo_mask *m, maskinfo_dtype dt,
                          maskinfo_array **out, const maskinfo_limits *lim) {
    double lowest;
    switch (dt) {
    case MASKINFO_FLOAT32: lowest = -3.4028234663852886e38; break;
    case MASKINFO_FLOAT16: lowest = -65504.0; break;
    case MASKINFO_BFLOAT16: lowest = -3.3895313892515355e38; break;
    default: return MASKINFO_EDTYPE;
    }
    return fill_array(m, dt, 0.0, lowest, 1, out, lim);
}
