/*
 * array.c - the Array type of the binding (a dense n-d array userdata, in
 * the style of liolib: a luaL_Reg method table, the metatable set before
 * the payload is allocated, __gc and __close idempotent), and the
 * functions that make Arrays from Lua values: core.from_nested,
 * core.array and core.positions.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

/* The metatable is set before the payload exists, so a failed allocation
 * leaves a harmless empty box for the collector (liolib's newprefile). */
static ArrayBox *new_array_box(lua_State *L) {
    ArrayBox *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->a = NULL;
    box->shared = 0;
    luaL_setmetatable(L, ARRAY_T);
    return box;
}

maskinfo_array *mi_check_array(lua_State *L, int idx) {
    ArrayBox *box = luaL_checkudata(L, idx, ARRAY_T);
    if (!box->a) luaL_argerror(L, idx, "array is closed");
    return box->a;
}

maskinfo_array *mi_to_array(lua_State *L, int idx) {
    ArrayBox *box = luaL_testudata(L, idx, ARRAY_T);
    return box ? box->a : NULL;
}

/*
 * The collector feels an Array's bytes.  An Array's cells live outside
 * Lua's heap, so to the collector a 64 MiB Array looks like a small
 * userdata, and unclosed Arrays piled up (issue 12, item 8).  Each new
 * Array (and each new dense-bit mask, lua/mask.c) of MI_FELT_MIN bytes or
 * more therefore adds its size, in KiB, to
 * the collector's debt (LUA_GCSTEP), as if Lua had allocated those bytes:
 * the collector paces itself as it would for a string of that size, and
 * unreachable Arrays are finalized, freeing their cells, within about one
 * cycle.  Smaller Arrays cost nothing (no call): their header and userdata
 * are already a sizeable part of them.  A stopped collector stays stopped.
 */
#define MI_FELT_MIN 4096

void mi_gc_feel(lua_State *L, uint64_t bytes) {
    if (bytes < MI_FELT_MIN || bytes == UINT64_MAX || !lua_gc(L, LUA_GCISRUNNING)) return;
    uint64_t kib = (bytes + 1023) >> 10;
    lua_gc(L, LUA_GCSTEP, (int)(kib < INT_MAX / 2 ? kib : INT_MAX / 2));
}

static void feel_array(lua_State *L, const maskinfo_array *a) {
    if (a) mi_gc_feel(L, (uint64_t)maskinfo_array_size(a) * maskinfo_dtype_size(maskinfo_array_dtype(a)));
}

static int push_array_protected(lua_State *L) {
    maskinfo_array *a = lua_touserdata(L, 1);
    new_array_box(L)->a = a;
    return 1;
}

/* Push a new Array userdata owning a.  The box is made in protected mode,
 * so that a failure to allocate it frees a instead of leaking it (callers
 * that can make the box first do: new_array_box, then the array). */
void mi_push_array(lua_State *L, maskinfo_array *a) {
    lua_pushcfunction(L, push_array_protected); /* no allocation: C functions are light */
    lua_pushlightuserdata(L, a);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        maskinfo_array_free(a);
        lua_error(L);
    }
    feel_array(L, a);
}

void mi_share_array(lua_State *L, int idx) {
    ArrayBox *box = luaL_testudata(L, idx, ARRAY_T);
    if (box) box->shared = 1;
}

static int array_gc(lua_State *L) {
    ArrayBox *box = luaL_checkudata(L, 1, ARRAY_T);
    maskinfo_array_free(box->a);
    box->a = NULL;
    return 0;
}

/* __close frees at once, unless a MaskInfo holds the Array too. */
static int array_close(lua_State *L) {
    ArrayBox *box = luaL_checkudata(L, 1, ARRAY_T);
    return box->shared ? 0 : array_gc(L);
}

static void push_shape(lua_State *L, const maskinfo_array *a) {
    int nd = maskinfo_array_ndim(a);
    const int64_t *s = maskinfo_array_shape(a);
    lua_createtable(L, nd, 0);
    for (int i = 0; i < nd; i++) {
        lua_pushinteger(L, s[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int array_shape(lua_State *L) {
    push_shape(L, mi_check_array(L, 1));
    return 1;
}

static int array_dtype(lua_State *L) {
    lua_pushstring(L, maskinfo_dtype_name(maskinfo_array_dtype(mi_check_array(L, 1))));
    return 1;
}

static void push_elem(lua_State *L, const maskinfo_array *a, int64_t i) {
    double v = maskinfo_array_get(a, i);
    switch (maskinfo_array_dtype(a)) {
    case MASKINFO_BOOL: lua_pushboolean(L, v != 0.0); break;
    case MASKINFO_INT32:
    case MASKINFO_UINT8: lua_pushinteger(L, (lua_Integer)v); break;
    case MASKINFO_INT64: /* exact, not through the double */
        lua_pushinteger(L, (lua_Integer)((const int64_t *)maskinfo_array_cdata(a))[i]);
        break;
    default: lua_pushnumber(L, v); break;
    }
}

static int64_t totable_rec(lua_State *L, const maskinfo_array *a, int dim,
                           int64_t flat) {
    const int64_t *s = maskinfo_array_shape(a);
    int nd = maskinfo_array_ndim(a);
    int64_t n = s[dim];
    lua_createtable(L, (int)(n < 1 << 24 ? n : 0), 0);
    for (int64_t i = 0; i < n; i++) {
        if (dim == nd - 1) {
            push_elem(L, a, flat++);
        } else {
            flat = totable_rec(L, a, dim + 1, flat);
        }
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    return flat;
}

static int array_totable(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    if (maskinfo_array_ndim(a) == 0) {
        push_elem(L, a, 0);
        return 1;
    }
    luaL_checkstack(L, 2 * MASKINFO_MAX_DIMS + 4, "array too deep");
    totable_rec(L, a, 0, 0);
    return 1;
}

/* flat 0-based values as one Lua sequence (fast path for the Lua layer) */
static int array_flat(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    int64_t n = maskinfo_array_size(a);
    lua_createtable(L, (int)(n < 1 << 26 ? n : 0), 0);
    for (int64_t i = 0; i < n; i++) {
        push_elem(L, a, i);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    return 1;
}

static int array_len(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    lua_pushinteger(L, maskinfo_array_ndim(a) ? maskinfo_array_shape(a)[0] : 0);
    return 1;
}

static int array_eq(lua_State *L) {
    maskinfo_array *a = mi_to_array(L, 1), *b = mi_to_array(L, 2);
    lua_pushboolean(L, a && b && maskinfo_array_equal(a, b));
    return 1;
}

static void add_shape_str(luaL_Buffer *b, const maskinfo_array *a) {
    int nd = maskinfo_array_ndim(a);
    const int64_t *s = maskinfo_array_shape(a);
    luaL_addchar(b, '(');
    for (int i = 0; i < nd; i++) {
        if (i) luaL_addstring(b, ", ");
        lua_pushfstring(b->L, "%I", (lua_Integer)s[i]);
        luaL_addvalue(b);
    }
    if (nd == 1) luaL_addchar(b, ',');
    luaL_addchar(b, ')');
}

static int array_tostring(lua_State *L) {
    ArrayBox *box = luaL_checkudata(L, 1, ARRAY_T);
    if (!box->a) {
        lua_pushliteral(L, "Array(closed)");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "Array(shape=");
    add_shape_str(&b, box->a);
    luaL_addstring(&b, ", dtype=");
    luaL_addstring(&b, maskinfo_dtype_name(maskinfo_array_dtype(box->a)));
    int64_t n = maskinfo_array_size(box->a);
    if (n <= 16 && maskinfo_array_ndim(box->a) > 0) {
        luaL_addstring(&b, ", values=[");
        for (int64_t i = 0; i < n; i++) {
            if (i) luaL_addstring(&b, ", ");
            if (maskinfo_array_dtype(box->a) == MASKINFO_BOOL) {
                luaL_addstring(&b, maskinfo_array_get(box->a, i) != 0.0 ? "true" : "false");
            } else {
                push_elem(L, box->a, i);
                luaL_addvalue(&b);
            }
        }
        luaL_addchar(&b, ']');
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

/* A refused new array of n elements of dt: the message names its size
 * and the guard's limit. */
static int array_refused(lua_State *L, int st, const char *fname, maskinfo_dtype dt, double n, int how) {
    char buf[96];
    snprintf(buf, sizeof buf, "an array of %.0f %s elements", n, maskinfo_dtype_name(dt));
    lua_pushstring(L, buf);
    return mi_refuse(L, st, fname, lua_tostring(L, -1), n * (double)maskinfo_dtype_size(dt), how);
}

static double shape_count(int nd, const int64_t *shape) {
    double n = 1;
    for (int i = 0; i < nd; i++) n *= (double)shape[i];
    return n;
}

/* The integer range of dtype dt (0 if it has none). */
static int int_range(maskinfo_dtype dt, double *lo, double *hi) {
    switch (dt) {
    case MASKINFO_UINT8: *lo = 0; *hi = 255; return 1;
    case MASKINFO_INT32: *lo = INT32_MIN; *hi = INT32_MAX; return 1;
    case MASKINFO_INT64: *lo = -9223372036854775808.0; *hi = 9223372036854775807.0; return 1;
    default: return 0;
    }
}

static int array_astype(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    maskinfo_dtype dt = mi_check_dtype(L, 2, "astype", 1, -1);
    double lo, hi;
    /* a value outside an integer dtype is refused, not clamped or wrapped */
    maskinfo_dtype sd = maskinfo_array_dtype(a);
    if (int_range(dt, &lo, &hi) && sd != MASKINFO_BOOL && !(sd == MASKINFO_INT64 && dt == MASKINFO_INT64)) {
        const int64_t *i64 = sd == MASKINFO_INT64 ? maskinfo_array_cdata(a) : NULL;
        for (int64_t i = 0, n = maskinfo_array_size(a); i < n; i++) {
            double v = maskinfo_array_get(a, i);
            int fits = i64 ? i64[i] >= (int64_t)lo && i64[i] <= (int64_t)hi : v >= lo && v < hi + 1.0;
            if (!fits) {
                lua_pushfstring(L, "bad argument #1 to 'astype' (value %s at flat index %I does not fit %s)",
                                lua_pushfstring(L, v != v ? "NaN" : "%f", v), (lua_Integer)i,
                                maskinfo_dtype_name(dt));
                return lua_error(L);
            }
        }
    }
    maskinfo_array *out;
    int st = maskinfo_array_astype(a, dt, &out, LIMITS(L));
    if (st) return array_refused(L, st, "astype", dt, (double)maskinfo_array_size(a), MI_RAISE_REFUSALS);
    mi_push_array(L, out);
    return 1;
}

/* a:get(i) - flat 0-based element */
static int array_get(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    int ok;
    /* a number only: lua_tointegerx would also convert the string "1" */
    lua_Integer i = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &ok) : (ok = 0);
    if (!ok || i < 0 || i >= maskinfo_array_size(a)) {
        lua_pushfstring(L, "bad argument #1 to 'get' (flat index in [0, %I) expected)",
                        (lua_Integer)maskinfo_array_size(a));
        return lua_error(L);
    }
    push_elem(L, a, i);
    return 1;
}

/* a:reshape(shape) -> a new Array with the same values */
static int array_reshape(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer ndl = luaL_len(L, 2);
    luaL_argcheck(L, ndl >= 0 && ndl <= MASKINFO_MAX_DIMS, 2, "too many dimensions");
    int nd = (int)ndl;
    int64_t shape[MASKINFO_MAX_DIMS];
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        lua_geti(L, 2, i + 1);
        int ok;
        shape[i] = lua_type(L, -1) == LUA_TNUMBER ? (int64_t)lua_tointegerx(L, -1, &ok) : (ok = 0);
        lua_pop(L, 1);
        if (!ok || shape[i] < 0)
            return mi_argerror(L, 1, "reshape", "dimensions must be non-negative integers");
        n = shape[i] != 0 && n > INT64_MAX / shape[i] ? -1 : n * shape[i];
    }
    if (n != maskinfo_array_size(a)) {
        lua_pushfstring(L, "bad argument #1 to 'reshape' (shape has %I elements, the array %I)",
                        (lua_Integer)n, (lua_Integer)maskinfo_array_size(a));
        return lua_error(L);
    }
    /* made in the new shape: its rows are guarded like any new array's */
    ArrayBox *box = new_array_box(L);
    int st = maskinfo_array_new(&box->a, maskinfo_array_dtype(a), nd, shape, LIMITS(L));
    if (st) return mi_status(L, st, "reshape", NULL, MI_RAISE_REFUSALS);
    if (n > 0)
        memcpy(maskinfo_array_data(box->a), maskinfo_array_cdata(a),
               (size_t)n * maskinfo_dtype_size(maskinfo_array_dtype(a)));
    feel_array(L, box->a);
    return 1;
}

/* a:gather(starts, len, shape) -> a new Array of the same dtype holding,
 * for each 0-based flat start in the sequence starts, the len elements from
 * there, reshaped to shape.  The Lua layer's slicing (decode windows, head
 * 0 of per-head ids, one plane's ids) goes through here instead of copying
 * whole arrays into Lua tables. */
static int array_gather(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer len = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    int64_t ns = (int64_t)luaL_len(L, 2), size = maskinfo_array_size(a);
    lua_Integer ndl = luaL_len(L, 4);
    luaL_argcheck(L, len >= 0 && ndl >= 0 && ndl <= MASKINFO_MAX_DIMS, 3, "bad length or shape");
    int nd = (int)ndl;
    int64_t shape[MASKINFO_MAX_DIMS], n = 1;
    for (int i = 0; i < nd; i++) {
        lua_geti(L, 4, i + 1);
        shape[i] = (int64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        luaL_argcheck(L, shape[i] >= 0, 4, "non-negative extents expected");
        n = n >= 0 && shape[i] && n > INT64_MAX / shape[i] ? -1 : n < 0 ? -1 : n * shape[i];
    }
    luaL_argcheck(L, n >= 0 && (len == 0 ? n == 0 : ns <= INT64_MAX / len && n == ns * len), 4,
                  "shape does not hold starts * len elements");
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, maskinfo_array_dtype(a), nd, shape, LIMITS(L));
    if (st) return mi_status(L, st, "gather", NULL, MI_RAISE_REFUSALS);
    mi_push_array(L, out);
    size_t esz = maskinfo_dtype_size(maskinfo_array_dtype(a));
    const uint8_t *src = maskinfo_array_cdata(a);
    uint8_t *dst = maskinfo_array_data(out);
    for (int64_t i = 0; i < ns; i++) {
        lua_geti(L, 2, (lua_Integer)(i + 1));
        lua_Integer s0 = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        luaL_argcheck(L, s0 >= 0 && s0 <= size - len, 2, "start out of range");
        memcpy(dst + (size_t)(i * len) * esz, src + (size_t)s0 * esz, (size_t)len * esz);
    }
    return 1;
}

/* a:minmax() -> min, max (nil, nil when empty) */
static int array_minmax(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    int64_t n = maskinfo_array_size(a);
    if (n == 0) return 0;
    if (maskinfo_array_dtype(a) == MASKINFO_INT64) { /* exact past 2^53 */
        const int64_t *d = maskinfo_array_cdata(a);
        int64_t lo = d[0], hi = d[0];
        for (int64_t i = 1; i < n; i++) {
            if (d[i] < lo) lo = d[i];
            if (d[i] > hi) hi = d[i];
        }
        lua_pushinteger(L, lo);
        lua_pushinteger(L, hi);
        return 2;
    }
    double lo = maskinfo_array_get(a, 0), hi = lo;
    for (int64_t i = 1; i < n; i++) {
        double v = maskinfo_array_get(a, i);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (maskinfo_array_dtype(a) == MASKINFO_INT32 || maskinfo_array_dtype(a) == MASKINFO_BOOL ||
        maskinfo_array_dtype(a) == MASKINFO_UINT8) {
        lua_pushinteger(L, (lua_Integer)lo);
        lua_pushinteger(L, (lua_Integer)hi);
    } else {
        lua_pushnumber(L, lo);
        lua_pushnumber(L, hi);
    }
    return 2;
}

static int array_size(lua_State *L) {
    lua_pushinteger(L, maskinfo_array_size(mi_check_array(L, 1)));
    return 1;
}

/* ------------------------------------------------------------ nested input */

typedef struct {
    int ndim;
    int64_t shape[MASKINFO_MAX_DIMS];
    int kind; /* 0 int, 1 bool, 2 float */
    char err[160];
} nest_info;

/* Discover the shape by following first elements. */
static int nest_shape(lua_State *L, int idx, nest_info *ni) {
    lua_pushvalue(L, idx);
    ni->ndim = 0;
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (ni->ndim == MASKINFO_MAX_DIMS) {
            lua_pop(L, 1);
            snprintf(ni->err, sizeof ni->err, "nesting deeper than %d", MASKINFO_MAX_DIMS);
            return 0;
        }
        lua_Integer n = luaL_len(L, -1); /* as the Lua layer reads it (__len) */
        if (n < 0) {
            lua_pop(L, 1);
            snprintf(ni->err, sizeof ni->err, "negative length %lld", (long long)n);
            return 0;
        }
        ni->shape[ni->ndim++] = (int64_t)n;
        if (n == 0) {
            lua_pushnil(L);
            int keyed = lua_next(L, -2);
            if (keyed) lua_pop(L, 2);
            if (keyed) {
                lua_pop(L, 1);
                snprintf(ni->err, sizeof ni->err, "sequence expected, got a table with keys only");
                return 0;
            }
            break;
        }
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return 1;
}

static void path_str(char *buf, size_t sz, const int64_t *path, int depth) {
    size_t o = 0;
    for (int i = 0; i < depth && o < sz; i++)
        o += (size_t)snprintf(buf + o, sz - o, "[%lld]", (long long)path[i] + 1);
    if (depth == 0 && sz) buf[0] = 0;
}

static int nest_fill(lua_State *L, nest_info *ni, maskinfo_array *a, int depth,
                     int64_t *flat, int64_t *path) {
    char where[96];
    if (depth == ni->ndim) {
        double v;
        int t = lua_type(L, -1);
        if (t == LUA_TBOOLEAN && ni->kind != 0) {
            v = lua_toboolean(L, -1);
        } else if (t == LUA_TNUMBER) {
            if (lua_isinteger(L, -1)) {
                lua_Integer iv = lua_tointeger(L, -1);
                if (ni->kind == 0 && (iv < INT32_MIN || iv > INT32_MAX)) {
                    path_str(where, sizeof where, path, depth);
                    snprintf(ni->err, sizeof ni->err, "value at %s does not fit int32", where);
                    return 0;
                }
                v = (double)iv;
            } else {
                v = lua_tonumber(L, -1);
                if (isnan(v) || (ni->kind == 0 && (v != floor(v) || isinf(v)))) {
                    path_str(where, sizeof where, path, depth);
                    snprintf(ni->err, sizeof ni->err, "%s at %s",
                             isnan(v) ? "NaN" : "non-integer", where);
                    return 0;
                }
                if (ni->kind == 0 && (v < INT32_MIN || v > INT32_MAX)) {
                    path_str(where, sizeof where, path, depth);
                    snprintf(ni->err, sizeof ni->err, "value at %s does not fit int32", where);
                    return 0;
                }
            }
        } else {
            path_str(where, sizeof where, path, depth);
            snprintf(ni->err, sizeof ni->err, "%s expected at %s, got %s",
                     ni->kind == 1 ? "boolean or number" : (ni->kind == 0 ? "integer" : "number"),
                     where, luaL_typename(L, -1));
            return 0;
        }
        maskinfo_array_set(a, (*flat)++, v);
        return 1;
    }
    if (lua_type(L, -1) != LUA_TTABLE || (int64_t)luaL_len(L, -1) != ni->shape[depth]) {
        path_str(where, sizeof where, path, depth);
        if (lua_type(L, -1) != LUA_TTABLE)
            snprintf(ni->err, sizeof ni->err, "ragged nested table: table expected at %s, got %s",
                     depth ? where : "top", luaL_typename(L, -1));
        else
            snprintf(ni->err, sizeof ni->err, "ragged nested table: length %lld at %s, expected %lld",
                     (long long)luaL_len(L, -1), depth ? where : "top",
                     (long long)ni->shape[depth]);
        return 0;
    }
    for (int64_t i = 0; i < ni->shape[depth]; i++) {
        path[depth] = i;
        lua_geti(L, -1, (lua_Integer)(i + 1));
        int ok = nest_fill(L, ni, a, depth + 1, flat, path);
        lua_pop(L, 1);
        if (!ok) return 0;
    }
    return 1;
}

/* The argument error of core.from_nested: "bad argument #n to 'fname'
 * (what: msg)", or without "what: " when what is nil. */
static int nested_error(lua_State *L, const char *msg) {
    const char *fname = luaL_optstring(L, 3, "from_nested"); /* arguments 3-5 are */
    int n = (int)luaL_optinteger(L, 4, 1);                   /* kept by lua_settop */
    const char *what = luaL_optstring(L, 5, NULL);
    if (what) msg = lua_pushfstring(L, "%s: %s", what, msg);
    return mi_argerror(L, n, fname, msg);
}

/*
 * core.from_nested(value, kind [, fname, n, what]) -> Array | nil, msg, status
 * kind: "int" (int32), "bool", "float" (float32) or "cells" (bool, but an
 * Array of any dtype is returned as it is once checked for NaN, for
 * readers that take non-zero as allowed).  An Array argument is converted
 * to the kind's dtype (bool: non-zero); a bool or float32 Array of that
 * kind is returned as it is (no copy).  Bad input raises as
 * argument n of fname ("bad argument #n to 'fname' (what: ...)"); a guard
 * refusal returns nil, message, status.
 */
static int l_from_nested(lua_State *L) {
    static const char *const kinds[] = {"int", "bool", "float", "cells", NULL};
    lua_settop(L, 5); /* what nested_error reads stays at 3..5 */
    int kind = luaL_checkoption(L, 2, NULL, kinds);
    int cells = kind == 3; /* "cells": "bool", but any Array is kept as it is */
    if (cells) kind = 1;
    maskinfo_dtype dt = kind == 0 ? MASKINFO_INT32 : kind == 1 ? MASKINFO_BOOL : MASKINFO_FLOAT32;
    maskinfo_array *src = mi_to_array(L, 1);
    if (src) {
        maskinfo_array *out;
        maskinfo_dtype sd = maskinfo_array_dtype(src);
        /* dense input is read in place: an Array already of a bool or
         * float kind's dtype is returned itself (Arrays are immutable);
         * ids (int) are still copied, as the objects keep them */
        if (sd == dt && kind != 0) {
            lua_settop(L, 1);
            return 1;
        }
        int64_t n = maskinfo_array_size(src);
        if (kind == 0 && sd != MASKINFO_INT32 && sd != MASKINFO_BOOL) {
            for (int64_t i = 0; i < n; i++) {
                double v = maskinfo_array_get(src, i);
                if (v != floor(v) || isnan(v) || v < INT32_MIN || v > INT32_MAX)
                    return nested_error(L, lua_pushfstring(L, "%s value in %s array",
                        isnan(v) ? "NaN" : (v != floor(v) ? "non-integer" : "int32 overflowing"),
                        maskinfo_dtype_name(sd)));
            }
        }
        /* NaN is neither allowed nor masked */
        for (int64_t i = 0; kind == 1 && sd != MASKINFO_BOOL && sd != MASKINFO_INT32 && i < n; i++)
            if (isnan(maskinfo_array_get(src, i)))
                return nested_error(L, lua_pushfstring(L, "NaN value in %s array", maskinfo_dtype_name(sd)));
        if (cells) { /* checked, and read in place by the caller (core.dense) */
            lua_settop(L, 1);
            return 1;
        }
        int st = maskinfo_array_astype(src, dt, &out, LIMITS(L));
        if (st) return array_refused(L, st, "from_nested", dt, (double)n, MI_RETURN_REFUSALS);
        mi_push_array(L, out);
        return 1;
    }
    nest_info ni;
    memset(&ni, 0, sizeof ni);
    ni.kind = kind;
    if (lua_type(L, 1) != LUA_TTABLE)
        return nested_error(L, lua_pushfstring(L, "table or Array expected, got %s", luaL_typename(L, 1)));
    if (!nest_shape(L, 1, &ni)) return nested_error(L, ni.err);
    /* an empty innermost table means this dimension is 0 */
    maskinfo_array *a;
    int st = maskinfo_array_new(&a, dt, ni.ndim, ni.shape, LIMITS(L));
    if (st) return array_refused(L, st, "from_nested", dt, shape_count(ni.ndim, ni.shape), MI_RETURN_REFUSALS);
    mi_push_array(L, a); /* owned by Lua from here on */
    int64_t flat = 0, path[MASKINFO_MAX_DIMS];
    luaL_checkstack(L, 2 * MASKINFO_MAX_DIMS + 4, "nesting too deep");
    lua_pushvalue(L, 1);
    int ok = nest_fill(L, &ni, a, 0, &flat, path);
    lua_pop(L, 1);
    if (!ok) return nested_error(L, ni.err);
    return 1;
}

/* core.array(dtype, shape [, flat_values]) -> Array | nil, msg, status.
 * The Lua layer (Array.new) has checked the values. */
static int l_array(lua_State *L) {
    maskinfo_dtype dt = mi_check_dtype(L, 1, "array", 1, -1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer ndl = luaL_len(L, 2);
    luaL_argcheck(L, ndl >= 0 && ndl <= MASKINFO_MAX_DIMS, 2, "too many dimensions");
    int nd = (int)ndl;
    int64_t shape[MASKINFO_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        lua_geti(L, 2, i + 1);
        shape[i] = (int64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        luaL_argcheck(L, shape[i] >= 0, 2, "negative dimension");
    }
    ArrayBox *box = new_array_box(L); /* the box first: nothing leaks if it fails */
    int st = maskinfo_array_new(&box->a, dt, nd, shape, LIMITS(L));
    if (st) return array_refused(L, st, "array", dt, shape_count(nd, shape), MI_RETURN_REFUSALS);
    maskinfo_array *a = box->a;
    feel_array(L, a);
    if (lua_type(L, 3) == LUA_TTABLE) {
        int64_t n = maskinfo_array_size(a);
        luaL_argcheck(L, (int64_t)luaL_len(L, 3) == n, 3, "wrong number of values");
        for (int64_t i = 0; i < n; i++) {
            int t = lua_geti(L, 3, (lua_Integer)(i + 1));
            if (dt == MASKINFO_INT64 && lua_isinteger(L, -1)) /* exact, not through a double */
                ((int64_t *)maskinfo_array_data(a))[i] = (int64_t)lua_tointeger(L, -1);
            else
                maskinfo_array_set(a, i, t == LUA_TBOOLEAN ? lua_toboolean(L, -1) : lua_tonumber(L, -1));
            lua_pop(L, 1);
        }
    }
    return 1;
}

/* core.positions(ids_array, pad) -> int32 Array of the same shape, or
 * nil, msg, status when the guard refuses it */
static int l_positions(lua_State *L) {
    maskinfo_array *ids = mi_check_array(L, 1);
    lua_Integer pad = luaL_checkinteger(L, 2);
    luaL_argcheck(L, maskinfo_array_dtype(ids) == MASKINFO_INT32, 1, "int32 array expected");
    int nd = maskinfo_array_ndim(ids);
    luaL_argcheck(L, nd >= 1, 1, "at least 1-D expected");
    int64_t len = maskinfo_array_shape(ids)[nd - 1];
    int64_t n = maskinfo_array_size(ids);
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_INT32, nd, maskinfo_array_shape(ids), LIMITS(L));
    if (st) return mi_status(L, st, "positions", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    if (len > 0)
        maskinfo_positions_from_segments(maskinfo_array_cdata(ids), n / len, len,
                                         (int32_t)pad, maskinfo_array_data(out));
    return 1;
}

/* core.is_array(v) */
static int l_is_array(lua_State *L) {
    lua_pushboolean(L, mi_to_array(L, 1) != NULL);
    return 1;
}

/* ------------------------------------------------------------ registration */

const luaL_Reg mi_array_methods[] = {
    {"shape", array_shape},   {"dtype", array_dtype},     {"totable", array_totable},
    {"flat", array_flat},     {"astype", array_astype},   {"get", array_get},
    {"size", array_size},     {"reshape", array_reshape}, {"minmax", array_minmax},
    {"gather", array_gather}, {NULL, NULL}};

const luaL_Reg mi_array_meta[] = {
    {"__gc", array_gc},   {"__close", array_close}, {"__tostring", array_tostring},
    {"__len", array_len}, {"__eq", array_eq},    {NULL, NULL}};

const luaL_Reg mi_array_funcs[] = {
    {"from_nested", l_from_nested}, {"array", l_array}, {"positions", l_positions},
    {"is_array", l_is_array},       {NULL, NULL}};
