--- The mask-shaping ops (the seed's apply_*).  Each ANDs (or ORs) a small
-- rule node into the compact mask; slices (decode, prefill, kv lengths) are
-- views.  Nothing here expands a mask.  Defines methods only (through
-- maskinfo.object).
-- @module maskinfo.ops

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local arrays = require("maskinfo.arrays")

local argerr, fail, need = E.argerr, E.fail, E.need
local check_int, opt_table = args.check_int, args.opt_table
local method, derive, logical, seg_ids = O.method, O.derive, O.logical, O.seg_ids
local slice_last = arrays.slice_last

local function dims(f, fname)
  local B, H, Q, K = logical(f, fname):shape()
  return B, H, Q, K
end

local function band(fname, a, b)
  return need(fname, a:and_(b))
end

-- The positions of the kept tokens after a slice: the stored positions, or
-- those the stored ids give before the slice (derived after it, they would
-- restart at the window's start).  Sets ch.q_pos / ch.kv_pos for the
-- sliced sides (qs or ks nil: that side is not sliced).  A side with
-- neither stored positions nor stored ids keeps deriving them from the
-- mask, and derived per-head (3-D) positions are not stored: stored
-- positions are (B, L).
local function slice_positions(f, fname, ch, qs, qlen, ks, klen, kv_ids)
  local want_q = qs and (f.q_pos or (f.q_ids and f.kv_ids))
  local want_kv = ks and (f.kv_pos or (f.q_ids and f.kv_ids))
  if not (want_q or want_kv) then return end
  local src = f
  if kv_ids and not f.kv_pos then -- positions of the masked key ids
    src = O.copy_fields(f)
    src.kv_ids = kv_ids
  end
  local qp, kp = O.positions(src, fname)
  if want_q and #qp:shape() == 2 then ch.q_pos = slice_last(qp, qs, qlen) end
  if want_kv and #kp:shape() == 2 then ch.kv_pos = slice_last(kp, ks, klen) end
end

-- Per-batch integer parameter: an integer or a sequence of B integers.
local function per_batch(fname, n, v, what, B, dflt)
  if v == nil then v = dflt end
  return args.per_batch(fname, n, v, what, B)
end

--- Causal masking: key k is allowed for query q iff k <= q + offset.
-- @param[opt=0] offset an integer or one per batch row
method("apply_causal", "call", function(_, f, fname, offset)
  local B, _, Q, K = dims(f, fname)
  local off = per_batch(fname, 1, offset, "offset", B, 0)
  local rule = need(fname, core.causal(B, Q, K, off))
  return derive(f, { mask = band(fname, logical(f, fname), rule), mask_dtype = "bool", causal = true })
end)

-- Window as left and right (integers, or per-head lists).
local function window_arg(fname, w)
  local function nonneg(v, what)
    local iv = args.int_of(v)
    if iv == nil then
      argerr(fname, 1, ("%s: integer expected, got %s"):format(what,
        type(v) == "number" and tostring(v) or type(v)))
    end
    if iv < 0 then argerr(fname, 1, ("window must be non-negative, got %d"):format(iv)) end
    return iv
  end
  if type(w) == "number" then
    local v = nonneg(w, "window")
    return { v }, { v }, true
  end
  if type(w) ~= "table" then
    argerr(fname, 1, "window: integer, {left, right} or a list of per-head windows expected, got " .. type(w))
  end
  local nkeys = 0
  for _ in pairs(w) do nkeys = nkeys + 1 end
  if nkeys ~= #w then argerr(fname, 1, "window: a sequence without holes expected") end
  if type(w[1]) == "table" or (#w ~= 2 and #w >= 1) then
    -- one window per head: each an integer or {left, right}
    local L, R = {}, {}
    for h, x in ipairs(w) do
      if type(x) == "table" then
        if #x ~= 2 then argerr(fname, 1, ("window for head %d: {left, right} expected"):format(h - 1)) end
        L[h], R[h] = nonneg(x[1], "left window"), nonneg(x[2], "right window")
      else
        L[h] = nonneg(x, "window")
        R[h] = L[h]
      end
    end
    if #L == 0 then argerr(fname, 1, "window: empty list") end
    return L, R, false
  end
  if #w ~= 2 then argerr(fname, 1, "window: {left, right} expected") end
  return { nonneg(w[1], "left window") }, { nonneg(w[2], "right window") }, false
end

--- Sliding-window masking around each query (plus offset).
-- @param window an integer (symmetric), {left, right}, or per-head windows
-- @tparam[opt] table opts offset, mode ("default", "decode", "prefill"), index
method("apply_sliding_window", "call", function(_, f, fname, window, opts)
  local L, R, is_int = window_arg(fname, window)
  opts = opt_table(fname, 2, opts, { offset = true, mode = true, index = true })
  local mode = args.check_option(fname, 2, opts.mode, "mode", { "default", "decode", "prefill" }, "default")
  if mode == "decode" and opts.index == nil then
    argerr(fname, 2, "index is required when mode is 'decode'")
  end
  local B, H, Q, K = dims(f, fname)
  local off = per_batch(fname, 2, opts.offset, "offset", B, 0)
  if #L > 1 and H ~= 1 and #L ~= H then
    argerr(fname, 1, ("%d per-head windows for a mask with %d heads"):format(#L, H))
  end
  local rule = need(fname, core.window(B, Q, K, #L == 1 and L[1] or L, #R == 1 and R[1] or R, off))
  local masked = band(fname, logical(f, fname), rule)
  if mode == "default" then
    return derive(f, { mask = masked, mask_dtype = "bool", sliding_window = true })
  end
  if #L > 1 then argerr(fname, 1, "per-head windows are not supported with mode '" .. mode .. "'") end
  -- clamp so that left + right + 1 cannot wrap around for huge windows
  local left, right = math.min(L[1], K + Q), math.min(R[1], K + Q)
  if mode == "decode" then
    if Q == 0 then fail(fname, "mode 'decode' needs a mask with at least one query") end
    local idx = per_batch(fname, 2, opts.index, "index", B)
    local width = math.min(left + right + 1, K)
    local qs, ks = {}, {}
    for b = 1, B do
      local i = math.max(0, math.min(idx[b], Q - 1))
      qs[b] = i
      ks[b] = math.max(0, math.min(i - left, math.max(K - width, 0)))
    end
    local view = need(fname, masked:slice(qs, math.min(1, Q), ks, width))
    local ch = { mask = view, mask_dtype = "bool", sliding_window = true }
    if f.q_ids then ch.q_ids = slice_last(f.q_ids, qs, 1) end
    if f.kv_ids then ch.kv_ids = slice_last(f.kv_ids, ks, width) end
    slice_positions(f, fname, ch, qs, 1, ks, width)
    return derive(f, ch)
  end
  -- prefill: keep the last width keys
  local width = is_int and math.min(left, K) or math.min(left + right + 1, K)
  local start = math.max(K - width, 0)
  local ks = {}
  for b = 1, B do ks[b] = start end
  local view = need(fname, masked:slice(0, Q, ks, width))
  local ch = { mask = view, mask_dtype = "bool", sliding_window = true }
  if f.kv_ids then ch.kv_ids = slice_last(f.kv_ids, ks, width) end
  slice_positions(f, fname, ch, nil, nil, ks, width)
  return derive(f, ch)
end)

--- Chunked causal attention; segment ids become chunk index + 1 (padding
-- stays -1), as in the seed, so positions derived from them restart in
-- every chunk.  Stored positions are kept; {keep_positions = true} stores
-- the positions of the ids before chunking (document positions, for RoPE).
-- @param chunk_size positive integer
-- @param[opt=0] offset an integer or one per batch row (may be omitted
-- before the options)
-- @tparam[opt] table opts keep_positions
method("apply_chunked", "call", function(_, f, fname, chunk_size, offset, opts)
  local chunk = check_int(fname, 1, chunk_size, "chunk_size")
  if chunk <= 0 then argerr(fname, 1, ("chunk_size must be a positive integer, got %d"):format(chunk)) end
  local on = 3
  if opts == nil and type(offset) == "table" and not core.is_array(offset) and offset[1] == nil
      and next(offset) ~= nil then
    offset, opts, on = nil, offset, 2
  end
  opts = opt_table(fname, on, opts, { keep_positions = true })
  local keep = args.opt_bool(fname, on, opts.keep_positions, "keep_positions", false)
  local B, _, Q, K = dims(f, fname)
  local off = per_batch(fname, 2, offset, "offset", B, 0)
  local rule = need(fname, core.chunked(B, Q, K, chunk, off))
  local q, kv = seg_ids(f, false, fname)
  local function chunk_ids(ids)
    return (need(fname, core.ids_chunk(ids, chunk)))
  end
  local qc = chunk_ids(q)
  local ch = { mask = band(fname, logical(f, fname), rule), mask_dtype = "bool",
    q_ids = qc, kv_ids = rawequal(q, kv) and qc or chunk_ids(kv), chunked = true }
  if keep then
    local all = {}
    for b = 1, B do all[b] = 0 end
    slice_positions(f, fname, ch, all, Q, all, K)
  end
  return derive(f, ch)
end)

-- zero_policy -> how O.seg_leaf (core.segments) reads the query and key types: a zero
-- type is disabled ("nonzero") or matches like any other ("all").
local POLICY = { q = { "nonzero", "all" }, kv = { "all", "nonzero" }, both = { "nonzero", "nonzero" },
  none = { "all", "all" } }

--- Token-type masking: q and kv tokens of equal type attend.
-- @param types (B, Q) token types (or a flat sequence)
-- @tparam[opt] table opts kv_token_type_ids, combine, zero_policy, update_segment_ids
method("apply_token_type_ids", "call", function(_, f, fname, types, opts)
  opts = opt_table(fname, 2, opts, { kv_token_type_ids = true, combine = true, zero_policy = true,
    update_segment_ids = true })
  local combine = args.check_option(fname, 2, opts.combine, "combine", { "union", "intersect", "replace" }, "union")
  local policy = args.check_option(fname, 2, opts.zero_policy, "zero_policy", { "q", "kv", "both", "none" }, "q")
  local qt, qlo = args.ids_arg(fname, 1, types, "token_type_ids", { min = false })
  local kt, klo = qt, qlo
  if opts.kv_token_type_ids ~= nil then
    kt, klo = args.ids_arg(fname, 2, opts.kv_token_type_ids, "kv_token_type_ids", { min = false })
  end
  local B, _, Q, K = dims(f, fname)
  local qs, ks = qt:shape(), kt:shape()
  if qs[1] ~= ks[1] then
    argerr(fname, 2, ("batch sizes differ: %d query rows and %d key rows of token types"):format(qs[1], ks[1]))
  end
  if qs[1] ~= B then
    argerr(fname, 1, ("token types have %d batch rows, the mask has %d"):format(qs[1], B))
  end
  if qs[2] ~= Q then argerr(fname, 1, ("token types have length %d, the mask has %d queries"):format(qs[2], Q)) end
  if ks[2] ~= K then argerr(fname, 2, ("kv token types have length %d, the mask has %d keys"):format(ks[2], K)) end
  local p = POLICY[policy]
  local eq = O.seg_leaf(qt, kt, fname, p[1], p[2])
  local new_mask
  if combine == "union" then
    new_mask = need(fname, logical(f, fname):or_(eq))
  elseif combine == "intersect" then
    new_mask = band(fname, logical(f, fname), eq)
  else
    new_mask = eq
  end
  local update = args.opt_bool(fname, 2, opts.update_segment_ids, "update_segment_ids", combine ~= "union")
  local ch = { mask = new_mask, mask_dtype = "bool", token_type_ids = true }
  if update then
    -- the types become segment ids, which must be >= -1
    for _, lo in ipairs({ qlo or false, klo or false }) do
      if lo and lo < -1 then
        argerr(fname, 1, ("token types must be >= -1 when they become segment ids, got %d"):format(lo))
      end
    end
    -- type 0 (text) becomes padding
    ch.q_ids = need(fname, core.ids_replace(qt, 0, -1))
    ch.kv_ids = kt == qt and ch.q_ids or need(fname, core.ids_replace(kt, 0, -1))
  end
  return derive(f, ch)
end)

--- Mask keys at or beyond each row's length and keep q_len queries ending
-- at each row's length (or at end_index), and optionally the last
-- sliding_window keys.  Ids are sliced with the mask; the kept tokens keep
-- their positions (stored ones sliced, derived ones stored).
-- @param kv_lengths an integer or one per batch row
-- @tparam table opts q_len (required), end_index (upstream's: the query
-- window ends there, and stored key ids past the lengths become -1),
-- sliding_window
method("apply_kv_lengths", "call", function(_, f, fname, kv_lengths, opts)
  opts = opt_table(fname, 2, opts, { q_len = true, sliding_window = true, end_index = true })
  if opts.q_len == nil then argerr(fname, 2, "q_len must be provided") end
  local q_len = check_int(fname, 2, opts.q_len, "q_len", 0)
  local B, _, Q, K = dims(f, fname)
  local lens = per_batch(fname, 1, kv_lengths, "kv_lengths", B)
  for b = 1, B do
    if lens[b] < 0 then argerr(fname, 1, ("kv_lengths must be >= 0, got %d"):format(lens[b])) end
  end
  if q_len > Q then
    argerr(fname, 2, ("q_len (%d) exceeds the mask's query length (%d)"):format(q_len, Q))
  end
  local ends = lens
  if opts.end_index ~= nil then
    ends = args.per_batch(fname, 2, opts.end_index, "end_index", B)
    for b = 1, B do
      if ends[b] < 0 then argerr(fname, 2, ("end_index must be >= 0, got %d"):format(ends[b])) end
    end
  end
  local attn = band(fname, logical(f, fname), need(fname, core.key_range(B, Q, K, 0, lens)))
  local qs = {}
  for b = 1, B do qs[b] = math.max(0, math.min(ends[b] - q_len, math.max(Q - q_len, 0))) end
  local ch = { mask_dtype = "bool" }
  local kv_ids = f.kv_ids
  if opts.end_index ~= nil and kv_ids then
    -- upstream masks the stored key ids past each length
    kv_ids = need(fname, core.ids_cut(kv_ids, lens))
    ch.kv_ids = kv_ids
  end
  if f.q_ids then ch.q_ids = slice_last(f.q_ids, qs, q_len) end
  local ks, width = nil, K
  if opts.sliding_window ~= nil then
    local sw = check_int(fname, 2, opts.sliding_window, "sliding_window", 0)
    width = math.min(sw, K)
    ks = {}
    for b = 1, B do ks[b] = math.max(0, math.min(lens[b] - width, math.max(K - width, 0))) end
    if kv_ids then ch.kv_ids = slice_last(kv_ids, ks, width) end
  end
  slice_positions(f, fname, ch, qs, q_len, ks, width, opts.end_index ~= nil and kv_ids or nil)
  ch.mask = need(fname, attn:slice(qs, q_len, ks or 0, width))
  return derive(f, ch)
end)

return {}
