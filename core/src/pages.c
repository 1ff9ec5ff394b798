/*
 * pages.c - zeroed memory for big array data (see pages.h).
 *
 * Blocks from MI_PAGES_MIN bytes up are anonymous mappings rounded up to
 * 2 MiB and aligned to 2 MiB, so every part of them can become a huge page
 * when the caller asks (maskinfo__pages_dense).  Smaller ones use calloc.
 * Alloc and free round the same way, so the size alone says which it was.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include "pages.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define MI_HUGE ((size_t)2 << 20)

static size_t round_huge(size_t bytes) { return (bytes + MI_HUGE - 1) & ~(MI_HUGE - 1); }

void *maskinfo__pages_alloc(size_t bytes)
{
    if (bytes < MI_PAGES_MIN)
        return calloc(bytes ? bytes : 1, 1);
    size_t len = round_huge(bytes);
    if (len < bytes || len + MI_HUGE < len)
        return NULL; /* wraps */
    /* map one huge page more, then cut the unaligned head and the tail */
    uint8_t *raw = mmap(NULL, len + MI_HUGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + MI_HUGE - 1) & ~(uintptr_t)(MI_HUGE - 1));
    size_t head = (size_t)(p - raw), tail = MI_HUGE - head;
    if (head)
        munmap(raw, head);
    if (tail)
        munmap(p + len, tail);
    return p;
}

void maskinfo__pages_free(void *p, size_t bytes)
{
    if (p == NULL)
        return;
    if (bytes < MI_PAGES_MIN)
        free(p);
    else
        munmap(p, round_huge(bytes));
}

void maskinfo__pages_dense(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (p != NULL && bytes >= MI_PAGES_MIN)
        (void)madvise(p, round_huge(bytes), MADV_HUGEPAGE); /* a hint: failure is harmless */
#else
    (void)p;
    (void)bytes;
#endif
}
