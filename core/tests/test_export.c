/*
 * test_export.c - .npy and .safetensors files (read back byte by byte),
 * their failure paths, block classes against a per-cell count, FlexAttention
 * block tables against a naive stable argsort, thread invariance and the
 * memory guard.
 */
#define _POSIX_C_SOURCE 200809L
#define TEST_RNG_SEED 0xE4905A11D0C5ull

#include "maskinfo.h"
#include "check.h"
#include "rng.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ helpers */

static char tmpdir[256];

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Whole file into a malloc'd buffer, or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

/* Entries of the temporary folder other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* An array of dtype dt and the given shape filled with i-dependent values
 * that exercise every byte of the element. */
static maskinfo_array *make_array(maskinfo_dtype dt, int nd, const int64_t *sh)
{
    maskinfo_array *a = NULL;
    if (maskinfo_array_new(&a, dt, nd, sh, NULL)) return NULL;
    for (int64_t i = 0; i < maskinfo_array_size(a); i++) {
        double v;
        switch (dt) {
        case MASKINFO_BOOL: v = (double)(i % 3 == 0); break;
        case MASKINFO_UINT8: v = (double)((i * 37 + 5) % 256); break;
        case MASKINFO_INT32: v = (double)(i * 100003 - 7) * (i % 2 ? -1 : 1); break;
        case MASKINFO_INT64: v = (double)(i + 1) * 4294967311.0; break;
        default: v = (double)i * 0.5 - 1.25; break;
        }
        maskinfo_array_set(a, i, v);
    }
    return a;
}

/* ------------------------------------------------------------ npy */

/* The header NumPy writes: dict text, spaces, '\n', total % 64 == 0. */
static void check_npy_file(const char *path, const maskinfo_array *a,
                           const char *dict)
{
    size_t len;
    uint8_t *f = slurp(path, &len);
    CHECKF(f != NULL, "cannot read %s", path);
    if (!f) return;
    CHECK(len >= 10 && memcmp(f, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hl = (size_t)f[8] | ((size_t)f[9] << 8);
    size_t total = 10 + hl;
    CHECKF(total % 64 == 0, "npy header size %zu not a multiple of 64", total);
    size_t dl = strlen(dict);
    CHECKF(hl >= dl + 1 && memcmp(f + 10, dict, dl) == 0, "npy dict: %.*s",
           (int)(hl < 200 ? hl : 200), (const char *)f + 10);
    int pad_ok = hl >= dl + 1 && f[total - 1] == '\n';
    for (size_t i = 10 + dl; pad_ok && i < total - 1; i++)
        pad_ok = f[i] == ' ';
    CHECK(pad_ok);
    /* the padding is the least that reaches a multiple of 64 */
    CHECK(total - (10 + dl + 1) < 64);
    size_t nb = (size_t)maskinfo_array_size(a) *
                maskinfo_dtype_size(maskinfo_array_dtype(a));
    CHECKF(len == total + nb, "npy length %zu, want %zu", len, total + nb);
    CHECK(len == total + nb && memcmp(f + total, maskinfo_array_cdata(a), nb) == 0);
    free(f);
}

static void test_npy(void)
{
    char p[512];
    static const struct { maskinfo_dtype dt; const char *descr; } dts[] = {
        {MASKINFO_BOOL, "|b1"}, {MASKINFO_INT32, "<i4"}, {MASKINFO_FLOAT32, "<f4"},
        {MASKINFO_FLOAT16, "<f2"}, {MASKINFO_INT64, "<i8"}, {MASKINFO_UINT8, "|u1"},
    };
    const int64_t s23[2] = {2, 3};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        maskinfo_array *a = make_array(dts[d].dt, 2, s23);
        path_in(p, sizeof p, "a.npy");
        CHECK(maskinfo_write_npy(a, p) == MASKINFO_OK);
        char dict[128];
        snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (2, 3), }",
                 dts[d].descr);
        check_npy_file(p, a, dict);
        maskinfo_array_free(a);
    }
    /* exact whole headers for (2, 3), (5,), () and a 4-d shape */
    {
        maskinfo_array *a = make_array(MASKINFO_INT32, 2, s23);
        path_in(p, sizeof p, "exact.npy");
        CHECK(maskinfo_write_npy(a, p) == MASKINFO_OK);
        size_t len;
        uint8_t *f = slurp(p, &len);
        const char *want = "\x93NUMPY\x01\x00\x76\x00"
                           "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }"
                           "                                                          \n";
        CHECK(f && len == 128 + 24 && memcmp(f, want, 128) == 0);
        /* the int32 data is little-endian: element 1 is -(100003 - 7) */
        int32_t e1 = -(100003 - 7);
        uint32_t u = (uint32_t)e1;
        CHECK(f && f[128 + 4] == (u & 0xff) && f[128 + 7] == (u >> 24));
        free(f);
        maskinfo_array_free(a);
    }
    {
        const int64_t s5[1] = {5};
        maskinfo_array *a = make_array(MASKINFO_FLOAT32, 1, s5);
        path_in(p, sizeof p, "vec.npy");
        CHECK(maskinfo_write_npy(a, p) == MASKINFO_OK);
        check_npy_file(p, a, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }");
        maskinfo_array_free(a);
        maskinfo_array *z = make_array(MASKINFO_INT64, 0, NULL);
        maskinfo_array_set(z, 0, -3.0);
        path_in(p, sizeof p, "scalar.npy");
        CHECK(maskinfo_write_npy(z, p) == MASKINFO_OK);
        check_npy_file(p, z, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }");
        maskinfo_array_free(z);
        const int64_t s4[4] = {1, 2, 0, 7};
        maskinfo_array *e = make_array(MASKINFO_UINT8, 4, s4);
        path_in(p, sizeof p, "empty.npy");
        CHECK(maskinfo_write_npy(e, p) == MASKINFO_OK);
        check_npy_file(p, e, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 0, 7), }");
        maskinfo_array_free(e);
        /* a long shape whose dict needs a second 64-byte block of padding */
        const int64_t s8[8] = {1, 1, 1, 1, 1, 1, 1, 12345};
        maskinfo_array *l = NULL;
        CHECK(maskinfo_array_new(&l, MASKINFO_BOOL, 8, s8, NULL) == MASKINFO_OK);
        path_in(p, sizeof p, "long.npy");
        CHECK(maskinfo_write_npy(l, p) == MASKINFO_OK);
        check_npy_file(p, l, "{'descr': '|b1', 'fortran_order': False, "
                             "'shape': (1, 1, 1, 1, 1, 1, 1, 12345), }");
        maskinfo_array_free(l);
    }
    /* bfloat16 has no NumPy dtype, and nothing is written */
    {
        maskinfo_array *a = make_array(MASKINFO_BFLOAT16, 2, s23);
        path_in(p, sizeof p, "bf.npy");
        CHECK(maskinfo_write_npy(a, p) == MASKINFO_EDTYPE);
        CHECK(access(p, F_OK) != 0);
        CHECK(maskinfo_write_npy(NULL, p) == MASKINFO_EINVAL);
        CHECK(maskinfo_write_npy(a, NULL) == MASKINFO_EINVAL);
        maskinfo_array_free(a);
    }
}

/* ------------------------------------------------------------ safetensors */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void test_safetensors(void)
{
    char p[512];
    /* the exact header for two arrays, one name needing escapes */
    {
        const int64_t s23[2] = {2, 3}, s3[1] = {3};
        maskinfo_array *a = make_array(MASKINFO_INT32, 2, s23);
        maskinfo_array *b = make_array(MASKINFO_FLOAT16, 1, s3);
        const char *names[2] = {"mask", "we\"ird\\n\x01"};
        const maskinfo_array *arrs[2] = {a, b};
        path_in(p, sizeof p, "two.safetensors");
        CHECK(maskinfo_write_safetensors(names, arrs, 2, p) == MASKINFO_OK);
        size_t len;
        uint8_t *f = slurp(p, &len);
        const char *json =
            "{\"__metadata__\":{\"format\":\"pt\"},"
            "\"mask\":{\"dtype\":\"I32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
            "\"we\\\"ird\\\\n\\u0001\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]}}";
        size_t jl = strlen(json);
        CHECK(f != NULL && len >= 8);
        if (f && len >= 8) {
            uint64_t n = le64(f);
            CHECKF((8 + n) % 8 == 0, "data start %llu not 8-aligned", (unsigned long long)(8 + n));
            CHECK(n >= jl && n - jl < 8 && memcmp(f + 8, json, jl) == 0);
            CHECKF(n >= jl && memcmp(f + 8, json, jl) == 0, "header: %.*s", (int)n, (const char *)f + 8);
            int pad_ok = n >= jl;
            for (uint64_t i = jl; pad_ok && i < n; i++) pad_ok = f[8 + i] == ' ';
            CHECK(pad_ok);
            CHECK(len == 8 + n + 30);
            CHECK(len == 8 + n + 30 && memcmp(f + 8 + n, maskinfo_array_cdata(a), 24) == 0 &&
                  memcmp(f + 8 + n + 24, maskinfo_array_cdata(b), 6) == 0);
        }
        free(f);
        maskinfo_array_free(a);
        maskinfo_array_free(b);
    }
    /* every dtype, offsets tiling the data, in the given order */
    {
        static const struct { maskinfo_dtype dt; const char *tag; } dts[] = {
            {MASKINFO_BOOL, "BOOL"}, {MASKINFO_INT32, "I32"}, {MASKINFO_FLOAT32, "F32"},
            {MASKINFO_FLOAT16, "F16"}, {MASKINFO_BFLOAT16, "BF16"},
            {MASKINFO_INT64, "I64"}, {MASKINFO_UINT8, "U8"},
        };
        enum { ND = 7 };
        maskinfo_array *arrs[ND];
        const char *names[ND] = {"z_bool", "i32", "f32", "f16", "bf16", "i64", "u8"};
        const int64_t sh[3] = {3, 1, 5};
        for (int d = 0; d < ND; d++) arrs[d] = make_array(dts[d].dt, 3, sh);
        path_in(p, sizeof p, "all.safetensors");
        CHECK(maskinfo_write_safetensors(names, (const maskinfo_array *const *)arrs, ND, p) == MASKINFO_OK);
        size_t len;
        uint8_t *f = slurp(p, &len);
        CHECK(f != NULL && len > 8);
        if (f && len > 8) {
            uint64_t n = le64(f);
            CHECK((8 + n) % 8 == 0 && 8 + n <= len);
            const char *hdr = (const char *)f + 8;
            uint64_t off = 0;
            const char *prev = hdr;
            for (int d = 0; d < ND; d++) {
                uint64_t nb = 15 * maskinfo_dtype_size(dts[d].dt);
                char ent[200];
                snprintf(ent, sizeof ent,
                         "\"%s\":{\"dtype\":\"%s\",\"shape\":[3,1,5],\"data_offsets\":[%llu,%llu]}",
                         names[d], dts[d].tag, (unsigned long long)off,
                         (unsigned long long)(off + nb));
                const char *at = strstr(hdr, ent);
                CHECKF(at != NULL && at > prev, "entry %s missing or out of order", ent);
                if (at) prev = at;
                CHECK(8 + n + off + nb <= len &&
                      memcmp(f + 8 + n + off, maskinfo_array_cdata(arrs[d]), (size_t)nb) == 0);
                off += nb;
            }
            CHECK(len == 8 + n + off);
        }
        free(f);
        /* duplicates, empty names, the reserved key and bad UTF-8 */
        const char *dup[2] = {"x", "x"};
        path_in(p, sizeof p, "bad.safetensors");
        CHECK(maskinfo_write_safetensors(dup, (const maskinfo_array *const *)arrs, 2, p) == MASKINFO_EINVAL);
        const char *empty[2] = {"x", ""};
        CHECK(maskinfo_write_safetensors(empty, (const maskinfo_array *const *)arrs, 2, p) == MASKINFO_EINVAL);
        const char *meta[1] = {"__metadata__"};
        CHECK(maskinfo_write_safetensors(meta, (const maskinfo_array *const *)arrs, 1, p) == MASKINFO_EINVAL);
        const char *utf[1] = {"\xc3("};
        CHECK(maskinfo_write_safetensors(utf, (const maskinfo_array *const *)arrs, 1, p) == MASKINFO_EINVAL);
        const char *good_utf[1] = {"\xc3\xa9t\xc3\xa9"};
        CHECK(maskinfo_write_safetensors(good_utf, (const maskinfo_array *const *)arrs, 1, p) == MASKINFO_OK);
        const char *nul[1] = {NULL};
        CHECK(maskinfo_write_safetensors(nul, (const maskinfo_array *const *)arrs, 1, p) == MASKINFO_EINVAL);
        unlink(p);
        for (int d = 0; d < ND; d++) maskinfo_array_free(arrs[d]);
    }
    /* no tensors at all: the header alone */
    {
        path_in(p, sizeof p, "none.safetensors");
        CHECK(maskinfo_write_safetensors(NULL, NULL, 0, p) == MASKINFO_OK);
        size_t len;
        uint8_t *f = slurp(p, &len);
        const char *json = "{\"__metadata__\":{\"format\":\"pt\"}}";
        CHECK(f && len == 8 + le64(f) && len % 8 == 0 && memcmp(f + 8, json, strlen(json)) == 0);
        free(f);
    }
}

/* ------------------------------------------------------------ failures */

static void test_write_failures(void)
{
    char p[512];
    const int64_t s23[2] = {2, 3};
    maskinfo_array *a = make_array(MASKINFO_INT32, 2, s23);
    const char *names[1] = {"a"};
    const maskinfo_array *arrs[1] = {a};
    /* a missing folder: EIO and nothing left anywhere */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", tmpdir);
    path_in(p, sizeof p, "nope/x.npy");
    int before = dir_entries(tmpdir);
    CHECK(maskinfo_write_npy(a, p) == MASKINFO_EIO);
    path_in(p, sizeof p, "nope/x.safetensors");
    CHECK(maskinfo_write_safetensors(names, arrs, 1, p) == MASKINFO_EIO);
    CHECK(dir_entries(tmpdir) == before);
    CHECK(access(missing, F_OK) != 0);
    CHECK(maskinfo_write_npy(a, "") == MASKINFO_EIO);

    /* failing at rename: the target is a non-empty folder.  The temporary
     * file was complete, so this exercises the cleanup after writing. */
    path_in(p, sizeof p, "isdir.npy");
    CHECK(mkdir(p, 0755) == 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", p);
    FILE *fp = fopen(inner, "w");
    if (fp) fclose(fp);
    before = dir_entries(tmpdir);
    CHECK(maskinfo_write_npy(a, p) == MASKINFO_EIO);
    CHECK(maskinfo_write_safetensors(names, arrs, 1, p) == MASKINFO_EIO);
    CHECK(dir_entries(tmpdir) == before); /* no .tmp file left */
    CHECK(dir_entries(p) == 1);
    unlink(inner);
    rmdir(p);

    /* an existing file survives a failed write untouched */
    path_in(p, sizeof p, "keep.npy");
    fp = fopen(p, "w");
    if (fp) {
        fputs("precious", fp);
        fclose(fp);
    }
    chmod(p, 0600);
    maskinfo_array *bf = make_array(MASKINFO_BFLOAT16, 2, s23);
    CHECK(maskinfo_write_npy(bf, p) == MASKINFO_EDTYPE);
    const char *dup[2] = {"a", "a"};
    const maskinfo_array *two[2] = {a, a};
    CHECK(maskinfo_write_safetensors(dup, two, 2, p) == MASKINFO_EINVAL);
    size_t len;
    uint8_t *f = slurp(p, &len);
    CHECK(f && len == 8 && memcmp(f, "precious", 8) == 0);
    free(f);
    /* a successful overwrite replaces it and keeps its permissions */
    CHECK(maskinfo_write_npy(a, p) == MASKINFO_OK);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
    f = slurp(p, &len);
    CHECK(f && len == 128 + 24 && f[0] == 0x93);
    free(f);
    /* a new file is 0644 (less the umask), not mkstemp's 0600 */
    path_in(p, sizeof p, "fresh.npy");
    mode_t um = umask(022);
    CHECK(maskinfo_write_npy(a, p) == MASKINFO_OK);
    umask(um);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
    maskinfo_array_free(bf);
    maskinfo_array_free(a);
}

/* ------------------------------------------------------------ block classes */

/* Per-cell reference: count every block's allowed cells from the dense
 * expansion and classify against the block's area inside the mask. */
static maskinfo_array *naive_classes(const maskinfo_mask *m, int64_t bq, int64_t bk)
{
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_array *d = NULL;
    if (maskinfo_mask_to_array(m, MASKINFO_BOOL, &d, NULL)) return NULL;
    const uint8_t *c = maskinfo_array_cdata(d);
    int64_t R = (s[2] + bq - 1) / bq, C = (s[3] + bk - 1) / bk;
    int64_t sh[4] = {s[0], s[1], R, C};
    maskinfo_array *o = NULL;
    if (maskinfo_array_new(&o, MASKINFO_UINT8, 4, sh, NULL)) {
        maskinfo_array_free(d);
        return NULL;
    }
    uint8_t *op = maskinfo_array_data(o);
    for (int64_t p = 0; p < s[0] * s[1]; p++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                int64_t n = 0, area = 0;
                for (int64_t q = i * bq; q < (i + 1) * bq && q < s[2]; q++)
                    for (int64_t k = j * bk; k < (j + 1) * bk && k < s[3]; k++) {
                        area++;
                        n += c[(p * s[2] + q) * s[3] + k];
                    }
                op[(p * R + i) * C + j] = n == 0 ? 0 : n == area ? 2 : 1;
            }
    maskinfo_array_free(d);
    return o;
}

static int check_classes(const maskinfo_mask *m, int64_t bq, int64_t bk, const char *what)
{
    maskinfo_array *got = NULL, *want = naive_classes(m, bq, bk);
    int st = maskinfo_mask_block_classes(m, bq, bk, &got, NULL);
    int ok = st == MASKINFO_OK && want && maskinfo_array_dtype(got) == MASKINFO_UINT8 &&
             maskinfo_array_equal(got, want);
    CHECKF(ok, "block classes of %s at %lldx%lld differ (status %d)", what,
           (long long)bq, (long long)bk, st);
    int has[3] = {0, 0, 0};
    if (want)
        for (int64_t i = 0; i < maskinfo_array_size(want); i++)
            has[((const uint8_t *)maskinfo_array_cdata(want))[i]] = 1;
    maskinfo_array_free(got);
    maskinfo_array_free(want);
    return has[0] + 2 * has[1] + 4 * has[2];
}

static const int64_t block_sizes[][2] = {
    {1, 1}, {2, 3}, {4, 4}, {5, 7}, {8, 3}, {16, 16}, {13, 64}, {100, 100},
};
#define NBS ((int)(sizeof block_sizes / sizeof block_sizes[0]))

static void test_block_classes_random(void)
{
    int seen = 0;
    for (int t = 0; t < 12; t++) {
        int64_t B = rndr(1, 2), H = rndr(1, 3), Q = rndr(1, 70), K = rndr(1, 90);
        uint8_t *cells = malloc((size_t)(B * H * Q * K));
        /* blocks of a random size are empty, full or noisy, so every class
         * shows up at the block sizes checked */
        int64_t gq = rndr(1, 9), gk = rndr(1, 9);
        int64_t gR = (Q + gq - 1) / gq, gC = (K + gk - 1) / gk;
        uint8_t *kind = malloc((size_t)(B * H * gR * gC));
        for (int64_t i = 0; i < B * H * gR * gC; i++) kind[i] = (uint8_t)rndi(3);
        for (int64_t p = 0; p < B * H; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t k = 0; k < K; k++) {
                    uint8_t kd = kind[(p * gR + q / gq) * gC + k / gk];
                    cells[(p * Q + q) * K + k] = kd == 2 ? 1 : kd == 1 ? (uint8_t)(rndi(2)) : 0;
                }
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_bytes(&m, B, H, Q, K, cells, NULL) == MASKINFO_OK);
        for (int s = 0; s < NBS && m; s++)
            seen |= check_classes(m, block_sizes[s][0], block_sizes[s][1], "random dense");
        if (m) seen |= check_classes(m, rndr(1, Q + 3), rndr(1, K + 3), "random dense");
        maskinfo_mask_unref(m);
        free(kind);
        free(cells);
    }
    CHECKF(seen == 7, "random masks covered classes %d of 7", seen);
}

static void test_block_classes_structured(void)
{
    int seen = 0;
    for (int t = 0; t < 8; t++) {
        int64_t B = rndr(1, 3), Q = rndr(1, 80), K = rndr(1, 80), H = rndr(1, 3);
        int64_t *off = malloc((size_t)B * sizeof *off);
        for (int64_t b = 0; b < B; b++) off[b] = rndr(-10, 20);
        int64_t *left = malloc((size_t)H * sizeof *left), *right = malloc((size_t)H * sizeof *right);
        for (int64_t h = 0; h < H; h++) {
            left[h] = rndr(0, 30);
            right[h] = rndr(0, 5);
        }
        maskinfo_mask *c = NULL, *w = NULL, *cw = NULL;
        CHECK(maskinfo_mask_causal(&c, B, Q, K, off) == MASKINFO_OK);
        CHECK(maskinfo_mask_window(&w, B, Q, K, H, left, right, off) == MASKINFO_OK);
        CHECK(c && w && maskinfo_mask_and(&cw, c, w) == MASKINFO_OK);
        if (cw)
            for (int s = 0; s < NBS; s++)
                seen |= check_classes(cw, block_sizes[s][0], block_sizes[s][1], "causal & window");
        /* segments (packed documents with padding), and them with causal */
        int64_t *qv = malloc((size_t)(B * Q) * sizeof *qv), *kv = malloc((size_t)(B * K) * sizeof *kv);
        for (int64_t b = 0; b < B; b++) {
            int64_t id = 0;
            for (int64_t q = 0; q < Q; q++) {
                if (rndi(9) == 0) id++;
                qv[b * Q + q] = q > Q - 4 && rndi(2) ? MASKINFO_NOMATCH_Q : id;
            }
            id = 0;
            for (int64_t k = 0; k < K; k++) {
                if (rndi(9) == 0) id++;
                kv[b * K + k] = id;
            }
        }
        maskinfo_mask *sg = NULL, *sc = NULL;
        CHECK(maskinfo_mask_segments(&sg, B, 1, 1, Q, K, qv, kv) == MASKINFO_OK);
        CHECK(sg && maskinfo_mask_and(&sc, sg, c) == MASKINFO_OK);
        for (int s = 0; s < NBS && sc; s++) {
            seen |= check_classes(sg, block_sizes[s][0], block_sizes[s][1], "segments");
            seen |= check_classes(sc, block_sizes[s][0], block_sizes[s][1], "segments & causal");
        }
        maskinfo_mask_unref(c);
        maskinfo_mask_unref(w);
        maskinfo_mask_unref(cw);
        maskinfo_mask_unref(sg);
        maskinfo_mask_unref(sc);
        free(qv);
        free(kv);
        free(off);
        free(left);
        free(right);
    }
    CHECKF(seen == 7, "structured masks covered classes %d of 7", seen);

    /* edges: empty Q or K, blocks larger than the mask, bad block sizes */
    maskinfo_mask *m = NULL;
    maskinfo_array *o = NULL;
    CHECK(maskinfo_mask_constant(&m, 2, 1, 0, 5, 1) == MASKINFO_OK);
    CHECK(maskinfo_mask_block_classes(m, 4, 4, &o, NULL) == MASKINFO_OK);
    CHECK(o && maskinfo_array_ndim(o) == 4 && maskinfo_array_shape(o)[2] == 0 &&
          maskinfo_array_shape(o)[3] == 2 && maskinfo_array_size(o) == 0);
    maskinfo_array_free(o);
    maskinfo_mask_unref(m);
    CHECK(maskinfo_mask_constant(&m, 1, 1, 3, 5, 1) == MASKINFO_OK);
    CHECK(maskinfo_mask_block_classes(m, 1000, 1000, &o, NULL) == MASKINFO_OK);
    CHECK(o && maskinfo_array_size(o) == 1 && ((uint8_t *)maskinfo_array_data(o))[0] == 2);
    maskinfo_array_free(o);
    o = (maskinfo_array *)1;
    CHECK(maskinfo_mask_block_classes(m, 0, 4, &o, NULL) == MASKINFO_EINVAL && o == NULL);
    CHECK(maskinfo_mask_block_classes(m, 4, -1, &o, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_block_classes(NULL, 4, 4, &o, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_block_classes(m, 4, 4, NULL, NULL) == MASKINFO_EINVAL);
    maskinfo_mask_unref(m);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The class of block (i, j) of k <= q and q - L <= k, blocks of n x n on an
 * N x N mask (N a multiple of n), worked out from the block corners. */
static uint8_t cw_class(int64_t i, int64_t j, int64_t n, int64_t L)
{
    int64_t q0 = i * n, q1 = q0 + n - 1, k0 = j * n, k1 = k0 + n - 1;
    if (k0 > q1 || k1 < q0 - L) return 0;
    if (k1 <= q0 && k0 >= q1 - L) return 2;
    return 1;
}

/* A million-token causal sliding-window mask at 128 x 128 blocks: the
 * classes come from rows of intervals, never from a dense mask.  The guard
 * is set to exactly the output size, so any dense expansion would fail. */
static void test_block_classes_large(void)
{
    const int64_t N = INT64_C(1) << 20, n = 128, L = 4000, R = N / n;
    maskinfo_mask *c = NULL, *w = NULL, *m = NULL;
    const int64_t left = L, right = 0;
    CHECK(maskinfo_mask_causal(&c, 1, N, N, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_window(&w, 1, N, N, 1, &left, &right, NULL) == MASKINFO_OK);
    CHECK(c && w && maskinfo_mask_and(&m, c, w) == MASKINFO_OK);
    if (!m) return;
    CHECK(!maskinfo_mask_is_dense(m) && maskinfo_mask_bytes(m) < 4096);
    /* the output plus one thread's two count rows (16 bytes per column) */
    maskinfo_limits lim = {(uint64_t)(R * R + 16 * (R + 1))};
    maskinfo_array *o = NULL;
    double t0 = now_s();
    int st = maskinfo_mask_block_classes(m, n, n, &o, &lim);
    double t1 = now_s();
    CHECKF(st == MASKINFO_OK, "1M-token block classes: status %d", st);
    if (o) {
        const int64_t *s = maskinfo_array_shape(o);
        CHECK(s[0] == 1 && s[1] == 1 && s[2] == R && s[3] == R);
        const uint8_t *cl = maskinfo_array_cdata(o);
        const int64_t rows[] = {0, 1, 31, 32, 33, 4095, 4096, R / 2 + 7, R - 2, R - 1};
        int bad = 0;
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            for (int64_t j = 0; j < R; j++)
                bad += cl[rows[r] * R + j] != cw_class(rows[r], j, n, L);
        CHECKF(bad == 0, "1M-token classes: %d blocks wrong in the rows checked", bad);
        /* every row: the diagonal block is partial, far blocks are empty */
        int diag = 1;
        for (int64_t i = 0; i < R; i++)
            diag &= cl[i * R + i] == 1 && (i < 40 || cl[i * R + i - 40] == 0);
        CHECK(diag);
        maskinfo_array *num = NULL, *idx = NULL;
        maskinfo_limits tl = {(uint64_t)(R * R + R) * 4 + 65 * (uint64_t)R};
        double t2 = now_s();
        st = maskinfo_block_table(o, 1, 0, &num, &idx, &tl);
        double t3 = now_s();
        CHECK(st == MASKINFO_OK);
        /* partial-block counts of a few rows, from the corner rule */
        int nbad = !num;
        for (size_t r = 0; num && r < sizeof rows / sizeof rows[0]; r++) {
            int32_t want = 0;
            for (int64_t j = 0; j < R; j++) want += cw_class(rows[r], j, n, L) == 1;
            nbad += ((int32_t *)maskinfo_array_data(num))[rows[r]] != want;
        }
        CHECK(nbad == 0);
        CHECK(num && ((int32_t *)maskinfo_array_data(num))[0] == 1);
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        st = maskinfo_block_table(o, 2, 1, &num, &idx, &tl);
        double t4 = now_s();
        CHECK(st == MASKINFO_OK);
        printf("info: 1,048,576 tokens, 128x128 blocks: classes %.3f s, "
               "table %.3f s, transposed table %.3f s (%d threads)\n",
               t1 - t0, t3 - t2, t4 - t3,
#ifdef _OPENMP
               omp_get_max_threads()
#else
               1
#endif
        );
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
    }
    maskinfo_array_free(o);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(w);
    maskinfo_mask_unref(m);
}

/* ------------------------------------------------------------ block tables */

/* Naive reference: build the (possibly transposed) matrix explicitly, then
 * a stable insertion sort of the column indices by (class != want). */
static int check_table(const maskinfo_array *cls, int want, int tr)
{
    const int64_t *s = maskinfo_array_shape(cls);
    const int64_t B = s[0], H = s[1], R = s[2], C = s[3];
    const int64_t nr = tr ? C : R, nc = tr ? R : C;
    const uint8_t *c = maskinfo_array_cdata(cls);
    maskinfo_array *num = NULL, *idx = NULL;
    int st = maskinfo_block_table(cls, want, tr, &num, &idx, NULL);
    CHECKF(st == MASKINFO_OK, "block table status %d", st);
    if (st) return 0;
    const int64_t *ns = maskinfo_array_shape(num), *is = maskinfo_array_shape(idx);
    CHECK(maskinfo_array_dtype(num) == MASKINFO_INT32 && maskinfo_array_dtype(idx) == MASKINFO_INT32);
    CHECK(maskinfo_array_ndim(num) == 3 && ns[0] == B && ns[1] == H && ns[2] == nr);
    CHECK(maskinfo_array_ndim(idx) == 4 && is[0] == B && is[1] == H && is[2] == nr && is[3] == nc);
    uint8_t *mat = malloc((size_t)(B * H * R * C) + 1);
    int32_t *ord = malloc((size_t)(nc + 1) * sizeof *ord);
    for (int64_t p = 0; p < B * H; p++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                uint8_t v = c[(p * R + i) * C + j];
                if (tr) mat[(p * C + j) * R + i] = v;
                else mat[(p * R + i) * C + j] = v;
            }
    const int32_t *gn = maskinfo_array_cdata(num), *gi = maskinfo_array_cdata(idx);
    int bad = 0;
    for (int64_t r = 0; r < B * H * nr; r++) {
        const uint8_t *row = mat + r * nc;
        int32_t cnt = 0;
        for (int64_t j = 0; j < nc; j++) {
            ord[j] = (int32_t)j;
            cnt += row[j] == want;
        }
        for (int64_t a = 1; a < nc; a++) { /* stable: move only past larger keys */
            int32_t x = ord[a];
            int kx = row[x] != want;
            int64_t b = a - 1;
            while (b >= 0 && (row[ord[b]] != want) > kx) {
                ord[b + 1] = ord[b];
                b--;
            }
            ord[b + 1] = x;
        }
        bad += gn[r] != cnt || (nc && memcmp(gi + r * nc, ord, (size_t)nc * 4) != 0);
    }
    CHECKF(bad == 0, "block table (want %d, transpose %d): %d rows differ", want, tr, bad);
    free(mat);
    free(ord);
    maskinfo_array_free(num);
    maskinfo_array_free(idx);
    return bad == 0;
}

static maskinfo_array *random_classes(int64_t B, int64_t H, int64_t R, int64_t C)
{
    const int64_t sh[4] = {B, H, R, C};
    maskinfo_array *a = NULL;
    if (maskinfo_array_new(&a, MASKINFO_UINT8, 4, sh, NULL)) return NULL;
    uint8_t *d = maskinfo_array_data(a);
    int bias = (int)rndi(3);
    for (int64_t i = 0; i < maskinfo_array_size(a); i++)
        d[i] = (uint8_t)(rndi(4) == 0 ? bias : rndi(3));
    return a;
}

static void test_block_tables(void)
{
    const int64_t shapes[][4] = {
        {1, 1, 1, 1}, {1, 1, 4, 4}, {2, 3, 5, 7}, {1, 2, 70, 150}, {1, 1, 130, 3},
        {2, 1, 0, 4}, {1, 1, 3, 0}, {1, 1, 64, 64}, {1, 1, 65, 129},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        maskinfo_array *c = random_classes(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
        for (int want = 1; want <= 2; want++)
            for (int tr = 0; tr <= 1; tr++) check_table(c, want, tr);
        maskinfo_array_free(c);
    }
    /* a known case: row [2 1 0 1] with want 1 -> num 2, idx 1 3 0 2 */
    {
        const int64_t sh[4] = {1, 1, 2, 4};
        maskinfo_array *c = NULL, *num = NULL, *idx = NULL;
        CHECK(maskinfo_array_new(&c, MASKINFO_UINT8, 4, sh, NULL) == MASKINFO_OK);
        const uint8_t v[8] = {2, 1, 0, 1, 0, 0, 2, 2};
        memcpy(maskinfo_array_data(c), v, 8);
        CHECK(maskinfo_block_table(c, 1, 0, &num, &idx, NULL) == MASKINFO_OK);
        const int32_t wn[2] = {2, 0}, wi[8] = {1, 3, 0, 2, 0, 1, 2, 3};
        CHECK(num && memcmp(maskinfo_array_cdata(num), wn, sizeof wn) == 0);
        CHECK(idx && memcmp(maskinfo_array_cdata(idx), wi, sizeof wi) == 0);
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        /* transposed, want 2: columns are [2 0] [1 0] [0 2] [1 2] */
        CHECK(maskinfo_block_table(c, 2, 1, &num, &idx, NULL) == MASKINFO_OK);
        const int32_t tn[4] = {1, 0, 1, 1}, ti[8] = {0, 1, 0, 1, 1, 0, 1, 0};
        CHECK(num && memcmp(maskinfo_array_cdata(num), tn, sizeof tn) == 0);
        CHECK(idx && memcmp(maskinfo_array_cdata(idx), ti, sizeof ti) == 0);
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        /* argument errors leave the outputs NULL */
        num = idx = (maskinfo_array *)1;
        CHECK(maskinfo_block_table(c, 0, 0, &num, &idx, NULL) == MASKINFO_EINVAL && !num && !idx);
        CHECK(maskinfo_block_table(c, 3, 0, &num, &idx, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_block_table(NULL, 1, 0, &num, &idx, NULL) == MASKINFO_EINVAL);
        CHECK(maskinfo_block_table(c, 1, 0, NULL, &idx, NULL) == MASKINFO_EINVAL);
        maskinfo_array *i32 = NULL;
        CHECK(maskinfo_array_astype(c, MASKINFO_INT32, &i32, NULL) == MASKINFO_OK);
        CHECK(maskinfo_block_table(i32, 1, 0, &num, &idx, NULL) == MASKINFO_EDTYPE);
        maskinfo_array_free(i32);
        const int64_t sh3[3] = {1, 2, 4};
        CHECK(maskinfo_array_reshape(c, 3, sh3) == MASKINFO_OK);
        CHECK(maskinfo_block_table(c, 1, 0, &num, &idx, NULL) == MASKINFO_ESHAPE);
        maskinfo_array_free(c);
    }
    /* end to end: tables of computed classes of causal & segments */
    {
        const int64_t Q = 37, K = 41;
        int64_t qv[37], kv[41];
        for (int64_t q = 0; q < Q; q++) qv[q] = q / 13;
        for (int64_t k = 0; k < K; k++) kv[k] = k / 13;
        maskinfo_mask *sg = NULL, *c = NULL, *m = NULL;
        maskinfo_mask_segments(&sg, 1, 1, 1, Q, K, qv, kv);
        maskinfo_mask_causal(&c, 1, Q, K, NULL);
        CHECK(sg && c && maskinfo_mask_and(&m, sg, c) == MASKINFO_OK);
        maskinfo_array *cls = NULL;
        CHECK(m && maskinfo_mask_block_classes(m, 4, 4, &cls, NULL) == MASKINFO_OK);
        for (int want = 1; want <= 2 && cls; want++)
            for (int tr = 0; tr <= 1; tr++) check_table(cls, want, tr);
        maskinfo_array_free(cls);
        maskinfo_mask_unref(sg);
        maskinfo_mask_unref(c);
        maskinfo_mask_unref(m);
    }
}

/* ------------------------------------------------------------ threads, guard */

static void set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static void test_thread_invariance(void)
{
    /* large enough to cross every parallel threshold */
    const int64_t B = 2, Q = 2048, K = 2048;
    const int64_t off[2] = {0, 100}, left[2] = {300, 17}, right[2] = {0, 9};
    maskinfo_mask *c = NULL, *w = NULL, *m = NULL, *r = NULL, *mr = NULL;
    maskinfo_mask_causal(&c, B, Q, K, off);
    maskinfo_mask_window(&w, B, Q, K, 2, left, right, off);
    maskinfo_mask_and(&m, c, w);
    maskinfo_mask_random(&r, B, 1, Q, K, 0.97, 42, NULL);
    CHECK(m && r && maskinfo_mask_or(&mr, m, r) == MASKINFO_OK);
    maskinfo_mask *ms[2] = {m, mr};
    for (int t = 0; t < 2; t++) {
        if (!ms[t]) continue;
        maskinfo_array *o1 = NULL, *o3 = NULL;
        set_threads(1);
        int s1 = maskinfo_mask_block_classes(ms[t], 16, 16, &o1, NULL);
        set_threads(3);
        int s3 = maskinfo_mask_block_classes(ms[t], 16, 16, &o3, NULL);
        CHECK(s1 == MASKINFO_OK && s3 == MASKINFO_OK && o1 && o3 &&
              maskinfo_array_size(o1) == B * 2 * 128 * 128 &&
              memcmp(maskinfo_array_cdata(o1), maskinfo_array_cdata(o3),
                     (size_t)maskinfo_array_size(o1)) == 0);
        for (int tr = 0; tr <= 1 && o1; tr++) {
            maskinfo_array *n1 = NULL, *i1 = NULL, *n3 = NULL, *i3 = NULL;
            set_threads(1);
            maskinfo_block_table(o1, 1 + t, tr, &n1, &i1, NULL);
            set_threads(3);
            maskinfo_block_table(o1, 1 + t, tr, &n3, &i3, NULL);
            CHECK(n1 && n3 && i1 && i3 && maskinfo_array_equal(n1, n3) &&
                  maskinfo_array_equal(i1, i3));
            maskinfo_array_free(n1);
            maskinfo_array_free(i1);
            maskinfo_array_free(n3);
            maskinfo_array_free(i3);
        }
        maskinfo_array_free(o1);
        maskinfo_array_free(o3);
    }
    set_threads(2);
    maskinfo_mask_unref(c);
    maskinfo_mask_unref(w);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(r);
    maskinfo_mask_unref(mr);
}

/* Bytes in use by malloc, to show a refused call allocated nothing. */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

static void test_guard(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, 1000, 1000, NULL) == MASKINFO_OK);
    if (!m) return;
    /* 10 x 10 blocks: 100 output bytes + 16 * (10 + 1) for the count rows */
    maskinfo_limits tiny = {276};
    maskinfo_array *o = NULL;
    size_t h0 = heap_in_use();
    int st = maskinfo_mask_block_classes(m, 99, 99, &o, &tiny); /* 11 x 11 */
    size_t h1 = heap_in_use();
    CHECK(st == MASKINFO_ETOOBIG && o == NULL);
    CHECK(h0 == h1);
    tiny.max_bytes = 275;
    CHECK(maskinfo_mask_block_classes(m, 100, 100, &o, &tiny) == MASKINFO_ETOOBIG && o == NULL);
    tiny.max_bytes = 276;
    CHECK(maskinfo_mask_block_classes(m, 100, 100, &o, &tiny) == MASKINFO_OK);
    CHECK(o && maskinfo_array_size(o) == 100);
    /* tables need 4 * (10 + 100) bytes */
    maskinfo_array *num = NULL, *idx = NULL;
    maskinfo_limits small = {439};
    h0 = heap_in_use();
    st = maskinfo_block_table(o, 1, 0, &num, &idx, &small);
    h1 = heap_in_use();
    CHECK(st == MASKINFO_ETOOBIG && num == NULL && idx == NULL);
    CHECK(h0 == h1);
    small.max_bytes = 440;
    CHECK(maskinfo_block_table(o, 1, 0, &num, &idx, &small) == MASKINFO_OK);
    maskinfo_array_free(num);
    maskinfo_array_free(idx);
    /* transposed: + a thread's 10 x 64 tile and 10-byte column */
    small.max_bytes = 1089;
    CHECK(maskinfo_block_table(o, 1, 1, &num, &idx, &small) == MASKINFO_ETOOBIG);
    small.max_bytes = 1090;
    CHECK(maskinfo_block_table(o, 1, 1, &num, &idx, &small) == MASKINFO_OK);
    maskinfo_array_free(num);
    maskinfo_array_free(idx);
    maskinfo_array_free(o);
    /* an absurd request: 2^60 blocks refused under the default guard */
    maskinfo_mask *big = NULL;
    CHECK(maskinfo_mask_constant(&big, 1, 1, INT64_C(1) << 40, INT64_C(1) << 20, 1) == MASKINFO_OK);
    o = NULL;
    CHECK(big && maskinfo_mask_block_classes(big, 1, 1, &o, NULL) == MASKINFO_ETOOBIG && o == NULL);
    maskinfo_mask_unref(big);
    maskinfo_mask_unref(m);
}

/* ------------------------------------------------------------ uint8 dtype */

static void test_uint8(void)
{
    CHECK(strcmp(maskinfo_dtype_name(MASKINFO_UINT8), "uint8") == 0);
    CHECK(maskinfo_dtype_size(MASKINFO_UINT8) == 1);
    CHECK(maskinfo_dtype_from_name("uint8") == MASKINFO_UINT8);
    const int64_t sh[1] = {8};
    maskinfo_array *f = NULL, *u = NULL;
    CHECK(maskinfo_array_new(&f, MASKINFO_FLOAT32, 1, sh, NULL) == MASKINFO_OK);
    const double v[8] = {-5.0, 0.0, 1.9, 254.5, 255.0, 1e9, NAN, -INFINITY};
    for (int i = 0; i < 8; i++) maskinfo_array_set(f, i, v[i]);
    CHECK(maskinfo_array_astype(f, MASKINFO_UINT8, &u, NULL) == MASKINFO_OK);
    const uint8_t want[8] = {0, 0, 1, 254, 255, 255, 0, 0};
    CHECK(u && memcmp(maskinfo_array_cdata(u), want, 8) == 0);
    CHECK(u && maskinfo_array_get(u, 3) == 254.0);
    maskinfo_array *back = NULL;
    CHECK(u && maskinfo_array_astype(u, MASKINFO_INT32, &back, NULL) == MASKINFO_OK);
    CHECK(back && maskinfo_array_get(back, 4) == 255.0);
    maskinfo_array_free(back);
    maskinfo_array_free(u);
    maskinfo_array_free(f);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/maskinfo-export-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        check_fail_msg("mkdtemp");
        return check_summary();
    }
    set_threads(2);
    test_uint8();
    test_npy();
    test_safetensors();
    test_write_failures();
    test_block_classes_random();
    test_block_classes_structured();
    test_block_tables();
    test_thread_invariance();
    test_guard();
    test_block_classes_large();
    /* clean up the scratch folder */
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return check_summary();
}
