/*
 * mask.c - the Mask type of the binding (a compact mask expression,
 * reference-counted by the core): constructors (core.segments, core.dense,
 * core.random, the rule leaves, core.intervals, core.stack_heads), the
 * algebra, and the queries and conversions that read a mask.  liolib
 * style: luaL_Reg tables, the box made before the payload, __gc/__close
 * idempotent.
 */
#include <string.h>

#include "binding.h"

static MaskBox *new_mask_box(lua_State *L) {
    MaskBox *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->m = NULL;
    luaL_setmetatable(L, MASK_T);
    return box;
}

maskinfo_mask *mi_check_mask(lua_State *L, int idx) {
    MaskBox *box = luaL_checkudata(L, idx, MASK_T);
    if (!box->m) luaL_argerror(L, idx, "mask is closed");
    return box->m;
}

/* Push the result of a mask constructor: the mask, or mi_status's answer
 * in fname's name. */
static int push_mask_result(lua_State *L, MaskBox *box, int st, maskinfo_mask *m,
                            const char *fname) {
    if (st) {
        lua_pop(L, 1); /* the empty box */
        return mi_status(L, st, fname, NULL, MI_RETURN_REFUSALS);
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
    maskinfo_mask_shape(mi_check_mask(L, 1), s);
    for (int i = 0; i < 4; i++) lua_pushinteger(L, s[i]);
    return 4;
}

static int mask_is_dense(lua_State *L) {
    lua_pushboolean(L, maskinfo_mask_is_dense(mi_check_mask(L, 1)));
    return 1;
}

static int mask_bytes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)maskinfo_mask_bytes(mi_check_mask(L, 1)));
    return 1;
}

/* int64 vector from an integer, a sequence or nil (-> dflt), length n */
int64_t *mi_opt_i64(lua_State *L, int idx, int64_t n, int64_t dflt) {
    idx = lua_absindex(L, idx);
    /* checked before the userdata: n * 8 must not wrap, nor pass the guard */
    if (n < 0 || maskinfo_check_alloc(LIMITS(L), (uint64_t)n, sizeof(int64_t))) {
        lua_pushfstring(L, "%I integer values are over the memory limit of %I bytes (see maskinfo.set_memory_limit)",
                        (lua_Integer)n, (lua_Integer)mi_max_bytes(L));
        lua_error(L); /* no position: the caller is not the one to blame */
    }
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE) {
        luaL_argcheck(L, luaL_len(L, idx) == n, idx, "wrong length");
    } else if (t != LUA_TNONE && t != LUA_TNIL) {
        luaL_checkinteger(L, idx);
    }
    int64_t *v = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *v, 0);
    if (t == LUA_TTABLE) {
        for (int64_t i = 0; i < n; i++) {
            lua_geti(L, idx, (lua_Integer)(i + 1));
            int ok;
            v[i] = (int64_t)lua_tointegerx(L, -1, &ok);
            if (!ok) luaL_argerror(L, idx, "integers expected");
            lua_pop(L, 1);
        }
    } else {
        int64_t x = t == LUA_TNONE || t == LUA_TNIL ? dflt : (int64_t)lua_tointeger(L, idx);
        for (int64_t i = 0; i < n; i++) v[i] = x;
    }
    return v; /* a userdata left on the stack keeps it alive */
}

static int64_t check_size(lua_State *L, int idx) {
    lua_Integer v = luaL_checkinteger(L, idx);
    luaL_argcheck(L, v >= 0, idx, "non-negative size expected");
    return (int64_t)v;
}

/* core.dense(a [, invert]) -> Mask: a 2-D (Q, K), 3-D (B, Q, K) or 4-D
 * Array of any dtype read in place (non-zero allowed; disallowed if invert). */
static int l_dense(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    int invert = lua_toboolean(L, 2);
    int nd = maskinfo_array_ndim(a);
    const int64_t *s = maskinfo_array_shape(a);
    if (nd < 2 || nd > 4)
        return mi_argerror(L, 1, "dense", lua_pushfstring(L, "2-D, 3-D or 4-D mask expected, got %d-D", nd));
    int64_t sh[4] = {nd == 4 ? s[0] : (nd == 3 ? s[0] : 1), nd == 4 ? s[1] : 1, s[nd - 2], s[nd - 1]};
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_from_array_as(&m, a, sh, invert, LIMITS(L));
    if (!st) mi_gc_feel(L, maskinfo_mask_bytes(m)); /* the bits live outside Lua */
    return push_mask_result(L, box, st, m, "dense");
}

/* core.valid_spans(valid) -> int32 Array (2*B): the first and one past the
 * last valid token of each row of a (B, L) bool Array; 0, 0 for none. */
static int l_valid_spans(lua_State *L) {
    maskinfo_array *a = mi_check_array(L, 1);
    const int64_t *s = maskinfo_array_shape(a);
    luaL_argcheck(L, maskinfo_array_dtype(a) == MASKINFO_BOOL && maskinfo_array_ndim(a) == 2 &&
                     s[1] <= INT32_MAX, 1, "(batch, len) bool Array expected");
    int64_t n = 2 * s[0];
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_INT32, 1, &n, LIMITS(L));
    if (st) return mi_status(L, st, "valid_spans", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    maskinfo_valid_spans(maskinfo_array_cdata(a), s[0], s[1], maskinfo_array_data(out));
    return 1;
}

/* core.spans_to_valid(pairs, B, L) -> (B, L) bool Array: 1 inside each
 * row's [pairs[2b+1], pairs[2b+2]) (a flat Lua sequence, checked by the
 * caller), or nil, msg, status when the guard refuses it. */
static int l_spans_to_valid(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t B = check_size(L, 2), len = check_size(L, 3);
    luaL_argcheck(L, (int64_t)luaL_len(L, 1) == 2 * B, 1, "2 * B values expected");
    int64_t *pairs = lua_newuserdatauv(L, (size_t)(2 * B + 1) * sizeof *pairs, 0); /* collected */
    for (int64_t i = 0; i < 2 * B; i++) {
        lua_geti(L, 1, (lua_Integer)(i + 1));
        pairs[i] = (int64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    int64_t shape[2] = {B, len};
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_BOOL, 2, shape, LIMITS(L));
    if (st) return mi_status(L, st, "spans_to_valid", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    maskinfo_spans_to_valid(pairs, B, len, maskinfo_array_data(out));
    return 1;
}

static int l_random(lua_State *L) {
    int64_t B = check_size(L, 1), H = check_size(L, 2), Q = check_size(L, 3), K = check_size(L, 4);
    double p = luaL_checknumber(L, 5);
    lua_Integer seed = luaL_checkinteger(L, 6);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_random(&m, B, H, Q, K, p, (uint64_t)seed, LIMITS(L));
    if (!st) mi_gc_feel(L, maskinfo_mask_bytes(m)); /* the bits live outside Lua */
    return push_mask_result(L, box, st, m, "random");
}

/* core.causal(B, Q, K, off) */
static int l_causal(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    int64_t *off = mi_opt_i64(L, 4, B, 0);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_causal(&m, B, Q, K, off);
    return push_mask_result(L, box, st, m, "causal");
}

/* core.window(B, Q, K, left, right, off): left/right integers or per-head */
static int l_window(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    int64_t nh = 1;
    if (lua_type(L, 4) == LUA_TTABLE) nh = (int64_t)luaL_len(L, 4);
    else if (lua_type(L, 5) == LUA_TTABLE) nh = (int64_t)luaL_len(L, 5);
    luaL_argcheck(L, nh >= 1, 4, "at least one window expected");
    int64_t *left = mi_opt_i64(L, 4, nh, 0);
    int64_t *right = mi_opt_i64(L, 5, nh, 0);
    int64_t *off = mi_opt_i64(L, 6, B, 0);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_window(&m, B, Q, K, nh, left, right, off);
    return push_mask_result(L, box, st, m, "window");
}

static int l_chunked(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    lua_Integer chunk = luaL_checkinteger(L, 4);
    int64_t *off = mi_opt_i64(L, 5, B, 0);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_chunked(&m, B, Q, K, chunk, off);
    return push_mask_result(L, box, st, m, "chunked");
}

/* core.key_range(B, Q, K, lo, hi) */
static int l_key_range(lua_State *L) {
    int64_t B = check_size(L, 1), Q = check_size(L, 2), K = check_size(L, 3);
    int64_t *lo = mi_opt_i64(L, 4, B, 0);
    int64_t *hi = mi_opt_i64(L, 5, B, K);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_key_range(&m, B, Q, K, lo, hi);
    return push_mask_result(L, box, st, m, "key_range");
}

/* core.intervals(B, H, Q, K, offsets, iv): offsets has B*H*Q+1 0-based
 * entries, iv the flat lo,hi pairs. */
static int l_intervals(lua_State *L) {
    int64_t B = check_size(L, 1), H = check_size(L, 2), Q = check_size(L, 3), K = check_size(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    luaL_checktype(L, 6, LUA_TTABLE);
    int64_t rows = B > 0 && H > 0 && Q > 0 && (B > INT64_MAX / H || B * H > (INT64_MAX - 1) / Q) ? -1 : B * H * Q;
    luaL_argcheck(L, rows >= 0 && luaL_len(L, 5) == rows + 1, 5, "wrong length");
    int64_t *off = mi_opt_i64(L, 5, rows + 1, 0);
    int64_t n = (int64_t)luaL_len(L, 6);
    luaL_argcheck(L, off[rows] >= 0 && off[rows] <= INT64_MAX / 2, 6, "wrong length");
    luaL_argcheck(L, n % 2 == 0 && off[rows] * 2 == n, 6, "wrong length");
    int64_t *iv = mi_opt_i64(L, 6, n, 0);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_from_intervals(&m, B, H, Q, K, off, iv, LIMITS(L));
    return push_mask_result(L, box, st, m, "intervals");
}

static int l_stack_heads(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t n = (int64_t)luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n <= INT32_MAX, 1, "at least one mask expected");
    maskinfo_mask **parts = lua_newuserdatauv(L, (size_t)n * sizeof *parts, 0);
    lua_createtable(L, (int)n, 0); /* keeps the parts alive whatever __index gave */
    for (int64_t i = 0; i < n; i++) {
        lua_geti(L, 1, (lua_Integer)(i + 1));
        parts[i] = mi_check_mask(L, -1);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_stack_heads(&m, parts, n);
    return push_mask_result(L, box, st, m, "stack_heads");
}

static int mask_binary(lua_State *L, int which) {
    maskinfo_mask *a = mi_check_mask(L, 1), *b = which == 2 ? NULL : mi_check_mask(L, 2);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st;
    switch (which) {
    case 0: st = maskinfo_mask_and(&m, a, b); break;
    case 1: st = maskinfo_mask_or(&m, a, b); break;
    case 2: st = maskinfo_mask_not(&m, a); break;
    default: st = maskinfo_mask_andnot(&m, a, b); break;
    }
    static const char *const names[] = {"and_", "or_", "not_", "andnot"};
    return push_mask_result(L, box, st, m, names[which]);
}
static int mask_and(lua_State *L) { return mask_binary(L, 0); }
static int mask_or(lua_State *L) { return mask_binary(L, 1); }
static int mask_not(lua_State *L) { return mask_binary(L, 2); }
static int mask_andnot(lua_State *L) { return mask_binary(L, 3); }

/* m:slice(qstart, newQ, kstart, newK): starts are integers or per batch */
static int mask_slice(lua_State *L) {
    maskinfo_mask *a = mi_check_mask(L, 1);
    int64_t s[4];
    maskinfo_mask_shape(a, s);
    int64_t *qs = mi_opt_i64(L, 2, s[0], 0);
    int64_t nq = check_size(L, 3);
    int64_t *ks = mi_opt_i64(L, 4, s[0], 0);
    int64_t nk = check_size(L, 5);
    MaskBox *box = new_mask_box(L);
    maskinfo_mask *m = NULL;
    int st = maskinfo_mask_slice(&m, a, qs, nq, ks, nk);
    return push_mask_result(L, box, st, m, "slice");
}

/* m:count() -> total, per-head counts as an int64 Array (B, H): exact,
 * since a head of a 1M-token mask holds more than 2^31 cells */
static int mask_count(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    /* one budget: the per-head result and the core's per-row counts */
    double planes = (double)s[0] * (double)s[1];
    int r = mi_budget(L, 8.0 * (planes + planes * (double)s[2]));
    if (r) return r;
    maskinfo_array *ph;
    uint64_t total;
    int st = maskinfo_array_new(&ph, MASKINFO_INT64, 2, s, LIMITS(L));
    if (!st) {
        mi_push_array(L, ph);
        st = maskinfo_mask_count(m, &total, maskinfo_array_data(ph), LIMITS(L));
    }
    if (st) return mi_status(L, st, "count", NULL, MI_RETURN_REFUSALS);
    lua_pushinteger(L, (lua_Integer)total);
    lua_insert(L, -2);
    return 2;
}

/* m:row(b, h, q) -> flat {lo1, hi1, ...} (0-based, half-open) */
static int mask_row(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3), q = luaL_checkinteger(L, 4);
    void **slot = mi_cleanup(L, (void (*)(void *))maskinfo_scratch_free);
    maskinfo_scratch *s = *slot = maskinfo_scratch_new();
    if (!s) return mi_status(L, MASKINFO_ENOMEM, "row", NULL, MI_RETURN_REFUSALS);
    const int64_t *iv;
    int64_t n;
    int st = maskinfo_mask_row(m, b, h, q, s, &iv, &n);
    if (st) return mi_status(L, st, "row", NULL, MI_RETURN_REFUSALS);
    lua_createtable(L, (int)(2 * n), 0); /* may raise: the scratch is the box's */
    for (int64_t i = 0; i < 2 * n; i++) {
        lua_pushinteger(L, iv[i]);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    *slot = NULL;
    maskinfo_scratch_free(s);
    return 1;
}

static int mask_get(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    int v;
    int st = maskinfo_mask_get(m, luaL_checkinteger(L, 2), luaL_checkinteger(L, 3),
                               luaL_checkinteger(L, 4), luaL_checkinteger(L, 5), &v);
    if (st) return mi_status(L, st, "get", NULL, MI_RETURN_REFUSALS);
    lua_pushboolean(L, v);
    return 1;
}

static int mask_to_array(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    maskinfo_dtype dt = mi_check_dtype(L, 2, "to_array", 1, MASKINFO_BOOL);
    maskinfo_array *out;
    int st = maskinfo_mask_to_array(m, dt, &out, LIMITS(L));
    if (st) return mi_status(L, st, "to_array", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    return 1;
}

static int mask_to_bias(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    maskinfo_dtype dt = mi_check_dtype(L, 2, "to_bias", 1, MASKINFO_FLOAT32);
    maskinfo_array *out;
    int st = maskinfo_mask_to_bias(m, dt, &out, LIMITS(L));
    if (st) return mi_status(L, st, "to_bias", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    return 1;
}

/* Push two new Arrays of dtype dt and nd dimensions (shapes sa, sb) and
 * point *pa, *pb at their data; a status when the guard refuses one. */
static int push_pair(lua_State *L, maskinfo_dtype dt, int nd, const int64_t *sa,
                     const int64_t *sb, void **pa, void **pb) {
    maskinfo_array *a, *b;
    int st = maskinfo_array_new(&a, dt, nd, sa, LIMITS(L));
    if (st) return st;
    mi_push_array(L, a);
    st = maskinfo_array_new(&b, dt, nd, sb, LIMITS(L));
    if (st) return st;
    mi_push_array(L, b);
    *pa = maskinfo_array_data(a);
    *pb = maskinfo_array_data(b);
    return MASKINFO_OK;
}

/* m:segment_ids(per_head) -> q_ids, kv_ids (int32 Arrays) */
static int mask_segment_ids(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    int per_head = lua_toboolean(L, 2);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    int64_t qs[3] = {s[0], s[1], s[2]}, ks[3] = {s[0], s[1], s[3]};
    if (!per_head) {
        qs[1] = s[2];
        ks[1] = s[3];
    }
    void *q, *kv;
    int st = push_pair(L, MASKINFO_INT32, per_head ? 3 : 2, qs, ks, &q, &kv);
    if (!st) st = maskinfo_mask_segment_ids(m, per_head, q, kv, LIMITS(L));
    if (st) return mi_status(L, st, "segment_ids", NULL, MI_RETURN_REFUSALS);
    return 2;
}

/* m:validity(mode) -> q_valid (B, Q), kv_valid (B, K) bool Arrays */
static int mask_validity(lua_State *L) {
    static const char *const names[] = {"any", "all", "first", NULL};
    static const maskinfo_head_mode modes[] = {MASKINFO_HEADS_ANY, MASKINFO_HEADS_ALL,
                                               MASKINFO_HEADS_FIRST};
    maskinfo_mask *m = mi_check_mask(L, 1);
    maskinfo_head_mode mode = modes[luaL_checkoption(L, 2, "any", names)];
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    int64_t qs[2] = {s[0], s[2]}, ks[2] = {s[0], s[3]};
    void *q, *kv;
    int st = push_pair(L, MASKINFO_BOOL, 2, qs, ks, &q, &kv);
    if (!st) st = maskinfo_mask_validity(m, mode, q, kv, LIMITS(L));
    if (st) return mi_status(L, st, "validity", NULL, MI_RETURN_REFUSALS);
    return 2;
}

/* m:empty_rows() -> count, flags Array (B, H, Q) bool */
static int mask_empty_rows(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    maskinfo_array *fa;
    uint64_t count;
    int st = maskinfo_array_new(&fa, MASKINFO_BOOL, 3, s, LIMITS(L));
    if (!st) {
        mi_push_array(L, fa);
        st = maskinfo_mask_empty_rows(m, &count, maskinfo_array_data(fa), LIMITS(L));
    }
    if (st) return mi_status(L, st, "empty_rows", NULL, MI_RETURN_REFUSALS);
    lua_pushinteger(L, (lua_Integer)count);
    lua_insert(L, -2);
    return 2;
}

/* a:diff(b) -> ndiff, {b, h, q, k} or nil */
static int mask_diff(lua_State *L) {
    maskinfo_mask *a = mi_check_mask(L, 1), *b = mi_check_mask(L, 2);
    uint64_t n;
    int64_t first[4];
    int st = maskinfo_mask_diff(a, b, &n, first, LIMITS(L));
    if (st) return mi_status(L, st, "diff", NULL, MI_RETURN_REFUSALS);
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
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    int64_t nr = (int64_t)luaL_len(L, 4) - 1, nc = (int64_t)luaL_len(L, 5) - 1;
    luaL_argcheck(L, nr >= 0, 4, "at least one edge expected");
    luaL_argcheck(L, nc >= 0, 5, "at least one edge expected");
    int64_t *re = mi_opt_i64(L, 4, nr + 1, 0), *ce = mi_opt_i64(L, 5, nc + 1, 0);
    int64_t shape[2] = {nr, nc};
    maskinfo_array *out;
    int st = maskinfo_array_new(&out, MASKINFO_INT64, 2, shape, LIMITS(L));
    if (st) return mi_status(L, st, "grid_counts", NULL, MI_RETURN_REFUSALS);
    mi_push_array(L, out);
    st = maskinfo_mask_grid_counts(m, b, h, re, nr, ce, nc, maskinfo_array_data(out), LIMITS(L));
    if (st) return mi_status(L, st, "grid_counts", NULL, MI_RETURN_REFUSALS);
    return 1;
}

/* m:flex_block_bytes(bq, bk) -> what flex_block_mask allocates in all:
 * the block classes (B, H, R, C) uint8, the four tables (num and idx, kv
 * side and q side, partial and full: 2 * (BHR + BHC) * 4 + 4 * BHRC * 4)
 * and one thread's grid buffers; a double, so that no sum wraps.  The Lua
 * layer passes it to its guard before the first allocation. */
static int mask_flex_block_bytes(lua_State *L) {
    maskinfo_mask *m = mi_check_mask(L, 1);
    lua_Integer bq = luaL_checkinteger(L, 2), bk = luaL_checkinteger(L, 3);
    luaL_argcheck(L, bq >= 1, 2, "block size >= 1 expected");
    luaL_argcheck(L, bk >= 1, 3, "block size >= 1 expected");
    int64_t s[4];
    maskinfo_mask_shape(m, s);
    double bh = (double)s[0] * (double)s[1];
    double R = (double)(s[2] / bq + (s[2] % bq != 0)), C = (double)(s[3] / bk + (s[3] % bk != 0));
    lua_pushnumber(L, bh * R * C * (1.0 + 16.0) + 8.0 * bh * (R + C) + 16.0 * (C + 1.0));
    return 1;
}

/* ------------------------------------------------------------ registration */

const luaL_Reg mi_mask_methods[] = {
    {"shape", mask_shape},       {"is_dense", mask_is_dense},     {"bytes", mask_bytes},
    {"and_", mask_and},          {"or_", mask_or},                {"not_", mask_not},
    {"andnot", mask_andnot},     {"slice", mask_slice},           {"count", mask_count},
    {"row", mask_row},           {"get", mask_get},               {"to_array", mask_to_array},
    {"to_bias", mask_to_bias},   {"segment_ids", mask_segment_ids}, {"validity", mask_validity},
    {"empty_rows", mask_empty_rows}, {"diff", mask_diff},         {"grid_counts", mask_grid_counts},
    {"flex_block_bytes", mask_flex_block_bytes},
    {NULL, NULL}};

const luaL_Reg mi_mask_meta[] = {
    {"__gc", mask_gc}, {"__close", mask_gc}, {"__tostring", mask_tostring}, {NULL, NULL}};

const luaL_Reg mi_mask_funcs[] = {
    {"dense", l_dense},         {"random", l_random},
    {"valid_spans", l_valid_spans}, {"spans_to_valid", l_spans_to_valid},
    {"causal", l_causal},     {"window", l_window},       {"chunked", l_chunked},
    {"key_range", l_key_range}, {"intervals", l_intervals}, {"stack_heads", l_stack_heads},
    {NULL, NULL}};
