/*
 * atomic_file.c - files that appear whole or not at all, for the PNG
 * renderer and the exports.
 *
 * The content goes to a temporary file beside the target (path plus a
 * mkstemp suffix: rename is atomic only within one file system), is
 * fsync'd, and is renamed over the target; the folder is fsync'd so the
 * rename survives a crash.  On any failure the temporary file is removed
 * and an existing target is left untouched.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fsync the folder holding path; once renamed nothing can be undone, so a
 * failure here is ignored. */
static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 2);
    if (dir == NULL)
        return;
    if (len == 0)
        strcpy(dir, ".");
    else {
        memcpy(dir, path, len);
        dir[len] = 0;
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* An existing file keeps its permission bits; a new one gets 0644 (less
 * nothing: mkstemp would give 0600, which surprises users of the file). */
int maskinfo__write_atomic(const char *path, maskinfo__fill_fn fill, void *ctx)
{
    size_t plen = path ? strlen(path) : 0;
    if (plen == 0)
        return MASKINFO_EIO;
    char *tmp = malloc(plen + 12);
    if (tmp == NULL)
        return MASKINFO_ENOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", 11);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return MASKINFO_EIO;
    }
    struct stat st;
    mode_t mode = 0644;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        mode = st.st_mode & 07777;
    (void)fchmod(fd, mode);
    int status = MASKINFO_OK;
    FILE *fp = fdopen(fd, "wb");
    if (fp == NULL) {
        close(fd);
        status = MASKINFO_EIO;
    } else {
        status = fill(fp, ctx);
        if (status == MASKINFO_OK && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
            status = MASKINFO_EIO;
        if (fclose(fp) != 0 && status == MASKINFO_OK)
            status = MASKINFO_EIO;
    }
    if (status == MASKINFO_OK && rename(tmp, path) != 0)
        status = MASKINFO_EIO;
    if (status != MASKINFO_OK)
        unlink(tmp);
    else
        sync_dir_of(path);
    free(tmp);
    return status;
}
