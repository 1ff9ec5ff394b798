/*
 * builders.c - the binding of the core's builders (core/src/builders.c):
 * segment ids from lengths and from packed cu_seqlens, arange positions,
 * numbered image runs and tree attention.  The Lua layer
 * (maskinfo/builders.lua) checks the arguments it can; these functions
 * take its function name and argument number, so that what only C can see
 * (an offending element of a large input) is reported in the same words.
 * Refusals of the guard return nil, message, status like every binding
 * function.
 */
#include "binding.h"

/* fname and argn: arguments fi and fi + 1 of the binding function. */
static const char *fname_at(lua_State *L, int fi) { return luaL_checkstring(L, fi); }

static int bad_value(lua_State *L, int fi, const char *what, int64_t i, const char *expected) {
    int n = (int)luaL_checkinteger(L, fi + 1);
    return mi_argerror(L, n, fname_at(L, fi),
                       lua_pushfstring(L, "%s[%I]: %s", what, (lua_Integer)i, expected));
}

/* A new int32 array of shape (rows, len) on the stack, or 0 with nil,
 * message, status pushed (the guard refused it). */
static maskinfo_array *new_ids(lua_State *L, int64_t rows, int64_t len, const char *fname, int *ret) {
    maskinfo_array *a;
    int64_t shape[2] = {rows, len};
    int st = maskinfo_array_new(&a, MASKINFO_INT32, 2, shape, LIMITS(L));
    if (st) {
        *ret = mi_status(L, st, fname, NULL, MI_RETURN_REFUSALS);
        return NULL;
    }
    mi_push_array(L, a);
    return a;
}

/* A 1-D int32 Array argument as int64 values (a scratch userdata is left on
 * the stack). */
static int64_t *i64_of(lua_State *L, int idx, int64_t *n) {
    maskinfo_array *a = mi_check_array(L, idx);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_INT32 && maskinfo_array_ndim(a) == 1, idx,
                  "1-D int32 array expected");
    *n = maskinfo_array_size(a);
    const int32_t *d = maskinfo_array_cdata(a);
    int64_t *v = lua_newuserdatauv(L, (size_t)(*n > 0 ? *n : 1) * sizeof *v, 0);
    for (int64_t i = 0; i < *n; i++) v[i] = d[i];
    return v;
}

/* core.ids_from_lengths(rows, len, fname, argn) -> int32 Array (#rows, len):
 * rows is a list of lists of document lengths (checked by the caller). */
static int l_ids_from_lengths(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer len = luaL_checkinteger(L, 2);
    const char *fname = fname_at(L, 3);
    luaL_argcheck(L, len >= 0, 2, "non-negative length expected");
    int64_t rows = (int64_t)lua_rawlen(L, 1);
    int ret = 0;
    maskinfo_array *a = new_ids(L, rows, len, fname, &ret);
    if (!a) return ret;
    int32_t *ids = maskinfo_array_data(a);
    for (int64_t r = 0; r < rows; r++) {
        lua_rawgeti(L, 1, (lua_Integer)(r + 1));
        luaL_checktype(L, -1, LUA_TTABLE);
        int64_t n = (int64_t)lua_rawlen(L, -1);
        int64_t *v = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *v, 0);
        for (int64_t d = 0; d < n; d++) {
            lua_rawgeti(L, -2, (lua_Integer)(d + 1));
            v[d] = (int64_t)luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
        int64_t bad;
        int st = maskinfo_ids_from_lengths(v, n, len, ids + r * len, &bad);
        if (st == MASKINFO_EINVAL)
            return bad_value(L, 3, "lengths", bad, "a non-negative length inside the row expected");
        if (st) return mi_status(L, st, fname, NULL, MI_RAISE_REFUSALS);
        lua_pop(L, 2);
    }
    return 1;
}

/* core.ids_from_cu(cu, fname, argn, what) -> int32 Array (1, cu[last]) */
static int l_ids_from_cu(lua_State *L) {
    int64_t n;
    int64_t *cu = i64_of(L, 1, &n);
    const char *fname = fname_at(L, 2);
    const char *what = luaL_checkstring(L, 4);
    if (n < 1) return bad_value(L, 2, what, 0, "at least one offset (0) expected");
    int64_t len = cu[n - 1], bad;
    int st = maskinfo_ids_from_cu_seqlens(cu, n, len, NULL, &bad); /* check before allocating */
    if (st == MASKINFO_EINVAL) {
        lua_Integer v = (lua_Integer)cu[bad];
        const char *msg = bad == 0 ? lua_pushfstring(L, "the first offset must be 0, got %I", v)
                          : v < cu[bad - 1]
                              ? lua_pushfstring(L, "offsets must not decrease, got %I after %I", v,
                                                (lua_Integer)cu[bad - 1])
                              : lua_pushfstring(L, "%I is past the last offset (%I)", v, (lua_Integer)len);
        return bad_value(L, 2, what, bad, msg);
    }
    if (st) return mi_status(L, st, fname, NULL, MI_RETURN_REFUSALS);
    int ret = 0;
    maskinfo_array *a = new_ids(L, 1, len, fname, &ret);
    if (!a) return ret;
    maskinfo_ids_from_cu_seqlens(cu, n, len, maskinfo_array_data(a), NULL);
    return 1;
}

/* core.arange(rows, len, start) -> int32 Array (rows, len) */
static int l_arange(lua_State *L) {
    lua_Integer rows = luaL_checkinteger(L, 1), len = luaL_checkinteger(L, 2);
    lua_Integer start = luaL_checkinteger(L, 3);
    luaL_argcheck(L, rows >= 0, 1, "non-negative size expected");
    luaL_argcheck(L, len >= 0, 2, "non-negative size expected");
    int ret = 0;
    maskinfo_array *a = new_ids(L, rows, len, "arange", &ret);
    if (!a) return ret;
    int st = maskinfo_positions_arange(rows, len, start, maskinfo_array_data(a));
    if (st) return mi_status(L, st, "arange", NULL, MI_RAISE_REFUSALS);
    return 1;
}

/* core.image_runs(types, fname, argn) -> int32 Array of types' shape */
static int l_image_runs(lua_State *L) {
    maskinfo_array *t = mi_check_array(L, 1);
    const char *fname = fname_at(L, 2);
    luaL_argcheck(L, maskinfo_array_dtype(t) == MASKINFO_INT32 && maskinfo_array_ndim(t) >= 1, 1,
                  "int32 array expected");
    int nd = maskinfo_array_ndim(t);
    int64_t len = maskinfo_array_shape(t)[nd - 1], size = maskinfo_array_size(t);
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_INT32, nd, maskinfo_array_shape(t), LIMITS(L));
    if (st) return mi_status(L, st, fname, NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    int64_t bad;
    st = maskinfo_image_runs(maskinfo_array_cdata(t), len ? size / len : 0, len,
                             maskinfo_array_data(out), &bad);
    if (st == MASKINFO_EINVAL)
        return bad_value(L, 2, "token_type_ids", bad, "types must be >= 0 (0 is text)");
    if (st) return mi_status(L, st, fname, NULL, MI_RAISE_REFUSALS);
    return 1;
}

/* core.tree(parents, prefix, fname, argn) -> Mask, q_ids, kv_ids, q_pos,
 * kv_pos.  Without a prefix the ids number the trees and the positions are
 * the depths; after a prefix every node is in one segment with the prefix
 * (id 0) and sits at position prefix + depth, the prefix keys at 0..P-1. */
static int l_tree(lua_State *L) {
    lua_settop(L, 4);
    int64_t n;
    int64_t *parents = i64_of(L, 1, &n); /* scratch at index 5 */
    lua_Integer prefix = luaL_checkinteger(L, 2);
    const char *fname = fname_at(L, 3);
    luaL_argcheck(L, prefix >= 0, 2, "non-negative prefix expected");
    if (prefix > (int64_t)INT32_MAX - n) /* positions are int32 */
        return mi_status(L, MASKINFO_EOVERFLOW, fname, NULL, MI_RETURN_REFUSALS);
    int ret = 0;
    maskinfo_array *depth = new_ids(L, 1, n, fname, &ret); /* 6: q_pos */
    if (!depth) return ret;
    maskinfo_array *root = new_ids(L, 1, n, fname, &ret); /* 7: q_ids */
    if (!root) return ret;
    MaskBox *box = lua_newuserdatauv(L, sizeof *box, 0); /* 8 */
    box->m = NULL;
    luaL_setmetatable(L, MASK_T);
    int64_t bad;
    int32_t *dp = maskinfo_array_data(depth), *rt = maskinfo_array_data(root);
    int st = maskinfo_mask_tree(&box->m, parents, n, prefix, dp, rt, &bad, LIMITS(L));
    if (st == MASKINFO_EINVAL)
        return bad_value(L, 3, "parents", bad,
                         lua_pushfstring(L, "-1 or an earlier node (< %I) expected, got %I",
                                         (lua_Integer)bad, (lua_Integer)parents[bad]));
    if (st) return mi_status(L, st, fname, NULL, MI_RETURN_REFUSALS);
    if (prefix == 0) { /* box, q_ids, kv_ids, q_pos, kv_pos */
        int order[5] = {8, 7, 7, 6, 6};
        for (int i = 0; i < 5; i++) lua_pushvalue(L, order[i]);
        return 5;
    }
    for (int64_t i = 0; i < n; i++) {
        dp[i] += (int32_t)prefix;
        rt[i] = 0;
    }
    maskinfo_array *kv_ids = new_ids(L, 1, prefix + n, fname, &ret); /* 9: zeros */
    if (!kv_ids) return ret;
    maskinfo_array *kv_pos = new_ids(L, 1, prefix + n, fname, &ret); /* 10 */
    if (!kv_pos) return ret;
    int32_t *kp = maskinfo_array_data(kv_pos);
    maskinfo_positions_arange(1, prefix, 0, kp);
    for (int64_t i = 0; i < n; i++) kp[prefix + i] = dp[i];
    int order[5] = {8, 7, 9, 6, 10};
    for (int i = 0; i < 5; i++) lua_pushvalue(L, order[i]);
    return 5;
}

static const luaL_Reg builder_funcs[] = {
    {"ids_from_lengths", l_ids_from_lengths},
    {"ids_from_cu", l_ids_from_cu},
    {"arange", l_arange},
    {"image_runs", l_image_runs},
    {"tree", l_tree},
    {NULL, NULL}};

/* Add the builders to the module table at the top of the stack; every
 * function gets the limits (at index limits) as upvalue 1.  Called from
 * luaopen_maskinfo_core; hidden like the rest of the binding. */
__attribute__((visibility("hidden"))) void mi_builders_open(lua_State *L, int limits);
void mi_builders_open(lua_State *L, int limits) {
    lua_pushvalue(L, limits);
    luaL_setfuncs(L, builder_funcs, 1);
}
