/*
 * block_table.c - the FlexAttention BlockMask tables from block classes
 * (blocks.c): per row of blocks, the columns of the wanted class ascending,
 * then every other column ascending (torch's _dense_to_ordered).
 *
 * A row of a banded mask holds a few wanted blocks among thousands, so the
 * wanted ones are found a word at a time and the others are written as
 * runs of consecutive indices between them.  The index tables are written
 * whole, so they get huge pages (pages.h).
 */
#include "pages.h"
#include "util.h"

#include <string.h>

/* Output cells from which a table is written by a team: 64 MiB, some
 * 15-30 ms of writing fresh memory on one thread, as MI_PAR_WORK (smaller
 * regions lose to libgomp's spin-waits on a busy machine, PLATFORM.md). */
#define MI_PAR_CELLS ((int64_t)1 << 24)

#define MI_ONES UINT64_C(0x0101010101010101)
#define MI_HIGHS UINT64_C(0x8080808080808080)

/* Whether a byte of w equals the byte whose broadcast is pat. */
static inline int has_byte(uint64_t w, uint64_t pat)
{
    const uint64_t x = w ^ pat;
    return ((x - MI_ONES) & ~x & MI_HIGHS) != 0;
}

/* d[0..n) = a, a + 1, ...: two indices a store. */
static void iota32(int32_t *d, int64_t a, int64_t n)
{
    int64_t t = 0;
    if (n > 0 && ((uintptr_t)d & 7)) {
        d[0] = (int32_t)a;
        t = 1;
    }
    uint64_t v = (uint64_t)(uint32_t)(a + t) | (uint64_t)(uint32_t)(a + t + 1) << 32;
    const uint64_t step = UINT64_C(0x0000000200000002);
    for (; t + 2 <= n; t += 2, v += step)
        memcpy(d + t, &v, 8);
    if (t < n)
        d[t] = (int32_t)(a + t);
}

/* After the k wanted indices idx[0..k) (ascending, below n), the others
 * ascending: the runs between them. */
static void fill_others(int32_t *idx, int64_t k, int64_t n)
{
    int64_t at = k, prev = 0;
    for (int64_t i = 0; i < k; i++) {
        const int64_t x = idx[i];
        iota32(idx + at, prev, x - prev);
        at += x - prev;
        prev = x + 1;
    }
    iota32(idx + at, prev, n - prev);
}

/* One ordered row of n classes (stride 1); returns the wanted count. */
static int32_t order_row(const uint8_t *src, int64_t n, uint8_t want, int32_t *idx)
{
    const uint64_t pat = MI_ONES * want;
    int64_t k = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t w;
        memcpy(&w, src + j, 8);
        if (!has_byte(w, pat))
            continue;
        for (int64_t t = 0; t < 8; t++)
            if (src[j + t] == want)
                idx[k++] = (int32_t)(j + t);
    }
    for (; j < n; j++)
        if (src[j] == want)
            idx[k++] = (int32_t)j;
    fill_others(idx, k, n);
    return (int32_t)k;
}

/* Columns per transposed work item: a classes row is read MI_TILE bytes at
 * a time (whole cache lines), and the tile's output rows are appended to. */
#define MI_TILE 1024

/*
 * Columns [c0, c0 + tw) of one (R, C) classes plane as output rows of R:
 * one pass down the rows appends each wanted row index to its column's
 * output row (ascending, as rows are visited in order), then each column
 * gets its others.  k holds tw counts.
 */
static void order_cols(const uint8_t *plane, int64_t R, int64_t C, int64_t c0, int64_t tw,
                       uint8_t want, int32_t *out, int32_t *on, int64_t *k)
{
    const uint64_t pat = MI_ONES * want;
    memset(k, 0, (size_t)tw * sizeof *k);
    for (int64_t i = 0; i < R; i++) {
        const uint8_t *s = plane + i * C + c0;
        int64_t j = 0;
        for (; j + 8 <= tw; j += 8) {
            uint64_t w;
            memcpy(&w, s + j, 8);
            if (!has_byte(w, pat))
                continue;
            for (int64_t t = j; t < j + 8; t++)
                if (s[t] == want)
                    out[t * R + k[t]++] = (int32_t)i;
        }
        for (; j < tw; j++)
            if (s[j] == want)
                out[j * R + k[j]++] = (int32_t)i;
    }
    for (int64_t j = 0; j < tw; j++) {
        fill_others(out + j * R, k[j], R);
        on[j] = (int32_t)k[j];
    }
}

/*
 * Plain tables go row by row; transposed ones treat each classes column as
 * a row, MI_TILE columns per work item, so the (B, H, C, R) transpose is
 * never built.  Every work item writes disjoint output rows: thread-count
 * invariant.
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
    /* both outputs and a thread's counts, before any exists; the terms are
     * bounded by the size of the existing classes array */
    const int64_t tile = transpose ? mi_min64(MI_TILE, nr) : 0;
    const uint64_t need = ((uint64_t)nnum + (uint64_t)nidx) * 4 + (uint64_t)tile * 8;
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
    maskinfo__pages_dense(oi, (size_t)nidx * 4);
    const uint8_t want = (uint8_t)want_class;
    int err = MASKINFO_OK;
    if (!transpose) {
#pragma omp parallel for schedule(dynamic, 64) if (nidx >= MI_PAR_CELLS)
        for (int64_t r = 0; r < nnum; r++)
            on[r] = order_row(src + r * nc, nc, want, oi + r * nc);
    } else {
        const int64_t ntiles = mi_ceil_div(nr, MI_TILE), items = planes * ntiles;
#pragma omp parallel if (nidx >= MI_PAR_CELLS)
        {
            int64_t *k = malloc((size_t)(tile + 1) * sizeof *k);
            int lerr = k ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 1)
            for (int64_t w = 0; w < items; w++) {
                if (lerr)
                    continue;
                const int64_t bh = w / ntiles, c0 = (w % ntiles) * MI_TILE;
                const int64_t row = bh * nr + c0;
                order_cols(src + bh * R * C, R, C, c0, mi_min64(MI_TILE, nr - c0), want,
                           oi + row * nc, on + row, k);
            }
            if (lerr) {
#pragma omp critical
                err = lerr;
            }
            free(k);
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
