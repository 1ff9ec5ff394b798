--- Constructors from the inputs ML users hold: a length, document lengths,
-- flash-attn's packed cu_seqlens, tree parents and HF token types.  The
-- ids, positions and masks are made in C (core/src/builders.c): nothing
-- here builds a Lua table with one entry per token, so each is compact at
-- a million tokens, and each size is checked against the memory guard
-- before anything is allocated.
-- @module maskinfo.builders

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local T = require("maskinfo.trace")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")

local argerr, need = E.argerr, E.need
local check_int, opt_table = args.check_int, args.opt_table

local B = {}
--- The public functions of this module (copied into `maskinfo`).
B.api = {}

-- (rows, len) int32 zeros: every token in segment 0.
local function zeros(fname, rows, len)
  G.guard_buffer(fname, rows * 1.0 * len, 4, "segment ids")
  return R.new_array(fname, "int32", { rows, len })
end

local function batch_opt(fname, n, opts)
  return opts.batch == nil and 1 or check_int(fname, n, opts.batch, "batch", 0)
end

--- A causal mask over n tokens: query q sees keys k <= q.  With kv_len,
-- the n queries are the last n of kv_len keys (a KV cache, as HF and
-- flash-attn align them): query q sees k <= q + kv_len - n, and its
-- position is kv_len - n + q.
-- @tparam integer n queries (tokens)
-- @tparam[opt] table opts batch (default 1), kv_len (>= n, default n)
-- @usage mi.causal(4096)
B.api.causal = T.func("type", "causal", function(fname, n, opts)
  n = check_int(fname, 1, n, "n", 0)
  opts = opt_table(fname, 2, opts, { batch = true, kv_len = true })
  local b = batch_opt(fname, 2, opts)
  local K = opts.kv_len == nil and n or check_int(fname, 2, opts.kv_len, "kv_len", n)
  local f = O.default_fields()
  f.q_ids = zeros(fname, b, n)
  f.kv_ids = K == n and f.q_ids or zeros(fname, b, K)
  if K ~= n then f.q_pos = need(fname, core.arange(b, n, K - n)) end
  return O.new(f):apply_causal(K - n)
end)

--- A full (bidirectional) mask: every one of q queries sees all k keys.
-- @tparam integer q queries
-- @tparam[opt=q] integer k keys
-- @tparam[opt] table opts batch (default 1)
B.api.full = T.func("type", "full", function(fname, q, k, opts)
  if type(k) == "table" and opts == nil then k, opts = nil, k end
  q = check_int(fname, 1, q, "q", 0)
  k = k == nil and q or check_int(fname, 2, k, "k", 0)
  opts = opt_table(fname, 3, opts, { batch = true })
  local b = batch_opt(fname, 3, opts)
  local f = O.default_fields()
  f.q_ids = zeros(fname, b, q)
  f.kv_ids = k == q and f.q_ids or zeros(fname, b, k)
  return O.new(f)
end)

-- Lengths as a list of rows, each a list of non-negative integers.
local function length_rows(fname, lengths)
  if type(lengths) ~= "table" then
    argerr(fname, 1, "lengths: list of document lengths expected, got " .. E.typename(lengths))
  end
  local rows = type(lengths[1]) == "table" and lengths or { lengths }
  local totals, widest = {}, 0
  for r, row in ipairs(rows) do
    if type(row) ~= "table" then
      argerr(fname, 1, ("lengths[%d]: list of document lengths expected, got %s"):format(r, E.typename(row)))
    end
    local total = 0
    for d, len in ipairs(row) do
      local v = math.tointeger(len)
      if v == nil or v < 0 then
        local where = rows == lengths and ("lengths[%d][%d]"):format(r, d) or ("lengths[%d]"):format(d)
        argerr(fname, 1, ("%s: non-negative integer expected, got %s"):format(where, E.show(len)))
      end
      total = total + v
    end
    totals[r], widest = total, math.max(widest, total)
  end
  return rows, totals, widest
end

--- Packed documents: one row holding documents of the given lengths, each
-- attending to itself only (causal is yours to add).  A list of lists is
-- a batch, one row each.  The segment ids number the documents of a row
-- from 0, positions restart in each document (as from_segments gives).
-- @tparam table lengths document lengths, or one list per batch row
-- @tparam[opt] table opts pad_to: row length (default the longest row);
-- the tokens after a row's documents are padding (id -1)
-- @usage mi.from_lengths({3000, 2500, 2692}):apply_causal()
B.api.from_lengths = T.func("type", "from_lengths", function(fname, lengths, opts)
  local rows, _, widest = length_rows(fname, lengths)
  opts = opt_table(fname, 2, opts, { pad_to = true })
  local len = widest
  if opts.pad_to ~= nil then
    len = check_int(fname, 2, opts.pad_to, "pad_to", 0)
    if len < widest then
      argerr(fname, 2, ("pad_to (%d) is shorter than the documents of a row (%d tokens)"):format(len, widest))
    end
  end
  G.guard_buffer(fname, #rows * 1.0 * len, 4, "segment ids")
  local f = O.default_fields()
  f.q_ids = need(fname, core.ids_from_lengths(rows, len, fname, 1))
  f.kv_ids = f.q_ids
  return O.new(f)
end)

local function cu_ids(fname, n, cu, what)
  local a = args.ids_arg(fname, n, cu, what, { min = false, flat = true })
  return need(fname, core.ids_from_cu(a, fname, n, what)), #a
end

--- Packed documents from flash-attn's varlen offsets: {0, 5, 12, 16} is
-- three documents of 5, 7 and 4 tokens in one row (the seed's
-- from_cu_seqlens reads start/end pairs per batch row instead).
-- @param cu offsets (a sequence or a 1-D Array): 0, non-decreasing
-- @param[opt] cu_kv key offsets with as many documents (cross-attention,
-- or queries against a longer KV cache); default cu
-- @usage mi.from_packed_cu_seqlens({0, 5, 12, 16})
B.api.from_packed_cu_seqlens = T.func("type", "from_packed_cu_seqlens", function(fname, cu, cu_kv)
  local f = O.default_fields()
  local nq
  f.q_ids, nq = cu_ids(fname, 1, cu, "cu_seqlens")
  f.kv_ids = f.q_ids
  if cu_kv ~= nil then
    local nk
    f.kv_ids, nk = cu_ids(fname, 2, cu_kv, "cu_seqlens_kv")
    if nk ~= nq then
      argerr(fname, 2, ("cu_seqlens_kv has %d documents, cu_seqlens has %d"):format(nk - 1, nq - 1))
    end
  end
  return O.new(f)
end)

--- Tree attention (speculative decoding: Medusa, SpecInfer, EAGLE): node i
-- attends to itself and its ancestors.  Parents come first (parents[i] <
-- i), -1 marks a root; indices are 0-based.  With prefix = P the nodes
-- follow P tokens in the KV cache that every node sees: the mask is
-- (1, 1, n, P + n) and node i's position is P + its depth.  Without a
-- prefix the segment ids number the trees and positions are depths.
-- @param parents a sequence or a 1-D Array of n parent indices
-- @tparam[opt] table opts prefix (default 0)
-- @usage mi.from_tree({-1, 0, 0, 1, 1, 1, 2, 2, 2})
B.api.from_tree = T.func("type", "from_tree", function(fname, parents, opts)
  local p = args.ids_arg(fname, 1, parents, "parents", { min = false, flat = true })
  opts = opt_table(fname, 2, opts, { prefix = true })
  local prefix = opts.prefix == nil and 0 or check_int(fname, 2, opts.prefix, "prefix", 0)
  local n = #p
  G.guard_buffer(fname, (prefix + n) * 2.0, 4, "segment ids and positions")
  local f = O.default_fields()
  f.mask, f.q_ids, f.kv_ids, f.q_pos, f.kv_pos = need(fname, core.tree(p, prefix, fname, 1))
  return O.new(f)
end)

--- Numbered image runs from HF's token_type_ids: text (0) stays 0, each
-- run of image tokens gets its own number (1, 2, ... per row), so that
-- with apply_token_type_ids one image cannot attend to a later one (a
-- change of non-zero type also starts a new run).
-- @param types (batch, len) or a flat sequence of non-negative integers
-- @return an int32 Array (batch, len)
-- @usage mi.image_runs({0, 1, 1, 0, 1, 1}) -- {{0, 1, 1, 0, 2, 2}}
B.api.image_runs = T.func(nil, "image_runs", function(fname, types)
  local t = args.ids_arg(fname, 1, types, "token_type_ids", { min = false })
  return need(fname, core.image_runs(t, fname, 1))
end)

--- Integers from a comma-separated string, as list parameters of
-- recipes arrive from the command line (`--set lengths=3000,2500`).
-- @tparam string s e.g. "3000,2500,2692"
-- @tparam[opt] table opts min (default none), what (the name in messages)
-- @usage mi.int_list("1,2,4") -- {1, 2, 4}
B.api.int_list = T.func(nil, "int_list", function(fname, s, opts)
  if type(s) ~= "string" then argerr(fname, 1, "comma-separated integers expected, got " .. E.typename(s)) end
  opts = opt_table(fname, 2, opts, { min = true, what = true })
  local what = opts.what or "list"
  local t = {}
  for x in (s .. ","):gmatch("([^,]*),") do
    local v = math.tointeger(tonumber(x))
    if v == nil or (opts.min and v < opts.min) then
      argerr(fname, 1, ("%s '%s': item %d (%s) is not an integer%s"):format(what, s, #t + 1, x,
        opts.min and (" >= " .. opts.min) or ""))
    end
    t[#t + 1] = v
  end
  return t
end)

return B
