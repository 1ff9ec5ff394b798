/*
 * linear.c - closed forms for rows that are one interval with linear ends
 * (see linear.h).
 *
 * A mask qualifies when it is `and`s (through broadcasts and stacked heads)
 * of constants, rule leaves (causal, window, chunked, key range) and at
 * most one segment leaf, with every offset and extent below 2^60: then no
 * saturating addition of eval.c ever saturates, so the forms here give the
 * very intervals eval.c computes.  Each rule leaf bounds a row by a
 * constant or by q plus a constant; `and` takes the max of the lower and
 * the min of the upper bounds.  A piece ends where any leaf changes form:
 * a run of equal query ids ends, a chunk ends.  Segment ids with several
 * key runs are evaluated row by row.
 */
#include "linear.h"

#include <string.h>

#define MI_LIN_BIG ((int64_t)1 << 60)  /* bound on every parameter */
#define MI_LIN_INF ((int64_t)1 << 62)  /* "no linear bound": q +- this never wins */
#define MI_LIN_WALK 4096               /* nodes visited before giving up */

struct mi_lin_ctx {
    const maskinfo_mask *m;
    const maskinfo_mask *seg;   /* the segment leaf, or NULL */
    maskinfo_limits lim;
    int64_t key_b, key_h;       /* plane of the run table (-1: none) */
    int64_t *start, n, cap;     /* runs: [start[i], start[i + 1]), start[n] = Q */
    int64_t last;               /* run of the previous lookup */
};

static int small(int64_t x) { return x > -MI_LIN_BIG && x < MI_LIN_BIG; }

static int all_small(const int64_t *v, int64_t n) {
    for (int64_t i = 0; v && i < n; i++)
        if (!small(v[i])) return 0;
    return 1;
}

/* Whether m qualifies; *seg collects the one segment leaf. */
static int eligible(const maskinfo_mask *m, const maskinfo_mask **seg, int *budget) {
    if (--*budget < 0) return 0;
    switch (m->kind) {
    case MI_CONST: return 1;
    case MI_CAUSAL: return all_small(m->u.causal.off, m->B);
    case MI_WINDOW:
        return all_small(m->u.window.off, m->B) && all_small(m->u.window.left, m->u.window.nh) &&
               all_small(m->u.window.right, m->u.window.nh);
    case MI_CHUNK: return small(m->u.chunk.chunk) && all_small(m->u.chunk.off, m->B);
    case MI_KRANGE: return all_small(m->u.krange.lo, m->B) && all_small(m->u.krange.hi, m->B);
    case MI_SEG:
        if (*seg && *seg != m) return 0;
        *seg = m;
        return 1;
    case MI_AND:
        return eligible(m->u.bin.a, seg, budget) && eligible(m->u.bin.b, seg, budget);
    case MI_BCAST: return eligible(m->u.un.a, seg, budget);
    case MI_STACK:
        for (int64_t i = 0; i < m->H; i++)
            if (!eligible(m->u.stack.parts[i], seg, budget)) return 0;
        return 1;
    default: return 0;
    }
}

static int64_t cost(const maskinfo_mask *m, int *budget) {
    if (--*budget < 0) return 0;
    switch (m->kind) {
    case MI_SEG: return 2;
    case MI_DENSE: return 1 + m->u.dense.words / 4;
    case MI_IVL: {
        int64_t rows = m->B * m->H * m->Q;
        return 1 + (rows > 0 ? m->u.ivl.off[rows] / rows : 0);
    }
    default: {
        int64_t t = 1;
        for (int64_t i = 0; i < mi_nkids(m) && *budget >= 0; i++) t += cost(mi_kid(m, i), budget);
        return t;
    }
    }
}

int64_t maskinfo__row_cost(const maskinfo_mask *m) {
    int budget = MI_LIN_WALK;
    return cost(m, &budget);
}

mi_lin_ctx *maskinfo__lin_new(const maskinfo_mask *m, const maskinfo_limits *lim) {
    const maskinfo_mask *seg = NULL;
    int budget = MI_LIN_WALK;
    if (!small(m->Q) || !small(m->K) || !eligible(m, &seg, &budget)) return NULL;
    mi_lin_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    c->seg = seg;
    if (lim) c->lim = *lim;
    c->key_b = c->key_h = -1;
    return c;
}

void maskinfo__lin_free(mi_lin_ctx *c) {
    if (!c) return;
    free(c->start);
    free(c);
}

static int push_run(mi_lin_ctx *c, int64_t q) {
    if (c->n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 64;
        int st = maskinfo_check_alloc(&c->lim, (uint64_t)cap, sizeof *c->start);
        if (st) return st;
        int64_t *p = realloc(c->start, (size_t)cap * sizeof *p);
        if (!p) return MASKINFO_ENOMEM;
        c->start = p;
        c->cap = cap;
    }
    c->start[c->n++] = q;
    return MASKINFO_OK;
}

/* The run table of query ids row v (Q entries): one scan per plane. */
static int build_runs(mi_lin_ctx *c, const int64_t *v, int64_t Q) {
    c->n = 0;
    c->last = 0;
    int st = MASKINFO_OK;
    for (int64_t q = 0; q < Q && !st; q++)
        if (q == 0 || v[q] != v[q - 1]) st = push_run(c, q);
    if (!st) st = push_run(c, Q);
    c->n--; /* start[n] = Q closes the last run */
    return st;
}

/* End of the run of equal query ids holding q. */
static int64_t run_end(mi_lin_ctx *c, int64_t q) {
    int64_t i = c->last;
    if (!(c->start[i] <= q && q < c->start[i + 1])) {
        if (i + 1 < c->n && c->start[i + 1] <= q && q < c->start[i + 2]) {
            i++;
        } else {
            int64_t lo = 0, hi = c->n - 1; /* last run with start <= q */
            while (lo < hi) {
                int64_t mid = lo + (hi - lo + 1) / 2;
                if (c->start[mid] <= q) lo = mid; else hi = mid - 1;
            }
            i = lo;
        }
    }
    c->last = i;
    return c->start[i + 1];
}

typedef struct { mi_lin f; int64_t qend; int closed; int st; } piece;

static inline void lower(piece *p, int64_t c, int64_t s) {
    if (c > p->f.lc) p->f.lc = c;
    if (s > p->f.ls) p->f.ls = s;
}
static inline void upper(piece *p, int64_t c, int64_t s) {
    if (c < p->f.hc) p->f.hc = c;
    if (s < p->f.hs) p->f.hs = s;
}

/* Narrows p by node m at row q of plane (b, h), as eval.c's eval would. */
static void walk(mi_lin_ctx *c, const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                 piece *p) {
    if (!p->closed || p->st) return;
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    switch (m->kind) {
    case MI_CONST:
        if (!m->u.cst.value) upper(p, 0, MI_LIN_INF);
        return;
    case MI_CAUSAL:
        upper(p, MI_LIN_INF, m->u.causal.off[b] + 1);
        return;
    case MI_WINDOW: {
        int64_t hh = m->u.window.nh == 1 ? 0 : h, off = m->u.window.off[b];
        lower(p, 0, off - m->u.window.left[hh]);
        upper(p, MI_LIN_INF, off + m->u.window.right[hh] + 1);
        return;
    }
    case MI_CHUNK: {
        int64_t ch = m->u.chunk.chunk, c0 = mi_floordiv(q, ch) * ch;
        lower(p, c0, -MI_LIN_INF);
        upper(p, c0 + ch, m->u.chunk.off[b] + 1);
        if (c0 + ch < p->qend) p->qend = c0 + ch;
        return;
    }
    case MI_KRANGE:
        lower(p, m->u.krange.lo ? m->u.krange.lo[b] : 0, -MI_LIN_INF);
        upper(p, m->u.krange.hi[b], MI_LIN_INF);
        return;
    case MI_SEG: {
        int64_t hq = m->u.seg.hq == 1 ? 0 : h, hk = m->u.seg.hk == 1 ? 0 : h;
        const int64_t *qv = m->u.seg.qv + (b * m->u.seg.hq + hq) * m->Q;
        if (c->key_b != b || c->key_h != hq) {
            if ((p->st = build_runs(c, qv, m->Q))) return;
            c->key_b = b;
            c->key_h = hq;
        }
        int64_t e = run_end(c, q), id = qv[q];
        if (e < p->qend) p->qend = e;
        if (id == MASKINFO_NOMATCH_Q) {
            upper(p, 0, MI_LIN_INF);
            return;
        }
        int64_t pl = b * m->u.seg.hk + hk;
        int64_t lo = m->u.seg.run_off[pl], hi = m->u.seg.run_off[pl + 1], end = hi;
        while (lo < hi) { /* first run with run_id >= id */
            int64_t mid = lo + (hi - lo) / 2;
            if (m->u.seg.run_id[mid] < id) lo = mid + 1; else hi = mid;
        }
        int64_t nruns = 0;
        while (lo + nruns < end && m->u.seg.run_id[lo + nruns] == id && nruns < 2) nruns++;
        if (nruns == 0) {
            upper(p, 0, MI_LIN_INF);
        } else if (nruns == 1) {
            lower(p, m->u.seg.run_lo[lo], -MI_LIN_INF);
            upper(p, m->u.seg.run_hi[lo], MI_LIN_INF);
        } else {
            p->closed = 0; /* several key runs: row by row */
        }
        return;
    }
    case MI_AND:
        walk(c, m->u.bin.a, b, h, q, p);
        walk(c, m->u.bin.b, b, h, q, p);
        return;
    case MI_BCAST:
        walk(c, m->u.un.a, b, h, q, p);
        return;
    case MI_STACK:
        walk(c, m->u.stack.parts[h], b, 0, q, p);
        return;
    default: /* not reached: eligible() admits no other kind */
        p->closed = 0;
        p->qend = q + 1;
        return;
    }
}

int maskinfo__lin_piece(mi_lin_ctx *c, int64_t b, int64_t h, int64_t q, int64_t qmax,
                        mi_lin *f, int64_t *qend, int *closed) {
    piece p = {{0, -MI_LIN_INF, c->m->K, MI_LIN_INF}, qmax, 1, MASKINFO_OK};
    walk(c, c->m, b, h, q, &p);
    if (p.st) return p.st;
    *f = p.f;
    *qend = p.qend;
    *closed = p.closed;
    return MASKINFO_OK;
}

/* sum of max(0, a + s*q) for q in [q0, q1), s in {-1, 0, 1} */
static unsigned __int128 series(int64_t a, int s, int64_t q0, int64_t q1) {
    if (s > 0 && q0 < 1 - a) q0 = 1 - a;      /* a + q > 0 */
    else if (s < 0 && q1 > a) q1 = a;         /* a - q > 0 */
    else if (s == 0 && a <= 0) return 0;
    if (q0 >= q1) return 0;
    __int128 n = q1 - q0;
    __int128 first = (__int128)a + s * (__int128)q0, last = (__int128)a + s * (__int128)(q1 - 1);
    return (unsigned __int128)(n * (first + last) / 2);
}

uint64_t maskinfo__lin_sum(const mi_lin *f, int64_t qa, int64_t qb, int64_t e0, int64_t e1) {
    int64_t lc = mi_max64(f->lc, e0), hc = mi_min64(f->hc, e1);
    if (qa >= qb || lc >= hc) return 0;
    /* L(q) = lc below qL, q + ls from qL on; H(q) = q + hs below qH, hc from qH on */
    int64_t qL = mi_min64(mi_max64(lc - f->ls, qa), qb);
    int64_t qH = mi_min64(mi_max64(hc - f->hs, qa), qb);
    int64_t cut[4] = {qa, mi_min64(qL, qH), mi_max64(qL, qH), qb};
    unsigned __int128 t = 0;
    for (int i = 0; i < 3; i++) {
        int64_t x0 = cut[i], x1 = cut[i + 1];
        if (x0 >= x1) continue;
        int lin_lo = x0 >= qL, lin_hi = x0 < qH; /* the form on [x0, x1) */
        if (!lin_lo && lin_hi) t += series(f->hs - lc, 1, x0, x1);
        else if (!lin_lo) t += series(hc - lc, 0, x0, x1);
        else if (lin_hi) t += series(f->hs - f->ls, 0, x0, x1);
        else t += series(hc - f->ls, -1, x0, x1);
    }
    return (uint64_t)t;
}
