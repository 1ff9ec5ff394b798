/*
 * grid.c - the count grid kernel shared by grid_counts, the renderers and
 * the block classes (blocks.c): allowed cells of bands of query rows per
 * column.  maskinfo__grid_span (grid.h) touches only the columns the rows
 * cover and adds closed-form pieces (linear.h) a column at a time.
 */
#include "grid.h"

#include <string.h>

/* last bucket j with edges[j] <= x (edges non-decreasing, n+1 entries);
 * callers keep x < edges[n], so j < n */
static int64_t bucket_of(const int64_t *edges, int64_t n, int64_t x) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (edges[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
}

/* bucket_of searching upwards from bucket `from` (edges[from] <= x when
 * from is right): galloping, so a row's sorted intervals cost O(log gap)
 * each rather than O(log n) - a strided row of thousands of runs walks
 * its buckets about once.  Falls back to the full search if x lies
 * below edges[from]. */
static int64_t bucket_from(const int64_t *edges, int64_t n, int64_t x, int64_t from) {
    if (from <= 0 || from >= n || edges[from] > x) return bucket_of(edges, n, x);
    int64_t lo = from, step = 1;
    while (lo + step < n && edges[lo + step] <= x) {
        lo += step;
        step *= 2;
    }
    int64_t hi = mi_min64(lo + step, n) - 1; /* edges[hi + 1] > x or hi = n - 1 */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (edges[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
}

/* Start of column j (j <= n) of n uniform columns of width keys: below K
 * for j < n, so only the end edge needs clipping. */
static inline int64_t uniform_edge(int64_t j, int64_t n, int64_t width, int64_t K) {
    return j >= n ? K : j * width;
}

static inline int64_t col_of(const mi_grid_cols *c, int64_t x) {
    return c->width ? x / c->width : bucket_of(c->edges, c->n, x);
}
static inline int64_t edge_of(const mi_grid_cols *c, int64_t j) {
    return c->width ? uniform_edge(j, c->n, c->width, c->K) : c->edges[j];
}

/*
 * One row's intervals into cnt and diff: an interval adds its partial first
 * and last columns directly and marks the fully covered columns in between
 * in the difference array, so it costs O(1) (uniform columns, width > 0)
 * or O(log n) (edges) however many columns it spans.  [*j0, *j1) grows to
 * the columns touched.  Always inlined, so each kind of column gets its own
 * loop with width known.
 */
static inline __attribute__((always_inline)) void
add_row(const int64_t *v, int64_t nt, const int64_t *edges, int64_t n, int64_t width,
        int64_t K, uint64_t *cnt, int64_t *diff, int64_t *sj0, int64_t *sj1) {
    const int64_t c0 = width ? 0 : edges[0], cN = width ? K : edges[n];
    int64_t at = 0; /* bucket of the previous interval's end */
    for (int64_t t = 0; t < nt; t++) {
        int64_t lo = mi_max64(v[2 * t], c0), hi = mi_min64(v[2 * t + 1], cN);
        if (lo >= hi) continue;
        int64_t j0 = width ? lo / width : bucket_from(edges, n, lo, at);
        int64_t j1 = width ? (hi - 1) / width : bucket_from(edges, n, hi - 1, j0);
        at = j1;
        if (j0 < *sj0) *sj0 = j0;
        if (j1 + 1 > *sj1) *sj1 = j1 + 1;
        if (j0 == j1) {
            cnt[j0] += (uint64_t)(hi - lo);
        } else {
            int64_t e0 = width ? uniform_edge(j0 + 1, n, width, K) : edges[j0 + 1];
            int64_t e1 = width ? uniform_edge(j1, n, width, K) : edges[j1];
            cnt[j0] += (uint64_t)(e0 - lo);
            cnt[j1] += (uint64_t)(hi - e1);
            diff[j0 + 1] += 1;
            diff[j1] -= 1;
        }
    }
}

static int add_rows(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q0, int64_t q1,
                    const mi_grid_cols *c, uint64_t *cnt, int64_t *diff, maskinfo_scratch *s,
                    int64_t *sj0, int64_t *sj1) {
    for (int64_t q = q0; q < q1; q++) {
        s->len = 0;
        int st = maskinfo__eval(m, b, h, q, s);
        if (st) return st;
        if (c->width)
            add_row(s->v, s->len / 2, NULL, c->n, c->width, c->K, cnt, diff, sj0, sj1);
        else
            add_row(s->v, s->len / 2, c->edges, c->n, 0, c->K, cnt, diff, sj0, sj1);
    }
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ spans */

uint64_t maskinfo__grid_bytes(const mi_grid_cols *c) {
    return ((uint64_t)c->n + 1) * (sizeof(uint64_t) + sizeof(int64_t));
}

int maskinfo__grid_init(mi_grid *g, const maskinfo_mask *m, const mi_grid_cols *c,
                        const maskinfo_limits *lim) {
    memset(g, 0, sizeof *g);
    int st = MASKINFO_OK;
    g->cols = *c;
    g->m = m;
    g->cnt = mi_alloc(lim, c->n + 1, sizeof *g->cnt, 1, &st);
    g->diff = mi_alloc(lim, c->n + 1, sizeof *g->diff, 1, &st);
    g->s = st ? NULL : maskinfo__scratch_new(lim);
    if (!st && !g->s) st = MASKINFO_ENOMEM;
    if (!st) g->lin = maskinfo__lin_new(m, lim); /* NULL: no closed form */
    if (st) maskinfo__grid_done(g);
    return st;
}

void maskinfo__grid_done(mi_grid *g) {
    free(g->cnt);
    free(g->diff);
    maskinfo_scratch_free(g->s);
    maskinfo__lin_free(g->lin);
    memset(g, 0, sizeof *g);
}

/*
 * Rows [qa, qb) of piece f.  Row q is [L(q), H(q)) with L and H
 * non-decreasing in q, so every row covers [L(qb-1), H(qa)) and the rows
 * together lie in [L(qa), H(qb-1)).  The columns inside the first are
 * marked whole in diff; the others get their cells by a closed form.
 */
static void add_piece(mi_grid *g, const mi_lin *f, int64_t qa, int64_t qb) {
    const mi_grid_cols *c = &g->cols;
    const int64_t c0 = edge_of(c, 0), cN = edge_of(c, c->n);
    int64_t lo = mi_max64(mi_max64(f->lc, qa + f->ls), c0);
    int64_t hi = mi_min64(mi_min64(f->hc, qb - 1 + f->hs), cN);
    if (lo >= hi) return;
    int64_t Lmax = mi_max64(mi_max64(f->lc, qb - 1 + f->ls), c0);
    int64_t Hmin = mi_min64(mi_min64(f->hc, qa + f->hs), cN);
    int64_t ja = col_of(c, lo), jz = col_of(c, hi - 1);
    int64_t ca = jz + 1, cb = jz + 1; /* whole columns [ca, cb), never the last */
    if (Lmax < Hmin) {
        ca = col_of(c, Lmax);
        if (edge_of(c, ca) < Lmax) ca++;
        cb = col_of(c, Hmin - 1);
        if (edge_of(c, cb + 1) > Hmin) cb--;
        cb = mi_min64(cb + 1, c->n - 1);
        if (ca >= cb) ca = cb = jz + 1;
    }
    if (ca < cb) {
        g->diff[ca] += qb - qa;
        g->diff[cb] -= qb - qa;
    }
    for (int64_t j = ja; j <= jz; j++) {
        if (j == ca) j = cb;
        if (j > jz) break;
        g->cnt[j] += maskinfo__lin_sum(f, qa, qb, edge_of(c, j), edge_of(c, j + 1));
    }
    if (ja < g->j0) g->j0 = ja;
    if (jz + 1 > g->j1) g->j1 = jz + 1;
}

int maskinfo__grid_span(mi_grid *g, int64_t b, int64_t h, int64_t q0, int64_t q1) {
    if (g->j1 > g->j0) {
        memset(g->cnt + g->j0, 0, (size_t)(g->j1 - g->j0) * sizeof *g->cnt);
        memset(g->diff + g->j0, 0, (size_t)(g->j1 - g->j0 + 1) * sizeof *g->diff);
    }
    g->j0 = g->cols.n;
    g->j1 = 0;
    for (int64_t q = q0; q < q1;) {
        int64_t qend = q1;
        int closed = 0, st = MASKINFO_OK;
        mi_lin f;
        if (g->lin) st = maskinfo__lin_piece(g->lin, b, h, q, q1, &f, &qend, &closed);
        if (!st && closed)
            add_piece(g, &f, q, qend);
        else if (!st)
            st = add_rows(g->m, b, h, q, qend, &g->cols, g->cnt, g->diff, g->s, &g->j0, &g->j1);
        if (st) return st;
        q = qend;
    }
    if (g->j1 <= g->j0) g->j0 = g->j1 = 0;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ segments and causal */

/*
 * A plane that is (segment ids AND causal), alone or as a head of
 * stack_heads (the strided and per-document patterns), counted from a
 * table of keys per (kv id, column): a bucket's columns left of every
 * row's causal limit get sum over ids of (rows with that id) x (keys of
 * that id in the column), so a strided row of thousands of one-key runs
 * costs O(1), not O(runs).  Columns the limits cross are counted per row
 * through the id's runs.  Returns 1 when it counted, 0 when the plane is
 * not of this form (or the table would be too big): then the rows are
 * evaluated as usual.
 */
#define SEG_TABLE_MAX ((int64_t)1 << 22) /* ids x columns */

typedef struct {
    const int64_t *lo, *hi, *pre; /* the runs of one id, pre: keys before each */
    int64_t n;
} id_runs;

/* Keys of an id below t. */
static int64_t keys_below(const id_runs *r, int64_t t)
{
    int64_t a = 0, z = r->n; /* runs [0, a) start below t */
    while (a < z) {
        int64_t mid = a + (z - a) / 2;
        if (r->lo[mid] < t) a = mid + 1; else z = mid;
    }
    if (a == 0) return 0;
    return r->pre[a - 1] + mi_min64(r->hi[a - 1], t) - r->lo[a - 1];
}

static int seg_causal_counts(const maskinfo_mask *m, int64_t b, int64_t h, const int64_t *re, int64_t nrows,
                             const int64_t *ce, int64_t ncols, uint64_t *counts, const maskinfo_limits *lim,
                             int *err)
{
    const maskinfo_mask *n = m;
    if (n->kind == MI_STACK) {
        n = n->u.stack.parts[h];
        h = 0;
    }
    if (n->kind != MI_AND || n->B != m->B || n->Q != m->Q || n->K != m->K) return 0;
    const maskinfo_mask *sg = n->u.bin.a, *cz = n->u.bin.b;
    if (sg->kind == MI_CAUSAL) {
        const maskinfo_mask *t = sg;
        sg = cz;
        cz = t;
    }
    if (sg->kind != MI_SEG || cz->kind != MI_CAUSAL || sg->B != m->B || cz->B != m->B) return 0;
    const mi_seg_leaf *g = &sg->u.seg;
    const int64_t Q = m->Q, K = m->K, off = cz->u.causal.off[b];
    const int64_t *qv = g->qv + (b * g->hq + (g->hq == 1 ? 0 : h)) * Q;
    int64_t pl = b * g->hk + (g->hk == 1 ? 0 : h), r0 = g->run_off[pl], r1 = g->run_off[pl + 1];
    const int64_t *rid = g->run_id + r0, *rlo = g->run_lo + r0, *rhi = g->run_hi + r0, R = r1 - r0;
    int64_t D = 0;
    for (int64_t r = 0; r < R; r++)
        if (r == 0 || rid[r] != rid[r - 1]) D++;
    if (D == 0 || D > SEG_TABLE_MAX / ncols) return 0;
    int st = MASKINFO_OK;
    int64_t *ids = mi_alloc(lim, D, sizeof *ids, 0, &st), *first = mi_alloc(lim, D + 1, sizeof *first, 0, &st);
    int64_t *pre = mi_alloc(lim, R, sizeof *pre, 0, &st), *nrow = mi_alloc(lim, D, sizeof *nrow, 1, &st);
    int64_t *touched = mi_alloc(lim, D, sizeof *touched, 0, &st);
    uint64_t *tab = mi_alloc(lim, D * ncols, sizeof *tab, 1, &st);
    if (st) goto done;
    D = 0;
    for (int64_t r = 0; r < R; r++) {
        if (r == 0 || rid[r] != rid[r - 1]) {
            ids[D] = rid[r];
            first[D++] = r;
            pre[r] = 0;
        } else {
            pre[r] = pre[r - 1] + rhi[r - 1] - rlo[r - 1];
        }
        int64_t lo = mi_max64(rlo[r], ce[0]), hi = mi_min64(rhi[r], ce[ncols]);
        for (int64_t j = lo < hi ? bucket_of(ce, ncols, lo) : ncols; j < ncols && ce[j] < hi; j++)
            tab[(D - 1) * ncols + j] += (uint64_t)(mi_min64(hi, ce[j + 1]) - mi_max64(lo, ce[j]));
    }
    first[D] = R;
    for (int64_t i = 0; i < nrows; i++) {
        uint64_t *out = counts + i * ncols;
        memset(out, 0, (size_t)ncols * sizeof *out);
        int64_t qa = re[i], qb = re[i + 1], nt = 0;
        if (qa >= qb) continue;
        int64_t Lmin = mi_min64(mi_sat_add(qa, mi_sat_add(off, 1)), K); /* keys < L(q) */
        int64_t jf = 0; /* columns [0, jf) lie left of every row's limit */
        while (jf < ncols && ce[jf + 1] <= Lmin) jf++;
        for (int64_t q = qa; q < qb; q++) {
            int64_t id = qv[q];
            if (id == MASKINFO_NOMATCH_Q) continue;
            int64_t a = 0, z = D;
            while (a < z) {
                int64_t mid = a + (z - a) / 2;
                if (ids[mid] < id) a = mid + 1; else z = mid;
            }
            if (a == D || ids[a] != id) continue;
            if (nrow[a]++ == 0) touched[nt++] = a;
            /* the columns this row's limit reaches past jf */
            int64_t L = mi_max64(mi_min64(mi_sat_add(q, mi_sat_add(off, 1)), K), 0);
            id_runs ir = {rlo + first[a], rhi + first[a], pre + first[a], first[a + 1] - first[a]};
            for (int64_t j = jf; j < ncols && ce[j] < L; j++)
                out[j] += ce[j + 1] <= L ? tab[a * ncols + j]
                                         : (uint64_t)(keys_below(&ir, L) - keys_below(&ir, ce[j]));
        }
        for (int64_t t = 0; t < nt; t++) {
            int64_t x = touched[t];
            uint64_t c = (uint64_t)nrow[x];
            const uint64_t *row = tab + x * ncols;
            for (int64_t j = 0; j < jf; j++) out[j] += c * row[j];
            nrow[x] = 0;
        }
    }
done:
    free(ids);
    free(first);
    free(pre);
    free(nrow);
    free(touched);
    free(tab);
    *err = st;
    return 1;
}

/* ------------------------------------------------------------ grid_counts */

int maskinfo_mask_grid_counts(const maskinfo_mask *m, int64_t b, int64_t h,
                              const int64_t *row_edges, int64_t nrows,
                              const int64_t *col_edges, int64_t ncols,
                              uint64_t *counts, const maskinfo_limits *lim) {
    if (b < 0 || b >= m->B || h < 0 || h >= m->H || nrows < 0 || ncols < 0)
        return MASKINFO_EINVAL;
    for (int64_t i = 0; i < nrows; i++)
        if (row_edges[i] < 0 || row_edges[i] > row_edges[i + 1] || row_edges[i + 1] > m->Q)
            return MASKINFO_EINVAL;
    for (int64_t j = 0; j < ncols; j++)
        if (col_edges[j] < 0 || col_edges[j] > col_edges[j + 1] || col_edges[j + 1] > m->K)
            return MASKINFO_EINVAL;
    if (nrows == 0 || ncols == 0) return MASKINFO_OK;
    int serr = MASKINFO_OK;
    if (seg_causal_counts(m, b, h, row_edges, nrows, col_edges, ncols, counts, lim, &serr)) return serr;
    mi_grid_cols cols = {col_edges, ncols, 0, m->K};
    int64_t w = ncols > 1 ? col_edges[1] : 0; /* uniform from 0: divide, don't search */
    int uniform = col_edges[0] == 0 && w > 0 && col_edges[ncols] > (ncols - 1) * w &&
                  col_edges[ncols] <= ncols * w;
    for (int64_t j = 2; uniform && j < ncols; j++) uniform = col_edges[j] == j * w;
    if (uniform) cols = (mi_grid_cols){NULL, ncols, w, col_edges[ncols]};
    int err = maskinfo_check_alloc(lim, maskinfo__grid_bytes(&cols), 1);
    if (err) return err;
    int64_t work = maskinfo__mul(row_edges[nrows] - row_edges[0], maskinfo__row_cost(m));
#pragma omp parallel if (nrows > 1 && (work < 0 || work >= MI_PAR_WORK))
    {
        mi_grid g;
        int lerr = maskinfo__grid_init(&g, m, &cols, lim);
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < nrows; i++) {
            if (lerr) continue;
            uint64_t *out = counts + i * ncols;
            lerr = maskinfo__grid_span(&g, b, h, row_edges[i], row_edges[i + 1]);
            if (lerr) continue;
            memset(out, 0, (size_t)ncols * sizeof *out);
            int64_t run = 0; /* one prefix sum turns the marks into counts */
            for (int64_t j = g.j0; j < g.j1; j++) {
                run += g.diff[j];
                out[j] = g.cnt[j] + (uint64_t)run * (uint64_t)(col_edges[j + 1] - col_edges[j]);
            }
        }
        if (lerr) {
#pragma omp critical
            err = lerr;
        }
        maskinfo__grid_done(&g);
    }
    return err;
}
