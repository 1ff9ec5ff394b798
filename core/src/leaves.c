/*
 * leaves.c - the structured leaf kinds of the mask expression: constant,
 * segment equality, explicit intervals, and the rule leaves (causal,
 * window, chunked, key range); the dense-bit leaf is in leaf_dense.c.
 * Each kind's constructor sits next to the drop function that frees its
 * payload; its row is computed in eval.c.
 */
#include "node.h"

#include <string.h>

#include "pages.h"

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

/* bytes of the widened query ids (pages.h memory: written whole at once) */
static size_t seg_qv_bytes(const maskinfo_mask *m) {
    return (size_t)(m->B * m->u.seg.hq * m->Q) * sizeof(int64_t);
}

static void seg_drop(maskinfo_mask *m) {
    maskinfo__pages_free(m->u.seg.qv, seg_qv_bytes(m));
    free(m->u.seg.run_off);
    free(m->u.seg.run_id);
    free(m->u.seg.run_lo);
    free(m->u.seg.run_hi);
}

/* Ids as given: int64 values with the no-match sentinels already in, or
 * int32 values read through a mode. */
typedef struct {
    const int64_t *v64;
    const int32_t *v32;
    maskinfo_ids_mode mode;
} seg_src;

static inline int off32(maskinfo_ids_mode mode, int32_t x) {
    return (mode == MASKINFO_IDS_SEGMENT && x < 0) || (mode == MASKINFO_IDS_NONZERO && x == 0);
}

/*
 * The runs of equal id of one plane of K kv ids, in key order, written to
 * id/lo/hi (only counted when id is NULL); *sorted is cleared when an id
 * is smaller than the one before.  Ids that never match start no run.  Raw
 * equality cuts the same runs as equality of the widened values, since a
 * value that matches widens to itself and nothing else widens to it.
 */
#define SEG_RUNS(name, T, OFF)                                                 \
    static int64_t name(const T *row, int64_t K, maskinfo_ids_mode mode,       \
                        int64_t *id, int64_t *lo, int64_t *hi, int *sorted) {  \
        int64_t r = 0;                                                         \
        (void)mode;                                                            \
        for (int64_t k = 0; k < K;) {                                          \
            T v = row[k];                                                      \
            int64_t e = k + 1;                                                 \
            while (e < K && row[e] == v) e++;                                  \
            if (!(OFF)) {                                                      \
                if (id) {                                                      \
                    if (r > 0 && id[r - 1] > v) *sorted = 0;                   \
                    id[r] = v;                                                 \
                    lo[r] = k;                                                 \
                    hi[r] = e;                                                 \
                }                                                              \
                r++;                                                           \
            }                                                                  \
            k = e;                                                             \
        }                                                                      \
        return r;                                                              \
    }
SEG_RUNS(runs_i32, int32_t, off32(mode, v))
SEG_RUNS(runs_i64, int64_t, v == MASKINFO_NOMATCH_KV)

static int64_t plane_runs(const seg_src *s, int64_t p, int64_t K, int64_t *id,
                          int64_t *lo, int64_t *hi, int *sorted) {
    return s->v64 ? runs_i64(s->v64 + p * K, K, s->mode, id, lo, hi, sorted)
                  : runs_i32(s->v32 + p * K, K, s->mode, id, lo, hi, sorted);
}

/* Stable LSD radix sort of the runs [0, n) by id, 8 bits a pass over the
 * bits the ids' range needs: (id, lo) order in O(n), as runs come in lo
 * order.  tmp holds 5 * n int64. */
static void sort_runs(int64_t *id, int64_t *lo, int64_t *hi, int64_t n, int64_t *tmp) {
    uint64_t mn = (uint64_t)id[0] ^ (1ull << 63), span = 0;
    for (int64_t r = 1; r < n; r++) {
        uint64_t u = (uint64_t)id[r] ^ (1ull << 63); /* order-preserving */
        if (u < mn) mn = u;
    }
    uint64_t *key = (uint64_t *)tmp, *key2 = key + n;
    int64_t *idx = tmp + 2 * n, *idx2 = tmp + 3 * n;
    for (int64_t r = 0; r < n; r++) {
        key[r] = ((uint64_t)id[r] ^ (1ull << 63)) - mn;
        idx[r] = r;
        span |= key[r];
    }
    for (int shift = 0; shift < 64 && (span >> shift); shift += 8) {
        int64_t cnt[257] = {0};
        for (int64_t r = 0; r < n; r++) cnt[((key[r] >> shift) & 255) + 1]++;
        for (int d = 0; d < 256; d++) cnt[d + 1] += cnt[d];
        for (int64_t r = 0; r < n; r++) {
            int64_t at = cnt[(key[r] >> shift) & 255]++;
            key2[at] = key[r];
            idx2[at] = idx[r];
        }
        uint64_t *tk = key; key = key2; key2 = tk;
        int64_t *ti = idx; idx = idx2; idx2 = ti;
    }
    int64_t *buf = tmp + 4 * n;
    int64_t *cols[3] = {id, lo, hi};
    for (int c = 0; c < 3; c++) {
        for (int64_t r = 0; r < n; r++) buf[r] = cols[c][idx[r]];
        memcpy(cols[c], buf, (size_t)n * sizeof *buf);
    }
}

/*
 * The kv ids of each (b, head) are cut into runs of equal id and sorted by
 * (id, start), so a query row finds all keys of its segment by one binary
 * search: O(log runs + runs of that id), whatever the id layout.  The kv
 * ids are read twice (count, then cut) and never copied; the runs come in
 * key order, so the sort is a check unless ids reappear after others.
 */
static int seg_build(maskinfo_mask **out, int64_t B, int64_t Hq, int64_t Hk,
                     int64_t Q, int64_t K, const seg_src *qs, const seg_src *ks) {
    if (Hq < 1 || Hk < 1 || (Hq != 1 && Hk != 1 && Hq != Hk))
        return MASKINFO_ESHAPE;
    int64_t H = Hq > Hk ? Hq : Hk;
    int st = maskinfo__check_dims(B, H, Q, K);
    if (st) return st;
    maskinfo_mask *m = maskinfo__node_new(MI_SEG, seg_drop, B, H, Q, K);
    if (!m) return MASKINFO_ENOMEM;
    mi_seg_leaf *g = &m->u.seg;
    g->hq = Hq;
    g->hk = Hk;
    int64_t nplanes = B * Hk, nq = B * Hq * Q;
    int64_t *tmp = NULL;
    /* the kv ids live on only as runs: rows need nothing else */
    g->qv = maskinfo__pages_alloc(seg_qv_bytes(m));
    g->run_off = maskinfo__node_i64(m, NULL, nplanes + 1);
    if (!g->qv || !g->run_off) goto oom;
    m->bytes += (uint64_t)(nq > 0 ? nq : 1) * sizeof(int64_t); /* as node_i64 counts */
    maskinfo__pages_dense(g->qv, seg_qv_bytes(m));
    if (qs->v64) {
        if (nq > 0) memcpy(g->qv, qs->v64, seg_qv_bytes(m));
    } else {
        const int32_t *v = qs->v32;
        int64_t *w = g->qv;
        /* one loop per mode, so each is a plain vector loop */
        if (qs->mode == MASKINFO_IDS_SEGMENT)
            for (int64_t i = 0; i < nq; i++) w[i] = v[i] < 0 ? MASKINFO_NOMATCH_Q : v[i];
        else if (qs->mode == MASKINFO_IDS_NONZERO)
            for (int64_t i = 0; i < nq; i++) w[i] = v[i] == 0 ? MASKINFO_NOMATCH_Q : v[i];
        else
            for (int64_t i = 0; i < nq; i++) w[i] = v[i];
    }
    int64_t total = 0;
    for (int64_t p = 0; p < nplanes; p++) {
        g->run_off[p] = total;
        total += plane_runs(ks, p, K, NULL, NULL, NULL, NULL);
    }
    g->run_off[nplanes] = total;
    g->run_id = maskinfo__node_i64(m, NULL, total);
    g->run_lo = maskinfo__node_i64(m, NULL, total);
    g->run_hi = maskinfo__node_i64(m, NULL, total);
    if (!g->run_id || !g->run_lo || !g->run_hi) goto oom;
    for (int64_t p = 0; p < nplanes; p++) {
        int64_t r0 = g->run_off[p];
        int sorted = 1;
        int64_t n = plane_runs(ks, p, K, g->run_id + r0, g->run_lo + r0, g->run_hi + r0, &sorted);
        if (!sorted) {
            if (!tmp && !(tmp = malloc((size_t)total * 5 * sizeof *tmp))) goto oom;
            sort_runs(g->run_id + r0, g->run_lo + r0, g->run_hi + r0, n, tmp);
        }
    }
    free(tmp);
    *out = m;
    return MASKINFO_OK;
oom:
    free(tmp);
    maskinfo_mask_unref(m);
    return MASKINFO_ENOMEM;
}

int maskinfo_mask_segments(maskinfo_mask **out, int64_t B, int64_t Hq,
                           int64_t Hk, int64_t Q, int64_t K,
                           const int64_t *qv, const int64_t *kv) {
    seg_src qs = {qv, NULL, MASKINFO_IDS_ALL};
    seg_src ks = {kv, NULL, MASKINFO_IDS_ALL};
    return seg_build(out, B, Hq, Hk, Q, K, &qs, &ks);
}

int maskinfo_mask_segments_i32(maskinfo_mask **out, int64_t B, int64_t Hq,
                               int64_t Hk, int64_t Q, int64_t K,
                               const int32_t *qv, maskinfo_ids_mode qmode,
                               const int32_t *kv, maskinfo_ids_mode kvmode) {
    if ((unsigned)qmode > MASKINFO_IDS_ALL || (unsigned)kvmode > MASKINFO_IDS_ALL)
        return MASKINFO_EINVAL;
    seg_src qs = {NULL, qv, qmode};
    seg_src ks = {NULL, kv, kvmode};
    return seg_build(out, B, Hq, Hk, Q, K, &qs, &ks);
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
