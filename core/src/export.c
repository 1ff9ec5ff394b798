/*
 * export.c - arrays to files: NumPy .npy and safetensors; a text (the CLI's
 * JSON) as it is.
 *
 * Files are written atomically: a temporary file beside the target, fsync,
 * rename, so a reader never sees a half-written file and a failure leaves an
 * existing file as it was.  Both formats are little-endian; the element
 * bytes are written as stored on little-endian hosts and swapped on others.
 */
#include "atomic_file.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ file output */

/* One run of bytes to write; esz > 1 marks elements that need swapping to
 * little-endian on a big-endian host (headers are plain bytes, esz 1). */
typedef struct {
    const void *p;
    uint64_t n;
    size_t esz;
} out_seg;

/* A runtime test rather than a macro: compilers fold it to a constant, and
 * it needs no platform-specific endian header. */
static int host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Write a segment; on big-endian hosts multi-byte elements are reversed
 * through a bounded bounce buffer so no copy of the array is needed. */
static int write_seg(FILE *fp, const out_seg *s)
{
    if (s->n == 0)
        return 0;
    if (s->esz <= 1 || host_is_le())
        return fwrite(s->p, 1, (size_t)s->n, fp) == (size_t)s->n ? 0 : -1;
    uint8_t buf[1 << 16];
    const uint8_t *src = s->p;
    const size_t per = sizeof buf / s->esz * s->esz;
    for (uint64_t done = 0; done < s->n;) {
        size_t chunk = (size_t)(s->n - done < per ? s->n - done : per);
        for (size_t e = 0; e < chunk; e += s->esz)
            for (size_t k = 0; k < s->esz; k++)
                buf[e + k] = src[done + e + s->esz - 1 - k];
        if (fwrite(buf, 1, chunk, fp) != chunk)
            return -1;
        done += chunk;
    }
    return 0;
}

/* The segments, in order, as the content of an atomic write. */
typedef struct {
    const out_seg *segs;
    int64_t n;
} seg_list;

static int fill_segs(FILE *fp, void *ctx)
{
    const seg_list *l = ctx;
    for (int64_t i = 0; i < l->n; i++)
        if (write_seg(fp, &l->segs[i]) != 0)
            return MASKINFO_EIO;
    return MASKINFO_OK;
}

/* Write the segments to path atomically (atomic_file.c). */
static int write_atomic(const char *path, const out_seg *segs, int64_t nsegs)
{
    seg_list l = {segs, nsegs};
    return maskinfo__write_atomic(path, fill_segs, &l);
}

/* ------------------------------------------------------------ bytes */

int maskinfo_write_bytes(const void *data, size_t len, const char *path)
{
    if (path == NULL || (data == NULL && len > 0))
        return MASKINFO_EINVAL;
    out_seg seg = {data, (uint64_t)len, 1};
    return write_atomic(path, &seg, 1);
}

static uint64_t data_bytes(const maskinfo_array *a)
{
    return (uint64_t)maskinfo_array_size(a) *
           maskinfo_dtype_size(maskinfo_array_dtype(a));
}

/* ------------------------------------------------------------ .npy */

/* NumPy's descr strings; "|" marks byte-sized types with no byte order. */
static const char *npy_descr(maskinfo_dtype dt)
{
    switch (dt) {
    case MASKINFO_BOOL: return "|b1";
    case MASKINFO_INT32: return "<i4";
    case MASKINFO_FLOAT32: return "<f4";
    case MASKINFO_FLOAT16: return "<f2";
    case MASKINFO_INT64: return "<i8";
    case MASKINFO_UINT8: return "|u1";
    case MASKINFO_BFLOAT16: return NULL; /* NumPy has no bfloat16 */
    }
    return NULL;
}

/*
 * Format 1.0: magic, version, a uint16 header length, then the header dict
 * exactly as numpy.lib.format writes it (so files diff equal to NumPy's),
 * space-padded with a final newline to a multiple of 64 bytes in total:
 * NumPy >= 1.x aligns to 64 so the data can be memory-mapped with any
 * alignment a SIMD load needs.
 */
int maskinfo_write_npy(const maskinfo_array *a, const char *path)
{
    if (a == NULL || path == NULL)
        return MASKINFO_EINVAL;
    const char *descr = npy_descr(maskinfo_array_dtype(a));
    if (descr == NULL)
        return MASKINFO_EDTYPE;
    maskinfo__strbuf t = {0};
    maskinfo__sb_put(&t, "\x93NUMPY\x01\x00\x00\x00", 10);
    maskinfo__sb_puts(&t, "{'descr': '");
    maskinfo__sb_puts(&t, descr);
    maskinfo__sb_puts(&t, "', 'fortran_order': False, 'shape': (");
    int nd = maskinfo_array_ndim(a);
    const int64_t *sh = maskinfo_array_shape(a);
    for (int i = 0; i < nd; i++) {
        if (i > 0)
            maskinfo__sb_puts(&t, ", ");
        maskinfo__sb_i64(&t, sh[i]);
    }
    maskinfo__sb_puts(&t, nd == 1 ? ",), }" : "), }");
    /* pad so that len + 1 (the newline) is a multiple of 64 */
    maskinfo__sb_spaces(&t, (int64_t)((64 - (t.len + 1) % 64) % 64));
    maskinfo__sb_put(&t, "\n", 1);
    if (t.err) {
        free(t.p);
        return t.err;
    }
    /* at most 8 dims of 19 digits: far below the 65535 of format 1.0 */
    size_t hl = t.len - 10;
    t.p[8] = (char)(hl & 0xff);
    t.p[9] = (char)(hl >> 8);
    out_seg segs[2] = {
        {t.p, t.len, 1},
        {maskinfo_array_cdata(a), data_bytes(a),
         maskinfo_dtype_size(maskinfo_array_dtype(a))},
    };
    int st = write_atomic(path, segs, 2);
    free(t.p);
    return st;
}

/* ------------------------------------------------------------ safetensors */

static const char *st_dtype(maskinfo_dtype dt)
{
    switch (dt) {
    case MASKINFO_BOOL: return "BOOL";
    case MASKINFO_INT32: return "I32";
    case MASKINFO_FLOAT32: return "F32";
    case MASKINFO_FLOAT16: return "F16";
    case MASKINFO_BFLOAT16: return "BF16";
    case MASKINFO_INT64: return "I64";
    case MASKINFO_UINT8: return "U8";
    }
    return NULL;
}

/* Names go into JSON, which must be valid UTF-8: reject malformed input
 * instead of writing a header no reader can parse (overlongs, surrogates
 * and code points above U+10FFFF included). */
static int utf8_ok(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        int n;
        uint32_t cp;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        static const uint32_t minv[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < minv[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* A JSON string literal: quote and backslash escaped, control characters
 * as the short escapes or \u00XX. */
static void sb_json_str(maskinfo__strbuf *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    maskinfo__sb_put(t, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[7];
        switch (c) {
        case '"': maskinfo__sb_put(t, "\\\"", 2); break;
        case '\\': maskinfo__sb_put(t, "\\\\", 2); break;
        case '\b': maskinfo__sb_put(t, "\\b", 2); break;
        case '\f': maskinfo__sb_put(t, "\\f", 2); break;
        case '\n': maskinfo__sb_put(t, "\\n", 2); break;
        case '\r': maskinfo__sb_put(t, "\\r", 2); break;
        case '\t': maskinfo__sb_put(t, "\\t", 2); break;
        default:
            if (c < 0x20) {
                memcpy(e, "\\u00", 4);
                e[4] = hex[c >> 4];
                e[5] = hex[c & 15];
                maskinfo__sb_put(t, e, 6);
            } else {
                maskinfo__sb_put(t, (const char *)&c, 1);
            }
        }
    }
    maskinfo__sb_put(t, "\"", 1);
}

static int cmp_str_ptr(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * Layout as the reference implementation writes it: an 8-byte little-endian
 * header size N, N bytes of JSON padded with spaces so the data starts on an
 * 8-byte boundary, then the tensors back to back in the given order (readers
 * require the data offsets to tile the buffer without holes).  The header
 * opens with "__metadata__":{"format":"pt"}, which transformers' loaders look
 * for; that key is reserved, so no tensor may take the name.
 */
int maskinfo_write_safetensors(const char *const *names,
                               const maskinfo_array *const *arrays, int64_t n,
                               const char *path)
{
    if (path == NULL || n < 0 || (n > 0 && (names == NULL || arrays == NULL)))
        return MASKINFO_EINVAL;
    if ((uint64_t)n > SIZE_MAX / sizeof(out_seg) - 1)
        return MASKINFO_EOVERFLOW;
    for (int64_t i = 0; i < n; i++) {
        if (names[i] == NULL || names[i][0] == 0 || arrays[i] == NULL ||
            strcmp(names[i], "__metadata__") == 0 ||
            !utf8_ok((const unsigned char *)names[i]))
            return MASKINFO_EINVAL;
        if (st_dtype(maskinfo_array_dtype(arrays[i])) == NULL)
            return MASKINFO_EDTYPE;
    }
    /* duplicates: sort a copy of the name pointers, compare neighbours */
    const char **sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted);
    out_seg *segs = malloc((size_t)(n + 1) * sizeof *segs);
    if (sorted == NULL || segs == NULL) {
        free(sorted);
        free(segs);
        return MASKINFO_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        sorted[i] = names[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_ptr);
    int dup = 0;
    for (int64_t i = 1; i < n && !dup; i++)
        dup = strcmp(sorted[i - 1], sorted[i]) == 0;
    free(sorted);
    if (dup) {
        free(segs);
        return MASKINFO_EINVAL;
    }

    maskinfo__strbuf t = {0};
    maskinfo__sb_put(&t, "\0\0\0\0\0\0\0\0", 8);
    maskinfo__sb_puts(&t, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        const maskinfo_array *a = arrays[i];
        uint64_t nb = data_bytes(a);
        if (off > UINT64_MAX - nb || off + nb > (uint64_t)INT64_MAX) {
            free(t.p);
            free(segs);
            return MASKINFO_EOVERFLOW;
        }
        maskinfo__sb_put(&t, ",", 1);
        sb_json_str(&t, names[i]);
        maskinfo__sb_puts(&t, ":{\"dtype\":\"");
        maskinfo__sb_puts(&t, st_dtype(maskinfo_array_dtype(a)));
        maskinfo__sb_puts(&t, "\",\"shape\":[");
        const int64_t *sh = maskinfo_array_shape(a);
        for (int d = 0; d < maskinfo_array_ndim(a); d++) {
            if (d > 0)
                maskinfo__sb_put(&t, ",", 1);
            maskinfo__sb_i64(&t, sh[d]);
        }
        maskinfo__sb_puts(&t, "],\"data_offsets\":[");
        maskinfo__sb_i64(&t, (int64_t)off);
        maskinfo__sb_put(&t, ",", 1);
        maskinfo__sb_i64(&t, (int64_t)(off + nb));
        maskinfo__sb_puts(&t, "]}");
        segs[i + 1] = (out_seg){maskinfo_array_cdata(a), nb,
                                maskinfo_dtype_size(maskinfo_array_dtype(a))};
        off += nb;
    }
    maskinfo__sb_put(&t, "}", 1);
    maskinfo__sb_spaces(&t, (int64_t)((8 - t.len % 8) % 8));
    if (t.err) {
        free(t.p);
        free(segs);
        return t.err;
    }
    uint64_t hl = t.len - 8;
    for (int i = 0; i < 8; i++)
        t.p[i] = (char)((hl >> (8 * i)) & 0xff);
    segs[0] = (out_seg){t.p, t.len, 1};
    int st = write_atomic(path, segs, n + 1);
    free(t.p);
    free(segs);
    return st;
}
