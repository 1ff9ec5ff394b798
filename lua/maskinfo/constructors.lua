--- The MaskInfo constructors (the seed's classmethods) and the checks of
-- the fields they store, which replace{} shares.
-- @module maskinfo.constructors

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local T = require("maskinfo.trace")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")
local C = require("maskinfo.conversions")

local argerr, need = E.argerr, E.need
local opt_table, check_int, ids_arg, opt_bool = args.opt_table, args.check_int, args.ids_arg, args.opt_bool

local K = {}
--- The public functions of this module (copied into `maskinfo`).
K.api = {}

-- The options every constructor takes: positions and axis names.
local CTOR_OPTS = { q_positions = true, kv_positions = true }
for _, k in ipairs(O.AXIS_KEYS) do CTOR_OPTS[k] = true end

local function ctor_opts(extra)
  local t = {}
  for k in pairs(CTOR_OPTS) do t[k] = true end
  for _, k in ipairs(extra or {}) do t[k] = true end
  return t
end

-- Fresh fields with the axis names and positions of the options.
local function base_fields(opts, fname, argn)
  local f = O.default_fields()
  for _, k in ipairs(O.AXIS_KEYS) do
    if opts[k] ~= nil then f[k] = args.axis_name(fname, argn, k, opts[k]) end
  end
  if opts.q_positions ~= nil then f.q_pos = ids_arg(fname, argn, opts.q_positions, "q_positions", { min = false }) end
  if opts.kv_positions ~= nil then f.kv_pos = ids_arg(fname, argn, opts.kv_positions, "kv_positions", { min = false }) end
  return f
end

--- Stored positions must have the shape of the ids (or the mask's B, Q, K).
function K.check_positions(f, fname, argn)
  local B, Q, Kl
  if f.q_ids then local s = f.q_ids:shape() B, Q = s[1], s[#s] end
  if f.kv_ids then local s = f.kv_ids:shape() Kl = s[#s] end
  if f.mask then
    local mb, _, mq, mk = f.mask:shape()
    B, Q, Kl = B or mb, Q or mq, Kl or mk
  end
  local function chk(a, L, what)
    if not a or not B then return end
    local s = a:shape()
    if #s ~= 2 or s[1] ~= B or s[2] ~= L then
      argerr(fname, argn, ("option '%s': shape (%d, %d) expected, got %s (give new ones or %s = false)"):format(
        what, B, L, "(" .. table.concat(s, ", ") .. ")", what))
    end
  end
  chk(f.q_pos, Q, "q_positions")
  chk(f.kv_pos, Kl, "kv_positions")
end

--- A stored mask and stored ids must describe the same B, Q and K.
function K.check_consistent(f, fname, argn)
  if not f.mask then return end
  local B, H, Q, Kl = f.mask:shape()
  local function chk(a, L, what)
    if not a then return end
    local s = a:shape()
    if s[1] ~= B or s[#s] ~= L then
      argerr(fname, argn, ("attention_mask has shape (%d, %d, %d, %d) but %s has (%s)"):format(
        B, H, Q, Kl, what, table.concat(s, ", ")))
    end
  end
  chk(f.q_ids, Q, "q_segment_ids")
  chk(f.kv_ids, Kl, "kv_segment_ids")
end

--- Every stored field must fit the others (replace{} checks the result of
-- each call with this): the mask and ids share B, Q and K, both ids have
-- the same batch, positions are (B, Q) / (B, K), and stored cu_seqlens
-- pairs number B.  A position or cu_seqlens that no longer fits after a
-- new mask or new ids names the key that clears it.
function K.check_fields(f, fname, argn)
  K.check_consistent(f, fname, argn)
  if f.q_ids and f.kv_ids then args.same_batch(fname, argn, f.q_ids, f.kv_ids) end
  K.check_positions(f, fname, argn)
  local B = f.q_ids and f.q_ids:shape()[1] or f.kv_ids and f.kv_ids:shape()[1] or f.mask and (f.mask:shape())
  for key, name in pairs({ cu_q = "cu_seqlens_q", cu_kv = "cu_seqlens_kv" }) do
    local cu = f[key]
    if cu and B and #cu:flat() ~= 2 * B then
      argerr(fname, argn, ("%s holds %d (start, end) pairs, the batch has %d rows (give new ones or %s = false)"):format(
        name, #cu:flat() // 2, B, name))
    end
  end
end

local function valid_ids(valid)
  return (need("maskinfo", core.where(valid, "nonzero", 0, 0, -1, "int32")))
end

-- A padding-mask argument of from_segments{is_attn_mask}: numbers are cast
-- to int32 first, as upstream does (0.5 and -0.5 are padding, 1.7 valid).
local function padding_arg(fname, n, v, what)
  local a = args.mask_arg(fname, n, v, what, (core.is_array(v) and v:dtype() == "bool") and "bool" or "float")
  if a:dtype() ~= "bool" then
    a = need("maskinfo", core.where(a, "abs_ge", 1, 1, 0, "bool"))
  end
  return C.bool2d(fname, n, a, what)
end

--- MaskInfo from segment ids (the mask is implied, never stored).
-- @param q query segment ids (B, Q): >= 0 segment, -1 padding
-- @param[opt] kv key segment ids (B, K), default q
-- @tparam[opt] table opts is_attn_mask, q_positions, kv_positions, axis names
K.api.from_segments = T.func("type", "from_segments", function(fname, q, kv, opts)
  local on
  kv, opts, on = C.split_kv_opts(kv, opts)
  opts = opt_table(fname, on, opts, ctor_opts({ "is_attn_mask" }))
  local f = base_fields(opts, fname, on)
  if opt_bool(fname, on, opts.is_attn_mask, "is_attn_mask", false) then
    local qa = padding_arg(fname, 1, q, "padding mask")
    local ka = kv ~= nil and padding_arg(fname, 2, kv, "kv padding mask") or qa
    f.mask, f.q_ids, f.kv_ids = C.outer_mask(qa, ka, fname)
  else
    local qa = ids_arg(fname, 1, q, "segment ids")
    local ka = kv ~= nil and ids_arg(fname, 2, kv, "kv segment ids") or qa
    -- a batch-1 side broadcasts (upstream); the stored ids are repeated so
    -- both sides have the batch of the mask they imply
    f.q_ids, f.kv_ids = R.broadcast_batch(fname, 2, qa, ka)
  end
  K.check_positions(f, fname, on)
  return O.new(f)
end)

--- MaskInfo from an attention mask (2-D padding, 3-D or 4-D pairwise).
-- @tparam[opt] table opts mask_is_valid (default true), positions, axis names
K.api.from_attention_mask = T.func("type", "from_attention_mask", function(fname, mask, opts)
  opts = opt_table(fname, 2, opts, ctor_opts({ "mask_is_valid" }))
  local f = base_fields(opts, fname, 2)
  local a = args.mask_arg(fname, 1, mask, "attention_mask")
  -- the complement is built inside the core, reading a in place
  local invert = not opt_bool(fname, 2, opts.mask_is_valid, "mask_is_valid", true)
  if #a:shape() == 2 then
    f.mask, f.q_ids, f.kv_ids = C.outer_mask(a, a, fname, invert)
  else
    if #a:shape() < 3 or #a:shape() > 4 then C.four_d(a, fname) end -- raises
    local m = C.dense_mask(a, fname, invert)
    local qv, kv = need(fname, m:validity("any"))
    f.mask, f.q_ids, f.kv_ids = m, valid_ids(qv), valid_ids(kv)
  end
  K.check_positions(f, fname, 2)
  return O.new(f)
end)

--- Padding-style MaskInfo from (start, end) pairs per batch row.
-- @tparam table opts max_q_len (required), cu_seqlens_kv, max_kv_len, positions, axis names
K.api.from_cu_seqlens = T.func("type", "from_cu_seqlens", function(fname, cu_q, opts)
  if opts == nil then argerr(fname, 2, "options table with max_q_len expected") end
  opts = opt_table(fname, 2, opts, ctor_opts({ "max_q_len", "cu_seqlens_kv", "max_kv_len" }))
  local cu_opts = { max_q_len = opts.max_q_len, cu_seqlens_kv = opts.cu_seqlens_kv, max_kv_len = opts.max_kv_len }
  local qv, kv, qa, ka = C.cu_masks(fname, cu_q, cu_opts)
  local f = base_fields(opts, fname, 2)
  f.q_ids, f.kv_ids = valid_ids(qv), valid_ids(kv)
  f.cu_q, f.cu_kv = qa, ka
  K.check_positions(f, fname, 2)
  return O.new(f)
end)

--- A random mask: each cell allowed with probability 1 - sparsity.
-- Deterministic for a seed, whatever the thread count.
K.api.from_random = T.func("type", "from_random", function(fname, batch_size, q_len, kv_len, sparsity, seed, opts)
  batch_size = check_int(fname, 1, batch_size, "batch_size", 0)
  q_len = check_int(fname, 2, q_len, "q_len", 0)
  kv_len = kv_len == nil and q_len or check_int(fname, 3, kv_len, "kv_len", 0)
  if sparsity == nil then sparsity = 0.5 end
  if type(sparsity) ~= "number" or sparsity ~= sparsity or sparsity < 0 or sparsity > 1 then
    argerr(fname, 4, (type(sparsity) == "number" and "sparsity in [0, 1] expected, got " or
      "sparsity: number in [0, 1] expected, got ") .. E.show(sparsity))
  end
  seed = seed == nil and 0 or check_int(fname, 5, seed, "seed")
  opts = opt_table(fname, 6, opts, CTOR_OPTS)
  local f = base_fields(opts, fname, 6)
  local bytes = batch_size * 1.0 * q_len * ((kv_len + 63) // 64) * 8
  if not core.check_alloc(math.max(bytes, batch_size * 1.0 * q_len), 1) then
    E.fail(fname, ("a random (%d, 1, %d, %d) mask needs %s of bits: over the memory guard (limit %s)"):format(
      batch_size, q_len, kv_len, G.human(bytes), G.human(G.get_memory_limit())))
  end
  f.mask = need(fname, core.random(batch_size, 1, q_len, kv_len, 1.0 - sparsity, seed))
  K.check_positions(f, fname, 6)
  return O.new(f)
end)

--- MaskInfo from what a model has at hand.
-- @tparam table t mask_info | attention_mask | input_ids | batch_size and seq_len
K.api.dynamic_init = T.func("type", "dynamic_init", function(fname, t)
  t = opt_table(fname, 1, t, { mask_info = true, input_ids = true, inputs_embeds = true,
    attention_mask = true, batch_size = true, seq_len = true })
  if t.mask_info ~= nil then
    O.fields(t.mask_info, fname)
    return t.mask_info
  end
  local am = t.attention_mask
  if am == nil then
    local B, L
    if t.input_ids ~= nil then
      local ids = ids_arg(fname, 1, t.input_ids, "input_ids", { min = false })
      B, L = ids:shape()[1], ids:shape()[2]
    elseif t.inputs_embeds ~= nil then
      local e = args.mask_arg(fname, 1, t.inputs_embeds, "inputs_embeds", "float")
      local s = e:shape()
      if #s ~= 3 then argerr(fname, 1, "inputs_embeds: 3-D (batch, len, dim) expected") end
      B, L = s[1], s[2]
    elseif t.batch_size ~= nil and t.seq_len ~= nil then
      B = check_int(fname, 1, t.batch_size, "batch_size", 0)
      L = check_int(fname, 1, t.seq_len, "seq_len", 0)
    else
      argerr(fname, 1, "one of mask_info, attention_mask, input_ids, inputs_embeds, or batch_size and seq_len expected")
    end
    G.guard(fname, B * 1.0 * L, 8, "an all-ones padding mask")
    local ones = need(fname, core.where(R.new_array(fname, "bool", { B, L }), "eq", 0, 1, 1, "bool"))
    return K.api.from_segments(ones, { is_attn_mask = true })
  end
  local a = core.is_array(am) and am or args.mask_arg(fname, 1, am, "attention_mask", "float")
  if a:dtype() ~= "bool" then
    a = need("maskinfo", core.where(a, "eq", 1, 1, 0, "bool"))
  end
  if #a:shape() == 2 then
    return K.api.from_segments(a, { is_attn_mask = true })
  end
  return K.api.from_attention_mask(a)
end)

return K
