--- Exports: NumPy .npy, safetensors, block classes and FlexAttention block
-- tables.  Files are written atomically by the core (temporary file in the
-- same folder, fsync, rename): a failure leaves no file behind, and the
-- writers return nil, message, status for it (and for a guard refusal)
-- instead of raising.  Defines methods (through maskinfo.object) and the
-- module functions save_npy and save_safetensors.
-- @module maskinfo.export

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local KN = require("maskinfo.kernels")

local argerr, need, opt_table = E.argerr, E.need, args.opt_table
local logical = O.logical

local X = {}
--- The public functions of this module (copied into `maskinfo`).
X.api = {}

local path_arg = args.path_arg

local function array_arg(fname, n, a, what)
  if not core.is_array(a) then
    argerr(fname, n, ("%s: Array expected, got %s"):format(what, E.typename(a)))
  end
  return a
end

--- Write an Array to a NumPy .npy file (bool, int32, int64, uint8,
-- float32, float16; bfloat16 has no NumPy dtype: use safetensors).
function X.api.save_npy(path, array)
  local fname = "save_npy"
  path = path_arg(fname, 1, path)
  array_arg(fname, 2, array, "array")
  if array:dtype() == "bfloat16" then
    argerr(fname, 2, "bfloat16 has no NumPy dtype (use save_safetensors)")
  end
  return E.returned(fname, core.write_npy(array, path))
end

-- names and Arrays from {name = Array, ...} (sorted by name) or a list of
-- {name, Array} pairs (kept in order).
local function named_arrays(fname, n, tensors)
  if type(tensors) ~= "table" then argerr(fname, n, "table of named Arrays expected, got " .. type(tensors)) end
  local names, arrays = {}, {}
  local nkeys = 0
  for _ in pairs(tensors) do nkeys = nkeys + 1 end
  if #tensors > 0 and nkeys ~= #tensors then
    argerr(fname, n, "a list of {name, Array} pairs or a table of name = Array, not both")
  end
  if #tensors > 0 then
    for i, pair in ipairs(tensors) do
      if type(pair) ~= "table" or type(pair[1]) ~= "string" then
        argerr(fname, n, ("entry %d: {name, Array} expected"):format(i))
      end
      names[i], arrays[i] = pair[1], array_arg(fname, n, pair[2], "entry '" .. pair[1] .. "'")
    end
  else
    for k in pairs(tensors) do
      if type(k) ~= "string" then argerr(fname, n, "tensor names must be strings") end
      names[#names + 1] = k
    end
    table.sort(names)
    for i, k in ipairs(names) do arrays[i] = array_arg(fname, n, tensors[k], "tensor '" .. k .. "'") end
  end
  if #names == 0 then argerr(fname, n, "at least one tensor expected") end
  local seen = {}
  for _, k in ipairs(names) do
    if k == "" then argerr(fname, n, "tensor names must be non-empty") end
    if k:find("\0", 1, true) then argerr(fname, n, "tensor names must not contain NUL bytes") end
    if not utf8.len(k) then argerr(fname, n, "tensor names must be valid UTF-8") end
    if k == "__metadata__" then argerr(fname, n, "'__metadata__' is reserved by the format") end
    if seen[k] then argerr(fname, n, ("duplicate tensor name '%s'"):format(k)) end
    seen[k] = true
  end
  return names, arrays
end

--- Write named Arrays to a safetensors file.
-- @param tensors {name = Array, ...} (written in name order) or a list of
-- {name, Array} pairs (written in the given order)
function X.api.save_safetensors(path, tensors)
  local fname = "save_safetensors"
  path = path_arg(fname, 1, path)
  local names, arrays = named_arrays(fname, 2, tensors)
  return E.returned(fname, core.write_safetensors(path, names, arrays))
end

--- Write the dense attention mask (B, H, Q, K) to a .npy file.
-- @tparam[opt] table opts dtype (default bool)
O.method("save_npy", nil, function(_, f, fname, path, opts)
  path = path_arg(fname, 1, path)
  opts = opt_table(fname, 2, opts, { dtype = true })
  local dtype = args.check_dtype(fname, 2, opts.dtype, "bool")
  if dtype == "bfloat16" then argerr(fname, 2, "bfloat16 has no NumPy dtype (use save_safetensors)") end
  local m = logical(f, fname)
  local refused, status = G.dense_refusal(m, dtype)
  if refused then return E.returned(fname, nil, refused, status) end
  return E.returned(fname, core.write_npy(G.to_array(m, dtype, fname), path))
end)

local ALL_FIELDS = { "attention_mask", "q_segment_ids", "kv_segment_ids", "q_positions", "kv_positions",
  "cu_seqlens_q", "cu_seqlens_kv" }

-- The batch and length each written field must have, by the mask's shape
-- (B, H, Q, K): ids and positions (B, Q) or, from per-head ids, (B, H', Q).
-- cu_seqlens have no batch axis to check (B pairs, or the FlashAttention
-- form over the whole batch).
local LENGTH = { q_segment_ids = 3, kv_segment_ids = 4, q_positions = 3, kv_positions = 4 }

-- A file whose fields disagree would load without a word and answer wrongly:
-- refuse to write it (the object model keeps them consistent; this is the
-- last line of defence).
local function check_written(fname, m, written)
  local dims = { m:shape() }
  for _, p in ipairs(written) do
    local k, s = p[1], p[2]:shape()
    local L = LENGTH[k]
    local bad = (k == "attention_mask" and (s[1] ~= dims[1] or s[3] ~= dims[3] or s[4] ~= dims[4])) or
      (L and (s[1] ~= dims[1] or s[#s] ~= dims[L] or #s > 3))
    if bad then
      E.fail(fname, ("%s has shape (%s), which does not fit the mask (%s); nothing written"):format(
        k, table.concat(s, ", "), table.concat(dims, ", ")))
    end
  end
end

--- Write the MaskInfo's forms to a safetensors file: the dense attention
-- mask, segment ids, positions and cu_seqlens (each as the methods of the
-- same name return them).
-- @tparam[opt] table opts dtype (of the mask, default bool), fields (a
-- list of the names above; default all)
O.method("save_safetensors", nil, function(self, f, fname, path, opts)
  path = path_arg(fname, 1, path)
  opts = opt_table(fname, 2, opts, { dtype = true, fields = true })
  local dtype = args.check_dtype(fname, 2, opts.dtype, "bool")
  local want = opts.fields or ALL_FIELDS
  if type(want) ~= "table" or #want == 0 then argerr(fname, 2, "fields: non-empty list of field names expected") end
  local getters = {
    attention_mask = function() return self:get_or_compute_attention_mask(dtype) end,
    q_segment_ids = function() return self:q_segment_ids() end,
    kv_segment_ids = function() return self:kv_segment_ids() end,
    q_positions = function() return (self:get_or_compute_positions()) end,
    kv_positions = function() return select(2, self:get_or_compute_positions()) end,
    cu_seqlens_q = function() return self:cu_seqlens_q() end,
    cu_seqlens_kv = function() return self:cu_seqlens_kv() end,
  }
  for _, k in ipairs(want) do
    if not getters[k] then
      argerr(fname, 2, ("fields: unknown field '%s' (expected %s)"):format(E.label(k), table.concat(ALL_FIELDS, ", ")))
    end
    if k == "attention_mask" then -- the dense mask: a guard refusal is returned
      local refused, status = G.dense_refusal(logical(f, fname), dtype)
      if refused then return E.returned(fname, nil, refused, status) end
    end
  end
  local pairs_ = {}
  for i, k in ipairs(want) do pairs_[i] = { k, getters[k]() } end
  check_written(fname, logical(f, fname), pairs_)
  return X.api.save_safetensors(path, pairs_)
end)

local function block_sizes(fname, bs)
  return KN.block_pair(fname, bs, 128)
end

-- The mask, its block classes and the block sizes, from the options
-- {block_size=} shared by block_classes and flex_block_mask.
-- tables: bytes per block of the result (1 for classes, 4 tables of int32
-- indices for flex_block_mask), checked before anything is built.
local function classes_of(fname, f, opts, per_block, what)
  local m = logical(f, fname)
  opts = opt_table(fname, 1, opts, { block_size = true })
  local bq, bk = block_sizes(fname, opts.block_size)
  local B, H, Q, K = m:shape()
  local nq, nk = (Q + bq - 1) // bq, (K + bk - 1) // bk
  G.check_bytes(fname, B * 1.0 * H * nq * nk * per_block,
    ("%s of (%d, %d, %d, %d) blocks"):format(what, B, H, nq, nk))
  return need(fname, m:block_classes(bq, bk)), m, bq, bk
end

--- Block classes of every plane: a uint8 Array (B, H, ceil(Q/bq),
-- ceil(K/bk)) with 0 = empty, 1 = partial, 2 = full (a tail block is full
-- when all its cells inside the mask are allowed).
-- @tparam[opt] table opts block_size (integer or {q, kv}, default 128)
O.method("block_classes", nil, function(_, f, fname, opts)
  return (classes_of(fname, f, opts, 1, "block classes"))
end)

local TAILS = { torch = "padded", exact = "exact" }

-- The dense tables' bytes: classes, four num and four index tables.
local function dense_bytes(B, H, R, C)
  local planes = B * 1.0 * H
  return planes * R * C * (1 + 16) + planes * (R + C) * 8
end

--- FlexAttention BlockMask tables (torch's create_block_mask by default).
-- format "dense" (default): int32 Arrays in torch's layout, kv_num_blocks,
-- kv_indices (partial blocks), full_kv_num_blocks, full_kv_indices (full
-- blocks) and the q-side transposes q_num_blocks, q_indices,
-- full_q_num_blocks, full_q_indices.  format "csr": per block row r =
-- (b*H + h)*R + i the runs of block columns, kv_runs (partial) and
-- full_kv_runs (full), each {ptr = int64 (rows + 1), lo, hi = int32}.
-- Both carry block_size = {q, kv}, seq_lengths = {Q, K}, shape = {B, H,
-- R, C} and (unless intervals = false) intervals = {row_ptr, starts,
-- ends}: every row's allowed key intervals, for a mask_mod that answers
-- partial blocks.
-- @tparam[opt] table opts block_size (integer or {q, kv}, default 128),
-- tail ("torch": a ragged tail block is never full, as torch pads the
-- mask; "exact": full when its cells inside the mask are), format, intervals
O.method("flex_block_mask", nil, function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, { block_size = true, tail = true, format = true, intervals = true })
  local bq, bk = block_sizes(fname, opts.block_size)
  local tail = TAILS[args.check_option(fname, 1, opts.tail, "tail", { "torch", "exact" }, "torch")]
  local format = args.check_option(fname, 1, opts.format, "format", { "dense", "csr" }, "dense")
  local with_iv = args.opt_bool(fname, 1, opts.intervals, "intervals", true)
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  local R, C = (Q + bq - 1) // bq, (K + bk - 1) // bk
  local t = { block_size = { bq, bk }, seq_lengths = { Q, K }, shape = { B, H, R, C } }
  if format == "dense" then
    -- one budget for the call, before anything is built
    local bytes = dense_bytes(B, H, R, C)
    if not core.check_alloc(bytes, 1) then
      E.fail(fname, ("the dense tables (%d, %d, %d, %d) at block {%d, %d} need %s, over the memory limit " ..
        "(limit %s, see maskinfo.set_memory_limit); format = \"csr\" keeps them small"):format(
        B, H, R, C, bq, bk, G.human(bytes), G.human(G.get_memory_limit())))
    end
    local c = KN.need(fname, core.block_classes_tail(m, bq, bk, tail))
    local function table_of(want, transpose)
      return KN.need(fname, core.block_table(c, want, transpose))
    end
    t.kv_num_blocks, t.kv_indices = table_of("partial", false)
    t.full_kv_num_blocks, t.full_kv_indices = table_of("full", false)
    t.q_num_blocks, t.q_indices = table_of("partial", true)
    t.full_q_num_blocks, t.full_q_indices = table_of("full", true)
  else
    local pp, pl, ph, fp, fl, fh = KN.need(fname, core.block_runs(m, bq, bk, tail))
    t.kv_runs = { ptr = pp, lo = pl, hi = ph }
    t.full_kv_runs = { ptr = fp, lo = fl, hi = fh }
  end
  if with_iv then
    local rp, st, en = KN.need(fname, core.row_runs(m))
    t.intervals = { row_ptr = rp, starts = st, ends = en }
  end
  return t
end)

return X
