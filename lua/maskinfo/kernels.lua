--- The layouts attention kernels take: FlashMask's startend_row_indices,
-- FlashInfer's packed custom mask and BSR tables, MagiAttention's slices,
-- splash attention's MaskInfo and flash-attn's varlen cu_seqlens.  Each is
-- computed from the compact mask (never the dense one) and checked against
-- the memory guard as a whole before it is allocated; a refusal raises with
-- the size.  Defines MaskInfo methods (through maskinfo.object).
-- @module maskinfo.kernels

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")

local argerr = E.argerr
local opt_table, check_int, opt_bool = args.opt_table, args.check_int, args.opt_bool
local logical = O.logical

local KN = {}

--- The binding's answer, raising as fname when it refused; a guard
-- refusal gets the limit added to the size the core gave.
function KN.need(fname, v, msg, status, ...)
  if v == nil and status == "ETOOBIG" then
    msg = ("%s (limit %s, see maskinfo.set_memory_limit)"):format(msg, G.human(G.get_memory_limit()))
  end
  return E.need(fname, v, msg, status, ...)
end
local need = KN.need

--- A batch row or head index from opts[key]: 0 when the mask has one,
-- required otherwise (the kernel's table has no such axis).
function KN.index_opt(fname, opts, key, count, why)
  local v = opts[key]
  if v == nil then
    if count == 1 then return 0 end
    argerr(fname, 1, ("%s: the mask has %d %s; %s (pass %s=)"):format(key, count,
      key == "head" and "heads" or "batch rows", why, key))
  end
  v = check_int(fname, 1, v, key, 0)
  if v >= count then argerr(fname, 1, ("%s must be < %d, got %d"):format(key, count, v)) end
  return v
end

--- Two block sizes from an integer or {q, kv} (default dflt).
function KN.block_pair(fname, bs, dflt)
  if bs == nil then bs = dflt end
  local bq, bk
  if type(bs) == "table" then bq, bk = bs[1], bs[2] else bq, bk = bs, bs end
  return check_int(fname, 1, bq, "block_size", 1), check_int(fname, 1, bk, "block_size", 1)
end

-- The segment ids of the MaskInfo as (B, L) int32 (head 0 of 3-D ids).
local function ids_2d(f, fname)
  local q, kv = O.seg_ids(f, false, fname)
  return R.head0(q), R.head0(kv)
end

--- FlashMask's `startend_row_indices` (Paddle's flashmask_attention): an
-- int32 Array (B, H, K, n) of masked query rows per key column.  causal
-- (default true): n is 1 `[LTS]` or 2 `[LTS, LTE]` and rows above the
-- diagonal are masked by the kernel; causal=false: n is 2 `[LTS, UTE]` or
-- 4 `[LTS, LTE, UTS, UTE]`.  The smallest exact n is chosen; a mask
-- FlashMask cannot express raises, naming the first such column and why.
-- @tparam[opt] table opts causal
O.method("flashmask", nil, function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, { causal = true })
  local causal = opt_bool(fname, 1, opts.causal, "causal", true)
  return (need(fname, core.flashmask(logical(f, fname), causal)))
end)

--- FlashInfer's packed custom mask for its prefill wrappers: per request
-- (batch row) the q_len x kv_len cells of its tokens (padding, id < 0,
-- left out: for a dense mask, the rows and columns with no allowed
-- cell), flattened row-major and packed little-endian, each request from
-- a byte boundary.  Returns a table: packed_custom_mask (uint8),
-- mask_indptr (bytes), qo_indptr, kv_indptr (int32, B + 1), indices_q,
-- indices_k (int64 flat b*Q + q and b*K + k of the kept tokens: gather q,
-- k and v with them, as unpad_input; dropped query rows attend nothing).
-- @tparam[opt] table opts head (required when the mask has several heads)
O.method("flashinfer_mask", nil, function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, { head = true })
  local m = logical(f, fname)
  local _, H = m:shape()
  local h = KN.index_opt(fname, opts, "head", H, "FlashInfer's custom mask is shared by all heads")
  local q, kv = ids_2d(f, fname)
  local packed, mi, qi, ki, iq, ik = need(fname, core.packbits(m, h, q, kv))
  return { packed_custom_mask = packed, mask_indptr = mi, qo_indptr = qi, kv_indptr = ki, indices_q = iq,
    indices_k = ik }
end)

--- FlashInfer's BlockSparseAttentionWrapper tables: indptr (M/R + 1) and
-- indices (int32) of the br x bc blocks holding any allowed cell, plus M,
-- N, R, C; full is true when every listed block is whole, else mask holds
-- the listed blocks' cells, bool (nnz, R, C) in the order of indices
-- (plan's `mask`: without it FlashInfer computes listed blocks as full).
-- br must divide Q and bc K.
-- @tparam table opts block_size (integer or {R, C}), batch, head
O.method("bsr", nil, function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, { block_size = true, batch = true, head = true })
  if opts.block_size == nil then argerr(fname, 1, "block_size expected") end
  local br, bc = KN.block_pair(fname, opts.block_size)
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  if Q % br ~= 0 or K % bc ~= 0 then
    argerr(fname, 1, ("block_size {%d, %d} must divide the mask's (%d, %d)"):format(br, bc, Q, K))
  end
  local b = KN.index_opt(fname, opts, "batch", B, "the BSR layout has one matrix")
  local h = KN.index_opt(fname, opts, "head", H, "the BSR layout has one matrix")
  local indptr, indices, mask = need(fname, core.bsr(m, b, h, br, bc))
  return { indptr = indptr, indices = indices, mask = mask, full = mask == nil, M = Q, N = K, R = br, C = bc }
end)

--- MagiAttention's slices of the flattened batch (row b*Q + q, key
-- b*K + k): a table with q_ranges, k_ranges (int32 (n, 2)) and
-- attn_type_map (int32 (n): 0 FULL, 1 CAUSAL bottom-right, 2 INVCAUSAL,
-- 3 BICAUSAL), plus total_seqlen_q and total_seqlen_k.  Rows whose
-- intervals continue one of those shapes share a slice.
-- @tparam[opt] table opts head (required when the mask has several heads)
O.method("attn_slices", nil, function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, { head = true })
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  local h = KN.index_opt(fname, opts, "head", H, "Magi's slices are shared by all heads")
  local qr, kr, ty = need(fname, core.attn_slices(m, h))
  return { q_ranges = qr, k_ranges = kr, attn_type_map = ty, total_seqlen_q = B * Q, total_seqlen_k = B * K }
end)

--- splash attention's forward MaskInfo (`_process_mask`): block_mask,
-- data_next, mask_next (int32 (Hm, Q/bq, K/bk), Hm = 1 when every head has
-- the same mask) and partial_mask_blocks (bool (P, bq, bk), the distinct
-- partial blocks); mask_next and partial_mask_blocks are nil when no block
-- is partial.  The block sizes must divide the lengths, as in splash.
-- @tparam[opt] table opts block_size (integer or {q, kv}, default 128), batch
O.method("splash_mask_info", nil, function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, { block_size = true, batch = true })
  local bq, bk = KN.block_pair(fname, opts.block_size, 128)
  local m = logical(f, fname)
  local B, _, Q, K = m:shape()
  if Q % bq ~= 0 then argerr(fname, 1, ("block_size %d should divide q_len %d (splash's rule)"):format(bq, Q)) end
  if K % bk ~= 0 then argerr(fname, 1, ("block_size %d should divide kv_len %d (splash's rule)"):format(bk, K)) end
  local b = KN.index_opt(fname, opts, "batch", B, "splash's mask has no batch axis")
  local bm, dn, mn, pb = need(fname, core.splash(m, b, bq, bk))
  return { block_mask = bm, data_next = dn, mask_next = mn, partial_mask_blocks = pb, block_size = { bq, bk } }
end)

--- Varlen form (flash-attn's flash_attn_varlen_func, xFormers'
-- BlockDiagonalMask.from_seqlens, FlashInfer's qo_indptr): the documents
-- of the flattened batch, padding excluded.  A table: cu_seqlens_q,
-- cu_seqlens_k (int32, n + 1), seqlens_q, seqlens_k (int32, n),
-- max_seqlen_q, max_seqlen_k (integers), indices_q, indices_k (int64 flat
-- token indices b*L + t, as unpad_input), causal and window_size ({left,
-- right}, -1 unbounded): what to pass flash_attn_varlen_func.  Query i of
-- a document of lq queries and lk keys then sees its keys j with
-- i + lk - lq - left <= j <= i + lk - lq + right (bottom-right aligned;
-- causal is right == 0).  The tables are returned only when the mask is
-- exactly that on every head (compared row interval by row interval);
-- anything else raises with the first cell that differs.
O.method("varlen", nil, function(_, f, fname)
  local q, kv = ids_2d(f, fname)
  local cq, ck, sq, sk, iq, ik, mq, mk, left, right = need(fname, core.varlen(q, kv, logical(f, fname)))
  return { cu_seqlens_q = cq, cu_seqlens_k = ck, seqlens_q = sq, seqlens_k = sk, max_seqlen_q = mq,
    max_seqlen_k = mk, indices_q = iq, indices_k = ik, causal = right == 0, window_size = { left, right } }
end)

return KN
