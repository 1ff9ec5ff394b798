/*
 * varlen.c - flash-attn's varlen form: the packed cu_seqlens of the
 * flattened batch, max_seqlen, seqlens and the gather indices (as
 * unpad_input gives them), and the check that the mask is exactly what
 * flash_attn_varlen_func computes from them (documents, + bottom-right
 * causal, + window_size).
 */
#include "kernels.h"
#include "node.h"

#include <stdio.h>
#include <string.h>

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
