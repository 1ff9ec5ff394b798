/*
 * kernels.h - what the kernel-format files (block_runs.c, kernels.c,
 * flashmask.c, splash.c, npy_read.c) share: the reason buffer and the
 * one-budget check that says how big a refused call would have been.
 */
#ifndef MASKINFO_KERNELS_H
#define MASKINFO_KERNELS_H

#include "util.h"

#include <stdarg.h>
#include <stdio.h>

/* Format the reason into why (when given) and return st. */
static inline int mi_why(char *why, size_t n, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int mi_why(char *why, size_t n, int st, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* The whole call's allocation against the guard, before any of it is
 * made; a refusal names the size (the binding adds the limit). */
static inline int mi_budget(const maskinfo_limits *lim, uint64_t bytes, char *why, size_t n)
{
    int st = maskinfo_check_alloc(lim, bytes, 1);
    if (st == MASKINFO_ETOOBIG)
        return mi_why(why, n, st, "needs %.1f MiB (%llu bytes), over the memory limit", (double)bytes / 1048576.0,
                      (unsigned long long)bytes);
    return st;
}

/* Grow *p (cap elements of sz bytes) to hold need, doubling, under the
 * guard. */
static inline int mi_grow(void **p, int64_t *cap, int64_t need, size_t sz, const maskinfo_limits *lim)
{
    if (need <= *cap)
        return MASKINFO_OK;
    int64_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    int st = maskinfo_check_alloc(lim, (uint64_t)c, sz);
    if (st)
        return st;
    void *q = realloc(*p, (size_t)c * sz);
    if (q == NULL)
        return MASKINFO_ENOMEM;
    *p = q;
    *cap = c;
    return MASKINFO_OK;
}

#endif
