/*
 * block_runs.c - block forms as runs of block columns, computed from the
 * row intervals without the block grid: the compressed FlexAttention
 * tables (partial and full block runs per block row) and FlashInfer's BSR
 * layout.  A block row costs O(bq * runs * log) whatever the number of
 * block columns, so small blocks at a million tokens stay cheap, and
 * O(pieces) where its rows have closed forms (block_closed.h).
 *
 * Per block row: the union over its rows of the block columns each row
 * touches is the set of non-empty blocks; the intersection over its rows
 * of the block columns each row covers whole is the set of full blocks;
 * partial is the first minus the second.
 */
#include "block_closed.h"
#include "kernels.h"

#include <string.h>

void maskinfo_runs_free(maskinfo_runs *r)
{
    if (r == NULL)
        return;
    maskinfo_array_free(r->ptr);
    maskinfo_array_free(r->lo);
    maskinfo_array_free(r->hi);
    r->ptr = r->lo = r->hi = NULL;
}

/* A growable list of runs (pairs) under the guard. */
typedef struct {
    int64_t *v;
    int64_t n, cap; /* n in runs, cap in int64 */
} run_list;

static int rl_push(run_list *l, int64_t lo, int64_t hi, const maskinfo_limits *lim)
{
    int st = mi_grow((void **)&l->v, &l->cap, 2 * (l->n + 1), sizeof *l->v, lim);
    if (st)
        return st;
    l->v[2 * l->n] = lo;
    l->v[2 * l->n + 1] = hi;
    l->n++;
    return MASKINFO_OK;
}

static int cmp_lo(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* What a thread works with (lin: NULL without closed forms). */
typedef struct {
    maskinfo_scratch *s;
    mi_lin_ctx *lin;
    run_list touch, full, tmp, isect;
} block_ws;

static void ws_free(block_ws *w)
{
    maskinfo_scratch_free(w->s);
    maskinfo__lin_free(w->lin);
    free(w->touch.v);
    free(w->full.v);
    free(w->tmp.v);
    free(w->isect.v);
}

static int merge_touched(block_ws *w);

/*
 * Block row [q0, q1) of plane (b, h), block columns of bk keys (C of
 * them): w->touch gets the merged non-empty block columns, w->full the
 * full ones (none when no_full: a padded tail row of blocks).
 */
static int block_row(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q0, int64_t q1, int64_t bk,
                     maskinfo_tail_rule tail, int no_full, block_ws *w, const maskinfo_limits *lim)
{
    const int64_t K = m->K, C = mi_ceil_div(K, bk);
    /* the last column is full only when its cut block is whole (exact) */
    const int64_t full_end_at_K = tail == MASKINFO_TAIL_PADDED ? K / bk : C;
    w->touch.n = w->full.n = 0;
    int st, first = 1;
    if (w->lin) {
        const mi_block_geom g = {q1 - q0, bk, m->Q, K, C, full_end_at_K, MASKINFO_TAIL_EXACT};
        mi_block_ranges r;
        int ok;
        if ((st = maskinfo__block_closed_row(w->lin, &g, b, h, q0, q1, &r, &ok)))
            return st;
        for (int64_t i = 0; ok && i < r.n; i++)
            if ((st = rl_push(&w->touch, r.t[2 * i], r.t[2 * i + 1], lim)))
                return st;
        if (ok && !no_full && r.f0 < r.f1 && (st = rl_push(&w->full, r.f0, r.f1, lim)))
            return st;
        if (ok)
            return merge_touched(w);
        w->touch.n = w->full.n = 0;
    }
    for (int64_t q = q0; q < q1; q++) {
        const int64_t *iv;
        int64_t n;
        if ((st = maskinfo_mask_row(m, b, h, q, w->s, &iv, &n)))
            return st;
        w->tmp.n = 0;
        for (int64_t j = 0; j < n; j++) {
            const int64_t lo = iv[2 * j], hi = iv[2 * j + 1];
            if ((st = rl_push(&w->touch, lo / bk, mi_ceil_div(hi, bk), lim)))
                return st;
            const int64_t flo = mi_ceil_div(lo, bk), fhi = hi == K ? full_end_at_K : hi / bk;
            if (!no_full && flo < fhi && (st = rl_push(&w->tmp, flo, fhi, lim)))
                return st;
        }
        if (no_full)
            continue;
        if (first) { /* the first row's whole blocks */
            first = 0;
            w->full.n = 0;
            for (int64_t j = 0; j < w->tmp.n; j++)
                if ((st = rl_push(&w->full, w->tmp.v[2 * j], w->tmp.v[2 * j + 1], lim)))
                    return st;
            continue;
        }
        /* intersect (both sorted) into isect, which becomes full */
        int64_t i = 0, j = 0;
        w->isect.n = 0;
        while (i < w->full.n && j < w->tmp.n) {
            const int64_t lo = mi_max64(w->full.v[2 * i], w->tmp.v[2 * j]);
            const int64_t hi = mi_min64(w->full.v[2 * i + 1], w->tmp.v[2 * j + 1]);
            if (lo < hi && (st = rl_push(&w->isect, lo, hi, lim)))
                return st;
            if (w->full.v[2 * i + 1] < w->tmp.v[2 * j + 1])
                i++;
            else
                j++;
        }
        const run_list t = w->full;
        w->full = w->isect;
        w->isect = t;
    }
    return merge_touched(w);
}

/* Sorts and merges the touched runs (rows overlap each other). */
static int merge_touched(block_ws *w)
{
    if (w->touch.n > 1) /* the list may be empty and unallocated */
        qsort(w->touch.v, (size_t)w->touch.n, 2 * sizeof(int64_t), cmp_lo);
    int64_t k = 0;
    for (int64_t i = 0; i < w->touch.n; i++) {
        const int64_t lo = w->touch.v[2 * i], hi = w->touch.v[2 * i + 1];
        if (k > 0 && lo <= w->touch.v[2 * k - 1]) {
            if (hi > w->touch.v[2 * k - 1])
                w->touch.v[2 * k - 1] = hi;
        } else {
            w->touch.v[2 * k] = lo;
            w->touch.v[2 * k + 1] = hi;
            k++;
        }
    }
    w->touch.n = k;
    return MASKINFO_OK;
}

/* Partial = touch minus full (full lies inside touch); emit through fn. */
typedef void (*emit_fn)(void *ctx, int64_t lo, int64_t hi);

static int64_t partial_runs(const block_ws *w, emit_fn fn, void *ctx)
{
    int64_t n = 0, j = 0;
    for (int64_t i = 0; i < w->touch.n; i++) {
        int64_t lo = w->touch.v[2 * i];
        const int64_t hi = w->touch.v[2 * i + 1];
        while (j < w->full.n && w->full.v[2 * j] < hi) {
            if (w->full.v[2 * j] > lo) {
                if (fn)
                    fn(ctx, lo, w->full.v[2 * j]);
                n++;
            }
            lo = w->full.v[2 * j + 1];
            j++;
        }
        if (lo < hi) {
            if (fn)
                fn(ctx, lo, hi);
            n++;
        }
    }
    return n;
}

typedef struct {
    int32_t *lo, *hi;
    int64_t at;
} run_out;

static void put_run(void *ctx, int64_t lo, int64_t hi)
{
    run_out *o = ctx;
    o->lo[o->at] = (int32_t)lo;
    o->hi[o->at] = (int32_t)hi;
    o->at++;
}

static int alloc_runs(maskinfo_runs *r, int64_t rows, const maskinfo_limits *lim)
{
    int64_t s = rows + 1;
    return maskinfo_array_new(&r->ptr, MASKINFO_INT64, 1, &s, lim);
}

static int alloc_lohi(maskinfo_runs *r, const maskinfo_limits *lim)
{
    const int64_t *ptr = maskinfo_array_cdata(r->ptr);
    int64_t n = ptr[maskinfo_array_size(r->ptr) - 1];
    int st = maskinfo_array_new(&r->lo, MASKINFO_INT32, 1, &n, lim);
    if (st == MASKINFO_OK)
        st = maskinfo_array_new(&r->hi, MASKINFO_INT32, 1, &n, lim);
    return st;
}

/* counts in ptr[1..rows] -> offsets */
static void prefix(maskinfo_runs *r)
{
    int64_t *p = maskinfo_array_data(r->ptr);
    const int64_t n = maskinfo_array_size(r->ptr);
    p[0] = 0;
    for (int64_t i = 1; i < n; i++)
        p[i] += p[i - 1];
}

int maskinfo_mask_block_runs(const maskinfo_mask *m, int64_t bq, int64_t bk, maskinfo_tail_rule tail,
                             maskinfo_runs *partial, maskinfo_runs *full, char *why, size_t whylen,
                             const maskinfo_limits *lim)
{
    if (partial)
        memset(partial, 0, sizeof *partial);
    if (full)
        memset(full, 0, sizeof *full);
    if (m == NULL || bq < 1 || bk < 1 || (tail != MASKINFO_TAIL_EXACT && tail != MASKINFO_TAIL_PADDED))
        return MASKINFO_EINVAL;
    const int64_t R = mi_ceil_div(m->Q, bq), C = mi_ceil_div(m->K, bk);
    if (C > INT32_MAX)
        return MASKINFO_EOVERFLOW;
    const int64_t rows = maskinfo__mul(maskinfo__mul(m->B, m->H), R);
    if (rows < 0 || rows == INT64_MAX)
        return MASKINFO_EOVERFLOW;
    maskinfo_runs *outs[2] = {partial, full};
    /* the two ptr arrays first; the runs once counted */
    int st = mi_budget(lim, (uint64_t)(rows + 1) * 16, why, whylen);
    for (int k = 0; k < 2 && !st; k++)
        if (outs[k])
            st = alloc_runs(outs[k], rows, lim);
    /* a closed block row costs a few walks of the mask, any other its rows */
    mi_lin_ctx *probe = st ? NULL : maskinfo__lin_new(m, lim);
    const int64_t rc = maskinfo__row_cost(m);
    const int64_t work = probe ? maskinfo__mul(rows, 16 * rc) : maskinfo__mul(m->B * m->H * m->Q, rc);
    maskinfo__lin_free(probe);
    for (int pass = 0; pass < 2 && !st; pass++) {
        int err = MASKINFO_OK;
#pragma omp parallel if (rows > 1 && (work < 0 || work >= MI_PAR_WORK))
        {
            block_ws w;
            memset(&w, 0, sizeof w);
            w.s = maskinfo__scratch_new(lim);
            w.lin = maskinfo__lin_new(m, lim);
            int lerr = w.s ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 16)
            for (int64_t r = 0; r < rows; r++) {
                if (lerr)
                    continue;
                const int64_t i = r % R, bh = r / R;
                const int64_t q0 = i * bq, q1 = mi_min64(m->Q, q0 + bq);
                const int no_full = tail == MASKINFO_TAIL_PADDED && q1 - q0 < bq;
                lerr = block_row(m, bh / m->H, bh % m->H, q0, q1, bk, tail, no_full, &w, lim);
                if (lerr)
                    continue;
                if (pass == 0) {
                    if (partial)
                        ((int64_t *)maskinfo_array_data(partial->ptr))[r + 1] = partial_runs(&w, NULL, NULL);
                    if (full)
                        ((int64_t *)maskinfo_array_data(full->ptr))[r + 1] = w.full.n;
                    continue;
                }
                if (partial) {
                    run_out o = {maskinfo_array_data(partial->lo), maskinfo_array_data(partial->hi),
                                 ((const int64_t *)maskinfo_array_cdata(partial->ptr))[r]};
                    partial_runs(&w, put_run, &o);
                }
                if (full) {
                    run_out o = {maskinfo_array_data(full->lo), maskinfo_array_data(full->hi),
                                 ((const int64_t *)maskinfo_array_cdata(full->ptr))[r]};
                    for (int64_t j = 0; j < w.full.n; j++)
                        put_run(&o, w.full.v[2 * j], w.full.v[2 * j + 1]);
                }
            }
            if (lerr) {
#pragma omp critical
                err = lerr;
            }
            ws_free(&w);
        }
        st = err;
        if (pass == 0 && !st) {
            uint64_t total = 0;
            for (int k = 0; k < 2; k++)
                if (outs[k]) {
                    prefix(outs[k]);
                    total += (uint64_t)((const int64_t *)maskinfo_array_cdata(outs[k]->ptr))[rows] * 8;
                }
            st = mi_budget(lim, total + (uint64_t)(rows + 1) * 16, why, whylen);
            for (int k = 0; k < 2 && !st; k++)
                if (outs[k])
                    st = alloc_lohi(outs[k], lim);
        }
    }
    if (st) {
        maskinfo_runs_free(partial);
        maskinfo_runs_free(full);
    }
    return st;
}

/* ------------------------------------------------------------ BSR */

int maskinfo_mask_bsr(const maskinfo_mask *m, int64_t b, int64_t h, int64_t br, int64_t bc,
                      maskinfo_array **indptr, maskinfo_array **indices, char *why, size_t whylen,
                      const maskinfo_limits *lim)
{
    if (indptr == NULL || indices == NULL)
        return MASKINFO_EINVAL;
    *indptr = *indices = NULL;
    if (m == NULL || b < 0 || b >= m->B || h < 0 || h >= m->H || br < 1 || bc < 1 || m->Q % br ||
        m->K % bc)
        return MASKINFO_EINVAL;
    const int64_t R = m->Q / br;
    if (m->K / bc > INT32_MAX)
        return MASKINFO_EOVERFLOW;
    int64_t n = R + 1;
    int st = maskinfo_array_new(indptr, MASKINFO_INT32, 1, &n, lim);
    block_ws w;
    memset(&w, 0, sizeof w);
    w.s = maskinfo__scratch_new(lim);
    w.lin = maskinfo__lin_new(m, lim);
    if (!st && !w.s)
        st = MASKINFO_ENOMEM;
    int32_t *ip = st ? NULL : maskinfo_array_data(*indptr);
    /* pass 0 counts (the guard sees the total), pass 1 fills */
    for (int pass = 0; pass < 2 && !st; pass++) {
        int64_t at = 0;
        int32_t *ix = pass ? maskinfo_array_data(*indices) : NULL;
        for (int64_t i = 0; i < R && !st; i++) {
            st = block_row(m, b, h, i * br, (i + 1) * br, bc, MASKINFO_TAIL_EXACT, 1, &w, lim);
            ip[i] = (int32_t)at; /* pass 0 counts past 2^31 - 1 only to refuse */
            for (int64_t j = 0; j < w.touch.n; j++) {
                const int64_t lo = w.touch.v[2 * j], hi = w.touch.v[2 * j + 1];
                if (ix)
                    for (int64_t c = lo; c < hi; c++)
                        ix[at + c - lo] = (int32_t)c;
                at += hi - lo;
            }
        }
        /* the size first (the guard's refusal says it), then the int32 limit */
        if (!st && pass == 0)
            st = mi_budget(lim, (uint64_t)(at + R + 1) * 4, why, whylen);
        if (!st && at > INT32_MAX)
            st = mi_why(why, whylen, MASKINFO_EOVERFLOW,
                        "%lld blocks, past the int32 indptr FlashInfer takes (2^31 - 1)", (long long)at);
        if (!st)
            ip[R] = (int32_t)at;
        if (!st && pass == 0)
            st = maskinfo_array_new(indices, MASKINFO_INT32, 1, &at, lim);
    }
    ws_free(&w);
    if (st) {
        maskinfo_array_free(*indptr);
        maskinfo_array_free(*indices);
        *indptr = *indices = NULL;
    }
    return st;
}

/* One pass of maskinfo_mask_bsr_mask over the rows of plane (b, h): with
 * cells NULL, counts each listed block's allowed cells (count holds one
 * block row's) and sets *partial at the first block that is not whole;
 * else sets the cells in each block's br x bc bytes.  The listed blocks of
 * a block row ascend, as do a row's intervals, so one pointer walks both. */
static int bsr_cells(const maskinfo_mask *m, int64_t b, int64_t h, int64_t br, int64_t bc, const int32_t *ip,
                     const int32_t *ix, int64_t *count, int *partial, uint8_t *cells, maskinfo_scratch *s)
{
    for (int64_t q = 0; q < m->Q && !*partial; q++) {
        const int64_t i = q / br, r = q % br;
        const int64_t *iv;
        int64_t n;
        int st = maskinfo_mask_row(m, b, h, q, s, &iv, &n);
        if (st)
            return st;
        int64_t p = ip[i];
        for (int64_t j = 0; j < n; j++) {
            const int64_t lo = iv[2 * j], hi = iv[2 * j + 1];
            while (p < ip[i + 1] && ((int64_t)ix[p] + 1) * bc <= lo)
                p++;
            for (; p < ip[i + 1] && (int64_t)ix[p] * bc < hi; p++) {
                const int64_t c0 = (int64_t)ix[p] * bc, a = lo > c0 ? lo : c0;
                const int64_t z = hi < c0 + bc ? hi : c0 + bc;
                if (cells)
                    memset(cells + (p * br + r) * bc + (a - c0), 1, (size_t)(z - a));
                else
                    count[p - ip[i]] += z - a;
                if (c0 + bc > hi)
                    break; /* the next interval may continue this block */
            }
        }
        if (cells == NULL && r == br - 1)
            for (int64_t p2 = ip[i]; p2 < ip[i + 1]; p2++) {
                *partial |= count[p2 - ip[i]] < br * bc;
                count[p2 - ip[i]] = 0;
            }
    }
    return MASKINFO_OK;
}

int maskinfo_mask_bsr_mask(const maskinfo_mask *m, int64_t b, int64_t h, int64_t br, int64_t bc,
                           const maskinfo_array *indptr, const maskinfo_array *indices, maskinfo_array **mask,
                           char *why, size_t whylen, const maskinfo_limits *lim)
{
    if (mask == NULL)
        return MASKINFO_EINVAL;
    *mask = NULL;
    if (m == NULL || indptr == NULL || indices == NULL || b < 0 || b >= m->B || h < 0 || h >= m->H || br < 1 ||
        bc < 1 || m->Q % br || m->K % bc || maskinfo_array_size(indptr) != m->Q / br + 1)
        return MASKINFO_EINVAL;
    const int32_t *ip = maskinfo_array_cdata(indptr), *ix = maskinfo_array_cdata(indices);
    const int64_t nnz = maskinfo_array_size(indices), R = m->Q / br;
    if (ip[R] != nnz)
        return MASKINFO_EINVAL;
    int64_t widest = 0;
    for (int64_t i = 0; i < R; i++)
        widest = ip[i + 1] - ip[i] > widest ? ip[i + 1] - ip[i] : widest;
    int st = MASKINFO_OK, partial = 0;
    int64_t *count = mi_alloc(lim, widest, sizeof *count, 1, &st);
    maskinfo_scratch *s = st ? NULL : maskinfo__scratch_new(lim);
    if (!st && s == NULL)
        st = MASKINFO_ENOMEM;
    if (!st)
        st = bsr_cells(m, b, h, br, bc, ip, ix, count, &partial, NULL, s);
    free(count);
    if (!st && partial) {
        const int64_t bytes = maskinfo__mul(nnz, maskinfo__mul(br, bc));
        st = bytes < 0 ? mi_why(why, whylen, MASKINFO_EOVERFLOW, "the block masks overflow the size type")
                       : mi_budget(lim, (uint64_t)bytes, why, whylen);
        const int64_t shape[3] = {nnz, br, bc};
        int none = 0;
        if (!st)
            st = maskinfo_array_new(mask, MASKINFO_BOOL, 3, shape, lim);
        if (!st)
            st = bsr_cells(m, b, h, br, bc, ip, ix, NULL, &none, maskinfo_array_data(*mask), s);
    }
    maskinfo_scratch_free(s);
    if (st) {
        maskinfo_array_free(*mask);
        *mask = NULL;
    }
    return st;
}
