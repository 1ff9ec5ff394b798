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
#include "maskinfo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---------------------------------------------------------------- buffer */

typedef struct {
    char *buf;
    size_t len, cap;
    int err; /* sticky MASKINFO_* status */
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
    if (s->err)
        return;
    if (n > SIZE_MAX - 1 - s->len) {
        s->err = MASKINFO_EOVERFLOW;
        return;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap = (cap > SIZE_MAX / 2) ? s->len + n + 1 : cap * 2;
        char *nb = realloc(s->buf, cap);
        if (nb == NULL) {
            s->err = MASKINFO_ENOMEM;
            return;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void sb_puts(sbuf *s, const char *p) { sb_put(s, p, strlen(p)); }

static void sb_spaces(sbuf *s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        sb_put(s, " ", 1);
}

/* ---------------------------------------------------------------- labels */

/* Ceil division of a >= 0 by d >= 1 without overflow. */
static int64_t ceil_div(int64_t a, int64_t d)
{
    return a == 0 ? 0 : (a - 1) / d + 1;
}

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
    int64_t ng = ceil_div(n, step);
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
static void put_two_char(sbuf *s, int64_t label)
{
    if (label == LBL_PAD) {
        sb_put(s, "  ", 2);
    } else if (label == LBL_MIX) {
        sb_put(s, "??", 2);
    } else {
        int64_t r = label % 100;
        if (r < 0)
            r += 100;
        char t[3] = { (char)('0' + r / 10), (char)('0' + r % 10), 0 };
        sb_put(s, t, 2);
    }
}

/* _left_label: PAD / MIX / the id, right-aligned in 6 (never cut). */
static void put_left_label(sbuf *s, int64_t label)
{
    char t[32];
    if (label == LBL_PAD)
        snprintf(t, sizeof t, "%6s", "PAD");
    else if (label == LBL_MIX)
        snprintf(t, sizeof t, "%6s", "MIX");
    else
        snprintf(t, sizeof t, "%6" PRId64, label);
    sb_puts(s, t);
}

/* ---------------------------------------------------------------- classes */

/* First-level class of one block, as NumPy computes it: the count and the
 * area become float32, the ratio is a float32 division, and the thresholds
 * 1 - 1e-8 and 1e-8 are rounded to float32 (1 - 1e-8 becomes exactly 1). */
static int block_class(uint64_t count, float area)
{
    float ratio = (float)count / area;
    if (ratio >= (float)(1.0 - 1e-8))
        return 2;
    if (ratio <= (float)1e-8)
        return 0;
    return 1;
}

static float block_ratio(uint64_t count, float area)
{
    return (float)count / area;
}

/* Class of a downsampled mean (double mean rounded to float32, as NumPy's
 * float32 mean is), thresholds 1 - 1e-6 and 1e-6 in float32. */
static int mean_class(double mean)
{
    float m = (float)mean;
    if (m >= (float)(1.0 - 1e-6))
        return 2;
    if (m <= (float)1e-6)
        return 0;
    return 1;
}

/* Query (or key) edge of block index i: i*block, clipped to n. */
static int64_t block_edge(int64_t i, int64_t nblocks, int64_t block, int64_t n)
{
    return i >= nblocks ? n : i * block;
}

/* Block classes without downsampling, strip by strip of block rows so the
 * count buffer stays small whatever the grid. */
static int classes_plain(const maskinfo_mask *m, int64_t b, int64_t h,
                         int64_t Q, int64_t K, int64_t qb, int64_t kb,
                         int64_t brows, int64_t bcols, float area,
                         unsigned char *cls)
{
    if (brows == 0 || bcols == 0)
        return MASKINFO_OK;
    int64_t strip = STRIP_CELLS / bcols;
    if (strip < 1)
        strip = 1;
    if (strip > brows)
        strip = brows;
    int64_t *redges = malloc((size_t)(strip + 1) * sizeof *redges);
    int64_t *cedges = malloc((size_t)(bcols + 1) * sizeof *cedges);
    uint64_t *cnt = malloc((size_t)(strip * bcols) * sizeof *cnt);
    int st = MASKINFO_OK;
    if (redges == NULL || cedges == NULL || cnt == NULL) {
        st = MASKINFO_ENOMEM;
        goto done;
    }
    for (int64_t j = 0; j <= bcols; j++)
        cedges[j] = block_edge(j, bcols, kb, K);
    for (int64_t r0 = 0; r0 < brows; r0 += strip) {
        int64_t nr = brows - r0 < strip ? brows - r0 : strip;
        for (int64_t i = 0; i <= nr; i++)
            redges[i] = block_edge(r0 + i, brows, qb, Q);
        st = maskinfo_mask_grid_counts(m, b, h, redges, nr, cedges, bcols, cnt, NULL);
        if (st != MASKINFO_OK)
            goto done;
        for (int64_t i = 0; i < nr * bcols; i++)
            cls[r0 * bcols + i] = (unsigned char)block_class(cnt[i], area);
    }
done:
    free(redges);
    free(cedges);
    free(cnt);
    return st;
}

/* Exact mean of one group: the float32 ratios of its blocks summed in
 * double (blocks past the grid are zero padding), divided by the group
 * size.  Only used when the group total alone cannot decide the class. */
static int group_mean_exact(const maskinfo_mask *m, int64_t b, int64_t h,
                            int64_t Q, int64_t K, int64_t qb, int64_t kb,
                            int64_t brows, int64_t bcols, int64_t rs,
                            int64_t cs, int64_t gi, int64_t gj, float area,
                            double *mean)
{
    int64_t r0 = gi * rs, c0 = gj * cs;
    int64_t nr = brows - r0 < rs ? brows - r0 : rs;
    int64_t nc = bcols - c0 < cs ? bcols - c0 : cs;
    int64_t *redges = malloc((size_t)(nr + 1) * sizeof *redges);
    int64_t *cedges = malloc((size_t)(nc + 1) * sizeof *cedges);
    uint64_t *cnt = malloc((size_t)(nr * nc) * sizeof *cnt);
    int st = MASKINFO_OK;
    if (redges == NULL || cedges == NULL || cnt == NULL) {
        st = MASKINFO_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i <= nr; i++)
        redges[i] = block_edge(r0 + i, brows, qb, Q);
    for (int64_t j = 0; j <= nc; j++)
        cedges[j] = block_edge(c0 + j, bcols, kb, K);
    st = maskinfo_mask_grid_counts(m, b, h, redges, nr, cedges, nc, cnt, NULL);
    if (st != MASKINFO_OK)
        goto done;
    double sum = 0.0;
    for (int64_t i = 0; i < nr * nc; i++)
        sum += (double)block_ratio(cnt[i], area);
    *mean = sum / ((double)rs * (double)cs);
done:
    free(redges);
    free(cedges);
    free(cnt);
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
                               unsigned char *cls)
{
    if (nr == 0 || nc == 0)
        return MASKINFO_OK;
    int64_t *redges = malloc((size_t)(nr + 1) * sizeof *redges);
    int64_t *cedges = malloc((size_t)(nc + 1) * sizeof *cedges);
    uint64_t *cnt = malloc((size_t)(nr * nc) * sizeof *cnt);
    int st = MASKINFO_OK;
    if (redges == NULL || cedges == NULL || cnt == NULL) {
        st = MASKINFO_ENOMEM;
        goto done;
    }
    /* group g starts at block g*step; g*step <= blocks + step - 1 */
    for (int64_t i = 0; i <= nr; i++)
        redges[i] = block_edge(i * rs, brows, qb, Q);
    for (int64_t j = 0; j <= nc; j++)
        cedges[j] = block_edge(j * cs, bcols, kb, K);
    st = maskinfo_mask_grid_counts(m, b, h, redges, nr, cedges, nc, cnt, NULL);
    if (st != MASKINFO_OK)
        goto done;
    double denom = (double)area * (double)rs * (double)cs;
    for (int64_t gi = 0; gi < nr; gi++) {
        for (int64_t gj = 0; gj < nc; gj++) {
            uint64_t c = cnt[gi * nc + gj];
            int k;
            if (c == 0) {
                k = 0; /* every ratio is exactly 0 */
            } else {
                double approx = (double)c / denom;
                int lo = mean_class(approx * (1.0 - 0x1p-22));
                int hi = mean_class(approx * (1.0 + 0x1p-22));
                if (lo == hi) {
                    k = lo;
                } else {
                    double mean = 0.0;
                    st = group_mean_exact(m, b, h, Q, K, qb, kb, brows, bcols,
                                          rs, cs, gi, gj, area, &mean);
                    if (st != MASKINFO_OK)
                        goto done;
                    k = mean_class(mean);
                }
            }
            cls[gi * nc + gj] = (unsigned char)k;
        }
    }
done:
    free(redges);
    free(cedges);
    free(cnt);
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
    (void)lim; /* the allocations below are checked against it in the core split */
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

    int64_t brows = ceil_div(Q, qb), bcols = ceil_div(K, kb);
    int64_t rs = 1, cs = 1;
    if (o->fit_in_screen) {
        rs = ceil_div(brows, o->max_rows);
        cs = ceil_div(bcols, o->max_cols);
        if (rs < 1)
            rs = 1;
        if (cs < 1)
            cs = 1;
    }
    int down = rs > 1 || cs > 1;
    int64_t nr = down ? ceil_div(brows, rs) : brows;
    int64_t nc = down ? ceil_div(bcols, cs) : bcols;

    if (nc > 0 && nr > INT64_MAX / nc)
        return MASKINFO_EOVERFLOW;
    if ((uint64_t)(nr * nc) > SIZE_MAX / 6)
        return MASKINFO_EOVERFLOW;

    int st = MASKINFO_OK;
    sbuf s = { NULL, 0, 0, MASKINFO_OK };
    int64_t *qlab = NULL, *klab = NULL;
    unsigned char *cls = malloc(nr * nc > 0 ? (size_t)(nr * nc) : 1);
    if (cls == NULL)
        return MASKINFO_ENOMEM;
    if (segs) {
        qlab = malloc((size_t)(brows > 0 ? brows : 1) * sizeof *qlab);
        klab = malloc((size_t)(bcols > 0 ? bcols : 1) * sizeof *klab);
        if (qlab == NULL || klab == NULL) {
            st = MASKINFO_ENOMEM;
            goto done;
        }
        block_labels(q_ids, Q, qb, brows, qlab);
        block_labels(kv_ids, K, kb, bcols, klab);
    }
    int64_t nql = brows, nkl = bcols;
    if (down) {
        st = classes_downsampled(m, o->batch, o->head, Q, K, qb, kb, brows,
                                 bcols, rs, cs, nr, nc, area, cls);
        if (segs) {
            nql = downsample_labels(qlab, brows, rs);
            nkl = downsample_labels(klab, bcols, cs);
        }
    } else {
        st = classes_plain(m, o->batch, o->head, Q, K, qb, kb, brows, bcols,
                           area, cls);
    }
    if (st != MASKINFO_OK)
        goto done;

    /* header */
    char t[160];
    snprintf(t, sizeof t,
             "Attention mask (batch=%" PRId64 ", head=%" PRId64
             ") block=(%" PRId64 "x%" PRId64 ") mask_shape=",
             o->batch, o->head, qb, kb);
    sb_puts(&s, t);
    if (shape_str != NULL) {
        sb_puts(&s, shape_str);
    } else {
        snprintf(t, sizeof t, "(%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ")",
                 shp[0], shp[1], Q, K);
        sb_puts(&s, t);
    }
    sb_put(&s, "\n", 1);

    int64_t left = segs ? 6 : 0;
    /* width_cells = len(lines[0]) // 2 if lines else 0 */
    int64_t width = nr > 0 ? nc : 0;
    if (segs && nc > 0) {
        sb_spaces(&s, left + 3);
        for (int64_t j = 0; j < nkl; j++)
            put_two_char(&s, klab[j]);
        sb_put(&s, "\n", 1);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int64_t r = 0; r < nr; r++) {
                if (segs) {
                    put_left_label(&s, r < nql ? qlab[r] : LBL_PAD);
                    sb_put(&s, " ", 1);
                }
                sb_put(&s, "||", 2);
                for (int64_t c = 0; c < nc; c++) {
                    unsigned char k = cls[r * nc + c];
                    if (k == 0)
                        sb_put(&s, "  ", 2);
                    else if (o->ascii)
                        sb_put(&s, k == 2 ? "##" : "..", 2);
                    else
                        sb_puts(&s, k == 2 ? U_FULL : U_PARTIAL);
                }
                sb_put(&s, "||\n", 3);
            }
        }
        sb_spaces(&s, left + 2);
        for (int64_t c = 0; c < width; c++)
            sb_put(&s, "==", 2);
        sb_put(&s, "  \n", 3);
    }
    sb_puts(&s, LEGEND_MASK);
    if (segs)
        sb_puts(&s, LEGEND_SEG);
    st = s.err;

done:
    free(cls);
    free(qlab);
    free(klab);
    if (st != MASKINFO_OK) {
        free(s.buf);
        return st;
    }
    *out = s.buf;
    if (len != NULL)
        *len = s.len;
    return MASKINFO_OK;
}
