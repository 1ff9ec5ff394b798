/*
 * render.c - the renderers of the binding: m:render_text (the seed's
 * visualize text) and core.render_figure (PNG and SVG figures).
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
    /* the text waits in a cleanup box: lua_pushlstring may raise */
    void **slot = mi_cleanup(L, free);
    int st = maskinfo_render_text(m, &o, qi, ki, shape_str, &out, &len, LIMITS(L));
    if (st == MASKINFO_ENOMEM) return mi_refuse(L, st, "render_text", what, bytes, MI_RETURN_REFUSALS);
    if (st) return mi_status(L, st, "render_text", NULL, MI_RETURN_REFUSALS);
    *slot = out;
    lua_pushlstring(L, out, len);
    *slot = NULL;
    free(out);
    return 1;
}

static const char *const cmap_names[] = {"grey", "viridis", "magma", NULL};
static const maskinfo_colormap cmaps[] = {MASKINFO_CMAP_GREY, MASKINFO_CMAP_VIRIDIS,
                                          MASKINFO_CMAP_MAGMA};
static const char *const grid_names[] = {"auto", "off", "on", NULL};
static const maskinfo_grid_lines grids[] = {MASKINFO_GRID_AUTO, MASKINFO_GRID_OFF,
                                            MASKINFO_GRID_ON};

static const char *const agg_names[] = {"mean", "any", "all", NULL};
static const char *const format_names[] = {"png", "svg", NULL};

/* An optional {lo, hi} field (nil: {0, 0}, everything). */
static void field_range(lua_State *L, int t, const char *k, int64_t r[2]) {
    lua_getfield(L, t, k);
    r[0] = r[1] = 0;
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        for (int i = 0; i < 2; i++) {
            lua_rawgeti(L, -1, i + 1);
            r[i] = (int64_t)luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* An optional list of n strings as a C array (left on the stack, with the
 * strings referenced by the options table). */
static const char *const *field_labels(lua_State *L, int t, const char *k, int64_t n) {
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    luaL_checktype(L, -1, LUA_TTABLE);
    int lt = lua_gettop(L);
    luaL_argcheck(L, (int64_t)lua_rawlen(L, lt) == n, t, "one label per token expected");
    const char **a = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *a, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, lt, (lua_Integer)(i + 1));
        a[i] = luaL_checkstring(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, lt); /* the userdata stays on the stack */
    return a;
}

/* The decoded panel options at t: batch, head, scale, width, height
 * (integers; scale 0 = use width/height, a 0 side follows the other),
 * plain, show_segments (booleans), colormap, grid ("auto"|"off"|"on"),
 * aggregate ("mean"|"any"|"all"), q_offset, kv_offset, block_q, block_kv
 * (integers), q_range, kv_range ({lo, hi} or nil), title (string or nil),
 * q_ids, kv_ids, q_bands, kv_bands (int32 Arrays or nil), q_labels,
 * kv_labels (string lists or nil), diff (a Mask or nil).  Leaves up to two
 * values on the stack, which must stay until the render is done. */
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
    o->aggregate = (maskinfo_aggregate)field_option(L, t, "aggregate", agg_names);
    o->q_offset = field_int(L, t, "q_offset");
    o->kv_offset = field_int(L, t, "kv_offset");
    o->block_q = field_int(L, t, "block_q");
    o->block_kv = field_int(L, t, "block_kv");
    field_range(L, t, "q_range", o->q_range);
    field_range(L, t, "kv_range", o->kv_range);
    lua_getfield(L, t, "title");
    o->title = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the options table */
    lua_getfield(L, t, "q_ids");
    o->q_ids = opt_ids(L, lua_gettop(L), s[2]);
    lua_getfield(L, t, "kv_ids");
    o->kv_ids = opt_ids(L, lua_gettop(L), s[3]);
    lua_getfield(L, t, "q_bands");
    o->q_bands = opt_ids(L, lua_gettop(L), s[2]);
    lua_getfield(L, t, "kv_bands");
    o->kv_bands = opt_ids(L, lua_gettop(L), s[3]);
    lua_getfield(L, t, "diff");
    o->diff = lua_isnil(L, -1) ? NULL : mi_check_mask(L, lua_gettop(L));
    lua_pop(L, 5); /* all stay referenced by the options table */
    luaL_checkstack(L, 4, "render options");
    o->q_labels = field_labels(L, t, "q_labels", s[2]);
    o->kv_labels = field_labels(L, t, "kv_labels", s[3]);
}

/* The figure options at t: format ("png"|"svg"), title (string or nil),
 * dpi, font_scale (numbers, 0 = default), font (string or nil), legend,
 * png_level (integer or nil = 0). */
static void fig_opts_from(lua_State *L, int t, maskinfo_figure_opts *f) {
    memset(f, 0, sizeof *f);
    f->format = (maskinfo_image_format)field_option(L, t, "format", format_names);
    f->legend = field_bool(L, t, "legend");
    lua_getfield(L, t, "dpi");
    f->dpi = luaL_checknumber(L, -1);
    lua_getfield(L, t, "font_scale");
    f->font_scale = luaL_checknumber(L, -1);
    lua_getfield(L, t, "title");
    f->title = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_getfield(L, t, "font");
    f->font = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_getfield(L, t, "png_level");
    f->png_level = lua_isnil(L, -1) ? 0 : (int)luaL_checkinteger(L, -1);
    lua_pop(L, 5); /* the strings stay referenced by the options table */
}

/* core.render_figure(path, {masks}, {opts...}, columns, figopts) -> width,
 * height | nil, msg, status; opts[i] per panel (0 columns: one row). */
static int l_render_figure(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer columns = luaL_checkinteger(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    int64_t n = (int64_t)lua_rawlen(L, 2);
    luaL_argcheck(L, n >= 1 && (int64_t)lua_rawlen(L, 3) == n, 3, "one options table per mask expected");
    maskinfo_figure_opts fig;
    fig_opts_from(L, 5, &fig);
    const maskinfo_mask **ms = lua_newuserdatauv(L, (size_t)n * sizeof *ms, 0);
    maskinfo_png_opts *opts = lua_newuserdatauv(L, (size_t)n * sizeof *opts, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)(i + 1));
        ms[i] = mi_check_mask(L, -1);
        lua_rawgeti(L, 3, (lua_Integer)(i + 1));
        luaL_checktype(L, -1, LUA_TTABLE);
        int top = lua_gettop(L);
        png_opts_from(L, top, ms[i], &opts[i]);
        lua_rotate(L, top - 1, -2); /* the mask and options go above the labels... */
        lua_pop(L, 2);              /* ...and are dropped (the argument tables hold them) */
    }
    int64_t w, h;
    errno = 0;
    int st = maskinfo_render_figure(ms, opts, n, columns, &fig, path, &w, &h, LIMITS(L));
    if (st == MASKINFO_EIMAGE) { /* a side past the limit: refused like the guard's ETOOBIG */
        lua_pushnil(L);
        lua_pushstring(L, maskinfo_strerror(st));
        lua_pushliteral(L, "EIMAGE");
        return 3;
    }
    if (st) return mi_status(L, st, "render", path, MI_RETURN_REFUSALS);
    lua_pushinteger(L, w);
    lua_pushinteger(L, h);
    return 2;
}

/* font_check(path) -> true, or nil and the reason the font does not load */
static int l_font_check(lua_State *L)
{
    char why[256];
    if (maskinfo_font_check(luaL_checkstring(L, 1), why, sizeof why) == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

const luaL_Reg mi_render_methods[] = {{"render_text", mask_render_text}, {NULL, NULL}};

const luaL_Reg mi_render_funcs[] = {{"render_figure", l_render_figure},
                                      {"font_check", l_font_check},
                                      {NULL, NULL}};
