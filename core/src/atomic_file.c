/*
 * atomic_file.c - files that appear whole or not at all, for the PNG
 * renderer and the exports.
 *
 * The content goes to a temporary file beside the target (rename is
 * atomic only within one file system), is fsync'd, and is renamed over the
 * target; the folder is fsync'd so the rename survives a crash.  On any
 * failure the temporary file is removed and an existing target is left
 * untouched.  On MASKINFO_EIO errno holds the reason of the call that
 * failed, restored after the cleanup (unlink, close, free) that could
 * overwrite it, so callers can report strerror.
 *
 * The temporary name is "<tag>.mi-tmp.<pid>.<salt>" where the tag is the
 * target's name cut to 96 bytes plus a hash of the whole name: it stays
 * within NAME_MAX (255) whatever the target's length.  A write killed
 * before its rename leaves such a file; the next write of the same target
 * removes those whose process no longer exists.
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with XSI: realpath, kill */

#include "atomic_file.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

#define TAG_PREFIX 96 /* bytes of the target's name kept in the temporary name */

/* The folder of path ("." when none) and the tag of its last component. */
static int split_target(const char *path, char **dir, char tag[TAG_PREFIX + 24])
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    *dir = malloc(dlen + 1);
    if (*dir == NULL)
        return -1;
    memcpy(*dir, slash ? path : ".", dlen);
    (*dir)[dlen] = 0;
    uint64_t h = 0x6D61736B696E666FULL; /* FNV-1a-like, then mixed */
    for (const char *c = base; *c; c++)
        h = (h ^ (unsigned char)*c) * 0x100000001B3ULL;
    h = maskinfo__splitmix64(h);
    size_t blen = strlen(base);
    int keep = (int)(blen < TAG_PREFIX ? blen : TAG_PREFIX);
    snprintf(tag, TAG_PREFIX + 24, "%.*s.%016llx", keep, base, (unsigned long long)h);
    return 0;
}

/* Remove the temporary files of tag left by processes that are gone. */
static void clean_stale(const char *dir, const char *tag)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    size_t tl = strlen(tag);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, tag, tl) != 0 || strncmp(n + tl, ".mi-tmp.", 8) != 0)
            continue;
        char *end;
        long pid = strtol(n + tl + 8, &end, 10);
        if (pid <= 0 || *end != '.')
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (EPERM: alive, another user's) */
        (void)unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

/* A temporary file beside target, created like any new file (mode 0666
 * less the umask, as np.save or fopen would give); retried on collision.
 * -1 with errno set on failure. */
static int open_temp(const char *target, char **tmp_out)
{
    char *dir = NULL, tag[TAG_PREFIX + 24];
    if (split_target(target, &dir, tag) != 0) {
        errno = ENOMEM;
        return -1;
    }
    clean_stale(dir, tag);
    size_t cap = strlen(dir) + strlen(tag) + 64;
    char *tmp = malloc(cap);
    if (tmp == NULL) {
        free(dir);
        errno = ENOMEM;
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long salt = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, cap, "%s/%s.mi-tmp.%ld.%lx", dir, tag, (long)getpid(),
                 (salt + (unsigned long)attempt * 2654435761UL) & 0xFFFFFFFFUL);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            free(dir);
            *tmp_out = tmp;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(tmp);
    free(dir);
    errno = e;
    return -1;
}

/*
 * The target must be a regular file or not exist: a directory, device or
 * FIFO is refused (rename would replace it); a symbolic link is followed
 * and the file it names is replaced, but a link to nothing (or a loop) is
 * refused with realpath's errno rather than creating its target; an
 * existing file must be writable by the caller (as for any other write)
 * and keeps its permission bits.
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
