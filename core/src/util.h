/*
 * util.h - small helpers every core file may use: checked sizes, saturating
 * and floor arithmetic, guarded allocation, splitmix64 and OpenMP team
 * sizes.  Nothing here knows the mask node (that is node.h).
 */
#ifndef MASKINFO_UTIL_H
#define MASKINFO_UTIL_H

#include "maskinfo.h"

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static inline int64_t mi_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t mi_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Checked product of non-negative sizes; -1 on overflow. */
static inline int64_t maskinfo__mul(int64_t a, int64_t b)
{
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > INT64_MAX / a) return -1;
    return a * b;
}

/* ceil(x / d) for x >= 0, d >= 1, without the overflow of x + d - 1 */
static inline int64_t mi_ceil_div(int64_t x, int64_t d) { return x / d + (x % d != 0); }

/* floor division for a possibly negative numerator, d > 0 */
static inline int64_t mi_floordiv(int64_t n, int64_t d)
{
    int64_t q = n / d;
    return (n % d != 0 && n < 0) ? q - 1 : q;
}

/* a + b clamped to the int64 range: offsets and windows may be huge */
static inline int64_t mi_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}
static inline int64_t mi_sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* splitmix64: a bijective 64-bit mixer, for counter-based random bits and
 * hash weights that depend only on their input (so on no thread count) */
static inline uint64_t maskinfo__splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/*
 * n elements of sz bytes (zeroed if zero), checked against the guard first
 * (NULL lim: the default guard).  The status is sticky: once *st is not
 * MASKINFO_OK nothing more is allocated, so a run of allocations needs one
 * test at the end.  n == 0 still gives a non-NULL block.
 */
static inline void *mi_alloc(const maskinfo_limits *lim, int64_t n, size_t sz,
                             int zero, int *st)
{
    if (*st) return NULL;
    if (n < 0) n = 0;
    int s = maskinfo_check_alloc(lim, (uint64_t)n, sz);
    if (s) {
        *st = s;
        return NULL;
    }
    size_t cnt = n > 0 ? (size_t)n : 1;
    void *p = zero ? calloc(cnt, sz) : malloc(cnt * sz);
    if (!p) *st = MASKINFO_ENOMEM;
    return p;
}

/* A row scratch whose growth is checked against lim (NULL: the default
 * guard); maskinfo_scratch_new() is this with the default (eval.c). */
maskinfo_scratch *maskinfo__scratch_new(const maskinfo_limits *lim);

/* Half-precision rounding straight from double (status.c): going through
 * float first could round twice. */
uint16_t maskinfo__double_to_f16(double d);
uint16_t maskinfo__double_to_bf16(double d);

/*
 * Threads for a loop whose threads each own O(K) accumulators: one below
 * 256 rows (starting a team costs more than the work), else at most
 * MI_MAX_ROW_THREADS, past which such loops are memory bound anyway.
 */
#define MI_MAX_ROW_THREADS 8
static inline int mi_max_threads(int64_t rows)
{
#ifdef _OPENMP
    if (rows < 256) return 1;
    int t = omp_get_max_threads();
    if (t > MI_MAX_ROW_THREADS) t = MI_MAX_ROW_THREADS;
    return t > 0 ? t : 1;
#else
    (void)rows;
    return 1;
#endif
}

static inline int mi_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#endif
