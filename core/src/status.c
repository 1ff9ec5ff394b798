/*
 * status.c - status messages, dtype metadata, half-precision conversions and
 * the memory guard.  Everything here is pure: no allocation, no state.
 */
#include "util.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- status */

const char *maskinfo_version(void)
{
    return MASKINFO_VERSION_STRING;
}

const char *maskinfo_status_name(int status)
{
    static const char *const names[] = {
        "OK", "ENOMEM", "EINVAL", "ESHAPE", "EOVERFLOW", "ETOOBIG", "EIO",
        "EPNG", "EDTYPE", "EIMAGE"
    };
    if (status < 0 || status >= (int)(sizeof names / sizeof names[0]))
        return NULL;
    return names[status];
}

const char *maskinfo_strerror(int status)
{
    switch (status) {
    case MASKINFO_OK: return "ok";
    case MASKINFO_ENOMEM: return "out of memory";
    case MASKINFO_EINVAL: return "invalid argument";
    case MASKINFO_ESHAPE: return "shapes do not agree";
    case MASKINFO_EOVERFLOW: return "size computation overflows";
    case MASKINFO_ETOOBIG: return "memory guard refused the request";
    case MASKINFO_EIO: return "file could not be written";
    case MASKINFO_EPNG: return "png encoder error";
    case MASKINFO_EDTYPE: return "dtype does not fit the operation";
    case MASKINFO_EIMAGE: return "image side past the renderer's limit";
    default: return "unknown error";
    }
}

/* ---------------------------------------------------------------- dtypes */

static const char *const dtype_names[] = {
    "bool", "int32", "float32", "float16", "bfloat16", "int64", "uint8"
};
static const size_t dtype_sizes[] = { 1, 4, 4, 2, 2, 8, 1 };
#define NDTYPES ((int)(sizeof dtype_names / sizeof dtype_names[0]))

const char *maskinfo_dtype_name(maskinfo_dtype dt)
{
    int i = (int)dt;
    return (i >= 0 && i < NDTYPES) ? dtype_names[i] : "unknown";
}

size_t maskinfo_dtype_size(maskinfo_dtype dt)
{
    int i = (int)dt;
    return (i >= 0 && i < NDTYPES) ? dtype_sizes[i] : 0;
}

int maskinfo_dtype_count(void)
{
    return NDTYPES;
}

int maskinfo_dtype_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < NDTYPES; i++)
        if (strcmp(name, dtype_names[i]) == 0)
            return i;
    return -1;
}

/* ---------------------------------------------------------------- halves */

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/*
 * Round a double to a small binary float format with `ebits` exponent bits
 * and `mbits` mantissa bits (IEEE layout, sign in bit ebits+mbits), round to
 * nearest, ties to even.  Working from the double's bits with integers keeps
 * the result independent of the FPU rounding mode, and rounding once from the
 * double (instead of double -> float -> half) avoids double rounding when
 * arrays are filled from Lua numbers.  NaN stays a quiet NaN with the top
 * payload bits; overflow becomes infinity; results below half the smallest
 * subnormal become signed zero.
 */
static uint16_t round_to_small(double d, int ebits, int mbits)
{
    const uint64_t u = double_bits(d);
    const uint16_t sign = (uint16_t)((u >> 63) << (ebits + mbits));
    const int bias = (1 << (ebits - 1)) - 1;
    const int emax_field = (1 << ebits) - 1;
    const int dexp = (int)((u >> 52) & 0x7ff);
    uint64_t m = u & ((UINT64_C(1) << 52) - 1);

    if (dexp == 0x7ff) {
        if (m == 0) /* infinity */
            return (uint16_t)(sign | (emax_field << mbits));
        /* NaN: keep the top payload bits and force the quiet bit */
        uint16_t payload = (uint16_t)(m >> (52 - mbits));
        payload |= (uint16_t)(1u << (mbits - 1));
        return (uint16_t)(sign | (emax_field << mbits) | payload);
    }
    if (dexp == 0) /* zero or double subnormal: far below any half value */
        return sign;

    m |= UINT64_C(1) << 52;       /* value = m * 2^(E - 52) */
    const int E = dexp - 1023;
    int shift;
    int normal = E >= 1 - bias;
    if (normal)
        shift = 52 - mbits;
    else /* units of the smallest subnormal, 2^(1 - bias - mbits) */
        shift = 52 - mbits + (1 - bias - E);
    if (shift > 54) /* m < 2^53 <= half an ulp: rounds to zero */
        return sign;

    uint64_t r = m >> shift;
    const uint64_t rem = m & ((UINT64_C(1) << shift) - 1);
    const uint64_t half = UINT64_C(1) << (shift - 1);
    if (rem > half || (rem == half && (r & 1)))
        r++;

    if (!normal) /* r == 2^mbits is the smallest normal: same encoding */
        return (uint16_t)(sign | r);

    int efield = E + bias;
    if (r >> (mbits + 1)) { /* rounding carried into the next binade */
        r >>= 1;
        efield++;
    }
    if (efield >= emax_field)
        return (uint16_t)(sign | (emax_field << mbits));
    return (uint16_t)(sign | ((uint64_t)efield << mbits) |
                      (r & ((UINT64_C(1) << mbits) - 1)));
}

/* Widen a small float format to double (exact). */
static double widen_small(uint16_t h, int ebits, int mbits)
{
    const int bias = (1 << (ebits - 1)) - 1;
    const int emax_field = (1 << ebits) - 1;
    const int s = (h >> (ebits + mbits)) & 1;
    const int e = (h >> mbits) & emax_field;
    const uint32_t m = h & ((1u << mbits) - 1);
    double v;
    if (e == emax_field)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, 1 - bias - mbits);
    else
        v = ldexp((double)(m | (1u << mbits)), e - bias - mbits);
    return s ? -v : v;
}

uint16_t maskinfo_f32_to_f16(float f) { return round_to_small(f, 5, 10); }
float maskinfo_f16_to_f32(uint16_t h) { return (float)widen_small(h, 5, 10); }
uint16_t maskinfo_f32_to_bf16(float f) { return round_to_small(f, 8, 7); }
float maskinfo_bf16_to_f32(uint16_t h) { return (float)widen_small(h, 8, 7); }

/*
 * Internal double entry points used by array.c (declared in util.h):
 * rounding directly from double avoids double rounding through float.
 */
uint16_t maskinfo__double_to_f16(double d) { return round_to_small(d, 5, 10); }
uint16_t maskinfo__double_to_bf16(double d) { return round_to_small(d, 8, 7); }

/* ---------------------------------------------------------------- guard */

/* Default when no limit is given: 12 GiB, half of the 24 GiB machines the
 * project targets.  The binding passes a real limit (environment or physical
 * memory); this only protects plain C callers. */

int maskinfo_check_alloc(const maskinfo_limits *lim, uint64_t n, uint64_t sz)
{
    uint64_t max = (lim && lim->max_bytes) ? lim->max_bytes
                                           : MASKINFO_DEFAULT_MAX_BYTES;
    if (sz != 0 && n > UINT64_MAX / sz)
        return MASKINFO_EOVERFLOW;
    uint64_t bytes = n * sz;
    /* a size_t must be able to hold it as well (32-bit hosts) */
    if (bytes > (uint64_t)SIZE_MAX)
        return MASKINFO_EOVERFLOW;
    if (bytes > max)
        return MASKINFO_ETOOBIG;
    return MASKINFO_OK;
}

/* Digits, then nothing, K/M/G/T or KiB/MiB/GiB/TiB (powers of 1024).  The
 * form is checked first: junk is EINVAL however long its digits run. */
int maskinfo_parse_bytes(const char *text, uint64_t *out)
{
    static const char units[] = "KMGT";
    if (text == NULL)
        return MASKINFO_EINVAL;
    size_t d = strspn(text, "0123456789");
    const char *p = text + d, *u = *p ? strchr(units, *p) : NULL;
    if (d == 0 || (*p && (u == NULL || (p[1] && strcmp(p + 1, "iB") != 0))))
        return MASKINFO_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < d; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return MASKINFO_EOVERFLOW;
        v = v * 10 + digit;
    }
    for (long i = 0; u && i <= u - units; i++) {
        if (v > UINT64_MAX / 1024)
            return MASKINFO_EOVERFLOW;
        v *= 1024;
    }
    /* a limit must fit a signed 64-bit count (Lua integers, int64 sizes) */
    if (v > (uint64_t)INT64_MAX)
        return MASKINFO_EOVERFLOW;
    *out = v;
    return MASKINFO_OK;
}
