/*
 * grid.h - the count grid kernel that touches only what a row covers
 * (grid.c): grid_counts uses it, and so do the block classes (blocks.c)
 * for block rows without a closed form.
 *
 * One mi_grid per thread.  maskinfo__grid_span counts rows [q0, q1) of one
 * plane into the grid's columns and reports the span [j0, j1) of columns
 * it touched; every column outside holds 0.  Column j in the span holds
 *     cnt[j] + run_j * (its width),   run_j = diff[j0] + ... + diff[j]
 * (run_j: rows that cover it whole; never the last column, so with uniform
 * columns that width is cols.width).  The next call clears only the
 * previous span, so a block row of a banded mask costs O(its span), not
 * O(columns).  Masks with a closed form (linear.h) add whole pieces of
 * rows per column in O(1).
 */
#ifndef MASKINFO_GRID_H
#define MASKINFO_GRID_H

#include "linear.h"

typedef struct {
    uint64_t *cnt;          /* cols.n entries */
    int64_t *diff;          /* cols.n + 1 entries */
    int64_t j0, j1;         /* span of the last call */
    mi_grid_cols cols;
    const maskinfo_mask *m;
    maskinfo_scratch *s;
    mi_lin_ctx *lin;        /* NULL: rows are evaluated one by one */
} mi_grid;

/* Bytes one mi_grid allocates besides its scratch (for the guard). */
uint64_t maskinfo__grid_bytes(const mi_grid_cols *c);
/* Allocates a zeroed grid for m's columns c; checked against lim. */
int maskinfo__grid_init(mi_grid *g, const maskinfo_mask *m, const mi_grid_cols *c,
                        const maskinfo_limits *lim);
void maskinfo__grid_done(mi_grid *g);
int maskinfo__grid_span(mi_grid *g, int64_t b, int64_t h, int64_t q0, int64_t q1);

#endif
