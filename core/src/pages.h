/*
 * pages.h - memory for big array data: zeroed pages straight from mmap,
 * and a hint for outputs about to be written whole.
 *
 * Fresh 4 KiB pages cost a fault each on first touch; transparent huge
 * pages (THP in `madvise` mode) cut that cost 25-70x.  Only the caller
 * knows whether it will write every byte (a bias, a bit-row fill) or
 * leave most pages untouched (a banded bool mask, where untouched 4 KiB
 * pages are never mapped), so allocation is lazy and the hint is separate.
 */
#ifndef MASKINFO_PAGES_H
#define MASKINFO_PAGES_H

#include <stddef.h>

/* Blocks of at least this many bytes are mmap'ed, 2 MiB aligned. */
#define MI_PAGES_MIN ((size_t)4 << 20)

/* bytes of zeroed memory (bytes 0: one byte), or NULL. */
void *maskinfo__pages_alloc(size_t bytes);
/* Frees what maskinfo__pages_alloc(bytes) returned; NULL is a no-op. */
void maskinfo__pages_free(void *p, size_t bytes);
/* The caller will write all of [p, p + bytes) now: back it with huge
 * pages where the block is mmap'ed and the kernel allows it.  Call it
 * before the first touch; smaller blocks ignore it. */
void maskinfo__pages_dense(void *p, size_t bytes);

#endif
