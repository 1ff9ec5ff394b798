/*
 * block_closed.c - a block row of a mask with closed forms as ranges of
 * block columns (see block_closed.h).
 */
#include "block_closed.h"

/*
 * Block row [q0, q1) of plane (b, h) from the closed forms.  Within a
 * piece, row r is [L(r), H(r)) with L(r) = max(lc, r + ls) and H(r) =
 * min(hc, r + hs), both non-decreasing, and r is non-empty exactly for r
 * in (lc - hs, hc - ls) (when lc < hc and ls < hs).  Consecutive non-empty
 * rows overlap (L(r + 1) <= L(r) + 1 <= H(r)), so a piece's rows touch
 * [L(first), H(last)); every row covers [max L, min H), so a block is full
 * when all rows of the block row are non-empty and it lies inside
 * [max L, min H) over all pieces.  *ok = 0: some piece has no closed form.
 */
int maskinfo__block_closed_row(mi_lin_ctx *lin, const mi_block_geom *g, int64_t b, int64_t h, int64_t q0,
                               int64_t q1, mi_block_ranges *o, int *ok)
{
    int64_t Lmax = 0, Hmin = g->K;
    int all_rows = 1;
    o->n = 0;
    *ok = 0;
    for (int64_t q = q0, qend; q < q1; q = qend) {
        mi_lin f;
        int closed;
        int st = maskinfo__lin_piece(lin, b, h, q, q1, &f, &qend, &closed);
        if (st)
            return st;
        if (!closed || o->n == MI_BR_PIECES)
            return MASKINFO_OK;
        int64_t ra = q, rb = qend;
        if (f.lc < f.hc && f.ls < f.hs) {
            ra = mi_max64(q, f.lc - f.hs + 1);
            rb = mi_min64(qend, f.hc - f.ls);
        } else {
            rb = ra;
        }
        if (ra != q || rb != qend)
            all_rows = 0;
        if (ra >= rb)
            continue;
        int64_t lo_a, hi_a, lo_b, hi_b; /* the first and the last row */
        maskinfo__lin_row(&f, ra, &lo_a, &hi_a);
        maskinfo__lin_row(&f, rb - 1, &lo_b, &hi_b);
        Lmax = mi_max64(Lmax, lo_b);
        Hmin = mi_min64(Hmin, hi_a);
        o->t[2 * o->n] = lo_a / g->bk;
        o->t[2 * o->n + 1] = mi_ceil_div(hi_b, g->bk);
        o->n++;
    }
    o->f0 = o->f1 = 0;
    const int cut_row = q1 - q0 < g->bq && g->tail == MASKINFO_TAIL_PADDED;
    if (all_rows && !cut_row && Lmax < Hmin) {
        o->f0 = mi_ceil_div(Lmax, g->bk);
        o->f1 = Hmin == g->K ? g->full_end_at_K : Hmin / g->bk;
    }
    *ok = 1;
    return MASKINFO_OK;
}
