/*
 * blocks.c - block classes (empty / partial / full per bq x bk block), the
 * block form that block-sparse attention kernels consume; block_table.c
 * builds the FlexAttention tables from them.
 *
 * The output starts zeroed (empty) and only the blocks a block row touches
 * are written, so a banded mask's untouched pages are never mapped.  A
 * block row whose rows have closed forms is a few ranges of block columns,
 * found in O(pieces) (block_closed.h); any other block row is counted by
 * the grid kernel (grid.h) over the span of columns it touches.
 */
#include "block_closed.h"
#include "grid.h"
#include "pages.h"

#include <string.h>

/* Writes a closed block row into its zeroed output row. */
static void put_ranges(uint8_t *row, const mi_block_ranges *r)
{
    for (int64_t i = 0; i < r->n; i++)
        if (r->t[2 * i] < r->t[2 * i + 1])
            memset(row + r->t[2 * i], MASKINFO_BLOCK_PARTIAL, (size_t)(r->t[2 * i + 1] - r->t[2 * i]));
    if (r->f0 < r->f1)
        memset(row + r->f0, MASKINFO_BLOCK_FULL, (size_t)(r->f1 - r->f0));
}

/*
 * Block row [q0, q1) by the grid kernel: the columns of the span it
 * touched get their class from their count against their area (a tail
 * block counts only its cells inside the mask, or, padded, bq x bk cells
 * as torch does); the others stay empty.
 */
static int counted_row(mi_grid *gr, const mi_block_geom *g, int64_t b, int64_t h, int64_t q0,
                       int64_t q1, uint8_t *row)
{
    int st = maskinfo__grid_span(gr, b, h, q0, q1);
    if (st)
        return st;
    const uint64_t rows = (uint64_t)(q1 - q0);
    const int padded = g->tail == MASKINFO_TAIL_PADDED;
    const uint64_t area = padded ? (uint64_t)g->bq * (uint64_t)g->bk : rows * (uint64_t)g->bk;
    const uint64_t last = padded ? area : rows * (uint64_t)(g->K - (g->C - 1) * g->bk);
    int64_t run = 0;
    for (int64_t j = gr->j0; j < gr->j1; j++) {
        run += gr->diff[j];
        const uint64_t c = gr->cnt[j] + (uint64_t)run * (uint64_t)g->bk;
        const uint64_t a_j = j + 1 < g->C ? area : last;
        row[j] = (uint8_t)(c == 0 ? MASKINFO_BLOCK_EMPTY : c == a_j ? MASKINFO_BLOCK_FULL : MASKINFO_BLOCK_PARTIAL);
    }
    return MASKINFO_OK;
}

/* Work of one fresh 4 KiB page in maskinfo__row_cost units; written bytes
 * cost a unit per 256.  A page costs some 2 us (fault, zeroing, memcg),
 * but is counted as 256 units so that fault-bound outputs go parallel
 * from some 8 ms: faults scale on two threads, and with one busy process
 * beside the job two threads still measured no slower (1M tokens, block
 * 128: 15-18 ms against 17-18.5 ms on one; 10.5 against 17 when idle). */
#define MI_PAGE_WORK 256
#define MI_SAMPLES 64

/*
 * Work of the whole output, from up to MI_SAMPLES evenly spaced block rows
 * that have closed forms (cheap to find): pieces walked, pages first
 * touched and bytes written.  *dense: a quarter or more of the output is
 * written, so huge pages pay; a banded output stays on lazily mapped 4 KiB
 * pages, whose untouched ones are never mapped.  Block rows without a
 * closed form are counted as their rows.
 */
static int estimate(const maskinfo_mask *m, const mi_block_geom *g, int64_t R, int64_t items,
                    mi_lin_ctx *lin, int64_t *work, int *dense)
{
    /* a row with dense leaves is evaluated here as intervals: a random one
     * has up to K / 2 of them: some K / 4 units with their counting */
    const int64_t rc = maskinfo__row_cost(m) + (maskinfo_mask_is_dense(m) ? g->K / 4 : 0);
    const int64_t n = mi_min64(items, MI_SAMPLES);
    uint64_t bytes = 0, pages = 0, seen = 0;
    *dense = 0;
    for (int64_t s = 0; lin && s < n; s++) {
        const int64_t w = n > 1 ? (items - 1) * s / (n - 1) : 0, i = w % R, bh = w / R;
        const int64_t q0 = i * g->bq;
        mi_block_ranges r;
        int ok;
        int st = maskinfo__block_closed_row(lin, g, bh / m->H, bh % m->H, q0, mi_min64(g->Q, q0 + g->bq), &r, &ok);
        if (st)
            return st;
        if (!ok)
            continue;
        seen++;
        for (int64_t j = 0; j < r.n; j++) {
            const uint64_t len = (uint64_t)(r.t[2 * j + 1] - r.t[2 * j]);
            bytes += len;
            pages += len ? len / 4096 + 1 : 0;
        }
    }
    const int64_t rows = maskinfo__mul(m->B * m->H, g->Q);
    if (!seen) {
        *work = maskinfo__mul(rows, rc);
        return MASKINFO_OK;
    }
    /* per block row, scaled to all of them; products stay far below 2^63
     * for any output the guard let through */
    const double per = (double)items / (double)seen;
    const double cells = (double)items * (double)g->C;
    *dense = (double)bytes * per * 4 >= cells;
    const double w = (double)items * 4 * (double)rc + (*dense ? cells / 256 : (double)pages * per * MI_PAGE_WORK);
    *work = w > (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)w;
    return MASKINFO_OK;
}

/*
 * Work item w = (b*H + h)*R + i is one block row; each writes only its own
 * output row, hence any thread count gives the same bytes.
 */
int maskinfo_mask_block_classes_tail(const maskinfo_mask *m, int64_t bq, int64_t bk,
                                     maskinfo_tail_rule tail, maskinfo_array **out,
                                     const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (m == NULL || bq < 1 || bk < 1 || (tail != MASKINFO_TAIL_EXACT && tail != MASKINFO_TAIL_PADDED))
        return MASKINFO_EINVAL;
    const int64_t B = m->B, H = m->H, Q = m->Q, K = m->K;
    const int64_t R = mi_ceil_div(Q, bq), C = mi_ceil_div(K, bk);
    int64_t items = maskinfo__mul(maskinfo__mul(B, H), R);
    int64_t ncells = maskinfo__mul(items, C);
    if (items < 0 || ncells < 0)
        return MASKINFO_EOVERFLOW;
    const mi_grid_cols cols = {NULL, C, bk, K};
    /* the output plus one thread's grid, before anything exists (C <=
     * ncells unless the output is empty, so the sum cannot wrap) */
    if ((uint64_t)C > UINT64_MAX / 32)
        return MASKINFO_EOVERFLOW;
    int st = maskinfo_check_alloc(lim, (uint64_t)ncells + maskinfo__grid_bytes(&cols), 1);
    if (st)
        return st;
    int64_t oshape[4] = {B, H, R, C};
    maskinfo_array *a;
    st = maskinfo_array_new(&a, MASKINFO_UINT8, 4, oshape, lim);
    if (st)
        return st;
    if (ncells == 0) { /* no blocks: no row needs evaluating */
        *out = a;
        return MASKINFO_OK;
    }
    uint8_t *cls = maskinfo_array_data(a);
    const mi_block_geom g = {bq, bk, Q, K, C, tail == MASKINFO_TAIL_PADDED ? K / bk : C, tail};
    int64_t work = 0;
    int dense = 0;
    mi_lin_ctx *probe = maskinfo__lin_new(m, lim);
    st = estimate(m, &g, R, items, probe, &work, &dense);
    maskinfo__lin_free(probe);
    if (st) {
        maskinfo_array_free(a);
        return st;
    }
    if (dense)
        maskinfo__pages_dense(cls, (size_t)ncells);
    int err = MASKINFO_OK;
#pragma omp parallel if (items > 1 && work >= MI_PAR_WORK)
    {
        mi_grid gr;
        int lerr = maskinfo__grid_init(&gr, m, &cols, lim);
#pragma omp for schedule(dynamic, 16)
        for (int64_t w = 0; w < items; w++) {
            if (lerr)
                continue;
            const int64_t i = w % R, bh = w / R, b = bh / H, h = bh % H;
            const int64_t q0 = i * bq, q1 = mi_min64(Q, q0 + bq);
            uint8_t *row = cls + w * C;
            int ok = 0;
            mi_block_ranges r;
            if (gr.lin)
                lerr = maskinfo__block_closed_row(gr.lin, &g, b, h, q0, q1, &r, &ok);
            if (!lerr && ok)
                put_ranges(row, &r);
            else if (!lerr)
                lerr = counted_row(&gr, &g, b, h, q0, q1, row);
        }
        if (lerr) {
#pragma omp critical
            err = lerr;
        }
        maskinfo__grid_done(&gr);
    }
    if (err) {
        maskinfo_array_free(a);
        return err;
    }
    *out = a;
    return MASKINFO_OK;
}

int maskinfo_mask_block_classes(const maskinfo_mask *m, int64_t bq, int64_t bk,
                                maskinfo_array **out, const maskinfo_limits *lim)
{
    return maskinfo_mask_block_classes_tail(m, bq, bk, MASKINFO_TAIL_EXACT, out, lim);
}
