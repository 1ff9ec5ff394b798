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

/* One plain row: n integers of table idx into d (rawgeti: no metatable is
 * consulted, the caller checked there is none); 0 at the first value that
 * is not a number with an int32 integer value.  Values are pushed a batch
 * at a time: one stack reset per batch instead of one per value. */
#define READ_BATCH 64
static int read_row(lua_State *L, int idx, int64_t n, int32_t *d, int32_t *lo) {
    int32_t mn = *lo;
    int top = lua_gettop(L);
    for (int64_t i0 = 0; i0 < n; i0 += READ_BATCH) {
        int m = n - i0 < READ_BATCH ? (int)(n - i0) : READ_BATCH, bad = 0;
        for (int j = 0; j < m; j++)
            bad |= lua_rawgeti(L, idx, (lua_Integer)(i0 + j + 1)) != LUA_TNUMBER;
        for (int j = 0; j < m && !bad; j++) {
            int ok;
            lua_Integer v = lua_tointegerx(L, top + 1 + j, &ok);
            if (!ok || v < INT32_MIN || v > INT32_MAX) bad = 1;
            d[i0 + j] = (int32_t)v;
            if (d[i0 + j] < mn) mn = d[i0 + j];
        }
        lua_settop(L, top);
        if (bad) return 0;
    }
    *lo = mn;
    return 1;
}

/* A table without a metatable, and its raw length (-1 otherwise). */
static int64_t plain_len(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE) return -1;
    if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        return -1;
    }
    return (int64_t)lua_rawlen(L, idx);
}

/*
 * core.ids_read(t, as_rows) -> int32 Array, min | nil.  The fast path of
 * core.from_nested(t, "int") for what ids usually are: a non-empty plain
 * sequence of Lua integers (shape (n), or (1, n) with as_rows), or of equal
 * non-empty plain sequences (B, n).  nil for anything else (metatables,
 * floats, strings, ragged rows, deeper nesting, a refused size): from_nested
 * then reads it and words any error.
 */
static int l_ids_read(lua_State *L) {
    int as_rows = lua_toboolean(L, 2);
    lua_settop(L, 1);
    luaL_checkstack(L, READ_BATCH + 4, "ids_read");
    int64_t n1 = plain_len(L, 1);
    if (n1 <= 0) return 0;
    lua_rawgeti(L, 1, 1);
    int nested = lua_type(L, -1) == LUA_TTABLE;
    int64_t len = nested ? plain_len(L, -1) : n1;
    lua_pop(L, 1);
    if (len <= 0) return 0;
    int nd = nested || as_rows ? 2 : 1;
    int64_t shape[2] = {nested ? n1 : 1, len};
    maskinfo_array *a = NULL;
    if (maskinfo_array_new(&a, MASKINFO_INT32, nd, nd == 2 ? shape : shape + 1, LIMITS(L)))
        return 0;
    mi_push_array(L, a); /* 2: owned by Lua from here on */
    int32_t *d = maskinfo_array_data(a), lo = INT32_MAX;
    if (!nested) {
        if (!read_row(L, 1, len, d, &lo)) return 0;
    } else {
        for (int64_t r = 0; r < n1; r++) {
            lua_rawgeti(L, 1, (lua_Integer)(r + 1)); /* 3 */
            if (plain_len(L, 3) != len || !read_row(L, 3, len, d + r * len, &lo)) return 0;
            lua_pop(L, 1);
        }
    }
    lua_pushinteger(L, lo);
    return 2;
}

/* core.ids_max(ids) -> max(-1, largest id) */
static int l_ids_max(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    lua_pushinteger(L, maskinfo_ids_max(maskinfo_array_cdata(a), maskinfo_array_size(a)));
    return 1;
}

/* core.ids_min(ids) -> the smallest id, nil when there is none */
static int l_ids_min(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    int64_t n = maskinfo_array_size(a);
    if (n == 0) return 0;
    lua_pushinteger(L, maskinfo_ids_min(maskinfo_array_cdata(a), n));
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

/* core.ids_replace(ids, from, to) -> int32 of ids' shape: from -> to */
static int l_ids_replace(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    lua_Integer from = luaL_checkinteger(L, 2), to = luaL_checkinteger(L, 3);
    luaL_argcheck(L, from >= INT32_MIN && from <= INT32_MAX, 2, "int32 value expected");
    luaL_argcheck(L, to >= INT32_MIN && to <= INT32_MAX, 3, "int32 value expected");
    int st, nd = maskinfo_array_ndim(a);
    maskinfo_array *out = new_i32(L, nd, maskinfo_array_shape(a), &st);
    if (!out) return refused(L, st, MASKINFO_INT32, nd, maskinfo_array_shape(a));
    maskinfo_ids_replace(maskinfo_array_cdata(a), maskinfo_array_size(a), (int32_t)from,
                         (int32_t)to, maskinfo_array_data(out));
    return 1;
}

/* core.ids_cut(ids, lens) -> int32 of ids' shape (B, L) or (B, H, L): the
 * columns at or past lens[b] (a sequence of B integers) become -1 */
static int l_ids_cut(lua_State *L) {
    maskinfo_array *a = check_ids(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int nd = maskinfo_array_ndim(a);
    luaL_argcheck(L, nd == 2 || nd == 3, 1, "2-D or 3-D ids expected");
    const int64_t *sh = maskinfo_array_shape(a);
    int64_t B = sh[0], inner = nd == 3 ? sh[1] : 1, len = sh[nd - 1];
    luaL_argcheck(L, (int64_t)luaL_len(L, 2) == B, 2, "one length per batch row expected");
    int64_t *lens = lua_newuserdatauv(L, (size_t)(B > 0 ? B : 1) * sizeof *lens, 0); /* 3 */
    for (int64_t b = 0; b < B; b++) {
        lua_geti(L, 2, (lua_Integer)(b + 1));
        int ok;
        lens[b] = (int64_t)lua_tointegerx(L, -1, &ok);
        luaL_argcheck(L, ok, 2, "integers expected");
        lua_pop(L, 1);
    }
    int st;
    maskinfo_array *out = new_i32(L, nd, sh, &st);
    if (!out) return refused(L, st, MASKINFO_INT32, nd, sh);
    maskinfo_ids_cut(maskinfo_array_cdata(a), B, inner, len, lens, maskinfo_array_data(out));
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

/* core.segments(q_ids, kv_ids [, qmode, kvmode]): the segment leaf, reading
 * the ids in place (maskinfo_mask_segments_i32).  Int32 arrays
 * of shape (B, L) or (B, H, L); modes "segment" (default: an id < 0 never
 * matches), "nonzero" (token types, 0 disabled) or "all". */
static int l_segments(lua_State *L) {
    static const char *const modes[] = {"segment", "nonzero", "all", NULL};
    maskinfo_array *q = check_ids(L, 1), *kv = check_ids(L, 2);
    maskinfo_ids_mode qmode = (maskinfo_ids_mode)luaL_checkoption(L, 3, "segment", modes);
    maskinfo_ids_mode kvmode = (maskinfo_ids_mode)luaL_checkoption(L, 4, "segment", modes);
    int nq = maskinfo_array_ndim(q), nk = maskinfo_array_ndim(kv);
    luaL_argcheck(L, nq == 2 || nq == 3, 1, "2-D or 3-D ids expected");
    luaL_argcheck(L, nk == 2 || nk == 3, 2, "2-D or 3-D ids expected");
    const int64_t *qs = maskinfo_array_shape(q), *ks = maskinfo_array_shape(kv);
    int64_t B = qs[0], Hq = nq == 3 ? qs[1] : 1, Hk = nk == 3 ? ks[1] : 1;
    if (ks[0] != B)
        return mi_argerror(L, 2, "segments", lua_pushfstring(L, "batch sizes differ (%I and %I)",
                                                             (lua_Integer)B, (lua_Integer)ks[0]));
    MaskBox *box = lua_newuserdatauv(L, sizeof *box, 0); /* the box before the payload */
    box->m = NULL;
    luaL_setmetatable(L, MASK_T);
    int st = maskinfo_mask_segments_i32(&box->m, B, Hq, Hk, qs[nq - 1], ks[nk - 1],
                                        maskinfo_array_cdata(q), qmode,
                                        maskinfo_array_cdata(kv), kvmode);
    if (st) {
        lua_pop(L, 1); /* the empty box */
        return mi_status(L, st, "segments", NULL, MI_RETURN_REFUSALS);
    }
    return 1;
}

void mi_ids_open(lua_State *L, int limits) {
    static const luaL_Reg funcs[] = {
        {"ids_max", l_ids_max},           {"ids_min", l_ids_min},           {"ids_cu_seqlens", l_ids_cu_seqlens},
        {"ids_bincount", l_ids_bincount}, {"ids_valid_per_row", l_ids_valid_per_row},
        {"ids_chunk", l_ids_chunk},       {"where", l_where},
        {"ids_read", l_ids_read},         {"ids_replace", l_ids_replace},
        {"ids_cut", l_ids_cut},       {"segments", l_segments},
        {NULL, NULL}};
    lua_pushvalue(L, limits);
    luaL_setfuncs(L, funcs, 1);
}
