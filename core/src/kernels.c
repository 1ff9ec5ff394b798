/*
 * kernels.c - the layouts attention kernels take, from the row intervals:
 * every row's runs (for a Python mask_mod beside FlexAttention's tables),
 * FlashInfer's packed custom mask and MagiAttention's slices (flash-attn's
 * varlen form is in varlen.c).  Outputs whose size depends on the mask are
 * counted first, so the guard sees each output whole before it exists.
 */
#include "kernels.h"
#include "linear.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ row runs */

/*
 * One pass of row_runs for masks with closed forms (linear.h): a row is at
 * most one interval, computed from its piece instead of evaluated.  Pass 0
 * (lo NULL) stores each row's count in ptr[r + 1], pass 1 the intervals.
 * *done = 0: some piece has no closed form (the caller evaluates rows).
 */
static int row_runs_closed(const maskinfo_mask *m, int64_t *ptr, int32_t *lo, int32_t *hi,
                           const maskinfo_limits *lim, int *done)
{
    *done = 0;
    mi_lin_ctx *c = maskinfo__lin_new(m, lim);
    if (c == NULL)
        return MASKINFO_OK;
    int st = MASKINFO_OK, ok = 1;
    for (int64_t p = 0; p < m->B * m->H && ok && !st; p++)
        for (int64_t q = 0, qend; q < m->Q && ok && !st; q = qend) {
            mi_lin f;
            st = maskinfo__lin_piece(c, p / m->H, p % m->H, q, m->Q, &f, &qend, &ok);
            for (int64_t x = q, r = p * m->Q + q; !st && ok && x < qend; x++, r++) {
                int64_t a, z;
                maskinfo__lin_row(&f, x, &a, &z);
                if (lo == NULL) {
                    ptr[r + 1] = a < z;
                } else if (a < z) {
                    lo[ptr[r]] = (int32_t)a;
                    hi[ptr[r]] = (int32_t)z;
                }
            }
        }
    maskinfo__lin_free(c);
    *done = ok && !st;
    return st;
}

int maskinfo_mask_row_runs(const maskinfo_mask *m, maskinfo_runs *out, char *why, size_t whylen,
                           const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    memset(out, 0, sizeof *out);
    if (m == NULL)
        return MASKINFO_EINVAL;
    if (m->K > INT32_MAX)
        return MASKINFO_EOVERFLOW;
    const int64_t rows = m->B * m->H * m->Q; /* fits: the mask exists */
    int64_t n = rows + 1;
    int st = mi_budget(lim, (uint64_t)n * 8, why, whylen);
    if (!st)
        st = maskinfo_array_new(&out->ptr, MASKINFO_INT64, 1, &n, lim);
    if (st)
        return st;
    int64_t *ptr = maskinfo_array_data(out->ptr);
    int closed = 0;
    for (int pass = 0; pass < 2 && !st; pass++) {
        int32_t *lo = pass ? maskinfo_array_data(out->lo) : NULL;
        int32_t *hi = pass ? maskinfo_array_data(out->hi) : NULL;
        int err = pass == 0 || closed ? row_runs_closed(m, ptr, lo, hi, lim, &closed) : MASKINFO_OK;
        if (!err && !closed) {
#pragma omp parallel if (rows >= 1024)
            {
                maskinfo_scratch *s = maskinfo__scratch_new(lim);
                int lerr = s ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 256)
                for (int64_t r = 0; r < rows; r++) {
                    const int64_t *iv;
                    int64_t c;
                    if (lerr || (lerr = maskinfo_mask_row(m, r / (m->H * m->Q), r / m->Q % m->H, r % m->Q, s,
                                                          &iv, &c)))
                        continue;
                    if (!pass) {
                        ptr[r + 1] = c;
                        continue;
                    }
                    for (int64_t j = 0; j < c; j++) {
                        lo[ptr[r] + j] = (int32_t)iv[2 * j];
                        hi[ptr[r] + j] = (int32_t)iv[2 * j + 1];
                    }
                }
                if (lerr) {
#pragma omp critical
                    err = lerr;
                }
                maskinfo_scratch_free(s);
            }
        }
        st = err;
        if (!st && pass == 0) {
            ptr[0] = 0;
            for (int64_t r = 1; r <= rows; r++)
                ptr[r] += ptr[r - 1];
            n = ptr[rows];
            st = mi_budget(lim, (uint64_t)n * 8 + (uint64_t)(rows + 1) * 8, why, whylen);
            if (!st)
                st = maskinfo_array_new(&out->lo, MASKINFO_INT32, 1, &n, lim);
            if (!st)
                st = maskinfo_array_new(&out->hi, MASKINFO_INT32, 1, &n, lim);
        }
    }
    if (st)
        maskinfo_runs_free(out);
    return st;
}

/* ------------------------------------------------------------ FlashInfer */

void maskinfo_packed_mask_free(maskinfo_packed_mask *p)
{
    if (p == NULL)
        return;
    maskinfo_array_free(p->packed);
    maskinfo_array_free(p->mask_indptr);
    maskinfo_array_free(p->qo_indptr);
    maskinfo_array_free(p->kv_indptr);
    maskinfo_array_free(p->indices_q);
    maskinfo_array_free(p->indices_k);
    memset(p, 0, sizeof *p);
}

int maskinfo_mask_packbits(const maskinfo_mask *m, int64_t h, const uint8_t *q_valid, const uint8_t *kv_valid,
                           maskinfo_packed_mask *out, char *why, size_t whylen, const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    memset(out, 0, sizeof *out);
    if (m == NULL || h < 0 || h >= m->H)
        return MASKINFO_EINVAL;
    const int64_t B = m->B, Q = m->Q, K = m->K;
    int64_t n1 = B + 1;
    int st = mi_budget(lim, (uint64_t)n1 * 12 + (uint64_t)K * 8, why, whylen);
    if (!st)
        st = maskinfo_array_new(&out->mask_indptr, MASKINFO_INT32, 1, &n1, lim);
    if (!st)
        st = maskinfo_array_new(&out->qo_indptr, MASKINFO_INT32, 1, &n1, lim);
    if (!st)
        st = maskinfo_array_new(&out->kv_indptr, MASKINFO_INT32, 1, &n1, lim);
    if (st) {
        maskinfo_packed_mask_free(out);
        return st;
    }
    int32_t *mp = maskinfo_array_data(out->mask_indptr), *qp = maskinfo_array_data(out->qo_indptr);
    int32_t *kp = maskinfo_array_data(out->kv_indptr);
    int64_t bytes = 0, nq = 0, nk = 0;
    for (int64_t b = 0; b < B && !st; b++) {
        int64_t cq = 0, ck = 0;
        for (int64_t q = 0; q < Q; q++)
            cq += !q_valid || q_valid[b * Q + q];
        for (int64_t k = 0; k < K; k++)
            ck += !kv_valid || kv_valid[b * K + k];
        mp[b] = (int32_t)bytes, qp[b] = (int32_t)nq, kp[b] = (int32_t)nk;
        nq += cq, nk += ck;
        if (ck > 0 && cq > (INT64_MAX - 7) / ck - bytes / ck)
            st = mi_why(why, whylen, MASKINFO_EOVERFLOW, "the packed mask's size overflows 64 bits");
        else
            bytes += mi_ceil_div(cq * ck, 8);
    }
    /* the size first (the guard's refusal says it), then the int32 limit */
    if (!st)
        st = mi_budget(lim, (uint64_t)bytes + (uint64_t)n1 * 12 + (uint64_t)K * 8 + (uint64_t)(nq + nk) * 8, why,
                       whylen);
    if (!st && (bytes > INT32_MAX || nq > INT32_MAX || nk > INT32_MAX))
        st = mi_why(why, whylen, MASKINFO_EOVERFLOW,
                    "the packed mask is %lld bytes over %lld query and %lld key tokens, past the int32 "
                    "indptr FlashInfer takes (2^31 - 1)", (long long)bytes, (long long)nq, (long long)nk);
    if (!st)
        mp[B] = (int32_t)bytes, qp[B] = (int32_t)nq, kp[B] = (int32_t)nk;
    if (!st)
        st = maskinfo_array_new(&out->packed, MASKINFO_UINT8, 1, &bytes, lim);
    if (!st)
        st = maskinfo_array_new(&out->indices_q, MASKINFO_INT64, 1, &nq, lim);
    if (!st)
        st = maskinfo_array_new(&out->indices_k, MASKINFO_INT64, 1, &nk, lim);
    if (!st) {
        int64_t *iq = maskinfo_array_data(out->indices_q), *ik = maskinfo_array_data(out->indices_k);
        for (int64_t x = 0, t = 0; x < B * Q; x++)
            if (!q_valid || q_valid[x])
                iq[t++] = x;
        for (int64_t x = 0, t = 0; x < B * K; x++)
            if (!kv_valid || kv_valid[x])
                ik[t++] = x;
    }
    int64_t *kidx = st ? NULL : mi_alloc(lim, K, sizeof *kidx, 0, &st);
    maskinfo_scratch *s = st ? NULL : maskinfo__scratch_new(lim);
    if (!st && !s)
        st = MASKINFO_ENOMEM;
    uint8_t *pk = st ? NULL : maskinfo_array_data(out->packed);
    for (int64_t b = 0; b < B && !st; b++) {
        int64_t ck = 0;
        for (int64_t k = 0; k < K; k++)
            if (!kv_valid || kv_valid[b * K + k])
                kidx[ck++] = k;
        uint64_t bit = (uint64_t)mp[b] * 8; /* the request starts on a byte */
        for (int64_t q = 0; q < Q && !st; q++) {
            if (q_valid && !q_valid[b * Q + q])
                continue;
            const int64_t *iv;
            int64_t n;
            if ((st = maskinfo_mask_row(m, b, h, q, s, &iv, &n)))
                break;
            /* the kept keys are ascending: walk them with the intervals */
            int64_t j = 0;
            for (int64_t t = 0; t < ck; t++, bit++) {
                while (j < n && iv[2 * j + 1] <= kidx[t])
                    j++;
                if (j < n && iv[2 * j] <= kidx[t])
                    pk[bit >> 3] |= (uint8_t)(1u << (bit & 7));
            }
        }
    }
    maskinfo_scratch_free(s);
    free(kidx);
    if (st)
        maskinfo_packed_mask_free(out);
    return st;
}

/* ------------------------------------------------------------ MagiAttention */

enum { MAGI_FULL = 0, MAGI_CAUSAL = 1, MAGI_INVCAUSAL = 2, MAGI_BICAUSAL = 3, MAGI_ONE = -1 };

/* An open slice: rows [q0, q1), the first row's run and the last one's,
 * and the nearest other runs of its rows (pmax: the largest end left of
 * it, nmin: the smallest start right of it), which its rectangle
 * [lo0, hi) must not reach: Magi's from_ranges refuses a rectangle that
 * holds another slice's cells. */
typedef struct {
    int64_t q0, q1, lo0, lo, hi, pmax, nmin;
    int type; /* MAGI_ONE while it has one row */
} magi_slice;

/* Does run [lo, hi) of the next row continue slice s?  Sets its type. */
static int magi_continues(magi_slice *s, int64_t lo, int64_t hi)
{
    const int dl = lo == s->lo ? 0 : lo == s->lo + 1 ? 1 : -1;
    const int dh = hi == s->hi ? 0 : hi == s->hi + 1 ? 1 : -1;
    if (dl < 0 || dh < 0)
        return 0;
    const int t = dl ? (dh ? MAGI_BICAUSAL : MAGI_INVCAUSAL) : (dh ? MAGI_CAUSAL : MAGI_FULL);
    if (s->type != MAGI_ONE && s->type != t)
        return 0;
    s->type = t;
    return 1;
}

typedef struct {
    int32_t *qr, *kr, *ty;
    int64_t n;
} magi_out;

/* Close slice s: Magi's k_range is the first row's start to the last
 * row's end; from_ranges then gives back exactly the rows' runs. */
static int magi_emit(magi_out *o, const magi_slice *s)
{
    if (s->q1 > INT32_MAX || s->hi > INT32_MAX)
        return MASKINFO_EOVERFLOW;
    if (o->qr) {
        o->qr[2 * o->n] = (int32_t)s->q0, o->qr[2 * o->n + 1] = (int32_t)s->q1;
        o->kr[2 * o->n] = (int32_t)s->lo0, o->kr[2 * o->n + 1] = (int32_t)s->hi;
        o->ty[o->n] = s->type == MAGI_ONE ? MAGI_FULL : s->type;
    }
    o->n++;
    return MASKINFO_OK;
}

/* One pass over the rows of head h; counts (o->qr NULL) or fills. */
static int magi_pass(const maskinfo_mask *m, int64_t h, magi_out *o, const maskinfo_limits *lim)
{
    maskinfo_scratch *s = maskinfo__scratch_new(lim);
    int st = s ? MASKINFO_OK : MASKINFO_ENOMEM;
    magi_slice *open = NULL, *next = NULL; /* one per run of the last row */
    int64_t nopen = 0, cap = 0;
    for (int64_t b = 0; b < m->B && !st; b++) {
        for (int64_t q = 0; q <= m->Q && !st; q++) {
            const int64_t *iv = NULL;
            int64_t n = 0;
            if (q < m->Q && (st = maskinfo_mask_row(m, b, h, q, s, &iv, &n)))
                break;
            if (n > cap) {
                cap = n;
                if ((st = maskinfo_check_alloc(lim, (uint64_t)cap * 2, sizeof(magi_slice))))
                    break;
                magi_slice *a = realloc(open, (size_t)cap * sizeof *a), *c;
                if (a)
                    open = a;
                c = a ? realloc(next, (size_t)cap * sizeof *c) : NULL;
                if (c)
                    next = c;
                if (!a || !c) {
                    st = MASKINFO_ENOMEM;
                    break;
                }
            }
            const int64_t row = b * m->Q + q, koff = b * m->K;
            int64_t i = 0; /* merge-join: the open run starting at lo or lo - 1 */
            for (int64_t j = 0; j < n && !st; j++) {
                const int64_t lo = iv[2 * j] + koff, hi = iv[2 * j + 1] + koff;
                const int64_t pv = j > 0 ? iv[2 * j - 1] + koff : INT64_MIN;
                const int64_t nx = j + 1 < n ? iv[2 * j + 2] + koff : INT64_MAX;
                while (i < nopen && open[i].lo < lo - 1)
                    st = magi_emit(o, &open[i++]);
                if (!st && i < nopen && open[i].lo <= lo && mi_max64(open[i].pmax, pv) <= open[i].lo0 &&
                    mi_min64(open[i].nmin, nx) >= hi && magi_continues(&open[i], lo, hi)) {
                    next[j] = open[i++];
                    next[j].q1 = row + 1, next[j].lo = lo, next[j].hi = hi;
                    next[j].pmax = mi_max64(next[j].pmax, pv), next[j].nmin = mi_min64(next[j].nmin, nx);
                } else {
                    next[j] = (magi_slice){row, row + 1, lo, lo, hi, pv, nx, MAGI_ONE};
                }
            }
            while (!st && i < nopen)
                st = magi_emit(o, &open[i++]);
            magi_slice *t = open;
            open = next, next = t, nopen = n;
        }
    }
    free(open);
    free(next);
    maskinfo_scratch_free(s);
    return st;
}

int maskinfo_mask_attn_slices(const maskinfo_mask *m, int64_t h, maskinfo_array **q_ranges,
                              maskinfo_array **k_ranges, maskinfo_array **types, char *why, size_t whylen,
                              const maskinfo_limits *lim)
{
    if (q_ranges == NULL || k_ranges == NULL || types == NULL)
        return MASKINFO_EINVAL;
    *q_ranges = *k_ranges = *types = NULL;
    if (m == NULL || h < 0 || h >= m->H)
        return MASKINFO_EINVAL;
    magi_out o = {NULL, NULL, NULL, 0};
    int st = magi_pass(m, h, &o, lim); /* count */
    int64_t s2[2] = {o.n, 2};
    if (!st)
        st = mi_budget(lim, (uint64_t)o.n * 20, why, whylen);
    if (!st)
        st = maskinfo_array_new(q_ranges, MASKINFO_INT32, 2, s2, lim);
    if (!st)
        st = maskinfo_array_new(k_ranges, MASKINFO_INT32, 2, s2, lim);
    if (!st)
        st = maskinfo_array_new(types, MASKINFO_INT32, 1, s2, lim);
    if (!st) {
        o = (magi_out){maskinfo_array_data(*q_ranges), maskinfo_array_data(*k_ranges),
                       maskinfo_array_data(*types), 0};
        st = magi_pass(m, h, &o, lim);
    }
    if (st) {
        maskinfo_array_free(*q_ranges);
        maskinfo_array_free(*k_ranges);
        maskinfo_array_free(*types);
        *q_ranges = *k_ranges = *types = NULL;
    }
    return st;
}
