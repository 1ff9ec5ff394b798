/*
 * rng.h - the small deterministic generator (an LCG) of the C property tests.
 *
 * Each test picks its own seed, so its random cases stay the ones it always
 * ran:  #define TEST_RNG_SEED 0x...ull  before including this header.
 */
#ifndef MASKINFO_TESTS_RNG_H
#define MASKINFO_TESTS_RNG_H

#include <stdint.h>
#include <stdlib.h>

#ifndef TEST_RNG_SEED
#error "define TEST_RNG_SEED before including rng.h"
#endif

static uint64_t rng_state = TEST_RNG_SEED;

static inline uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* uniform in [0, n); 0 when n <= 0 */
static inline int64_t rndi(int64_t n)
{
    return n <= 0 ? 0 : (int64_t)(rnd() % (uint32_t)n);
}

/* uniform in [lo, hi] */
static inline int64_t rndr(int64_t lo, int64_t hi) { return lo + rndi(hi - lo + 1); }

/* n random cell bytes, about percent % of them nonzero (any nonzero value) */
static inline uint8_t *rnd_cells(int64_t n, int percent)
{
    uint8_t *c = malloc((size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++)
        c[i] = rndi(100) < percent ? (uint8_t)(1 + rndi(255)) : 0;
    return c;
}

#endif
