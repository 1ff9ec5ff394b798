--- The mask algebra (&, |, -, ~ and minus) and stack_heads.  Binary ops
-- keep the segment ids (and positions) only when both operands store the
-- same ones; the flags are OR-ed.  Defines metamethods and methods
-- (through maskinfo.object) and the module function stack_heads.
-- @module maskinfo.algebra

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")

local argerr, need = E.argerr, E.need
local method, derive, logical = O.method, O.derive, O.logical

local A = {}
--- The public functions of this module (copied into `maskinfo`).
A.api = {}

local function operands(fname, a, b)
  local ma, mb = O.other_mask(fname, 1, a), O.other_mask(fname, 2, b)
  local differ = O.shapes_differ(ma, mb, true)
  if differ then argerr(fname, 2, differ) end
  return O.fields(a, fname), O.fields(b, fname), ma, mb
end

-- The result of a binary op keeps the segment ids (and positions) only
-- when both operands store the same ones; the flags are OR-ed.
local function combined(fa, fb, mask)
  local ch = { mask = mask, mask_dtype = "bool" }
  local same_ids = fa.q_ids and fb.q_ids and fa.kv_ids and fb.kv_ids and
    fa.q_ids == fb.q_ids and fa.kv_ids == fb.kv_ids
  if not same_ids then
    ch.q_ids, ch.kv_ids = O.NONE, O.NONE
  end
  for _, k in ipairs(O.FLAG_KEYS) do ch[k] = fa[k] or fb[k] end
  return derive(fa, ch)
end

--- a & b: cells allowed in both.  Shapes agree (heads may broadcast);
-- segment ids are kept only when both store the same ones; flags OR-ed.
O.metamethod("__band", function(a, b)
  local fa, fb, ma, mb = operands("__band", a, b)
  return combined(fa, fb, need("__band", ma:and_(mb)))
end)

--- a | b: cells allowed in either (same rules as &).
O.metamethod("__bor", function(a, b)
  local fa, fb, ma, mb = operands("__bor", a, b)
  return combined(fa, fb, need("__bor", ma:or_(mb)))
end)

local function minus(fname, a, b)
  local fa, fb, ma, mb = operands(fname, a, b)
  return combined(fa, fb, need(fname, ma:andnot(mb)))
end

--- a - b: cells allowed in a and not in b (same rules as &).
O.metamethod("__sub", function(a, b) return minus("__sub", a, b) end)

--- ~a: the complement; drops segment ids and clears the flags.
O.metamethod("__bnot", function(a)
  local f = O.fields(a, "__bnot")
  local ch = { mask = need("__bnot", logical(f, "__bnot"):not_()), mask_dtype = "bool",
    q_ids = O.NONE, kv_ids = O.NONE }
  for _, k in ipairs(O.FLAG_KEYS) do ch[k] = false end
  return derive(f, ch)
end)

--- Cells allowed in self and not in other.
method("minus", nil, function(self, _, fname, other) return minus(fname, self, other) end)

--- One head per MaskInfo (splash's MultiHeadMask).
-- @tparam table list MaskInfos with one head each and equal shapes
function A.api.stack_heads(list)
  local fname = "stack_heads"
  if type(list) ~= "table" or #list == 0 then
    argerr(fname, 1, "non-empty list of MaskInfo expected")
  end
  local masks, f1 = {}, nil
  for i, mi in ipairs(list) do
    if not O.is_maskinfo(mi) then argerr(fname, 1, ("element %d: MaskInfo expected, got %s"):format(i, type(mi))) end
    local f = O.fields(mi, fname)
    f1 = f1 or f
    local m = logical(f, fname)
    local B, H, Q, K = m:shape()
    local B1, _, Q1, K1 = logical(f1, fname):shape()
    if H ~= 1 then argerr(fname, 1, ("element %d has %d heads, expected 1"):format(i, H)) end
    if B ~= B1 or Q ~= Q1 or K ~= K1 then
      argerr(fname, 1, ("element %d has shape (%d, %d, %d), expected (%d, %d, %d)"):format(i, B, Q, K, B1, Q1, K1))
    end
    masks[i] = m
  end
  local m = need(fname, core.stack_heads(masks))
  local ch = { mask = m, mask_dtype = "bool" }
  for _, k in ipairs(O.FLAG_KEYS) do
    for _, mi in ipairs(list) do
      if O.fields(mi, fname)[k] then ch[k] = true end
    end
  end
  for i = 2, #list do
    local f = O.fields(list[i], fname)
    if not (f.q_ids and f1.q_ids and f.q_ids == f1.q_ids and f.kv_ids == f1.kv_ids) then
      ch.q_ids, ch.kv_ids = O.NONE, O.NONE
      break
    end
  end
  return derive(f1, ch)
end

return A
