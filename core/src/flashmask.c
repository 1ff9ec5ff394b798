/*
 * flashmask.c - FlashMask's startend_row_indices from the row intervals.
 *
 * FlashMask describes each key column by at most two masked row intervals
 * (Paddle's flashmask_to_densemask is the reference).  The columns' allowed
 * row runs come from one sweep down the rows of a plane: a column's state
 * flips only where row q's intervals differ from row q-1's, so the sweep
 * costs O(rows * runs + column runs) - O(tokens) for structured masks -
 * and never transposes the mask.
 */
#include "kernels.h"
#include "node.h"

#include <stdio.h>
#include <string.h>

/* The first three allowed row runs of a column and how many there are
 * (counting stops at 4: more than FlashMask can use). */
typedef struct {
    int32_t s[3], e[3];
    uint8_t n;
} col_runs;

static void col_on(col_runs *c, int64_t q)
{
    if (c->n < 3)
        c->s[c->n] = (int32_t)q;
}

static void col_off(col_runs *c, int64_t q)
{
    if (c->n < 3)
        c->e[c->n] = (int32_t)q;
    if (c->n < 4)
        c->n++;
}

/* For every column of a \ b, call on (or off) at row q. */
static void minus_apply(const int64_t *a, int64_t na, const int64_t *b, int64_t nb, col_runs *cols, int64_t q,
                        int on)
{
    int64_t j = 0;
    for (int64_t i = 0; i < na; i++) {
        const int64_t lo = a[2 * i], hi = a[2 * i + 1];
        while (j < nb && b[2 * j + 1] <= lo)
            j++;
        int64_t cur = lo;
        for (int64_t k = j; k < nb && b[2 * k] < hi; k++) {
            for (int64_t c = cur; c < b[2 * k]; c++)
                on ? col_on(&cols[c], q) : col_off(&cols[c], q);
            if (b[2 * k + 1] > cur)
                cur = b[2 * k + 1];
        }
        for (int64_t c = cur; c < hi; c++)
            on ? col_on(&cols[c], q) : col_off(&cols[c], q);
    }
}

/* The allowed row runs of every column of plane (b, h). */
static int sweep(const maskinfo_mask *m, int64_t b, int64_t h, col_runs *cols, maskinfo_scratch *s[2])
{
    memset(cols, 0, (size_t)m->K * sizeof *cols);
    const int64_t *prev = NULL, *cur;
    int64_t np = 0, nc;
    for (int64_t q = 0; q < m->Q; q++) {
        int st = maskinfo_mask_row(m, b, h, q, s[q & 1], &cur, &nc);
        if (st)
            return st;
        minus_apply(cur, nc, prev, np, cols, q, 1);
        minus_apply(prev, np, cur, nc, cols, q, 0);
        prev = cur, np = nc;
    }
    for (int64_t i = 0; i < np; i++)
        for (int64_t c = prev[2 * i]; c < prev[2 * i + 1]; c++)
            col_off(&cols[c], m->Q);
    return MASKINFO_OK;
}

/*
 * Column k's values in the large form (causal [LTS, LTE]; not causal
 * [LTS, LTE, UTS, UTE]) into v, and whether the small form (causal [LTS];
 * not causal [LTS, UTE]) holds it too.  Returns 0, or -1 with the reason.
 */
static int column(const col_runs *c, int64_t k, int64_t Q, int causal, int32_t *v, int *small, char *why,
                  size_t wl)
{
    const int n = c->n;
    const int32_t q = (int32_t)Q;
    if (causal) {
        if (n > 0 && c->s[0] < k)
            return mi_why(why, wl, -1, "row %d is allowed above the diagonal, which causal FlashMask always masks",
                           (int)c->s[0]);
        if (n == 0) {
            v[0] = (int32_t)k, v[1] = q, *small = 1;
        } else if (n == 1 && c->s[0] == k) {
            v[0] = c->e[0], v[1] = q, *small = 1;
        } else if (n == 1 && c->e[0] == q) {
            v[0] = (int32_t)k, v[1] = c->s[0], *small = 0;
        } else if (n == 2 && c->s[0] == k && c->e[1] == q) {
            v[0] = c->e[0], v[1] = c->s[1], *small = 0;
        } else if (n <= 2) {
            return mi_why(why, wl, -1,
                           "its allowed rows leave %s masked below the diagonal; causal FlashMask masks one "
                           "interval there",
                           n == 1 ? "two intervals" : "more than one interval");
        } else {
            return mi_why(why, wl, -1, "it has %s%d allowed row intervals; causal FlashMask allows at most 2",
                           n > 3 ? "more than " : "", n > 3 ? 3 : n);
        }
        return 0;
    }
    /* masked intervals: the complement of the allowed runs in [0, Q) */
    int32_t ms[4], me[4];
    int nm = 0;
    if (n > 3)
        return mi_why(why, wl, -1, "it has more than 3 allowed row intervals; FlashMask masks at most 2 intervals");
    int32_t at = 0;
    for (int i = 0; i < n; i++) {
        if (c->s[i] > at)
            ms[nm] = at, me[nm++] = c->s[i];
        at = c->e[i];
    }
    if (at < q)
        ms[nm] = at, me[nm++] = q;
    if (nm > 2)
        return mi_why(why, wl, -1, "its rows have %d masked intervals; FlashMask masks at most 2", nm);
    /* [LTS, LTE, UTS, UTE]: the lower interval is LT, the upper UT */
    v[0] = q, v[1] = q, v[2] = 0, v[3] = 0;
    if (nm == 2)
        v[2] = ms[0], v[3] = me[0], v[0] = ms[1], v[1] = me[1];
    else if (nm == 1 && ms[0] == 0 && me[0] < q)
        v[2] = 0, v[3] = me[0];
    else if (nm == 1)
        v[0] = ms[0], v[1] = me[0];
    *small = n <= 1;
    return 0;
}

int maskinfo_mask_flashmask(const maskinfo_mask *m, int causal, maskinfo_array **out, char *why, size_t whylen,
                            const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (m == NULL)
        return MASKINFO_EINVAL;
    const int64_t B = m->B, H = m->H, Q = m->Q, K = m->K;
    if (causal && Q != K)
        return mi_why(why, whylen, MASKINFO_ESHAPE,
                       "causal FlashMask needs as many queries as keys, got %lld and %lld", (long long)Q,
                       (long long)K);
    if (Q > INT32_MAX)
        return mi_why(why, whylen, MASKINFO_EOVERFLOW, "row indices past int32");
    const int big = causal ? 2 : 4;
    const int64_t cells = B * H * K; /* fits: the mask exists */
    /* the large table, the small one and a plane's column runs, up front */
    int st = mi_budget(lim, (uint64_t)cells * (uint64_t)(big + big / 2) * 4 + (uint64_t)K * sizeof(col_runs), why,
                       whylen);
    if (st)
        return st;
    int64_t shape[4] = {B, H, K, big};
    maskinfo_array *a = NULL;
    col_runs *cols = NULL;
    maskinfo_scratch *s[2] = {maskinfo__scratch_new(lim), maskinfo__scratch_new(lim)};
    st = s[0] && s[1] ? maskinfo_array_new(&a, MASKINFO_INT32, 4, shape, lim) : MASKINFO_ENOMEM;
    cols = st ? NULL : mi_alloc(lim, K, sizeof *cols, 0, &st);
    int32_t *v = st ? NULL : maskinfo_array_data(a);
    int small = 1;
    char reason[160];
    for (int64_t bh = 0; bh < B * H && !st; bh++) {
        if ((st = sweep(m, bh / H, bh % H, cols, s)))
            break;
        for (int64_t k = 0; k < K; k++) {
            int sm = 0;
            if (column(&cols[k], k, Q, causal, v + (bh * K + k) * big, &sm, reason, sizeof reason)) {
                st = mi_why(why, whylen, MASKINFO_EINVAL,
                             "FlashMask cannot express column %lld (batch %lld, head %lld): %s", (long long)k,
                             (long long)(bh / H), (long long)(bh % H), reason);
                break;
            }
            small &= sm;
        }
    }
    free(cols);
    maskinfo_scratch_free(s[0]);
    maskinfo_scratch_free(s[1]);
    if (!st && small) { /* the smallest exact form: [LTS] or [LTS, UTE] */
        maskinfo_array *t;
        shape[3] = big / 2;
        if ((st = maskinfo_array_new(&t, MASKINFO_INT32, 4, shape, lim)) == MASKINFO_OK) {
            int32_t *d = maskinfo_array_data(t);
            for (int64_t i = 0; i < cells; i++) {
                d[i * (big / 2)] = v[i * big];
                if (!causal)
                    d[i * 2 + 1] = v[i * big + 3];
            }
            maskinfo_array_free(a);
            a = t;
        }
    }
    if (st) {
        maskinfo_array_free(a);
        return st;
    }
    *out = a;
    return MASKINFO_OK;
}
