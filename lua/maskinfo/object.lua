--- The MaskInfo object model, which every other module builds on.
--
-- A MaskInfo is an immutable userdata (a box made by the binding) whose
-- metatable is made here and whose user value is its field table:
--
--   mask        the stored compact mask (a `maskinfo.core` Mask) or nil
--   mask_dtype  the dtype the stored mask reports (a mask dtype)
--   q_ids, kv_ids, q_pos, kv_pos, cu_q, cu_kv   int32 Arrays or nil
--   causal, sliding_window, chunked, token_type_ids   the baked-in flags
--   batch_axis_name, qheads_axis_name, kvheads_axis_name,
--   sequence_axis_name   the sharding axis names
--   cache_*     derived values, dropped by derive()
--
-- The flags, the axis names and their defaults, and the dtype tables are
-- defined here once (the dtypes come from the core through the binding).
-- Methods are added with O.method, which does the setup every method
-- shares: the field fetch (which checks the receiver), the trace line and
-- the function name for errors.
-- @module maskinfo.object

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local T = require("maskinfo.trace")

local O = {}

---------------------------------------------------------------- dtypes

--- Every Array dtype, in the core's order (bool, int32, ...).
O.DTYPES = core.dtypes
--- Bytes per element, by dtype name.
O.DTYPE_SIZE = core.dtype_size

-- Array dtypes that are not mask dtypes: exact counts and block classes.
local NOT_MASK = { int64 = true, uint8 = true }

local function filter(pred)
  local t = {}
  for _, d in ipairs(O.DTYPES) do if pred(d) then t[#t + 1] = d end end
  return t
end

--- The dtypes of masks, ids and biases (every dtype but int64 and uint8).
O.MASK_DTYPES = filter(function(d) return not NOT_MASK[d] end)
--- The floating dtypes (for biases).
O.FLOAT_DTYPES = filter(function(d) return d:find("float", 1, true) ~= nil end)

--- A set {name = true} of a dtype list.
function O.set(list)
  local s = {}
  for _, d in ipairs(list) do s[d] = true end
  return s
end

--- "a, b or c" for a list of names.
function O.spell(list)
  if #list == 1 then return list[1] end
  return table.concat(list, ", ", 1, #list - 1) .. " or " .. list[#list]
end

---------------------------------------------------------------- flags and axes

--- The baked-in flags: field key and the seed's name (for replace{}).
O.FLAGS = {
  { key = "causal", seed = "causal_mask_baked_in" },
  { key = "sliding_window", seed = "sliding_window_baked_in" },
  { key = "chunked", seed = "chunked_mask_baked_in" },
  { key = "token_type_ids", seed = "token_type_ids_baked_in" },
}
--- The sharding axis names and their defaults.
O.AXES = {
  { key = "batch_axis_name", default = { "dp", "fsdp" } },
  { key = "qheads_axis_name", default = "tp" },
  { key = "kvheads_axis_name", default = "tp" },
  { key = "sequence_axis_name", default = "sp" },
}

O.FLAG_KEYS, O.AXIS_KEYS = {}, {}
for i, fl in ipairs(O.FLAGS) do O.FLAG_KEYS[i] = fl.key end
for i, ax in ipairs(O.AXES) do O.AXIS_KEYS[i] = ax.key end

--- The seed's field names and the field keys they are stored under.
O.SEED_FIELDS = {
  attention_mask = "mask", q_segment_ids = "q_ids", kv_segment_ids = "kv_ids",
  cu_seqlens_q = "cu_q", cu_seqlens_kv = "cu_kv", q_positions = "q_pos", kv_positions = "kv_pos",
}
for _, fl in ipairs(O.FLAGS) do O.SEED_FIELDS[fl.seed] = fl.key end
for _, ax in ipairs(O.AXES) do O.SEED_FIELDS[ax.key] = ax.key end

--- Fresh fields of a MaskInfo with nothing stored: bool mask dtype, flags
-- off, default axis names.
function O.default_fields()
  local f = { mask_dtype = "bool" }
  for _, k in ipairs(O.FLAG_KEYS) do f[k] = false end
  for _, ax in ipairs(O.AXES) do f[ax.key] = ax.default end
  return f
end

---------------------------------------------------------------- objects

local methods = {}

-- The seed's public dataclass fields, readable as m.<name>, and the field
-- keys they are stored under.
local PUBLIC = { q_positions = "q_pos", kv_positions = "kv_pos" }
for _, fl in ipairs(O.FLAGS) do PUBLIC[fl.seed] = fl.key end
for _, ax in ipairs(O.AXES) do PUBLIC[ax.key] = ax.key end
--- The names readable as fields (m.q_positions, m.causal_mask_baked_in, ...).
O.PUBLIC_FIELDS = PUBLIC

local AXIS_SET = {}
for _, k in ipairs(O.AXIS_KEYS) do AXIS_SET[k] = true end

local function read_field(self, k)
  local m = methods[k]
  if m ~= nil then return m end
  local key = PUBLIC[k]
  if key == nil then return nil end
  local f = core.unbox(self)
  if not f then E.fail(k, "MaskInfo is closed") end
  local v = f[key]
  if type(v) == "table" then -- an axis-name list: a copy keeps the object immutable
    local c = {}
    for i, x in ipairs(v) do c[i] = x end
    return c
  end
  if v == nil and AXIS_SET[key] then return false end -- None, as replace{} spells it
  return v
end

local MT = {
  __name = "MaskInfo",
  __index = read_field,
  -- MaskInfos are immutable: every field is changed through replace{}
  __newindex = function(_, k)
    local what = PUBLIC[k] and ("field '%s' is read-only"):format(k) or
      ("cannot set '%s' on a MaskInfo (it is immutable)"):format(tostring(k))
    E.fail("MaskInfo", what .. "; use m:replace{" .. (PUBLIC[k] and k or "...") .. " = ...}, which returns a new MaskInfo")
  end,
  -- closing drops the fields (they may be shared with other MaskInfos, so
  -- nothing is freed here); idempotent
  __close = function(self) core.drop(self) end,
}

--- Marker for "clear this field" in derive().
O.NONE = setmetatable({}, { __name = "NONE" })

--- A new MaskInfo holding fields f.
function O.new(f)
  return core.box(MT, f)
end

--- True when v is a MaskInfo (open or closed).
function O.is_maskinfo(v)
  return getmetatable(v) == MT
end

--- True when v is a MaskInfo that has not been closed.
function O.is_open(v)
  return getmetatable(v) == MT and core.unbox(v) ~= nil
end

--- The fields of self; anything but an open MaskInfo is an argument error
-- naming fname (the public function being called).
function O.fields(self, fname)
  if getmetatable(self) ~= MT then
    E.argerr(fname or "?", 1, "MaskInfo expected, got " .. E.typename(self))
  end
  local f = core.unbox(self)
  if not f then E.argerr(fname or "?", 1, "MaskInfo is closed") end
  return f
end

--- A shallow copy of the fields with the derived caches dropped.
function O.copy_fields(f)
  local g = {}
  for k, v in pairs(f) do
    if k:sub(1, 6) ~= "cache_" then g[k] = v end
  end
  return g
end

--- A new MaskInfo like f with fields replaced (O.NONE clears one).  A
-- change of the mask or the segment ids drops the cu_seqlens unless new
-- ones are given (the seed's replace rule).
function O.derive(f, changes)
  local g = O.copy_fields(f)
  local rep = false
  for k, v in pairs(changes) do
    if v == O.NONE then g[k] = nil else g[k] = v end
    if k == "mask" or k == "q_ids" or k == "kv_ids" then rep = true end
  end
  if rep and changes.cu_q == nil and changes.cu_kv == nil then
    g.cu_q, g.cu_kv = nil, nil
  end
  return O.new(g)
end

-- Segment leaves by their ids (q Array -> kv Array -> modes -> Mask), weak
-- in both Arrays.  Arrays are immutable and derived MaskInfos (replace{},
-- the ops) keep the same id Arrays, so they all share one leaf.
local seg_leaves = setmetatable({}, { __mode = "k" })

--- The segment-equality mask of int32 id Arrays q and kv, read through
-- core.segments's modes (default "segment"), built once per pair of
-- Arrays and modes.
function O.seg_leaf(q, kv, fname, qmode, kvmode)
  qmode, kvmode = qmode or "segment", kvmode or "segment"
  local by_q = seg_leaves[q]
  if not by_q then
    by_q = setmetatable({}, { __mode = "k" })
    seg_leaves[q] = by_q
  end
  local by_kv = by_q[kv]
  if not by_kv then
    by_kv = {}
    by_q[kv] = by_kv
  end
  local key = qmode .. "/" .. kvmode
  local m = by_kv[key]
  if not m then
    m = E.need(fname, core.segments(q, kv, qmode, kvmode))
    by_kv[key] = m
  end
  return m
end

--- The logical mask: the stored one, or the one the segment ids imply.
function O.logical(f, fname)
  if f.mask then return f.mask end
  if f.q_ids and f.kv_ids then return O.seg_leaf(f.q_ids, f.kv_ids, fname) end
  E.fail(fname, "MaskInfo is empty (no attention mask and no segment ids)")
end

--- Stored ids, or ids derived from the mask (the seed's mask_to_segment_ids).
function O.seg_ids(f, per_head, fname)
  if f.q_ids and f.kv_ids then return f.q_ids, f.kv_ids end
  local key = per_head and "cache_ids_ph" or "cache_ids"
  if not f[key] then
    local q, kv = E.need(fname, O.logical(f, fname):segment_ids(per_head))
    f[key] = { q, kv }
  end
  return f[key][1], f[key][2]
end

--- int32 max: the position of a padding key (the seed's kv pad value).
O.INT32_MAX = 2147483647

--- Query and key positions: stored, or restarting at each segment of the
-- (stored or derived) ids; padding gets -1 for queries and int32 max for
-- keys (the seed's get_or_compute_positions).
function O.positions(f, fname)
  local qp, kp = f.q_pos, f.kv_pos
  if qp and kp then return qp, kp end
  local q, kv = O.seg_ids(f, false, fname)
  qp = qp or E.need(fname, core.positions(q, -1))
  if not kp and rawequal(q, kv) and not f.q_pos then
    -- the same ids: only the padding value differs (positions are >= 0)
    kp = E.need(fname, core.ids_replace(qp, -1, O.INT32_MAX))
  end
  return qp, kp or (E.need(fname, core.positions(kv, O.INT32_MAX)))
end

--- Nil when masks a and b have the same shape (heads may broadcast when
-- broadcast is true), else the message "shapes differ: (...) and (...)".
function O.shapes_differ(a, b, broadcast)
  local B1, H1, Q1, K1 = a:shape()
  local B2, H2, Q2, K2 = b:shape()
  local heads_ok = H1 == H2 or (broadcast and (H1 == 1 or H2 == 1))
  if B1 == B2 and Q1 == Q2 and K1 == K2 and heads_ok then return nil end
  return ("shapes differ: (%d, %d, %d, %d) and (%d, %d, %d, %d)"):format(B1, H1, Q1, K1, B2, H2, Q2, K2)
end

--- The logical mask of the MaskInfo `other` (argument n of fname).
function O.other_mask(fname, n, other)
  if not O.is_maskinfo(other) then E.argerr(fname, n, "MaskInfo expected, got " .. type(other)) end
  return O.logical(O.fields(other, fname), fname)
end

---------------------------------------------------------------- methods

local TRACE = { call = true, property = true }

--- Define the MaskInfo method `name`.  fn(self, f, fname, ...) gets the
-- receiver, its fields (the receiver is checked first) and the name for
-- errors; trace is "call" (`Calling MaskInfo.name()`), "property"
-- (`Property access: name`) or nil (no trace line).
function O.method(name, trace, fn)
  assert(trace == nil or TRACE[trace], "bad trace kind")
  assert(methods[name] == nil, "method defined twice: " .. name)
  local owner = trace == "call" and "MaskInfo" or nil
  methods[name] = function(self, ...)
    local f = O.fields(self, name)
    if trace == "call" then
      T.call(owner, name)
    elseif trace == "property" then
      T.property(name)
    end
    return fn(self, f, name, ...)
  end
end

--- The names of the MaskInfo methods, sorted (a new list: the method table
-- itself stays private).  The docs coverage test lists them with this.
function O.methods()
  local names = {}
  for k in pairs(methods) do names[#names + 1] = k end
  table.sort(names)
  return names
end

--- Define a metamethod (`__band`, `__tostring`, ...); fn is used as is.
function O.metamethod(name, fn)
  assert(name:sub(1, 2) == "__" and MT[name] == nil, "bad or repeated metamethod: " .. name)
  MT[name] = fn
end

return O
