/*
 * core.c - the Lua 5.4 binding of the maskinfo core: module `maskinfo.core`.
 *
 * Three userdata types, in the style of liolib: Array (a dense n-d array),
 * Mask (a compact mask expression) and MaskInfo (the seed-level object whose
 * fields live in its user value; its methods are written in Lua and installed
 * by lua/maskinfo/init.lua through set_maskinfo_methods).
 *
 * Internal functions report core failures as `nil, message` so that the Lua
 * layer can name the public function in its error; argument type errors are
 * raised here with luaL_check*.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maskinfo.h"

#define ARRAY_T "maskinfo.Array"
#define MASK_T "maskinfo.Mask"
#define MASKINFO_T "maskinfo.MaskInfo"

/* upvalue 1 of every module function: the limits userdata */
#define LIMITS(L) ((maskinfo_limits *)lua_touserdata(L, lua_upvalueindex(1)))

typedef struct { maskinfo_array *a; } ArrayBox;
typedef struct { maskinfo_mask *m; } MaskBox;

/* nil, message, status: the Lua layer words the error, and can tell a
 * file failure (MASKINFO_EIO, MASKINFO_EPNG) from a refusal by the code. */
static int fail(lua_State *L, int st) {
    lua_pushnil(L);
    lua_pushstring(L, maskinfo_strerror(st));
    lua_pushinteger(L, st);
    return 3;
}

/* An error without a position prefix, like the Lua layer's errors. */
static int raise(lua_State *L, const char *fmt, const char *a, const char *b) {
    lua_pushfstring(L, fmt, a, b);
    return lua_error(L);
}

/* The type name of the value at idx, with a userdata's __name. */
static const char *type_name(lua_State *L, int idx) {
    int t = luaL_getmetafield(L, idx, "__name");
    if (t == LUA_TSTRING) {
        const char *n = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the metatable */
        return n;
    }
    if (t != LUA_TNIL) lua_pop(L, 1);
    return luaL_typename(L, idx);
}

/* ------------------------------------------------------------ Array */

/* The metatable is set before the payload exists, so a failed allocation
 * leaves a harmless empty box for the collector (liolib's newprefile). */
static ArrayBox *new_array_box(lua_State *L) {
    ArrayBox *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->a = NULL;
    luaL_setmetatable(L, ARRAY_T);
    return box;
}

static maskinfo_array *check_array(lua_State *L, int idx) {
    ArrayBox *box = luaL_checkudata(L, idx, ARRAY_T);
    if (!box->a) luaL_argerror(L, idx, "array is closed");
    return box->a;
}

static maskinfo_array *to_array(lua_State *L, int idx) {
    ArrayBox *box = luaL_testudata(L, idx, ARRAY_T);
    return box ? box->a : NULL;
}

/* Push a new Array userdata owning a. */
static void push_array(lua_State *L, maskinfo_array *a) {
    ArrayBox *box = new_array_box(L);
    box->a = a;
}

static int array_gc(lua_State *L) {
    ArrayBox *box = luaL_checkudata(L, 1, ARRAY_T);
    maskinfo_array_free(box->a);
    box->a = NULL;
    return 0;
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
    push_shape(L, check_array(L, 1));
    return 1;
}

static int array_dtype(lua_State *L) {
    lua_pushstring(L, maskinfo_dtype_name(maskinfo_array_dtype(check_array(L, 1))));
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
    maskinfo_array *a = check_array(L, 1);
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
    maskinfo_array *a = check_array(L, 1);
    int64_t n = maskinfo_array_size(a);
    lua_createtable(L, (int)(n < 1 << 26 ? n : 0), 0);
    for (int64_t i = 0; i < n; i++) {
        push_elem(L, a, i);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    return 1;
}

static int array_len(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    lua_pushinteger(L, maskinfo_array_ndim(a) ? maskinfo_array_shape(a)[0] : 0);
    return 1;
}

static int array_eq(lua_State *L) {
    maskinfo_array *a = to_array(L, 1), *b = to_array(L, 2);
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

static const char *const dtype_names[] = {"bool", "int32", "float32", "float16",
                                          "bfloat16", "int64", "uint8", NULL};

/* A dtype name at idx, raising a position-less error naming fname. */
static int check_dtype_arg(lua_State *L, int idx, const char *fname) {
    const char *name = lua_tostring(L, idx);
    for (int i = 0; name && dtype_names[i]; i++)
        if (strcmp(dtype_names[i], name) == 0) return i;
    lua_pushfstring(L,
                    "bad argument #1 to '%s' (invalid dtype '%s' (expected bool, int32, float32, "
                    "float16, bfloat16, int64 or uint8))",
                    fname, name ? name : luaL_typename(L, idx));
    return lua_error(L);
}

static int array_astype(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    int dt = check_dtype_arg(L, 2, "astype");
    maskinfo_array *out;
    int st = maskinfo_array_astype(a, (maskinfo_dtype)dt, &out, LIMITS(L));
    if (st) return raise(L, "astype: %s%s", maskinfo_strerror(st), "");
    push_array(L, out);
    return 1;
}

/* a:get(i) - flat 0-based element */
static int array_get(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    int ok;
    lua_Integer i = lua_tointegerx(L, 2, &ok);
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
    maskinfo_array *a = check_array(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int nd = (int)lua_rawlen(L, 2);
    luaL_argcheck(L, nd <= MASKINFO_MAX_DIMS, 2, "too many dimensions");
    int64_t shape[MASKINFO_MAX_DIMS];
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        lua_rawgeti(L, 2, i + 1);
        int ok;
        shape[i] = (int64_t)lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || shape[i] < 0)
            return raise(L, "bad argument #1 to 'reshape' (dimensions must be non-negative integers)", "", "");
        n = shape[i] != 0 && n > INT64_MAX / shape[i] ? -1 : n * shape[i];
    }
    if (n != maskinfo_array_size(a)) {
        lua_pushfstring(L, "bad argument #1 to 'reshape' (shape has %I elements, the array %I)",
                        (lua_Integer)n, (lua_Integer)maskinfo_array_size(a));
        return lua_error(L);
    }
    maskinfo_array *out;
    int st = maskinfo_array_copy(a, &out, LIMITS(L));
    if (st) return raise(L, "reshape: %s%s", maskinfo_strerror(st), "");
    push_array(L, out);
    st = maskinfo_array_reshape(out, nd, shape);
    if (st) return raise(L, "reshape: %s%s", maskinfo_strerror(st), "");
    return 1;
}

/* a:gather(starts, len, shape) -> a new Array of the same dtype holding,
 * for each 0-based flat start in the sequence starts, the len elements from
 * there, reshaped to shape.  The Lua layer's slicing (decode windows, head
 * 0 of per-head ids, one plane's ids) goes through here instead of copying
 * whole arrays into Lua tables. */
static int array_gather(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer len = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    int64_t ns = (int64_t)lua_rawlen(L, 2), size = maskinfo_array_size(a);
    int nd = (int)lua_rawlen(L, 4);
    luaL_argcheck(L, len >= 0 && nd <= MASKINFO_MAX_DIMS, 3, "bad length or shape");
    int64_t shape[MASKINFO_MAX_DIMS], n = 1;
    for (int i = 0; i < nd; i++) {
        lua_rawgeti(L, 4, i + 1);
        shape[i] = (int64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        n *= shape[i];
    }
    luaL_argcheck(L, n == ns * len, 4, "shape does not hold starts * len elements");
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, maskinfo_array_dtype(a), nd, shape, LIMITS(L));
    if (st) return raise(L, "gather: %s%s", maskinfo_strerror(st), "");
    push_array(L, out);
    size_t esz = maskinfo_dtype_size(maskinfo_array_dtype(a));
    const uint8_t *src = maskinfo_array_cdata(a);
    uint8_t *dst = maskinfo_array_data(out);
    for (int64_t i = 0; i < ns; i++) {
        lua_rawgeti(L, 2, (lua_Integer)(i + 1));
        lua_Integer s0 = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        luaL_argcheck(L, s0 >= 0 && s0 <= size - len, 2, "start out of range");
        memcpy(dst + (size_t)(i * len) * esz, src + (size_t)s0 * esz, (size_t)len * esz);
    }
    return 1;
}

/* a:minmax() -> min, max (nil, nil when empty) */
static int array_minmax(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    int64_t n = maskinfo_array_size(a);
    if (n == 0) return 0;
    double lo = maskinfo_array_get(a, 0), hi = lo;
    for (int64_t i = 1; i < n; i++) {
        double v = maskinfo_array_get(a, i);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (maskinfo_array_dtype(a) == MASKINFO_INT32 || maskinfo_array_dtype(a) == MASKINFO_BOOL) {
        lua_pushinteger(L, (lua_Integer)lo);
        lua_pushinteger(L, (lua_Integer)hi);
    } else {
        lua_pushnumber(L, lo);
        lua_pushnumber(L, hi);
    }
    return 2;
}

static int array_size(lua_State *L) {
    lua_pushinteger(L, maskinfo_array_size(check_array(L, 1)));
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
        lua_Unsigned n = lua_rawlen(L, -1);
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
        lua_rawgeti(L, -1, 1);
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
    if (lua_type(L, -1) != LUA_TTABLE || (int64_t)lua_rawlen(L, -1) != ni->shape[depth]) {
        path_str(where, sizeof where, path, depth);
        if (lua_type(L, -1) != LUA_TTABLE)
            snprintf(ni->err, sizeof ni->err, "ragged nested table: table expected at %s, got %s",
                     depth ? where : "top", luaL_typename(L, -1));
        else
            snprintf(ni->err, sizeof ni->err, "ragged nested table: length %lld at %s, expected %lld",
                     (long long)lua_rawlen(L, -1), depth ? where : "top",
                     (long long)ni->shape[depth]);
        return 0;
    }
    for (int64_t i = 0; i < ni->shape[depth]; i++) {
        path[depth] = i;
        lua_rawgeti(L, -1, (lua_Integer)(i + 1));
        int ok = nest_fill(L, ni, a, depth + 1, flat, path);
        lua_pop(L, 1);
        if (!ok) return 0;
    }
    return 1;
}

/*
 * core.from_nested(value, kind [, mindim, maxdim]) -> Array | nil, message
 * kind: "int" (int32), "bool", "float" (float32).  An Array argument is
 * converted to the kind's dtype (bool: non-zero).  The Lua layer turns the
 * message into an argument error naming its public function.
 */
static int l_from_nested(lua_State *L) {
    static const char *const kinds[] = {"int", "bool", "float", NULL};
    int kind = luaL_checkoption(L, 2, NULL, kinds);
    maskinfo_dtype dt = kind == 0 ? MASKINFO_INT32 : kind == 1 ? MASKINFO_BOOL : MASKINFO_FLOAT32;
    maskinfo_array *src = to_array(L, 1);
    if (src) {
        maskinfo_array *out;
        if (kind == 0) {
            maskinfo_dtype sd = maskinfo_array_dtype(src);
            if (sd != MASKINFO_INT32 && sd != MASKINFO_BOOL) {
                int64_t n = maskinfo_array_size(src);
                for (int64_t i = 0; i < n; i++) {
                    double v = maskinfo_array_get(src, i);
                    if (v != floor(v) || isnan(v) || v < INT32_MIN || v > INT32_MAX) {
                        lua_pushnil(L);
                        lua_pushfstring(L, "%s value in %s array",
                                        isnan(v) ? "NaN" : (v != floor(v) ? "non-integer" : "int32 overflowing"),
                                        maskinfo_dtype_name(sd));
                        return 2;
                    }
                }
            }
        }
        if (kind == 1) { /* NaN is neither allowed nor masked */
            maskinfo_dtype sd = maskinfo_array_dtype(src);
            int64_t n = maskinfo_array_size(src);
            for (int64_t i = 0; sd != MASKINFO_BOOL && sd != MASKINFO_INT32 && i < n; i++)
                if (isnan(maskinfo_array_get(src, i))) {
                    lua_pushnil(L);
                    lua_pushfstring(L, "NaN value in %s array", maskinfo_dtype_name(sd));
                    return 2;
                }
        }
        int st = maskinfo_array_astype(src, dt, &out, LIMITS(L));
        if (st) return fail(L, st);
        push_array(L, out);
        return 1;
    }
    nest_info ni;
    memset(&ni, 0, sizeof ni);
    ni.kind = kind;
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushnil(L);
        lua_pushfstring(L, "table or Array expected, got %s", luaL_typename(L, 1));
        return 2;
    }
    if (!nest_shape(L, 1, &ni)) {
        lua_pushnil(L);
        lua_pushstring(L, ni.err);
        return 2;
    }
    /* an empty innermost table means this dimension is 0 */
    maskinfo_array *a;
    int st = maskinfo_array_new(&a, dt, ni.ndim, ni.shape, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, a); /* owned by Lua from here on */
    int64_t flat = 0, path[MASKINFO_MAX_DIMS];
    luaL_checkstack(L, 2 * MASKINFO_MAX_DIMS + 4, "nesting too deep");
    lua_pushvalue(L, 1);
    int ok = nest_fill(L, &ni, a, 0, &flat, path);
    lua_pop(L, 1);
    if (!ok) {
        lua_pushnil(L);
        lua_pushstring(L, ni.err);
        return 2;
    }
    return 1;
}

/* core.array(dtype, shape [, flat_values]) */
static int l_array(lua_State *L) {
    int dt = luaL_checkoption(L, 1, NULL, dtype_names);
    luaL_checktype(L, 2, LUA_TTABLE);
    int nd = (int)lua_rawlen(L, 2);
    luaL_argcheck(L, nd <= MASKINFO_MAX_DIMS, 2, "too many dimensions");
    int64_t shape[MASKINFO_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        lua_rawgeti(L, 2, i + 1);
        shape[i] = (int64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        luaL_argcheck(L, shape[i] >= 0, 2, "negative dimension");
    }
    maskinfo_array *a;
    int st = maskinfo_array_new(&a, (maskinfo_dtype)dt, nd, shape, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, a);
    if (lua_type(L, 3) == LUA_TTABLE) {
        int64_t n = maskinfo_array_size(a);
        luaL_argcheck(L, (int64_t)lua_rawlen(L, 3) == n, 3, "wrong number of values");
        for (int64_t i = 0; i < n; i++) {
            int t = lua_rawgeti(L, 3, (lua_Integer)(i + 1));
            double v = t == LUA_TBOOLEAN ? lua_toboolean(L, -1) : lua_tonumber(L, -1);
            maskinfo_array_set(a, i, v);
            lua_pop(L, 1);
        }
    }
    return 1;
}

/* core.positions(ids_array, pad [, fname]) -> int32 array of the same
 * shape; a guard refusal is raised in fname's name */
static int l_positions(lua_State *L) {
    maskinfo_array *ids = check_array(L, 1);
    lua_Integer pad = luaL_checkinteger(L, 2);
    const char *fname = luaL_optstring(L, 3, "positions");
    luaL_argcheck(L, maskinfo_array_dtype(ids) == MASKINFO_INT32, 1, "int32 array expected");
    int nd = maskinfo_array_ndim(ids);
    luaL_argcheck(L, nd >= 1, 1, "at least 1-D expected");
    int64_t len = maskinfo_array_shape(ids)[nd - 1];
    int64_t n = maskinfo_array_size(ids);
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_INT32, nd, maskinfo_array_shape(ids), LIMITS(L));
    if (st) return raise(L, "%s: %s", fname, maskinfo_strerror(st));
    push_array(L, out);
    if (len > 0)
        maskinfo_positions_from_segments(maskinfo_array_cdata(ids), n / len, len,
                                         (int32_t)pad, maskinfo_array_data(out));
    return 1;
}

/* ------------------------------------------------------------ Mask */

static MaskBox *new_mask_box(lua_State *L) {
    MaskBox *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->m = NULL;
    luaL_setmetatable(L, MASK_T);
    return box;
}

static maskinfo_mask *check_mask(lua_State *L, int idx) {
    MaskBox *box = luaL_checkudata(L, idx, MASK_T);
    if (!box->m) luaL_argerror(L, idx, "mask is closed");
    return box->m;
}

/* Push the result of a mask constructor: the mask or nil, message. */
static int push_mask_result(lua_State *L, MaskBox *box, int st, maskinfo_mask *m) {
    if (st) {
        lua_pop(L, 1); /* the empty box */
        return fail(L, st);
    }
    box->m = m;
    return 1;
}

static int mask_gc(lua_State *L) {
    MaskBox *box = luaL_checkudata(L, 1, MASK_T);
    maskinfo_mask_unref(box->m);
    box->m = NULL;
    return 0;
}

static int mask_tostring(lua_State *L) {
    MaskBox *box = luaL_checkudata(L, 1, MASK_T);
    if (!box->m) {
        lua_pushliteral(L, "Mask(closed)");
        return 1;
    }
    int64_t s[4];
    maskinfo_mask_shape(box->m, s);
    lua_pushfstring(L, "Mask(shape=(%I, %I, %I, %I), %s)", (lua_Integer)s[0],
                    (lua_Integer)s[1], (lua_Integer)s[2], (lua_Integer)s[3],
                    maskinfo_mask_is_dense(box->m) ? "dense" : "structured");
    return 1;
}

static int mask_shape(lua_State *L) {
    int64_t s[4];
    maskinfo_mask_shape(check_mask(L, 1), s);
    for (int i = 0; i < 4; i++) lua_pushinteger(L, s[i]);
    return 4;
}

static int mask_is_dense(lua_State *L) {
    lua_pushboolean(L, maskinfo_mask_is_dense(check_mask(L, 1)));
    return 1;
}

static int mask_bytes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)maskinfo_mask_bytes(check_mask(L, 1)));
    return 1;
}

/* int64 vector from an integer, a sequence or nil (-> NULL), length n */
static int64_t *opt_i64(lua_State *L, int idx, int64_t n, int64_t dflt, int *given) {
    int64_t *v = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *v, 0);
    if (given) *given = !lua_isnoneornil(L, idx);
    if (lua_isnoneornil(L, idx)) {
        for (int64_t i = 0; i < n; i++) v[i] = dflt;
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        luaL_argcheck(L, (int64_t)lua_rawlen(L, idx) == n, idx, "wrong length");
        for (int64_t i = 0; i < n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)(i + 1));
            int ok;
            v[i] = (int64_t)lua_tointegerx(L, -1, &ok);
            if (!ok) luaL_argerror(L, idx, "integers expected");
            lua_pop(L, 1);
        }
    } else {
        int64_t x = (int64_t)luaL_checkinteger(L, idx);
        for (int64_t i = 0; i < n; i++) v[i] = x;
    }
    return v; /* a userdata left on the stack keeps it alive */
}

static int64_t check_size(lua_State *L, int idx) {
    lua_Integer v = luaL_checkinteger(L, idx);
    luaL_argcheck(L, v >= 0, idx, "non-negative size expected");
    return (int64_t)v;
}


/* ids -> int64 values with the no-match sentinel for invalid entries.
 * mode 0: segments (id < 0 never matches); 1: token types with zeros
 * disabled; 2: token types, every value matches. */
static int64_t *ids_to_values(lua_State *L, maskinfo_array *a, int mode, int64_t nomatch) {
    int64_t n = maskinfo_array_size(a);
    int64_t *v = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *v, 0);
    const int32_t *d = maskinfo_array_cdata(a);
    for (int64_t i = 0; i < n; i++) {
        int32_t x = d[i];
        v[i] = (mode == 0 && x < 0) || (mode == 1 && x == 0) ? nomatch : x;
    }
    return v;
}

/* core.segments(q_ids, kv_ids [, qmode, kvmode]) with int32 arrays of shape
 * (B, L) or (B, H, L). */
static int l_segments(lua_State *L) {
    maskinfo_array *q = check_array(L, 1), *kv = check_array(L, 2);
    int qmode = (int)luaL_optinteger(L, 3, 0), kvmode = (int)luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, maskinfo_array_dtype(q) == MASKINFO_INT32, 1, "int32 array expected");
    luaL_argcheck(L, maskinfo_array_dtype(kv) == MASKINFO_INT32, 2, "int32 array expected");
    int nq = maskinfo_array_ndim(q), nk = maskinfo_array_ndim(kv);
    luaL_argcheck(L, nq == 2 || nq == 3, 1, "2-D or 3-D ids expected");
    luaL_argcheck(L, nk == 2 || nk == 3, 2, "2-D or 3-D ids expected");
    const int64_t *qs = maskinfo_array_shape(q), *ks = maskinfo_array_shape(kv);
    int64_t B = qs[0], Hq = nq == 3 ? qs[1] : 1, Hk = nk == 3 ? ks[1] : 1;
    int64_t Q = qs[nq - 1], K = ks[nk - 1];
    if (ks[0] != B) {
        lua_pushnil(L);
        lua_pushfstring(L, "batch sizes differ (%I and %I)", (lua_Integer)B, (lua_Integer)ks[0]);
        return 2;
    }
    int64_t *qv = ids_to_values(L, q, qmode, MASKINFO_NOMATCH_Q);
    int64_t *kvv = ids_to_values(L, kv, kvmode, MASKINFO_NOMATCH_KV);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_segments(&m, B, Hq, Hk, Q, K, qv, kvv);
    return push_mask_result(L, box, st, m);
}

static int l_dense(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_from_array(&m, a, LIMITS(L));
    return push_mask_result(L, box, st, m);
}

static int l_random(lua_State *L) {
    int64_t B = check_size(L, 1), H = check_size(L, 2), Q = check_size(L, 3), K = check_size(L, 4);
    double p = luaL_checknumber(L, 5);
    lua_Integer seed = luaL_checkinteger(L, 6);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_random(&m, B, H, Q, K, p, (uint64_t)seed, LIMITS(L));
    return push_mask_result(L, box, st, m);
}

/* core.causal(B, Q, K, off) */
static int l_causal(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    int64_t *off = opt_i64(L, 4, B, 0, NULL);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_causal(&m, B, Q, K, off);
    return push_mask_result(L, box, st, m);
}

/* core.window(B, Q, K, left, right, off): left/right integers or per-head */
static int l_window(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    int64_t nh = 1;
    if (lua_type(L, 4) == LUA_TTABLE) nh = (int64_t)lua_rawlen(L, 4);
    else if (lua_type(L, 5) == LUA_TTABLE) nh = (int64_t)lua_rawlen(L, 5);
    luaL_argcheck(L, nh >= 1, 4, "at least one window expected");
    int64_t *left = opt_i64(L, 4, nh, 0, NULL);
    int64_t *right = opt_i64(L, 5, nh, 0, NULL);
    int64_t *off = opt_i64(L, 6, B, 0, NULL);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_window(&m, B, Q, K, nh, left, right, off);
    return push_mask_result(L, box, st, m);
}

static int l_chunked(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    lua_Integer chunk = luaL_checkinteger(L, 4);
    int64_t *off = opt_i64(L, 5, B, 0, NULL);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_chunked(&m, B, Q, K, chunk, off);
    return push_mask_result(L, box, st, m);
}

/* core.key_range(B, Q, K, lo, hi) */
static int l_key_range(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    int64_t *lo = opt_i64(L, 4, B, 0, NULL);
    int64_t *hi = opt_i64(L, 5, B, K, NULL);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_key_range(&m, B, Q, K, lo, hi);
    return push_mask_result(L, box, st, m);
}

/* core.intervals(B, H, Q, K, offsets, iv): offsets has B*H*Q+1 0-based
 * entries, iv the flat lo,hi pairs. */
static int l_intervals(lua_State *L) {
    int64_t B = check_size(L, 1), H = check_size(L, 2), Q = check_size(L, 3), K = check_size(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    luaL_checktype(L, 6, LUA_TTABLE);
    int64_t rows = B * H * Q;
    luaL_argcheck(L, (int64_t)lua_rawlen(L, 5) == rows + 1, 5, "wrong length");
    int64_t *off = opt_i64(L, 5, rows + 1, 0, NULL);
    int64_t n = (int64_t)lua_rawlen(L, 6);
    luaL_argcheck(L, n % 2 == 0 && off[rows] * 2 == n, 6, "wrong length");
    int64_t *iv = opt_i64(L, 6, n, 0, NULL);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_from_intervals(&m, B, H, Q, K, off, iv, LIMITS(L));
    return push_mask_result(L, box, st, m);
}

static int l_stack_heads(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t n = (int64_t)lua_rawlen(L, 1);
    luaL_argcheck(L, n >= 1, 1, "at least one mask expected");
    maskinfo_mask **parts = lua_newuserdatauv(L, (size_t)n * sizeof *parts, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)(i + 1));
        parts[i] = check_mask(L, -1);
        lua_pop(L, 1); /* still referenced by the table */
    }
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_stack_heads(&m, parts, n);
    return push_mask_result(L, box, st, m);
}

static int mask_binary(lua_State *L, int which) {
    maskinfo_mask *a = check_mask(L, 1), *b = which == 2 ? NULL : check_mask(L, 2);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st;
    switch (which) {
    case 0: st = maskinfo_mask_and(&m, a, b); break;
    case 1: st = maskinfo_mask_or(&m, a, b); break;
    case 2: st = maskinfo_mask_not(&m, a); break;
    default: st = maskinfo_mask_andnot(&m, a, b); break;
    }
    return push_mask_result(L, box, st, m);
}
static int mask_and(lua_State *L) { return mask_binary(L, 0); }
static int mask_or(lua_State *L) { return mask_binary(L, 1); }
static int mask_not(lua_State *L) { return mask_binary(L, 2); }
static int mask_andnot(lua_State *L) { return mask_binary(L, 3); }

/* m:slice(qstart, newQ, kstart, newK): starts are integers or per batch */
static int mask_slice(lua_State *L) {
    maskinfo_mask *a = check_mask(L, 1);
    int64_t s[4];
    maskinfo_mask_shape(a, s);
    int64_t *qs = opt_i64(L, 2, s[0], 0, NULL);
    int64_t nq = check_size(L, 3);
    int64_t *ks = opt_i64(L, 4, s[0], 0, NULL);
    int64_t nk = check_size(L, 5);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_slice(&m, a, qs, nq, ks, nk);
    return push_mask_result(L, box, st, m);
}


/* m:count() -> total, per-head counts as an int64 Array (B, H): exact,
 * since a head of a 1M-token mask holds more than 2^31 cells */
static int mask_count(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_array *ph;
    int st = maskinfo_array_new(&ph, MASKINFO_INT64, 2, s, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, ph);
    uint64_t total;
    st = maskinfo_mask_count(m, &total, maskinfo_array_data(ph), LIMITS(L));
    if (st) return fail(L, st);
    lua_pushinteger(L, (lua_Integer)total);
    lua_insert(L, -2);
    return 2;
}

/* m:row(b, h, q) -> flat {lo1, hi1, ...} (0-based, half-open) */
static int mask_row(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3), q = luaL_checkinteger(L, 4);
    maskinfo_scratch *s = maskinfo_scratch_new();
    if (!s) return fail(L, MASKINFO_ENOMEM);
    const int64_t *iv;
    int64_t n;
    int st = maskinfo_mask_row(m, b, h, q, s, &iv, &n);
    if (st) {
        maskinfo_scratch_free(s);
        return fail(L, st);
    }
    lua_createtable(L, (int)(2 * n), 0);
    for (int64_t i = 0; i < 2 * n; i++) {
        lua_pushinteger(L, iv[i]);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    maskinfo_scratch_free(s);
    return 1;
}

static int mask_get(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    int v;
    int st = maskinfo_mask_get(m, luaL_checkinteger(L, 2), luaL_checkinteger(L, 3),
                               luaL_checkinteger(L, 4), luaL_checkinteger(L, 5), &v);
    if (st) return fail(L, st);
    lua_pushboolean(L, v);
    return 1;
}

static int mask_to_array(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    int dt = luaL_checkoption(L, 2, "bool", dtype_names);
    maskinfo_array *out;
    int st = maskinfo_mask_to_array(m, (maskinfo_dtype)dt, &out, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, out);
    return 1;
}

static int mask_to_bias(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    int dt = luaL_checkoption(L, 2, "float32", dtype_names);
    maskinfo_array *out;
    int st = maskinfo_mask_to_bias(m, (maskinfo_dtype)dt, &out, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, out);
    return 1;
}

/* m:segment_ids(per_head) -> q_ids, kv_ids (int32 Arrays) */
static int mask_segment_ids(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    int per_head = lua_toboolean(L, 2);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    int64_t qs[3] = {s[0], s[1], s[2]}, ks[3] = {s[0], s[1], s[3]};
    if (!per_head) {
        qs[1] = s[2];
        ks[1] = s[3];
    }
    maskinfo_array *qa, *ka;
    int st = maskinfo_array_new(&qa, MASKINFO_INT32, per_head ? 3 : 2, qs, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, qa);
    st = maskinfo_array_new(&ka, MASKINFO_INT32, per_head ? 3 : 2, ks, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, ka);
    st = maskinfo_mask_segment_ids(m, per_head, maskinfo_array_data(qa), maskinfo_array_data(ka), LIMITS(L));
    if (st) return fail(L, st);
    return 2;
}

/* m:validity(mode) -> q_valid (B, Q), kv_valid (B, K) bool Arrays */
static int mask_validity(lua_State *L) {
    static const char *const modes[] = {"any", "all", "first", NULL};
    maskinfo_mask *m = check_mask(L, 1);
    int mode = luaL_checkoption(L, 2, "any", modes);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    int64_t qs[2] = {s[0], s[2]}, ks[2] = {s[0], s[3]};
    maskinfo_array *qa, *ka;
    int st = maskinfo_array_new(&qa, MASKINFO_BOOL, 2, qs, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, qa);
    st = maskinfo_array_new(&ka, MASKINFO_BOOL, 2, ks, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, ka);
    st = maskinfo_mask_validity(m, mode, maskinfo_array_data(qa), maskinfo_array_data(ka), LIMITS(L));
    if (st) return fail(L, st);
    return 2;
}

/* m:empty_rows() -> count, flags Array (B, H, Q) bool */
static int mask_empty_rows(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_array *fa;
    int st = maskinfo_array_new(&fa, MASKINFO_BOOL, 3, s, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, fa);
    uint64_t count;
    st = maskinfo_mask_empty_rows(m, &count, maskinfo_array_data(fa), LIMITS(L));
    if (st) return fail(L, st);
    lua_pushinteger(L, (lua_Integer)count);
    lua_insert(L, -2);
    return 2;
}

/* a:diff(b) -> ndiff, {b, h, q, k} or nil */
static int mask_diff(lua_State *L) {
    maskinfo_mask *a = check_mask(L, 1), *b = check_mask(L, 2);
    uint64_t n;
    int64_t first[4];
    int st = maskinfo_mask_diff(a, b, &n, first, LIMITS(L));
    if (st) return fail(L, st);
    lua_pushinteger(L, (lua_Integer)n);
    if (n == 0) {
        lua_pushnil(L);
    } else {
        lua_createtable(L, 4, 0);
        for (int i = 0; i < 4; i++) {
            lua_pushinteger(L, first[i]);
            lua_rawseti(L, -2, i + 1);
        }
    }
    return 2;
}

/* m:grid_counts(b, h, row_edges, col_edges) -> int64 Array (rows, cols) */
static int mask_grid_counts(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    int64_t nr = (int64_t)lua_rawlen(L, 4) - 1, nc = (int64_t)lua_rawlen(L, 5) - 1;
    luaL_argcheck(L, nr >= 0, 4, "at least one edge expected");
    luaL_argcheck(L, nc >= 0, 5, "at least one edge expected");
    int64_t *re = opt_i64(L, 4, nr + 1, 0, NULL), *ce = opt_i64(L, 5, nc + 1, 0, NULL);
    int64_t shape[2] = {nr, nc};
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_INT64, 2, shape, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, out);
    st = maskinfo_mask_grid_counts(m, b, h, re, nr, ce, nc, maskinfo_array_data(out), LIMITS(L));
    if (st) return fail(L, st);
    return 1;
}

/* ids table/Array for the renderers: int32 vector of length n or NULL */
static const int32_t *opt_ids(lua_State *L, int idx, int64_t n) {
    if (lua_isnoneornil(L, idx)) return NULL;
    maskinfo_array *a = check_array(L, idx);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_INT32 && maskinfo_array_size(a) == n,
                  idx, "int32 ids of the plane's length expected");
    return maskinfo_array_cdata(a);
}

static int64_t field_int(lua_State *L, int t, const char *k, int64_t dflt) {
    lua_getfield(L, t, k);
    int64_t v = lua_isnil(L, -1) ? dflt : (int64_t)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
}

static int field_bool(lua_State *L, int t, const char *k, int dflt) {
    lua_getfield(L, t, k);
    int v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* m:render_text(opts, q_ids, kv_ids, shape_str); the Lua layer validates */
static int mask_render_text(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_text_opts o;
    o.block_q = field_int(L, 2, "block_q", 32);
    o.block_kv = field_int(L, 2, "block_kv", 32);
    o.batch = field_int(L, 2, "batch", 0);
    o.head = field_int(L, 2, "head", 0);
    o.fit_in_screen = field_bool(L, 2, "fit_in_screen", 1);
    o.max_rows = field_int(L, 2, "max_rows", 32);
    o.max_cols = field_int(L, 2, "max_cols", 64);
    o.ascii = field_bool(L, 2, "ascii", 0);
    o.show_segments = field_bool(L, 2, "show_segments", 1);
    const int32_t *qi = opt_ids(L, 3, s[2]), *ki = opt_ids(L, 4, s[3]);
    const char *shape_str = luaL_checkstring(L, 5);
    char *out = NULL;
    size_t len = 0;
    int st = maskinfo_render_text(m, &o, qi, ki, shape_str, &out, &len, LIMITS(L));
    if (st) return fail(L, st);
    lua_pushlstring(L, out, len);
    free(out);
    return 1;
}

static const char *const cmap_names[] = {"grey", "viridis", "magma", NULL};

static void png_opts_from(lua_State *L, int t, maskinfo_png_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = field_int(L, t, "batch", 0);
    o->head = field_int(L, t, "head", 0);
    o->scale = field_int(L, t, "scale", 0);
    o->width = field_int(L, t, "width", 0);
    o->height = field_int(L, t, "height", 0);
    o->plain = field_bool(L, t, "plain", 0);
    o->show_segments = field_bool(L, t, "show_segments", 1);
    lua_getfield(L, t, "grid");
    o->grid_lines = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "colormap");
    o->cmap = lua_isnil(L, -1) ? MASKINFO_CMAP_GREY
                               : (maskinfo_colormap)luaL_checkoption(L, -1, NULL, cmap_names);
    lua_pop(L, 1);
    lua_getfield(L, t, "title");
    o->title = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the options table */
}

/* m:render_png(path, opts [, q_ids, kv_ids]) -> width, height */
static int mask_render_png(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    const char *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_png_opts o;
    png_opts_from(L, 3, &o);
    o.q_ids = opt_ids(L, 4, s[2]);
    o.kv_ids = opt_ids(L, 5, s[3]);
    int64_t w, h;
    int st = maskinfo_render_png(m, path, &o, &w, &h, LIMITS(L));
    if (st) return fail(L, st);
    lua_pushinteger(L, w);
    lua_pushinteger(L, h);
    return 2;
}

/* core.render_png_grid(path, {masks}, {opts...}, columns, {q_ids}, {kv_ids}) */
static int l_render_png_grid(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer columns = luaL_checkinteger(L, 4);
    int64_t n = (int64_t)lua_rawlen(L, 2);
    luaL_argcheck(L, n >= 1, 2, "at least one mask expected");
    const maskinfo_mask **ms = lua_newuserdatauv(L, (size_t)n * sizeof *ms, 0);
    maskinfo_png_opts *opts = lua_newuserdatauv(L, (size_t)n * sizeof *opts, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)(i + 1));
        ms[i] = check_mask(L, -1);
        lua_pop(L, 1);
        lua_rawgeti(L, 3, (lua_Integer)(i + 1));
        luaL_checktype(L, -1, LUA_TTABLE);
        png_opts_from(L, lua_gettop(L), &opts[i]);
        int64_t s[4];
        maskinfo_mask_shape(ms[i], s);
        lua_getfield(L, -1, "q_ids");
        opts[i].q_ids = opt_ids(L, lua_gettop(L), s[2]);
        lua_getfield(L, -2, "kv_ids");
        opts[i].kv_ids = opt_ids(L, lua_gettop(L), s[3]);
        lua_pop(L, 3);
    }
    int64_t w, h;
    int st = maskinfo_render_png_grid(ms, opts, n, columns, path, &w, &h, LIMITS(L));
    if (st) return fail(L, st);
    lua_pushinteger(L, w);
    lua_pushinteger(L, h);
    return 2;
}

/* ------------------------------------------------------------ exports */

/* core.write_npy(array, path) -> true | nil, message, status */
static int l_write_npy(lua_State *L) {
    maskinfo_array *a = check_array(L, 1);
    int st = maskinfo_write_npy(a, luaL_checkstring(L, 2));
    if (st) return fail(L, st);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.write_safetensors(path, {names}, {arrays}) -> true | nil, msg, status */
static int l_write_safetensors(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    int64_t n = (int64_t)lua_rawlen(L, 2);
    luaL_argcheck(L, n >= 1 && (int64_t)lua_rawlen(L, 3) == n, 3, "one Array per name expected");
    const char **names = lua_newuserdatauv(L, (size_t)n * sizeof *names, 0);
    const maskinfo_array **arrays = lua_newuserdatauv(L, (size_t)n * sizeof *arrays, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)(i + 1));
        names[i] = luaL_checkstring(L, -1); /* kept alive by the table */
        lua_pop(L, 1);
        lua_rawgeti(L, 3, (lua_Integer)(i + 1));
        arrays[i] = check_array(L, -1);
        lua_pop(L, 1);
    }
    int st = maskinfo_write_safetensors(names, arrays, n, path);
    if (st) return fail(L, st);
    lua_pushboolean(L, 1);
    return 1;
}

/* m:block_classes(bq, bk) -> uint8 Array (B, H, Qb, Kb) */
static int mask_block_classes(lua_State *L) {
    maskinfo_mask *m = check_mask(L, 1);
    lua_Integer bq = luaL_checkinteger(L, 2), bk = luaL_checkinteger(L, 3);
    maskinfo_array *out;
    int st = maskinfo_mask_block_classes(m, bq, bk, &out, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, out);
    return 1;
}

/* core.block_table(classes, want_class, transpose) -> num, idx */
static int l_block_table(lua_State *L) {
    maskinfo_array *c = check_array(L, 1);
    int want = (int)luaL_checkinteger(L, 2), transpose = lua_toboolean(L, 3);
    maskinfo_array *num, *idx;
    int st = maskinfo_block_table(c, want, transpose, &num, &idx, LIMITS(L));
    if (st) return fail(L, st);
    push_array(L, num);
    push_array(L, idx);
    return 2;
}

/* ------------------------------------------------------------ MaskInfo */

/* core.wrap(fields) -> MaskInfo userdata whose user value is fields */
static int l_wrap(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_newuserdatauv(L, 1, 1);
    luaL_setmetatable(L, MASKINFO_T);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* core.fields(mi [, fname]) -> the fields table; a non-MaskInfo is an
 * argument error naming fname (the public method being called). */
static int l_fields(lua_State *L) {
    if (!luaL_testudata(L, 1, MASKINFO_T)) {
        const char *fname = luaL_optstring(L, 2, "?");
        /* no position prefix: the same text as the Lua layer's errors */
        lua_pushfstring(L, "bad argument #1 to '%s' (MaskInfo expected, got %s)", fname,
                        type_name(L, 1));
        return lua_error(L);
    }
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
        lua_pushfstring(L, "bad argument #1 to '%s' (MaskInfo is closed)", luaL_optstring(L, 2, "?"));
        return lua_error(L);
    }
    return 1;
}

/* __close and __gc: drop the fields (they may be shared with other
 * MaskInfos, so nothing is freed here; the collector frees what is no
 * longer referenced).  Idempotent. */
static int maskinfo_close(lua_State *L) {
    luaL_checkudata(L, 1, MASKINFO_T);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
    return 0;
}

/* core.is_open(mi): a MaskInfo that __close has not emptied */
static int l_is_open(lua_State *L) {
    int open = luaL_testudata(L, 1, MASKINFO_T) && lua_getiuservalue(L, 1, 1) == LUA_TTABLE;
    lua_pushboolean(L, open);
    return 1;
}

static int l_is_maskinfo(lua_State *L) {
    lua_pushboolean(L, luaL_testudata(L, 1, MASKINFO_T) != NULL);
    return 1;
}

static int l_is_array(lua_State *L) {
    lua_pushboolean(L, to_array(L, 1) != NULL);
    return 1;
}


/* core.set_maskinfo_methods(methods, metamethods): __index = methods, and
 * each metamethod (__tostring, __band, ...) copied into the metatable. */
static int l_set_methods(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_getmetatable(L, MASKINFO_T);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "__index");
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    return 0;
}

static int l_set_max_bytes(lua_State *L) {
    lua_Integer v = luaL_checkinteger(L, 1);
    luaL_argcheck(L, v >= 0, 1, "non-negative byte count expected");
    maskinfo_limits *lim = LIMITS(L);
    lua_pushinteger(L, (lua_Integer)lim->max_bytes);
    lim->max_bytes = (uint64_t)v;
    return 1;
}

static int l_get_max_bytes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)LIMITS(L)->max_bytes);
    return 1;
}

static int l_check_alloc(lua_State *L) {
    lua_Number n = luaL_checknumber(L, 1), sz = luaL_checknumber(L, 2);
    int st;
    if (n < 0 || sz < 0) st = MASKINFO_EINVAL;
    else if (n * sz > 9.2e18) st = MASKINFO_EOVERFLOW;
    else st = maskinfo_check_alloc(LIMITS(L), (uint64_t)n, (uint64_t)sz);
    if (st) return fail(L, st);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.now() -> monotonic seconds (for bench/; os.clock is CPU time) */
static int l_now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static int l_strerror(lua_State *L) {
    lua_pushstring(L, maskinfo_strerror((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* ------------------------------------------------------------ registration */

static const luaL_Reg array_methods[] = {
    {"shape", array_shape},   {"dtype", array_dtype}, {"totable", array_totable},
    {"flat", array_flat},     {"astype", array_astype}, {"get", array_get},
    {"size", array_size},     {"reshape", array_reshape}, {"minmax", array_minmax},
    {"gather", array_gather},
    {NULL, NULL}};

static const luaL_Reg mask_methods[] = {
    {"shape", mask_shape},       {"is_dense", mask_is_dense}, {"bytes", mask_bytes},
    {"and_", mask_and},          {"or_", mask_or},            {"not_", mask_not},
    {"andnot", mask_andnot},     {"slice", mask_slice},       
    {"count", mask_count},       {"row", mask_row},           {"get", mask_get},
    {"to_array", mask_to_array}, {"to_bias", mask_to_bias},   {"segment_ids", mask_segment_ids},
    {"validity", mask_validity}, {"empty_rows", mask_empty_rows}, {"diff", mask_diff},
    {"grid_counts", mask_grid_counts}, {"render_text", mask_render_text},
    {"render_png", mask_render_png}, {"block_classes", mask_block_classes}, {NULL, NULL}};

static const luaL_Reg module_funcs[] = {
    {"from_nested", l_from_nested}, {"array", l_array},       {"positions", l_positions},
    {"segments", l_segments},       {"dense", l_dense},
    {"random", l_random},           {"causal", l_causal},     {"window", l_window},
    {"chunked", l_chunked},         {"key_range", l_key_range}, {"intervals", l_intervals},
    {"stack_heads", l_stack_heads}, {"render_png_grid", l_render_png_grid},
    {"wrap", l_wrap},               {"fields", l_fields},     {"is_maskinfo", l_is_maskinfo},
    {"is_open", l_is_open},
    {"is_array", l_is_array},       {"set_maskinfo_methods", l_set_methods},
    {"set_max_bytes", l_set_max_bytes}, {"get_max_bytes", l_get_max_bytes},
    {"check_alloc", l_check_alloc},
    {"strerror", l_strerror},       {"now", l_now},
    {"write_npy", l_write_npy},     {"write_safetensors", l_write_safetensors},
    {"block_table", l_block_table}, {NULL, NULL}};

/* metatable with __index = methods, __gc and __close = gc, __tostring */
static void new_type(lua_State *L, const char *name, const luaL_Reg *methods,
                     lua_CFunction gc, lua_CFunction tostr, int nup_limits) {
    luaL_newmetatable(L, name);
    lua_newtable(L);
    lua_pushvalue(L, nup_limits);
    luaL_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    if (gc) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__close");
    }
    if (tostr) {
        lua_pushcfunction(L, tostr);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

int luaopen_maskinfo_core(lua_State *L) {
    maskinfo_limits *lim = lua_newuserdatauv(L, sizeof *lim, 0);
    lim->max_bytes = 0;
    const char *env = getenv("MASKINFO_MAX_BYTES");
    if (env && *env) lim->max_bytes = strtoull(env, NULL, 10);
    int limits_idx = lua_gettop(L);
    new_type(L, ARRAY_T, array_methods, array_gc, array_tostring, limits_idx);
    luaL_getmetatable(L, ARRAY_T);
    lua_pushcfunction(L, array_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, array_eq);
    lua_setfield(L, -2, "__eq");
    lua_pop(L, 1);
    new_type(L, MASK_T, mask_methods, mask_gc, mask_tostring, limits_idx);
    luaL_newmetatable(L, MASKINFO_T);
    lua_pushliteral(L, "MaskInfo");
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, maskinfo_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, maskinfo_close);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, limits_idx);
    luaL_setfuncs(L, module_funcs, 1);
    return 1;
}
