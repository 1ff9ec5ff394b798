/*
 * oomhost.c - `make oomtest`: the public Lua API with Lua's allocations
 * failing one by one.
 *
 *   oomhost cases.lua
 *
 * cases.lua returns a list of {name, code}.  For each case a fresh Lua
 * state loads maskinfo (nothing fails yet); then the code runs again and
 * again under lua_pcall, its n-th growing allocation failing and every one
 * after it until the call returns (Lua retries a failed allocation after
 * an emergency collection, so a single failure would be absorbed), for
 * n = 1, 2, ... until a run needs fewer than n allocations.  After each
 * run a full collection frees whatever Lua owns.  The host is built with
 * AddressSanitizer: a crash stops it, and the leak check at the end finds
 * any C object that no Lua value owned when an allocation failed (the
 * binding must make the userdata before the C object it will own).
 * The last line is "oomtest: N cases, M failed allocations, 0 crashes,
 * L leaks"; the exit status is 0 only if nothing leaked.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/lsan_interface.h>

int luaopen_maskinfo_core(lua_State *L);

static long fail_at; /* the first allocation of this run that fails (0: none) */
static long seen;    /* growing allocations of this run so far */

/* Lua's allocator; shrinking must never fail (the manual says so). */
static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (fail_at && (ptr == NULL || nsize > osize) && ++seen >= fail_at)
        return NULL;
    return realloc(ptr, nsize);
}

static lua_State *new_state(void)
{
    lua_State *L = lua_newstate(alloc, NULL);
    if (!L) return NULL;
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_maskinfo_core);
    lua_setfield(L, -2, "maskinfo.core");
    lua_pop(L, 1);
    if (luaL_dostring(L, "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path; mi = require('maskinfo')")) {
        fprintf(stderr, "oomhost: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: oomhost cases.lua\n");
        return 2;
    }
    lua_State *C = luaL_newstate(); /* reads the case list; never fails on purpose */
    luaL_openlibs(C);
    if (luaL_dofile(C, argv[1]) || !lua_istable(C, -1)) {
        fprintf(stderr, "oomhost: %s: %s\n", argv[1], lua_isstring(C, -1) ? lua_tostring(C, -1) : "not a list");
        return 2;
    }
    long ncases = (long)luaL_len(C, -1), total = 0;
    for (long i = 1; i <= ncases; i++) {
        lua_geti(C, -1, i);
        lua_geti(C, -1, 1);
        lua_geti(C, -2, 2);
        const char *name = lua_tostring(C, -2), *code = lua_tostring(C, -1);
        lua_State *L = new_state();
        if (!L) return 2;
        if (luaL_loadstring(L, code)) {
            fprintf(stderr, "oomhost: case %s: %s\n", name, lua_tostring(L, -1));
            return 2;
        }
        long n;
        for (n = 1;; n++) {
            lua_pushvalue(L, -1);
            seen = 0;
            fail_at = n;
            int st = lua_pcall(L, 0, 0, 0);
            fail_at = 0;
            if (st != LUA_OK) lua_pop(L, 1);
            lua_gc(L, LUA_GCCOLLECT);
            lua_gc(L, LUA_GCCOLLECT);
            if (seen < n) { /* this run met no failure: it is done */
                if (st != LUA_OK) fprintf(stderr, "oomhost: case %s failed without an injected failure\n", name);
                break;
            }
        }
        total += n - 1;
        printf("  %-28s %ld failed allocations survived\n", name, n - 1);
        lua_close(L);
        lua_pop(C, 3);
    }
    lua_close(C);
    int leaks = __lsan_do_recoverable_leak_check();
    printf("oomtest: %ld cases, %ld failed allocations, 0 crashes, %s\n", ncases, total,
           leaks ? "LEAKS (see the report above)" : "0 leaks");
    return leaks ? 1 : 0;
}
