/*
 * node.c - the life cycle of a mask expression node: creation, reference
 * counting, shape and the memory it holds.  Each kind frees its own payload
 * (its drop function sits next to its constructor in leaves.c or ops.c);
 * children are released here, by a loop, so that dropping a mask of any
 * depth needs no stack.
 */
#include "node.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

/* Serial numbers only identify nodes (an address may be reused once a node
 * is freed); they carry no setting. */
static atomic_uint_fast64_t next_serial = 1;

maskinfo_mask *maskinfo__node_new(mi_kind kind, void (*drop)(maskinfo_mask *),
                                  int64_t B, int64_t H, int64_t Q, int64_t K)
{
    maskinfo_mask *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->refs = 1;
    m->kind = kind;
    m->has_dense = kind == MI_DENSE;
    m->height = 1;
    m->drop = drop;
    m->B = B;
    m->H = H;
    m->Q = Q;
    m->K = K;
    m->bytes = sizeof *m;
    m->serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
    return m;
}

void maskinfo__node_adopt(maskinfo_mask *m)
{
    for (int64_t i = 0, n = mi_nkids(m); i < n; i++) {
        const maskinfo_mask *k = mi_kid(m, i);
        if (!k) continue;
        if (k->has_dense) m->has_dense = 1;
        if (k->height >= m->height) m->height = k->height < INT_MAX ? k->height + 1 : k->height;
    }
}

int64_t *maskinfo__node_i64(maskinfo_mask *node, const int64_t *src, int64_t n)
{
    size_t sz = (size_t)(n > 0 ? n : 1) * sizeof(int64_t);
    int64_t *p = src ? malloc(sz) : calloc(1, sz);
    if (!p) return NULL;
    if (src && n > 0) memcpy(p, src, (size_t)n * sizeof(int64_t));
    node->bytes += sz;
    return p;
}

maskinfo_mask *maskinfo_mask_ref(maskinfo_mask *m)
{
    if (m) m->refs++;
    return m;
}

/* Nodes whose count reaches zero go on a list threaded through dead_next;
 * each one releases its children onto the same list before it is freed. */
void maskinfo_mask_unref(maskinfo_mask *m)
{
    if (!m || --m->refs > 0) return;
    m->dead_next = NULL;
    while (m) {
        maskinfo_mask *next = m->dead_next;
        for (int64_t i = 0, n = mi_nkids(m); i < n; i++) {
            maskinfo_mask *k = mi_kid(m, i);
            if (k && --k->refs == 0) {
                k->dead_next = next;
                next = k;
            }
        }
        if (m->drop) m->drop(m);
        free(m);
        m = next;
    }
}

void maskinfo_mask_shape(const maskinfo_mask *m, int64_t shape[4])
{
    shape[0] = m->B;
    shape[1] = m->H;
    shape[2] = m->Q;
    shape[3] = m->K;
}

int maskinfo_mask_is_dense(const maskinfo_mask *m)
{
    return m ? m->has_dense : 0;
}

/* ------------------------------------------------------------ walks */

/* An open-addressing set of node addresses (capacity a power of two). */
typedef struct {
    const maskinfo_mask **slot;
    int64_t cap, n;
} node_set;

static int64_t ptr_hash(const maskinfo_mask *m, int64_t cap)
{
    return (int64_t)(maskinfo__splitmix64((uint64_t)(uintptr_t)m) & (uint64_t)(cap - 1));
}

/* 1 if m was added, 0 if it was there, -1 when memory runs out. */
static int set_add(node_set *s, const maskinfo_mask *m)
{
    if (2 * (s->n + 1) > s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 64;
        const maskinfo_mask **slot = calloc((size_t)cap, sizeof *slot);
        if (!slot) return -1;
        for (int64_t i = 0; i < s->cap; i++) {
            if (!s->slot[i]) continue;
            int64_t j = ptr_hash(s->slot[i], cap);
            while (slot[j]) j = (j + 1) & (cap - 1);
            slot[j] = s->slot[i];
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    int64_t j = ptr_hash(m, s->cap);
    while (s->slot[j]) {
        if (s->slot[j] == m) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = m;
    s->n++;
    return 1;
}

/* Bytes of every distinct node under m, each counted once however many
 * paths reach it; a walk with an explicit stack. */
uint64_t maskinfo_mask_bytes(const maskinfo_mask *m)
{
    if (!m) return 0;
    node_set seen = {NULL, 0, 0};
    const maskinfo_mask **stack = NULL;
    int64_t n = 0, cap = 0;
    uint64_t t = 0;
    int bad = set_add(&seen, m) < 0;
    if (!bad) {
        stack = malloc(64 * sizeof *stack);
        cap = 64;
        bad = !stack;
        if (stack) stack[n++] = m;
    }
    while (!bad && n > 0) {
        const maskinfo_mask *x = stack[--n];
        t += x->bytes;
        for (int64_t i = 0, nk = mi_nkids(x); i < nk && !bad; i++) {
            const maskinfo_mask *k = mi_kid(x, i);
            int added = k ? set_add(&seen, k) : 0;
            if (added < 0) bad = 1;
            if (added <= 0) continue;
            if (n == cap) {
                const maskinfo_mask **g = realloc(stack, (size_t)(2 * cap) * sizeof *g);
                if (!g) { bad = 1; break; }
                stack = g;
                cap *= 2;
            }
            stack[n++] = k;
        }
    }
    free(stack);
    free(seen.slot);
    return bad ? UINT64_MAX : t; /* out of memory: more than anyone has */
}

int maskinfo__check_dims(int64_t B, int64_t H, int64_t Q, int64_t K) {
    if (B < 0 || H < 1 || Q < 0 || K < 0) return MASKINFO_EINVAL;
    if (maskinfo__mul(maskinfo__mul(maskinfo__mul(B, H), Q), K) < 0) return MASKINFO_EOVERFLOW;
    return MASKINFO_OK;
}
