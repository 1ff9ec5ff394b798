/*
 * kernels.c - the layouts attention kernels take, from the row intervals:
 * every row's runs (for a Python mask_mod beside FlexAttention's tables),
 * FlashInfer's packed custom mask, MagiAttention's slices and the varlen
 * cu_seqlens of flash-attn.  Outputs whose size depends on the mask are
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

/* ------------------------------------------------------------ varlen */

void maskinfo_varlen_info_free(maskinfo_varlen_info *v)
{
    if (v == NULL)
        return;
    maskinfo_array *a[] = {v->cu_q, v->cu_k, v->seqlens_q, v->seqlens_k, v->indices_q, v->indices_k};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        maskinfo_array_free(a[i]);
    memset(v, 0, sizeof *v);
}

/* Documents of one side: counts docs and kept tokens, or fills (cu, len,
 * idx, doc ids non-NULL).  A document is a run of equal ids among the kept
 * tokens of a row (repeat_check refuses an id that comes back). */
static int docs(const int32_t *ids, int64_t B, int64_t L, int64_t *ndoc, int64_t *ntok,
                int32_t *cu, int32_t *len, int64_t *idx, int32_t *doc_id, int64_t *doc_row, int64_t *maxlen,
                char *why, size_t wl)
{
    int64_t d = 0, t = 0, mx = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t start = -1; /* the open document's first token */
        int32_t cur = 0;
        for (int64_t i = 0; i < L; i++) {
            const int32_t v = ids[b * L + i];
            if (v < 0)
                continue;
            if (start < 0 || v != cur) {
                if (cu)
                    cu[d] = (int32_t)t, doc_id[d] = v, doc_row[d] = b;
                d++;
                start = i, cur = v;
            }
            if (idx)
                idx[t] = b * L + i;
            t++;
            if (t > INT32_MAX)
                return mi_why(why, wl, MASKINFO_EOVERFLOW, "more than 2^31 tokens");
        }
    }
    if (cu) {
        cu[d] = (int32_t)t;
        for (int64_t i = 0; i < d; i++) {
            len[i] = cu[i + 1] - cu[i];
            if (len[i] > mx)
                mx = len[i];
        }
        *maxlen = mx;
    }
    *ndoc = d, *ntok = t;
    return MASKINFO_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* An id with two documents in one row would attend across them under the
 * segment rule but not under varlen: refuse it, naming where it is. */
static int repeat_check(const int32_t *ids, int64_t L, const char *side, const int32_t *doc_id,
                        const int64_t *doc_row, int64_t n, int64_t *keys, char *why, size_t wl)
{
    for (int64_t i = 0; i < n; i++)
        keys[i] = doc_row[i] * ((int64_t)1 << 32) + doc_id[i];
    qsort(keys, (size_t)n, sizeof *keys, cmp_i64);
    for (int64_t i = 1; i < n; i++) {
        if (keys[i] != keys[i - 1])
            continue;
        const int64_t b = keys[i] >> 32;
        const int32_t v = (int32_t)(keys[i] - b * ((int64_t)1 << 32));
        int64_t t = 0, seen = 0; /* the token where v's second run starts */
        for (int64_t j = 0; j < L; j++) {
            const int32_t x = ids[b * L + j];
            if (x < 0)
                continue;
            if (x == v && seen == 2) {
                t = j;
                break;
            }
            if (x == v)
                seen = 1;
            else if (seen == 1)
                seen = 2;
        }
        return mi_why(why, wl, MASKINFO_EINVAL,
                       "%s segment id %d comes back at token %lld of batch row %lld after other ids; varlen "
                       "documents must be contiguous",
                       side, (int)v, (long long)t, (long long)b);
    }
    return MASKINFO_OK;
}

int maskinfo_varlen(const int32_t *q_ids, const int32_t *kv_ids, int64_t B, int64_t Q, int64_t K,
                    maskinfo_varlen_info *out, char *why, size_t whylen, const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    memset(out, 0, sizeof *out);
    if (q_ids == NULL || kv_ids == NULL || B < 0 || Q < 0 || K < 0)
        return MASKINFO_EINVAL;
    int64_t dq = 0, tq = 0, dk = 0, tk = 0;
    int st = docs(q_ids, B, Q, &dq, &tq, NULL, NULL, NULL, NULL, NULL, NULL, why, whylen);
    if (!st)
        st = docs(kv_ids, B, K, &dk, &tk, NULL, NULL, NULL, NULL, NULL, NULL, why, whylen);
    if (st)
        return st;
    if (dq != dk)
        return mi_why(why, whylen, MASKINFO_EINVAL,
                       "%lld query documents but %lld key documents; varlen pairs them one to one",
                       (long long)dq, (long long)dk);
    /* outputs plus the document ids and rows used to pair them */
    st = mi_budget(lim, (uint64_t)(dq + 1) * 16 + (uint64_t)(tq + tk) * 8 + (uint64_t)dq * 32, why, whylen);
    int64_t n1 = dq + 1;
    maskinfo_array **arr[] = {&out->cu_q, &out->cu_k, &out->seqlens_q, &out->seqlens_k, &out->indices_q,
                              &out->indices_k};
    const int64_t sizes[] = {n1, n1, dq, dq, tq, tk};
    for (int i = 0; i < 6 && !st; i++)
        st = maskinfo_array_new(arr[i], i < 4 ? MASKINFO_INT32 : MASKINFO_INT64, 1, &sizes[i], lim);
    int32_t *idq = st ? NULL : mi_alloc(lim, 2 * dq, sizeof *idq, 0, &st);
    int64_t *rows = st ? NULL : mi_alloc(lim, 2 * dq, sizeof *rows, 0, &st);
    int64_t *keys = st ? NULL : mi_alloc(lim, dq, sizeof *keys, 0, &st);
    if (!st)
        st = docs(q_ids, B, Q, &dq, &tq, maskinfo_array_data(out->cu_q),
                  maskinfo_array_data(out->seqlens_q), maskinfo_array_data(out->indices_q), idq, rows,
                  &out->max_q, why, whylen);
    if (!st)
        st = docs(kv_ids, B, K, &dk, &tk, maskinfo_array_data(out->cu_k),
                  maskinfo_array_data(out->seqlens_k), maskinfo_array_data(out->indices_k), idq + dq, rows + dq,
                  &out->max_k, why, whylen);
    if (!st)
        st = repeat_check(q_ids, Q, "query", idq, rows, dq, keys, why, whylen);
    if (!st)
        st = repeat_check(kv_ids, K, "key", idq + dq, rows + dq, dq, keys, why, whylen);
    for (int64_t i = 0; i < dq && !st; i++)
        if (idq[i] != idq[dq + i] || rows[i] != rows[dq + i])
            st = mi_why(why, whylen, MASKINFO_EINVAL,
                         "query document %lld (id %d, batch row %lld) meets key document %lld (id %d, batch row "
                         "%lld); varlen pairs the i-th query and key documents",
                         (long long)i, (int)idq[i], (long long)rows[i], (long long)i, (int)idq[dq + i],
                         (long long)rows[dq + i]);
    free(idq);
    free(rows);
    free(keys);
    if (st)
        maskinfo_varlen_info_free(out);
    return st;
}

/* ------------------------------------------------------------ varlen check */

/* The first of the n sorted flat indices idx that is >= x (n when none). */
static int64_t lower_bound(const int64_t *idx, int64_t n, int64_t x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (idx[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Local key window [*lo, *hi) of query i of a document of lq queries and
 * lk keys under window (left, right), bottom-right aligned. */
static void doc_window(int64_t i, int64_t lq, int64_t lk, int64_t left, int64_t right, int64_t *lo, int64_t *hi)
{
    const int64_t diag = i + lk - lq;
    *lo = left < 0 || diag - left < 0 ? 0 : diag - left;
    *hi = right < 0 || diag + right + 1 > lk ? lk : diag + right + 1;
}

/* flash-attn's mask (B, 1, Q, K): one interval per kept query row, from
 * the window's first to last key, and-ed with the segment rule, which
 * masks the padding inside that span.  Kept rows come in flat order. */
static int varlen_mask(const int32_t *q_ids, const int32_t *kv_ids, int64_t B, int64_t Q, int64_t K,
                       const maskinfo_varlen_info *v, int64_t left, int64_t right, maskinfo_mask **out,
                       const maskinfo_limits *lim)
{
    const int64_t n = maskinfo_array_size(v->seqlens_q);
    const int32_t *cq = maskinfo_array_cdata(v->cu_q), *ck = maskinfo_array_cdata(v->cu_k);
    const int64_t *iq = maskinfo_array_cdata(v->indices_q), *ik = maskinfo_array_cdata(v->indices_k);
    int st = MASKINFO_OK;
    int64_t *ptr = mi_alloc(lim, B * Q + 1, sizeof *ptr, 1, &st);
    int64_t *iv = mi_alloc(lim, 2 * (int64_t)cq[n], sizeof *iv, 0, &st);
    maskinfo_mask *runs = NULL, *seg = NULL;
    if (!st) {
        int64_t at = 0;
        for (int64_t d = 0; d < n; d++) {
            const int64_t lq = cq[d + 1] - cq[d], lk = ck[d + 1] - ck[d];
            for (int64_t i = 0, lo, hi; i < lq; i++) {
                const int64_t row = iq[cq[d] + i], b = row / Q;
                doc_window(i, lq, lk, left, right, &lo, &hi);
                if (lo >= hi)
                    continue;
                iv[2 * at] = ik[ck[d] + lo] - b * K;
                iv[2 * at + 1] = ik[ck[d] + hi - 1] - b * K + 1;
                ptr[row + 1] = 1;
                at++;
            }
        }
        for (int64_t r = 0; r < B * Q; r++)
            ptr[r + 1] += ptr[r];
        st = maskinfo_mask_from_intervals(&runs, B, 1, Q, K, ptr, iv, lim);
    }
    free(ptr);
    free(iv);
    if (!st)
        st = maskinfo_mask_segments_i32(&seg, B, 1, 1, Q, K, q_ids, MASKINFO_IDS_SEGMENT, kv_ids,
                                        MASKINFO_IDS_SEGMENT);
    if (!st)
        st = maskinfo_mask_and(out, runs, seg);
    maskinfo_mask_unref(runs);
    maskinfo_mask_unref(seg);
    return st;
}

/* The window (left, right) a varlen mask equal to m would have, from head
 * 0: over the kept query rows, the largest reach before and after the
 * diagonal (-1 when no row shows an edge of the window: it reaches past
 * every document).  Only a guess: the caller compares the whole mask. */
static int varlen_guess(const maskinfo_mask *m, int64_t Q, int64_t K, const maskinfo_varlen_info *v,
                        int64_t *left, int64_t *right, const maskinfo_limits *lim)
{
    const int64_t n = maskinfo_array_size(v->seqlens_q);
    const int32_t *cq = maskinfo_array_cdata(v->cu_q), *ck = maskinfo_array_cdata(v->cu_k);
    const int64_t *iq = maskinfo_array_cdata(v->indices_q), *ik = maskinfo_array_cdata(v->indices_k);
    maskinfo_scratch *s = maskinfo__scratch_new(lim);
    if (s == NULL)
        return MASKINFO_ENOMEM;
    int st = MASKINFO_OK, cut_l = 0, cut_r = 0;
    *left = *right = -1;
    for (int64_t d = 0; d < n && !st; d++) {
        const int64_t lq = cq[d + 1] - cq[d], lk = ck[d + 1] - ck[d], *keys = ik + ck[d];
        for (int64_t i = 0; i < lq && !st; i++) {
            const int64_t flat = iq[cq[d] + i], b = flat / Q, diag = i + lk - lq;
            const int64_t *iv;
            int64_t cnt;
            st = maskinfo_mask_row(m, b, 0, flat % Q, s, &iv, &cnt);
            if (st || cnt == 0) {
                cut_r |= diag < 0; /* empty before its first key: right < -diag */
                continue;
            }
            const int64_t lo = lower_bound(keys, lk, b * K + iv[0]);
            const int64_t hi = lower_bound(keys, lk, b * K + iv[2 * cnt - 1]);
            cut_l |= lo > 0;
            cut_r |= hi < lk;
            /* every nonempty row bounds the window from below; uncut ones
             * give it exactly */
            if (diag - lo > *left)
                *left = diag - lo;
            if (hi - 1 - diag > *right)
                *right = hi - 1 - diag;
        }
    }
    maskinfo_scratch_free(s);
    if (!cut_l)
        *left = -1;
    if (!cut_r)
        *right = -1;
    return st;
}

int maskinfo_mask_varlen_match(const maskinfo_mask *m, const int32_t *q_ids, const int32_t *kv_ids,
                               const maskinfo_varlen_info *v, int64_t *left, int64_t *right, char *why,
                               size_t whylen, const maskinfo_limits *lim)
{
    if (m == NULL || q_ids == NULL || kv_ids == NULL || v == NULL || v->cu_q == NULL || left == NULL ||
        right == NULL)
        return MASKINFO_EINVAL;
    const int64_t B = m->B, Q = m->Q, K = m->K;
    int st = varlen_guess(m, Q, K, v, left, right, lim);
    maskinfo_mask *ref = NULL;
    if (!st)
        st = varlen_mask(q_ids, kv_ids, B, Q, K, v, *left, *right, &ref, lim);
    uint64_t nd = 0;
    int64_t f[4];
    if (!st)
        st = maskinfo_mask_diff(m, ref, &nd, f, lim);
    int allowed = 0;
    if (!st && nd)
        st = maskinfo_mask_get(m, f[0], f[1], f[2], f[3], &allowed);
    maskinfo_mask_unref(ref);
    if (st || nd == 0)
        return st;
    return mi_why(why, whylen, MASKINFO_EINVAL,
                  "the mask is not block-diagonal documents (+ causal, + window) as flash_attn_varlen_func "
                  "computes them: batch %lld head %lld query %lld key %lld is %s by the mask but not by the "
                  "documents with window_size (%lld, %lld) (%llu cells differ); use flex_block_mask or "
                  "flashmask",
                  (long long)f[0], (long long)f[1], (long long)f[2], (long long)f[3], allowed ? "allowed" : "masked",
                  (long long)*left, (long long)*right, (unsigned long long)nd);
}
