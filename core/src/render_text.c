/*
 * render_text.c - the seed's visualize(return_str=True) text view.
 *
 * The seed pads the (Q, K) plane with masked cells to whole blocks, turns
 * every block into a float32 ratio count/(qb*kb), classifies it (full,
 * partial, empty) and, when the grid does not fit the screen, averages
 * groups of rows_step x cols_step block ratios (zero padded) and classifies
 * the means again.  Segment ids are summarised per block (one id, PAD = -1
 * or MIX = -2) and the block labels are summarised per group the same way.
 * Everything here reproduces that character for character, including
 * NumPy's float32 rounding where it decides a class.
 *
 * Counts come from maskinfo_mask_grid_counts, so the mask is never
 * expanded; memory is bounded by the output (one strip of block counts at
 * a time) plus, when downsampling, the group grid.
 */
#include "strbuf.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>

#define LBL_PAD (-1)
#define LBL_MIX (-2)

/* Block-count strip budget (entries) for the non-downsampled path. */
#define STRIP_CELLS ((int64_t)1 << 20)

static const char U_FULL[] = "\xe2\x96\x88\xe2\x96\x88";    /* "██" */
static const char U_PARTIAL[] = "\xe2\x96\x91\xe2\x96\x91"; /* "░░" */
static const char LEGEND_MASK[] =
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, "
    "partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n";
static const char LEGEND_SEG[] =
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

/* ---------------------------------------------------------------- labels */

/* _segment_block_labels: ids padded with -1 to whole blocks; a block whose
 * entries all equal its first entry gets that value, else MIX.  The seed
 * pads before comparing, so a tail block is MIX unless its ids are all -1. */
static void block_labels(const int32_t *ids, int64_t len, int64_t block,
                         int64_t nb, int64_t *out)
{
    for (int64_t i = 0; i < nb; i++) {
        int64_t start = i * block;         /* <= len - 1: no overflow */
        int64_t avail = len - start;
        int64_t n = block < avail ? block : avail;
        int64_t first = ids[start];
        int same = 1;
        for (int64_t j = 1; j < n && same; j++)
            same = (ids[start + j] == first);
        if (same && block > avail)
            same = (first == LBL_PAD);
        out[i] = same ? first : LBL_MIX;
    }
}

/* _downsample_labels: groups of `step` labels, padded with -1, in place.
 * Returns the new length. */
static int64_t downsample_labels(int64_t *lab, int64_t n, int64_t step)
{
    if (step <= 1)
        return n;
    int64_t ng = mi_ceil_div(n, step);
    for (int64_t g = 0; g < ng; g++) {
        int64_t start = g * step;
        int64_t avail = n - start;
        int64_t cnt = step < avail ? step : avail;
        int64_t first = lab[start];
        int same = 1;
        for (int64_t j = 1; j < cnt && same; j++)
            same = (lab[start + j] == first);
        if (same && step > avail)
            same = (first == LBL_PAD);
        lab[g] = same ? first : LBL_MIX;
    }
    return ng;
}

/* _two_char: Python's `f"{label % 100:02d}"` (floored modulo). */
static void put_two_char(maskinfo__strbuf *s, int64_t label)
{
    if (label == LBL_PAD) {
        maskinfo__sb_put(s, "  ", 2);
    } else if (label == LBL_MIX) {
        maskinfo__sb_put(s, "??", 2);
    } else {
        int64_t r = label % 100;
        if (r < 0)
            r += 100;
        char t[3] = { (char)('0' + r / 10), (char)('0' + r % 10), 0 };
        maskinfo__sb_put(s, t, 2);
    }
}

/* _left_label: PAD / MIX / the id, right-aligned in 6 (never cut). */
static void put_left_label(maskinfo__strbuf *s, int64_t label)
{
    char t[32];
    if (label == LBL_PAD)
        snprintf(t, sizeof t, "%6s", "PAD");
    else if (label == LBL_MIX)
        snprintf(t, sizeof t, "%6s", "MIX");
    else
        snprintf(t, sizeof t, "%6" PRId64, label);
    maskinfo__sb_puts(s, t);
}

/* ---------------------------------------------------------------- classes */

/* First-level class of one block, as NumPy computes it: the count and the
 * area become float32, the ratio is a float32 division, and the thresholds
 * 1 - 1e-8 and 1e-8 are rounded to float32 (1 - 1e-8 becomes exactly 1). */
static maskinfo_block_class block_class(uint64_t count, float area)
{
    float ratio = (float)count / area;
    if (ratio >= (float)(1.0 - 1e-8))
        return MASKINFO_BLOCK_FULL;
    if (ratio <= (float)1e-8)
        return MASKINFO_BLOCK_EMPTY;
    return MASKINFO_BLOCK_PARTIAL;
}

static float block_ratio(uint64_t count, float area)
{
    return (float)count / area;
}

/* Class of a downsampled mean (double mean rounded to float32, as NumPy's
 * float32 mean is), thresholds 1 - 1e-6 and 1e-6 in float32. */
static maskinfo_block_class mean_class(double mean)
{
    float m = (float)mean;
    if (m >= (float)(1.0 - 1e-6))
        return MASKINFO_BLOCK_FULL;
    if (m <= (float)1e-6)
        return MASKINFO_BLOCK_EMPTY;
    return MASKINFO_BLOCK_PARTIAL;
}

/* Query (or key) edge of block index i: i*block, clipped to n. */
static int64_t block_edge(int64_t i, int64_t nblocks, int64_t block, int64_t n)
{
    return i >= nblocks ? n : i * block;
}

/* Edges and counts of a grid of nr x nc blocks, under the guard. */
typedef struct {
    int64_t *re, *ce;
    uint64_t *cnt;
} grid_buf;

static int grid_new(grid_buf *g, int64_t nr, int64_t nc, const maskinfo_limits *lim)
{
    int st = MASKINFO_OK;
    g->re = mi_alloc(lim, nr + 1, sizeof *g->re, 0, &st);
    g->ce = mi_alloc(lim, nc + 1, sizeof *g->ce, 0, &st);
    g->cnt = mi_alloc(lim, nr * nc, sizeof *g->cnt, 0, &st);
    return st;
}

static void grid_free(grid_buf *g)
{
    free(g->re);
    free(g->ce);
    free(g->cnt);
}

/* Block classes without downsampling, strip by strip of block rows so the
 * count buffer stays small whatever the grid. */
static int classes_plain(const maskinfo_mask *m, int64_t b, int64_t h,
                         int64_t Q, int64_t K, int64_t qb, int64_t kb,
                         int64_t brows, int64_t bcols, float area,
                         unsigned char *cls, const maskinfo_limits *lim)
{
    if (brows == 0 || bcols == 0)
        return MASKINFO_OK;
    int64_t strip = STRIP_CELLS / bcols;
    if (strip < 1)
        strip = 1;
    if (strip > brows)
        strip = brows;
    grid_buf g;
    int st = grid_new(&g, strip, bcols, lim);
    if (st != MASKINFO_OK)
        goto done;
    for (int64_t j = 0; j <= bcols; j++)
        g.ce[j] = block_edge(j, bcols, kb, K);
    for (int64_t r0 = 0; r0 < brows; r0 += strip) {
        int64_t nr = brows - r0 < strip ? brows - r0 : strip;
        for (int64_t i = 0; i <= nr; i++)
            g.re[i] = block_edge(r0 + i, brows, qb, Q);
        st = maskinfo_mask_grid_counts(m, b, h, g.re, nr, g.ce, bcols, g.cnt, lim);
        if (st != MASKINFO_OK)
            goto done;
        for (int64_t i = 0; i < nr * bcols; i++)
            cls[r0 * bcols + i] = (unsigned char)block_class(g.cnt[i], area);
    }
done:
    grid_free(&g);
    return st;
}

/* Exact mean of one group: the float32 ratios of its blocks summed in
 * double (blocks past the grid are zero padding), divided by the group
 * size.  Only used when the group total alone cannot decide the class. */
static int group_mean_exact(const maskinfo_mask *m, int64_t b, int64_t h,
                            int64_t Q, int64_t K, int64_t qb, int64_t kb,
                            int64_t brows, int64_t bcols, int64_t rs,
                            int64_t cs, int64_t gi, int64_t gj, float area,
                            double *mean, const maskinfo_limits *lim)
{
    int64_t r0 = gi * rs, c0 = gj * cs;
    int64_t nr = brows - r0 < rs ? brows - r0 : rs;
    int64_t nc = bcols - c0 < cs ? bcols - c0 : cs;
    grid_buf g;
    int st = grid_new(&g, nr, nc, lim);
    if (st != MASKINFO_OK)
        goto done;
    for (int64_t i = 0; i <= nr; i++)
        g.re[i] = block_edge(r0 + i, brows, qb, Q);
    for (int64_t j = 0; j <= nc; j++)
        g.ce[j] = block_edge(c0 + j, bcols, kb, K);
    st = maskinfo_mask_grid_counts(m, b, h, g.re, nr, g.ce, nc, g.cnt, lim);
    if (st != MASKINFO_OK)
        goto done;
    double sum = 0.0;
    for (int64_t i = 0; i < nr * nc; i++)
        sum += (double)block_ratio(g.cnt[i], area);
    *mean = sum / ((double)rs * (double)cs);
done:
    grid_free(&g);
    return st;
}

/* Downsampled classes.  One grid_counts call over the group grid gives each
 * group's total C; the mean of the float32 block ratios equals
 * C / (area * n) up to a relative 2^-24 (each ratio is rounded once), and
 * since classifying a rounded mean is monotone, a group whose whole error
 * interval falls in one class is decided without looking at its blocks.
 * Only groups straddling a threshold (huge masks) are summed block by
 * block.  Cost O(rows * runs + nr * nc) instead of O(blocks). */
static int classes_downsampled(const maskinfo_mask *m, int64_t b, int64_t h,
                               int64_t Q, int64_t K, int64_t qb, int64_t kb,
                               int64_t brows, int64_t bcols, int64_t rs,
                               int64_t cs, int64_t nr, int64_t nc, float area,
                               unsigned char *cls, const maskinfo_limits *lim)
{
    if (nr == 0 || nc == 0)
        return MASKINFO_OK;
    grid_buf g;
    int st = grid_new(&g, nr, nc, lim);
    if (st != MASKINFO_OK)
        goto done;
    /* group i starts at block i*step; i*step <= blocks + step - 1 */
    for (int64_t i = 0; i <= nr; i++)
        g.re[i] = block_edge(i * rs, brows, qb, Q);
    for (int64_t j = 0; j <= nc; j++)
        g.ce[j] = block_edge(j * cs, bcols, kb, K);
    st = maskinfo_mask_grid_counts(m, b, h, g.re, nr, g.ce, nc, g.cnt, lim);
    if (st != MASKINFO_OK)
        goto done;
    double denom = (double)area * (double)rs * (double)cs;
    for (int64_t gi = 0; gi < nr; gi++) {
        for (int64_t gj = 0; gj < nc; gj++) {
            uint64_t c = g.cnt[gi * nc + gj];
            maskinfo_block_class k;
            if (c == 0) {
                k = MASKINFO_BLOCK_EMPTY; /* every ratio is exactly 0 */
            } else {
                double approx = (double)c / denom;
                maskinfo_block_class lo = mean_class(approx * (1.0 - 0x1p-22));
                maskinfo_block_class hi = mean_class(approx * (1.0 + 0x1p-22));
                if (lo == hi) {
                    k = lo;
                } else {
                    double mean = 0.0;
                    st = group_mean_exact(m, b, h, Q, K, qb, kb, brows, bcols,
                                          rs, cs, gi, gj, area, &mean, lim);
                    if (st != MASKINFO_OK)
                        goto done;
                    k = mean_class(mean);
                }
            }
            cls[gi * nc + gj] = (unsigned char)k;
        }
    }
done:
    grid_free(&g);
    return st;
}

/* ---------------------------------------------------------------- render */

/* The seed's visualize(return_str=True) for plane (o->batch, o->head).  The
 * seed clamps block sizes below 1 and divides by max_rows; both are refused
 * here instead (EINVAL), as are an out-of-range batch/head and missing ids
 * when segments are shown.  A NULL shape_str prints "(B, H, Q, K)". */
int maskinfo_render_text(const maskinfo_mask *m, const maskinfo_text_opts *o,
                         const int32_t *q_ids, const int32_t *kv_ids,
                         const char *shape_str, char **out, size_t *len, const maskinfo_limits *lim)
{
    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (m == NULL || o == NULL || out == NULL)
        return MASKINFO_EINVAL;
    int64_t shp[4];
    maskinfo_mask_shape(m, shp);
    int64_t Q = shp[2], K = shp[3];
    int64_t qb = o->block_q, kb = o->block_kv;
    if (qb < 1 || kb < 1 || o->max_rows < 1 || o->max_cols < 1)
        return MASKINFO_EINVAL;
    if (o->batch < 0 || o->batch >= shp[0] || o->head < 0 || o->head >= shp[1])
        return MASKINFO_EINVAL;
    int segs = o->show_segments != 0;
    if (segs && ((Q > 0 && q_ids == NULL) || (K > 0 && kv_ids == NULL)))
        return MASKINFO_EINVAL;

    /* area = float(qb * kb) in Python (exact product, one rounding to
     * double), then float32 for the float32 division */
    unsigned __int128 area_exact = (unsigned __int128)qb * (unsigned __int128)kb;
    float area = (float)(double)area_exact;

    int64_t brows = mi_ceil_div(Q, qb), bcols = mi_ceil_div(K, kb);
    int64_t rs = 1, cs = 1;
    if (o->fit_in_screen) {
        rs = mi_ceil_div(brows, o->max_rows);
        cs = mi_ceil_div(bcols, o->max_cols);
        if (rs < 1)
            rs = 1;
        if (cs < 1)
            cs = 1;
    }
    int down = rs > 1 || cs > 1;
    int64_t nr = down ? mi_ceil_div(brows, rs) : brows;
    int64_t nc = down ? mi_ceil_div(bcols, cs) : bcols;

    if (nc > 0 && nr > INT64_MAX / nc)
        return MASKINFO_EOVERFLOW;
    if ((uint64_t)(nr * nc) > SIZE_MAX / 6)
        return MASKINFO_EOVERFLOW;

    int st = MASKINFO_OK;
    maskinfo__strbuf s = { NULL, 0, 0, MASKINFO_OK, lim };
    int64_t *qlab = NULL, *klab = NULL;
    unsigned char *cls = mi_alloc(lim, nr * nc, 1, 0, &st);
    if (segs) {
        qlab = mi_alloc(lim, brows, sizeof *qlab, 0, &st);
        klab = mi_alloc(lim, bcols, sizeof *klab, 0, &st);
    }
    if (st != MASKINFO_OK)
        goto done;
    if (segs) {
        block_labels(q_ids, Q, qb, brows, qlab);
        block_labels(kv_ids, K, kb, bcols, klab);
    }
    int64_t nql = brows, nkl = bcols;
    if (down) {
        st = classes_downsampled(m, o->batch, o->head, Q, K, qb, kb, brows,
                                 bcols, rs, cs, nr, nc, area, cls, lim);
        if (segs) {
            nql = downsample_labels(qlab, brows, rs);
            nkl = downsample_labels(klab, bcols, cs);
        }
    } else {
        st = classes_plain(m, o->batch, o->head, Q, K, qb, kb, brows, bcols,
                           area, cls, lim);
    }
    if (st != MASKINFO_OK)
        goto done;

    /* header */
    char t[160];
    snprintf(t, sizeof t,
             "Attention mask (batch=%" PRId64 ", head=%" PRId64
             ") block=(%" PRId64 "x%" PRId64 ") mask_shape=",
             o->batch, o->head, qb, kb);
    maskinfo__sb_puts(&s, t);
    if (shape_str != NULL) {
        maskinfo__sb_puts(&s, shape_str);
    } else {
        snprintf(t, sizeof t, "(%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ")",
                 shp[0], shp[1], Q, K);
        maskinfo__sb_puts(&s, t);
    }
    maskinfo__sb_put(&s, "\n", 1);

    int64_t left = segs ? 6 : 0;
    /* width_cells = len(lines[0]) // 2 if lines else 0 */
    int64_t width = nr > 0 ? nc : 0;
    if (segs && nc > 0) {
        maskinfo__sb_spaces(&s, left + 3);
        for (int64_t j = 0; j < nkl; j++)
            put_two_char(&s, klab[j]);
        maskinfo__sb_put(&s, "\n", 1);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int64_t r = 0; r < nr; r++) {
                if (segs) {
                    put_left_label(&s, r < nql ? qlab[r] : LBL_PAD);
                    maskinfo__sb_put(&s, " ", 1);
                }
                maskinfo__sb_put(&s, "||", 2);
                for (int64_t c = 0; c < nc; c++) {
                    unsigned char k = cls[r * nc + c];
                    if (k == MASKINFO_BLOCK_EMPTY)
                        maskinfo__sb_put(&s, "  ", 2);
                    else if (o->ascii)
                        maskinfo__sb_put(&s, k == MASKINFO_BLOCK_FULL ? "##" : "..", 2);
                    else
                        maskinfo__sb_puts(&s, k == MASKINFO_BLOCK_FULL ? U_FULL : U_PARTIAL);
                }
                maskinfo__sb_put(&s, "||\n", 3);
            }
        }
        maskinfo__sb_spaces(&s, left + 2);
        for (int64_t c = 0; c < width; c++)
            maskinfo__sb_put(&s, "==", 2);
        maskinfo__sb_put(&s, "  \n", 3);
    }
    maskinfo__sb_puts(&s, LEGEND_MASK);
    if (segs)
        maskinfo__sb_puts(&s, LEGEND_SEG);
    st = s.err;

done:
    free(cls);
    free(qlab);
    free(klab);
    if (st != MASKINFO_OK) {
        free(s.p);
        return st;
    }
    *out = s.p;
    if (len != NULL)
        *len = s.len;
    return MASKINFO_OK;
}
