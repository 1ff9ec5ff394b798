/*
 * test_render_text.c - maskinfo_render_text against the seed's
 * visualize(return_str=True).  The expected strings were produced by a NumPy
 * copy of the seed's method (the same generator as tests/fixtures/visualize);
 * the masks are built here through the core's constructors.  The 1M-token
 * and threshold cases derive their expectations from the seed's rules.
 */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ------------------------------------------------ expected (seed output) */
static const char EXP_CAUSAL8_U[] =
    "Attention mask (batch=0, head=0) block=(2x2) mask_shape=(1, 1, 8, 8)\n"
    "         00000000\n"
    "        ========  \n"
    "     0 ||\xe2\x96\x91\xe2\x96\x91      ||\n"
    "     0 ||\xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91    ||\n"
    "     0 ||\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91  ||\n"
    "     0 ||\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91||\n"
    "        ========  \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

static const char EXP_CAUSAL8_A_NOSEG[] =
    "Attention mask (batch=0, head=0) block=(2x2) mask_shape=(1, 1, 8, 8)\n"
    "  ========  \n"
    "||..      ||\n"
    "||##..    ||\n"
    "||####..  ||\n"
    "||######..||\n"
    "  ========  \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n";

static const char EXP_DOCS12[] =
    "Attention mask (batch=0, head=0) block=(3x3) mask_shape=(1, 1, 12, 12)\n"
    "         0102??  \n"
    "        ========  \n"
    "     1 ||\xe2\x96\x88\xe2\x96\x88      ||\n"
    "     2 ||  \xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91  ||\n"
    "   MIX ||  \xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91  ||\n"
    "   PAD ||        ||\n"
    "        ========  \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

static const char EXP_CAUSAL32_FIT[] =
    "Attention mask (batch=0, head=0) block=(2x2) mask_shape=(1, 1, 32, 32)\n"
    "         00000000\n"
    "        ========  \n"
    "     0 ||\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91    ||\n"
    "     0 ||\xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91  ||\n"
    "   MIX ||\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91\xe2\x96\x91||\n"
    "        ========  \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

static const char EXP_WINDOW_B1H1[] =
    "Attention mask (batch=1, head=1) block=(3x4) mask_shape=(2, 2, 10, 12)\n"
    "         9523  \n"
    "        ======  \n"
    "    -5 ||....  ||\n"
    "   123 ||......||\n"
    "   MIX ||  ....||\n"
    "   MIX ||    ..||\n"
    "        ======  \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

static const char EXP_Q0[] =
    "Attention mask (batch=0, head=0) block=(2x2) mask_shape=(1, 1, 0, 5)\n"
    "         0000??\n"
    "          \n"
    "          \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

static const char EXP_K0[] =
    "Attention mask (batch=0, head=0) block=(1x1) mask_shape=(1, 1, 4, 0)\n"
    "          \n"
    "     0 ||||\n"
    "          \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

static const char EXP_Q0_K200[] =
    "Attention mask (batch=0, head=0) block=(1x1) mask_shape=(1, 1, 0, 200)\n"
    "         0000??01010202??03030404??05050606??07070808??09091010??11111212??13131414??15151616??17171818??1919\n"
    "          \n"
    "          \n"
    "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n"
    "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n";

/* ------------------------------------------------------------- helpers */

static maskinfo_text_opts opts(int64_t bq, int64_t bk)
{
    maskinfo_text_opts o;
    memset(&o, 0, sizeof o);
    o.block_q = bq;
    o.block_kv = bk;
    o.fit_in_screen = 1;
    o.max_rows = 32;
    o.max_cols = 64;
    o.show_segments = 1;
    return o;
}

/* Render and compare with expected; on a mismatch print both. */
static void check_render(const char *what, const maskinfo_mask *m,
                         const maskinfo_text_opts *o, const int32_t *qi,
                         const int32_t *ki, const char *shape,
                         const char *expected)
{
    char *out = NULL;
    size_t len = 0;
    int st = maskinfo_render_text(m, o, qi, ki, shape, &out, &len, NULL);
    int ok = st == MASKINFO_OK && out != NULL && len == strlen(expected) &&
             strcmp(out, expected) == 0;
    if (!ok)
        printf("mismatch in %s (status %d)\n--- expected\n%s--- got\n%s", what,
               st, expected, out ? out : "(null)\n");
    CHECK(ok);
    free(out);
}

static int32_t *zeros_i32(int64_t n)
{
    return calloc((size_t)(n > 0 ? n : 1), sizeof(int32_t));
}

/* --------------------------------------------------------------- cases */

static void test_causal8(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, 8, 8, NULL) == MASKINFO_OK);
    if (m == NULL)
        return;
    int32_t ids[8] = { 0 };
    maskinfo_text_opts o = opts(2, 2);
    o.fit_in_screen = 0;
    check_render("causal8 unicode", m, &o, ids, ids, "(1, 1, 8, 8)", EXP_CAUSAL8_U);
    /* a NULL shape string prints the shape itself */
    check_render("causal8 shape_str NULL", m, &o, ids, ids, NULL, EXP_CAUSAL8_U);
    o.ascii = 1;
    o.show_segments = 0;
    o.fit_in_screen = 1;
    /* no ids needed without segments */
    check_render("causal8 ascii", m, &o, NULL, NULL, "(1, 1, 8, 8)", EXP_CAUSAL8_A_NOSEG);
    maskinfo_mask_unref(m);
}

static void test_documents(void)
{
    const int32_t ids[12] = { 1, 1, 1, 2, 2, 2, 2, 3, 3, -1, -1, -1 };
    int64_t qv[12], kv[12];
    for (int i = 0; i < 12; i++) {
        qv[i] = ids[i] < 0 ? MASKINFO_NOMATCH_Q : ids[i];
        kv[i] = ids[i] < 0 ? MASKINFO_NOMATCH_KV : ids[i];
    }
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_segments(&m, 1, 1, 1, 12, 12, qv, kv) == MASKINFO_OK);
    if (m == NULL)
        return;
    maskinfo_text_opts o = opts(3, 3);
    check_render("documents", m, &o, ids, ids, "(1, 1, 12, 12)", EXP_DOCS12);
    maskinfo_mask_unref(m);
}

static void test_downsample(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, 32, 32, NULL) == MASKINFO_OK);
    if (m == NULL)
        return;
    int32_t ids[32] = { 0 };
    maskinfo_text_opts o = opts(2, 2);
    o.max_rows = 3;
    o.max_cols = 4;
    check_render("causal32 fit 3x4", m, &o, ids, ids, "(1, 1, 32, 32)", EXP_CAUSAL32_FIT);
    maskinfo_mask_unref(m);
}

/* Plane (1, 1) of a 2x2 window mask, rectangular blocks with tails, ids
 * below -1 (Python's floored % 100) and -2 (reads as MIX). */
static void test_window_plane(void)
{
    const int64_t left[2] = { 1, 3 }, right[2] = { 0, 1 }, off[2] = { 0, 2 };
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_window(&m, 2, 10, 12, 2, left, right, off) == MASKINFO_OK);
    if (m == NULL)
        return;
    const int32_t qi[10] = { -5, -5, -5, 123, 123, 123, -2, -2, -2, 7 };
    const int32_t ki[12] = { -5, -5, -5, -5, 123, 123, 123, 123, -1, -1, -1, -1 };
    maskinfo_text_opts o = opts(3, 4);
    o.batch = 1;
    o.head = 1;
    o.ascii = 1;
    check_render("window batch 1 head 1", m, &o, qi, ki, "(2, 2, 10, 12)", EXP_WINDOW_B1H1);
    maskinfo_mask_unref(m);
}

static void test_empty_axes(void)
{
    maskinfo_mask *m = NULL;
    int32_t *z = zeros_i32(200);
    CHECK(maskinfo_mask_constant(&m, 1, 1, 0, 5, 0) == MASKINFO_OK);
    if (m != NULL) {
        maskinfo_text_opts o = opts(2, 2);
        check_render("Q = 0", m, &o, NULL, z, "(1, 1, 0, 5)", EXP_Q0);
        maskinfo_mask_unref(m);
        m = NULL;
    }
    CHECK(maskinfo_mask_constant(&m, 1, 1, 4, 0, 0) == MASKINFO_OK);
    if (m != NULL) {
        maskinfo_text_opts o = opts(1, 1);
        o.max_rows = 1;
        check_render("K = 0", m, &o, z, NULL, "(1, 1, 4, 0)", EXP_K0);
        maskinfo_mask_unref(m);
        m = NULL;
    }
    CHECK(maskinfo_mask_constant(&m, 1, 1, 0, 200, 0) == MASKINFO_OK);
    if (m != NULL && z != NULL) {
        int32_t ki[200];
        for (int i = 0; i < 200; i++)
            ki[i] = i / 10;
        maskinfo_text_opts o = opts(1, 1);
        check_render("Q = 0, K = 200", m, &o, NULL, ki, "(1, 1, 0, 200)", EXP_Q0_K200);
        maskinfo_mask_unref(m);
    }
    free(z);
}

/* Causal over 2^20 tokens, block 32, default screen (32 x 64): groups of
 * 1024 x 512 blocks = 32768 queries x 16384 keys.  Group (i, j) is full
 * iff j <= 2i - 1, empty iff j >= 2i + 2, else partial.  The mask is never
 * expanded (grid counts work on its intervals). */
static void test_causal_1m(void)
{
    const int64_t n = (int64_t)1 << 20;
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, n, n, NULL) == MASKINFO_OK);
    int32_t *z = zeros_i32(n);
    if (m == NULL || z == NULL) {
        maskinfo_mask_unref(m);
        free(z);
        return;
    }
    size_t cap = 64 * 1024;
    char *exp = malloc(cap), *p = exp;
    p += sprintf(p, "Attention mask (batch=0, head=0) block=(32x32) "
                    "mask_shape=(1, 1, 1048576, 1048576)\n         ");
    for (int j = 0; j < 64; j++)
        p += sprintf(p, "00");
    p += sprintf(p, "\n        ");
    for (int j = 0; j < 64; j++)
        p += sprintf(p, "==");
    p += sprintf(p, "  \n");
    for (int i = 0; i < 32; i++) {
        p += sprintf(p, "     0 ||");
        for (int j = 0; j < 64; j++)
            p += sprintf(p, "%s", j <= 2 * i - 1 ? "\xe2\x96\x88\xe2\x96\x88"
                                  : j >= 2 * i + 2 ? "  "
                                                   : "\xe2\x96\x91\xe2\x96\x91");
        p += sprintf(p, "||\n");
    }
    p += sprintf(p, "        ");
    for (int j = 0; j < 64; j++)
        p += sprintf(p, "==");
    p += sprintf(p, "  \n%s%s",
                 "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, "
                 "partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n",
                 "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n");
    maskinfo_text_opts o = opts(32, 32);
    check_render("causal 1M", m, &o, z, z, "(1, 1, 1048576, 1048576)", exp);
    free(exp);
    free(z);
    maskinfo_mask_unref(m);
}

/* One 1024x1024 plane shown as a single cell (block 1, max 1x1): the mean
 * of 2^20 ratios against the float32 thresholds 1 - 1e-6 and 1e-6.  One
 * missing cell (mean 1 - 2^-20) still reads as full and one allowed cell
 * (2^-20) as empty; two cells cross each threshold. */
static void test_thresholds(void)
{
    const int64_t n = 1024;
    uint8_t *cells = malloc((size_t)(n * n));
    if (cells == NULL) {
        CHECK(cells != NULL);
        return;
    }
    static const struct {
        int base, flips;
        const char *cell;
    } cases[] = {
        { 1, 0, "##" }, { 1, 1, "##" }, { 1, 2, ".." },
        { 0, 0, "  " }, { 0, 1, "  " }, { 0, 2, ".." },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(cells, cases[c].base, (size_t)(n * n));
        for (int f = 0; f < cases[c].flips; f++)
            cells[(size_t)(f * 517 + 3) * (size_t)n + (size_t)(f * 301 + 11)] =
                (uint8_t)!cases[c].base;
        maskinfo_mask *m = NULL;
        CHECK(maskinfo_mask_from_bytes(&m, 1, 1, n, n, cells, NULL) == MASKINFO_OK);
        if (m == NULL)
            continue;
        maskinfo_text_opts o = opts(1, 1);
        o.max_rows = 1;
        o.max_cols = 1;
        o.ascii = 1;
        o.show_segments = 0;
        char exp[512];
        snprintf(exp, sizeof exp,
                 "Attention mask (batch=0, head=0) block=(1x1) mask_shape=(1, 1, 1024, 1024)\n"
                 "  ==  \n||%s||\n  ==  \n"
                 "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, "
                 "partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n",
                 cases[c].cell);
        char what[64];
        snprintf(what, sizeof what, "threshold base %d flips %d", cases[c].base,
                 cases[c].flips);
        check_render(what, m, &o, NULL, NULL, NULL, exp);
        maskinfo_mask_unref(m);
    }
    free(cells);
}

/* First-level classification: a block with area 2^24 + 1 and one masked
 * cell has ratio (2^24)/(2^24+1) in float32, which rounds to 1.0: full,
 * as NumPy prints it. */
static void test_float32_ratio(void)
{
    const int64_t q = 4097, k = 4097; /* 4097^2 = 16785409 > 2^24 */
    uint8_t *cells = malloc((size_t)(q * k));
    if (cells == NULL) {
        CHECK(cells != NULL);
        return;
    }
    memset(cells, 1, (size_t)(q * k));
    cells[5] = 0;
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_from_bytes(&m, 1, 1, q, k, cells, NULL) == MASKINFO_OK);
    if (m != NULL) {
        maskinfo_text_opts o = opts(q, k);
        o.ascii = 1;
        o.show_segments = 0;
        const char *exp =
            "Attention mask (batch=0, head=0) block=(4097x4097) mask_shape=(1, 1, 4097, 4097)\n"
            "  ==  \n||##||\n  ==  \n"
            "Legend mask: full='\xe2\x96\x88\xe2\x96\x88'/##, "
            "partial='\xe2\x96\x91\xe2\x96\x91'/.., empty='  '\n";
        check_render("float32 ratio rounds to 1", m, &o, NULL, NULL, NULL, exp);
        maskinfo_mask_unref(m);
    }
    free(cells);
}

static void test_errors(void)
{
    maskinfo_mask *m = NULL;
    CHECK(maskinfo_mask_causal(&m, 1, 8, 8, NULL) == MASKINFO_OK);
    if (m == NULL)
        return;
    int32_t ids[8] = { 0 };
    char *out = (char *)1;
    size_t len = 99;
    maskinfo_text_opts o = opts(2, 2);
    CHECK(maskinfo_render_text(NULL, &o, ids, ids, NULL, &out, &len, NULL) == MASKINFO_EINVAL);
    CHECK(out == NULL && len == 0);
    CHECK(maskinfo_render_text(m, NULL, ids, ids, NULL, &out, &len, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_render_text(m, &o, ids, ids, NULL, NULL, &len, NULL) == MASKINFO_EINVAL);
    struct {
        int64_t bq, bk, batch, head, rows, cols;
    } bad[] = {
        { 0, 2, 0, 0, 32, 64 }, { 2, 0, 0, 0, 32, 64 }, { -1, 2, 0, 0, 32, 64 },
        { 2, 2, 1, 0, 32, 64 }, { 2, 2, -1, 0, 32, 64 }, { 2, 2, 0, 1, 32, 64 },
        { 2, 2, 0, -1, 32, 64 }, { 2, 2, 0, 0, 0, 64 }, { 2, 2, 0, 0, 32, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        maskinfo_text_opts b = opts(bad[i].bq, bad[i].bk);
        b.batch = bad[i].batch;
        b.head = bad[i].head;
        b.max_rows = bad[i].rows;
        b.max_cols = bad[i].cols;
        out = (char *)1;
        int st = maskinfo_render_text(m, &b, ids, ids, NULL, &out, &len, NULL);
        CHECKF(st == MASKINFO_EINVAL && out == NULL, "bad case %zu: status %d", i, st);
    }
    /* segments shown but no ids */
    CHECK(maskinfo_render_text(m, &o, NULL, ids, NULL, &out, &len, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_render_text(m, &o, ids, NULL, NULL, &out, &len, NULL) == MASKINFO_EINVAL);
    /* a huge block is fine: one tail block */
    o.block_q = INT64_MAX;
    o.block_kv = INT64_MAX;
    CHECK(maskinfo_render_text(m, &o, ids, ids, NULL, &out, &len, NULL) == MASKINFO_OK);
    CHECK(out != NULL && strstr(out, "   MIX ||  ||\n") != NULL);
    free(out);
    /* the guard covers the text and the count buffers: a tiny one refuses,
     * a roomy one renders what the default guard renders */
    o = opts(2, 2);
    maskinfo_limits tiny = { 16 }, roomy = { 1 << 20 };
    out = (char *)1;
    CHECK(maskinfo_render_text(m, &o, ids, ids, NULL, &out, &len, &tiny) == MASKINFO_ETOOBIG);
    CHECK(out == NULL);
    CHECK(maskinfo_render_text(m, &o, ids, ids, NULL, &out, &len, &roomy) == MASKINFO_OK);
    CHECK(out != NULL && strcmp(out, EXP_CAUSAL8_U) == 0);
    free(out);
    maskinfo_mask_unref(m);
}

int main(void)
{
    test_causal8();
    test_documents();
    test_downsample();
    test_window_plane();
    test_empty_axes();
    test_causal_1m();
    test_thresholds();
    test_float32_ratio();
    test_errors();
    return check_summary();
}
