/*
 * luahost.c - a plain Lua 5.4 interpreter for `make sanitize`: built with
 * AddressSanitizer linked in, it loads the sanitized core.so, and its leak
 * check covers the busted run.  Preloading libasan into lua5.4 instead
 * would put it into every program the specs start (sed, mktemp, make...),
 * whose own exit-time leaks are not maskinfo's.
 *
 *   luahost script [args...]     (arg[0] = script, as lua5.4 sets it)
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: luahost script [args...]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) return 1;
    luaL_openlibs(L);
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    int st = luaL_loadfile(L, argv[1]);
    if (st == LUA_OK) {
        for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
        st = lua_pcall(L, argc - 2, 0, 1);
    }
    if (st != LUA_OK) fprintf(stderr, "luahost: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return st == LUA_OK ? 0 : 1;
}
