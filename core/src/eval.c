/*
 * eval.c - one row of a mask expression, as intervals and as bit words.
 *
 * Every row (b, h, q) of every node evaluates to a sorted list of disjoint
 * half-open key intervals.  Leaves compute their row in O(runs); composites
 * combine their children's rows on the scratch's interval stack.  Masks
 * with dense leaves can also be evaluated 64 cells per word (eval_bits).
 *
 * Nothing here recurses.  Composites are frames on an explicit stack (heap,
 * checked against the guard), so an expression of any depth evaluates in
 * any C stack; a chain of one associative operator (a & b & c ..., built
 * left- or right-deep) is one frame that folds its operands in turn.
 * Expressions are DAGs: a node reached along several paths (m | f(m)) is
 * found once per root (the plan) and its row is kept for the rest of the
 * row (the memo), so no node is evaluated twice for one row and the cost
 * never exceeds the distinct nodes times their per-row work.  Intervals
 * are canonical (sorted, disjoint, never touching), so the order in which
 * a chain folds does not change a single value.
 */
#include "eval.h"

#include <string.h>

__extension__ typedef __int128 mi_i128;

/* ------------------------------------------------------------ state */

/* ------------------------------------------------------------ scratch */

maskinfo_scratch *maskinfo__scratch_new(const maskinfo_limits *lim) {
    maskinfo_scratch *s = calloc(1, sizeof *s);
    if (s && lim) s->lim = *lim;
    return s;
}

maskinfo_scratch *maskinfo_scratch_new(void) { return maskinfo__scratch_new(NULL); }

static void plan_clear(struct mi_eval_state *es) {
    free(es->set);
    free(es->brow);
    free(es->bgen);
    es->set = NULL;
    es->brow = es->bgen = NULL;
    es->setcap = es->nshared = es->bnw = 0;
    es->root = NULL;
}

void maskinfo_scratch_free(maskinfo_scratch *s) {
    if (!s) return;
    if (s->es) {
        plan_clear(s->es);
        free(s->es->fr);
        free(s->es->bf);
        free(s->es->memo);
        free(s->es->arena);
        free(s->es->slots);
        free(s->es);
    }
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

/* ------------------------------------------------------------ the plan */

static int set_grow(plan_slot **set, int64_t *cap, const maskinfo_limits *lim) {
    int64_t nc = *cap * 2;
    int st = maskinfo_check_alloc(lim, (uint64_t)nc, sizeof **set);
    if (st) return st;
    plan_slot *n = calloc((size_t)nc, sizeof *n);
    if (!n) return MASKINFO_ENOMEM;
    for (int64_t i = 0; i < *cap; i++)
        if ((*set)[i].m) *set_find(n, nc, (*set)[i].m) = (*set)[i];
    free(*set);
    *set = n;
    *cap = nc;
    return MASKINFO_OK;
}

/*
 * Count the parents of every composite under root (one walk, explicit
 * stack), then keep those with two or more, numbered 0.. : the nodes whose
 * rows the memo keeps.  Leaves are never kept (recomputing one costs what
 * copying it would).  Cached per root (address and serial number).
 */
static int plan_for(maskinfo_scratch *s, const maskinfo_mask *root) {
    struct mi_eval_state *es = s->es;
    if (es->root == root && es->serial == root->serial) return MASKINFO_OK;
    plan_clear(es);
    if (root->kind < MI_AND) {
        es->root = root;
        es->serial = root->serial;
        return MASKINFO_OK;
    }
    int64_t cap = 64, n = 0, scap = 0, sp = 0;
    const maskinfo_mask **stack = NULL;
    plan_slot *set = calloc((size_t)cap, sizeof *set);
    int st = set ? MASKINFO_OK : MASKINFO_ENOMEM;
    if (!st) {
        *set_find(set, cap, root) = (plan_slot){root, 0};
        n = 1;
        st = mi_grow_to((void **)&stack, &scap, 1, sizeof *stack, &s->lim);
    }
    if (!st) stack[sp++] = root;
    int64_t shared = 0;
    while (!st && sp > 0) {
        const maskinfo_mask *x = stack[--sp];
        for (int64_t i = 0, nk = mi_nkids(x); i < nk && !st; i++) {
            const maskinfo_mask *k = mi_kid(x, i);
            if (k->kind < MI_AND) continue;
            plan_slot *p = set_find(set, cap, k);
            if (p->m) {
                if (++p->deg == 2) shared++;
                continue;
            }
            *p = (plan_slot){k, 1};
            if (2 * ++n > cap) st = set_grow(&set, &cap, &s->lim);
            if (!st) st = mi_grow_to((void **)&stack, &scap, sp + 1, sizeof *stack, &s->lim);
            if (!st) stack[sp++] = k;
        }
    }
    free(stack);
    if (!st && shared > 0) { /* keep only the shared ones, numbered */
        int64_t kc = 4;
        while (kc < 2 * shared) kc *= 2;
        st = maskinfo_check_alloc(&s->lim, (uint64_t)kc, sizeof *set);
        plan_slot *keep = st ? NULL : calloc((size_t)kc, sizeof *keep);
        if (!st && !keep) st = MASKINFO_ENOMEM;
        for (int64_t i = 0, idx = 0; !st && i < cap; i++)
            if (set[i].m && set[i].deg >= 2) *set_find(keep, kc, set[i].m) = (plan_slot){set[i].m, idx++};
        if (!st) {
            es->set = keep;
            es->setcap = kc;
            es->nshared = shared;
        }
    }
    free(set);
    if (st) return st;
    es->root = root;
    es->serial = root->serial;
    return MASKINFO_OK;
}

/* A new row of root: the memo of the last one lapses. */
static inline int row_start(maskinfo_scratch *s, const maskinfo_mask *root) {
    struct mi_eval_state *es = s->es;
    if (es && es->root == root && es->serial == root->serial) { /* the usual case */
        es->gen++;
        es->memoused = 0;
        es->arenalen = 0;
        return MASKINFO_OK;
    }
    return maskinfo__row_start(s, root);
}

int maskinfo__row_start(maskinfo_scratch *s, const maskinfo_mask *root) {
    if (!s->es) {
        int st = maskinfo_check_alloc(&s->lim, 1, sizeof *s->es);
        if (st) return st;
        s->es = calloc(1, sizeof *s->es);
        if (!s->es) return MASKINFO_ENOMEM;
    }
    int st = plan_for(s, root);
    if (st) return st;
    s->es->gen++;
    s->es->memoused = 0;
    s->es->arenalen = 0;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ the memo */

static inline int64_t memo_hash(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q, int64_t cap) {
    uint64_t x = maskinfo__splitmix64((uint64_t)(uintptr_t)m ^ maskinfo__splitmix64(
        (uint64_t)q ^ maskinfo__splitmix64((uint64_t)b * 0x9E3779B97F4A7C15ULL + (uint64_t)h)));
    return (int64_t)(x & (uint64_t)(cap - 1));
}

/* The memo entry of (m, b, h, q) in this row, or the free slot for it;
 * slots of older rows count as free. */
static memo_slot *memo_find(struct mi_eval_state *es, const maskinfo_mask *m, int64_t b,
                            int64_t h, int64_t q) {
    int64_t j = memo_hash(m, b, h, q, es->memocap);
    for (;;) {
        memo_slot *e = &es->memo[j];
        if (e->gen != es->gen) return e;
        if (e->m == m && e->b == b && e->h == h && e->q == q) return e;
        j = (j + 1) & (es->memocap - 1);
    }
}

static int memo_put(maskinfo_scratch *s, const maskinfo_mask *m, int64_t b, int64_t h,
                    int64_t q, int64_t from) {
    struct mi_eval_state *es = s->es;
    int64_t n = s->len - from;
    if (2 * (es->memoused + 1) > es->memocap) {
        int64_t nc = es->memocap ? 2 * es->memocap : 64;
        int st = maskinfo_check_alloc(&s->lim, (uint64_t)nc, sizeof(memo_slot));
        if (st) return st;
        memo_slot *old = es->memo, *nm = calloc((size_t)nc, sizeof *nm);
        if (!nm) return MASKINFO_ENOMEM;
        int64_t oc = es->memocap;
        es->memo = nm;
        es->memocap = nc;
        for (int64_t i = 0; i < oc; i++)
            if (old[i].gen == es->gen) *memo_find(es, old[i].m, old[i].b, old[i].h, old[i].q) = old[i];
        free(old);
    }
    int st = mi_grow_to((void **)&es->arena, &es->arenacap, es->arenalen + n, sizeof *es->arena, &s->lim);
    if (st) return st;
    if (n) memcpy(es->arena + es->arenalen, s->v + from, (size_t)n * sizeof *s->v);
    *memo_find(es, m, b, h, q) = (memo_slot){m, b, h, q, es->arenalen, n, es->gen};
    es->arenalen += n;
    es->memoused++;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ leaves */

/* Row (b, h, q) of leaf m (b and h already reduced to m's extents). */
static inline __attribute__((always_inline)) int
eval_leaf(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q, maskinfo_scratch *s) {
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
        int64_t hh = m->u.window.nh == 1 ? 0 : h, c, off = m->u.window.off[b];
        int64_t left = m->u.window.left[hh], right = m->u.window.right[hh];
        if (!__builtin_add_overflow(q, off, &c)) { /* saturating the ends is exact here */
            PUSH(s, mi_max64(0, mi_sat_sub(c, left)), mi_min64(K, mi_sat_add(mi_sat_add(c, right), 1)));
        } else { /* q + off passes 2^63 while q + off - left may not: 128 bits */
            mi_i128 lo = (mi_i128)q + off - left, hi = (mi_i128)q + off + right + 1;
            PUSH(s, lo < 0 ? 0 : lo > K ? K : (int64_t)lo, hi < 0 ? 0 : hi > K ? K : (int64_t)hi);
        }
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
    default:
        return MASKINFO_EINVAL;
    }
}

/* ------------------------------------------------------------ intervals */

/* Combine the interval lists [a0, a1) and [b0, b1) of the stack by kind
 * (and, or, andnot: a minus b) into the stack from dst on. */
static inline __attribute__((always_inline)) int
combine(maskinfo_scratch *s, mi_kind kind, int64_t a0, int64_t a1, int64_t b0, int64_t b1,
        int64_t dst) {
    int64_t na = (a1 - a0) / 2, nb = (b1 - b0) / 2;
    int st = reserve(s, 2 * (na + nb) + 4);
    if (st) return st;
    const int64_t *A = s->v + a0, *Bv = s->v + b0;
    int64_t *o = s->v + s->len;
    int64_t no = 0, i = 0, j = 0;
    switch (kind) {
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
    memmove(s->v + dst, o, (size_t)(2 * no) * sizeof(int64_t));
    s->len = dst + 2 * no;
    return MASKINFO_OK;
}

/* The complement in [0, K) of the list from base on, in place. */
static int complement(maskinfo_scratch *s, int64_t base, int64_t K) {
    int64_t n = (s->len - base) / 2;
    int st = reserve(s, 2 * (n + 1));
    if (st) return st;
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

/* A slice's keys: the list from base on shifted by -ks and cut to [0, K). */
static void slice_keys(maskinfo_scratch *s, int64_t base, int64_t ks, int64_t K) {
    int64_t n = (s->len - base) / 2, no = 0;
    int64_t *v = n ? s->v + base : NULL; /* no NULL + 0 on an empty stack */
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = mi_max64(v[2 * i] - ks, 0), hi = mi_min64(v[2 * i + 1] - ks, K);
        if (lo < hi) { v[2 * no] = lo; v[2 * no + 1] = hi; no++; }
    }
    s->len = base + 2 * no;
}

/*
 * Shallow expressions without a shared node (nearly all of them) take a
 * plain recursion: at most MI_REC_HEIGHT levels, which any stack holds,
 * and no frame bookkeeping per row.  Everything else runs on frames.
 */
static int eval_rec(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q, maskinfo_scratch *s) {
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    int64_t base = s->len, mid;
    int st;
    switch (m->kind) {
    case MI_AND:
    case MI_OR:
    case MI_ANDNOT:
        if ((st = eval_rec(m->u.bin.a, b, h, q, s))) return st;
        mid = s->len;
        if ((st = eval_rec(m->u.bin.b, b, h, q, s))) return st;
        return combine(s, m->kind, base, mid, mid, s->len, base);
    case MI_NOT:
        if ((st = eval_rec(m->u.un.a, b, h, q, s))) return st;
        return complement(s, base, m->K);
    case MI_STACK: return eval_rec(m->u.stack.parts[h], b, 0, q, s);
    case MI_BCAST: return eval_rec(m->u.un.a, b, h, q, s);
    case MI_SLICE:
        if ((st = eval_rec(m->u.slice.a, b, h, q + m->u.slice.qstart[b], s))) return st;
        slice_keys(s, base, m->u.slice.kstart[b], m->K);
        return MASKINFO_OK;
    default: return eval_leaf(m, b, h, q, s);
    }
}

/* The next operand of an and/or chain frame; f->cur becomes NULL after
 * the last.  Either child may continue the chain, so left- and right-deep
 * chains both fold. */
const maskinfo_mask *maskinfo__next_operand(const struct mi_eval_state *es, frame *f) {
    const maskinfo_mask *c = f->cur;
    if (f->last) {
        f->cur = NULL;
        return c;
    }
    const maskinfo_mask *a = c->u.bin.a, *b = c->u.bin.b;
    if (chains(es, a, f->m->kind)) { f->cur = a; return b; }
    if (chains(es, b, f->m->kind)) { f->cur = b; return a; }
    f->cur = a;
    f->last = 1;
    return b;
}

/* Begin row (b, h, q) of m on the stack: a leaf or a memo hit at once,
 * else a new frame. */
static int start(maskinfo_scratch *s, const maskinfo_mask *m, int64_t b, int64_t h, int64_t q) {
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    if (m->kind < MI_AND) return eval_leaf(m, b, h, q, s);
    struct mi_eval_state *es = s->es;
    int64_t idx = shared_idx(es, m);
    if (idx >= 0 && es->memocap) {
        memo_slot *e = memo_find(es, m, b, h, q);
        if (e->gen == es->gen) {
            int st = reserve(s, e->n);
            if (st) return st;
            if (e->n) memcpy(s->v + s->len, es->arena + e->off, (size_t)e->n * sizeof *s->v);
            s->len += e->n;
            return MASKINFO_OK;
        }
    }
    int st = mi_grow_to((void **)&es->fr, &es->capfr, es->nfr + 1, sizeof *es->fr, &s->lim);
    if (st) return st;
    es->fr[es->nfr++] = (frame){m, m, b, h, q, s->len, 0, 0, 0, 0, idx >= 0};
    return MASKINFO_OK;
}

/* Run the frames above floor to completion. */
static int run(maskinfo_scratch *s, int64_t floor) {
    struct mi_eval_state *es = s->es;
    int st = MASKINFO_OK;
    while (!st && es->nfr > floor) {
        frame *f = &es->fr[es->nfr - 1];
        const maskinfo_mask *m = f->m, *x;
        int done = 0;
        switch (m->kind) {
        case MI_NOT:
            if (f->state++ == 0) st = start(s, m->u.un.a, f->b, f->h, f->q);
            else { st = complement(s, f->base, m->K); done = 1; }
            break;
        case MI_BCAST:
            if (f->state++ == 0) st = start(s, m->u.un.a, f->b, f->h, f->q);
            else done = 1;
            break;
        case MI_STACK:
            if (f->state++ == 0) st = start(s, m->u.stack.parts[f->h], f->b, 0, f->q);
            else done = 1;
            break;
        case MI_SLICE:
            if (f->state++ == 0) {
                st = start(s, m->u.slice.a, f->b, f->h, f->q + m->u.slice.qstart[f->b]);
            } else {
                slice_keys(s, f->base, m->u.slice.kstart[f->b], m->K);
                done = 1;
            }
            break;
        case MI_AND:
        case MI_OR:
            /* state 0: the first operand; 1: it is at [base, len); 2: the
             * next one is at [mid, len), fold it in */
            if (f->state == 2) st = combine(s, m->kind, f->base, f->mid, f->mid, s->len, f->base);
            if (st) break;
            if (f->state > 0 && !f->cur) { done = 1; break; }
            f->state = f->state == 0 ? 1 : 2;
            f->mid = s->len;
            x = maskinfo__next_operand(es, f);
            st = start(s, x, f->b, f->h, f->q);
            break;
        case MI_ANDNOT:
            /* a chain ((L - x1) - x2) - ... is L minus (x1 | x2 | ...):
             * the union grows at [base, mid), then L comes at [mid, len) */
            if (f->state == 0) {
                f->state = 1;
                f->cur = m->u.bin.a;
                st = start(s, m->u.bin.b, f->b, f->h, f->q);
                break;
            }
            if (f->state == 2) {
                st = combine(s, MI_OR, f->base, f->mid, f->mid, s->len, f->base);
                if (st) break;
            }
            if (f->state == 3) {
                st = combine(s, MI_ANDNOT, f->mid, s->len, f->base, f->mid, f->base);
                done = 1;
                break;
            }
            f->mid = s->len;
            x = andnot_next(es, f);
            st = start(s, x, f->b, f->h, f->q);
            break;
        default:
            st = MASKINFO_EINVAL;
        }
        if (!st && done) {
            f = &es->fr[es->nfr - 1];
            if (f->memo) st = memo_put(s, f->m, f->b, f->h, f->q, f->base);
            es->nfr--;
        }
    }
    if (st) es->nfr = floor;
    return st;
}

/* Append row (b, h, q) of m within the current row's memo. */
int maskinfo__eval_in_row(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                       maskinfo_scratch *s) {
    if (m->height <= MI_REC_HEIGHT && !s->es->set) return eval_rec(m, b, h, q, s);
    int64_t floor = s->es->nfr;
    int st = start(s, m, b, h, q);
    if (!st && s->es->nfr > floor) st = run(s, floor);
    return st;
}

/* Rows of an expression that needs frames or a memo (or a new plan). */
static __attribute__((noinline)) int eval_planned(const maskinfo_mask *m, int64_t b, int64_t h,
                                                  int64_t q, maskinfo_scratch *s) {
    int st = row_start(s, m);
    return st ? st : maskinfo__eval_in_row(m, b, h, q, s);
}

static inline int eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                       maskinfo_scratch *s) {
    const struct mi_eval_state *es = s->es;
    /* a leaf needs no state; a planned root with nothing shared no memo */
    if (m->kind < MI_AND ||
        (es && es->root == m && es->serial == m->serial && !es->set && m->height <= MI_REC_HEIGHT))
        return eval_rec(m, b, h, q, s);
    return eval_planned(m, b, h, q, s);
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

int maskinfo__eval(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                   maskinfo_scratch *s) {
    return eval(m, b, h, q, s);
}

