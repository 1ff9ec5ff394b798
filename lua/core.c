/*
 * core.c - the Lua 5.4 binding of the maskinfo core: module `maskinfo.core`.
 *
 * The binding is split by type, in the style of liolib: array.c (Array),
 * mask.c (Mask), render.c and export.c (functions and Mask methods of those
 * concerns).  This file opens the module: the limits (the memory guard of
 * this Lua state, upvalue 1 of every function), the status and dtype
 * tables, the version, the one error helper, and the boxes that hold the
 * fields of the Lua layer's objects (the MaskInfo metatable is made in
 * Lua, by maskinfo/object.lua).
 *
 * The error contract: misuse raises ("bad argument #n to 'f' (...)" or
 * "f: message", no position prefix); refusals and file failures return
 * nil, message, status, where status is a key of core.status ("EIO", ...).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binding.h"

/* ------------------------------------------------------------ errors */

/* bytes for people, "4.0 KiB", into buf */
static const char *human(char *buf, size_t n, double bytes) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int i = 0;
    while (bytes >= 1024 && i < 6) bytes /= 1024, i++;
    snprintf(buf, n, "%.1f %s", bytes, units[i]);
    return buf;
}

/* "limit 12.0 GiB" of this state's guard (0 = the core's 12 GiB default,
 * see maskinfo_limits) */
static const char *limit_text(lua_State *L, char *buf, size_t n) {
    const maskinfo_limits *lim = lua_touserdata(L, lua_upvalueindex(1));
    uint64_t max = lim && lim->max_bytes ? lim->max_bytes : (UINT64_C(12) << 30);
    char h[32];
    snprintf(buf, n, "limit %s, see maskinfo.set_memory_limit", human(h, sizeof h, (double)max));
    return buf;
}

/* the message at the top as a refusal (nil, msg, status) or raised */
static int finish(lua_State *L, int st, const char *fname, const char *msg, int how) {
    int returned = st == MASKINFO_ENOMEM || st == MASKINFO_ETOOBIG || st == MASKINFO_EOVERFLOW ||
                   st == MASKINFO_EIO || st == MASKINFO_EPNG;
    if (!returned || how == MI_RAISE_REFUSALS) {
        lua_pushfstring(L, "%s: %s", fname, msg);
        return lua_error(L);
    }
    lua_pushnil(L);
    lua_insert(L, -2);
    const char *name = maskinfo_status_name(st);
    lua_pushstring(L, name ? name : "EUNKNOWN");
    return 3;
}

int mi_refuse(lua_State *L, int st, const char *fname, const char *what, double bytes, int how) {
    if (st != MASKINFO_ETOOBIG && st != MASKINFO_EOVERFLOW && st != MASKINFO_ENOMEM)
        return mi_status(L, st, fname, NULL, how);
    char h[32], lim[96];
    const char *msg = st == MASKINFO_ENOMEM
        ? lua_pushfstring(L, "%s needs %s: out of memory", what, human(h, sizeof h, bytes))
        : lua_pushfstring(L, "%s needs %s: over the memory guard (%s)", what, human(h, sizeof h, bytes),
                          limit_text(L, lim, sizeof lim));
    return finish(L, st, fname, msg, how);
}

int mi_status(lua_State *L, int st, const char *fname, const char *path, int how) {
    int err = errno; /* the core preserves errno on MASKINFO_EIO */
    const char *msg;
    char lim[96];
    if (path && (st == MASKINFO_EIO || st == MASKINFO_EPNG))
        msg = lua_pushfstring(L, "cannot write '%s': %s", path,
                              st == MASKINFO_EIO && err ? strerror(err) : maskinfo_strerror(st));
    else if (st == MASKINFO_ETOOBIG) /* the size is known only to the caller */
        msg = lua_pushfstring(L, "%s (%s)", maskinfo_strerror(st), limit_text(L, lim, sizeof lim));
    else
        msg = lua_pushstring(L, maskinfo_strerror(st));
    return finish(L, st, fname, msg, how);
}

int mi_budget(lua_State *L, double bytes) {
    uint64_t max = mi_max_bytes(L);
    if (bytes <= (double)max) return 0;
    lua_pushnil(L);
    lua_pushfstring(L, "needs %s bytes, over the memory limit of %s bytes (see maskinfo.set_memory_limit)",
                    bytes < 9.2e18 ? lua_pushfstring(L, "%I", (lua_Integer)bytes) : lua_pushliteral(L, "over 2^63"),
                    lua_pushfstring(L, "%I", (lua_Integer)max));
    lua_remove(L, -2);
    lua_remove(L, -2);
    lua_pushliteral(L, "ETOOBIG");
    return 3;
}

/* The pending C object of a cleanup box is freed by __gc unless taken. */
typedef struct { void *p; void (*release)(void *); } Cleanup;
#define CLEANUP_T "maskinfo.Cleanup"

static int cleanup_gc(lua_State *L) {
    Cleanup *c = luaL_checkudata(L, 1, CLEANUP_T);
    if (c->p) c->release(c->p);
    c->p = NULL;
    return 0;
}

void **mi_cleanup(lua_State *L, void (*release)(void *)) {
    Cleanup *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->p = NULL;
    c->release = release;
    luaL_setmetatable(L, CLEANUP_T);
    return &c->p;
}

uint64_t mi_max_bytes(lua_State *L) {
    uint64_t v = LIMITS(L)->max_bytes;
    return v ? v : MASKINFO_DEFAULT_MAX_BYTES;
}

int mi_argerror(lua_State *L, int n, const char *fname, const char *msg) {
    lua_pushfstring(L, "bad argument #%d to '%s' (%s)", n, fname, msg);
    return lua_error(L);
}

const char *mi_typename(lua_State *L, int idx) {
    int t = luaL_getmetafield(L, idx, "__name");
    if (t == LUA_TSTRING) {
        const char *n = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the metatable */
        return n;
    }
    if (t != LUA_TNIL) lua_pop(L, 1);
    return luaL_typename(L, idx);
}

maskinfo_dtype mi_check_dtype(lua_State *L, int idx, const char *fname, int n, int dflt) {
    if (dflt >= 0 && lua_isnoneornil(L, idx)) return (maskinfo_dtype)dflt;
    const char *name = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    int dt = maskinfo_dtype_from_name(name);
    if (dt >= 0) return (maskinfo_dtype)dt;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int count = maskinfo_dtype_count();
    for (int i = 0; i < count; i++) {
        if (i) luaL_addstring(&b, i == count - 1 ? " or " : ", ");
        luaL_addstring(&b, maskinfo_dtype_name((maskinfo_dtype)i));
    }
    luaL_pushresult(&b);
    const char *msg = lua_pushfstring(L, "invalid dtype '%s' (expected %s)",
                                      name ? name : luaL_typename(L, idx), lua_tostring(L, -1));
    return (maskinfo_dtype)mi_argerror(L, n, fname, msg);
}

/* ------------------------------------------------------------ object boxes */

/* Mark the Arrays of value idx shared: an Array, or those in a table
 * (depth levels down: the fields, and caches such as {q_ids, kv_ids}). */
static void share_arrays(lua_State *L, int idx, int depth) {
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TUSERDATA) {
        mi_share_array(L, idx);
    } else if (lua_type(L, idx) == LUA_TTABLE && depth > 0) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            share_arrays(L, -1, depth - 1);
            lua_pop(L, 1);
        }
    }
}

/* __newindex of field tables: whatever is cached later is shared too. */
static int fields_newindex(lua_State *L) {
    share_arrays(L, 3, 1);
    lua_rawset(L, 1);
    return 0;
}
#define FIELDS_T "maskinfo.Fields"

/* core.box(metatable, fields) -> a userdata with that metatable whose user
 * value is fields (the Lua layer's immutable objects).  Every Array in the
 * fields, then or later, is shared with the object: closing it does not
 * free it (ArrayBox). */
static int l_box(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    share_arrays(L, 2, 2);
    if (lua_getmetatable(L, 2)) {
        lua_pop(L, 1); /* a table the Lua layer made its own: left alone */
    } else {
        lua_pushvalue(L, 2);
        luaL_setmetatable(L, FIELDS_T);
        lua_pop(L, 1);
    }
    lua_newuserdatauv(L, 1, 1);
    lua_pushvalue(L, 1);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* core.unbox(box) -> its fields, or nil when v holds none (closed, or not
 * a box).  The Lua layer checks the metatable first. */
static int l_unbox(lua_State *L) {
    if (lua_type(L, 1) != LUA_TUSERDATA || lua_getiuservalue(L, 1, 1) != LUA_TTABLE) lua_pushnil(L);
    return 1;
}

/* core.drop(box): forget the fields (for __close); idempotent. */
static int l_drop(lua_State *L) {
    if (lua_type(L, 1) == LUA_TUSERDATA) {
        lua_pushnil(L);
        lua_setiuservalue(L, 1, 1); /* a no-op for userdata without user values */
    }
    return 0;
}

/* ------------------------------------------------------------ limits */

/* core.parse_bytes(s) -> bytes: MASKINFO_MAX_BYTES' spelling
 * (maskinfo_parse_bytes); anything else raises naming fname (arg 2) and
 * argument n (arg 3). */
static int l_parse_bytes(lua_State *L) {
    const char *fname = luaL_optstring(L, 2, "parse_bytes");
    int n = (int)luaL_optinteger(L, 3, 1);
    uint64_t v;
    const char *text = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
    int st = text ? maskinfo_parse_bytes(text, &v) : MASKINFO_EINVAL;
    if (st) {
        const char *what = st == MASKINFO_EOVERFLOW ? "byte count past 2^63 - 1"
                         : "byte count expected: digits with an optional K, M, G, T, KiB, MiB, GiB or TiB";
        return mi_argerror(L, n, fname, lua_pushfstring(L, "%s, got %s", what,
                                                        text ? lua_pushfstring(L, "'%s'", text)
                                                             : luaL_typename(L, 1)));
    }
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* core.env_max_bytes() -> MASKINFO_MAX_BYTES as read at load (0: unset) */
static int l_env_max_bytes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)((mi_limits_box *)LIMITS(L))->env_max);
    return 1;
}

/* core.set_max_bytes(n) -> the previous limit (0 = the core's default) */
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

/* core.check_alloc(n, size) -> true | nil, message, "ETOOBIG": would n
 * elements of size bytes pass the guard?  A byte count that does not fit
 * 64 bits is over any limit. */
static int l_check_alloc(lua_State *L) {
    lua_Number n = luaL_checknumber(L, 1), sz = luaL_checknumber(L, 2);
    luaL_argcheck(L, n >= 0, 1, "non-negative count expected");
    luaL_argcheck(L, sz >= 0, 2, "non-negative size expected");
    int st = n * sz > 9.2e18 ? MASKINFO_ETOOBIG
                             : maskinfo_check_alloc(LIMITS(L), (uint64_t)n, (uint64_t)sz);
    if (st) return mi_refuse(L, st, "check_alloc", "the request", n * sz, MI_RETURN_REFUSALS);
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

/* ------------------------------------------------------------ registration */

static const luaL_Reg module_funcs[] = {
    {"box", l_box},
    {"unbox", l_unbox},
    {"drop", l_drop},
    {"set_max_bytes", l_set_max_bytes},
    {"parse_bytes", l_parse_bytes},
    {"env_max_bytes", l_env_max_bytes},
    {"get_max_bytes", l_get_max_bytes},
    {"check_alloc", l_check_alloc},
    {"now", l_now},
    {NULL, NULL}};

/* A metatable name with __index = a table of the methods in each list,
 * and the metamethods of meta; every function gets the limits upvalue. */
static void new_type(lua_State *L, const char *name, const luaL_Reg *const methods[],
                     const luaL_Reg *meta, int limits) {
    luaL_newmetatable(L, name);
    lua_pushvalue(L, limits);
    luaL_setfuncs(L, meta, 1);
    lua_newtable(L);
    for (int i = 0; methods[i]; i++) {
        lua_pushvalue(L, limits);
        luaL_setfuncs(L, methods[i], 1);
    }
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* core.status: name -> name for every status ("OK", "EIO", ...);
 * core.dtypes: the dtype names in the core's order; core.dtype_size:
 * name -> bytes per element. */
static void push_tables(lua_State *L) {
    lua_newtable(L);
    for (int st = 0; maskinfo_status_name(st); st++) {
        lua_pushstring(L, maskinfo_status_name(st));
        lua_pushvalue(L, -1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "status");
    int n = maskinfo_dtype_count();
    lua_createtable(L, n, 0);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, maskinfo_dtype_name((maskinfo_dtype)i));
        lua_rawseti(L, -3, i + 1);
        lua_pushinteger(L, (lua_Integer)maskinfo_dtype_size((maskinfo_dtype)i));
        lua_setfield(L, -2, maskinfo_dtype_name((maskinfo_dtype)i));
    }
    lua_setfield(L, -3, "dtype_size");
    lua_setfield(L, -2, "dtypes");
    lua_pushstring(L, maskinfo_version());
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, (lua_Integer)MASKINFO_DEFAULT_MAX_BYTES);
    lua_setfield(L, -2, "default_max_bytes");
    lua_pushinteger(L, MASKINFO_MAX_IMAGE_SIDE);
    lua_setfield(L, -2, "max_image_side");
}

int luaopen_maskinfo_core(lua_State *L) {
    mi_limits_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->lim.max_bytes = box->env_max = 0;
    /* a limit nobody can read is refused at load, not taken as 0 or 10 */
    const char *env = getenv("MASKINFO_MAX_BYTES");
    if (env && *env) {
        int st = maskinfo_parse_bytes(env, &box->env_max);
        if (st)
            return luaL_error(L, "maskinfo: MASKINFO_MAX_BYTES='%s' is not a byte count (%s)", env,
                              st == MASKINFO_EOVERFLOW ? "past 2^63 - 1"
                              : "expected digits with an optional K, M, G, T, KiB, MiB, GiB or TiB");
        box->lim.max_bytes = box->env_max;
    }
    int limits = lua_gettop(L);
    luaL_newmetatable(L, FIELDS_T);
    lua_pushcfunction(L, fields_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);
    luaL_newmetatable(L, CLEANUP_T);
    lua_pushcfunction(L, cleanup_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    const luaL_Reg *const array_methods[] = {mi_array_methods, NULL};
    const luaL_Reg *const mask_methods[] = {mi_mask_methods, mi_render_methods,
                                            mi_export_methods, NULL};
    new_type(L, ARRAY_T, array_methods, mi_array_meta, limits);
    new_type(L, MASK_T, mask_methods, mi_mask_meta, limits);
    const luaL_Reg *const funcs[] = {module_funcs, mi_array_funcs, mi_mask_funcs,
                                     mi_render_funcs, mi_export_funcs, NULL};
    lua_newtable(L);
    for (int i = 0; funcs[i]; i++) {
        lua_pushvalue(L, limits);
        luaL_setfuncs(L, funcs[i], 1);
    }
    { void mi_builders_open(lua_State *L, int limits); mi_builders_open(L, limits); } /* builders.c */
    push_tables(L);
    mi_kernels_open(L, limits);
    mi_ids_open(L, limits);
    return 1;
}
