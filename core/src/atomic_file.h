/*
 * atomic_file.h - write a file whole or not at all (atomic_file.c), for the
 * PNG renderer and the exports.
 */
#ifndef MASKINFO_ATOMIC_FILE_H
#define MASKINFO_ATOMIC_FILE_H

#include "maskinfo.h"

#include <stdio.h>

/* fill(fp, ctx) writes the content to a temporary file beside path and
 * returns a status; the file is then fsync'd and renamed over path.  Any
 * failure removes the temporary file and leaves path untouched.  On
 * MASKINFO_EIO errno holds the reason of the call that failed; a fill that
 * returns MASKINFO_EIO must leave errno set the same way. */
typedef int (*maskinfo__fill_fn)(FILE *fp, void *ctx);
int maskinfo__write_atomic(const char *path, maskinfo__fill_fn fill, void *ctx);

#endif
