/*
 * atomic_file.c - files that appear whole or not at all, for the PNG
 * renderer and the exports.
 *
 * The content goes to a temporary file beside the target (path plus a
 * unique suffix: rename is atomic only within one file system), is
 * fsync'd, and is renamed over the target; the folder is fsync'd so the
 * rename survives a crash.  On any failure the temporary file is removed
 * and an existing target is left untouched.  On MASKINFO_EIO errno holds
 * the reason of the call that failed, restored after the cleanup (unlink,
 * close, free) that could overwrite it, so callers can report strerror.
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with XSI: realpath */

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* A temporary file beside target, created like any new file (mode 0666
 * less the umask, as np.save or fopen would give); the name carries the
 * process id and a clock-derived counter, retried on collision.  -1 with
 * errno set on failure. */
static int open_temp(const char *target, char **tmp_out)
{
    size_t len = strlen(target);
    char *tmp = malloc(len + 48);
    if (tmp == NULL) {
        errno = ENOMEM;
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long salt = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, len + 48, "%s.tmp%ld.%lx", target, (long)getpid(),
                 salt + (unsigned long)attempt * 2654435761UL);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(tmp);
    errno = e;
    return -1;
}

/*
 * The target must be a regular file or not exist: a directory, device or
 * FIFO is refused (rename would replace it), a symbolic link is followed so
 * the file it names is replaced, and an existing file must be writable by
 * the caller (as for any other write) and keeps its permission bits.
 */
int maskinfo__write_atomic(const char *path, maskinfo__fill_fn fill, void *ctx)
{
    if (path == NULL || *path == 0) {
        errno = ENOENT;
        return MASKINFO_EIO;
    }
    char *real = NULL;
    const char *target = path;
    struct stat st;
    int exists = lstat(path, &st) == 0;
    if (exists && S_ISLNK(st.st_mode)) {
        real = realpath(path, NULL);
        if (real == NULL) /* a dangling link or a loop: refused, realpath says why */
            return MASKINFO_EIO;
        target = real;
        exists = stat(target, &st) == 0;
    }
    int err = 0; /* errno of the failing call */
    if (exists && !S_ISREG(st.st_mode))
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    else if (exists && access(target, W_OK) != 0)
        err = errno;
    if (err) {
        free(real);
        errno = err;
        return MASKINFO_EIO;
    }
    char *tmp = NULL;
    int fd = open_temp(target, &tmp);
    if (fd < 0) {
        err = errno;
        free(real);
        errno = err;
        return MASKINFO_EIO;
    }
    if (exists)
        (void)fchmod(fd, st.st_mode & 07777);
    int status = MASKINFO_OK;
    FILE *fp = fdopen(fd, "wb");
    if (fp == NULL) {
        err = errno;
        close(fd);
        status = MASKINFO_EIO;
    } else {
        status = fill(fp, ctx);
        if (status == MASKINFO_EIO)
            err = errno;
        else if (status == MASKINFO_OK && (fflush(fp) != 0 || fsync(fileno(fp)) != 0)) {
            err = errno;
            status = MASKINFO_EIO;
        }
        if (fclose(fp) != 0 && status == MASKINFO_OK) {
            err = errno;
            status = MASKINFO_EIO;
        }
    }
    if (status == MASKINFO_OK && rename(tmp, target) != 0) {
        err = errno;
        status = MASKINFO_EIO;
    }
    if (status != MASKINFO_OK)
        unlink(tmp);
    else
        sync_dir_of(target);
    free(tmp);
    free(real);
    if (status == MASKINFO_EIO)
        errno = err ? err : EIO;
    return status;
}
