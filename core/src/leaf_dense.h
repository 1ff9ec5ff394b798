/*
 * leaf_dense.h - what leaf_dense.c offers the rest of the core besides the
 * public constructors: segment-id hashing straight from a dense leaf's words
 * (conversions.c uses it without seeing the node's layout).
 */
#ifndef MASKINFO_LEAF_DENSE_H
#define MASKINFO_LEAF_DENSE_H

#include <stdint.h>

#include "maskinfo.h"

/* Row keys (and, if ch1, column keys) of plane
 * (b, h) of a mask that is one dense leaf, hashed from its 64-bit words
 * with the per-word keys kw* and per-64-row keys qw*. */
int maskinfo__dense_plane_hashes(const maskinfo_mask *m, int64_t b, int64_t h,
                                 const uint64_t *kw1, const uint64_t *kw2,
                                 const uint64_t *qw1, const uint64_t *qw2,
                                 uint64_t *rh1, uint64_t *rh2, uint64_t *rc,
                                 uint64_t *ch1, uint64_t *ch2, uint64_t *cc,
                                 int nthreads, const maskinfo_limits *lim);
/* 1 if m is one dense leaf. */
int maskinfo__is_dense_leaf(const maskinfo_mask *m);

#endif
