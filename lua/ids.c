/*
 * ids.c - the binding of the core's O(n) id passes and elementwise Array
 * tests (core/src/ids.c).  Inputs are int32 id Arrays the Lua layer has
 * checked; every function returns an Array, or nil, message, status when
 * the guard refuses it.  mi_ids_open adds them to the module table on top.
 */
#include <stdio.h>

#include "binding.h"

static maskinfo_array *check_ids(lua_State *L, int idx) {
    maskinfo_array *a = mi_check_array(L, idx);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_INT32, idx, "int32 array expected");
    return a;
}

/* (rows, len) of an ids array: len is the last axis */
static int64_t last_len(const maskinfo_array *a) {
    int nd = maskinfo_array_ndim(a);
    return nd > 0 ? maskinfo_array_shape(a)[nd - 1] : 1;
}

/* a new int32 Array pushed on the stack; NULL with *st on refusal */
static maskinfo_array *new_i32(lua_State *L, int nd, const int64_t *shape, int *st) {
    maskinfo_array *out = NULL;
    *st = maskinfo_array_new(&out, MASKINFO_INT32, nd, shape, LIMITS(L));
    if (*st) return NULL;
    mi_push_array(L, out);
    return out;
}

/* A refused output, worded as core.array words it (the Lua layer used
 * core.array before), so the messages stay the same. */
static int refused(lua_State *L, int st, maskinfo_dtype dt, int nd, const int64_t *shape) {
    double n = 1;
    for (int i = 0; i < nd; i++) n *= (double)shape[i];
    char buf[96];
    snprintf(buf, sizeof buf, "an array of %.0f %s elements", n, maskinfo_dtype_name(dt));
    lua_pushstring(L, buf);
    return mi_refuse(L, st, "array", lua_tostring(L, -1), n * (double)maskinfo_dtype_size(dt), MI_RETURN_REFUSALS);
}

/* core.ids_max(ids) -> max(-1, largest id) */
static int l_ids_max(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    lua_pushinteger(L, maskinfo_ids_max(maskinfo_array_cdata(a), maskinfo_array_size(a)));
    return 1;
}

/* core.ids_cu_seqlens(ids, max_segments) -> int32 (max_segments + 1), or
 * nil, message, status; an id >= max_segments gives false, the id. */
static int l_ids_cu_seqlens(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    lua_Integer ms = luaL_checkinteger(L, 2);
    luaL_argcheck(L, ms >= 0, 2, "max_segments >= 0 expected");
    int64_t shape[1] = {(int64_t)ms + 1}, bad = 0;
    int st;
    maskinfo_array *out = new_i32(L, 1, shape, &st);
    if (!out) return refused(L, st, MASKINFO_INT32, 1, shape);
    st = maskinfo_ids_cu_seqlens(maskinfo_array_cdata(a), maskinfo_array_size(a), ms,
                                 maskinfo_array_data(out), &bad);
    if (st == MASKINFO_EINVAL) {
        lua_pushboolean(L, 0);
        lua_pushinteger(L, (lua_Integer)bad);
        return 2;
    }
    if (st) return mi_status(L, st, "ids_cu_seqlens", NULL, MI_RETURN_REFUSALS);
    return 1;
}

/* core.ids_bincount(ids, nbins) -> int32 (nbins) counts of ids in [0, nbins) */
static int l_ids_bincount(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    lua_Integer nb = luaL_checkinteger(L, 2);
    luaL_argcheck(L, nb >= 0, 2, "nbins >= 0 expected");
    int64_t shape[1] = {(int64_t)nb}, bad = 0;
    int st;
    maskinfo_array *out = new_i32(L, 1, shape, &st);
    if (!out) return refused(L, st, MASKINFO_INT32, 1, shape);
    st = maskinfo_ids_bincount(maskinfo_array_cdata(a), maskinfo_array_size(a), nb,
                               maskinfo_array_data(out), &bad);
    if (st) return luaL_error(L, "ids_bincount: id %d is >= nbins (%d)", (int)bad, (int)nb);
    return 1;
}

/* core.ids_valid_per_row(ids) -> int32 (rows) counts of ids >= 0 per row */
static int l_ids_valid_per_row(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    int64_t len = last_len(a), n = maskinfo_array_size(a);
    int64_t shape[1] = {len > 0 ? n / len : maskinfo_array_shape(a)[0]};
    int st;
    maskinfo_array *out = new_i32(L, 1, shape, &st);
    if (!out) return refused(L, st, MASKINFO_INT32, 1, shape);
    if (len > 0) maskinfo_ids_valid_per_row(maskinfo_array_cdata(a), shape[0], len, maskinfo_array_data(out));
    else for (int64_t r = 0; r < shape[0]; r++) ((int32_t *)maskinfo_array_data(out))[r] = 0;
    return 1;
}

/* core.ids_chunk(ids, chunk) -> int32 of ids' shape: -1 for padding, else
 * column // chunk + 1 */
static int l_ids_chunk(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    lua_Integer chunk = luaL_checkinteger(L, 2);
    luaL_argcheck(L, chunk >= 1, 2, "chunk >= 1 expected");
    int st;
    int nd = maskinfo_array_ndim(a);
    maskinfo_array *out = new_i32(L, nd, maskinfo_array_shape(a), &st);
    if (!out) return refused(L, st, MASKINFO_INT32, nd, maskinfo_array_shape(a));
    int64_t len = last_len(a);
    if (len > 0)
        maskinfo_ids_chunk(maskinfo_array_cdata(a), maskinfo_array_size(a) / len, len, chunk,
                           maskinfo_array_data(out));
    return 1;
}

/* core.where(a, test, c, yes, no, dtype) -> Array of a's shape:
 * test(a[i], c) ? yes : no; test is "nonzero", "eq" or "abs_ge". */
static int l_where(lua_State *L) {
    static const char *const tests[] = {"nonzero", "eq", "abs_ge", NULL};
    maskinfo_array *a = mi_check_array(L, 1);
    maskinfo_test t = (maskinfo_test)luaL_checkoption(L, 2, NULL, tests);
    double c = luaL_checknumber(L, 3), yes = luaL_checknumber(L, 4), no = luaL_checknumber(L, 5);
    maskinfo_dtype dt = mi_check_dtype(L, 6, "where", 6, -1);
    maskinfo_array *out;
    int st = maskinfo_array_where(a, t, c, yes, no, dt, &out, LIMITS(L));
    if (st == MASKINFO_ETOOBIG || st == MASKINFO_ENOMEM || st == MASKINFO_EOVERFLOW)
        return refused(L, st, dt, maskinfo_array_ndim(a), maskinfo_array_shape(a));
    if (st) return mi_status(L, st, "where", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    return 1;
}

void mi_ids_open(lua_State *L, int limits) {
    static const luaL_Reg funcs[] = {
        {"ids_max", l_ids_max},           {"ids_cu_seqlens", l_ids_cu_seqlens},
        {"ids_bincount", l_ids_bincount}, {"ids_valid_per_row", l_ids_valid_per_row},
        {"ids_chunk", l_ids_chunk},       {"where", l_where},
        {NULL, NULL}};
    lua_pushvalue(L, limits);
    luaL_setfuncs(L, funcs, 1);
}
