--- The mask algebra (&, |, -, ~ and minus) and stack_heads.  Binary ops
-- keep the documents (segment ids, positions, cu_seqlens) of an operand
-- whose documents still hold every allowed cell of the result; the flags
-- are OR-ed.  Defines metamethods and methods (through maskinfo.object)
-- and the module function stack_heads.
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

-- The document fields that travel together through a binary op.
local DOC_KEYS = { "q_ids", "kv_ids", "q_pos", "kv_pos", "cu_q", "cu_kv" }

local function stores_ids(f) return f.q_ids ~= nil and f.kv_ids ~= nil end

-- One document without padding on both sides (what from_segments of
-- zeros stores under a plain causal mask): it restricts nothing, so it
-- counts as no documents.
local function trivial_ids(f)
  local function one_doc(a)
    local lo, hi = a:minmax()
    return lo == 0 and hi == 0
  end
  return one_doc(f.q_ids) and one_doc(f.kv_ids)
end

-- The operand whose documents the result of op keeps, or nil.  Equal ids
-- are kept by every op.  Otherwise the documents of the one operand that
-- has any are kept where they still contain the result: by & (either
-- side) and by a - b (a's); a | b with one-sided documents has cells
-- outside them.
local function doc_source(op, fa, fb)
  local sa, sb = stores_ids(fa), stores_ids(fb)
  if sa and sb and fa.q_ids == fb.q_ids and fa.kv_ids == fb.kv_ids then return fa end
  sa, sb = sa and not trivial_ids(fa), sb and not trivial_ids(fb)
  if sa == sb then return nil end
  if op == "and" then return sa and fa or fb end
  if op == "minus" and sa then return fa end
  return nil
end

-- The result of a binary op: documents from doc_source (or none), the
-- flags OR-ed, the other fields from the left operand.
local function combined(op, fa, fb, mask)
  local ch = { mask = mask, mask_dtype = "bool" }
  local src = doc_source(op, fa, fb)
  for _, k in ipairs(DOC_KEYS) do
    ch[k] = src and src[k] or O.NONE
  end
  for _, k in ipairs(O.FLAG_KEYS) do ch[k] = fa[k] or fb[k] end
  return derive(fa, ch)
end

--- a & b: cells allowed in both.  Shapes agree (heads may broadcast);
-- the documents of either operand are kept (see doc_source); flags OR-ed.
O.metamethod("__band", function(a, b)
  local fa, fb, ma, mb = operands("__band", a, b)
  return combined("and", fa, fb, need("__band", ma:and_(mb)))
end)

--- a | b: cells allowed in either; documents only when both store equal ids.
O.metamethod("__bor", function(a, b)
  local fa, fb, ma, mb = operands("__bor", a, b)
  return combined("or", fa, fb, need("__bor", ma:or_(mb)))
end)

local function minus(fname, a, b)
  local fa, fb, ma, mb = operands(fname, a, b)
  return combined("minus", fa, fb, need(fname, ma:andnot(mb)))
end

--- a - b: cells allowed in a and not in b; a's documents are kept.
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
