/*
 * render.c - the renderers of the binding: m:render_text (the seed's
 * visualize text), m:render_png and core.render_png_grid.
 *
 * The options are decoded once, by the Lua layer (maskinfo/render.lua),
 * which gives every field a value; here they are only copied into the
 * core's option structs (no defaults, no second validation).  The image
 * size is derived by the core alone.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

/* ids Array for the renderers: int32 vector of length n, or NULL for nil */
static const int32_t *opt_ids(lua_State *L, int idx, int64_t n) {
    if (lua_isnoneornil(L, idx)) return NULL;
    maskinfo_array *a = mi_check_array(L, idx);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_INT32 && maskinfo_array_size(a) == n,
                  idx, "int32 ids of the plane's length expected");
    return maskinfo_array_cdata(a);
}

/* A required field of the decoded options table at t. */
static int64_t field_int(lua_State *L, int t, const char *k) {
    lua_getfield(L, t, k);
    int ok;
    int64_t v = (int64_t)lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "render options: integer field '%s' expected", k);
    lua_pop(L, 1);
    return v;
}

static int field_bool(lua_State *L, int t, const char *k) {
    lua_getfield(L, t, k);
    if (!lua_isboolean(L, -1)) luaL_error(L, "render options: boolean field '%s' expected", k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static int field_option(lua_State *L, int t, const char *k, const char *const names[]) {
    lua_getfield(L, t, k);
    int v = luaL_checkoption(L, -1, NULL, names);
    lua_pop(L, 1);
    return v;
}

/* m:render_text(opts, q_ids, kv_ids, shape_str) -> string | nil, msg, status
 * opts: block_q, block_kv, batch, head, max_rows, max_cols (integers),
 * fit_in_screen, ascii, show_segments (booleans). */
static int mask_render_text(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_text_opts o;
    o.block_q = field_int(L, 2, "block_q");
    o.block_kv = field_int(L, 2, "block_kv");
    o.batch = field_int(L, 2, "batch");
    o.head = field_int(L, 2, "head");
    o.fit_in_screen = field_bool(L, 2, "fit_in_screen");
    o.max_rows = field_int(L, 2, "max_rows");
    o.max_cols = field_int(L, 2, "max_cols");
    o.ascii = field_bool(L, 2, "ascii");
    o.show_segments = field_bool(L, 2, "show_segments");
    const int32_t *qi = opt_ids(L, 3, s[2]), *ki = opt_ids(L, 4, s[3]);
    const char *shape_str = luaL_checkstring(L, 5);
    /* The text's size, at most: 6 bytes a cell (two 3-byte characters),
     * borders and labels; a picture too big to hold is refused up front,
     * naming its size, instead of failing inside the renderer. */
    double rows = o.block_q > 0 ? ceil((double)s[2] / (double)o.block_q) : 0;
    double cols = o.block_kv > 0 ? ceil((double)s[3] / (double)o.block_kv) : 0;
    if (o.fit_in_screen && o.max_rows > 0 && o.max_cols > 0) {
        rows = ceil(rows / fmax(ceil(rows / (double)o.max_rows), 1));
        cols = ceil(cols / fmax(ceil(cols / (double)o.max_cols), 1));
    }
    double bytes = (rows + 8) * (cols * 6 + 32) + 512;
    lua_pushfstring(L, "the text of %I x %I blocks", (lua_Integer)rows, (lua_Integer)cols);
    const char *what = lua_tostring(L, -1);
    int gst = bytes > 9.2e18 ? MASKINFO_ETOOBIG : maskinfo_check_alloc(LIMITS(L), (uint64_t)bytes, 1);
    if (gst) return mi_refuse(L, gst, "render_text", what, bytes, MI_RETURN_REFUSALS);
    char *out = NULL;
    size_t len = 0;
    int st = maskinfo_render_text(m, &o, qi, ki, shape_str, &out, &len, LIMITS(L));
    if (st == MASKINFO_ENOMEM) return mi_refuse(L, st, "render_text", what, bytes, MI_RETURN_REFUSALS);
    if (st) return mi_status(L, st, "render_text", NULL, MI_RETURN_REFUSALS);
    lua_pushlstring(L, out, len);
    free(out);
    return 1;
}

static const char *const cmap_names[] = {"grey", "viridis", "magma", NULL};
static const maskinfo_colormap cmaps[] = {MASKINFO_CMAP_GREY, MASKINFO_CMAP_VIRIDIS,
                                          MASKINFO_CMAP_MAGMA};
static const char *const grid_names[] = {"auto", "off", "on", NULL};
static const maskinfo_grid_lines grids[] = {MASKINFO_GRID_AUTO, MASKINFO_GRID_OFF,
                                            MASKINFO_GRID_ON};

/* The decoded PNG options at t: batch, head, scale, width, height
 * (integers; scale 0 = use width/height, a 0 side follows the other),
 * plain, show_segments (booleans), colormap, grid ("auto"|"off"|"on"),
 * title (string or nil), q_ids, kv_ids (int32 Arrays or nil). */
static void png_opts_from(lua_State *L, int t, const maskinfo_mask *m, maskinfo_png_opts *o) {
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    memset(o, 0, sizeof *o);
    o->batch = field_int(L, t, "batch");
    o->head = field_int(L, t, "head");
    o->scale = field_int(L, t, "scale");
    o->width = field_int(L, t, "width");
    o->height = field_int(L, t, "height");
    o->plain = field_bool(L, t, "plain");
    o->show_segments = field_bool(L, t, "show_segments");
    o->cmap = cmaps[field_option(L, t, "colormap", cmap_names)];
    o->grid_lines = grids[field_option(L, t, "grid", grid_names)];
    lua_getfield(L, t, "title");
    o->title = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the options table */
    lua_getfield(L, t, "q_ids");
    o->q_ids = opt_ids(L, lua_gettop(L), s[2]);
    lua_getfield(L, t, "kv_ids");
    o->kv_ids = opt_ids(L, lua_gettop(L), s[3]);
    lua_pop(L, 2); /* the Arrays stay referenced by the options table */
}

/* m:render_png(path, opts) -> width, height | nil, msg, status */
static int mask_render_png(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    const char *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    maskinfo_png_opts o;
    png_opts_from(L, 3, m, &o);
    int64_t w, h;
    errno = 0;
    int st = maskinfo_render_png(m, path, &o, &w, &h, LIMITS(L));
    if (st) return mi_status(L, st, "render_png", path, MI_RETURN_REFUSALS);
    lua_pushinteger(L, w);
    lua_pushinteger(L, h);
    return 2;
}

/* core.render_png_grid(path, {masks}, {opts...}, columns) -> width, height
 * | nil, msg, status; opts[i] as for render_png (0 columns: one row). */
static int l_render_png_grid(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer columns = luaL_checkinteger(L, 4);
    int64_t n = (int64_t)lua_rawlen(L, 2);
    luaL_argcheck(L, n >= 1 && (int64_t)lua_rawlen(L, 3) == n, 3, "one options table per mask expected");
    const maskinfo_mask **ms = lua_newuserdatauv(L, (size_t)n * sizeof *ms, 0);
    maskinfo_png_opts *opts = lua_newuserdatauv(L, (size_t)n * sizeof *opts, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)(i + 1));
        ms[i] = mi_check_mask(L, -1);
        lua_rawgeti(L, 3, (lua_Integer)(i + 1));
        luaL_checktype(L, -1, LUA_TTABLE);
        png_opts_from(L, lua_gettop(L), ms[i], &opts[i]);
        lua_pop(L, 2); /* both stay referenced by the argument tables */
    }
    int64_t w, h;
    errno = 0;
    int st = maskinfo_render_png_grid(ms, opts, n, columns, path, &w, &h, LIMITS(L));
    if (st) return mi_status(L, st, "render_png_grid", path, MI_RETURN_REFUSALS);
    lua_pushinteger(L, w);
    lua_pushinteger(L, h);
    return 2;
}

const luaL_Reg mi_render_methods[] = {
    {"render_text", mask_render_text}, {"render_png", mask_render_png}, {NULL, NULL}};

const luaL_Reg mi_render_funcs[] = {{"render_png_grid", l_render_png_grid}, {NULL, NULL}};
