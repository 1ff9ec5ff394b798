--- Argument checking and coercion shared by the maskinfo modules.
--
-- Every error names the public function, the argument and what was
-- expected, in the form luaL_argerror uses:
-- `bad argument #2 to 'from_segments' (option 'q_positions': ...)`.
-- Errors are raised at level 0 (no position prefix), like errors raised
-- from C functions, so the same texts come from both layers.
-- @module maskinfo.args

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")

local A = {}

A.argerr, A.fail, A.show, A.typename = E.argerr, E.fail, E.show, E.typename

--- An optional flag: nil -> dflt; anything but a boolean is an error (0 is
-- true in Lua but False in the seed, so numbers are refused).
function A.opt_bool(fname, n, v, what, dflt)
  if v == nil then return dflt end
  if type(v) ~= "boolean" then
    A.argerr(fname, n, (what and what .. ": " or "") .. "boolean expected, got " .. A.typename(v))
  end
  return v
end

--- A file path: a non-empty string without NUL bytes (C would cut it).
function A.path_arg(fname, n, path)
  if type(path) ~= "string" or path == "" then
    A.argerr(fname, n, "path: non-empty string expected, got " .. (type(path) == "string" and "''" or type(path)))
  end
  if path:find("\0", 1, true) then A.argerr(fname, n, "path: contains a NUL byte") end
  return path
end

--- An options table (nil -> {}); unknown keys are errors.
function A.opt_table(fname, n, t, allowed)
  if t == nil then return {} end
  if type(t) ~= "table" or core.is_array(t) or O.is_maskinfo(t) then
    A.argerr(fname, n, "options table expected, got " .. type(t))
  end
  for k in pairs(t) do
    if type(k) ~= "string" or not allowed[k] then
      local names = {}
      for a in pairs(allowed) do names[#names + 1] = a end
      table.sort(names)
      A.argerr(fname, n, ("unknown option '%s' (expected one of: %s)"):format(E.label(k), table.concat(names, ", ")))
    end
  end
  return t
end

--- v as an integer when it is a number with an integral value, else nil.
-- Strings are never numbers here (math.tointeger would convert "1").
function A.int_of(v)
  return type(v) == "number" and math.tointeger(v) or nil
end

--- An integer (floats with integral values are accepted), >= min if given.
function A.check_int(fname, n, v, what, min)
  local iv = A.int_of(v)
  if iv == nil then
    local got = A.show(v)
    A.argerr(fname, n, ("%s: integer expected, got %s"):format(what, got))
  end
  if min and iv < min then
    A.argerr(fname, n, ("%s must be >= %d, got %d"):format(what, min, iv))
  end
  return iv
end

--- A dtype name out of list (default: the mask dtypes), dflt when nil.
local function dtype_in(list)
  local set, spelled = O.set(list), O.spell(list)
  return function(fname, n, v, dflt)
    if v == nil then
      if dflt then return dflt end
      A.argerr(fname, n, "dtype expected")
    end
    if not set[v] then
      A.argerr(fname, n, ("invalid dtype '%s' (expected %s)"):format(E.label(v), spelled))
    end
    return v
  end
end

--- A mask dtype (bool, int32, float32, float16, bfloat16), dflt when nil.
A.check_dtype = dtype_in(O.MASK_DTYPES)
--- Any Array dtype, dflt when nil.
A.check_array_dtype = dtype_in(O.DTYPES)

--- One of a list of option strings.
function A.check_option(fname, n, v, what, list, dflt)
  if v == nil then return dflt end
  for _, o in ipairs(list) do if v == o then return v end end
  A.argerr(fname, n, ("%s must be one of '%s', got '%s'"):format(what, table.concat(list, "', '"), E.label(v)))
end

-- The int32 copy ids_arg made of an Array argument (and its minimum), by
-- that Array, weak: Arrays are immutable, so the same Array gives the same
-- copy, and MaskInfos made from it share one segment leaf (O.seg_leaf).
local copies = setmetatable({}, { __mode = "k" })

--- Integer ids as an int32 Array of shape (B, L) (a flat sequence is batch
-- 1).  opts.min (default -1, false for none) bounds the values; opts.allow3
-- accepts (B, H, L); opts.flat wants a 1-D vector.  Returns the Array and
-- its smallest value (nil when empty).
function A.ids_arg(fname, n, v, what, opts)
  opts = opts or {}
  local is_arr = not opts.flat and core.is_array(v) -- false once closed
  local c = is_arr and copies[v]
  if c and core.is_array(c[1]) then return A.check_ids(fname, n, c[1], c[2], what, opts) end
  -- plain tables of integers take the fast path (which gives the minimum
  -- too, and a flat sequence as one row); anything else, and every error,
  -- goes through from_nested
  local a, lo = nil, nil
  if type(v) == "table" then a, lo = core.ids_read(v, not opts.flat) end
  if not a then
    a = E.need(fname, core.from_nested(v, "int", fname, n, what))
    lo = core.ids_min(a)
  end
  local s = a:shape()
  if opts.flat then
    if #s ~= 1 then A.argerr(fname, n, ("%s: 1-D sequence expected, got %d-D"):format(what, #s)) end
    return a, lo
  end
  if #s == 1 then a = a:reshape({ 1, s[1] }) end
  if is_arr then copies[v] = { a, lo } end
  return A.check_ids(fname, n, a, lo, what, opts)
end

--- The shape and minimum checks of ids_arg on a (B, L) or (B, H, L) int32
-- Array a whose smallest value is lo; returns a, lo.
function A.check_ids(fname, n, a, lo, what, opts)
  local s = a:shape()
  if not (#s == 2 or (opts.allow3 and #s == 3)) then
    A.argerr(fname, n, ("%s: 2-D (batch, len) expected, got %d-D"):format(what, #s))
  end
  local min = opts.min
  if min == nil then min = -1 end
  if min then
    if lo and lo < min then
      A.argerr(fname, n, ("%s must be >= %d (-1 marks padding), got %d"):format(what, min, lo))
    end
  end
  return a, lo
end

--- A mask (nested booleans or 0/1, or an Array) as a bool Array.
function A.mask_arg(fname, n, v, what, kind)
  return (E.need(fname, core.from_nested(v, kind or "bool", fname, n, what)))
end

--- Batch sizes of two id arrays must agree.
function A.same_batch(fname, n, a, b)
  local sa, sb = a:shape()[1], b:shape()[1]
  if sa ~= sb then
    A.argerr(fname, n, ("batch sizes differ: %d query rows and %d key rows"):format(sa, sb))
  end
end

--- An integer or one integer per batch row, as a sequence of B integers.
function A.per_batch(fname, n, v, what, B)
  if type(v) == "table" or core.is_array(v) then
    local a = E.need(fname, core.from_nested(v, "int", fname, n, what))
    local flat = a:flat()
    if #a:shape() ~= 1 or #flat ~= B then
      A.argerr(fname, n, ("%s: an integer or one per batch row (%d) expected, got %d values"):format(what, B, #flat))
    end
    return flat
  end
  local iv = A.check_int(fname, n, v, what)
  local t = {}
  for i = 1, B do t[i] = iv end
  return t
end

--- An axis name: a string, a list of strings, or false (None).
function A.axis_name(fname, n, key, v)
  if v == false or type(v) == "string" then return v end
  if type(v) == "table" then
    local t = {}
    for i, x in ipairs(v) do
      if type(x) ~= "string" then
        A.argerr(fname, n, ("option '%s': axis names must be strings"):format(key))
      end
      t[i] = x
    end
    if #t == 0 then A.argerr(fname, n, ("option '%s': empty axis name list"):format(key)) end
    return t
  end
  A.argerr(fname, n, ("option '%s': string, list of strings or false expected, got %s"):format(key, type(v)))
end

return A
