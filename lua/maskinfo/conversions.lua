--- The seed's module functions: conversions between segment ids, padding
-- masks, cu_seqlens and attention masks.  Also the helpers the
-- constructors share with them (padding masks from pairs, outer products).
-- @module maskinfo.conversions

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local T = require("maskinfo.trace")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")

local argerr, need = E.argerr, E.need
local opt_table, check_int, check_dtype = args.opt_table, args.check_int, args.check_dtype
local ids_arg, mask_arg, opt_bool = args.ids_arg, args.mask_arg, args.opt_bool

local C = {}
--- The public functions of this module (copied into `maskinfo`).
C.api = {}

--- Split (ids [, kv] [, opts]) where the second argument may be the
-- options.  Returns kv, opts and the argument number the options came in.
function C.split_kv_opts(kv, opts)
  if opts == nil and type(kv) == "table" and not core.is_array(kv) and kv[1] == nil and next(kv) ~= nil then
    return nil, kv, 2
  end
  return kv, opts, 3
end

-- 1 for a segment token, 0 for padding (-1), in C: no Lua loop over N.
local function valid_of(ids, dtype)
  return (need("maskinfo", core.where(ids, "eq", -1, 0, 1, dtype)))
end
C.valid_of = valid_of

--- A 2-D, 3-D or 4-D mask Array as 4-D, and its original rank.
function C.four_d(a, fname)
  local s = a:shape()
  if #s == 2 then return a:reshape({ 1, 1, s[1], s[2] }), 2 end
  if #s == 3 then return a:reshape({ s[1], 1, s[2], s[3] }), 3 end
  if #s == 4 then return a, 4 end
  argerr(fname, 1, ("2-D, 3-D or 4-D mask expected, got %d-D"):format(#s))
end

--- A compact Mask of a 2-D, 3-D or 4-D Array, read in place (raises as
-- fname when refused); invert makes zero cells the allowed ones.
function C.dense_mask(a, fname, invert)
  return (need(fname, core.dense(a, invert)))
end

--- The mask segment ids q and kv imply.
function C.seg_mask(q, kv, fname)
  return (need(fname, core.segments(q, kv)))
end

--- Segment ids of a mask: rows (columns) with identical patterns share an
-- id numbered by first appearance; empty rows (columns) get -1.
-- @param mask 2-D (Q, K), 3-D (B, Q, K) or 4-D (B, H, Q, K)
-- @tparam[opt=false] boolean per_head for 4-D masks, ids per head
-- @return q_ids, kv_ids (int32 Arrays)
C.api.mask_to_segment_ids = T.func(nil, "mask_to_segment_ids", function(fname, mask, per_head)
  -- an Array of any dtype is read in place: the bit-packed leaf is the only copy
  local a = need(fname, core.from_nested(mask, "cells", fname, 1, "mask"))
  local nd = #a:shape()
  if nd < 2 or nd > 4 then C.four_d(a, fname) end -- raises
  per_head = opt_bool(fname, 2, per_head, nil, false)
  local q, kv = need(fname, C.dense_mask(a, fname):segment_ids(per_head and nd == 4))
  if nd == 2 then
    q = q:reshape({ q:shape()[2] })
    kv = kv:reshape({ kv:shape()[2] })
  end
  return q, kv
end)

--- Attention mask from segment ids: same id attends, -1 pads.
-- @param q segment ids (B, Q) or a flat sequence
-- @param[opt] kv key segment ids (B, K); default q
-- @tparam[opt] table opts `dtype`, `return_separate_masks`
-- @return mask (B, 1, Q, K), or q_mask, kv_mask, mask
C.api.segment_ids_to_mask = T.func(nil, "segment_ids_to_mask", function(fname, q, kv, opts)
  local on
  kv, opts, on = C.split_kv_opts(kv, opts)
  opts = opt_table(fname, on, opts, { dtype = true, return_separate_masks = true })
  local dtype = check_dtype(fname, on, opts.dtype, "bool")
  local separate = opt_bool(fname, on, opts.return_separate_masks, "return_separate_masks", false)
  local qa = ids_arg(fname, 1, q, "segment ids")
  local ka = kv ~= nil and ids_arg(fname, 2, kv, "kv segment ids") or qa
  local qb, kb = R.broadcast_batch(fname, 2, qa, ka) -- a batch-1 side broadcasts (upstream)
  local mask = G.to_array(C.seg_mask(qb, kb, fname), dtype, fname)
  if separate then
    return valid_of(qa, dtype), valid_of(ka, dtype), mask
  end
  return mask
end)

--- Query mask, key mask and attention mask from segment ids.
C.api.segment_ids_to_qkv_masks = T.func(nil, "segment_ids_to_qkv_masks", function(fname, q, kv, dtype)
  local dn = 3
  if dtype == nil and type(kv) == "string" then kv, dtype, dn = nil, kv, 2 end
  dtype = check_dtype(fname, dn, dtype, "bool")
  local qa = ids_arg(fname, 1, q, "segment ids")
  local ka = kv ~= nil and ids_arg(fname, 2, kv, "kv segment ids") or qa
  local qb, kb = R.broadcast_batch(fname, 2, qa, ka) -- a batch-1 side broadcasts (upstream)
  local mask = G.to_array(C.seg_mask(qb, kb, fname), dtype, fname)
  return valid_of(qa, dtype), valid_of(ka, dtype), mask
end)

--- Interleaved [start, end) of the first and last valid token per row of
-- a (B, L) bool Array (0, 0 for none), in C.
function C.start_end(valid)
  return (need("maskinfo", core.valid_spans(valid)))
end

--- A 1-D or 2-D padding mask argument as a (B, L) bool Array.
function C.bool2d(fname, n, v, what)
  local a = mask_arg(fname, n, v, what)
  local s = a:shape()
  if #s == 1 then a = a:reshape({ 1, s[1] }) s = a:shape() end
  if #s ~= 2 then argerr(fname, n, ("%s: 2-D (batch, len) mask expected, got %d-D"):format(what, #s)) end
  return a
end

--- Start/end pairs of the valid tokens per batch row (the two sides may
-- have different batch sizes, as upstream).
-- @return cu_q, cu_kv (int32, 2*batch entries of each side)
C.api.qkv_masks_to_cu_seqlens = T.func(nil, "qkv_masks_to_cu_seqlens", function(fname, q_mask, kv_mask)
  local qa = C.bool2d(fname, 1, q_mask, "q_mask")
  local ka = kv_mask ~= nil and C.bool2d(fname, 2, kv_mask, "kv_mask") or qa
  return C.start_end(qa), C.start_end(ka)
end)

-- Every (start, end) pair must satisfy 0 <= start <= end <= max_len.
local function check_pairs(fname, n, flat, max_len, what)
  for i = 1, #flat, 2 do
    local s, e = flat[i], flat[i + 1]
    if not (0 <= s and s <= e and e <= max_len) then
      argerr(fname, n, ("%s pair %d is [%d, %d): expected 0 <= start <= end <= %d"):format(
        what, (i - 1) // 2, s, e, max_len))
    end
  end
end

--- A cu_seqlens argument (flat start/end pairs, checked against max_len
-- when given): the Array and its values.
function C.cu_arg(fname, n, cu, max_len, what)
  local a = ids_arg(fname, n, cu, what, { min = false, flat = true })
  local flat = a:flat()
  if #flat % 2 ~= 0 then
    argerr(fname, n, ("%s must have even length (batch*2), got %d"):format(what, #flat))
  end
  if max_len then check_pairs(fname, n, flat, max_len, what) end
  return a, flat
end

-- The (B, max_len) padding mask of checked (start, end) pairs, in C.
local function cu_to_valid(flat, max_len, dtype, fname)
  local B = #flat // 2
  G.guard_buffer(fname, B * 1.0 * max_len, core.dtype_size[dtype], "a padding mask")
  local a = need(fname, core.spans_to_valid(flat, B, max_len))
  if dtype ~= "bool" then a = need(fname, core.where(a, "nonzero", 0, 1, 0, dtype)) end
  return a
end

--- Mask of the tokens inside each [start, end) pair.
C.api.cu_seqlens_to_mask = T.func(nil, "cu_seqlens_to_mask", function(fname, cu, max_len, dtype)
  max_len = check_int(fname, 2, max_len, "max_len", 0)
  dtype = check_dtype(fname, 3, dtype, "bool")
  local _, flat = C.cu_arg(fname, 1, cu, max_len, "cu_seqlens")
  return cu_to_valid(flat, max_len, dtype, fname)
end)

local CU_OPTS = { max_q_len = true, cu_seqlens_kv = true, max_kv_len = true, dtype = true }

--- Padding masks (and the pair Arrays and lengths) from the options
-- max_q_len, cu_seqlens_kv, max_kv_len, dtype.  The two sides must have
-- the same batch size unless independent is true.
function C.cu_masks(fname, cu_q, opts, independent)
  opts = opt_table(fname, 2, opts, CU_OPTS)
  if opts.max_q_len == nil then argerr(fname, 2, "option 'max_q_len' is required") end
  local max_q = check_int(fname, 2, opts.max_q_len, "max_q_len", 0)
  local max_kv = opts.max_kv_len == nil and max_q or check_int(fname, 2, opts.max_kv_len, "max_kv_len", 0)
  local dtype = check_dtype(fname, 2, opts.dtype, "bool")
  local qa, qf = C.cu_arg(fname, 1, cu_q, max_q, "cu_seqlens_q")
  local ka, kf = qa, qf
  if opts.cu_seqlens_kv ~= nil then
    ka, kf = C.cu_arg(fname, 2, opts.cu_seqlens_kv, max_kv, "cu_seqlens_kv")
  else -- the keys reuse the query pairs: they must also fit max_kv_len
    check_pairs(fname, 1, qf, max_kv, "cu_seqlens_q")
  end
  if #qf ~= #kf and not independent then
    argerr(fname, 2, ("batch sizes differ: %d query rows and %d key rows"):format(#qf // 2, #kf // 2))
  end
  return cu_to_valid(qf, max_q, dtype, fname), cu_to_valid(kf, max_kv, dtype, fname), qa, ka, max_q, max_kv
end

--- Padding masks from (start, end) pairs (each side keeps its own batch
-- size, as upstream).
C.api.qkv_cu_seqlens_to_qkv_masks = T.func(nil, "qkv_cu_seqlens_to_qkv_masks", function(fname, cu_q, opts)
  local q, kv = C.cu_masks(fname, cu_q, opts, true)
  return q, kv
end)

--- The outer product of two padding masks as a Mask, and the ids (0 for
-- valid tokens, -1 for padding) it is made of; a batch-1 side broadcasts.
-- invert makes the zero entries the valid ones.
function C.outer_mask(qvalid, kvvalid, fname, invert)
  qvalid, kvvalid = R.broadcast_batch(fname, 2, qvalid, kvvalid)
  -- valid (non-zero) -> segment 0, padding -> -1, in C (no Lua loop over N)
  local test = invert and "eq" or "nonzero"
  local qi = need(fname, core.where(qvalid, test, 0, 0, -1, "int32"))
  local ki = need(fname, core.where(kvvalid, test, 0, 0, -1, "int32"))
  return C.seg_mask(qi, ki, fname), qi, ki
end

--- The outer-product attention mask (B, 1, Q, K) of (start, end) pairs.
C.api.qkv_cu_seqlens_to_attention_mask = T.func(nil, "qkv_cu_seqlens_to_attention_mask", function(fname, cu_q, opts)
  local dtype = check_dtype(fname, 2, type(opts) == "table" and opts.dtype or nil, "bool")
  local q, kv = C.cu_masks(fname, cu_q, opts, true)
  return G.to_array(C.outer_mask(q, kv, fname), dtype, fname)
end)

--- Start/end pairs of the tokens that take part in any attention edge.
-- @tparam[opt] table opts `reduce_heads` = "any" | "all" | "first" (4-D masks)
C.api.attention_mask_to_qkv_cu_seqlens = T.func(nil, "attention_mask_to_qkv_cu_seqlens", function(fname, mask, opts)
  opts = opt_table(fname, 2, opts, { reduce_heads = true })
  local mode = args.check_option(fname, 2, opts.reduce_heads, "reduce_heads", { "any", "all", "first" }, "any")
  -- an Array of any dtype is read in place (a 2-D padding mask is made bool)
  local a = need(fname, core.from_nested(mask, "cells", fname, 1, "attention_mask"))
  local nd = #a:shape()
  if nd == 2 then
    if a:dtype() ~= "bool" then a = need(fname, core.where(a, "nonzero", 0, 1, 0, "bool")) end
    local se = C.start_end(a) -- a padding mask: the same pairs for q and kv
    return se, se
  end
  if nd < 2 or nd > 4 then C.four_d(a, fname) end -- raises
  local qv, kv = need(fname, C.dense_mask(a, fname):validity(mode))
  return C.start_end(qv), C.start_end(kv)
end)

--- A chunked causal mask (q_len, kv_len): same chunk and k <= q + offset.
C.api.create_chunked_attention_mask = T.func(nil, "create_chunked_attention_mask",
  function(fname, chunk_size, q_len, kv_len, offset, dtype)
    chunk_size = check_int(fname, 1, chunk_size, "chunk_size")
    if chunk_size <= 0 then
      argerr(fname, 1, ("chunk_size must be a positive integer, got %d"):format(chunk_size))
    end
    q_len = check_int(fname, 2, q_len, "q_len", 0)
    kv_len = kv_len == nil and q_len or check_int(fname, 3, kv_len, "kv_len", 0)
    offset = offset == nil and 0 or check_int(fname, 4, offset, "offset")
    dtype = check_dtype(fname, 5, dtype, "bool")
    local m = need(fname, core.chunked(1, q_len, kv_len, chunk_size, offset))
    return G.to_array(m, dtype, fname):reshape({ q_len, kv_len })
  end)

return C
