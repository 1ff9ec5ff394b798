--- MaskInfo properties: flags and predicates, biases, shape, replace{}
-- and tostring.  Defines methods and __tostring (through maskinfo.object).
-- @module maskinfo.properties

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")
local C = require("maskinfo.conversions")
local K = require("maskinfo.constructors")

local method, logical = O.method, O.logical
local argerr = E.argerr

---------------------------------------------------------------- flags and predicates

--- True when the stored segment ids hold more than one sequence (max id > 0).
method("is_multi_sequence", "property", function(_, f)
  local ids = f.q_ids or f.kv_ids
  if not ids then return false end
  local _, hi = R.head0(ids):minmax()
  return hi ~= nil and hi > 0
end)

local function is_self_attention(f)
  if f.q_ids and f.kv_ids then return f.q_ids == f.kv_ids end
  if f.mask then
    local _, _, Q, Kl = f.mask:shape()
    return Q == Kl
  end
  if f.cu_q and f.cu_kv then return f.cu_q == f.cu_kv end
  return false
end

--- True when queries and keys are the same sequence.
method("is_self_attention", nil, function(_, f) return is_self_attention(f) end)

--- The four baked-in flags.
method("baked_in_masks", nil, function(_, f)
  local t = {}
  for _, k in ipairs(O.FLAG_KEYS) do t[k] = f[k] end
  return t
end)

--- Additive bias (float32): 0 where allowed, the lowest finite value elsewhere.
method("bias", "property", function(_, f, fname)
  return G.to_bias(logical(f, fname), "float32", fname)
end)

local FLOATS, FLOAT_LIST = O.set(O.FLOAT_DTYPES), O.spell(O.FLOAT_DTYPES)

--- Additive bias in a float dtype (default float32).
method("create_bias", "call", function(_, f, fname, dtype)
  if dtype ~= nil and not FLOATS[dtype] then
    argerr(fname, 1, ("float dtype expected (%s), got %s"):format(FLOAT_LIST,
      type(dtype) == "string" and dtype or E.typename(dtype)))
  end
  return G.to_bias(logical(f, fname), dtype or "float32", fname)
end)

---------------------------------------------------------------- shape

local function batch_size(f)
  if f.q_ids then return f.q_ids:shape()[1] end
  if f.mask then return (f.mask:shape()) end
  if f.cu_q then return #f.cu_q - 1 end
  if f.cu_kv then return #f.cu_kv - 1 end
  return nil
end

local function q_len(f)
  if f.q_ids then local s = f.q_ids:shape() return s[#s] end
  if f.mask then local _, _, Q = f.mask:shape() return Q end
  return nil
end

local function kv_len(f)
  if f.kv_ids then local s = f.kv_ids:shape() return s[#s] end
  if f.mask then local _, _, _, Kl = f.mask:shape() return Kl end
  return nil
end

--- Batch size.
method("batch_size", "property", function(_, f) return batch_size(f) end)
--- Query length.
method("q_len", "property", function(_, f) return q_len(f) end)
--- Key length.
method("kv_len", "property", function(_, f) return kv_len(f) end)
--- batch_size, q_len, kv_len (three results).
method("shape", "property", function(_, f) return batch_size(f), q_len(f), kv_len(f) end)

---------------------------------------------------------------- replace / repr

local FLAG = O.set(O.FLAG_KEYS)

-- The new value of the field stored under key, from replace{}'s value v
-- for the seed's name k.
local function replacement(fname, f, k, key, v)
  if key == "mask" then
    -- an Array keeps its dtype (the seed stores what it is given); nested
    -- tables are bool; either way non-zero cells are allowed
    local a = E.need(fname, core.from_nested(v, "cells", fname, 1, k)) -- refuses NaN; keeps an Array
    local nd = #a:shape()
    if nd < 2 or nd > 4 then C.four_d(a, fname) end -- raises
    return C.dense_mask(a, fname), a:dtype()
  elseif key == "q_ids" or key == "kv_ids" then
    return args.ids_arg(fname, 1, v, k, { allow3 = true })
  elseif key == "cu_q" or key == "cu_kv" or key == "q_pos" or key == "kv_pos" then
    if v == false then return O.NONE end
    if key == "cu_q" or key == "cu_kv" then
      return (C.cu_arg(fname, 1, v, key == "cu_q" and q_len(f) or kv_len(f), k))
    end
    return args.ids_arg(fname, 1, v, k, { min = false })
  elseif FLAG[key] then
    if type(v) ~= "boolean" then argerr(fname, 1, ("option '%s': boolean expected, got %s"):format(k, type(v))) end
    return v
  end
  local name = args.axis_name(fname, 1, k, v)
  if name == false then return O.NONE end
  return name
end

--- A copy with fields replaced (the seed's replace).  A new mask or new
-- segment ids drop the cu_seqlens unless new ones are given.  `false` clears
-- positions and cu_seqlens.
method("replace", "call", function(_, f, fname, t)
  t = args.opt_table(fname, 1, t, O.SEED_FIELDS)
  local ch = {}
  for k, v in pairs(t) do
    local key = O.SEED_FIELDS[k]
    if key == "mask" then
      ch.mask, ch.mask_dtype = replacement(fname, f, k, key, v)
    else
      ch[key] = replacement(fname, f, k, key, v)
    end
  end
  local out = O.derive(f, ch)
  K.check_fields(O.fields(out, fname), fname, 1)
  return out
end)

local function py_bool(b) return b and "True" or "False" end

-- The stored fields tostring shows, in order.
local SHOWN = {
  { "mask", "attention_mask" }, { "q_ids", "q_segment_ids" }, { "kv_ids", "kv_segment_ids" },
  { "cu_q", "cu_seqlens_q" }, { "cu_kv", "cu_seqlens_kv" },
}

--- tostring(mi): the seed's __repr__ (stored fields only), e.g.
-- `MaskInfo(q_segment_ids.shape=(1, 5), kv_segment_ids.shape=(1, 5), self_attn=True)`.
O.metamethod("__tostring", function(self)
  if not O.is_open(self) then return "MaskInfo(closed)" end
  local f = O.fields(self, "__tostring")
  local items = {}
  for _, s in ipairs(SHOWN) do
    local v = f[s[1]]
    if v then
      items[#items + 1] = s[2] .. ".shape=" .. R.shape_str(s[1] == "mask" and { v:shape() } or v:shape())
    end
  end
  items[#items + 1] = "self_attn=" .. py_bool(is_self_attention(f))
  local baked = {}
  for _, k in ipairs(O.FLAG_KEYS) do
    if f[k] then baked[#baked + 1] = "'" .. k .. "'" end
  end
  if #baked > 0 then items[#items + 1] = "baked_in=[" .. table.concat(baked, ", ") .. "]" end
  return "MaskInfo(" .. table.concat(items, ", ") .. ")"
end)

return {}
