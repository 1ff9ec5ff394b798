/*
 * builders.c - what the constructors for ML inputs need, in C, so that no
 * binding has to build an N-element table: segment ids from document
 * lengths and from flash-attn's packed cu_seqlens, positions counting up
 * from a start, numbered image runs from token types, and the
 * tree-attention mask from parent indices.  Only the public header is used.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maskinfo.h"

static void set_bad(int64_t *bad, int64_t i) {
    if (bad) *bad = i;
}

int maskinfo_ids_from_lengths(const int64_t *lengths, int64_t n, int64_t len, int32_t *ids,
                              int64_t *bad) {
    set_bad(bad, -1);
    if (n < 0 || len < 0 || (n > 0 && !lengths) || (len > 0 && !ids)) return MASKINFO_EINVAL;
    if (n > (int64_t)INT32_MAX + 1) return MASKINFO_EOVERFLOW; /* ids are int32 */
    int64_t total = 0;
    for (int64_t d = 0; d < n; d++) {
        /* written so that it cannot overflow: total <= len always holds */
        if (lengths[d] < 0 || lengths[d] > len - total) {
            set_bad(bad, d);
            return MASKINFO_EINVAL;
        }
        total += lengths[d];
    }
    int64_t t = 0;
    for (int64_t d = 0; d < n; d++)
        for (int64_t j = 0; j < lengths[d]; j++) ids[t++] = (int32_t)d;
    for (; t < len; t++) ids[t] = -1;
    return MASKINFO_OK;
}

int maskinfo_ids_from_cu_seqlens(const int64_t *cu, int64_t n, int64_t len, int32_t *ids,
                                 int64_t *bad) {
    set_bad(bad, -1);
    if (n < 1 || !cu || len < 0) return MASKINFO_EINVAL;
    if (n - 1 > (int64_t)INT32_MAX + 1) return MASKINFO_EOVERFLOW;
    for (int64_t i = 0; i < n; i++) {
        int64_t prev = i == 0 ? 0 : cu[i - 1];
        if (cu[i] < prev || cu[i] > len || (i == 0 && cu[0] != 0) || (i == n - 1 && cu[i] != len)) {
            set_bad(bad, i);
            return MASKINFO_EINVAL;
        }
    }
    for (int64_t d = 0; ids && d + 1 < n; d++)
        for (int64_t t = cu[d]; t < cu[d + 1]; t++) ids[t] = (int32_t)d;
    return MASKINFO_OK;
}

int maskinfo_positions_arange(int64_t rows, int64_t len, int64_t start, int32_t *out) {
    if (rows < 0 || len < 0 || (rows > 0 && len > 0 && !out)) return MASKINFO_EINVAL;
    if (len > 0 && (start < INT32_MIN || start > (int64_t)INT32_MAX - (len - 1)))
        return MASKINFO_EOVERFLOW;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < len; j++) out[r * len + j] = (int32_t)(start + j);
    return MASKINFO_OK;
}

int maskinfo_image_runs(const int32_t *types, int64_t rows, int64_t len, int32_t *out,
                        int64_t *bad) {
    set_bad(bad, -1);
    if (rows < 0 || len < 0 || (rows > 0 && len > 0 && (!types || !out))) return MASKINFO_EINVAL;
    for (int64_t i = 0; i < rows * len; i++)
        if (types[i] < 0) {
            set_bad(bad, i);
            return MASKINFO_EINVAL;
        }
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *t = types + r * len;
        int32_t *o = out + r * len;
        int32_t run = 0;
        for (int64_t j = 0; j < len; j++) {
            if (t[j] == 0) {
                o[j] = 0;
                continue;
            }
            if (j == 0 || t[j - 1] != t[j]) { /* a new run: after text, or another type */
                if (run == INT32_MAX) return MASKINFO_EOVERFLOW;
                run++;
            }
            o[j] = run;
        }
    }
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ trees */

/* A growable list of int64 under the guard. */
typedef struct {
    int64_t *v;
    int64_t n, cap;
} i64_list;

static int list_reserve(i64_list *l, int64_t extra, const maskinfo_limits *lim) {
    if (extra <= l->cap - l->n) return MASKINFO_OK;
    if (l->n > INT64_MAX / 2 - extra) return MASKINFO_EOVERFLOW;
    int64_t cap = l->cap ? l->cap : 64;
    while (cap - l->n < extra) cap *= 2;
    int st = maskinfo_check_alloc(lim, (uint64_t)cap, sizeof(int64_t));
    if (st) return st;
    int64_t *v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return MASKINFO_ENOMEM;
    l->v = v;
    l->cap = cap;
    return MASKINFO_OK;
}

static int list_push(i64_list *l, int64_t x, const maskinfo_limits *lim) {
    int st = list_reserve(l, 1, lim);
    if (!st) l->v[l->n++] = x;
    return st;
}

/* Append the run [lo, hi). */
static int list_run(i64_list *l, int64_t lo, int64_t hi, const maskinfo_limits *lim) {
    int st = list_reserve(l, 2, lim);
    if (!st) {
        l->v[l->n++] = lo;
        l->v[l->n++] = hi;
    }
    return st;
}

/* Row i's key runs are its parent's runs plus [prefix + i, prefix + i + 1)
 * (merged into the last run when adjacent): the parent's row is complete
 * when row i is made, since parents come first.  The work and the memory
 * are the total number of runs, which is at most the tree's total depth. */
static int tree_rows(const int64_t *parents, int64_t n, int64_t prefix, i64_list *off,
                     i64_list *iv, int32_t *depth, int32_t *root,
                     const maskinfo_limits *lim) {
    int32_t roots = 0;
    int st = list_push(off, 0, lim);
    for (int64_t i = 0; i < n && !st; i++) {
        int64_t p = parents[i], key = prefix + i;
        if (p < 0) {
            depth[i] = 0;
            root[i] = roots++;
            if (prefix > 0) st = list_run(iv, 0, prefix, lim);
        } else {
            depth[i] = depth[p] + 1;
            root[i] = root[p];
            int64_t lo = off->v[p], cnt = 2 * (off->v[p + 1] - lo); /* values, not pairs */
            st = list_reserve(iv, cnt, lim);
            if (st) break;
            memcpy(iv->v + iv->n, iv->v + 2 * lo, (size_t)cnt * sizeof(int64_t));
            iv->n += cnt;
        }
        if (st) break;
        int64_t nrun = iv->n / 2 - off->v[i];
        if (nrun > 0 && iv->v[iv->n - 1] == key)
            iv->v[iv->n - 1] = key + 1;
        else
            st = list_run(iv, key, key + 1, lim);
        if (!st) st = list_push(off, iv->n / 2, lim);
    }
    return st;
}

int maskinfo_mask_tree(maskinfo_mask **out, const int64_t *parents, int64_t n, int64_t prefix,
                       int32_t *depth, int32_t *root, int64_t *bad,
                       const maskinfo_limits *lim) {
    set_bad(bad, -1);
    if (!out || n < 0 || prefix < 0 || (n > 0 && (!parents || !depth || !root)))
        return MASKINFO_EINVAL;
    if (n > INT32_MAX || prefix > INT64_MAX - n) return MASKINFO_EOVERFLOW;
    for (int64_t i = 0; i < n; i++)
        if (parents[i] < -1 || parents[i] >= i) {
            set_bad(bad, i);
            return MASKINFO_EINVAL;
        }
    i64_list off = {0}, iv = {0};
    int st = list_reserve(&off, n + 1, lim);
    if (!st) st = list_reserve(&iv, 2 * n, lim);
    if (!st) st = tree_rows(parents, n, prefix, &off, &iv, depth, root, lim);
    if (!st) st = maskinfo_mask_from_intervals(out, 1, 1, n, prefix + n, off.v, iv.v, lim);
    free(off.v);
    free(iv.v);
    return st;
}
