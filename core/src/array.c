/*
 * array.c - dense n-d arrays (row-major) in the seven maskinfo dtypes.
 *
 * The struct is private to this file; everyone else goes through the public
 * accessors.  Every allocation is checked against the memory guard first.
 */
#include "pages.h"
#include "util.h"

#include <math.h>
#include <string.h>

struct maskinfo_array {
    int ndim;
    int64_t shape[MASKINFO_MAX_DIMS];
    int64_t size;
    maskinfo_dtype dtype;
    void *data;
};

static int dtype_ok(maskinfo_dtype dt)
{
    return (int)dt >= (int)MASKINFO_BOOL && (int)dt <= (int)MASKINFO_UINT8;
}

/*
 * Validate a shape and compute its element count and its rows: the product
 * of every extent but the last, zeros counted as 1.  A (2^40, 0) array has
 * no element but 2^40 rows that every walk over it (totable, ids, per-batch
 * loops) visits, so the guard charges MASKINFO_ROW_BYTES per row as well.
 * Negative extents are EINVAL; a product that does not fit in int64 is
 * EOVERFLOW.
 */
static int shape_count(int ndim, const int64_t *shape, int64_t *count, int64_t *rows)
{
    if (ndim < 0 || ndim > MASKINFO_MAX_DIMS || (ndim > 0 && shape == NULL))
        return MASKINFO_EINVAL;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return MASKINFO_EINVAL;
    int64_t n = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0) {
            zero = 1;
            continue;
        }
        if (n > INT64_MAX / shape[i])
            return MASKINFO_EOVERFLOW;
        n *= shape[i];
    }
    /* An overflowing shape with a zero extent still has no elements, but
     * report it anyway: such shapes are almost surely a caller bug. */
    *count = zero ? 0 : n;
    int64_t r = 1;
    for (int i = 0; i + 1 < ndim; i++) {
        int64_t e = shape[i] ? shape[i] : 1;
        if (r > INT64_MAX / e)
            return MASKINFO_EOVERFLOW;
        r *= e;
    }
    *rows = r;
    return MASKINFO_OK;
}

int maskinfo_array_new(maskinfo_array **out, maskinfo_dtype dt, int ndim,
                       const int64_t *shape, const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (!dtype_ok(dt))
        return MASKINFO_EDTYPE;
    int64_t n, rows;
    int rc = shape_count(ndim, shape, &n, &rows);
    if (rc)
        return rc;
    size_t esz = maskinfo_dtype_size(dt);
    rc = maskinfo_check_alloc(lim, (uint64_t)n, esz);
    if (!rc)
        rc = maskinfo_check_alloc(lim, (uint64_t)rows, MASKINFO_ROW_BYTES);
    if (rc)
        return rc;
    maskinfo_array *a = calloc(1, sizeof *a);
    if (a == NULL)
        return MASKINFO_ENOMEM;
    /* never NULL, even empty; big blocks are lazily mapped pages (pages.h) */
    a->data = maskinfo__pages_alloc((size_t)n * esz);
    if (a->data == NULL) {
        free(a);
        return MASKINFO_ENOMEM;
    }
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        a->shape[i] = shape[i];
    a->size = n;
    a->dtype = dt;
    *out = a;
    return MASKINFO_OK;
}

void maskinfo_array_free(maskinfo_array *a)
{
    if (a == NULL)
        return;
    maskinfo__pages_free(a->data, (size_t)a->size * maskinfo_dtype_size(a->dtype));
    free(a);
}

/* Accessors tolerate NULL (0 / NULL results) so error paths stay simple. */
int maskinfo_array_ndim(const maskinfo_array *a) { return a ? a->ndim : 0; }
const int64_t *maskinfo_array_shape(const maskinfo_array *a)
{
    return a ? a->shape : NULL;
}
maskinfo_dtype maskinfo_array_dtype(const maskinfo_array *a)
{
    return a ? a->dtype : MASKINFO_BOOL;
}
int64_t maskinfo_array_size(const maskinfo_array *a) { return a ? a->size : 0; }
void *maskinfo_array_data(maskinfo_array *a) { return a ? a->data : NULL; }
const void *maskinfo_array_cdata(const maskinfo_array *a)
{
    return a ? a->data : NULL;
}

/* Out-of-range reads give NaN rather than touching memory. */
double maskinfo_array_get(const maskinfo_array *a, int64_t i)
{
    if (a == NULL || i < 0 || i >= a->size)
        return NAN;
    switch (a->dtype) {
    case MASKINFO_BOOL:
        return ((const uint8_t *)a->data)[i] ? 1.0 : 0.0;
    case MASKINFO_INT32:
        return (double)((const int32_t *)a->data)[i];
    case MASKINFO_FLOAT32:
        return (double)((const float *)a->data)[i];
    case MASKINFO_FLOAT16:
        return (double)maskinfo_f16_to_f32(((const uint16_t *)a->data)[i]);
    case MASKINFO_BFLOAT16:
        return (double)maskinfo_bf16_to_f32(((const uint16_t *)a->data)[i]);
    case MASKINFO_INT64:
        return (double)((const int64_t *)a->data)[i];
    case MASKINFO_UINT8:
        return (double)((const uint8_t *)a->data)[i];
    }
    return NAN;
}

/*
 * int32 conversion: truncate toward zero (as C and numpy's astype do), NaN
 * becomes 0 and out-of-range values saturate, so the conversion is never
 * undefined behaviour.  Callers that need integral input check it before.
 */
static int32_t double_to_int32(double v)
{
    if (v != v)
        return 0;
    if (v >= 2147483647.0)
        return INT32_MAX;
    if (v <= -2147483648.0)
        return INT32_MIN;
    return (int32_t)v;
}

/* Out-of-range writes are ignored. */
void maskinfo_array_set(maskinfo_array *a, int64_t i, double v)
{
    if (a == NULL || i < 0 || i >= a->size)
        return;
    switch (a->dtype) {
    case MASKINFO_BOOL:
        ((uint8_t *)a->data)[i] = (v != 0.0) ? 1 : 0;
        break;
    case MASKINFO_INT32:
        ((int32_t *)a->data)[i] = double_to_int32(v);
        break;
    case MASKINFO_FLOAT32:
        ((float *)a->data)[i] = (float)v;
        break;
    case MASKINFO_FLOAT16:
        ((uint16_t *)a->data)[i] = maskinfo__double_to_f16(v);
        break;
    case MASKINFO_BFLOAT16:
        ((uint16_t *)a->data)[i] = maskinfo__double_to_bf16(v);
        break;
    case MASKINFO_INT64: /* saturating, NaN -> 0, like int32 */
        ((int64_t *)a->data)[i] = v != v ? 0 : v >= 9223372036854775807.0 ? INT64_MAX
                                  : v <= -9223372036854775808.0 ? INT64_MIN : (int64_t)v;
        break;
    case MASKINFO_UINT8: /* truncating and saturating to [0, 255], NaN -> 0 */
        ((uint8_t *)a->data)[i] = v != v ? 0 : v >= 255.0 ? 255 : v <= 0.0 ? 0 : (uint8_t)v;
        break;
    }
}

int maskinfo_array_astype(const maskinfo_array *a, maskinfo_dtype dt,
                          maskinfo_array **out, const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (a == NULL)
        return MASKINFO_EINVAL;
    if (a->dtype == dt)
        return maskinfo_array_copy(a, out, lim);
    maskinfo_array *r;
    int rc = maskinfo_array_new(&r, dt, a->ndim, a->shape, lim);
    if (rc)
        return rc;
    const int64_t n = a->size;
    /* every element converts through double, which holds all seven dtypes
     * exactly; elements are independent, so the loop is thread-count proof */
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        maskinfo_array_set(r, i, maskinfo_array_get(a, i));
    *out = r;
    return MASKINFO_OK;
}

/*
 * Value equality: integers and bools compare bytes; floats compare values,
 * so +0 == -0 and NaN never equals anything (as == does elementwise).
 */
int maskinfo_array_equal(const maskinfo_array *a, const maskinfo_array *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->ndim != b->ndim || a->dtype != b->dtype)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    const int64_t n = a->size;
    /* integers by their bytes: int64 past 2^53 is not exact as a double */
    if (a->dtype == MASKINFO_BOOL || a->dtype == MASKINFO_INT32 ||
        a->dtype == MASKINFO_UINT8 || a->dtype == MASKINFO_INT64)
        return memcmp(a->data, b->data,
                      (size_t)n * maskinfo_dtype_size(a->dtype)) == 0;
    for (int64_t i = 0; i < n; i++)
        if (!(maskinfo_array_get(a, i) == maskinfo_array_get(b, i)))
            return 0;
    return 1;
}

int maskinfo_array_copy(const maskinfo_array *a, maskinfo_array **out,
                        const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    *out = NULL;
    if (a == NULL)
        return MASKINFO_EINVAL;
    maskinfo_array *r;
    int rc = maskinfo_array_new(&r, a->dtype, a->ndim, a->shape, lim);
    if (rc)
        return rc;
    if (a->size > 0)
        memcpy(r->data, a->data,
               (size_t)a->size * maskinfo_dtype_size(a->dtype));
    *out = r;
    return MASKINFO_OK;
}

int maskinfo_array_reshape(maskinfo_array *a, int ndim, const int64_t *shape)
{
    if (a == NULL)
        return MASKINFO_EINVAL;
    int64_t n, rows;
    int rc = shape_count(ndim, shape, &n, &rows);
    if (!rc) /* no limit here: the default one (callers check theirs first) */
        rc = maskinfo_check_alloc(NULL, (uint64_t)rows, MASKINFO_ROW_BYTES);
    if (rc)
        return rc;
    if (n != a->size)
        return MASKINFO_ESHAPE;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        a->shape[i] = shape[i];
    for (int i = ndim; i < MASKINFO_MAX_DIMS; i++)
        a->shape[i] = 0;
    return MASKINFO_OK;
}
