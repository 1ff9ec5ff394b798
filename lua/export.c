/*
 * export.c - the exports of the binding: core.write_npy,
 * core.write_safetensors, core.write_bytes, m:block_classes and core.block_table.  Files are
 * written atomically by the core; a failure returns nil, "cannot write
 * 'path': <OS reason>", status.
 */
#include <errno.h>

#include "binding.h"

/* core.write_npy(array, path) -> true | nil, message, status */
static int l_write_npy(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    const char *path = luaL_checkstring(L, 2);
    errno = 0;
    int st = maskinfo_write_npy(a, path);
    if (st) return mi_status(L, st, "write_npy", path, MI_RETURN_REFUSALS);
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
        arrays[i] = mi_check_array(L, -1);
        lua_pop(L, 1);
    }
    errno = 0;
    int st = maskinfo_write_safetensors(names, arrays, n, path);
    if (st) return mi_status(L, st, "write_safetensors", path, MI_RETURN_REFUSALS);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.write_bytes(path, string) -> true | nil, message, status */
static int l_write_bytes(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    errno = 0;
    int st = maskinfo_write_bytes(data, len, path);
    if (st) return mi_status(L, st, "write_bytes", path, MI_RETURN_REFUSALS);
    lua_pushboolean(L, 1);
    return 1;
}

/* m:block_classes(bq, bk) -> uint8 Array (B, H, Qb, Kb) */
static int mask_block_classes(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer bq = luaL_checkinteger(L, 2), bk = luaL_checkinteger(L, 3);
    maskinfo_array *out;
    int st = maskinfo_mask_block_classes(m, bq, bk, &out, LIMITS(L));
    if (st) return mi_status(L, st, "block_classes", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    return 1;
}

/* core.block_table(classes, "partial"|"full", transpose) -> num, idx */
static int l_block_table(lua_State *L) {
    static const char *const names[] = {"partial", "full", NULL};
    static const maskinfo_block_class classes[] = {MASKINFO_BLOCK_PARTIAL, MASKINFO_BLOCK_FULL};
    maskinfo_array *c = mi_check_array(L, 1);
    maskinfo_block_class want = classes[luaL_checkoption(L, 2, NULL, names)];
    int transpose = lua_toboolean(L, 3);
    maskinfo_array *num, *idx;
    /* idx waits in a cleanup box while num is pushed (which may raise) */
    void **slot = mi_cleanup(L, (void (*)(void *))maskinfo_array_free);
    int st = maskinfo_block_table(c, want, transpose, &num, &idx, LIMITS(L));
    if (st) return mi_status(L, st, "block_table", NULL, MI_RETURN_REFUSALS);
    *slot = idx;
    mi_push_array(L, num);
    *slot = NULL;
    mi_push_array(L, idx);
    return 2;
}

const luaL_Reg mi_export_methods[] = {{"block_classes", mask_block_classes}, {NULL, NULL}};

const luaL_Reg mi_export_funcs[] = {
    {"write_npy", l_write_npy},     {"write_safetensors", l_write_safetensors},
    {"block_table", l_block_table}, {"write_bytes", l_write_bytes},
    {NULL, NULL}};
