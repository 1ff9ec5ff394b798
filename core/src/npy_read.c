/*
 * npy_read.c - NumPy .npy files into arrays: format versions 1.0, 2.0 and
 * 3.0, C order, the dtypes bool, uint8, int32, int64, float16, float32 and
 * float64 (stored as float32: maskinfo has no float64 dtype), either byte
 * order.
 *
 * The header is parsed strictly (the keys NumPy writes, each once) so a
 * broken file is refused with its reason instead of being half read.  The
 * whole-file size is checked against the header before the array is
 * allocated, and the data is read straight into the array when its bytes
 * need no conversion.
 */
#define _POSIX_C_SOURCE 200809L /* fstat, fileno */
#include "kernels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* What the header says. */
typedef struct {
    maskinfo_dtype dt;
    int src_size;   /* bytes per element in the file */
    int swap;       /* file is big-endian */
    int is_f64;     /* float64 -> float32 */
    int ndim;
    int64_t shape[MASKINFO_MAX_DIMS];
    int64_t count;
    uint64_t data_bytes;
    size_t data_off; /* where the data starts */
} npy_hdr;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A quoted Python string at p (either quote); sets [*s, *s + *n). */
static const char *quoted(const char *p, const char *end, const char **s, size_t *n)
{
    if (p >= end || (*p != '\'' && *p != '"'))
        return NULL;
    const char q = *p++;
    const char *e = memchr(p, q, (size_t)(end - p));
    if (e == NULL)
        return NULL;
    *s = p;
    *n = (size_t)(e - p);
    return e + 1;
}

/* The descr string: byte order, kind, size. */
static int parse_descr(const char *s, size_t n, npy_hdr *h, char *why, size_t wl)
{
    char d[16];
    if (n == 0 || n >= sizeof d)
        return mi_why(why, wl, MASKINFO_EDTYPE, "unsupported dtype '%.*s'", (int)(n < 40 ? n : 40), s);
    memcpy(d, s, n);
    d[n] = 0;
    char order = d[0];
    const char *t = d;
    if (order == '<' || order == '>' || order == '|' || order == '=')
        t++;
    else
        order = '=';
    if (strcmp(t, "O") == 0 || t[0] == 'O')
        return mi_why(why, wl, MASKINFO_EDTYPE, "object arrays ('%s') cannot be read (they hold Python objects)", d);
    static const struct { const char *k; maskinfo_dtype dt; int size; } kinds[] = {
        {"b1", MASKINFO_BOOL, 1},    {"?", MASKINFO_BOOL, 1},      {"u1", MASKINFO_UINT8, 1},
        {"B", MASKINFO_UINT8, 1},    {"i4", MASKINFO_INT32, 4},    {"i8", MASKINFO_INT64, 8},
        {"f2", MASKINFO_FLOAT16, 2}, {"f4", MASKINFO_FLOAT32, 4},  {"f8", MASKINFO_FLOAT32, 8},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(t, kinds[i].k) != 0)
            continue;
        h->dt = kinds[i].dt;
        h->src_size = kinds[i].size;
        h->is_f64 = kinds[i].size == 8 && kinds[i].dt == MASKINFO_FLOAT32;
        /* '=' is native; this reader runs on little-endian hosts in practice,
         * and export.c writes '<' */
        const uint16_t one = 1;
        uint8_t lo;
        memcpy(&lo, &one, 1);
        const int host_le = lo == 1;
        h->swap = h->src_size > 1 && ((order == '>' && host_le) || (order == '<' && !host_le));
        return MASKINFO_OK;
    }
    return mi_why(why, wl, MASKINFO_EDTYPE,
                   "unsupported dtype '%s' (expected bool, uint8, int32, int64, float16, float32 or float64)", d);
}

/* The shape tuple "(a, b, )" at p. */
static const char *parse_shape(const char *p, const char *end, npy_hdr *h, char *why, size_t wl, int *st)
{
    if (p >= end || *p != '(') {
        *st = mi_why(why, wl, MASKINFO_EINVAL, "malformed header: 'shape' is not a tuple");
        return NULL;
    }
    p = skip_ws(p + 1, end);
    h->ndim = 0;
    while (p < end && *p != ')') {
        if (*p < '0' || *p > '9') {
            *st = mi_why(why, wl, MASKINFO_EINVAL, *p == '-' ? "negative dimension in 'shape'"
                                                              : "malformed header: non-integer in 'shape'");
            return NULL;
        }
        if (h->ndim == MASKINFO_MAX_DIMS) {
            *st = mi_why(why, wl, MASKINFO_ESHAPE, "more than %d dimensions", MASKINFO_MAX_DIMS);
            return NULL;
        }
        int64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10) {
                *st = mi_why(why, wl, MASKINFO_EOVERFLOW, "dimension too large in 'shape'");
                return NULL;
            }
            v = v * 10 + (*p++ - '0');
        }
        if (p < end && *p == 'L') /* Python 2 longs */
            p++;
        h->shape[h->ndim++] = v;
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p = skip_ws(p + 1, end);
        else if (p < end && *p != ')') {
            *st = mi_why(why, wl, MASKINFO_EINVAL, "malformed header: non-integer in 'shape'");
            return NULL;
        }
    }
    if (p >= end) {
        *st = mi_why(why, wl, MASKINFO_EINVAL, "malformed header: 'shape' tuple not closed");
        return NULL;
    }
    return p + 1;
}

/* The header dict {'descr': ..., 'fortran_order': ..., 'shape': ...}. */
static int parse_dict(const char *p, const char *end, npy_hdr *h, char *why, size_t wl)
{
    int seen[3] = {0, 0, 0};
    int st = MASKINFO_OK;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: not a Python dict");
    p = skip_ws(p + 1, end);
    while (p < end && *p != '}') {
        const char *k;
        size_t kn;
        p = quoted(p, end, &k, &kn);
        if (p == NULL)
            return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: a key is not a quoted string");
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: ':' expected after a key");
        p = skip_ws(p + 1, end);
        int which = kn == 5 && !memcmp(k, "descr", 5) ? 0
                    : kn == 13 && !memcmp(k, "fortran_order", 13) ? 1
                    : kn == 5 && !memcmp(k, "shape", 5) ? 2 : -1;
        if (which < 0)
            return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: unexpected key '%.*s'",
                           (int)(kn < 40 ? kn : 40), k);
        if (seen[which]++)
            return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: key '%.*s' twice", (int)kn, k);
        if (which == 0) {
            const char *d;
            size_t dn;
            if (p < end && *p == '[')
                return mi_why(why, wl, MASKINFO_EDTYPE, "structured dtypes (a list 'descr') cannot be read");
            p = quoted(p, end, &d, &dn);
            if (p == NULL)
                return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: 'descr' is not a string");
            if ((st = parse_descr(d, dn, h, why, wl)))
                return st;
        } else if (which == 1) {
            if (end - p >= 4 && !memcmp(p, "True", 4))
                return mi_why(why, wl, MASKINFO_EINVAL, "Fortran-order arrays cannot be read (save with C order)");
            if (end - p < 5 || memcmp(p, "False", 5))
                return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: 'fortran_order' is not True or False");
            p += 5;
        } else {
            p = parse_shape(p, end, h, why, wl, &st);
            if (p == NULL)
                return st;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p = skip_ws(p + 1, end);
        else if (p < end && *p != '}')
            return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: ',' or '}' expected");
    }
    if (p >= end)
        return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: dict not closed");
    static const char *const names[3] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: no '%s' key", names[i]);
    return MASKINFO_OK;
}

/* Magic, version and header of the first len bytes of a file. */
static int parse_header(const uint8_t *buf, size_t len, npy_hdr *h, char *why, size_t wl)
{
    memset(h, 0, sizeof *h);
    if (len == 0)
        return mi_why(why, wl, MASKINFO_EINVAL, "empty file");
    if (len < 6 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return mi_why(why, wl, MASKINFO_EINVAL, "not a .npy file (no \\x93NUMPY magic)");
    if (len < 8)
        return mi_why(why, wl, MASKINFO_EINVAL, "truncated header (no version)");
    const int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return mi_why(why, wl, MASKINFO_EINVAL, "unsupported format version %d.%d (1.0, 2.0 and 3.0 are read)",
                       major, minor);
    const size_t lsz = major == 1 ? 2 : 4;
    if (len < 8 + lsz)
        return mi_why(why, wl, MASKINFO_EINVAL, "truncated header (no header length)");
    uint64_t hl = buf[8] | (uint64_t)buf[9] << 8;
    if (lsz == 4)
        hl |= (uint64_t)buf[10] << 16 | (uint64_t)buf[11] << 24;
    if (hl > len - 8 - lsz)
        return mi_why(why, wl, MASKINFO_EINVAL, "truncated header (%llu header bytes announced, %llu present)",
                       (unsigned long long)hl, (unsigned long long)(len - 8 - lsz));
    const char *p = (const char *)buf + 8 + lsz, *end = p + hl;
    if (memchr(p, 0, (size_t)hl))
        return mi_why(why, wl, MASKINFO_EINVAL, "malformed header: NUL byte in the header");
    int st = parse_dict(p, end, h, why, wl);
    if (st)
        return st;
    h->data_off = 8 + lsz + (size_t)hl;
    int64_t n = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] != 0 && n > INT64_MAX / h->shape[i])
            return mi_why(why, wl, MASKINFO_EOVERFLOW, "shape too large (the element count overflows)");
        n *= h->shape[i];
    }
    if (n > 0 && (uint64_t)n > UINT64_MAX / 8)
        return mi_why(why, wl, MASKINFO_EOVERFLOW, "shape too large (the element count overflows)");
    h->count = n;
    h->data_bytes = (uint64_t)n * (uint64_t)h->src_size;
    return MASKINFO_OK;
}

/* Convert n elements of src (file bytes) into dst (array storage). */
static void convert(const npy_hdr *h, const uint8_t *src, uint8_t *dst, int64_t n)
{
    const int sz = h->src_size;
    for (int64_t i = 0; i < n; i++) {
        uint8_t e[8];
        for (int k = 0; k < sz; k++)
            e[k] = src[i * sz + (h->swap ? sz - 1 - k : k)];
        if (h->is_f64) {
            double d;
            memcpy(&d, e, 8);
            float f = (float)d;
            memcpy(dst + i * 4, &f, 4);
        } else if (h->dt == MASKINFO_BOOL) {
            dst[i] = e[0] != 0;
        } else {
            memcpy(dst + i * sz, e, (size_t)sz);
        }
    }
}

static int new_array(const npy_hdr *h, maskinfo_array **out, const maskinfo_limits *lim, char *why, size_t wl)
{
    int st = maskinfo_array_new(out, h->dt, h->ndim, h->shape, lim);
    if (st == MASKINFO_ETOOBIG || st == MASKINFO_ENOMEM || st == MASKINFO_EOVERFLOW)
        return mi_why(why, wl, st, "a %s array of %lld elements: %s", maskinfo_dtype_name(h->dt),
                       (long long)h->count, maskinfo_strerror(st));
    return st;
}

static int size_mismatch(const npy_hdr *h, uint64_t have, char *why, size_t wl)
{
    return mi_why(why, wl, MASKINFO_ESHAPE,
                   have < h->data_bytes ? "truncated data: the shape needs %llu bytes, %llu present"
                                        : "shape/size mismatch: the shape needs %llu bytes, %llu present",
                   (unsigned long long)h->data_bytes, (unsigned long long)have);
}

int maskinfo_parse_npy(const uint8_t *buf, size_t len, maskinfo_array **out, char *why, size_t whylen,
                       const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (buf == NULL && len)
        return MASKINFO_EINVAL;
    npy_hdr h;
    int st = parse_header(buf, len, &h, why, whylen);
    if (st)
        return st;
    if (len - h.data_off != h.data_bytes)
        return size_mismatch(&h, len - h.data_off, why, whylen);
    if ((st = new_array(&h, out, lim, why, whylen)))
        return st;
    convert(&h, buf + h.data_off, maskinfo_array_data(*out), h.count);
    return MASKINFO_OK;
}

/* errno kept across fclose for the caller's strerror */
static int io_fail(FILE *fp, maskinfo_array **out)
{
    int e = errno ? errno : EIO;
    if (fp)
        fclose(fp);
    maskinfo_array_free(*out);
    *out = NULL;
    errno = e;
    return MASKINFO_EIO;
}

int maskinfo_read_npy(const char *path, maskinfo_array **out, char *why, size_t whylen,
                      const maskinfo_limits *lim)
{
    if (out == NULL || path == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    errno = 0;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return io_fail(NULL, out);
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0)
        return io_fail(fp, out);
    if (S_ISDIR(sb.st_mode)) {
        errno = EISDIR;
        return io_fail(fp, out);
    }
    /* the longest header NumPy accepts by default is 10000 bytes; read
     * more than enough for it, then parse what arrived */
    enum { HEAD = 65536 + 12 };
    uint8_t *head = malloc(HEAD);
    if (head == NULL) {
        fclose(fp);
        return MASKINFO_ENOMEM;
    }
    size_t got = fread(head, 1, HEAD, fp);
    if (ferror(fp)) {
        free(head);
        return io_fail(fp, out);
    }
    npy_hdr h;
    int st = parse_header(head, got, &h, why, whylen);
    if (st == MASKINFO_OK && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size - h.data_off != h.data_bytes)
        st = size_mismatch(&h, (uint64_t)sb.st_size - h.data_off, why, whylen);
    if (st == MASKINFO_OK)
        st = new_array(&h, out, lim, why, whylen);
    if (st) {
        free(head);
        fclose(fp);
        return st;
    }
    uint8_t *dst = maskinfo_array_data(*out);
    const size_t esz = (size_t)h.src_size, dsz = maskinfo_dtype_size(h.dt);
    /* data bytes that came with the header read, and any beyond the data */
    uint64_t have = got - h.data_off < h.data_bytes ? got - h.data_off : h.data_bytes;
    uint64_t extra = got - h.data_off - have, total;
    if (!h.swap && !h.is_f64 && h.dt != MASKINFO_BOOL) {
        /* the file's bytes are the array's: read them in place */
        memcpy(dst, head + h.data_off, (size_t)have);
        total = have + fread(dst + have, 1, (size_t)(h.data_bytes - have), fp);
    } else {
        /* convert whole elements through the header buffer */
        uint64_t pend = have, done = 0;
        memmove(head, head + h.data_off, (size_t)have);
        total = have;
        for (;;) {
            const uint64_t n = pend / esz;
            convert(&h, head, dst + done * dsz, (int64_t)n);
            done += n;
            memmove(head, head + n * esz, (size_t)(pend - n * esz));
            pend -= n * esz;
            const uint64_t left = h.data_bytes - total;
            if (left == 0)
                break;
            const size_t r = fread(head + pend, 1, (size_t)(left < HEAD - pend ? left : HEAD - pend), fp);
            if (r == 0)
                break;
            pend += r;
            total += r;
        }
    }
    const int err = ferror(fp);
    if (!err && total == h.data_bytes && extra == 0 && fgetc(fp) != EOF)
        extra = 1;
    free(head);
    if (err)
        return io_fail(fp, out);
    fclose(fp);
    if (total != h.data_bytes || extra) {
        maskinfo_array_free(*out);
        *out = NULL;
        return size_mismatch(&h, total + extra, why, whylen);
    }
    return MASKINFO_OK;
}
