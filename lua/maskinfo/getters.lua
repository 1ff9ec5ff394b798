--- MaskInfo getters: the attention mask and segment ids (stored or
-- derived), their materialized forms, cu_seqlens, lengths and positions.
-- Defines methods only (through maskinfo.object).
-- @module maskinfo.getters

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")
local C = require("maskinfo.conversions")

local method, logical, seg_ids, derive = O.method, O.logical, O.seg_ids, O.derive
local need, check_dtype, opt_bool = E.need, args.check_dtype, args.opt_bool
local head0 = R.head0

---------------------------------------------------------------- masks and ids

--- The attention mask (B, H, Q, K): stored, or implied by the segment ids.
-- @tparam[opt] string dtype default: the stored mask's dtype, else "bool"
method("attention_mask", "property", function(_, f, fname, dtype)
  dtype = check_dtype(fname, 1, dtype, f.mask and f.mask_dtype or "bool")
  return G.to_array(logical(f, fname), dtype, fname)
end)

--- The attention mask in dtype (default bool).
method("get_or_compute_attention_mask", "call", function(_, f, fname, dtype)
  dtype = check_dtype(fname, 1, dtype, "bool")
  return G.to_array(logical(f, fname), dtype, fname)
end)

--- Query segment ids: stored, or derived from the mask.
method("q_segment_ids", "property", function(_, f, fname)
  return f.q_ids or (seg_ids(f, false, fname))
end)

--- Key segment ids: stored, or derived from the mask.
method("kv_segment_ids", "property", function(_, f, fname)
  if f.kv_ids then return f.kv_ids end
  local _, kv = seg_ids(f, false, fname)
  return kv
end)

--- Segment ids, derived from the mask if none are stored.
-- @tparam[opt=false] boolean per_head
method("get_or_compute_segment_ids", "call", function(_, f, fname, per_head)
  per_head = opt_bool(fname, 1, per_head, nil, false)
  return seg_ids(f, per_head, fname)
end)

--- A MaskInfo whose attention mask is stored (in dtype).
method("materialize_attention_mask", "call", function(_, f, fname, dtype)
  dtype = check_dtype(fname, 1, dtype, "bool")
  if f.mask and f.mask_dtype == dtype then return O.new(O.copy_fields(f)) end
  return derive(f, { mask = logical(f, fname), mask_dtype = dtype })
end)

--- A MaskInfo whose segment ids are stored.
method("materialize_segment_ids", "call", function(_, f, fname, per_head)
  if f.q_ids and f.kv_ids then return O.new(O.copy_fields(f)) end
  per_head = opt_bool(fname, 1, per_head, nil, false)
  local q, kv = seg_ids(f, per_head, fname)
  return derive(f, { q_ids = q, kv_ids = kv })
end)

--- Query mask, key mask and the mask the segment ids imply.
method("get_qkv_masks", "call", function(_, f, fname, dtype)
  dtype = check_dtype(fname, 1, dtype, "bool")
  local q, kv = seg_ids(f, false, fname)
  local mask = G.to_array(C.seg_mask(q, kv, fname), dtype, fname)
  return C.valid_of(q, dtype), C.valid_of(kv, dtype), mask
end)

--- A MaskInfo whose stored attention mask has dtype.
method("to_dtype", "call", function(_, f, fname, dtype)
  dtype = check_dtype(fname, 1, dtype)
  local m = logical(f, fname)
  if dtype == "bool" then
    -- the seed caches the computed mask on the object, then returns it
    local g = O.copy_fields(f)
    if not g.mask then g.mask, g.mask_dtype = m, "bool" end
    return O.new(g)
  end
  return derive(f, { mask = m, mask_dtype = dtype })
end)

---------------------------------------------------------------- lengths and positions

-- FlashAttention-style cumulative lengths over all segments of the batch.
local function fa_cu_seqlens(ids, max_segments, fname)
  G.guard(fname, max_segments, 8, "cumulative lengths")
  local cu, bad = need(fname, core.ids_cu_seqlens(ids, max_segments))
  if not cu then
    E.fail(fname, ("segment id %d is >= max_segments (%d)"):format(bad, max_segments))
  end
  return cu
end

local function qkv_cu(f, max_segments, fname)
  if f.cu_q and f.cu_kv then return f.cu_q, f.cu_kv end
  if f.cu_q then return f.cu_q, f.cu_q end
  if f.cu_kv then return f.cu_kv, f.cu_kv end
  if f.q_ids and f.kv_ids then
    local q = fa_cu_seqlens(head0(f.q_ids), max_segments, fname)
    -- the same ids: a copy (each caller owns what it gets), not a second pass
    if rawequal(f.q_ids, f.kv_ids) then return q, q:astype("int32") end
    return q, fa_cu_seqlens(head0(f.kv_ids), max_segments, fname)
  end
  local qv, kv = need(fname, logical(f, fname):validity("any"))
  return C.start_end(qv), C.start_end(kv)
end

--- cu_seqlens in the seed's two formats: stored pairs, FlashAttention-style
-- cumulative lengths from segment ids, or start/end pairs from the mask.
-- @tparam[opt] table opts max_segments (default 128), out_dtype
method("get_or_compute_qkv_cu_seqlens", "call", function(_, f, fname, opts)
  opts = args.opt_table(fname, 1, opts, { max_segments = true, out_dtype = true })
  local ms = opts.max_segments == nil and 128 or args.check_int(fname, 1, opts.max_segments, "max_segments", 0)
  local q, kv = qkv_cu(f, ms, fname)
  if opts.out_dtype ~= nil then
    local dt = check_dtype(fname, 1, opts.out_dtype)
    return q:astype(dt), kv:astype(dt)
  end
  return q, kv
end)

--- Query cu_seqlens (see get_or_compute_qkv_cu_seqlens).
method("cu_seqlens_q", "property", function(_, f, fname)
  return (qkv_cu(f, 128, fname))
end)

--- Key cu_seqlens (see get_or_compute_qkv_cu_seqlens).
method("cu_seqlens_kv", "property", function(_, f, fname)
  local _, kv = qkv_cu(f, 128, fname)
  return kv
end)

local function lens(ids, fname)
  if not ids then return nil end
  local a = head0(ids)
  local mx = core.ids_max(a)
  if mx > 0 then
    G.guard(fname, mx + 1.0, 8, "per-segment lengths")
    return (need(fname, core.ids_bincount(a, mx + 1)))
  end
  return (need(fname, core.ids_valid_per_row(a)))
end

--- Per-segment query lengths (packed), or per-batch valid counts; nil when
-- no segment ids are stored.
method("q_lens", "property", function(_, f)
  return lens(f.q_ids, "q_lens")
end)

--- Per-segment key lengths, like q_lens.
method("kv_lens", "property", function(_, f)
  return lens(f.kv_ids, "kv_lens")
end)

--- 1 for valid query tokens, 0 for padding (int32, the shape of the ids).
method("q_attention_mask", nil, function(_, f, fname)
  local q = f.q_ids or seg_ids(f, false, fname)
  return (need("maskinfo", core.where(q, "eq", -1, 0, 1, "int32"))) -- as map_array named it
end)

local function positions(ids, pad, fname)
  return (need(fname, core.positions(ids, pad)))
end

--- Positions restarting at each query segment; padding gets -1.
method("q_position_ids", nil, function(_, f, fname)
  local q = f.q_ids or seg_ids(f, false, fname)
  return positions(q, -1, fname)
end)

--- Query and key positions: stored, or restarting per segment (padding:
-- -1 for queries, int32 max for keys).
method("get_or_compute_positions", "call", function(_, f, fname)
  return O.positions(f, fname)
end)

return {}
