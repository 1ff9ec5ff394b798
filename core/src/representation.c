/*
 * representation.c - the compact mask: expression nodes, row evaluation and
 * the whole-mask reductions built on it (counts, grid counts, dense fills).
 *
 * Every row (b, h, q) of every node evaluates to a sorted list of disjoint
 * half-open key intervals.  Leaves compute their row in O(runs); composites
 * merge their children's rows.  Nothing here ever needs B*H*Q*K memory unless
 * the caller asks for a dense array.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ node basics */

int64_t maskinfo__mul(int64_t a, int64_t b) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > INT64_MAX / a) return -1;
    return a * b;
}

maskinfo_mask *maskinfo__node_new(mi_kind kind, int64_t B, int64_t H, int64_t Q,
                           int64_t K) {
    maskinfo_mask *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->refs = 1;
    m->kind = kind;
    m->B = B;
    m->H = H;
    m->Q = Q;
    m->K = K;
    m->bytes = sizeof *m;
    return m;
}

int64_t *maskinfo__node_i64(maskinfo_mask *node, const int64_t *src, int64_t n) {
    size_t sz = (size_t)(n > 0 ? n : 1) * sizeof(int64_t);
    int64_t *p = src ? malloc(sz) : calloc(1, sz);
    if (!p) return NULL;
    if (src && n > 0) memcpy(p, src, (size_t)n * sizeof(int64_t));
    node->bytes += sz;
    return p;
}

maskinfo_mask *maskinfo_mask_ref(maskinfo_mask *m) {
    if (m) m->refs++;
    return m;
}

void maskinfo_mask_unref(maskinfo_mask *m) {
    if (!m || --m->refs > 0) return;
    free(m->qv);
    free(m->run_off);
    free(m->run_id);
    free(m->run_lo);
    free(m->run_hi);
    free(m->bits);
    free(m->iv_off);
    free(m->iv);
    free(m->off);
    free(m->left);
    free(m->right);
    free(m->lo);
    free(m->hi);
    free(m->qstart);
    free(m->kstart);
    maskinfo_mask_unref(m->a);
    maskinfo_mask_unref(m->b);
    if (m->parts) {
        for (int64_t i = 0; i < m->H; i++) maskinfo_mask_unref(m->parts[i]);
        free(m->parts);
    }
    free(m);
}

void maskinfo_mask_shape(const maskinfo_mask *m, int64_t shape[4]) {
    shape[0] = m->B;
    shape[1] = m->H;
    shape[2] = m->Q;
    shape[3] = m->K;
}

int maskinfo_mask_is_dense(const maskinfo_mask *m) {
    if (!m) return 0;
    if (m->kind == MI_DENSE) return 1;
    if (m->parts)
        for (int64_t i = 0; i < m->H; i++)
            if (maskinfo_mask_is_dense(m->parts[i])) return 1;
    return maskinfo_mask_is_dense(m->a) || maskinfo_mask_is_dense(m->b);
}

uint64_t maskinfo_mask_bytes(const maskinfo_mask *m) {
    if (!m) return 0;
    uint64_t t = m->bytes;
    if (m->parts)
        for (int64_t i = 0; i < m->H; i++) t += maskinfo_mask_bytes(m->parts[i]);
    return t + maskinfo_mask_bytes(m->a) + maskinfo_mask_bytes(m->b);
}

static int check_dims(int64_t B, int64_t H, int64_t Q, int64_t K) {
    if (B < 0 || H < 1 || Q < 0 || K < 0) return MASKINFO_EINVAL;
    if (maskinfo__mul(maskinfo__mul(maskinfo__mul(B, H), Q), K) < 0) return MASKINFO_EOVERFLOW;
    return MASKINFO_OK;
}

int maskinfo_mask_constant(maskinfo_mask **out, int64_t B, int64_t H,
                           int64_t Q, int64_t K, int value) {
    int st = check_dims(B, H, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_CONST, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->value = value != 0;
    *out = m;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ segment leaf */

typedef struct { int64_t id, lo, hi; } seg_run;

static int cmp_run(const void *x, const void *y) {
    const seg_run *a = x, *b = y;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return (a->lo > b->lo) - (a->lo < b->lo);
}

/*
 * The kv ids of each (b, head) are cut into runs of equal id and sorted by
 * (id, start), so a query row finds all keys of its segment by one binary
 * search: O(log runs + runs of that id), whatever the id layout.
 */
int maskinfo_mask_segments(maskinfo_mask **out, int64_t B, int64_t Hq,
                           int64_t Hk, int64_t Q, int64_t K,
                           const int64_t *qv, const int64_t *kv) {
    if (Hq < 1 || Hk < 1 || (Hq != 1 && Hk != 1 && Hq != Hk))
        return MASKINFO_ESHAPE;
    int64_t H = Hq > Hk ? Hq : Hk;
    int st = check_dims(B, H, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_SEG, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->hq = Hq;
    m->hk = Hk;
    int64_t nplanes = B * Hk;
    seg_run *runs = NULL;
    /* the kv ids live on only as runs: rows need nothing else */
    m->qv = maskinfo__node_i64(m, qv, B * Hq * Q);
    m->run_off = maskinfo__node_i64(m, NULL, nplanes + 1);
    /* count runs first */
    int64_t total = 0;
    if (!m->qv || !m->run_off) goto oom;
    for (int64_t p = 0; p < nplanes; p++) {
        const int64_t *row = kv + p * K;
        m->run_off[p] = total;
        for (int64_t k = 0; k < K; k++)
            if (row[k] != MASKINFO_NOMATCH_KV && (k == 0 || row[k] != row[k - 1]))
                total++;
    }
    m->run_off[nplanes] = total;
    runs = malloc((size_t)(total > 0 ? total : 1) * sizeof *runs);
    m->run_id = maskinfo__node_i64(m, NULL, total);
    m->run_lo = maskinfo__node_i64(m, NULL, total);
    m->run_hi = maskinfo__node_i64(m, NULL, total);
    if (!runs || !m->run_id || !m->run_lo || !m->run_hi) goto oom;
    for (int64_t p = 0; p < nplanes; p++) {
        const int64_t *row = kv + p * K;
        int64_t r = m->run_off[p];
        for (int64_t k = 0; k < K;) {
            int64_t e = k + 1;
            while (e < K && row[e] == row[k]) e++;
            if (row[k] != MASKINFO_NOMATCH_KV) {
                runs[r].id = row[k];
                runs[r].lo = k;
                runs[r].hi = e;
                r++;
            }
            k = e;
        }
        int64_t n = m->run_off[p + 1] - m->run_off[p];
        qsort(runs + m->run_off[p], (size_t)n, sizeof *runs, cmp_run);
    }
    for (int64_t r = 0; r < total; r++) {
        m->run_id[r] = runs[r].id;
        m->run_lo[r] = runs[r].lo;
        m->run_hi[r] = runs[r].hi;
    }
    free(runs);
    *out = m;
    return MASKINFO_OK;
oom:
    free(runs);
    maskinfo_mask_unref(m);
    return MASKINFO_ENOMEM;
}

/* ------------------------------------------------------------ dense leaves */

static int dense_alloc(maskinfo_mask **out, int64_t B, int64_t H, int64_t Q,
                       int64_t K, const maskinfo_limits *lim) {
    int st = check_dims(B, H, Q, K);
    if (st) return st;
    int64_t words = K / 64 + (K % 64 != 0);
    int64_t rows = B * H * Q;
    int64_t n = maskinfo__mul(rows, words);
    if (n < 0) return MASKINFO_EOVERFLOW;
    st = maskinfo_check_alloc(lim, (uint64_t)n, 8);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_DENSE, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->words = words;
    m->hd = H;
    m->bits = calloc((size_t)(n > 0 ? n : 1), sizeof(uint64_t));
    if (!m->bits) {
        free(m);
        return MASKINFO_ENOMEM;
    }
    m->bytes += (uint64_t)n * 8;
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_from_bytes(maskinfo_mask **out, int64_t B, int64_t H,
                             int64_t Q, int64_t K, const uint8_t *cells,
                             const maskinfo_limits *lim) {
    maskinfo_mask *m;
    int st = dense_alloc(&m, B, H, Q, K, lim);
    if (st) return st;
    int64_t rows = B * H * Q;
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *w = m->bits + r * m->words;
        const uint8_t *c = cells + r * K;
        for (int64_t k = 0; k < K; k++)
            if (c[k]) w[k >> 6] |= (uint64_t)1 << (k & 63);
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_from_array(maskinfo_mask **out, const maskinfo_array *a,
                             const maskinfo_limits *lim) {
    if (maskinfo_array_ndim(a) != 4) return MASKINFO_ESHAPE;
    const int64_t *s = maskinfo_array_shape(a);
    maskinfo_mask *m;
    int st = dense_alloc(&m, s[0], s[1], s[2], s[3], lim);
    if (st) return st;
    int64_t rows = s[0] * s[1] * s[2], K = s[3];
    if (maskinfo_array_dtype(a) == MASKINFO_BOOL) {
        const uint8_t *c = maskinfo_array_cdata(a);
#pragma omp parallel for schedule(static) if (rows * K > 65536)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < K; k++)
                if (c[r * K + k])
                    m->bits[r * m->words + (k >> 6)] |= (uint64_t)1 << (k & 63);
    } else {
#pragma omp parallel for schedule(static) if (rows * K > 65536)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < K; k++)
                if (maskinfo_array_get(a, r * K + k) != 0.0)
                    m->bits[r * m->words + (k >> 6)] |= (uint64_t)1 << (k & 63);
    }
    *out = m;
    return MASKINFO_OK;
}

/* A counter-based generator: the value of a cell depends only on the seed
 * and the cell index, so any thread count gives the same mask. */

int maskinfo_mask_random(maskinfo_mask **out, int64_t B, int64_t H, int64_t Q,
                         int64_t K, double p, uint64_t seed,
                         const maskinfo_limits *lim) {
    if (!(p >= 0.0 && p <= 1.0)) return MASKINFO_EINVAL;
    maskinfo_mask *m;
    int st = dense_alloc(&m, B, H, Q, K, lim);
    if (st) return st;
    int64_t rows = B * H * Q;
    /* threshold on 53-bit uniforms; p == 1 sets every cell */
    uint64_t thr = (uint64_t)(p * 9007199254740992.0);
    uint64_t base = maskinfo__splitmix64(seed ^ 0x6D61736B696E666FULL);
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *w = m->bits + r * m->words;
        for (int64_t k = 0; k < K; k++) {
            uint64_t u = maskinfo__splitmix64(base + (uint64_t)(r * K + k)) >> 11;
            if (p >= 1.0 || u < thr) w[k >> 6] |= (uint64_t)1 << (k & 63);
        }
    }
    *out = m;
    return MASKINFO_OK;
}

typedef struct { int64_t lo, hi; } ivpair;

static int cmp_iv(const void *x, const void *y) {
    const ivpair *a = x, *b = y;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    return (a->hi > b->hi) - (a->hi < b->hi);
}

int maskinfo_mask_from_intervals(maskinfo_mask **out, int64_t B, int64_t H,
                                 int64_t Q, int64_t K, const int64_t *offsets,
                                 const int64_t *iv, const maskinfo_limits *lim) {
    int st = check_dims(B, H, Q, K);
    if (st) return st;
    int64_t rows = B * H * Q;
    /* the offsets index iv: they must be >= 0 and never decrease */
    if (!offsets || offsets[0] < 0) return MASKINFO_EINVAL;
    for (int64_t r = 0; r < rows; r++)
        if (offsets[r + 1] < offsets[r]) return MASKINFO_EINVAL;
    int64_t n = offsets[rows];
    st = maskinfo_check_alloc(lim, (uint64_t)n, 16);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_IVL, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    ivpair *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    m->iv_off = maskinfo__node_i64(m, NULL, rows + 1);
    m->iv = maskinfo__node_i64(m, NULL, 2 * n);
    if (!tmp || !m->iv_off || !m->iv) {
        free(tmp);
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    int64_t w = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = 0;
        for (int64_t j = offsets[r]; j < offsets[r + 1]; j++) {
            int64_t lo = mi_max64(iv[2 * j], 0), hi = mi_min64(iv[2 * j + 1], K);
            if (lo < hi) tmp[c++] = (ivpair){lo, hi};
        }
        qsort(tmp, (size_t)c, sizeof *tmp, cmp_iv);
        m->iv_off[r] = w;
        for (int64_t j = 0; j < c; j++) {
            if (w > m->iv_off[r] && tmp[j].lo <= m->iv[2 * w - 1]) {
                if (tmp[j].hi > m->iv[2 * w - 1]) m->iv[2 * w - 1] = tmp[j].hi;
            } else {
                m->iv[2 * w] = tmp[j].lo;
                m->iv[2 * w + 1] = tmp[j].hi;
                w++;
            }
        }
    }
    m->iv_off[rows] = w;
    free(tmp);
    *out = m;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ evaluation */

struct maskinfo_scratch {
    int64_t *v;
    int64_t len, cap; /* in int64 units; intervals take two */
};

maskinfo_scratch *maskinfo_scratch_new(void) {
    return calloc(1, sizeof(maskinfo_scratch));
}

void maskinfo_scratch_free(maskinfo_scratch *s) {
    if (!s) return;
    free(s->v);
    free(s);
}

static int reserve(maskinfo_scratch *s, int64_t extra) {
    if (s->len + extra <= s->cap) return MASKINFO_OK;
    int64_t cap = s->cap ? s->cap : 64;
    while (cap < s->len + extra) cap *= 2;
    int64_t *v = realloc(s->v, (size_t)cap * sizeof *v);
    if (!v) return MASKINFO_ENOMEM;
    s->v = v;
    s->cap = cap;
    return MASKINFO_OK;
}

/* push [lo, hi) if non-empty; space must be reserved */
#define PUSH(s, L, H_)                        \
    do {                                      \
        int64_t l_ = (L), h_ = (H_);          \
        if (l_ < h_) {                        \
            (s)->v[(s)->len++] = l_;          \
            (s)->v[(s)->len++] = h_;          \
        }                                     \
    } while (0)

static int eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                maskinfo_scratch *s);

/* Evaluate both children, then combine them in place at the start of the
 * left result: the scratch works as a stack, so nesting needs no malloc. */
static int eval_binary(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                       maskinfo_scratch *s) {
    int64_t base = s->len;
    int st = eval(m->a, b, h, q, s);
    if (st) return st;
    int64_t mid = s->len;
    st = eval(m->b, b, h, q, s);
    if (st) return st;
    int64_t end = s->len;
    int64_t na = (mid - base) / 2, nb = (end - mid) / 2;
    st = reserve(s, 2 * (na + nb) + 4);
    if (st) return st;
    int64_t *A = s->v + base, *Bv = s->v + mid, *o = s->v + end;
    int64_t no = 0, i = 0, j = 0;
    switch (m->kind) {
    case MI_AND:
        while (i < na && j < nb) {
            int64_t lo = mi_max64(A[2 * i], Bv[2 * j]);
            int64_t hi = mi_min64(A[2 * i + 1], Bv[2 * j + 1]);
            if (lo < hi) { o[2 * no] = lo; o[2 * no + 1] = hi; no++; }
            if (A[2 * i + 1] < Bv[2 * j + 1]) i++; else j++;
        }
        break;
    case MI_OR:
        while (i < na || j < nb) {
            int64_t lo, hi;
            if (j >= nb || (i < na && A[2 * i] <= Bv[2 * j])) {
                lo = A[2 * i]; hi = A[2 * i + 1]; i++;
            } else {
                lo = Bv[2 * j]; hi = Bv[2 * j + 1]; j++;
            }
            if (no > 0 && lo <= o[2 * no - 1]) {
                if (hi > o[2 * no - 1]) o[2 * no - 1] = hi;
            } else {
                o[2 * no] = lo; o[2 * no + 1] = hi; no++;
            }
        }
        break;
    default: /* MI_ANDNOT: parts of A outside every B interval */
        for (i = 0; i < na; i++) {
            int64_t lo = A[2 * i], hi = A[2 * i + 1];
            while (j < nb && Bv[2 * j + 1] <= lo) j++;
            int64_t jj = j;
            while (lo < hi) {
                if (jj >= nb || Bv[2 * jj] >= hi) {
                    o[2 * no] = lo; o[2 * no + 1] = hi; no++;
                    break;
                }
                if (Bv[2 * jj] > lo) { o[2 * no] = lo; o[2 * no + 1] = Bv[2 * jj]; no++; }
                lo = Bv[2 * jj + 1];
                jj++;
            }
        }
        break;
    }
    memmove(s->v + base, o, (size_t)(2 * no) * sizeof(int64_t));
    s->len = base + 2 * no;
    return MASKINFO_OK;
}

static int eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                maskinfo_scratch *s) {
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    int64_t K = m->K;
    int st;
    switch (m->kind) {
    case MI_CONST:
        if ((st = reserve(s, 2))) return st;
        if (m->value) PUSH(s, 0, K);
        return MASKINFO_OK;
    case MI_CAUSAL:
        if ((st = reserve(s, 2))) return st;
        PUSH(s, 0, mi_min64(K, mi_sat_add(mi_sat_add(q, m->off[b]), 1)));
        return MASKINFO_OK;
    case MI_WINDOW: {
        if ((st = reserve(s, 2))) return st;
        int64_t hh = m->nh == 1 ? 0 : h, c = mi_sat_add(q, m->off[b]);
        PUSH(s, mi_max64(0, mi_sat_sub(c, m->left[hh])),
             mi_min64(K, mi_sat_add(mi_sat_add(c, m->right[hh]), 1)));
        return MASKINFO_OK;
    }
    case MI_CHUNK: {
        if ((st = reserve(s, 2))) return st;
        int64_t c0 = mi_floordiv(q, m->chunk) * m->chunk;
        int64_t hi = mi_min64(mi_min64(mi_sat_add(c0, m->chunk),
                                       mi_sat_add(mi_sat_add(q, m->off[b]), 1)), K);
        PUSH(s, mi_max64(c0, 0), hi);
        return MASKINFO_OK;
    }
    case MI_KRANGE:
        if ((st = reserve(s, 2))) return st;
        PUSH(s, mi_max64(m->lo ? m->lo[b] : 0, 0), mi_min64(m->hi[b], K));
        return MASKINFO_OK;
    case MI_SEG: {
        int64_t hq = m->hq == 1 ? 0 : h, hk = m->hk == 1 ? 0 : h;
        int64_t id = m->qv[(b * m->hq + hq) * m->Q + q];
        if (id == MASKINFO_NOMATCH_Q) return MASKINFO_OK;
        int64_t p = b * m->hk + hk;
        int64_t lo = m->run_off[p], hi = m->run_off[p + 1];
        while (lo < hi) { /* first run with run_id >= id */
            int64_t mid = lo + (hi - lo) / 2;
            if (m->run_id[mid] < id) lo = mid + 1; else hi = mid;
        }
        int64_t e = lo;
        while (e < m->run_off[p + 1] && m->run_id[e] == id) e++;
        if ((st = reserve(s, 2 * (e - lo)))) return st;
        for (int64_t r = lo; r < e; r++) PUSH(s, m->run_lo[r], m->run_hi[r]);
        return MASKINFO_OK;
    }
    case MI_DENSE: {
        int64_t hd = m->hd == 1 ? 0 : h;
        const uint64_t *w = m->bits + ((b * m->hd + hd) * m->Q + q) * m->words;
        int64_t k = 0;
        while (k < K) {
            /* find next set bit at or after k */
            int64_t wi = k >> 6;
            uint64_t word = w[wi] & (~(uint64_t)0 << (k & 63));
            while (!word && ++wi < m->words) word = w[wi];
            if (!word) break;
            int64_t lo = wi * 64 + __builtin_ctzll(word);
            /* next clear bit after lo */
            wi = lo >> 6;
            word = ~w[wi] & (~(uint64_t)0 << (lo & 63));
            while (!word && ++wi < m->words) word = ~w[wi];
            int64_t hi = word ? wi * 64 + __builtin_ctzll(word) : m->words * 64;
            if (hi > K) hi = K;
            if ((st = reserve(s, 2))) return st;
            PUSH(s, lo, hi);
            k = hi;
        }
        return MASKINFO_OK;
    }
    case MI_IVL: {
        int64_t r = (b * m->H + h) * m->Q + q;
        int64_t n = m->iv_off[r + 1] - m->iv_off[r];
        if (n == 0) return MASKINFO_OK;
        if ((st = reserve(s, 2 * n))) return st;
        memcpy(s->v + s->len, m->iv + 2 * m->iv_off[r], (size_t)(2 * n) * sizeof(int64_t));
        s->len += 2 * n;
        return MASKINFO_OK;
    }
    case MI_NOT: {
        int64_t base = s->len;
        if ((st = eval(m->a, b, h, q, s))) return st;
        int64_t n = (s->len - base) / 2;
        if ((st = reserve(s, 2 * (n + 1)))) return st;
        int64_t *in = s->v + base, *o = s->v + s->len, no = 0, prev = 0;
        for (int64_t i = 0; i < n; i++) {
            if (in[2 * i] > prev) { o[2 * no] = prev; o[2 * no + 1] = in[2 * i]; no++; }
            prev = in[2 * i + 1];
        }
        if (prev < K) { o[2 * no] = prev; o[2 * no + 1] = K; no++; }
        memmove(s->v + base, o, (size_t)(2 * no) * sizeof(int64_t));
        s->len = base + 2 * no;
        return MASKINFO_OK;
    }
    case MI_AND:
    case MI_OR:
    case MI_ANDNOT:
        return eval_binary(m, b, h, q, s);
    case MI_STACK:
        return eval(m->parts[h], b, 0, q, s);
    case MI_BCAST:
        return eval(m->a, b, h, q, s);
    case MI_SLICE: {
        int64_t base = s->len;
        int64_t ks = m->kstart[b];
        if ((st = eval(m->a, b, h, q + m->qstart[b], s))) return st;
        int64_t n = (s->len - base) / 2, no = 0;
        int64_t *v = s->v + base;
        for (int64_t i = 0; i < n; i++) {
            int64_t lo = mi_max64(v[2 * i] - ks, 0), hi = mi_min64(v[2 * i + 1] - ks, K);
            if (lo < hi) { v[2 * no] = lo; v[2 * no + 1] = hi; no++; }
        }
        s->len = base + 2 * no;
        return MASKINFO_OK;
    }
    }
    return MASKINFO_EINVAL;
}

int maskinfo_mask_row(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                      maskinfo_scratch *s, const int64_t **iv, int64_t *n) {
    if (b < 0 || b >= m->B || h < 0 || h >= m->H || q < 0 || q >= m->Q)
        return MASKINFO_EINVAL;
    s->len = 0;
    int st = eval(m, b, h, q, s);
    if (st) return st;
    *iv = s->v;
    *n = s->len / 2;
    return MASKINFO_OK;
}

int maskinfo_mask_get(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                      int64_t k, int *value) {
    if (k < 0 || k >= m->K) return MASKINFO_EINVAL;
    maskinfo_scratch *s = maskinfo_scratch_new();
    if (!s) return MASKINFO_ENOMEM;
    const int64_t *iv;
    int64_t n;
    int st = maskinfo_mask_row(m, b, h, q, s, &iv, &n);
    if (!st) {
        int64_t lo = 0, hi = n; /* first interval with end > k */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (iv[2 * mid + 1] <= k) lo = mid + 1; else hi = mid;
        }
        *value = lo < n && iv[2 * lo] <= k;
    }
    maskinfo_scratch_free(s);
    return st;
}

/* ------------------------------------------------------------ bit rows */

/*
 * Masks that hold dense leaves are evaluated a word at a time: a dense leaf
 * row is copied, and/or/not combine 64 cells per operation, and only the
 * structured leaves go through intervals.  A random row has ~K/2 runs, so
 * this is what keeps dense work bit-parallel.
 */
static int bit_depth(const maskinfo_mask *m) {
    switch (m->kind) {
    case MI_AND:
    case MI_OR:
    case MI_ANDNOT: {
        int da = bit_depth(m->a), db = bit_depth(m->b);
        return 1 + (da > db ? da : db);
    }
    case MI_NOT: return 1 + bit_depth(m->a);
    case MI_BCAST: return bit_depth(m->a);
    case MI_STACK: {
        int d = 0;
        for (int64_t i = 0; i < m->H; i++) {
            int di = bit_depth(m->parts[i]);
            if (di > d) d = di;
        }
        return d;
    }
    default: return 0;
    }
}

static void fill_bits(uint64_t *w, int64_t nw, const int64_t *iv, int64_t n) {
    memset(w, 0, (size_t)nw * sizeof *w);
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = iv[2 * i], hi = iv[2 * i + 1]; /* hi > lo */
        int64_t a = lo >> 6, z = (hi - 1) >> 6;
        uint64_t first = ~(uint64_t)0 << (lo & 63);
        uint64_t last = ~(uint64_t)0 >> (63 - ((hi - 1) & 63));
        if (a == z) {
            w[a] |= first & last;
        } else {
            w[a] |= first;
            for (int64_t j = a + 1; j < z; j++) w[j] = ~(uint64_t)0;
            w[z] |= last;
        }
    }
}

/* Row (b, h, q) into w (nw words); pool holds bit_depth(m) * nw words. */
static int eval_bits(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                     uint64_t *w, int64_t nw, uint64_t *pool, maskinfo_scratch *s) {
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    int st;
    switch (m->kind) {
    case MI_DENSE: {
        int64_t hd = m->hd == 1 ? 0 : h;
        memcpy(w, m->bits + ((b * m->hd + hd) * m->Q + q) * m->words, (size_t)nw * sizeof *w);
        return MASKINFO_OK;
    }
    case MI_AND:
    case MI_OR:
    case MI_ANDNOT:
        if ((st = eval_bits(m->a, b, h, q, w, nw, pool, s))) return st;
        if ((st = eval_bits(m->b, b, h, q, pool, nw, pool + nw, s))) return st;
        if (m->kind == MI_AND)
            for (int64_t j = 0; j < nw; j++) w[j] &= pool[j];
        else if (m->kind == MI_OR)
            for (int64_t j = 0; j < nw; j++) w[j] |= pool[j];
        else
            for (int64_t j = 0; j < nw; j++) w[j] &= ~pool[j];
        return MASKINFO_OK;
    case MI_STACK:
        return eval_bits(m->parts[h], b, 0, q, w, nw, pool, s);
    case MI_BCAST:
        return eval_bits(m->a, b, h, q, w, nw, pool, s);
    case MI_NOT:
        if ((st = eval_bits(m->a, b, h, q, w, nw, pool, s))) return st;
        for (int64_t j = 0; j < nw; j++) w[j] = ~w[j];
        if (m->K & 63) w[nw - 1] &= ~(uint64_t)0 >> (64 - (m->K & 63));
        return MASKINFO_OK;
    default:
        s->len = 0;
        if ((st = eval(m, b, h, q, s))) return st;
        fill_bits(w, nw, s->v, s->len / 2);
        return MASKINFO_OK;
    }
}

/* ------------------------------------------------------------ reductions */

/*
 * Row-parallel driver.  Each thread owns one scratch; the callback sees one
 * row's intervals.  Rows are numbered r = (b*H + h)*Q + q.  An error in any
 * row is reported after the loop (OpenMP forbids leaving it early).
 */
typedef void (*row_fn)(void *ctx, int64_t r, const int64_t *iv, int64_t n);
/* The same row as nw words of bits (bits past K are zero). */
typedef void (*bits_fn)(void *ctx, int64_t r, const uint64_t *w, int64_t nw);

static int for_rows(const maskinfo_mask *m, int64_t r0, int64_t r1, row_fn fn,
                    bits_fn bfn, void *ctx) {
    int err = MASKINFO_OK;
    int use_bits = bfn && maskinfo_mask_is_dense(m);
    int64_t nw = (m->K + 63) / 64, depth = use_bits ? bit_depth(m) : 0;
#pragma omp parallel if (r1 - r0 >= 256)
    {
        maskinfo_scratch *s = maskinfo_scratch_new();
        uint64_t *wb = use_bits ? malloc((size_t)((depth + 1) * nw + 1) * sizeof *wb) : NULL;
        int lerr = (s && (wb || !use_bits)) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 256)
        for (int64_t r = r0; r < r1; r++) {
            if (lerr) continue;
            int64_t q = r % m->Q, bh = r / m->Q;
            if (use_bits) {
                lerr = eval_bits(m, bh / m->H, bh % m->H, q, wb, nw, wb + nw, s);
                if (!lerr) bfn(ctx, r, wb, nw);
            } else {
                s->len = 0;
                lerr = eval(m, bh / m->H, bh % m->H, q, s);
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

/* Counts are gathered per row and summed afterwards in a fixed order, so
 * the result is the same for any thread count (integers would be anyway;
 * this keeps the per-head split simple). */
int maskinfo_mask_count(const maskinfo_mask *m, uint64_t *total,
                        uint64_t *per_head, const maskinfo_limits *lim) {
    (void)lim; /* the allocations below are checked against it in the core split */
    int64_t rows = m->B * m->H * m->Q;
    uint64_t *rc = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *rc);
    if (!rc) return MASKINFO_ENOMEM;
    count_ctx c = {m, rc};
    int st = for_rows(m, 0, rows, count_row, count_bits, &c);
    if (!st) {
        uint64_t t = 0;
        for (int64_t p = 0; p < m->B * m->H; p++) {
            uint64_t ph = 0;
            for (int64_t q = 0; q < m->Q; q++) ph += rc[p * m->Q + q];
            if (per_head) per_head[p] = ph;
            t += ph;
        }
        *total = t;
    }
    free(rc);
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
    (void)lim; /* the allocations below are checked against it in the core split */
    int64_t rows = m->B * m->H * m->Q;
    uint8_t *f = flags ? flags : malloc((size_t)(rows > 0 ? rows : 1));
    if (!f) return MASKINFO_ENOMEM;
    empty_ctx c = {f};
    int st = for_rows(m, 0, rows, empty_row, empty_bits, &c);
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
    (void)lim; /* the allocations below are checked against it in the core split */
    if (a->B != b->B || a->Q != b->Q || a->K != b->K ||
        (a->H != b->H && a->H != 1 && b->H != 1))
        return MASKINFO_ESHAPE;
    int64_t H = a->H > b->H ? a->H : b->H, Q = a->Q;
    int64_t rows = a->B * H * Q;
    int use_bits = maskinfo_mask_is_dense(a) || maskinfo_mask_is_dense(b);
    int64_t nw = (a->K + 63) / 64;
    int64_t da = use_bits ? bit_depth(a) : 0, db = use_bits ? bit_depth(b) : 0;
    uint64_t total = 0;
    int64_t best = INT64_MAX, bestk = -1;
    int err = MASKINFO_OK;
#pragma omp parallel if (rows >= 256)
    {
        maskinfo_scratch *sa = maskinfo_scratch_new(), *sb = maskinfo_scratch_new();
        uint64_t *wa = use_bits ? malloc((size_t)((da + db + 2) * nw + 1) * sizeof *wa) : NULL;
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
                lerr = eval_bits(a, bb, hh, q, wa, nw, wa + nw, sa);
                if (!lerr) lerr = eval_bits(b, bb, hh, q, wb, nw, wb + nw, sb);
                if (lerr) continue;
                d = xor_bits(wa, wb, nw, &f);
            } else {
                sa->len = sb->len = 0;
                lerr = eval(a, bb, hh, q, sa);
                if (!lerr) lerr = eval(b, bb, hh, q, sb);
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

typedef struct {
    const maskinfo_mask *m;
    maskinfo_array *out;
    int bias;
    double on, off;
    uint8_t on_pat[8], off_pat[8]; /* the element bytes of on / off */
    int on_nz, off_nz;             /* pattern has a non-zero byte */
} fill_ctx;

/* The bytes maskinfo_array_set would store for v in dtype dt. */
static int elem_pattern(maskinfo_dtype dt, double v, uint8_t pat[8]) {
    memset(pat, 0, 8);
    switch (dt) {
    case MASKINFO_BOOL: pat[0] = v != 0.0; break;
    case MASKINFO_INT32: { int32_t x = (int32_t)v; memcpy(pat, &x, 4); break; }
    case MASKINFO_FLOAT32: { float x = (float)v; memcpy(pat, &x, 4); break; }
    case MASKINFO_FLOAT16: { uint16_t x = maskinfo_f32_to_f16((float)v); memcpy(pat, &x, 2); break; }
    case MASKINFO_BFLOAT16: { uint16_t x = maskinfo_f32_to_bf16((float)v); memcpy(pat, &x, 2); break; }
    case MASKINFO_INT64: { int64_t x = (int64_t)v; memcpy(pat, &x, 8); break; }
    case MASKINFO_UINT8: pat[0] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); break;
    }
    for (int i = 0; i < 8; i++)
        if (pat[i]) return 1;
    return 0;
}

static void fill_row(void *ctx, int64_t r, const int64_t *iv, int64_t n) {
    fill_ctx *c = ctx;
    int64_t K = c->m->K;
    int64_t base = r * K;
    maskinfo_dtype dt = maskinfo_array_dtype(c->out);
    if (dt == MASKINFO_BOOL && !c->bias) {
        uint8_t *d = (uint8_t *)maskinfo_array_data(c->out) + base;
        for (int64_t i = 0; i < n; i++)
            memset(d + iv[2 * i], 1, (size_t)(iv[2 * i + 1] - iv[2 * i]));
        return;
    }
    /* The array starts zeroed: write the "on" and "off" values where they
     * are non-zero, as raw element patterns (one conversion per call, not
     * per cell). */
    size_t esz = maskinfo_dtype_size(dt);
    uint8_t *d = (uint8_t *)maskinfo_array_data(c->out) + (size_t)base * esz;
    int64_t prev = 0;
    for (int64_t i = 0; i <= n; i++) {
        int64_t lo = i < n ? iv[2 * i] : K;
        if (c->off_nz)
            for (int64_t k = prev; k < lo; k++) memcpy(d + (size_t)k * esz, c->off_pat, esz);
        if (i < n && c->on_nz)
            for (int64_t k = lo; k < iv[2 * i + 1]; k++) memcpy(d + (size_t)k * esz, c->on_pat, esz);
        if (i < n) prev = iv[2 * i + 1];
    }
}

/* Dense-leaf masks: bool output straight from the bits. */
static void fill_bits_row(void *ctx, int64_t r, const uint64_t *w, int64_t nw) {
    fill_ctx *c = ctx;
    int64_t K = c->m->K;
    uint8_t *d = (uint8_t *)maskinfo_array_data(c->out) + r * K;
    (void)nw;
    for (int64_t k = 0; k < K; k++) d[k] = (uint8_t)((w[k >> 6] >> (k & 63)) & 1);
}

static int fill_array(const maskinfo_mask *m, maskinfo_dtype dt, double on,
                      double off, int bias, maskinfo_array **out,
                      const maskinfo_limits *lim) {
    int64_t shape[4] = {m->B, m->H, m->Q, m->K};
    maskinfo_array *a;
    int st = maskinfo_array_new(&a, dt, 4, shape, lim);
    if (st) return st;
    fill_ctx c = {m, a, bias, on, off, {0}, {0}, 0, 0};
    c.on_nz = elem_pattern(dt, on, c.on_pat);
    c.off_nz = elem_pattern(dt, off, c.off_pat);
    st = for_rows(m, 0, m->B * m->H * m->Q, fill_row,
                  (dt == MASKINFO_BOOL && !bias) ? fill_bits_row : NULL, &c);
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

/* ------------------------------------------------------------ grid counts */

/* last bucket j with edges[j] <= x (edges non-decreasing, n+1 entries) */
static int64_t bucket_of(const int64_t *edges, int64_t n, int64_t x) {
    int64_t lo = 0, hi = n; /* answer in [0, n-1] */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (edges[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
}

/*
 * A row interval adds its partial first and last buckets directly and marks
 * the fully covered buckets in between with a difference array, so a row
 * costs O(runs * log ncols) however many buckets it spans; one prefix sum per
 * row bucket turns the marks into counts.
 */
int maskinfo_mask_grid_counts(const maskinfo_mask *m, int64_t b, int64_t h,
                              const int64_t *row_edges, int64_t nrows,
                              const int64_t *col_edges, int64_t ncols,
                              uint64_t *counts, const maskinfo_limits *lim) {
    (void)lim; /* the allocations below are checked against it in the core split */
    if (b < 0 || b >= m->B || h < 0 || h >= m->H || nrows < 0 || ncols < 0)
        return MASKINFO_EINVAL;
    for (int64_t i = 0; i < nrows; i++)
        if (row_edges[i] < 0 || row_edges[i] > row_edges[i + 1] || row_edges[i + 1] > m->Q)
            return MASKINFO_EINVAL;
    for (int64_t j = 0; j < ncols; j++)
        if (col_edges[j] < 0 || col_edges[j] > col_edges[j + 1] || col_edges[j + 1] > m->K)
            return MASKINFO_EINVAL;
    if (nrows == 0 || ncols == 0) return MASKINFO_OK;
    int64_t c0 = col_edges[0], cN = col_edges[ncols];
    int err = MASKINFO_OK;
#pragma omp parallel if (row_edges[nrows] - row_edges[0] >= 256)
    {
        maskinfo_scratch *s = maskinfo_scratch_new();
        int64_t *diff = calloc((size_t)(ncols + 1), sizeof *diff);
        int lerr = (s && diff) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < nrows; i++) {
            if (lerr) continue;
            uint64_t *cnt = counts + i * ncols;
            /* zeroed here, by the thread that fills the row: the first
             * touch of a large table is then shared between threads */
            memset(cnt, 0, (size_t)ncols * sizeof *cnt);
            memset(diff, 0, (size_t)(ncols + 1) * sizeof *diff);
            for (int64_t q = row_edges[i]; q < row_edges[i + 1] && !lerr; q++) {
                s->len = 0;
                lerr = eval(m, b, h, q, s);
                int64_t n = s->len / 2;
                for (int64_t t = 0; t < n && !lerr; t++) {
                    int64_t lo = mi_max64(s->v[2 * t], c0), hi = mi_min64(s->v[2 * t + 1], cN);
                    if (lo >= hi) continue;
                    int64_t j0 = bucket_of(col_edges, ncols, lo);
                    int64_t j1 = bucket_of(col_edges, ncols, hi - 1);
                    if (j0 == j1) {
                        cnt[j0] += (uint64_t)(hi - lo);
                    } else {
                        cnt[j0] += (uint64_t)(col_edges[j0 + 1] - lo);
                        cnt[j1] += (uint64_t)(hi - col_edges[j1]);
                        diff[j0 + 1] += 1;
                        diff[j1] -= 1;
                    }
                }
            }
            int64_t run = 0;
            for (int64_t j = 0; j < ncols; j++) {
                run += diff[j];
                if (run) cnt[j] += (uint64_t)run * (uint64_t)(col_edges[j + 1] - col_edges[j]);
            }
        }
        if (lerr) {
#pragma omp critical
            err = lerr;
        }
        free(diff);
        maskinfo_scratch_free(s);
    }
    return err;
}
