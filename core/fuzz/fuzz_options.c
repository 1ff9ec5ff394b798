/*
 * fuzz_options.c - the decoders of options and sizes: maskinfo_parse_bytes
 * (MASKINFO_MAX_BYTES) against a plain reference parser, dtype names, and
 * the option structs and argument checks of the text renderer, slices,
 * windows, interval leaves, grid counts and block tables, with values the
 * fuzzer picks (huge, negative, out of range).  A call must refuse or
 * succeed, never crash or read out of bounds; a successful one must keep
 * its documented invariants.
 */
#include "maskinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_options: %s\n", what);
    abort();
}

/* The reference: digits, then "", K, M, G, T, KiB, MiB, GiB or TiB. */
static int ref_parse(const char *s, uint64_t *out)
{
    static const char *const suf[] = {"", "K", "M", "G", "T", "KiB", "MiB", "GiB", "TiB"};
    static const int shift[] = {0, 10, 20, 30, 40, 10, 20, 30, 40};
    size_t d = strspn(s, "0123456789");
    if (d == 0) return MASKINFO_EINVAL;
    for (int i = 0; i < 9; i++) {
        if (strcmp(s + d, suf[i]) != 0) continue;
        unsigned __int128 v = 0;
        for (size_t j = 0; j < d; j++) {
            v = v * 10 + (unsigned)(s[j] - '0');
            if (v > (unsigned __int128)INT64_MAX << 1) v = (unsigned __int128)INT64_MAX << 1; /* saturate */
        }
        v <<= shift[i];
        if (v > (unsigned __int128)INT64_MAX) return MASKINFO_EOVERFLOW;
        *out = (uint64_t)v;
        return MASKINFO_OK;
    }
    return MASKINFO_EINVAL;
}

typedef struct { const uint8_t *p; size_t n; } bytes;

static int64_t take(bytes *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | (b->n ? *b->p : 0);
        if (b->n) { b->p++; b->n--; }
    }
    switch (v & 7) { /* mostly small, sometimes extreme */
    case 0: return (int64_t)v;
    case 1: return -(int64_t)((v >> 3) & 15);
    default: return (int64_t)((v >> 3) % 13);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the byte-count parser and dtype names on the raw text */
    char text[64];
    size_t tl = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, tl);
    text[tl] = 0;
    uint64_t a = 7, b = 7;
    int sa = maskinfo_parse_bytes(text, &a), sb = ref_parse(text, &b);
    if (sa != sb || (sa == MASKINFO_OK && a != b) || (sa != MASKINFO_OK && a != 7))
        fail("maskinfo_parse_bytes differs from the reference");
    int dt = maskinfo_dtype_from_name(text);
    if (dt >= 0 && strcmp(maskinfo_dtype_name((maskinfo_dtype)dt), text) != 0) fail("dtype name round trip");

    bytes in = {data, size};
    int64_t B = 1 + (take(&in) & 1), Q = take(&in) & 15, K = take(&in) & 63;
    maskinfo_mask *m = NULL, *v = NULL;
    int64_t off[2] = {take(&in), take(&in)}, left[3] = {take(&in), take(&in), take(&in)},
            right[3] = {take(&in), take(&in), take(&in)}, nh = take(&in);
    if (nh > 3) nh = 3; /* the arrays hold 3: zero and negative counts stay */
    if (maskinfo_mask_window(&m, B, Q, K, nh, left, right, off) == MASKINFO_OK) {
        if (nh < 1) fail("window accepted no heads");
    } else if (maskinfo_mask_causal(&m, B, Q, K, off) != MASKINFO_OK) {
        fail("causal refused a valid shape");
    }
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);

    /* slices with fuzzed starts and extents */
    int64_t qs[2] = {take(&in), take(&in)}, ks[2] = {take(&in), take(&in)}, nq = take(&in), nk = take(&in);
    if (maskinfo_mask_slice(&v, m, qs, nq, ks, nk) == MASKINFO_OK) {
        uint64_t t;
        if (maskinfo_mask_count(v, &t, NULL, NULL) != MASKINFO_OK || t > (uint64_t)(nq * nk * B * sh[1]))
            fail("a slice counts more cells than it has");
        maskinfo_mask_unref(v);
    }

    /* the text renderer's options */
    maskinfo_text_opts o = {take(&in), take(&in), take(&in), take(&in), (int)(take(&in) & 1),
                            take(&in), take(&in), (int)(take(&in) & 1), (int)(take(&in) & 1)};
    int32_t ids[64] = {0};
    char *txt = NULL;
    size_t len = 0;
    maskinfo_limits lim = {1 << 22};
    int st = maskinfo_render_text(m, &o, o.show_segments ? ids : NULL, o.show_segments ? ids : NULL,
                                  "(x)", &txt, &len, &lim);
    if (st == MASKINFO_OK && (txt == NULL || strlen(txt) != len)) fail("render_text's length");
    free(txt);

    /* grid counts over fuzzed edges */
    int64_t re[4] = {take(&in), take(&in), take(&in), take(&in)}, ce[4] = {take(&in), take(&in), take(&in), take(&in)};
    uint64_t cnt[9];
    st = maskinfo_mask_grid_counts(m, take(&in), take(&in), re, 3, ce, 3, cnt, &lim);
    if (st == MASKINFO_OK)
        for (int i = 0; i < 3; i++)
            if (re[i] > re[i + 1] || ce[i] > ce[i + 1] || re[i] < 0 || re[3] > Q || ce[3] > K)
                fail("grid_counts accepted bad edges");

    /* interval leaves with fuzzed offsets and intervals */
    int64_t offs[3] = {take(&in), take(&in), take(&in)}, iv[8];
    for (int i = 0; i < 8; i++) iv[i] = take(&in);
    int64_t Bi = 1, Hi = 1, Qi = take(&in) & 1 ? 2 : 1;
    if (offs[0] >= 0 && offs[0] <= offs[1] && offs[1] <= offs[Qi] && offs[Qi] <= 4 &&
        (Qi == 2 || offs[1] <= 4) &&
        maskinfo_mask_from_intervals(&v, Bi, Hi, Qi, K, offs, iv, &lim) == MASKINFO_OK) {
        uint64_t t;
        if (maskinfo_mask_count(v, &t, NULL, NULL) != MASKINFO_OK || t > (uint64_t)(Qi * K)) fail("interval leaf count");
        maskinfo_mask_unref(v);
    }

    /* block tables from the block classes */
    maskinfo_array *cls = NULL, *num = NULL, *idx = NULL;
    if (maskinfo_mask_block_classes(m, 1 + (take(&in) & 7), 1 + (take(&in) & 15), &cls, &lim) == MASKINFO_OK) {
        int want = (int)(take(&in) & 3), tr = (int)(take(&in) & 1);
        st = maskinfo_block_table(cls, (maskinfo_block_class)want, tr, &num, &idx, &lim);
        if (st == MASKINFO_OK && (want < 1 || want > 2)) fail("block_table accepted a class it has no table for");
        maskinfo_array_free(num);
        maskinfo_array_free(idx);
        maskinfo_array_free(cls);
    }
    maskinfo_mask_unref(m);
    return 0;
}
