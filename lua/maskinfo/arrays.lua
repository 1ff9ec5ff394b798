--- Arrays: the public constructors Array.new and Array.from, and the
-- array helpers the other modules share (element maps, slices along the
-- last axis, one plane's ids).
-- @module maskinfo.arrays

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")

local argerr = E.argerr

local R = {}

--- A new Array, raising (as fname) when the guard refuses it.
function R.new_array(fname, dtype, shape, values)
  return (E.need(fname, core.array(dtype, shape, values)))
end

--- A new Array of the shape of a holding fn(x) for each element x.
function R.map_array(a, dtype, fn)
  local flat = a:flat()
  local out = {}
  for i = 1, #flat do out[i] = fn(flat[i]) end
  return R.new_array("maskinfo", dtype, a:shape(), out)
end

--- Values along the last axis of a (B, ..., L) array: out[b, ..., j] =
-- a[b, ..., starts[b] + j] for j < len.
function R.slice_last(a, starts, len)
  local s = a:shape()
  local L, B = s[#s], s[1]
  local inner = 1
  for i = 2, #s - 1 do inner = inner * s[i] end
  local st, n = {}, 0
  for b = 0, B - 1 do
    for r = 0, inner - 1 do
      n = n + 1
      st[n] = (b * inner + r) * L + starts[b + 1]
    end
  end
  local ns = {}
  for i = 1, #s - 1 do ns[i] = s[i] end
  ns[#s] = len
  return a:gather(st, len, ns)
end

--- a (1, ..., L) repeated to (B, ..., L); a itself when it has B rows.
function R.repeat_batch(a, B)
  local s = a:shape()
  if s[1] == B then return a end
  local per = 1
  for i = 2, #s do per = per * s[i] end
  local st = {}
  for b = 1, B do st[b] = 0 end
  local ns = { B }
  for i = 2, #s do ns[i] = s[i] end
  return a:reshape({ 1, per }):gather(st, per, { B, per }):reshape(ns)
end

--- Upstream's batch broadcasting of a query side a and a key side b (as
-- argument n of fname): a batch-1 side is repeated to the other's batch;
-- other mismatches raise.  Returns both sides.
function R.broadcast_batch(fname, n, a, b)
  local sa, sb = a:shape()[1], b:shape()[1]
  if sa == sb then return a, b end
  if sa ~= 1 and sb ~= 1 then
    argerr(fname, n, ("batch sizes differ: %d query rows and %d key rows (only a batch of 1 broadcasts)"):format(sa, sb))
  end
  local B = math.max(sa, sb)
  return R.repeat_batch(a, B), R.repeat_batch(b, B)
end

--- Row `batch` (and `head` for 3-D ids) of an ids array, as a 1-D int32 array.
function R.plane_ids(a, batch, head)
  local s = a:shape()
  local L = s[#s]
  local start = #s == 3 and (batch * s[2] + head) * L or batch * L
  return a:gather({ start }, L, { L })
end

--- Head 0 of 3-D ids, as the seed does with ids[:, 0, :].
function R.head0(a)
  local s = a:shape()
  if #s ~= 3 then return a end
  local B, H, L = s[1], s[2], s[3]
  local st = {}
  for b = 0, B - 1 do st[b + 1] = b * H * L end
  return a:gather(st, L, { B, L })
end

--- A shape as Python prints a tuple: "(1, 4)", "(3,)".
function R.shape_str(s)
  if #s == 1 then return "(" .. s[1] .. ",)" end
  return "(" .. table.concat(s, ", ") .. ")"
end

---------------------------------------------------------------- Array.new / Array.from

local WANT = { bool = "boolean or number", int32 = "int32 integer", uint8 = "integer in [0, 255]", int64 = "integer" }

local function value_ok(dtype, v)
  if dtype == "bool" then return type(v) == "boolean" or (type(v) == "number" and v == v) end
  local iv = args.int_of(v)
  if dtype == "int32" then return iv ~= nil and iv >= -2147483648 and iv <= 2147483647 end
  if dtype == "uint8" then return iv ~= nil and iv >= 0 and iv <= 255 end
  if dtype == "int64" then return iv ~= nil end
  return type(v) == "number"
end

--- A new Array.
-- @tparam string dtype any Array dtype (the five mask dtypes, int64, uint8)
-- @tparam table shape dimensions (non-negative integers)
-- @tparam[opt] table values flat values in row-major order (zeros if nil)
-- The element count of a shape argument (a float, so it cannot wrap).
local function shape_count(fname, shape)
  if type(shape) ~= "table" then argerr(fname, 2, "shape: table expected, got " .. E.typename(shape)) end
  -- at most 8 dimensions, checked first: a table whose __index never
  -- returns nil must not make this loop endless
  local nd = #shape
  if math.type(nd) ~= "integer" or nd > 8 then argerr(fname, 2, "at most 8 dimensions") end
  local n = 1
  for i = 1, nd do
    local d = shape[i]
    local di = args.int_of(d)
    if di == nil or di < 0 then
      argerr(fname, 2, ("shape[%d]: non-negative integer expected, got %s"):format(i, E.show(d)))
    end
    n = n * 1.0 * di
  end
  return n
end

local function array_new(dtype, shape, values)
  local fname = "Array.new"
  dtype = args.check_array_dtype(fname, 1, dtype)
  local n = shape_count(fname, shape)
  -- a values table is read element by element (its slots count); without
  -- one only the Array's own bytes are allocated
  if values ~= nil then
    G.guard(fname, n, O.DTYPE_SIZE[dtype], "an array")
  else
    G.guard_buffer(fname, n, O.DTYPE_SIZE[dtype], "an array")
  end
  n = math.tointeger(n)
  if values ~= nil then
    if type(values) ~= "table" then argerr(fname, 3, "values: table expected, got " .. E.typename(values)) end
    if #values ~= n then argerr(fname, 3, ("%d values expected, got %d"):format(n, #values)) end
    for i = 1, n do
      if not value_ok(dtype, values[i]) then
        argerr(fname, 3, ("values[%d]: %s expected, got %s"):format(i, WANT[dtype] or "number", E.show(values[i])))
      end
    end
  end
  return R.new_array(fname, dtype, shape, values)
end

local INT_DTYPES = { int32 = true, int64 = true, uint8 = true }

--- An Array from a nested table (or an Array), in dtype (default: int32
-- for integers, bool for booleans, float32 otherwise).
local function array_from(t, dtype)
  local fname = "Array.from"
  if dtype ~= nil then dtype = args.check_array_dtype(fname, 2, dtype) end
  if core.is_array(t) then -- a copy, in its own dtype unless one is asked for
    return dtype and t:astype(dtype) or t:astype(t:dtype())
  end
  local probe = t
  while type(probe) == "table" and not core.is_array(probe) do probe = probe[1] end
  local kind = dtype == "bool" and "bool" or (INT_DTYPES[dtype] and "int" or "float")
  if dtype == nil then
    kind = type(probe) == "boolean" and "bool" or (math.type(probe) == "integer" and "int" or "float")
  end
  local a = E.need(fname, core.from_nested(t, kind, fname, 1))
  if dtype and a:dtype() ~= dtype then a = a:astype(dtype) end
  return a
end

--- An Array holding the bytes of a string as elements of dtype, little-
-- endian, row-major (bool: any non-zero byte is true): what
-- `numpy.ndarray.tobytes()` gives, or the data of a file.
-- @tparam string dtype any Array dtype
-- @tparam table shape dimensions (non-negative integers, at most 8)
-- @tparam string bytes exactly size * itemsize bytes
local function array_from_bytes(dtype, shape, bytes)
  local fname = "Array.from_bytes"
  dtype = args.check_array_dtype(fname, 1, dtype)
  local n = shape_count(fname, shape)
  if type(bytes) ~= "string" then argerr(fname, 3, "bytes: string expected, got " .. E.typename(bytes)) end
  local want = n * O.DTYPE_SIZE[dtype]
  if want ~= #bytes then
    argerr(fname, 3, ("%.0f bytes expected for shape %s of %s, got %d"):format(want, R.shape_str(shape), dtype, #bytes))
  end
  return (E.need(fname, core.array_from_bytes(dtype, shape, bytes)))
end

--- The public Array table.
R.Array = { new = array_new, from = array_from, from_bytes = array_from_bytes }

return R
