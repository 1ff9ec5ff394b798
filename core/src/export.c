/*
 * export.c - arrays to files (.npy, .safetensors) and the block forms that
 * block-sparse attention kernels consume (block classes, FlexAttention
 * BlockMask tables).
 *
 * Files are written atomically: a temporary file beside the target, fsync,
 * rename, so a reader never sees a half-written file and a failure leaves an
 * existing file as it was.  Both formats are little-endian; the element
 * bytes are written as stored on little-endian hosts and swapped on others.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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

/* A growable text buffer for headers (which are small). */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} txt;

static void txt_put(txt *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

static void txt_str(txt *t, const char *s) { txt_put(t, s, strlen(s)); }

static void txt_i64(txt *t, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    txt_put(t, b, (size_t)n);
}

static void txt_pad(txt *t, size_t n)
{
    while (n-- > 0)
        txt_put(t, " ", 1);
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
    txt t = {0};
    txt_put(&t, "\x93NUMPY\x01\x00\x00\x00", 10);
    txt_str(&t, "{'descr': '");
    txt_str(&t, descr);
    txt_str(&t, "', 'fortran_order': False, 'shape': (");
    int nd = maskinfo_array_ndim(a);
    const int64_t *sh = maskinfo_array_shape(a);
    for (int i = 0; i < nd; i++) {
        if (i > 0)
            txt_str(&t, ", ");
        txt_i64(&t, sh[i]);
    }
    txt_str(&t, nd == 1 ? ",), }" : "), }");
    if (t.oom) {
        free(t.p);
        return MASKINFO_ENOMEM;
    }
    /* pad so that len + 1 (the newline) is a multiple of 64 */
    txt_pad(&t, (64 - (t.len + 1) % 64) % 64);
    txt_put(&t, "\n", 1);
    if (t.oom) {
        free(t.p);
        return MASKINFO_ENOMEM;
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
static void txt_json_str(txt *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    txt_put(t, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[7];
        switch (c) {
        case '"': txt_put(t, "\\\"", 2); break;
        case '\\': txt_put(t, "\\\\", 2); break;
        case '\b': txt_put(t, "\\b", 2); break;
        case '\f': txt_put(t, "\\f", 2); break;
        case '\n': txt_put(t, "\\n", 2); break;
        case '\r': txt_put(t, "\\r", 2); break;
        case '\t': txt_put(t, "\\t", 2); break;
        default:
            if (c < 0x20) {
                memcpy(e, "\\u00", 4);
                e[4] = hex[c >> 4];
                e[5] = hex[c & 15];
                txt_put(t, e, 6);
            } else {
                txt_put(t, (const char *)&c, 1);
            }
        }
    }
    txt_put(t, "\"", 1);
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

    txt t = {0};
    txt_put(&t, "\0\0\0\0\0\0\0\0", 8);
    txt_str(&t, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        const maskinfo_array *a = arrays[i];
        uint64_t nb = data_bytes(a);
        if (off > UINT64_MAX - nb || off + nb > (uint64_t)INT64_MAX) {
            free(t.p);
            free(segs);
            return MASKINFO_EOVERFLOW;
        }
        txt_put(&t, ",", 1);
        txt_json_str(&t, names[i]);
        txt_str(&t, ":{\"dtype\":\"");
        txt_str(&t, st_dtype(maskinfo_array_dtype(a)));
        txt_str(&t, "\",\"shape\":[");
        const int64_t *sh = maskinfo_array_shape(a);
        for (int d = 0; d < maskinfo_array_ndim(a); d++) {
            if (d > 0)
                txt_put(&t, ",", 1);
            txt_i64(&t, sh[d]);
        }
        txt_str(&t, "],\"data_offsets\":[");
        txt_i64(&t, (int64_t)off);
        txt_put(&t, ",", 1);
        txt_i64(&t, (int64_t)(off + nb));
        txt_str(&t, "]}");
        segs[i + 1] = (out_seg){maskinfo_array_cdata(a), nb,
                                maskinfo_dtype_size(maskinfo_array_dtype(a))};
        off += nb;
    }
    txt_put(&t, "}", 1);
    txt_pad(&t, (8 - t.len % 8) % 8);
    if (t.oom) {
        free(t.p);
        free(segs);
        return MASKINFO_ENOMEM;
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

/* ------------------------------------------------------------ block classes */

/* ceil(x / d) for x >= 0, d >= 1, without the overflow of x + d - 1 */
static int64_t ceil_div(int64_t x, int64_t d) { return x / d + (x % d != 0); }

/*
 * Work item w = (b*H + h)*R + i is one block row: its bq query rows are
 * evaluated, each interval adds its two partial end blocks to cnt directly
 * and marks the fully covered blocks between them in a difference array, so
 * an interval costs O(1) however many blocks it spans; one prefix sum then
 * turns the marks into whole-block counts (interior blocks are never tail
 * blocks, so each adds exactly bk cells per covering row).  Every work item
 * writes only its own output row, hence any thread count gives the same
 * bytes.
 */
int maskinfo_mask_block_classes(const maskinfo_mask *m, int64_t bq, int64_t bk,
                                maskinfo_array **out, const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (m == NULL || bq < 1 || bk < 1)
        return MASKINFO_EINVAL;
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    const int64_t B = sh[0], H = sh[1], Q = sh[2], K = sh[3];
    const int64_t R = ceil_div(Q, bq), C = ceil_div(K, bk);
    int64_t items = maskinfo__mul(maskinfo__mul(B, H), R);
    int64_t ncells = maskinfo__mul(items, C);
    if (items < 0 || ncells < 0)
        return MASKINFO_EOVERFLOW;
    /* the output plus one thread's two count rows, before anything exists
     * (C <= ncells unless the output is empty, so the sum cannot wrap) */
    const uint64_t need = (uint64_t)ncells + ((uint64_t)C + 1) * 16;
    if ((uint64_t)C > UINT64_MAX / 32)
        return MASKINFO_EOVERFLOW;
    int st = maskinfo_check_alloc(lim, need, 1);
    if (st)
        return st;
    int64_t oshape[4] = {B, H, R, C};
    maskinfo_array *a;
    st = maskinfo_array_new(&a, MASKINFO_UINT8, 4, oshape, lim);
    if (st)
        return st;
    if (ncells == 0) { /* no blocks: no row needs evaluating */
        *out = a;
        return MASKINFO_OK;
    }
    uint8_t *cls = maskinfo_array_data(a);
    /* rows fit: B*H*Q*K does and K >= 1 here */
    const int64_t nrows = B * H * Q;
    int err = MASKINFO_OK;
#pragma omp parallel if (items > 1 && (nrows >= 256 || ncells >= 65536))
    {
        maskinfo_scratch *s = maskinfo_scratch_new();
        uint64_t *cnt = malloc((size_t)(C + 1) * sizeof *cnt);
        int64_t *diff = malloc((size_t)(C + 1) * sizeof *diff);
        int lerr = (s && cnt && diff) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t w = 0; w < items; w++) {
            if (lerr)
                continue;
            const int64_t i = w % R, bh = w / R;
            const int64_t b = bh / H, h = bh % H;
            const int64_t q0 = i * bq, q1 = mi_min64(Q, q0 + bq);
            memset(cnt, 0, (size_t)C * sizeof *cnt);
            memset(diff, 0, (size_t)(C + 1) * sizeof *diff);
            for (int64_t q = q0; q < q1 && !lerr; q++) {
                const int64_t *iv;
                int64_t n;
                lerr = maskinfo_mask_row(m, b, h, q, s, &iv, &n);
                if (lerr)
                    break;
                for (int64_t t = 0; t < n; t++) {
                    const int64_t lo = iv[2 * t], hi = iv[2 * t + 1];
                    const int64_t j0 = lo / bk, j1 = (hi - 1) / bk;
                    if (j0 == j1) {
                        cnt[j0] += (uint64_t)(hi - lo);
                    } else {
                        cnt[j0] += (uint64_t)((j0 + 1) * bk - lo);
                        cnt[j1] += (uint64_t)(hi - j1 * bk);
                        diff[j0 + 1] += 1;
                        diff[j1] -= 1;
                    }
                }
            }
            if (lerr)
                continue;
            const uint64_t rows = (uint64_t)(q1 - q0);
            uint8_t *o = cls + w * C;
            int64_t run = 0;
            for (int64_t j = 0; j < C; j++) {
                run += diff[j];
                const uint64_t c = cnt[j] + (uint64_t)run * (uint64_t)bk;
                const uint64_t area = rows * (uint64_t)(mi_min64(K, (j + 1) * bk) - j * bk);
                o[j] = c == 0 ? 0 : c == area ? 2 : 1;
            }
        }
        if (lerr) {
#pragma omp critical
            err = lerr;
        }
        free(diff);
        free(cnt);
        maskinfo_scratch_free(s);
    }
    if (err) {
        maskinfo_array_free(a);
        return err;
    }
    *out = a;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ block tables */

/*
 * One ordered row: the columns whose class is `want` ascending, then the
 * others ascending - exactly a stable descending argsort of (row == want),
 * which is what torch's _dense_to_ordered computes.  src has stride 1.
 */
static int32_t order_row(const uint8_t *src, int64_t n, uint8_t want,
                         int32_t *idx)
{
    int64_t k = 0;
    for (int64_t j = 0; j < n; j++)
        if (src[j] == want)
            idx[k++] = (int32_t)j;
    const int32_t num = (int32_t)k;
    for (int64_t j = 0; j < n; j++)
        if (src[j] != want)
            idx[k++] = (int32_t)j;
    return num;
}

/* Columns per transposed tile: 64 bytes of a classes row are one cache
 * line, so a tile is gathered with whole-line reads instead of one strided
 * byte per line. */
#define MI_TILE 64

/*
 * Plain tables go row by row.  Transposed tables treat each classes column
 * as a row: a thread gathers MI_TILE columns at once into an R x MI_TILE
 * buffer (read row-wise, cache friendly), transposes that small tile and
 * orders each of its columns, so the (B, H, C, R) transpose is never built.
 * Every work item writes disjoint output rows: thread-count invariant.
 */
int maskinfo_block_table(const maskinfo_array *classes,
                         maskinfo_block_class want_class, int transpose, maskinfo_array **num,
                         maskinfo_array **idx, const maskinfo_limits *lim)
{
    if (num == NULL || idx == NULL)
        return MASKINFO_EINVAL;
    *num = NULL;
    *idx = NULL;
    if (classes == NULL || (want_class != MASKINFO_BLOCK_PARTIAL && want_class != MASKINFO_BLOCK_FULL))
        return MASKINFO_EINVAL;
    if (maskinfo_array_dtype(classes) != MASKINFO_UINT8)
        return MASKINFO_EDTYPE;
    if (maskinfo_array_ndim(classes) != 4)
        return MASKINFO_ESHAPE;
    const int64_t *sh = maskinfo_array_shape(classes);
    const int64_t B = sh[0], H = sh[1], R = sh[2], C = sh[3];
    /* output rows and their length */
    const int64_t nr = transpose ? C : R, nc = transpose ? R : C;
    if (nc > INT32_MAX)
        return MASKINFO_EOVERFLOW; /* indices are int32 */
    const int64_t planes = B * H; /* fits: the classes array exists */
    const int64_t nnum = planes * nr, nidx = nnum * nc;
    const uint64_t tile = transpose ? (uint64_t)nc * MI_TILE : 0;
    /* both outputs and a thread's tile and column, before any exists; the
     * terms are bounded by the size of the existing classes array */
    const uint64_t need = ((uint64_t)nnum + (uint64_t)nidx) * 4 +
                          (transpose ? tile + (uint64_t)nc : 0);
    int st = maskinfo_check_alloc(lim, need, 1);
    if (st)
        return st;
    int64_t nshape[3] = {B, H, nr}, ishape[4] = {B, H, nr, nc};
    maskinfo_array *an, *ai;
    if ((st = maskinfo_array_new(&an, MASKINFO_INT32, 3, nshape, lim)))
        return st;
    if ((st = maskinfo_array_new(&ai, MASKINFO_INT32, 4, ishape, lim))) {
        maskinfo_array_free(an);
        return st;
    }
    const uint8_t *src = maskinfo_array_cdata(classes);
    int32_t *on = maskinfo_array_data(an), *oi = maskinfo_array_data(ai);
    const uint8_t want = (uint8_t)want_class;
    int err = MASKINFO_OK;
    if (!transpose) {
#pragma omp parallel for schedule(static) if (nidx >= 65536)
        for (int64_t r = 0; r < nnum; r++)
            on[r] = order_row(src + r * nc, nc, want, oi + r * nc);
    } else {
        const int64_t ntiles = ceil_div(nr, MI_TILE), items = planes * ntiles;
#pragma omp parallel if (nidx >= 65536)
        {
            /* tile[r * MI_TILE + c]: gathered rows; col[r]: one column */
            uint8_t *tbuf = malloc((size_t)tile + 1);
            uint8_t *col = malloc((size_t)nc + 1);
            int lerr = (tbuf && col) ? MASKINFO_OK : MASKINFO_ENOMEM;
#pragma omp for schedule(dynamic, 1)
            for (int64_t w = 0; w < items; w++) {
                if (lerr)
                    continue;
                const int64_t bh = w / ntiles, c0 = (w % ntiles) * MI_TILE;
                const int64_t tw = mi_min64(MI_TILE, nr - c0);
                const uint8_t *plane = src + bh * R * C;
                for (int64_t r = 0; r < nc; r++)
                    memcpy(tbuf + r * MI_TILE, plane + r * C + c0, (size_t)tw);
                for (int64_t c = 0; c < tw; c++) {
                    for (int64_t r = 0; r < nc; r++)
                        col[r] = tbuf[r * MI_TILE + c];
                    const int64_t row = bh * nr + c0 + c;
                    on[row] = order_row(col, nc, want, oi + row * nc);
                }
            }
            if (lerr) {
#pragma omp critical
                err = lerr;
            }
            free(col);
            free(tbuf);
        }
    }
    if (err) {
        maskinfo_array_free(an);
        maskinfo_array_free(ai);
        return err;
    }
    *num = an;
    *idx = ai;
    return MASKINFO_OK;
}
