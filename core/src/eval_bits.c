/*
 * eval_bits.c - one row of a mask with dense leaves as bit words.
 *
 * Masks that hold dense leaves are evaluated a word at a time: a dense leaf
 * row is copied, and/or/not combine 64 cells per operation, and subtrees
 * without a dense leaf go through intervals once.  A random row has ~K/2
 * runs, so this is what keeps dense work bit-parallel.  Rows live in slots
 * of the scratch: slot 0 is the caller's output, a frame with output slot o
 * folds its operands through slot o + 1.  The frames, plan and memo are
 * those of eval.c (eval.h).
 */
#include "eval.h"

#include <string.h>

int maskinfo__bit_depth(const maskinfo_mask *m) {
    (void)m;
    return 0;
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

/* ~w, with the bits past K kept clear. */
static void invert(uint64_t *w, int64_t nw, int64_t K) {
    for (int64_t j = 0; j < nw; j++) w[j] = ~w[j];
    if (K & 63) w[nw - 1] &= ~(uint64_t)0 >> (64 - (K & 63));
}

typedef struct {
    uint64_t *w;   /* slot 0 */
    int64_t nw, q;
} bitrow;

static inline uint64_t *slot(const maskinfo_scratch *s, const bitrow *r, int64_t o) {
    return o == 0 || r->nw == 0 ? r->w : s->es->slots + (o - 1) * r->nw; /* K = 0: no slots */
}

/* Begin (b, h) of m into slot o: at once for a dense leaf, a subtree
 * without one (through intervals) or a memo hit; else a new frame. */
static int bstart(maskinfo_scratch *s, const bitrow *r, const maskinfo_mask *m, int64_t b,
                  int64_t h, int64_t o) {
    struct mi_eval_state *es = s->es;
    if (m->B == 1) b = 0;
    if (m->H == 1) h = 0;
    int st = mi_grow_to((void **)&es->slots, &es->slotcap, (o + 1) * r->nw, sizeof *es->slots, &s->lim);
    if (st) return st;
    if (m->kind == MI_DENSE) {
        int64_t hd = m->u.dense.hd == 1 ? 0 : h;
        memcpy(slot(s, r, o), m->u.dense.bits + ((b * m->u.dense.hd + hd) * m->Q + r->q) * m->u.dense.words,
               (size_t)r->nw * sizeof(uint64_t));
        return MASKINFO_OK;
    }
    if (!m->has_dense || m->kind == MI_SLICE) {
        s->len = 0;
        if ((st = maskinfo__eval_in_row(m, b, h, r->q, s))) return st;
        fill_bits(slot(s, r, o), r->nw, s->v, s->len / 2);
        return MASKINFO_OK;
    }
    int64_t idx = shared_idx(es, m);
    if (idx >= 0 && es->bgen && es->bgen[idx] == es->gen) {
        memcpy(slot(s, r, o), es->brow + idx * r->nw, (size_t)r->nw * sizeof(uint64_t));
        return MASKINFO_OK;
    }
    st = mi_grow_to((void **)&es->bf, &es->capbf, es->nbf + 1, sizeof *es->bf, &s->lim);
    if (st) return st;
    es->bf[es->nbf++] = (frame){m, m, b, h, r->q, 0, 0, o, 0, 0, idx >= 0};
    return MASKINFO_OK;
}

/* Row (b, h) of m into slot o by bounded recursion (see MI_REC_HEIGHT). */
static int bits_rec(maskinfo_scratch *s, const bitrow *r, const maskinfo_mask *m, int64_t b,
                    int64_t h, int64_t o) {
    int st;
    switch (m->kind) {
    case MI_AND:
    case MI_OR:
    case MI_ANDNOT: {
        if (!m->has_dense) break;
        if (m->B == 1) b = 0;
        if (m->H == 1) h = 0;
        if ((st = bits_rec(s, r, m->u.bin.a, b, h, o))) return st;
        if ((st = bits_rec(s, r, m->u.bin.b, b, h, o + 1))) return st;
        uint64_t *w = slot(s, r, o);
        const uint64_t *x = slot(s, r, o + 1);
        if (m->kind == MI_AND)
            for (int64_t j = 0; j < r->nw; j++) w[j] &= x[j];
        else if (m->kind == MI_OR)
            for (int64_t j = 0; j < r->nw; j++) w[j] |= x[j];
        else
            for (int64_t j = 0; j < r->nw; j++) w[j] &= ~x[j];
        return MASKINFO_OK;
    }
    case MI_NOT:
        if (!m->has_dense) break;
        if ((st = bits_rec(s, r, m->u.un.a, m->B == 1 ? 0 : b, m->H == 1 ? 0 : h, o))) return st;
        invert(slot(s, r, o), r->nw, m->K);
        return MASKINFO_OK;
    case MI_STACK:
        if (!m->has_dense) break;
        return bits_rec(s, r, m->u.stack.parts[m->H == 1 ? 0 : h], m->B == 1 ? 0 : b, 0, o);
    case MI_BCAST:
        if (!m->has_dense) break;
        return bits_rec(s, r, m->u.un.a, m->B == 1 ? 0 : b, m->H == 1 ? 0 : h, o);
    default:
        break;
    }
    return bstart(s, r, m, b, h, o); /* a leaf, or no dense leaf below */
}

/* Keep the finished row of shared node idx for the rest of this row. */
static int bmemo_put(maskinfo_scratch *s, const bitrow *r, int64_t idx, int64_t o) {
    struct mi_eval_state *es = s->es;
    if (!es->brow) {
        int64_t n = maskinfo__mul(es->nshared, r->nw);
        int st = n < 0 ? MASKINFO_EOVERFLOW : maskinfo_check_alloc(&s->lim, (uint64_t)n, sizeof(uint64_t));
        if (st) return st;
        es->brow = malloc((size_t)n * sizeof *es->brow);
        es->bgen = calloc((size_t)es->nshared, sizeof *es->bgen);
        if (!es->brow || !es->bgen) {
            free(es->brow);
            free(es->bgen);
            es->brow = es->bgen = NULL;
            return MASKINFO_ENOMEM;
        }
        es->bnw = r->nw;
    }
    memcpy(es->brow + idx * r->nw, slot(s, r, o), (size_t)r->nw * sizeof(uint64_t));
    es->bgen[idx] = es->gen;
    return MASKINFO_OK;
}

static void bit_op(mi_kind kind, uint64_t *w, const uint64_t *x, int64_t nw) {
    if (kind == MI_AND)
        for (int64_t j = 0; j < nw; j++) w[j] &= x[j];
    else if (kind == MI_OR)
        for (int64_t j = 0; j < nw; j++) w[j] |= x[j];
    else /* x minus w, into w: the last step of an andnot chain */
        for (int64_t j = 0; j < nw; j++) w[j] = x[j] & ~w[j];
}

static int brun(maskinfo_scratch *s, const bitrow *r) {
    struct mi_eval_state *es = s->es;
    int st = MASKINFO_OK;
    while (!st && es->nbf > 0) {
        frame *f = &es->bf[es->nbf - 1];
        const maskinfo_mask *m = f->m, *x;
        int64_t o = f->o;
        int done = 0;
        switch (m->kind) {
        case MI_NOT:
            if (f->state++ == 0) {
                st = bstart(s, r, m->u.un.a, f->b, f->h, o);
            } else {
                invert(slot(s, r, o), r->nw, m->K);
                done = 1;
            }
            break;
        case MI_BCAST:
            if (f->state++ == 0) st = bstart(s, r, m->u.un.a, f->b, f->h, o);
            else done = 1;
            break;
        case MI_STACK:
            if (f->state++ == 0) st = bstart(s, r, m->u.stack.parts[f->h], f->b, 0, o);
            else done = 1;
            break;
        case MI_AND:
        case MI_OR: {
            if (f->state == 2) bit_op(m->kind, slot(s, r, o), slot(s, r, o + 1), r->nw);
            if (f->state > 0 && !f->cur) { done = 1; break; }
            int64_t to = f->state == 0 ? o : o + 1;
            f->state = f->state == 0 ? 1 : 2;
            x = maskinfo__next_operand(es, f);
            st = bstart(s, r, x, f->b, f->h, to);
            break;
        }
        case MI_ANDNOT:
            if (f->state == 0) {
                f->state = 1;
                f->cur = m->u.bin.a;
                st = bstart(s, r, m->u.bin.b, f->b, f->h, o);
                break;
            }
            if (f->state == 2) bit_op(MI_OR, slot(s, r, o), slot(s, r, o + 1), r->nw);
            if (f->state == 3) {
                bit_op(MI_ANDNOT, slot(s, r, o), slot(s, r, o + 1), r->nw);
                done = 1;
                break;
            }
            x = andnot_next(es, f);
            st = bstart(s, r, x, f->b, f->h, o + 1);
            break;
        default:
            st = MASKINFO_EINVAL;
        }
        if (!st && done) {
            f = &es->bf[es->nbf - 1];
            if (f->memo) st = bmemo_put(s, r, shared_idx(es, f->m), f->o);
            es->nbf--;
        }
    }
    if (st) es->nbf = 0;
    return st;
}

int maskinfo__eval_bits(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                        uint64_t *w, int64_t nw, uint64_t *pool, maskinfo_scratch *s) {
    (void)pool;
    int st = maskinfo__row_start(s, m);
    if (st) return st;
    bitrow r = {w, nw, q};
    if (m->height <= MI_REC_HEIGHT && !s->es->set) return bits_rec(s, &r, m, b, h, 0);
    st = bstart(s, &r, m, b, h, 0);
    return st ? st : brun(s, &r);
}
