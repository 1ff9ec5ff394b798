/*
 * splash.c - splash attention's forward MaskInfo (JAX's _process_mask with
 * is_dkv False, one head shard and one q shard, no grid shrinking) from
 * the row intervals.
 *
 * splash evaluates every block of a NumPy mask and hashes the partial
 * ones; here a block row's rows are evaluated once, each partial block is
 * hashed from its rows' intervals clipped to the block (exactly equal
 * blocks have equal clipped intervals), and only the distinct partial
 * blocks are drawn.  data_next / mask_next are one backward pass each.
 */
#include "kernels.h"
#include "node.h"

#include <string.h>

void maskinfo_splash_info_free(maskinfo_splash_info *s)
{
    if (s == NULL)
        return;
    maskinfo_array_free(s->block_mask);
    maskinfo_array_free(s->data_next);
    maskinfo_array_free(s->mask_next);
    maskinfo_array_free(s->partial_mask_blocks);
    memset(s, 0, sizeof *s);
}

/* Distinct partial blocks: their clipped runs (row, lo, hi in block
 * coordinates) in a pool, found through an open-addressing hash table. */
typedef struct {
    int64_t *slot; /* cap entries: block id or -1 */
    uint64_t *hash; /* per id */
    int64_t *off, *len; /* per id, into pool (in triples) */
    int32_t *pool;
    int64_t n, cap, ncap, pn, pcap;
    const maskinfo_limits *lim;
} block_set;

static int set_rehash(block_set *bs)
{
    int64_t cap = bs->cap ? bs->cap * 2 : 1024;
    int st = maskinfo_check_alloc(bs->lim, (uint64_t)cap, sizeof(int64_t));
    int64_t *slot = st ? NULL : malloc((size_t)cap * sizeof *slot);
    if (!st && !slot)
        st = MASKINFO_ENOMEM;
    if (st)
        return st;
    for (int64_t i = 0; i < cap; i++)
        slot[i] = -1;
    for (int64_t id = 0; id < bs->n; id++) {
        uint64_t i = bs->hash[id] & (uint64_t)(cap - 1);
        while (slot[i] >= 0)
            i = (i + 1) & (uint64_t)(cap - 1);
        slot[i] = id;
    }
    free(bs->slot);
    bs->slot = slot;
    bs->cap = cap;
    return MASKINFO_OK;
}

/* The id of block runs v (len triples), added when new. */
static int set_find(block_set *bs, const int32_t *v, int64_t len, int64_t *id)
{
    uint64_t h = 0x243F6A8885A308D3ULL;
    for (int64_t i = 0; i < 3 * len; i++)
        h = maskinfo__splitmix64(h ^ (uint64_t)(uint32_t)v[i]);
    int st;
    if (2 * (bs->n + 1) > bs->cap && (st = set_rehash(bs)))
        return st;
    uint64_t i = h & (uint64_t)(bs->cap - 1);
    for (; bs->slot[i] >= 0; i = (i + 1) & (uint64_t)(bs->cap - 1)) {
        const int64_t c = bs->slot[i];
        if (bs->hash[c] == h && bs->len[c] == len &&
            !memcmp(bs->pool + 3 * bs->off[c], v, (size_t)len * 3 * sizeof *v)) {
            *id = c;
            return MASKINFO_OK;
        }
    }
    const int64_t n = bs->n + 1;
    int64_t c1 = bs->ncap, c2 = bs->ncap, c3 = bs->ncap;
    if ((st = mi_grow((void **)&bs->hash, &c1, n, sizeof *bs->hash, bs->lim)) ||
        (st = mi_grow((void **)&bs->off, &c2, n, sizeof *bs->off, bs->lim)) ||
        (st = mi_grow((void **)&bs->len, &c3, n, sizeof *bs->len, bs->lim)))
        return st;
    bs->ncap = c1;
    if ((st = mi_grow((void **)&bs->pool, &bs->pcap, 3 * (bs->pn + len), sizeof *bs->pool, bs->lim)))
        return st;
    memcpy(bs->pool + 3 * bs->pn, v, (size_t)len * 3 * sizeof *v);
    bs->hash[bs->n] = h, bs->off[bs->n] = bs->pn, bs->len[bs->n] = len;
    bs->pn += len;
    bs->slot[i] = bs->n;
    *id = bs->n++;
    return MASKINFO_OK;
}

static void set_free(block_set *bs)
{
    free(bs->slot);
    free(bs->hash);
    free(bs->off);
    free(bs->len);
    free(bs->pool);
}

/* The rows of one block row: their intervals, concatenated. */
typedef struct {
    int64_t *iv, *at; /* at: bq + 1 offsets (in intervals) */
    int64_t cap;
} block_rows;

static int load_rows(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q0, int64_t bq, block_rows *br,
                     maskinfo_scratch *s, const maskinfo_limits *lim)
{
    br->at[0] = 0;
    for (int64_t r = 0; r < bq; r++) {
        const int64_t *iv;
        int64_t n;
        int st = maskinfo_mask_row(m, b, h, q0 + r, s, &iv, &n);
        if (!st)
            st = mi_grow((void **)&br->iv, &br->cap, 2 * (br->at[r] + n), sizeof *br->iv, lim);
        if (st)
            return st;
        memcpy(br->iv + 2 * br->at[r], iv, (size_t)n * 2 * sizeof *iv);
        br->at[r + 1] = br->at[r] + n;
    }
    return MASKINFO_OK;
}

/* The runs of block column [k0, k0 + bk) as (row, lo, hi) triples. */
static int clip(const block_rows *br, int64_t bq, int64_t k0, int64_t bk, int32_t **v, int64_t *cap, int64_t *len,
                const maskinfo_limits *lim)
{
    int64_t n = 0;
    for (int64_t r = 0; r < bq; r++) {
        int64_t a = br->at[r], z = br->at[r + 1];
        while (a < z) { /* the first interval ending past k0 */
            const int64_t mid = a + (z - a) / 2;
            if (br->iv[2 * mid + 1] <= k0)
                a = mid + 1;
            else
                z = mid;
        }
        for (int64_t j = a; j < br->at[r + 1] && br->iv[2 * j] < k0 + bk; j++) {
            int st = mi_grow((void **)v, cap, 3 * (n + 1), sizeof **v, lim);
            if (st)
                return st;
            (*v)[3 * n] = (int32_t)r;
            (*v)[3 * n + 1] = (int32_t)(mi_max64(br->iv[2 * j], k0) - k0);
            (*v)[3 * n + 2] = (int32_t)(mi_min64(br->iv[2 * j + 1], k0 + bk) - k0);
            n++;
        }
    }
    *len = n;
    return MASKINFO_OK;
}

/* next[i] = val(first marked index >= i), wrapping to the first marked
 * one; all zero when nothing is marked (_get_mask_info_for_shard). */
static void next_table(const uint8_t *cls, const int32_t *ids, int64_t n, int64_t Kb, int partial, int32_t *out)
{
    int64_t first = -1;
    for (int64_t i = 0; i < n && first < 0; i++)
        if (partial ? cls[i] == MASKINFO_BLOCK_PARTIAL : cls[i] != MASKINFO_BLOCK_EMPTY)
            first = i;
    if (first < 0) {
        memset(out, 0, (size_t)n * sizeof *out);
        return;
    }
    int64_t cur = first; /* past the last marked block: wrap to the first */
    for (int64_t i = n - 1; i >= 0; i--) {
        if (partial ? cls[i] == MASKINFO_BLOCK_PARTIAL : cls[i] != MASKINFO_BLOCK_EMPTY)
            cur = i;
        out[i] = partial ? ids[cur] : (int32_t)(cur % Kb);
    }
}

int maskinfo_mask_splash(const maskinfo_mask *m, int64_t b, int64_t bq, int64_t bk, maskinfo_splash_info *out,
                         char *why, size_t whylen, const maskinfo_limits *lim)
{
    if (out == NULL)
        return MASKINFO_EINVAL;
    memset(out, 0, sizeof *out);
    if (m == NULL || b < 0 || b >= m->B || bq < 1 || bk < 1 || m->Q % bq || m->K % bk)
        return MASKINFO_EINVAL;
    const int64_t H = m->H, Qb = m->Q / bq, Kb = m->K / bk, per = Qb * Kb, n = H * per;
    if (bk > INT32_MAX || bq > INT32_MAX)
        return MASKINFO_EOVERFLOW;
    /* classes of every batch row, ids and the three tables, up front */
    int st = mi_budget(lim, (uint64_t)n * (uint64_t)m->B + (uint64_t)n * 16, why, whylen);
    if (st)
        return st;
    maskinfo_array *cls_a = NULL;
    if ((st = maskinfo_mask_block_classes(m, bq, bk, &cls_a, lim)))
        return st;
    const uint8_t *cls = (const uint8_t *)maskinfo_array_cdata(cls_a) + b * n;
    int32_t *ids = mi_alloc(lim, n, sizeof *ids, 0, &st);
    block_set bs;
    memset(&bs, 0, sizeof bs);
    bs.lim = lim;
    block_rows br = {NULL, mi_alloc(lim, bq + 1, sizeof(int64_t), 0, &st), 0};
    int32_t *v = NULL;
    int64_t vcap = 0, len, id;
    maskinfo_scratch *s = maskinfo__scratch_new(lim);
    if (!st && !s)
        st = MASKINFO_ENOMEM;
    for (int64_t hq = 0; hq < H * Qb && !st; hq++) {
        const uint8_t *row = cls + hq * Kb;
        int any = 0;
        for (int64_t j = 0; j < Kb; j++)
            any |= row[j] == MASKINFO_BLOCK_PARTIAL;
        if (any)
            st = load_rows(m, b, hq / Qb, hq % Qb * bq, bq, &br, s, lim);
        for (int64_t j = 0; j < Kb && !st; j++) {
            ids[hq * Kb + j] = 0;
            if (row[j] != MASKINFO_BLOCK_PARTIAL)
                continue;
            if (!(st = clip(&br, bq, j * bk, bk, &v, &vcap, &len, lim)) && !(st = set_find(&bs, v, len, &id)))
                ids[hq * Kb + j] = (int32_t)id;
        }
    }
    maskinfo_scratch_free(s);
    free(v);
    free(br.iv);
    free(br.at);
    /* one table for all heads when every head has the same blocks */
    int64_t Hm = 1;
    for (int64_t h = 1; h < H && !st && Hm == 1; h++)
        if (memcmp(cls, cls + h * per, (size_t)per) || memcmp(ids, ids + h * per, (size_t)per * sizeof *ids))
            Hm = H;
    int64_t shape3[3] = {Hm, Qb, Kb}, pshape[3] = {bs.n, bq, bk};
    if (!st)
        st = mi_budget(lim, (uint64_t)Hm * (uint64_t)per * 12 + (uint64_t)bs.n * (uint64_t)(bq * bk), why, whylen);
    if (!st)
        st = maskinfo_array_new(&out->block_mask, MASKINFO_INT32, 3, shape3, lim);
    if (!st)
        st = maskinfo_array_new(&out->data_next, MASKINFO_INT32, 3, shape3, lim);
    if (!st && bs.n > 0)
        st = maskinfo_array_new(&out->mask_next, MASKINFO_INT32, 3, shape3, lim);
    if (!st && bs.n > 0)
        st = maskinfo_array_new(&out->partial_mask_blocks, MASKINFO_BOOL, 3, pshape, lim);
    if (!st) {
        int32_t *bm = maskinfo_array_data(out->block_mask);
        for (int64_t i = 0; i < Hm * per; i++)
            bm[i] = cls[i];
        next_table(cls, ids, Hm * per, Kb, 0, maskinfo_array_data(out->data_next));
        if (bs.n > 0) {
            next_table(cls, ids, Hm * per, Kb, 1, maskinfo_array_data(out->mask_next));
            uint8_t *p = maskinfo_array_data(out->partial_mask_blocks);
            for (int64_t c = 0; c < bs.n; c++)
                for (int64_t t = bs.off[c]; t < bs.off[c] + bs.len[c]; t++)
                    memset(p + c * bq * bk + (int64_t)bs.pool[3 * t] * bk + bs.pool[3 * t + 1], 1,
                           (size_t)(bs.pool[3 * t + 2] - bs.pool[3 * t + 1]));
        }
    }
    set_free(&bs);
    free(ids);
    maskinfo_array_free(cls_a);
    if (st)
        maskinfo_splash_info_free(out);
    return st;
}
