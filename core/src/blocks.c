/*
 * blocks.c - the block forms that block-sparse attention kernels consume:
 * block classes (empty / partial / full per bq x bk block) and the
 * FlexAttention BlockMask tables built from them.
 *
 * Block classes count cells with the count grid kernel of reduce.c
 * (uniform columns), so block counting exists once in the core.
 */
#include "node.h"

#include <string.h>

/* ------------------------------------------------------------ block classes */

/*
 * Work item w = (b*H + h)*R + i is one block row: the grid kernel counts
 * its bq query rows into C block columns, then one pass folds in the whole
 * covered blocks and classes each block by its count against its area (a
 * tail block counts only its cells inside the mask, or, padded, bq x bk
 * cells as torch does).  Every work item writes only its own output row,
 * hence any thread count gives the same bytes.
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
    /* the output plus one thread's two count rows, before anything exists
     * (C <= ncells unless the output is empty, so the sum cannot wrap) */
    const uint64_t need = (uint64_t)ncells + ((uint64_t)C + 1) * 16;
    if ((uint64_t)C > UINT64_MAX / 32)
        return MASKINFO_EOVERFLOW;
    int st = maskinfo_check_alloc(lim, need, 1);
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
    const mi_grid_cols cols = {NULL, C, bk, K};
    /* rows fit: B*H*Q*K does and K >= 1 here */
    const int64_t nrows = B * H * Q;
    int err = MASKINFO_OK;
#pragma omp parallel if (items > 1 && (nrows >= 256 || ncells >= 65536))
    {
        maskinfo_scratch *s = maskinfo__scratch_new(lim);
        uint64_t *cnt = malloc((size_t)(C + 1) * sizeof *cnt);
        int64_t *diff = malloc((size_t)(C + 1) * sizeof *diff);
        int lerr = (s && cnt && diff) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t w = 0; w < items; w++) {
            if (lerr)
                continue;
            const int64_t i = w % R, bh = w / R;
            const int64_t q0 = i * bq, q1 = mi_min64(Q, q0 + bq);
            lerr = maskinfo__grid_row(m, bh / H, bh % H, q0, q1, &cols, cnt, diff, s);
            if (lerr)
                continue;
            const uint64_t rows = (uint64_t)(q1 - q0);
            uint8_t *o = cls + w * C;
            /* every block but the last is bk keys wide; padded, every block
             * counts bq x bk cells, so a cut block is never full */
            const uint64_t area = tail == MASKINFO_TAIL_PADDED ? (uint64_t)bq * (uint64_t)bk
                                                                 : rows * (uint64_t)bk;
            const uint64_t last = tail == MASKINFO_TAIL_PADDED ? area : rows * (uint64_t)(K - (C - 1) * bk);
            int64_t run = 0;
            for (int64_t j = 0; j < C; j++) {
                run += diff[j];
                const uint64_t c = cnt[j] + (uint64_t)run * (uint64_t)bk;
                const uint64_t a_j = j + 1 < C ? area : last;
                o[j] = (uint8_t)(c == 0 ? MASKINFO_BLOCK_EMPTY
                                 : c == a_j ? MASKINFO_BLOCK_FULL : MASKINFO_BLOCK_PARTIAL);
            }
        }
        if (lerr) {
#pragma omp critical
            err = lerr;
        }
        free(diff);
        free(cnt);
        maskinfo_scratch_free(s);
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

/* ------------------------------------------------------------ block tables */

/*
 * One ordered row: the columns whose class is `want` ascending, then the
 * others ascending - exactly a stable descending argsort of (row == want),
 * which is what torch's _dense_to_ordered computes.  src has stride 1.
 */
static int32_t order_row(const uint8_t *src, int64_t n, uint8_t want,
                         int32_t *idx)
{
    int64_t k = 0;
    for (int64_t j = 0; j < n; j++)
        if (src[j] == want)
            idx[k++] = (int32_t)j;
    const int32_t num = (int32_t)k;
    for (int64_t j = 0; j < n; j++)
        if (src[j] != want)
            idx[k++] = (int32_t)j;
    return num;
}

/* Columns per transposed tile: 64 bytes of a classes row are one cache
 * line, so a tile is gathered with whole-line reads instead of one strided
 * byte per line. */
#define MI_TILE 64

/*
 * Plain tables go row by row.  Transposed tables treat each classes column
 * as a row: a thread gathers MI_TILE columns at once into an R x MI_TILE
 * buffer (read row-wise, cache friendly), transposes that small tile and
 * orders each of its columns, so the (B, H, C, R) transpose is never built.
 * Every work item writes disjoint output rows: thread-count invariant.
 */
int maskinfo_block_table(const maskinfo_array *classes,
                         maskinfo_block_class want_class, int transpose, maskinfo_array **num,
                         maskinfo_array **idx, const maskinfo_limits *lim)
{
    if (num == NULL || idx == NULL)
        return MASKINFO_EINVAL;
    *num = NULL;
    *idx = NULL;
    if (classes == NULL || (want_class != MASKINFO_BLOCK_PARTIAL && want_class != MASKINFO_BLOCK_FULL))
        return MASKINFO_EINVAL;
    if (maskinfo_array_dtype(classes) != MASKINFO_UINT8)
        return MASKINFO_EDTYPE;
    if (maskinfo_array_ndim(classes) != 4)
        return MASKINFO_ESHAPE;
    const int64_t *sh = maskinfo_array_shape(classes);
    const int64_t B = sh[0], H = sh[1], R = sh[2], C = sh[3];
    /* output rows and their length */
    const int64_t nr = transpose ? C : R, nc = transpose ? R : C;
    if (nc > INT32_MAX)
        return MASKINFO_EOVERFLOW; /* indices are int32 */
    const int64_t planes = B * H; /* fits: the classes array exists */
    const int64_t nnum = planes * nr, nidx = nnum * nc;
    const uint64_t tile = transpose ? (uint64_t)nc * MI_TILE : 0;
    /* both outputs and a thread's tile and column, before any exists; the
     * terms are bounded by the size of the existing classes array */
    const uint64_t need = ((uint64_t)nnum + (uint64_t)nidx) * 4 +
                          (transpose ? tile + (uint64_t)nc : 0);
    int st = maskinfo_check_alloc(lim, need, 1);
    if (st)
        return st;
    int64_t nshape[3] = {B, H, nr}, ishape[4] = {B, H, nr, nc};
    maskinfo_array *an, *ai;
    if ((st = maskinfo_array_new(&an, MASKINFO_INT32, 3, nshape, lim)))
        return st;
    if ((st = maskinfo_array_new(&ai, MASKINFO_INT32, 4, ishape, lim))) {
        maskinfo_array_free(an);
        return st;
    }
    const uint8_t *src = maskinfo_array_cdata(classes);
    int32_t *on = maskinfo_array_data(an), *oi = maskinfo_array_data(ai);
    const uint8_t want = (uint8_t)want_class;
    int err = MASKINFO_OK;
    if (!transpose) {
#pragma omp parallel for schedule(static) if (nidx >= 65536)
        for (int64_t r = 0; r < nnum; r++)
            on[r] = order_row(src + r * nc, nc, want, oi + r * nc);
    } else {
        const int64_t ntiles = mi_ceil_div(nr, MI_TILE), items = planes * ntiles;
#pragma omp parallel if (nidx >= 65536)
        {
            /* tile[r * MI_TILE + c]: gathered rows; col[r]: one column */
            uint8_t *tbuf = malloc((size_t)tile + 1);
            uint8_t *col = malloc((size_t)nc + 1);
            int lerr = (tbuf && col) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 1)
            for (int64_t w = 0; w < items; w++) {
                if (lerr)
                    continue;
                const int64_t bh = w / ntiles, c0 = (w % ntiles) * MI_TILE;
                const int64_t tw = mi_min64(MI_TILE, nr - c0);
                const uint8_t *plane = src + bh * R * C;
                for (int64_t r = 0; r < nc; r++)
                    memcpy(tbuf + r * MI_TILE, plane + r * C + c0, (size_t)tw);
                for (int64_t c = 0; c < tw; c++) {
                    for (int64_t r = 0; r < nc; r++)
                        col[r] = tbuf[r * MI_TILE + c];
                    const int64_t row = bh * nr + c0 + c;
                    on[row] = order_row(col, nc, want, oi + row * nc);
                }
            }
            if (lerr) {
#pragma omp critical
                err = lerr;
            }
            free(col);
            free(tbuf);
        }
    }
    if (err) {
        maskinfo_array_free(an);
        maskinfo_array_free(ai);
        return err;
    }
    *num = an;
    *idx = ai;
    return MASKINFO_OK;
}
