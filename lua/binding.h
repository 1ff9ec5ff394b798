/*
 * binding.h - what the files of the Lua binding (module `maskinfo.core`)
 * share.  core.c opens the module; array.c, mask.c, render.c and export.c
 * each hold one type or one concern.  Everything here is hidden: core.so
 * exports only luaopen_maskinfo_core.
 *
 * One error contract (mi_status): misuse raises, naming the function and
 * what was wrong; refusals (the memory guard, a failed allocation) and file
 * failures return nil, message, status name (a key of core.status).
 */
#ifndef MASKINFO_BINDING_H
#define MASKINFO_BINDING_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "maskinfo.h"

#pragma GCC visibility push(hidden)

#define ARRAY_T "maskinfo.Array"
#define MASK_T "maskinfo.Mask"

/* upvalue 1 of every binding function: the limits userdata */
#define LIMITS(L) ((maskinfo_limits *)lua_touserdata(L, lua_upvalueindex(1)))

typedef struct { maskinfo_array *a; } ArrayBox;
typedef struct { maskinfo_mask *m; } MaskBox;

/* ---- core.c: the one error style */
enum { MI_RETURN_REFUSALS = 0, MI_RAISE_REFUSALS = 1 };
/* st != MASKINFO_OK.  Misuse (EINVAL, ESHAPE, EDTYPE, EIMAGE) raises
 * "fname: message" (no position).  Refusals (ENOMEM, ETOOBIG, and
 * EOVERFLOW: a request too big to size, over any limit) and
 * file failures (EIO, EPNG) push nil, message, status name and return 3,
 * or raise like misuse when how is MI_RAISE_REFUSALS (public Array methods
 * that return values).  With path, file failures read "cannot write
 * 'path': strerror(errno)". */
int mi_status(lua_State *L, int st, const char *fname, const char *path, int how);
/* A refusal that knows its size: "fname: <what> needs <bytes, e.g. 6.0
 * GiB>: over the memory guard (limit ..., see maskinfo.set_memory_limit)"
 * for ETOOBIG/EOVERFLOW, "...: out of memory" for ENOMEM; returned or
 * raised like mi_status.  Other statuses go to mi_status. */
int mi_refuse(lua_State *L, int st, const char *fname, const char *what, double bytes, int how);
/* Raise "bad argument #n to 'fname' (msg)" without a position prefix, like
 * the Lua layer's errors. */
int mi_argerror(lua_State *L, int n, const char *fname, const char *msg);
/* The type name of the value at idx, with a userdata's __name. */
const char *mi_typename(lua_State *L, int idx);
/* A dtype name at idx (dflt when none/nil and dflt >= 0), raising
 * "bad argument #n to 'fname' (invalid dtype ...)" otherwise. */
maskinfo_dtype mi_check_dtype(lua_State *L, int idx, const char *fname, int n, int dflt);

/* ---- array.c */
void mi_push_array(lua_State *L, maskinfo_array *a);
maskinfo_array *mi_check_array(lua_State *L, int idx);
maskinfo_array *mi_to_array(lua_State *L, int idx);
extern const luaL_Reg mi_array_methods[];
extern const luaL_Reg mi_array_meta[];
extern const luaL_Reg mi_array_funcs[];

/* ---- mask.c */
maskinfo_mask *mi_check_mask(lua_State *L, int idx);
/* int64 vector from an integer, a sequence or nil (-> dflt), length n; a
 * userdata left on the stack keeps it alive. */
int64_t *mi_opt_i64(lua_State *L, int idx, int64_t n, int64_t dflt);
extern const luaL_Reg mi_mask_methods[];
extern const luaL_Reg mi_mask_meta[];
extern const luaL_Reg mi_mask_funcs[];

/* ---- render.c */
extern const luaL_Reg mi_render_methods[]; /* on Mask */
extern const luaL_Reg mi_render_funcs[];

/* ---- export.c */
extern const luaL_Reg mi_export_methods[]; /* on Mask */
extern const luaL_Reg mi_export_funcs[];

/* ---- kernels.c: adds its functions to the module table on top */
void mi_kernels_open(lua_State *L, int limits);
void mi_ids_open(lua_State *L, int limits); /* ids.c: O(n) id passes, Array tests */

#pragma GCC visibility pop

#endif
