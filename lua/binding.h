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

/* upvalue 1 of every binding function: the limits userdata (the guard,
 * and MASKINFO_MAX_BYTES as read at load); LIMITS gives the guard. */
typedef struct {
    maskinfo_limits lim; /* first: LIMITS casts the box to it */
    uint64_t env_max;
} mi_limits_box;
#define LIMITS(L) ((maskinfo_limits *)lua_touserdata(L, lua_upvalueindex(1)))

/* shared: the Array is held by a MaskInfo (its fields or their caches);
 * closing it then is a no-op and only the collector frees it, so that no
 * getter's result can be closed out from under its MaskInfo. */
typedef struct { maskinfo_array *a; int shared; } ArrayBox;
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
/* The guard's limit in bytes (the core's default when none is set). */
uint64_t mi_max_bytes(lua_State *L);
/* One budget per call: 0 when bytes (everything the call will allocate,
 * summed before it starts) fit the limit; else pushes nil, "needs N bytes,
 * over the memory limit of M bytes ...", "ETOOBIG" (mi_status' refusal
 * form) and returns 3. */
int mi_budget(lua_State *L, double bytes);
/* A box on the stack whose __gc calls release(*slot) unless *slot was
 * set back to NULL: store a C object there before anything can raise
 * (liolib's order), take it back when done. */
void **mi_cleanup(lua_State *L, void (*release)(void *));
/* Raise "bad argument #n to 'fname' (msg)" without a position prefix, like
 * the Lua layer's errors. */
int mi_argerror(lua_State *L, int n, const char *fname, const char *msg);
/* The type name of the value at idx, with a userdata's __name. */
const char *mi_typename(lua_State *L, int idx);
/* A dtype name at idx (dflt when none/nil and dflt >= 0), raising
 * "bad argument #n to 'fname' (invalid dtype ...)" otherwise. */
maskinfo_dtype mi_check_dtype(lua_State *L, int idx, const char *fname, int n, int dflt);

/* ---- array.c */
/* Push a new Array owning a.  Leak-free: if the box cannot be made (out
 * of memory), a is freed before the error propagates. */
void mi_push_array(lua_State *L, maskinfo_array *a);
/* Tell the collector that a new object holds bytes outside Lua's heap
 * (array.c explains the rule; below 4 KiB it does nothing). */
void mi_gc_feel(lua_State *L, uint64_t bytes);
maskinfo_array *mi_check_array(lua_State *L, int idx);
maskinfo_array *mi_to_array(lua_State *L, int idx);
/* Mark the Array at idx shared (see ArrayBox); anything else is ignored. */
void mi_share_array(lua_State *L, int idx);
extern const luaL_Reg mi_array_methods[];
extern const luaL_Reg mi_array_meta[];
extern const luaL_Reg mi_array_funcs[];

/* ---- mask.c */
maskinfo_mask *mi_check_mask(lua_State *L, int idx);
/* int64 vector from an integer, a sequence or nil (-> dflt), length n; a
 * userdata left on the stack keeps it alive.  n is checked against the
 * guard before anything is allocated; sequences are read as Lua reads
 * them (__len, __index), like the checks of the Lua layer. */
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
