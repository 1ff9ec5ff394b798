/*
 * fuzz_expr.c - differential fuzzing of the mask expressions: the fuzzer's
 * bytes choose a shape and a random DAG of leaves and operators
 * (core/tests/expr_ref.h, shared with test_eval.c) built through the
 * public API next to a one-byte-per-cell reference.  Every node is then
 * read every way the core offers and compared with the reference: rows,
 * cells, counts, empty rows, dense arrays (mask_ref.h), grid counts over
 * fuzzed edges, block classes and the float16 bias.  Any difference
 * aborts (a finding).
 */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>

#include "expr_ref.h"
#include "mask_ref.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} bytes;

static uint32_t next_bytes(void *ctx)
{
    bytes *b = ctx;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = (v << 8) | (b->n ? *b->p : 0);
        if (b->n) { b->p++; b->n--; }
    }
    return v;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_expr: %s differs from the reference\n", what);
    abort();
}

static void check_grid(xr_src *r, const xr_node *x, int64_t B, int64_t Q, int64_t K)
{
    int64_t nr = xr_pick(r, 4), nc = xr_pick(r, 5), re[5], ce[6];
    re[0] = xr_pick(r, Q + 1);
    for (int64_t i = 1; i <= nr; i++) re[i] = re[i - 1] + xr_pick(r, Q - re[i - 1] + 1);
    ce[0] = xr_pick(r, K + 1);
    for (int64_t j = 1; j <= nc; j++) ce[j] = ce[j - 1] + xr_pick(r, K - ce[j - 1] + 1);
    int64_t b = xr_pick(r, B), h = xr_pick(r, x->H);
    uint64_t cnt[20];
    if (maskinfo_mask_grid_counts(x->m, b, h, re, nr, ce, nc, cnt, NULL) != MASKINFO_OK) fail("grid_counts status");
    for (int64_t i = 0; i < nr; i++)
        for (int64_t j = 0; j < nc; j++) {
            uint64_t want = 0;
            for (int64_t q = re[i]; q < re[i + 1]; q++)
                for (int64_t k = ce[j]; k < ce[j + 1]; k++) want += xr_cell(x, Q, K, b, h, q, k);
            if (cnt[i * nc + j] != want) fail("grid_counts");
        }
}

static void check_blocks(xr_src *r, const xr_node *x, int64_t B, int64_t Q, int64_t K)
{
    int64_t bq = 1 + xr_pick(r, 5), bk = 1 + xr_pick(r, 40);
    maskinfo_array *a = NULL;
    if (maskinfo_mask_block_classes(x->m, bq, bk, &a, NULL) != MASKINFO_OK) fail("block_classes status");
    int64_t R = (Q + bq - 1) / bq, C = (K + bk - 1) / bk;
    const uint8_t *c = maskinfo_array_cdata(a);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < x->H; h++)
            for (int64_t i = 0; i < R; i++)
                for (int64_t j = 0; j < C; j++) {
                    int64_t on = 0, all = 0;
                    for (int64_t q = i * bq; q < Q && q < (i + 1) * bq; q++)
                        for (int64_t k = j * bk; k < K && k < (j + 1) * bk; k++, all++)
                            on += xr_cell(x, Q, K, b, h, q, k);
                    uint8_t want = on == 0 ? MASKINFO_BLOCK_EMPTY : on == all ? MASKINFO_BLOCK_FULL : MASKINFO_BLOCK_PARTIAL;
                    if (c[((b * x->H + h) * R + i) * C + j] != want) fail("block_classes");
                }
    maskinfo_array_free(a);
}

static void check_bias(const xr_node *x, int64_t B, int64_t Q, int64_t K)
{
    maskinfo_array *a = NULL;
    if (maskinfo_mask_to_bias(x->m, MASKINFO_FLOAT16, &a, NULL) != MASKINFO_OK) fail("to_bias status");
    const uint16_t *v = maskinfo_array_cdata(a);
    for (int64_t i = 0; i < B * x->H * Q * K; i++)
        if (v[i] != (x->ref[i] ? 0x0000 : 0xFBFF)) fail("to_bias(float16)");
    maskinfo_array_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bytes in = {data, size};
    xr_src r = {next_bytes, &in};
    xr_pool p = {1 + xr_pick(&r, 3), 1 + xr_pick(&r, 3), xr_pick(&r, 7), xr_pick(&r, 90), NULL, 0, 0};
    int steps = 2 + (int)xr_pick(&r, 30);
    for (int i = 0; i < steps; i++)
        if (!xr_step(&r, &p)) fail("a constructor refused valid arguments");
    for (int64_t i = p.count > 3 ? p.count - 3 : 0; i < p.count; i++) {
        const xr_node *x = &p.n[i];
        if (!mask_matches_cells(x->m, x->ref, p.B, x->H, p.Q, p.K, "fuzz")) fail("a reading path");
        check_grid(&r, x, p.B, p.Q, p.K);
        check_blocks(&r, x, p.B, p.Q, p.K);
        check_bias(x, p.B, p.Q, p.K);
    }
    xr_free(&p);
    return 0;
}
