/*
 * linear.h - closed forms for masks whose rows are one interval with
 * linear ends (linear.c): a segment leaf and rule leaves under `and`.
 *
 * Within a piece of rows [qa, qb) of one plane, row q of such a mask is
 *     [max(lc, q + ls), min(hc, q + hs))      (empty where that is empty)
 * so the cells of a piece in any key range are sums of arithmetic series:
 * counts, density and grid counts cost O(pieces), not O(rows).
 */
#ifndef MASKINFO_LINEAR_H
#define MASKINFO_LINEAR_H

#include "node.h"

typedef struct { int64_t lc, ls, hc, hs; } mi_lin;

/* Per-thread state: the query runs of the mask's segment leaf, for the
 * plane last asked about.  NULL when the mask has no closed form. */
typedef struct mi_lin_ctx mi_lin_ctx;
mi_lin_ctx *maskinfo__lin_new(const maskinfo_mask *m, const maskinfo_limits *lim);
void maskinfo__lin_free(mi_lin_ctx *c);

/*
 * The piece of plane (b, h) that starts at row q (q < qmax): *qend in
 * (q, qmax].  *closed is 1 when rows [q, *qend) follow *f, 0 when they must
 * be evaluated row by row.  Fails only when its run table cannot grow.
 */
int maskinfo__lin_piece(mi_lin_ctx *c, int64_t b, int64_t h, int64_t q, int64_t qmax,
                        mi_lin *f, int64_t *qend, int *closed);

/* Row q of piece f: [*lo, *hi), empty when *lo >= *hi. */
static inline void maskinfo__lin_row(const mi_lin *f, int64_t q, int64_t *lo, int64_t *hi) {
    *lo = mi_max64(f->lc, q + f->ls);
    *hi = mi_min64(f->hc, q + f->hs);
}

/* Cells of rows [qa, qb) of piece f inside keys [e0, e1). */
uint64_t maskinfo__lin_sum(const mi_lin *f, int64_t qa, int64_t qb, int64_t e0, int64_t e1);

/*
 * Work of evaluating one row of m, in rough node visits (capped; one is
 * some 10-40 ns).  A loop over rows goes parallel only from MI_PAR_WORK
 * units (rows x cost), some 20-80 ms on one thread: with another busy
 * process on the cores, a descheduled thread holds the team at its barrier
 * for a time slice while libgomp spins, which doubled 20 ms jobs here
 * (docs/performance.md, OMP_WAIT_POLICY).
 */
#define MI_PAR_WORK ((int64_t)1 << 21)
int64_t maskinfo__row_cost(const maskinfo_mask *m);

#endif
