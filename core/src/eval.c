/*
 * eval.c - one row of a mask expression, as intervals and as bit words.
 *
 * Every row (b, h, q) of every node evaluates to a sorted list of disjoint
 * half-open key intervals.  Leaves compute their row in O(runs); composites
 * merge their children's rows on a scratch stack, so nesting allocates
 * nothing per row.  Masks with dense leaves can also be evaluated 64 cells
 * per word (eval_bits).
 */
#include "node.h"

#include <string.h>

/* ------------------------------------------------------------ scratch */

maskinfo_scratch *maskinfo__scratch_new(const maskinfo_limits *lim) {
    maskinfo_scratch *s = calloc(1, sizeof *s);
    if (s && lim) s->lim = *lim;
    return s;
}

maskinfo_scratch *maskinfo_scratch_new(void) { return maskinfo__scratch_new(NULL); }

void maskinfo_scratch_free(maskinfo_scratch *s) {
    if (!s) return;
    free(s->v);
    free(s);
}

/* The slow path of reserve, kept out of line so reserve stays inlined. */
static __attribute__((noinline)) int grow(maskinfo_scratch *s, int64_t extra) {
    /* small first block: it is checked against the guard like any other
     * allocation, and one scratch serves every row of a thread anyway */
    int64_t cap = s->cap ? s->cap : 16;
    while (cap < s->len + extra) cap *= 2;
    int st = maskinfo_check_alloc(&s->lim, (uint64_t)cap, sizeof *s->v);
    if (st) return st;
    int64_t *v = realloc(s->v, (size_t)cap * sizeof *v);
    if (!v) return MASKINFO_ENOMEM;
    s->v = v;
    s->cap = cap;
    return MASKINFO_OK;
}

static inline int reserve(maskinfo_scratch *s, int64_t extra) {
    return s->len + extra <= s->cap ? MASKINFO_OK : grow(s, extra);
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

/* ------------------------------------------------------------ intervals */

static int eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                maskinfo_scratch *s);

/* Evaluate both children, then combine them in place at the start of the
 * left result: the scratch works as a stack, so nesting needs no malloc. */
static int eval_binary(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                       maskinfo_scratch *s) {
    int64_t base = s->len;
    int st = eval(m->u.bin.a, b, h, q, s);
    if (st) return st;
    int64_t mid = s->len;
    st = eval(m->u.bin.b, b, h, q, s);
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
        if (m->u.cst.value) PUSH(s, 0, K);
        return MASKINFO_OK;
    case MI_CAUSAL:
        if ((st = reserve(s, 2))) return st;
        PUSH(s, 0, mi_min64(K, mi_sat_add(mi_sat_add(q, m->u.causal.off[b]), 1)));
        return MASKINFO_OK;
    case MI_WINDOW: {
        if ((st = reserve(s, 2))) return st;
        int64_t hh = m->u.window.nh == 1 ? 0 : h, c = mi_sat_add(q, m->u.window.off[b]);
        PUSH(s, mi_max64(0, mi_sat_sub(c, m->u.window.left[hh])),
             mi_min64(K, mi_sat_add(mi_sat_add(c, m->u.window.right[hh]), 1)));
        return MASKINFO_OK;
    }
    case MI_CHUNK: {
        if ((st = reserve(s, 2))) return st;
        int64_t c0 = mi_floordiv(q, m->u.chunk.chunk) * m->u.chunk.chunk;
        int64_t hi = mi_min64(mi_min64(mi_sat_add(c0, m->u.chunk.chunk),
                                       mi_sat_add(mi_sat_add(q, m->u.chunk.off[b]), 1)), K);
        PUSH(s, mi_max64(c0, 0), hi);
        return MASKINFO_OK;
    }
    case MI_KRANGE:
        if ((st = reserve(s, 2))) return st;
        PUSH(s, mi_max64(m->u.krange.lo ? m->u.krange.lo[b] : 0, 0), mi_min64(m->u.krange.hi[b], K));
        return MASKINFO_OK;
    case MI_SEG: {
        int64_t hq = m->u.seg.hq == 1 ? 0 : h, hk = m->u.seg.hk == 1 ? 0 : h;
        int64_t id = m->u.seg.qv[(b * m->u.seg.hq + hq) * m->Q + q];
        if (id == MASKINFO_NOMATCH_Q) return MASKINFO_OK;
        int64_t p = b * m->u.seg.hk + hk;
        int64_t lo = m->u.seg.run_off[p], hi = m->u.seg.run_off[p + 1];
        while (lo < hi) { /* first run with run_id >= id */
            int64_t mid = lo + (hi - lo) / 2;
            if (m->u.seg.run_id[mid] < id) lo = mid + 1; else hi = mid;
        }
        int64_t e = lo;
        while (e < m->u.seg.run_off[p + 1] && m->u.seg.run_id[e] == id) e++;
        if ((st = reserve(s, 2 * (e - lo)))) return st;
        for (int64_t r = lo; r < e; r++) PUSH(s, m->u.seg.run_lo[r], m->u.seg.run_hi[r]);
        return MASKINFO_OK;
    }
    case MI_DENSE: {
        int64_t hd = m->u.dense.hd == 1 ? 0 : h;
        const uint64_t *w = m->u.dense.bits + ((b * m->u.dense.hd + hd) * m->Q + q) * m->u.dense.words;
        int64_t k = 0;
        while (k < K) {
            /* find next set bit at or after k */
            int64_t wi = k >> 6;
            uint64_t word = w[wi] & (~(uint64_t)0 << (k & 63));
            while (!word && ++wi < m->u.dense.words) word = w[wi];
            if (!word) break;
            int64_t lo = wi * 64 + __builtin_ctzll(word);
            /* next clear bit after lo */
            wi = lo >> 6;
            word = ~w[wi] & (~(uint64_t)0 << (lo & 63));
            while (!word && ++wi < m->u.dense.words) word = ~w[wi];
            int64_t hi = word ? wi * 64 + __builtin_ctzll(word) : m->u.dense.words * 64;
            if (hi > K) hi = K;
            if ((st = reserve(s, 2))) return st;
            PUSH(s, lo, hi);
            k = hi;
        }
        return MASKINFO_OK;
    }
    case MI_IVL: {
        int64_t r = (b * m->H + h) * m->Q + q;
        int64_t n = m->u.ivl.off[r + 1] - m->u.ivl.off[r];
        if (n == 0) return MASKINFO_OK;
        if ((st = reserve(s, 2 * n))) return st;
        memcpy(s->v + s->len, m->u.ivl.iv + 2 * m->u.ivl.off[r], (size_t)(2 * n) * sizeof(int64_t));
        s->len += 2 * n;
        return MASKINFO_OK;
    }
    case MI_NOT: {
        int64_t base = s->len;
        if ((st = eval(m->u.un.a, b, h, q, s))) return st;
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
        return eval(m->u.stack.parts[h], b, 0, q, s);
    case MI_BCAST:
        return eval(m->u.un.a, b, h, q, s);
    case MI_SLICE: {
        int64_t base = s->len;
        int64_t ks = m->u.slice.kstart[b];
        if ((st = eval(m->u.slice.a, b, h, q + m->u.slice.qstart[b], s))) return st;
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
        int da = bit_depth(m->u.bin.a), db = bit_depth(m->u.bin.b);
        return 1 + (da > db ? da : db);
    }
    case MI_NOT: return 1 + bit_depth(m->u.un.a);
    case MI_BCAST: return bit_depth(m->u.un.a);
    case MI_STACK: {
        int d = 0;
        for (int64_t i = 0; i < m->H; i++) {
            int di = bit_depth(m->u.stack.parts[i]);
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

static int eval_bits(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                     uint64_t *w, int64_t nw, uint64_t *pool, maskinfo_scratch *s) {
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    int st;
    switch (m->kind) {
    case MI_DENSE: {
        int64_t hd = m->u.dense.hd == 1 ? 0 : h;
        memcpy(w, m->u.dense.bits + ((b * m->u.dense.hd + hd) * m->Q + q) * m->u.dense.words, (size_t)nw * sizeof *w);
        return MASKINFO_OK;
    }
    case MI_AND:
    case MI_OR:
    case MI_ANDNOT:
        if ((st = eval_bits(m->u.bin.a, b, h, q, w, nw, pool, s))) return st;
        if ((st = eval_bits(m->u.bin.b, b, h, q, pool, nw, pool + nw, s))) return st;
        if (m->kind == MI_AND)
            for (int64_t j = 0; j < nw; j++) w[j] &= pool[j];
        else if (m->kind == MI_OR)
            for (int64_t j = 0; j < nw; j++) w[j] |= pool[j];
        else
            for (int64_t j = 0; j < nw; j++) w[j] &= ~pool[j];
        return MASKINFO_OK;
    case MI_STACK:
        return eval_bits(m->u.stack.parts[h], b, 0, q, w, nw, pool, s);
    case MI_BCAST:
        return eval_bits(m->u.un.a, b, h, q, w, nw, pool, s);
    case MI_NOT:
        if ((st = eval_bits(m->u.un.a, b, h, q, w, nw, pool, s))) return st;
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

/* The entry points for reduce.c; the recursion above stays on
 * static functions, which calls within this file can bind directly. */
int maskinfo__eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                   maskinfo_scratch *s) {
    return eval(m, b, h, q, s);
}

int maskinfo__bit_depth(const maskinfo_mask *m) { return bit_depth(m); }

int maskinfo__eval_bits(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                        uint64_t *w, int64_t nw, uint64_t *pool, maskinfo_scratch *s) {
    return eval_bits(m, b, h, q, w, nw, pool, s);
}
