/*
 * kernels.c - the hand-off to attention kernels in the binding: .npy
 * reading, Arrays from bytes, and the kernel layouts of the core (block
 * runs, row runs, FlashMask, FlashInfer, MagiAttention, splash, varlen).
 * Module functions taking the Mask first; mi_kernels_open registers them.
 *
 * Every function returns its results, or nil, message, status name: the
 * Lua layer (maskinfo/kernels.lua, maskinfo/npy.lua) decides what raises.
 * Misuse of the binding itself (wrong types) raises.
 */
#include <errno.h>
#include <string.h>

#include "binding.h"

/* nil, message, status; message is why when the core gave a reason, the
 * path and strerror for EIO, else the status' text. */
static int fail(lua_State *L, int st, const char *why, const char *path) {
    int err = errno;
    lua_pushnil(L);
    if (st == MASKINFO_EIO && path)
        lua_pushfstring(L, "cannot read '%s': %s", path, strerror(err ? err : EIO));
    else if (why && *why)
        lua_pushstring(L, why);
    else
        lua_pushstring(L, maskinfo_strerror(st));
    const char *name = maskinfo_status_name(st);
    lua_pushstring(L, name ? name : "EUNKNOWN");
    return 3;
}

/* Several results of one core call wait in a Pending box, made before the
 * call, while they are pushed one by one: if a push raises, __gc frees the
 * ones not pushed yet (liolib's order: the owner exists first). */
#define PENDING_T "maskinfo.Pending"
#define PENDING_MAX 8
typedef struct { maskinfo_array *a[PENDING_MAX]; } Pending;

static int pending_gc(lua_State *L) {
    Pending *p = luaL_checkudata(L, 1, PENDING_T);
    for (int i = 0; i < PENDING_MAX; i++) {
        maskinfo_array_free(p->a[i]);
        p->a[i] = NULL;
    }
    return 0;
}

static Pending *pending(lua_State *L) {
    Pending *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    luaL_setmetatable(L, PENDING_T);
    return p;
}

/* Push p->a[first .. first + n - 1] (nil for NULL), taking each out first. */
static int push_arrays(lua_State *L, Pending *p, int first, int n) {
    for (int i = first; i < first + n; i++) {
        maskinfo_array *a = p->a[i];
        p->a[i] = NULL;
        if (a) mi_push_array(L, a);
        else lua_pushnil(L);
    }
    return n;
}

/* ------------------------------------------------------------ reading */

/* core.read_npy(path) -> Array | nil, msg, status */
static int l_read_npy(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    char why[256] = "";
    maskinfo_array *a;
    errno = 0;
    int st = maskinfo_read_npy(path, &a, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, path);
    mi_push_array(L, a);
    return 1;
}

/* core.parse_npy(bytes) -> Array | nil, msg, status */
static int l_parse_npy(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char why[256] = "";
    maskinfo_array *a;
    int st = maskinfo_parse_npy((const uint8_t *)s, len, &a, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    mi_push_array(L, a);
    return 1;
}

/* core.array_from_bytes(dtype, shape, bytes) -> Array | nil, msg, status;
 * the Lua layer has checked that the sizes agree.  bool bytes become 0/1. */
static int l_array_from_bytes(lua_State *L) {
    maskinfo_dtype dt = mi_check_dtype(L, 1, "array_from_bytes", 1, -1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t len;
    const char *s = luaL_checklstring(L, 3, &len);
    int nd = (int)lua_rawlen(L, 2);
    luaL_argcheck(L, nd <= MASKINFO_MAX_DIMS, 2, "too many dimensions");
    int64_t shape[MASKINFO_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        lua_rawgeti(L, 2, i + 1);
        shape[i] = (int64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    maskinfo_array *a;
    int st = maskinfo_array_new(&a, dt, nd, shape, LIMITS(L));
    if (st) return fail(L, st, NULL, NULL);
    size_t need = (size_t)maskinfo_array_size(a) * maskinfo_dtype_size(dt);
    if (need != len) {
        maskinfo_array_free(a);
        return luaL_argerror(L, 3, "byte count does not match the shape");
    }
    uint8_t *d = maskinfo_array_data(a);
    if (dt == MASKINFO_BOOL)
        for (size_t i = 0; i < len; i++) d[i] = s[i] != 0;
    else
        memcpy(d, s, len);
    mi_push_array(L, a);
    return 1;
}

/* ------------------------------------------------------------ block forms */

static maskinfo_tail_rule check_tail(lua_State *L, int idx) {
    static const char *const names[] = {"exact", "padded", NULL};
    return luaL_checkoption(L, idx, NULL, names) ? MASKINFO_TAIL_PADDED : MASKINFO_TAIL_EXACT;
}

/* core.block_classes_tail(m, bq, bk, "exact"|"padded") -> uint8 Array */
static int l_block_classes_tail(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer bq = luaL_checkinteger(L, 2), bk = luaL_checkinteger(L, 3);
    maskinfo_array *out;
    int st = maskinfo_mask_block_classes_tail(m, bq, bk, check_tail(L, 4), &out, LIMITS(L));
    if (st) return fail(L, st, NULL, NULL);
    mi_push_array(L, out);
    return 1;
}

/* Move runs r into p->a[first .. first + 2]. */
static void keep_runs(Pending *p, int first, const maskinfo_runs *r) {
    p->a[first] = r->ptr;
    p->a[first + 1] = r->lo;
    p->a[first + 2] = r->hi;
}

/* core.block_runs(m, bq, bk, tail) -> partial ptr, lo, hi, full ptr, lo, hi */
static int l_block_runs(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer bq = luaL_checkinteger(L, 2), bk = luaL_checkinteger(L, 3);
    maskinfo_tail_rule tail = check_tail(L, 4);
    Pending *pd = pending(L);
    maskinfo_runs p, f;
    char why[160] = "";
    int st = maskinfo_mask_block_runs(m, bq, bk, tail, &p, &f, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    keep_runs(pd, 0, &p);
    keep_runs(pd, 3, &f);
    return push_arrays(L, pd, 0, 6);
}

/* core.row_runs(m) -> ptr, lo, hi */
static int l_row_runs(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    Pending *pd = pending(L);
    maskinfo_runs r;
    char why[160] = "";
    int st = maskinfo_mask_row_runs(m, &r, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    keep_runs(pd, 0, &r);
    return push_arrays(L, pd, 0, 3);
}

/* core.bsr(m, b, h, br, bc) -> indptr, indices, mask (bool (nnz, br, bc),
 * nil when every listed block is full) */
static int l_bsr(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3);
    lua_Integer br = luaL_checkinteger(L, 4), bc = luaL_checkinteger(L, 5);
    Pending *pd = pending(L);
    char why[160] = "";
    int st = maskinfo_mask_bsr(m, b, h, br, bc, &pd->a[0], &pd->a[1], why, sizeof why, LIMITS(L));
    if (!st) st = maskinfo_mask_bsr_mask(m, b, h, br, bc, pd->a[0], pd->a[1], &pd->a[2], why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    return push_arrays(L, pd, 0, 3);
}

/* ------------------------------------------------------------ kernels */

/* core.flashmask(m, causal) -> int32 Array | nil, why, status */
static int l_flashmask(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    char why[320] = "";
    maskinfo_array *a;
    int st = maskinfo_mask_flashmask(m, lua_toboolean(L, 2), &a, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    mi_push_array(L, a);
    return 1;
}

/* Keep flags (id >= 0) of int32 segment ids of n cells at idx, in a
 * userdata left on the stack; NULL for nil (every token kept). */
static const uint8_t *opt_keep(lua_State *L, int idx, int64_t n) {
    if (lua_isnoneornil(L, idx)) return NULL;
    maskinfo_array *a = mi_check_array(L, idx);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_INT32 && maskinfo_array_size(a) == n, idx,
                  "int32 segment ids, one per token, expected");
    const int32_t *ids = maskinfo_array_cdata(a);
    uint8_t *keep = lua_newuserdatauv(L, (size_t)n + 1, 0);
    for (int64_t i = 0; i < n; i++) keep[i] = ids[i] >= 0;
    return keep;
}

/* core.packbits(m, h, q_ids|nil, kv_ids|nil) -> packed, mask_indptr,
 * qo_indptr, kv_indptr, indices_q, indices_k; tokens with id < 0 are left
 * out */
static int l_packbits(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    int64_t sh[4];
    maskinfo_mask_shape(m, sh);
    const uint8_t *qv = opt_keep(L, 3, sh[0] * sh[2]), *kv = opt_keep(L, 4, sh[0] * sh[3]);
    lua_Integer h = luaL_checkinteger(L, 2);
    Pending *pd = pending(L);
    maskinfo_packed_mask p;
    char why[160] = "";
    int st = maskinfo_mask_packbits(m, h, qv, kv, &p, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    pd->a[0] = p.packed, pd->a[1] = p.mask_indptr, pd->a[2] = p.qo_indptr, pd->a[3] = p.kv_indptr;
    pd->a[4] = p.indices_q, pd->a[5] = p.indices_k;
    return push_arrays(L, pd, 0, 6);
}

/* core.attn_slices(m, h) -> q_ranges, k_ranges, attn_type_map */
static int l_attn_slices(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer h = luaL_checkinteger(L, 2);
    Pending *pd = pending(L);
    char why[160] = "";
    int st = maskinfo_mask_attn_slices(m, h, &pd->a[0], &pd->a[1], &pd->a[2], why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    return push_arrays(L, pd, 0, 3);
}

/* core.splash(m, b, bq, bk) -> block_mask, data_next, mask_next|nil, partial_mask_blocks|nil */
static int l_splash(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2), bq = luaL_checkinteger(L, 3), bk = luaL_checkinteger(L, 4);
    Pending *pd = pending(L);
    maskinfo_splash_info s;
    char why[160] = "";
    int st = maskinfo_mask_splash(m, b, bq, bk, &s, why, sizeof why, LIMITS(L));
    if (st) return fail(L, st, why, NULL);
    pd->a[0] = s.block_mask, pd->a[1] = s.data_next, pd->a[2] = s.mask_next, pd->a[3] = s.partial_mask_blocks;
    return push_arrays(L, pd, 0, 4);
}

/* An int32 (B, L) ids Array at idx. */
static const int32_t *ids_2d(lua_State *L, int idx, int64_t *B, int64_t *len) {
    maskinfo_array *a = mi_check_array(L, idx);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_INT32 && maskinfo_array_ndim(a) == 2, idx,
                  "int32 (B, L) segment ids expected");
    *B = maskinfo_array_shape(a)[0];
    *len = maskinfo_array_shape(a)[1];
    return maskinfo_array_cdata(a);
}

/* core.varlen(q_ids, kv_ids[, m]) -> cu_q, cu_k, seqlens_q, seqlens_k,
 * indices_q, indices_k, max_q, max_k[, left, right]: with m, only when m
 * is that varlen mask with window (left, right) */
static int l_varlen(lua_State *L) {
    int64_t B, Q, B2, K, left = -1, right = -1;
    const int32_t *q = ids_2d(L, 1, &B, &Q), *k = ids_2d(L, 2, &B2, &K);
    luaL_argcheck(L, B == B2, 2, "batch sizes differ");
    maskinfo_mask *m = lua_isnoneornil(L, 3) ? NULL : mi_check_mask(L, 3);
    if (m) {
        int64_t sh[4];
        maskinfo_mask_shape(m, sh);
        luaL_argcheck(L, sh[0] == B && sh[2] == Q && sh[3] == K, 3, "mask shape differs from the ids'");
    }
    Pending *pd = pending(L);
    char why[480] = "";
    maskinfo_varlen_info v;
    int st = maskinfo_varlen(q, k, B, Q, K, &v, why, sizeof why, LIMITS(L));
    if (!st && m) {
        st = maskinfo_mask_varlen_match(m, q, k, &v, &left, &right, why, sizeof why, LIMITS(L));
        if (st) maskinfo_varlen_info_free(&v);
    }
    if (st) return fail(L, st, why, NULL);
    maskinfo_array *a[6] = {v.cu_q, v.cu_k, v.seqlens_q, v.seqlens_k, v.indices_q, v.indices_k};
    memcpy(pd->a, a, sizeof a);
    push_arrays(L, pd, 0, 6);
    lua_pushinteger(L, (lua_Integer)v.max_q);
    lua_pushinteger(L, (lua_Integer)v.max_k);
    if (!m) return 8;
    lua_pushinteger(L, (lua_Integer)left);
    lua_pushinteger(L, (lua_Integer)right);
    return 10;
}

static const luaL_Reg funcs[] = {
    {"read_npy", l_read_npy},     {"parse_npy", l_parse_npy},   {"array_from_bytes", l_array_from_bytes},
    {"block_classes_tail", l_block_classes_tail},               {"block_runs", l_block_runs},
    {"row_runs", l_row_runs},     {"bsr", l_bsr},               {"flashmask", l_flashmask},
    {"packbits", l_packbits},     {"attn_slices", l_attn_slices}, {"splash", l_splash},
    {"varlen", l_varlen},         {NULL, NULL}};

void mi_kernels_open(lua_State *L, int limits) {
    if (luaL_newmetatable(L, PENDING_T)) {
        lua_pushcfunction(L, pending_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, limits);
    luaL_setfuncs(L, funcs, 1);
}
