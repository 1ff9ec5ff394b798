/* test_eval.c - row evaluation through the public entry points: argument
 * checks of maskinfo_mask_row and maskinfo_mask_get, and the scratch life
 * cycle.  The rows of every kind are checked in test_leaves.c and
 * test_ops.c (mask_ref.h reads every row).  Only the public header is used. */
#include "maskinfo.h"

#include "check.h"

/* ---------------------------------------------------------------- row / get args */
static void test_row_args(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_constant(&m, 2, 3, 4, 5, 1) == MASKINFO_OK);
    maskinfo_scratch *s = maskinfo_scratch_new();
    CHECK(s != NULL);
    const int64_t *iv;
    int64_t n;
    CHECK(maskinfo_mask_row(m, 2, 0, 0, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, -1, 0, 0, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 0, 3, 0, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 0, 0, 4, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 0, 0, -1, s, &iv, &n) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_row(m, 1, 2, 3, s, &iv, &n) == MASKINFO_OK && n == 1 &&
          iv[0] == 0 && iv[1] == 5);
    int v = -7;
    CHECK(maskinfo_mask_get(m, 0, 0, 0, 5, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 0, 0, 0, -1, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 0, 3, 0, 0, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 2, 0, 0, 0, &v) == MASKINFO_EINVAL);
    CHECK(maskinfo_mask_get(m, 0, 0, 4, 0, &v) == MASKINFO_EINVAL);
    CHECK(v == -7);
    CHECK(maskinfo_mask_get(m, 1, 2, 3, 4, &v) == MASKINFO_OK && v == 1);
    maskinfo_scratch_free(s);
    maskinfo_scratch_free(NULL);
    maskinfo_mask_unref(m);
}

int main(void)
{
    test_row_args();
    return check_summary();
}
