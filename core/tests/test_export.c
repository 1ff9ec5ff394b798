/*
 * test_export.c - .npy and .safetensors files (read back byte by byte) and
 * their failure paths, errno on EIO included (export.c, atomic_file.c);
 * the uint8 dtype they carry.
 */
#define _POSIX_C_SOURCE 200809L

#include "maskinfo.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    /* errno still holds the OS reason after the cleanup, for strerror */
    errno = 0;
    CHECK(maskinfo_write_npy(a, p) == MASKINFO_EIO);
    CHECKF(errno == ENOENT, "npy into a missing folder: errno %d, want ENOENT", errno);
    path_in(p, sizeof p, "nope/x.safetensors");
    errno = 0;
    CHECK(maskinfo_write_safetensors(names, arrs, 1, p) == MASKINFO_EIO);
    CHECKF(errno == ENOENT, "safetensors into a missing folder: errno %d", errno);
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
    errno = 0;
    CHECK(maskinfo_write_npy(a, p) == MASKINFO_EIO);
    CHECKF(errno == EISDIR, "npy onto a folder: errno %d, want EISDIR", errno);
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

/* ------------------------------------------------------------ bytes */

static void test_bytes(void)
{
    char p[512];
    const char text[] = "{\"a\":[1,2]}\n\0tail"; /* any bytes, a NUL included */
    path_in(p, sizeof p, "x.json");
    CHECK(maskinfo_write_bytes(text, sizeof text - 1, p) == MASKINFO_OK);
    size_t len;
    uint8_t *f = slurp(p, &len);
    CHECK(f && len == sizeof text - 1 && memcmp(f, text, len) == 0);
    free(f);
    /* an empty text is an empty file */
    CHECK(maskinfo_write_bytes(NULL, 0, p) == MASKINFO_OK);
    f = slurp(p, &len);
    CHECK(f && len == 0);
    free(f);
    CHECK(maskinfo_write_bytes(NULL, 3, p) == MASKINFO_EINVAL);
    CHECK(maskinfo_write_bytes(text, 3, NULL) == MASKINFO_EINVAL);
    /* a missing folder: EIO with errno, nothing left behind */
    int before = dir_entries(tmpdir);
    path_in(p, sizeof p, "nope/x.json");
    errno = 0;
    CHECK(maskinfo_write_bytes(text, 3, p) == MASKINFO_EIO);
    CHECKF(errno == ENOENT, "bytes into a missing folder: errno %d, want ENOENT", errno);
    CHECK(dir_entries(tmpdir) == before);
    path_in(p, sizeof p, "x.json");
    unlink(p);
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
    test_uint8();
    test_npy();
    test_safetensors();
    test_write_failures();
    test_bytes();
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
