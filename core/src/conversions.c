/*
 * conversions.c - forms derived from a mask: segment ids, validity, positions.
 *
 * Only the public mask API is used (shape + row intervals, read through
 * scratches that grow under the caller's guard), so these work on every
 * mask representation and never expand a mask to Q*K cells.  Row loops
 * run under OpenMP; every per-thread partial result is combined with an
 * order-independent operation (addition mod 2^64, max), and ids are assigned
 * sequentially afterwards, so results do not depend on the thread count.
 */
#include "leaf_dense.h"
#include "util.h"

#include <string.h>

/* ------------------------------------------------------------ hashing */

/*
 * Pseudo-random weight of index i in family f (0..3).  Families 0/1 weight
 * key columns (row hashes), 2/3 weight query rows (column hashes).
 * splitmix64 is a bijection, so all (i, f) get distinct weights.
 */
static uint64_t weight(uint64_t i, unsigned f)
{
    return maskinfo__splitmix64(((i << 2) | f) ^ UINT64_C(0x6D61736B696E666F));
}

/*
 * Why hashing is safe: a row pattern S (set of allowed keys) hashes to
 * (sum_{k in S} w0(k), sum_{k in S} w1(k), |S|) with sums mod 2^64.  Two
 * different patterns collide only if both weighted sums of their symmetric
 * difference vanish mod 2^64 (and the sizes agree); with pseudo-random 64-bit
 * weights each sum vanishes with probability about 2^-64, so a pair collides
 * with probability about 2^-128.  Even 2^20 rows (2^39 pairs) per plane give
 * a failure chance near 2^-89: negligible next to hardware faults.  Columns
 * are hashed the same way with query weights.  The sums come from interval
 * prefix sums (rows) and a difference array over k (columns), so the cost is
 * O(rows * runs + K) per plane, never O(Q * K) and never pairwise.
 *
 * Open-addressing table for id assignment.  A slot holds a 32-bit tag (high
 * bits of the first hash) and the index of the group's first entry; the full
 * key is read back from the hash arrays on a tag match.  8-byte slots keep
 * the table small (first-touch of fresh memory is the dominant cost here).
 */
typedef struct {
    uint32_t tag;
    int32_t rep; /* -1 = free slot */
} id_slot;

typedef struct {
    id_slot *slots;
    size_t cap;
} id_table;

static size_t table_cap(int64_t n)
{
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap <<= 1;
    return cap;
}

static int table_init(id_table *t, int64_t n, const maskinfo_limits *lim)
{
    int st = MASKINFO_OK;
    t->cap = table_cap(n);
    t->slots = mi_alloc(lim, (int64_t)t->cap, sizeof *t->slots, 0, &st);
    return st;
}

/*
 * Number the n entries by first appearance: empty entries (count 0) get -1,
 * equal (h1, h2, count) keys share the id of their first occurrence.  This is
 * the seed's anchor/compress scheme: anchors are the lowest index of each
 * group and ids follow the sorted anchors, i.e. first appearance.
 */
static void assign_ids(id_table *t, int64_t n, const uint64_t *h1,
                       const uint64_t *h2, const uint64_t *cnt, int32_t *out)
{
    size_t cap = table_cap(n);
    if (cap > t->cap) /* cannot happen: the table is sized for max(Q, K) */
        cap = t->cap;
    const size_t mask = cap - 1;
    for (size_t i = 0; i < cap; i++)
        t->slots[i].rep = -1;
    int32_t next = 0;
    for (int64_t i = 0; i < n; i++) {
        if (cnt[i] == 0) {
            out[i] = -1;
            continue;
        }
        const uint32_t tag = (uint32_t)(h1[i] >> 32);
        size_t s = (size_t)(h1[i] ^ h2[i]) & mask;
        for (;;) {
            id_slot *e = &t->slots[s];
            if (e->rep < 0) {
                e->tag = tag;
                e->rep = (int32_t)i;
                out[i] = next++;
                break;
            }
            const int64_t r = e->rep;
            if (e->tag == tag && h1[r] == h1[i] && h2[r] == h2[i] &&
                cnt[r] == cnt[i]) {
                out[i] = out[r];
                break;
            }
            s = (s + 1) & mask;
        }
    }
}


/* Shared, read-only and per-thread state of a segment-id computation. */
typedef struct {
    const maskinfo_mask *m;
    int64_t Q, K;
    int nthreads;
    uint64_t *p1, *p2;      /* key-weight prefix sums, K + 1 each */
    uint64_t *rh1, *rh2, *rc; /* per-row hashes and counts, Q each */
    uint64_t *d1, *d2, *dc;   /* per-thread difference arrays, T*(K+1);
                                 thread 0's part ends up holding the column
                                 hashes and counts */
    int dirty;                /* difference arrays need clearing */
    int dense;                /* m is one dense leaf: seg_plane reads bits */
    uint64_t *wkeys;          /* dense: word keys (2 x words), then 64-row
                                 keys (2 x groups) */
    int64_t words, groups;
    const maskinfo_limits *lim;
    maskinfo_scratch **scratch; /* one per thread */
    id_table table;
} seg_ctx;

static void seg_ctx_free(seg_ctx *c)
{
    free(c->p1); free(c->p2);
    free(c->rh1); free(c->rh2); free(c->rc);
    free(c->d1); free(c->d2); free(c->dc);
    if (c->scratch) {
        for (int t = 0; t < c->nthreads; t++)
            maskinfo_scratch_free(c->scratch[t]);
        free(c->scratch);
    }
    free(c->table.slots);
    free(c->wkeys);
}

static int seg_ctx_init(seg_ctx *c, const maskinfo_mask *m, int64_t Q,
                        int64_t K, int want_kv, const maskinfo_limits *lim)
{
    memset(c, 0, sizeof *c);
    c->m = m;
    c->Q = Q;
    c->K = K;
    c->nthreads = mi_max_threads(Q);
    c->dense = maskinfo__is_dense_leaf(m);
    c->lim = lim;
    const int64_t T = c->nthreads;
    if (K + 1 > INT64_MAX / (T + 1))
        return MASKINFO_EOVERFLOW;
    int st = MASKINFO_OK;
    c->p1 = mi_alloc(lim, K + 1, sizeof *c->p1, 1, &st);
    c->p2 = mi_alloc(lim, K + 1, sizeof *c->p2, 1, &st);
    c->rh1 = mi_alloc(lim, Q, sizeof *c->rh1, 1, &st);
    c->rh2 = mi_alloc(lim, Q, sizeof *c->rh2, 1, &st);
    c->rc = mi_alloc(lim, Q, sizeof *c->rc, 1, &st);
    c->scratch = mi_alloc(lim, T, sizeof *c->scratch, 1, &st);
    if (st)
        return st;
    for (int t = 0; t < c->nthreads; t++)
        if ((c->scratch[t] = maskinfo__scratch_new(lim)) == NULL)
            return MASKINFO_ENOMEM;
    if (want_kv) { /* zeroed: the first plane needs no clearing */
        c->d1 = mi_alloc(lim, T * (K + 1), sizeof *c->d1, 1, &st);
        c->d2 = mi_alloc(lim, T * (K + 1), sizeof *c->d2, 1, &st);
        c->dc = mi_alloc(lim, T * (K + 1), sizeof *c->dc, 1, &st);
        if (st)
            return st;
    }
    int rc = table_init(&c->table, Q > K ? Q : K, lim);
    if (rc)
        return rc;
    if (c->dense) {
        c->words = K / 64 + (K % 64 != 0);
        c->groups = Q / 64 + (Q % 64 != 0);
        c->wkeys = mi_alloc(lim, 2 * (c->words + c->groups), sizeof *c->wkeys, 0, &st);
        if (st)
            return st;
        uint64_t *qk = c->wkeys + 2 * c->words;
        for (int64_t i = 0; i < c->words; i++) {
            c->wkeys[i] = weight((uint64_t)i, 0);
            c->wkeys[c->words + i] = weight((uint64_t)i, 1);
        }
        for (int64_t i = 0; i < c->groups; i++) {
            qk[i] = weight((uint64_t)i, 2);
            qk[c->groups + i] = weight((uint64_t)i, 3);
        }
    }
    uint64_t a = 0, b = 0;
    for (int64_t k = 0; k < K; k++) {
        a += weight((uint64_t)k, 0);
        b += weight((uint64_t)k, 1);
        c->p1[k + 1] = a;
        c->p2[k + 1] = b;
    }
    return MASKINFO_OK;
}

/*
 * Hash every row of plane (b, h) and, if kv_out, every column; then number
 * both by first appearance.  Rows are evaluated once, in parallel; columns
 * accumulate into per-thread difference arrays that are summed afterwards.
 */
static int seg_plane(seg_ctx *c, int64_t b, int64_t h, int32_t *q_out,
                     int32_t *kv_out)
{
    const int64_t Q = c->Q, K = c->K, K1 = K + 1;
    const int T = c->nthreads;
    const int want_kv = kv_out != NULL;
    int err = MASKINFO_OK;

    if (c->dense) { /* one dense leaf: hash its bits, 64x64 cells at a time */
        const uint64_t *kw = c->wkeys, *qw = c->wkeys + 2 * c->words;
        err = maskinfo__dense_plane_hashes(c->m, b, h, kw, kw + c->words, qw, qw + c->groups,
                                           c->rh1, c->rh2, c->rc,
                                           want_kv ? c->d1 : NULL, c->d2, c->dc,
                                           T, c->lim);
        if (err)
            return err;
        if (q_out)
            assign_ids(&c->table, Q, c->rh1, c->rh2, c->rc, q_out);
        if (want_kv)
            assign_ids(&c->table, K, c->d1, c->d2, c->dc, kv_out);
        return MASKINFO_OK;
    }
    if (want_kv && c->dirty) { /* fresh arrays start clean */
        memset(c->d1, 0, (size_t)(T * K1) * sizeof *c->d1);
        memset(c->d2, 0, (size_t)(T * K1) * sizeof *c->d2);
        memset(c->dc, 0, (size_t)(T * K1) * sizeof *c->dc);
    }

#pragma omp parallel num_threads(T)
    {
        const int tid = mi_thread_id();
        maskinfo_scratch *s = c->scratch[tid];
        uint64_t *d1 = want_kv ? c->d1 + (size_t)tid * (size_t)K1 : NULL;
        uint64_t *d2 = want_kv ? c->d2 + (size_t)tid * (size_t)K1 : NULL;
        uint64_t *dc = want_kv ? c->dc + (size_t)tid * (size_t)K1 : NULL;
        int my_err = MASKINFO_OK;
#pragma omp for schedule(dynamic, 64)
        for (int64_t q = 0; q < Q; q++) {
            if (my_err)
                continue; /* this thread already failed: skip its rows */
            const int64_t *iv;
            int64_t n;
            int rc = maskinfo_mask_row(c->m, b, h, q, s, &iv, &n);
            uint64_t a1 = 0, a2 = 0, cnt = 0;
            const uint64_t wq1 = weight((uint64_t)q, 2);
            const uint64_t wq2 = weight((uint64_t)q, 3);
            for (int64_t j = 0; rc == MASKINFO_OK && j < n; j++) {
                const int64_t lo = iv[2 * j], hi = iv[2 * j + 1];
                if (lo < 0 || hi > K || lo > hi) {
                    rc = MASKINFO_EINVAL; /* broken row contract */
                    break;
                }
                a1 += c->p1[hi] - c->p1[lo];
                a2 += c->p2[hi] - c->p2[lo];
                cnt += (uint64_t)(hi - lo);
                if (want_kv && lo < hi) {
                    d1[lo] += wq1; d1[hi] -= wq1;
                    d2[lo] += wq2; d2[hi] -= wq2;
                    dc[lo] += 1;   dc[hi] -= 1;
                }
            }
            if (rc) {
                my_err = rc;
                continue;
            }
            c->rh1[q] = a1;
            c->rh2[q] = a2;
            c->rc[q] = cnt;
        }
#pragma omp critical
        if (!err)
            err = my_err;
    }
    if (err)
        return err;

    if (q_out)
        assign_ids(&c->table, Q, c->rh1, c->rh2, c->rc, q_out);
    if (want_kv) {
        /* sum the threads' differences, then prefix-sum in place */
        uint64_t a1 = 0, a2 = 0, ac = 0;
        for (int64_t k = 0; k < K; k++) {
            uint64_t s1 = c->d1[k], s2 = c->d2[k], sc = c->dc[k];
            for (int t = 1; t < T; t++) {
                const size_t o = (size_t)t * (size_t)K1 + (size_t)k;
                s1 += c->d1[o];
                s2 += c->d2[o];
                sc += c->dc[o];
            }
            c->d1[k] = a1 += s1;
            c->d2[k] = a2 += s2;
            c->dc[k] = ac += sc;
        }
        c->dirty = 1;
        assign_ids(&c->table, K, c->d1, c->d2, c->dc, kv_out);
    }
    return MASKINFO_OK;
}

int maskinfo_mask_segment_ids(const maskinfo_mask *m, int per_head,
                              int32_t *q_ids, int32_t *kv_ids, const maskinfo_limits *lim)
{
    if (m == NULL)
        return MASKINFO_EINVAL;
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    const int64_t B = sh[0], H = sh[1], Q = sh[2], K = sh[3];
    if (B < 0 || H < 0 || Q < 0 || K < 0)
        return MASKINFO_EINVAL;
    /* ids are int32 and count at most Q (or K) groups */
    if (Q > INT32_MAX || K > INT32_MAX)
        return MASKINFO_EOVERFLOW;
    if (!per_head && H == 0 && B > 0)
        return MASKINFO_EINVAL; /* there is no head 0 to read */
    const int64_t nh = per_head ? H : 1;
    if (B == 0 || nh == 0 || (q_ids == NULL && kv_ids == NULL))
        return MASKINFO_OK;

    seg_ctx c;
    int rc = seg_ctx_init(&c, m, Q, K, kv_ids != NULL, lim);
    for (int64_t b = 0; rc == MASKINFO_OK && b < B; b++)
        for (int64_t h = 0; rc == MASKINFO_OK && h < nh; h++) {
            const int64_t plane = b * nh + h;
            rc = seg_plane(&c, b, h, q_ids ? q_ids + plane * Q : NULL,
                           kv_ids ? kv_ids + plane * K : NULL);
        }
    seg_ctx_free(&c);
    return rc;
}

/* ------------------------------------------------------------ validity */

/* A growable interval list (pairs lo, hi), private to one thread. */
typedef struct {
    int64_t *v;
    int64_t n, cap; /* in intervals */
    const maskinfo_limits *lim; /* growth is checked against it */
} ivbuf;

static int ivbuf_reserve(ivbuf *b, int64_t n)
{
    if (n <= b->cap)
        return MASKINFO_OK;
    int64_t cap = b->cap ? b->cap : 16;
    while (cap < n)
        cap *= 2;
    int st = maskinfo_check_alloc(b->lim, (uint64_t)cap * 2, sizeof *b->v);
    if (st)
        return st;
    int64_t *v = realloc(b->v, (size_t)cap * 2 * sizeof *v);
    if (v == NULL)
        return MASKINFO_ENOMEM;
    b->v = v;
    b->cap = cap;
    return MASKINFO_OK;
}

/* out = a intersect b for sorted disjoint lists: one linear merge. */
static int ivbuf_intersect(ivbuf *out, const int64_t *a, int64_t na,
                           const int64_t *b, int64_t nb)
{
    int rc = ivbuf_reserve(out, na + nb);
    if (rc)
        return rc;
    int64_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        const int64_t lo = a[2 * i] > b[2 * j] ? a[2 * i] : b[2 * j];
        const int64_t ahi = a[2 * i + 1], bhi = b[2 * j + 1];
        const int64_t hi = ahi < bhi ? ahi : bhi;
        if (lo < hi) {
            out->v[2 * n] = lo;
            out->v[2 * n + 1] = hi;
            n++;
        }
        if (ahi < bhi)
            i++;
        else
            j++;
    }
    out->n = n;
    return MASKINFO_OK;
}

/* Record the intervals in a reach array: reach[lo] = max(reach[lo], hi). */
static void add_reach(int64_t *reach, const int64_t *iv, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        const int64_t lo = iv[2 * j], hi = iv[2 * j + 1];
        if (lo < hi && reach[lo] < hi)
            reach[lo] = hi;
    }
}

static int check_row(const int64_t *iv, int64_t n, int64_t K)
{
    for (int64_t j = 0; j < n; j++)
        if (iv[2 * j] < 0 || iv[2 * j + 1] > K || iv[2 * j] > iv[2 * j + 1])
            return MASKINFO_EINVAL;
    return MASKINFO_OK;
}

/*
 * Reduce the heads of row (b, q) per head_mode and record it: returns
 * through *nonempty whether any key survives, and adds the surviving
 * intervals to reach (which may be NULL).
 */
static int valid_row(const maskinfo_mask *m, int64_t b, int64_t H, int64_t q,
                     int64_t K, maskinfo_head_mode mode, maskinfo_scratch *s, ivbuf *bufs,
                     int64_t *reach, int *nonempty)
{
    const int64_t *iv;
    int64_t n;
    int rc;
    int any = 0;
    if (mode == MASKINFO_HEADS_ALL && H == 0) { /* all() over no heads is true */
        any = K > 0;
        if (any && reach && reach[0] < K)
            reach[0] = K;
        *nonempty = any;
        return MASKINFO_OK;
    }
    if (mode == MASKINFO_HEADS_ANY) {
        for (int64_t h = 0; h < H; h++) {
            if ((rc = maskinfo_mask_row(m, b, h, q, s, &iv, &n)))
                return rc;
            if ((rc = check_row(iv, n, K)))
                return rc;
            for (int64_t j = 0; j < n; j++)
                if (iv[2 * j] < iv[2 * j + 1])
                    any = 1;
            if (reach)
                add_reach(reach, iv, n);
            else if (any)
                break;
        }
        *nonempty = any;
        return MASKINFO_OK;
    }
    if ((rc = maskinfo_mask_row(m, b, 0, q, s, &iv, &n)))
        return rc;
    if ((rc = check_row(iv, n, K)))
        return rc;
    if (mode == MASKINFO_HEADS_ALL && H > 1) {
        /* running intersection, ping-ponging between two buffers */
        ivbuf *cur = &bufs[0], *nxt = &bufs[1];
        if ((rc = ivbuf_reserve(cur, n)))
            return rc;
        if (n > 0)
            memcpy(cur->v, iv, (size_t)n * 2 * sizeof *iv);
        cur->n = n;
        for (int64_t h = 1; h < H && cur->n > 0; h++) {
            if ((rc = maskinfo_mask_row(m, b, h, q, s, &iv, &n)))
                return rc;
            if ((rc = check_row(iv, n, K)))
                return rc;
            if ((rc = ivbuf_intersect(nxt, cur->v, cur->n, iv, n)))
                return rc;
            ivbuf *t = cur;
            cur = nxt;
            nxt = t;
        }
        iv = cur->v;
        n = cur->n;
    }
    for (int64_t j = 0; j < n; j++)
        if (iv[2 * j] < iv[2 * j + 1])
            any = 1;
    if (reach)
        add_reach(reach, iv, n);
    *nonempty = any;
    return MASKINFO_OK;
}

/*
 * Key validity is the union of the reduced rows' intervals; each thread
 * keeps the furthest end of any interval starting at each k (a max, which
 * is order independent), and one sweep over k merges the threads.
 */
int maskinfo_mask_validity(const maskinfo_mask *m, maskinfo_head_mode head_mode,
                           uint8_t *q_valid, uint8_t *kv_valid, const maskinfo_limits *lim)
{
    if (m == NULL || (int)head_mode < MASKINFO_HEADS_ANY || head_mode > MASKINFO_HEADS_FIRST)
        return MASKINFO_EINVAL;
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    const int64_t B = sh[0], H = sh[1], Q = sh[2], K = sh[3];
    if (B < 0 || H < 0 || Q < 0 || K < 0)
        return MASKINFO_EINVAL;
    if (head_mode == MASKINFO_HEADS_FIRST && H == 0 && B > 0 && Q > 0)
        return MASKINFO_EINVAL; /* there is no first head */
    if (q_valid == NULL && kv_valid == NULL)
        return MASKINFO_OK;

    const int T = mi_max_threads(B * H * Q);
    int rc = MASKINFO_OK;
    maskinfo_scratch **scr = mi_alloc(lim, T, sizeof *scr, 1, &rc);
    ivbuf *bufs = mi_alloc(lim, (int64_t)T * 2, sizeof *bufs, 1, &rc);
    int64_t *reach = NULL;
    if (!rc && kv_valid) {
        if (K > INT64_MAX / T)
            rc = MASKINFO_EOVERFLOW;
        else
            reach = mi_alloc(lim, (int64_t)T * K, sizeof *reach, 1, &rc);
    }
    for (int t = 0; !rc && t < 2 * T; t++)
        bufs[t].lim = lim;
    for (int t = 0; !rc && t < T; t++)
        if ((scr[t] = maskinfo__scratch_new(lim)) == NULL)
            rc = MASKINFO_ENOMEM;

    for (int64_t b = 0; !rc && b < B; b++) {
        if (reach)
            memset(reach, 0, (size_t)T * (size_t)K * sizeof *reach);
        int err = MASKINFO_OK;
#pragma omp parallel num_threads(T)
        {
            const int tid = mi_thread_id();
            int64_t *r = reach ? reach + (size_t)tid * (size_t)K : NULL;
            int my_err = MASKINFO_OK;
#pragma omp for schedule(dynamic, 64)
            for (int64_t q = 0; q < Q; q++) {
                if (my_err)
                    continue;
                int ne = 0;
                int e = valid_row(m, b, H, q, K, head_mode, scr[tid],
                                  &bufs[2 * tid], r, &ne);
                if (e) {
                    my_err = e;
                    continue;
                }
                if (q_valid)
                    q_valid[b * Q + q] = (uint8_t)ne;
            }
#pragma omp critical
            if (!err)
                err = my_err;
        }
        rc = err;
        if (!rc && kv_valid) {
            int64_t far = 0;
            for (int64_t k = 0; k < K; k++) {
                for (int t = 0; t < T; t++) {
                    const int64_t v = reach[(size_t)t * (size_t)K + (size_t)k];
                    if (v > far)
                        far = v;
                }
                kv_valid[b * K + k] = (uint8_t)(k < far);
            }
        }
    }

    if (scr) {
        for (int t = 0; t < T; t++)
            maskinfo_scratch_free(scr[t]);
        free(scr);
    }
    if (bufs) {
        for (int t = 0; t < 2 * T; t++)
            free(bufs[t].v);
        free(bufs);
    }
    free(reach);
    return rc;
}

/* ------------------------------------------------------------ positions */

/*
 * The seed's _positions_from_segments_2d scan, per row: the carry starts as
 * (prev = -2, cnt = -1); a valid id different from prev starts a new run at
 * 0, otherwise the count goes on; padding (id < 0) emits pad and resets the
 * carry to (-2, -1), so the next valid token always starts at 0.
 */
void maskinfo_positions_from_segments(const int32_t *ids, int64_t rows,
                                      int64_t len, int32_t pad, int32_t *out)
{
    if (ids == NULL || out == NULL || rows <= 0 || len <= 0)
        return;
#pragma omp parallel for schedule(static) if (rows * len > 65536)
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *in = ids + r * len;
        int32_t *o = out + r * len;
        int32_t prev = -2;
        uint32_t cnt = UINT32_MAX; /* -1; unsigned so it wraps like int32 */
        for (int64_t i = 0; i < len; i++) {
            const int32_t id = in[i];
            if (id < 0) {
                o[i] = pad;
                prev = -2;
                cnt = UINT32_MAX;
                continue;
            }
            cnt = (id != prev) ? 0 : cnt + 1;
            prev = id;
            o[i] = (int32_t)cnt;
        }
    }
}

/* ------------------------------------------------------------ spans */

void maskinfo_valid_spans(const uint8_t *valid, int64_t rows, int64_t len, int32_t *out)
{
    if (valid == NULL || out == NULL || rows <= 0)
        return;
#pragma omp parallel for schedule(static) if (rows * len > 65536)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *v = valid + r * len;
        int64_t first = 0, end = 0;
        while (first < len && !v[first])
            first++;
        if (first < len) {
            end = len;
            while (!v[end - 1])
                end--;
        } else {
            first = 0;
        }
        out[2 * r] = (int32_t)first;
        out[2 * r + 1] = (int32_t)end;
    }
}

void maskinfo_spans_to_valid(const int64_t *pairs, int64_t rows, int64_t len, uint8_t *out)
{
    if (pairs == NULL || out == NULL || rows <= 0 || len <= 0)
        return;
#pragma omp parallel for schedule(static) if (rows * len > 65536)
    for (int64_t r = 0; r < rows; r++) {
        int64_t lo = pairs[2 * r] < 0 ? 0 : pairs[2 * r];
        int64_t hi = pairs[2 * r + 1] > len ? len : pairs[2 * r + 1];
        uint8_t *o = out + r * len;
        memset(o, 0, (size_t)len);
        if (lo < hi)
            memset(o + lo, 1, (size_t)(hi - lo));
    }
}
