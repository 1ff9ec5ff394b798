/* test_array.c - dense arrays: creation, guard (rows too), get/set, astype,
 * equality (int64 exact); atomic writes' temporary names. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fork, waitpid */
#include "maskinfo.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void test_new(void)
{
    maskinfo_array *a = NULL;
    const int64_t sh[2] = { 2, 3 };
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, sh, NULL) == MASKINFO_OK);
    CHECK(a != NULL);
    CHECK(maskinfo_array_ndim(a) == 2);
    CHECK(maskinfo_array_shape(a)[0] == 2 && maskinfo_array_shape(a)[1] == 3);
    CHECK(maskinfo_array_size(a) == 6);
    CHECK(maskinfo_array_dtype(a) == MASKINFO_INT32);
    int zero = 1;
    const int32_t *d = maskinfo_array_cdata(a);
    for (int i = 0; i < 6; i++)
        if (d[i] != 0 || maskinfo_array_get(a, i) != 0.0)
            zero = 0;
    CHECK(zero);
    CHECK(maskinfo_array_data(a) == (void *)d);
    maskinfo_array_free(a);

    /* scalar and empty arrays */
    CHECK(maskinfo_array_new(&a, MASKINFO_FLOAT32, 0, NULL, NULL) == MASKINFO_OK);
    CHECK(maskinfo_array_size(a) == 1 && maskinfo_array_ndim(a) == 0);
    maskinfo_array_free(a);
    const int64_t e[2] = { 0, 5 };
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 2, e, NULL) == MASKINFO_OK);
    CHECK(maskinfo_array_size(a) == 0 && maskinfo_array_data(a) != NULL);
    maskinfo_array_free(a);

    /* bad arguments leave *out NULL */
    const int64_t neg[2] = { 2, -1 };
    a = (maskinfo_array *)&a;
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 2, neg, NULL) == MASKINFO_EINVAL);
    CHECK(a == NULL);
    const int64_t nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 9, nine, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 8, nine, NULL) == MASKINFO_OK);
    maskinfo_array_free(a);
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, -1, sh, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 2, NULL, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_array_new(&a, (maskinfo_dtype)9, 2, sh, NULL) == MASKINFO_EDTYPE);
    CHECK(maskinfo_array_new(NULL, MASKINFO_BOOL, 2, sh, NULL) == MASKINFO_EINVAL);
    maskinfo_array_free(NULL);
    CHECK(maskinfo_array_size(NULL) == 0 && maskinfo_array_data(NULL) == NULL);
}

static void test_guard(void)
{
    maskinfo_array *a = NULL;
    /* the element count overflows int64 */
    const int64_t ov[3] = { INT64_C(1) << 40, INT64_C(1) << 30, 4 };
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 3, ov, NULL) == MASKINFO_EOVERFLOW);
    CHECK(a == NULL);
    const int64_t ov2[2] = { INT64_MAX, 2 };
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 2, ov2, NULL) == MASKINFO_EOVERFLOW);
    /* fits int64 but count * 4 bytes overflows 64 bits */
    const int64_t ov3[2] = { INT64_C(1) << 31, INT64_C(1) << 31 };
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, ov3, NULL) == MASKINFO_EOVERFLOW);
    /* refused by the default guard before allocating 4 EiB */
    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 2, ov3, NULL) == MASKINFO_ETOOBIG);
    CHECK(a == NULL);
    /* a small explicit limit */
    maskinfo_limits lim = { 1000 };
    const int64_t s1[2] = { 10, 25 }, s2[2] = { 10, 26 };
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, s1, &lim) == MASKINFO_OK);
    maskinfo_array *b = NULL;
    CHECK(maskinfo_array_astype(a, MASKINFO_FLOAT16, &b, &lim) == MASKINFO_OK);
    maskinfo_array_free(b);
    maskinfo_limits tiny = { 600 };
    CHECK(maskinfo_array_astype(a, MASKINFO_FLOAT32, &b, &tiny) == MASKINFO_ETOOBIG);
    CHECK(b == NULL);
    CHECK(maskinfo_array_astype(a, MASKINFO_FLOAT16, &b, &tiny) == MASKINFO_OK);
    maskinfo_array_free(b);
    CHECK(maskinfo_array_copy(a, &b, &tiny) == MASKINFO_ETOOBIG);
    maskinfo_array_free(a);
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, s2, &lim) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_array_new(&a, MASKINFO_FLOAT16, 2, s2, &lim) == MASKINFO_OK);
    maskinfo_array_free(a);
}

static void test_get_set(void)
{
    maskinfo_array *a;
    const int64_t n[1] = { 4 };

    CHECK(maskinfo_array_new(&a, MASKINFO_BOOL, 1, n, NULL) == MASKINFO_OK);
    maskinfo_array_set(a, 0, 2.5);
    maskinfo_array_set(a, 1, -0.0);
    maskinfo_array_set(a, 2, NAN);
    maskinfo_array_set(a, 3, -1.0);
    const uint8_t *b = maskinfo_array_cdata(a);
    CHECK(b[0] == 1 && b[1] == 0 && b[2] == 1 && b[3] == 1);
    CHECK(maskinfo_array_get(a, 0) == 1.0 && maskinfo_array_get(a, 1) == 0.0);
    /* out of range: NaN, and writes are ignored */
    CHECK(isnan(maskinfo_array_get(a, 4)) && isnan(maskinfo_array_get(a, -1)));
    maskinfo_array_set(a, 4, 1.0);
    maskinfo_array_set(a, -1, 1.0);
    CHECK(b[0] == 1 && b[1] == 0);
    maskinfo_array_free(a);

    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 1, n, NULL) == MASKINFO_OK);
    maskinfo_array_set(a, 0, 3.7);
    maskinfo_array_set(a, 1, -3.7);
    maskinfo_array_set(a, 2, 1e12);
    maskinfo_array_set(a, 3, NAN);
    const int32_t *i32 = maskinfo_array_cdata(a);
    CHECK(i32[0] == 3 && i32[1] == -3 && i32[2] == INT32_MAX && i32[3] == 0);
    maskinfo_array_set(a, 2, -2147483648.0);
    maskinfo_array_set(a, 3, 2147483647.0);
    CHECK(i32[2] == INT32_MIN && i32[3] == INT32_MAX);
    CHECK(maskinfo_array_get(a, 2) == -2147483648.0);
    maskinfo_array_free(a);

    CHECK(maskinfo_array_new(&a, MASKINFO_FLOAT32, 1, n, NULL) == MASKINFO_OK);
    maskinfo_array_set(a, 0, 0.1);
    CHECK(((const float *)maskinfo_array_cdata(a))[0] == 0.1f);
    CHECK(maskinfo_array_get(a, 0) == (double)0.1f);
    maskinfo_array_free(a);

    CHECK(maskinfo_array_new(&a, MASKINFO_FLOAT16, 1, n, NULL) == MASKINFO_OK);
    const uint16_t *h = maskinfo_array_cdata(a);
    maskinfo_array_set(a, 0, 1.0);
    maskinfo_array_set(a, 1, 65504.0);
    maskinfo_array_set(a, 2, 1e6);
    /* just above the tie 1 + 2^-11: a direct rounding goes up, rounding via
     * float first would land on the tie and go down to 1.0 */
    maskinfo_array_set(a, 3, 1.0 + ldexp(1.0, -11) + ldexp(1.0, -40));
    CHECK(h[0] == 0x3c00 && h[1] == 0x7bff && h[2] == 0x7c00);
    CHECK(h[3] == 0x3c01);
    CHECK(maskinfo_array_get(a, 1) == 65504.0 && isinf(maskinfo_array_get(a, 2)));
    maskinfo_array_set(a, 0, -ldexp(1.0, -24));
    CHECK(h[0] == 0x8001 && maskinfo_array_get(a, 0) == -ldexp(1.0, -24));
    maskinfo_array_free(a);

    CHECK(maskinfo_array_new(&a, MASKINFO_BFLOAT16, 1, n, NULL) == MASKINFO_OK);
    h = maskinfo_array_cdata(a);
    maskinfo_array_set(a, 0, 1.0);
    maskinfo_array_set(a, 1, -3.0);
    maskinfo_array_set(a, 2, NAN);
    maskinfo_array_set(a, 3, 1.0 + ldexp(1.0, -8) + ldexp(1.0, -40));
    CHECK(h[0] == 0x3f80 && h[1] == 0xc040 && h[2] == 0x7fc0 && h[3] == 0x3f81);
    CHECK(maskinfo_array_get(a, 1) == -3.0 && isnan(maskinfo_array_get(a, 2)));
    maskinfo_array_free(a);
}

static maskinfo_array *filled(maskinfo_dtype dt, int ndim, const int64_t *sh,
                              const double *v)
{
    maskinfo_array *a = NULL;
    if (maskinfo_array_new(&a, dt, ndim, sh, NULL) != MASKINFO_OK)
        return NULL;
    for (int64_t i = 0; i < maskinfo_array_size(a); i++)
        maskinfo_array_set(a, i, v[i]);
    return a;
}

static void test_astype(void)
{
    const int64_t sh[2] = { 2, 3 };
    const double v[6] = { 0.0, 1.5, -2.7, NAN, 70000.0, -0.0 };
    maskinfo_array *f = filled(MASKINFO_FLOAT32, 2, sh, v), *r = NULL;
    CHECK(f != NULL);

    CHECK(maskinfo_array_astype(f, MASKINFO_BOOL, &r, NULL) == MASKINFO_OK);
    const uint8_t *b = maskinfo_array_cdata(r);
    CHECK(b[0] == 0 && b[1] == 1 && b[2] == 1 && b[3] == 1 && b[4] == 1 &&
          b[5] == 0);
    CHECK(maskinfo_array_ndim(r) == 2 && maskinfo_array_shape(r)[1] == 3);
    maskinfo_array_free(r);

    CHECK(maskinfo_array_astype(f, MASKINFO_INT32, &r, NULL) == MASKINFO_OK);
    const int32_t *i = maskinfo_array_cdata(r);
    CHECK(i[0] == 0 && i[1] == 1 && i[2] == -2 && i[3] == 0 && i[4] == 70000);
    CHECK(maskinfo_array_dtype(r) == MASKINFO_INT32);
    maskinfo_array *back = NULL;
    CHECK(maskinfo_array_astype(r, MASKINFO_FLOAT16, &back, NULL) == MASKINFO_OK);
    const uint16_t *h = maskinfo_array_cdata(back);
    CHECK(h[1] == 0x3c00 && h[2] == 0xc000 && h[4] == 0x7c00);
    maskinfo_array_free(back);
    maskinfo_array_free(r);

    CHECK(maskinfo_array_astype(f, MASKINFO_BFLOAT16, &r, NULL) == MASKINFO_OK);
    CHECK(maskinfo_array_get(r, 1) == 1.5 && maskinfo_array_get(r, 4) == 70144.0);
    maskinfo_array_free(r);

    /* same dtype: an equal, independent copy */
    CHECK(maskinfo_array_astype(f, MASKINFO_FLOAT32, &r, NULL) == MASKINFO_OK);
    CHECK(r != f && maskinfo_array_data(r) != maskinfo_array_data(f));
    CHECK(maskinfo_array_get(r, 2) == (double)-2.7f);
    maskinfo_array_free(r);
    CHECK(maskinfo_array_astype(NULL, MASKINFO_BOOL, &r, NULL) == MASKINFO_EINVAL);
    maskinfo_array_free(f);

    /* a large conversion runs the parallel loop; spot-check it */
    const int64_t big[1] = { 200000 };
    maskinfo_array *x = NULL;
    CHECK(maskinfo_array_new(&x, MASKINFO_INT32, 1, big, NULL) == MASKINFO_OK);
    for (int64_t k = 0; k < big[0]; k++)
        maskinfo_array_set(x, k, (double)(k % 7));
    CHECK(maskinfo_array_astype(x, MASKINFO_BOOL, &r, NULL) == MASKINFO_OK);
    int ok = 1;
    for (int64_t k = 0; k < big[0]; k++)
        if (maskinfo_array_get(r, k) != (k % 7 ? 1.0 : 0.0))
            ok = 0;
    CHECK(ok);
    maskinfo_array_free(r);
    maskinfo_array_free(x);
}

static void test_equal_copy_reshape(void)
{
    const int64_t sh[2] = { 2, 3 }, sh2[2] = { 3, 2 };
    const double v[6] = { 1, 2, 3, 4, 5, 6 };
    maskinfo_array *a = filled(MASKINFO_INT32, 2, sh, v);
    maskinfo_array *b = filled(MASKINFO_INT32, 2, sh, v);
    maskinfo_array *c = filled(MASKINFO_INT32, 2, sh2, v);
    maskinfo_array *d = filled(MASKINFO_FLOAT32, 2, sh, v);
    CHECK(maskinfo_array_equal(a, b));
    CHECK(!maskinfo_array_equal(a, c)); /* shape differs */
    CHECK(!maskinfo_array_equal(a, d)); /* dtype differs */
    maskinfo_array_set(b, 5, 7);
    CHECK(!maskinfo_array_equal(a, b));
    CHECK(maskinfo_array_equal(NULL, NULL) && !maskinfo_array_equal(a, NULL));

    /* copy is deep */
    maskinfo_array *e = NULL;
    CHECK(maskinfo_array_copy(a, &e, NULL) == MASKINFO_OK);
    CHECK(maskinfo_array_equal(a, e));
    maskinfo_array_set(e, 0, 42);
    CHECK(maskinfo_array_get(a, 0) == 1.0 && !maskinfo_array_equal(a, e));
    maskinfo_array_free(e);

    /* reshape keeps the data */
    CHECK(maskinfo_array_reshape(a, 2, sh2) == MASKINFO_OK);
    CHECK(maskinfo_array_equal(a, c));
    const int64_t flat[1] = { 6 }, bad[2] = { 4, 2 }, neg[2] = { -2, -3 };
    CHECK(maskinfo_array_reshape(a, 1, flat) == MASKINFO_OK);
    CHECK(maskinfo_array_ndim(a) == 1 && maskinfo_array_shape(a)[0] == 6);
    CHECK(maskinfo_array_get(a, 5) == 6.0);
    CHECK(maskinfo_array_reshape(a, 2, bad) == MASKINFO_ESHAPE);
    CHECK(maskinfo_array_reshape(a, 2, neg) == MASKINFO_EINVAL);
    CHECK(maskinfo_array_reshape(a, 9, flat) == MASKINFO_EINVAL);
    CHECK(maskinfo_array_ndim(a) == 1); /* failed reshapes change nothing */
    const int64_t ov[2] = { INT64_MAX, 3 };
    CHECK(maskinfo_array_reshape(a, 2, ov) == MASKINFO_EOVERFLOW);

    /* floats compare by value: +0 == -0, NaN != NaN */
    const int64_t two[1] = { 2 };
    const double z1[2] = { 0.0, 1.0 }, z2[2] = { -0.0, 1.0 };
    const double n1[2] = { NAN, 1.0 };
    for (int dt = MASKINFO_FLOAT32; dt <= MASKINFO_BFLOAT16; dt++) {
        maskinfo_array *p = filled((maskinfo_dtype)dt, 1, two, z1);
        maskinfo_array *q = filled((maskinfo_dtype)dt, 1, two, z2);
        maskinfo_array *r = filled((maskinfo_dtype)dt, 1, two, n1);
        CHECK(maskinfo_array_equal(p, q));
        CHECK(!maskinfo_array_equal(r, r));
        maskinfo_array_free(p);
        maskinfo_array_free(q);
        maskinfo_array_free(r);
    }
    maskinfo_array_free(a);
    maskinfo_array_free(b);
    maskinfo_array_free(c);
    maskinfo_array_free(d);
}

/* Rows cost MASKINFO_ROW_BYTES even without a cell: (2^40, 0) is refused. */
static void test_rows(void)
{
    maskinfo_array *a = NULL;
    maskinfo_limits lim = {1 << 20};
    int64_t huge[2] = {INT64_C(1) << 40, 0}, fine[2] = {1000, 0}, wide[2] = {0, INT64_C(1) << 40};
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, huge, &lim) == MASKINFO_ETOOBIG && a == NULL);
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, huge, NULL) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, fine, &lim) == MASKINFO_OK);
    CHECK(maskinfo_array_reshape(a, 2, huge) == MASKINFO_ETOOBIG);
    maskinfo_array_free(a);
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 2, wide, &lim) == MASKINFO_OK);
    maskinfo_array_free(a);
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_random(&m, INT64_C(1) << 40, 1, 0, 0, 0.5, 1, &lim) == MASKINFO_ETOOBIG && m == NULL);
}

/* int64 values past 2^53 compare exactly. */
static void test_int64_exact(void)
{
    int64_t shape[1] = {1};
    maskinfo_array *a = NULL, *b = NULL;
    CHECK(maskinfo_array_new(&a, MASKINFO_INT64, 1, shape, NULL) == MASKINFO_OK);
    CHECK(maskinfo_array_new(&b, MASKINFO_INT64, 1, shape, NULL) == MASKINFO_OK);
    ((int64_t *)maskinfo_array_data(a))[0] = (INT64_C(1) << 53) + 1;
    ((int64_t *)maskinfo_array_data(b))[0] = INT64_C(1) << 53;
    CHECK(!maskinfo_array_equal(a, b));
    ((int64_t *)maskinfo_array_data(b))[0] = (INT64_C(1) << 53) + 1;
    CHECK(maskinfo_array_equal(a, b));
    maskinfo_array_free(a);
    maskinfo_array_free(b);
}

/* Atomic writes: a 240-byte file name (the temporary name stays within
 * NAME_MAX), and temporary files of dead writers cleaned by the next write
 * of the same target (a live writer's are kept). */
static void test_atomic_names(void)
{
    char dir[] = "/tmp/mi-test-array-XXXXXX";
    if (!mkdtemp(dir)) {
        check_fail_msg("mkdtemp");
        return;
    }
    char path[512], name[241], stale[700], live[700];
    memset(name, 'n', 240);
    name[240] = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int64_t shape[1] = {3};
    maskinfo_array *a = NULL;
    CHECK(maskinfo_array_new(&a, MASKINFO_INT32, 1, shape, NULL) == MASKINFO_OK);
    CHECK(maskinfo_write_npy(a, path) == MASKINFO_OK && access(path, F_OK) == 0);
    /* a dead writer: a child that has exited and been reaped */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    int fd;
    char hashname[300] = "";
    {
        /* the tag of x.npy: its name and hash, computed as atomic_file.c does */
        uint64_t h = 0x6D61736B696E666FULL;
        for (const char *c = "x.npy"; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001B3ULL;
        h += 0x9E3779B97F4A7C15ULL;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
        h ^= h >> 31;
        snprintf(hashname, sizeof hashname, "x.npy.%016llx", (unsigned long long)h);
    }
    snprintf(stale, sizeof stale, "%s/%s.mi-tmp.%ld.1234", dir, hashname, (long)child);
    snprintf(live, sizeof live, "%s/%s.mi-tmp.%ld.5678", dir, hashname, (long)getpid());
    CHECK((fd = open(stale, O_CREAT | O_WRONLY, 0600)) >= 0);
    if (fd >= 0) close(fd);
    CHECK((fd = open(live, O_CREAT | O_WRONLY, 0600)) >= 0);
    if (fd >= 0) close(fd);
    CHECK(maskinfo_write_npy(a, path) == MASKINFO_OK);
    CHECKF(access(stale, F_OK) != 0, "a dead writer's temporary file was left");
    CHECKF(access(live, F_OK) == 0, "a live writer's temporary file was removed");
    unlink(live);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    maskinfo_array_free(a);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    test_rows();
    test_int64_exact();
    test_atomic_names();
    test_new();
    test_guard();
    test_get_set();
    test_astype();
    test_equal_copy_reshape();
    return check_summary();
}
