/*
 * block_closed.h - a block row of a mask with closed forms (linear.h) as
 * ranges of block columns (block_closed.c): the block classes (blocks.c)
 * and the block runs (block_runs.c) of rule leaves over packed documents
 * cost O(pieces) per block row instead of O(rows).
 */
#ifndef MASKINFO_BLOCK_CLOSED_H
#define MASKINFO_BLOCK_CLOSED_H

#include "linear.h"

/* Pieces of one block row the closed form keeps; past them the caller
 * counts the rows. */
#define MI_BR_PIECES 32

/* A block row as ranges of block columns: the touched ones, one per piece
 * (they may overlap), and the full ones, one range [f0, f1) inside them. */
typedef struct {
    int64_t n, t[2 * MI_BR_PIECES];
    int64_t f0, f1;
} mi_block_ranges;

/* What every block row shares. */
typedef struct {
    int64_t bq, bk, Q, K, C;
    int64_t full_end_at_K; /* block columns up to here may be full when a row reaches K */
    maskinfo_tail_rule tail;
} mi_block_geom;

/* Block row [q0, q1) of plane (b, h): *ok = 0 when some piece has no
 * closed form (or there are more than MI_BR_PIECES), and the caller counts
 * its rows instead.  Fails only when lin's run table cannot grow. */
int maskinfo__block_closed_row(mi_lin_ctx *lin, const mi_block_geom *g, int64_t b, int64_t h, int64_t q0,
                               int64_t q1, mi_block_ranges *o, int *ok);

#endif
