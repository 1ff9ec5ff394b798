/*
 * leaves.c - the structured leaf kinds of the mask expression: constant,
 * segment equality, explicit intervals, and the rule leaves (causal,
 * window, chunked, key range); the dense-bit leaf is in leaf_dense.c.
 * Each kind's constructor sits next to the drop function that frees its
 * payload; its row is computed in eval.c.
 */
#include "node.h"

/* ------------------------------------------------------------ constant */

int maskinfo_mask_constant(maskinfo_mask **out, int64_t B, int64_t H,
                           int64_t Q, int64_t K, int value) {
    int st = maskinfo__check_dims(B, H, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_CONST, NULL, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.cst.value = value != 0;
    *out = m;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ segment leaf */

typedef struct { int64_t id, lo, hi; } seg_run;

static void seg_drop(maskinfo_mask *m) {
    free(m->u.seg.qv);
    free(m->u.seg.run_off);
    free(m->u.seg.run_id);
    free(m->u.seg.run_lo);
    free(m->u.seg.run_hi);
}

static int cmp_run(const void *x, const void *y) {
    const seg_run *a = x, *b = y;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return (a->lo > b->lo) - (a->lo < b->lo);
}

/*
 * The kv ids of each (b, head) are cut into runs of equal id and sorted by
 * (id, start), so a query row finds all keys of its segment by one binary
 * search: O(log runs + runs of that id), whatever the id layout.
 */
int maskinfo_mask_segments(maskinfo_mask **out, int64_t B, int64_t Hq,
                           int64_t Hk, int64_t Q, int64_t K,
                           const int64_t *qv, const int64_t *kv) {
    if (Hq < 1 || Hk < 1 || (Hq != 1 && Hk != 1 && Hq != Hk))
        return MASKINFO_ESHAPE;
    int64_t H = Hq > Hk ? Hq : Hk;
    int st = maskinfo__check_dims(B, H, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_SEG, seg_drop, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.seg.hq = Hq;
    m->u.seg.hk = Hk;
    int64_t nplanes = B * Hk;
    seg_run *runs = NULL;
    /* the kv ids live on only as runs: rows need nothing else */
    m->u.seg.qv = maskinfo__node_i64(m, qv, B * Hq * Q);
    m->u.seg.run_off = maskinfo__node_i64(m, NULL, nplanes + 1);
    /* count runs first */
    int64_t total = 0;
    if (!m->u.seg.qv || !m->u.seg.run_off) goto oom;
    for (int64_t p = 0; p < nplanes; p++) {
        const int64_t *row = kv + p * K;
        m->u.seg.run_off[p] = total;
        for (int64_t k = 0; k < K; k++)
            if (row[k] != MASKINFO_NOMATCH_KV && (k == 0 || row[k] != row[k - 1]))
                total++;
    }
    m->u.seg.run_off[nplanes] = total;
    runs = malloc((size_t)(total > 0 ? total : 1) * sizeof *runs);
    m->u.seg.run_id = maskinfo__node_i64(m, NULL, total);
    m->u.seg.run_lo = maskinfo__node_i64(m, NULL, total);
    m->u.seg.run_hi = maskinfo__node_i64(m, NULL, total);
    if (!runs || !m->u.seg.run_id || !m->u.seg.run_lo || !m->u.seg.run_hi) goto oom;
    for (int64_t p = 0; p < nplanes; p++) {
        const int64_t *row = kv + p * K;
        int64_t r = m->u.seg.run_off[p];
        for (int64_t k = 0; k < K;) {
            int64_t e = k + 1;
            while (e < K && row[e] == row[k]) e++;
            if (row[k] != MASKINFO_NOMATCH_KV) {
                runs[r].id = row[k];
                runs[r].lo = k;
                runs[r].hi = e;
                r++;
            }
            k = e;
        }
        int64_t n = m->u.seg.run_off[p + 1] - m->u.seg.run_off[p];
        qsort(runs + m->u.seg.run_off[p], (size_t)n, sizeof *runs, cmp_run);
    }
    for (int64_t r = 0; r < total; r++) {
        m->u.seg.run_id[r] = runs[r].id;
        m->u.seg.run_lo[r] = runs[r].lo;
        m->u.seg.run_hi[r] = runs[r].hi;
    }
    free(runs);
    *out = m;
    return MASKINFO_OK;
oom:
    free(runs);
    maskinfo_mask_unref(m);
    return MASKINFO_ENOMEM;
}

/* ------------------------------------------------------------ intervals */

typedef struct { int64_t lo, hi; } ivpair;

static void ivl_drop(maskinfo_mask *m) {
    free(m->u.ivl.off);
    free(m->u.ivl.iv);
}

static int cmp_iv(const void *x, const void *y) {
    const ivpair *a = x, *b = y;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    return (a->hi > b->hi) - (a->hi < b->hi);
}

int maskinfo_mask_from_intervals(maskinfo_mask **out, int64_t B, int64_t H,
                                 int64_t Q, int64_t K, const int64_t *offsets,
                                 const int64_t *iv, const maskinfo_limits *lim) {
    int st = maskinfo__check_dims(B, H, Q, K);
    if (st) return st;
    int64_t rows = B * H * Q;
    /* the offsets index iv: they must be >= 0 and never decrease */
    if (!offsets || offsets[0] < 0) return MASKINFO_EINVAL;
    for (int64_t r = 0; r < rows; r++)
        if (offsets[r + 1] < offsets[r]) return MASKINFO_EINVAL;
    int64_t n = offsets[rows];
    st = maskinfo_check_alloc(lim, (uint64_t)n, 16);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_IVL, ivl_drop, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    ivpair *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    m->u.ivl.off = maskinfo__node_i64(m, NULL, rows + 1);
    m->u.ivl.iv = maskinfo__node_i64(m, NULL, 2 * n);
    if (!tmp || !m->u.ivl.off || !m->u.ivl.iv) {
        free(tmp);
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    int64_t w = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = 0;
        for (int64_t j = offsets[r]; j < offsets[r + 1]; j++) {
            int64_t lo = mi_max64(iv[2 * j], 0), hi = mi_min64(iv[2 * j + 1], K);
            if (lo < hi) tmp[c++] = (ivpair){lo, hi};
        }
        qsort(tmp, (size_t)c, sizeof *tmp, cmp_iv);
        m->u.ivl.off[r] = w;
        for (int64_t j = 0; j < c; j++) {
            if (w > m->u.ivl.off[r] && tmp[j].lo <= m->u.ivl.iv[2 * w - 1]) {
                if (tmp[j].hi > m->u.ivl.iv[2 * w - 1]) m->u.ivl.iv[2 * w - 1] = tmp[j].hi;
            } else {
                m->u.ivl.iv[2 * w] = tmp[j].lo;
                m->u.ivl.iv[2 * w + 1] = tmp[j].hi;
                w++;
            }
        }
    }
    m->u.ivl.off[rows] = w;
    free(tmp);
    *out = m;
    return MASKINFO_OK;
}

/* ------------------------------------------------------------ rule leaves */

static int rule_dims(int64_t B, int64_t Q, int64_t K) {
    if (B < 0 || Q < 0 || K < 0) return MASKINFO_EINVAL;
    if (maskinfo__mul(maskinfo__mul(B, Q), K) < 0) return MASKINFO_EOVERFLOW;
    return MASKINFO_OK;
}

static void causal_drop(maskinfo_mask *m) { free(m->u.causal.off); }
static void chunk_drop(maskinfo_mask *m) { free(m->u.chunk.off); }
static void window_drop(maskinfo_mask *m) {
    free(m->u.window.off);
    free(m->u.window.left);
    free(m->u.window.right);
}
static void krange_drop(maskinfo_mask *m) {
    free(m->u.krange.lo);
    free(m->u.krange.hi);
}

/* A rule leaf with per-batch offsets copied in (NULL offsets are zeros). */
static int rule_new(maskinfo_mask **out, mi_kind kind, void (*drop)(maskinfo_mask *),
                    int64_t B, int64_t H, int64_t Q, int64_t K, const int64_t *off) {
    int st = rule_dims(B, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(kind, drop, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    int64_t **slot = kind == MI_WINDOW ? &m->u.window.off
                   : kind == MI_CHUNK ? &m->u.chunk.off : &m->u.causal.off;
    *slot = maskinfo__node_i64(m, off, B);
    if (!*slot) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_causal(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                         const int64_t *off) {
    return rule_new(out, MI_CAUSAL, causal_drop, B, 1, Q, K, off);
}

int maskinfo_mask_window(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                         int64_t nh, const int64_t *left, const int64_t *right,
                         const int64_t *off) {
    if (nh < 1 || !left || !right) return MASKINFO_EINVAL;
    for (int64_t i = 0; i < nh; i++)
        if (left[i] < 0 || right[i] < 0) return MASKINFO_EINVAL;
    maskinfo_mask *m;
    int st = rule_new(&m, MI_WINDOW, window_drop, B, nh, Q, K, off);
    if (st) return st;
    m->u.window.nh = nh;
    m->u.window.left = maskinfo__node_i64(m, left, nh);
    m->u.window.right = maskinfo__node_i64(m, right, nh);
    if (!m->u.window.left || !m->u.window.right) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_chunked(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                          int64_t chunk, const int64_t *off) {
    if (chunk <= 0) return MASKINFO_EINVAL;
    maskinfo_mask *m;
    int st = rule_new(&m, MI_CHUNK, chunk_drop, B, 1, Q, K, off);
    if (st) return st;
    m->u.chunk.chunk = chunk;
    *out = m;
    return MASKINFO_OK;
}

int maskinfo_mask_key_range(maskinfo_mask **out, int64_t B, int64_t Q,
                            int64_t K, const int64_t *lo, const int64_t *hi) {
    if (!hi) return MASKINFO_EINVAL;
    int st = rule_dims(B, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_KRANGE, krange_drop, B, 1, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    m->u.krange.lo = maskinfo__node_i64(m, lo, B);
    m->u.krange.hi = maskinfo__node_i64(m, hi, B);
    if (!m->u.krange.lo || !m->u.krange.hi) {
        maskinfo_mask_unref(m);
        return MASKINFO_ENOMEM;
    }
    *out = m;
    return MASKINFO_OK;
}
