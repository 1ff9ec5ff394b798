/* test_status.c - status messages, dtypes, half conversions, memory guard. */
#include "maskinfo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_strerror(void)
{
    CHECK(strcmp(maskinfo_strerror(MASKINFO_OK), "ok") == 0);
    CHECK(strcmp(maskinfo_strerror(MASKINFO_ENOMEM), "out of memory") == 0);
    CHECK(strcmp(maskinfo_strerror(MASKINFO_ETOOBIG),
                 "memory guard refused the request") == 0);
    CHECK(strcmp(maskinfo_strerror(MASKINFO_EINVAL), "invalid argument") == 0);
    CHECK(strcmp(maskinfo_strerror(99), "unknown error") == 0);
    CHECK(strcmp(maskinfo_strerror(-1), "unknown error") == 0);
    /* every code has its own, lowercase message */
    int distinct = 1, lower = 1;
    for (int a = MASKINFO_OK; a <= MASKINFO_EDTYPE; a++) {
        const char *s = maskinfo_strerror(a);
        if (strcmp(s, "unknown error") == 0 || s[0] == '\0')
            distinct = 0;
        for (const char *p = s; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                lower = 0;
        for (int b = a + 1; b <= MASKINFO_EDTYPE; b++)
            if (strcmp(s, maskinfo_strerror(b)) == 0)
                distinct = 0;
    }
    CHECK(distinct);
    CHECK(lower);
}

static void test_dtypes(void)
{
    static const char *names[] = { "bool", "int32", "float32", "float16",
                                   "bfloat16" };
    static const size_t sizes[] = { 1, 4, 4, 2, 2 };
    for (int i = 0; i < 5; i++) {
        CHECK(strcmp(maskinfo_dtype_name((maskinfo_dtype)i), names[i]) == 0);
        CHECK(maskinfo_dtype_size((maskinfo_dtype)i) == sizes[i]);
        CHECK(maskinfo_dtype_from_name(names[i]) == i);
    }
    CHECK(maskinfo_dtype_from_name("float64") == -1);
    CHECK(maskinfo_dtype_from_name("Bool") == -1);
    CHECK(maskinfo_dtype_from_name("") == -1);
    CHECK(maskinfo_dtype_from_name(NULL) == -1);
    CHECK(maskinfo_dtype_size((maskinfo_dtype)7) == 0);
    CHECK(MASKINFO_BOOL == 0 && MASKINFO_BFLOAT16 == 4);
}

static void test_f16(void)
{
    CHECK(maskinfo_f32_to_f16(1.0f) == 0x3c00);
    CHECK(maskinfo_f32_to_f16(-2.0f) == 0xc000);
    CHECK(maskinfo_f32_to_f16(0.0f) == 0x0000);
    CHECK(maskinfo_f32_to_f16(-0.0f) == 0x8000);
    CHECK(maskinfo_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(maskinfo_f32_to_f16(-65504.0f) == 0xfbff);
    CHECK(maskinfo_f32_to_f16(65519.0f) == 0x7bff); /* below the tie */
    CHECK(maskinfo_f32_to_f16(65520.0f) == 0x7c00); /* tie, odd -> inf */
    CHECK(maskinfo_f32_to_f16(1e10f) == 0x7c00);
    CHECK(maskinfo_f32_to_f16(-1e10f) == 0xfc00);
    CHECK(maskinfo_f32_to_f16(INFINITY) == 0x7c00);
    CHECK(maskinfo_f32_to_f16(-INFINITY) == 0xfc00);
    uint16_t hn = maskinfo_f32_to_f16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x03ff) != 0);
    CHECK(maskinfo_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001); /* min subnormal */
    CHECK(maskinfo_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000); /* tie -> even 0 */
    CHECK(maskinfo_f32_to_f16(ldexpf(3.0f, -26)) == 0x0001); /* above tie */
    CHECK(maskinfo_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002); /* tie 1.5 -> 2 */
    CHECK(maskinfo_f32_to_f16(ldexpf(1.0f, -30)) == 0x0000);
    CHECK(maskinfo_f32_to_f16(-ldexpf(1.0f, -30)) == 0x8000);
    CHECK(maskinfo_f32_to_f16(ldexpf(1023.0f, -24)) == 0x03ff); /* max sub */
    CHECK(maskinfo_f32_to_f16(ldexpf(1.0f, -14)) == 0x0400); /* min normal */
    /* 1023.5 subnormal units: tie between 0x03ff and 0x0400 -> even 0x0400 */
    CHECK(maskinfo_f32_to_f16(ldexpf(2047.0f, -25)) == 0x0400);
    /* ties in the normal range: 1 + 2^-11 -> 1, 1 + 3*2^-11 -> 1 + 2^-9 */
    CHECK(maskinfo_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00);
    CHECK(maskinfo_f32_to_f16(1.0f + ldexpf(3.0f, -11)) == 0x3c02);
    CHECK(maskinfo_f32_to_f16(2049.0f) == 0x6800);
    CHECK(maskinfo_f32_to_f16(2051.0f) == 0x6802);
    CHECK(maskinfo_f32_to_f16(2049.5f) == 0x6801);
    /* rounding carries into the exponent: 2047.9 -> 2048 */
    CHECK(maskinfo_f32_to_f16(2047.9f) == 0x6800);

    CHECK(maskinfo_f16_to_f32(0x3c00) == 1.0f);
    CHECK(maskinfo_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(maskinfo_f16_to_f32(0xfbff) == -65504.0f);
    CHECK(maskinfo_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(maskinfo_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    CHECK(maskinfo_f16_to_f32(0x0400) == ldexpf(1.0f, -14));
    CHECK(isinf(maskinfo_f16_to_f32(0x7c00)) && maskinfo_f16_to_f32(0x7c00) > 0);
    CHECK(isinf(maskinfo_f16_to_f32(0xfc00)) && maskinfo_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(maskinfo_f16_to_f32(0x7e00)));
    CHECK(isnan(maskinfo_f16_to_f32(0xfc01)));
    CHECK(signbit(maskinfo_f16_to_f32(0x8000)) && maskinfo_f16_to_f32(0x8000) == 0);

    /* exhaustive: every non-NaN half survives the round trip, and for
     * each pair of neighbouring finite halves the midpoint goes to the even
     * one while points just off the midpoint go to the nearer one */
    int rt_bad = 0, mid_bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = maskinfo_f16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        if (maskinfo_f32_to_f16(f) != h)
            rt_bad++;
        if ((h & 0x7fff) < 0x7bff) { /* h and h+1 finite, same sign */
            float g = maskinfo_f16_to_f32((uint16_t)(h + 1));
            float mid = (float)(((double)f + (double)g) / 2); /* exact */
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            if (maskinfo_f32_to_f16(mid) != even)
                mid_bad++;
            float below = nextafterf(mid, f), above = nextafterf(mid, g);
            if (maskinfo_f32_to_f16(below) != h ||
                maskinfo_f32_to_f16(above) != h + 1)
                mid_bad++;
        }
    }
    CHECK(rt_bad == 0);
    CHECK(mid_bad == 0);
}

static void test_bf16(void)
{
    CHECK(maskinfo_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(maskinfo_f32_to_bf16(-1.0f) == 0xbf80);
    CHECK(maskinfo_f32_to_bf16(-0.0f) == 0x8000);
    CHECK(maskinfo_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80); /* tie */
    CHECK(maskinfo_f32_to_bf16(1.0f + ldexpf(3.0f, -8)) == 0x3f82); /* tie up */
    CHECK(maskinfo_f32_to_bf16(1.0f + ldexpf(1.0f, -8) + ldexpf(1.0f, -20)) ==
          0x3f81);
    CHECK(maskinfo_f32_to_bf16(bitsf(0x7f7f0000)) == 0x7f7f); /* max finite */
    CHECK(maskinfo_f32_to_bf16(bitsf(0x7f7fffff)) == 0x7f80); /* FLT_MAX -> inf */
    CHECK(maskinfo_f32_to_bf16(INFINITY) == 0x7f80);
    CHECK(maskinfo_f32_to_bf16(-INFINITY) == 0xff80);
    CHECK(maskinfo_f32_to_bf16(NAN) == 0x7fc0);
    uint16_t sn = maskinfo_f32_to_bf16(bitsf(0x7f800001)); /* signalling NaN */
    CHECK((sn & 0x7f80) == 0x7f80 && (sn & 0x7f) != 0);
    /* float subnormals map to bf16 subnormals */
    CHECK(maskinfo_f32_to_bf16(bitsf(0x00010000)) == 0x0001);
    CHECK(maskinfo_f32_to_bf16(bitsf(0x00008000)) == 0x0000); /* tie -> 0 */
    CHECK(maskinfo_f32_to_bf16(bitsf(0x00018000)) == 0x0002); /* tie -> 2 */
    CHECK(maskinfo_f32_to_bf16(bitsf(0x00008001)) == 0x0001);
    CHECK(maskinfo_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(fbits(maskinfo_bf16_to_f32(0x7f7f)) == 0x7f7f0000);
    CHECK(fbits(maskinfo_bf16_to_f32(0x0001)) == 0x00010000);
    CHECK(isnan(maskinfo_bf16_to_f32(0x7fc0)));
    CHECK(isinf(maskinfo_bf16_to_f32(0xff80)) && maskinfo_bf16_to_f32(0xff80) < 0);

    /* bf16 is the top half of a float: compare with the integer reference
     * (x + 0x7fff + lsb) >> 16 on a sweep of non-NaN bit patterns */
    int bad = 0, rt_bad = 0;
    for (uint64_t x = 0; x < 0x100000000ull; x += 0x10001ull * 7 + 3) {
        uint32_t u = (uint32_t)x;
        if ((u & 0x7fffffff) > 0x7f800000)
            continue;
        uint16_t ref = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
        if (maskinfo_f32_to_bf16(bitsf(u)) != ref)
            bad++;
    }
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = maskinfo_bf16_to_f32((uint16_t)h);
        if (!isnan(f) && maskinfo_f32_to_bf16(f) != h)
            rt_bad++;
    }
    CHECK(bad == 0);
    CHECK(rt_bad == 0);
}

static void test_guard(void)
{
    maskinfo_limits lim = { 100 };
    CHECK(maskinfo_check_alloc(NULL, 1000, 4) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(&lim, 100, 1) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(&lim, 101, 1) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_check_alloc(&lim, 25, 4) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(&lim, 26, 4) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_check_alloc(&lim, 0, 8) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(&lim, UINT64_MAX, 0) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(&lim, UINT64_MAX, 2) == MASKINFO_EOVERFLOW);
    CHECK(maskinfo_check_alloc(NULL, UINT64_C(1) << 62, 4) ==
          MASKINFO_EOVERFLOW);
    CHECK(maskinfo_check_alloc(NULL, UINT64_C(1) << 62, 2) ==
          MASKINFO_ETOOBIG);
    /* max_bytes == 0 and NULL both mean the 12 GiB default */
    maskinfo_limits zero = { 0 };
    const uint64_t gib12 = UINT64_C(12) << 30;
    CHECK(maskinfo_check_alloc(&zero, gib12, 1) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(&zero, gib12 + 1, 1) == MASKINFO_ETOOBIG);
    CHECK(maskinfo_check_alloc(NULL, gib12 / 4, 4) == MASKINFO_OK);
    CHECK(maskinfo_check_alloc(NULL, gib12 / 4 + 1, 4) == MASKINFO_ETOOBIG);
    maskinfo_limits big = { UINT64_MAX };
    CHECK(maskinfo_check_alloc(&big, UINT64_C(1) << 40, 8) == MASKINFO_OK);
}

/* MASKINFO_MAX_BYTES' spelling: every accepted form and the refusals. */
static void test_parse_bytes(void)
{
    static const struct { const char *text; int st; uint64_t v; } cases[] = {
        {"0", MASKINFO_OK, 0}, {"4096", MASKINFO_OK, 4096},
        {"64K", MASKINFO_OK, 65536}, {"64KiB", MASKINFO_OK, 65536},
        {"64M", MASKINFO_OK, 67108864}, {"64MiB", MASKINFO_OK, 67108864},
        {"3G", MASKINFO_OK, UINT64_C(3) << 30}, {"2TiB", MASKINFO_OK, UINT64_C(2) << 40},
        {"9223372036854775807", MASKINFO_OK, UINT64_C(9223372036854775807)},
        {"9223372036854775808", MASKINFO_EOVERFLOW, 0},
        {"99999999999999999999999", MASKINFO_EOVERFLOW, 0}, {"8388608T", MASKINFO_EOVERFLOW, 0},
        {"", MASKINFO_EINVAL, 0}, {"-1", MASKINFO_EINVAL, 0}, {"+5", MASKINFO_EINVAL, 0},
        {"1e9", MASKINFO_EINVAL, 0}, {"1.5G", MASKINFO_EINVAL, 0}, {" 5", MASKINFO_EINVAL, 0},
        {"5 ", MASKINFO_EINVAL, 0}, {"10GB", MASKINFO_EINVAL, 0}, {"10g", MASKINFO_EINVAL, 0},
        {"10Gi", MASKINFO_EINVAL, 0}, {"10GiBs", MASKINFO_EINVAL, 0}, {"K", MASKINFO_EINVAL, 0},
        {"0x10", MASKINFO_EINVAL, 0}, {"12P", MASKINFO_EINVAL, 0},
        {"99999999999999999999x", MASKINFO_EINVAL, 0}, {"99999999999999999999K", MASKINFO_EOVERFLOW, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 12345;
        int st = maskinfo_parse_bytes(cases[i].text, &v);
        CHECKF(st == cases[i].st && v == (st ? 12345 : cases[i].v), "parse_bytes(\"%s\") = %d, %llu",
               cases[i].text, st, (unsigned long long)v);
    }
    uint64_t v = 7;
    CHECK(maskinfo_parse_bytes(NULL, &v) == MASKINFO_EINVAL && v == 7);
}

int main(void)
{
    test_parse_bytes();
    test_strerror();
    test_dtypes();
    test_f16();
    test_bf16();
    test_guard();
    return check_summary();
}
