--- Recipes: attention patterns as Lua files with declared parameters.
--
-- A recipe file returns a table {name=, description=, source=, params=,
-- small=, build=function(mi, p), examples=} (docs/recipes.md).  Built-in
-- recipes live next to this file; user recipes are loaded by path, or by
-- name from the directories of MASKINFO_RECIPE_PATH (":"-separated).
-- @module maskinfo.recipes

local core = require("maskinfo.core")
local O = require("maskinfo.object")
local G = require("maskinfo.guard")

local R = {}

--- The built-in recipe names: the list kept with the recipe files
-- (maskinfo/recipes/builtin.lua, one entry per file).
R.BUILTIN = require("maskinfo.recipes.builtin")

--- The parameter types.
R.TYPES = { "integer", "number", "boolean", "string", "enum" }
local TYPE_SET = O.set(R.TYPES)

-- The fields a recipe table may have (name, build and params are checked
-- on their own); and those of a parameter and of an example.
local FIELDS = { "build", "description", "examples", "name", "params", "small", "source" }
local PARAM_FIELDS = { "default", "doc", "max", "min", "name", "type", "values" }
local EXAMPLE_FIELDS = { "allowed", "fn", "layer", "masked", "params" }

-- Cells a dense check may visit (mask:allowed is a call per cell).
local DENSE_CELLS = 1 << 20
-- Bytes per token a recipe's mask and what the commands derive from it
-- take together: query and key ids, positions, and the per-token tables
-- counts, cu_seqlens and renderers make (int32 each).  The guard is asked
-- for all of it before a recipe builds anything: one budget per call, so a
-- mistyped --len is refused at once instead of growing until the kernel
-- kills the process.
local TOKEN_BYTES = 32

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return ks
end

local function unknown_key(t, allowed)
  local set = O.set(allowed)
  for _, k in ipairs(sorted_keys(t)) do
    if not set[k] then return k end
  end
end

---------------------------------------------------------------- finding

--- The sorted list of built-in recipe names.
function R.list()
  local t = copy(R.BUILTIN)
  table.sort(t)
  return t
end

local function is_builtin(name)
  for _, n in ipairs(R.list()) do
    if n == name then return true end
  end
  return false
end

--- The directories of MASKINFO_RECIPE_PATH, in order.
function R.path_dirs()
  local dirs = {}
  for d in (os.getenv("MASKINFO_RECIPE_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  return dirs
end

local function readable(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

---------------------------------------------------------------- validation

local function num_ok(spec, v)
  if spec.type == "integer" then return math.type(v) == "integer" end
  return type(v) == "number" and v == v
end

-- Nil when v is a valid value of spec, else why not.
local function value_error(spec, v)
  local t = spec.type
  if t == "integer" or t == "number" then
    if not num_ok(spec, v) then
      return ("expected %s %s, got %s"):format(t == "integer" and "an" or "a", t, tostring(v))
    end
    if spec.min and v < spec.min then return ("must be >= %s, got %s"):format(spec.min, v) end
    if spec.max and v > spec.max then return ("must be <= %s, got %s"):format(spec.max, v) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return "expected true or false, got " .. tostring(v) end
  elseif t == "string" then
    if type(v) ~= "string" then return "expected a string, got " .. type(v) end
  elseif t == "enum" then
    for _, x in ipairs(spec.values) do
      if x == v then return nil end
    end
    return ("must be one of %s, got %s"):format(table.concat(spec.values, ", "), tostring(v))
  end
  return nil
end

-- Nil when the param spec is well formed, else the message.
local function spec_error(p, i, seen)
  if type(p) ~= "table" then return ("params[%d]: table expected, got %s"):format(i, type(p)) end
  local where = ("params[%d]"):format(i)
  if type(p.name) ~= "string" or not p.name:match("^[%a_][%w_]*$") then
    return where .. ".name: an identifier expected, got " .. tostring(p.name)
  end
  where = ("param '%s'"):format(p.name)
  if seen[p.name] then return where .. " is declared twice" end
  seen[p.name] = true
  local bad = unknown_key(p, PARAM_FIELDS)
  if bad then return ("%s: unknown field '%s' (expected %s)"):format(where, bad, O.spell(PARAM_FIELDS)) end
  if not TYPE_SET[p.type] then return ("%s: type must be one of %s, got %s"):format(where, O.spell(R.TYPES), tostring(p.type)) end
  if type(p.doc) ~= "string" or p.doc == "" then return where .. ": doc (a one-line string) expected" end
  for _, k in ipairs({ "min", "max" }) do
    if p[k] ~= nil and not ((p.type == "integer" or p.type == "number") and num_ok(p, p[k])) then
      return ("%s: %s is only for integer and number params and must be a %s"):format(where, k, p.type)
    end
  end
  if p.min and p.max and p.min > p.max then return where .. ": min > max" end
  if p.type == "enum" then
    if type(p.values) ~= "table" or #p.values == 0 then return where .. ": values (a non-empty list of strings) expected" end
    for _, v in ipairs(p.values) do
      if type(v) ~= "string" then return where .. ": values must be strings" end
    end
  elseif p.values ~= nil then
    return where .. ": values is only for enum params"
  end
  local err = value_error(p, p.default)
  if err then return ("%s: default %s"):format(where, err) end
  return nil
end

local function cell_list_error(list, what)
  if type(list) ~= "table" then return what .. ": a list of {b, h, q, k} cells expected" end
  for j, c in ipairs(list) do
    if type(c) ~= "table" or #c ~= 4 then return ("%s[%d]: {b, h, q, k} expected"):format(what, j) end
    for _, x in ipairs(c) do
      if math.type(x) ~= "integer" or x < 0 then return ("%s[%d]: non-negative integers expected"):format(what, j) end
    end
  end
  return nil
end

local function example_error(e, i)
  local where = ("examples[%d]"):format(i)
  if type(e) ~= "table" then return where .. ": table expected" end
  local bad = unknown_key(e, EXAMPLE_FIELDS)
  if bad then return ("%s: unknown field '%s' (expected %s)"):format(where, bad, O.spell(EXAMPLE_FIELDS)) end
  if e.params ~= nil and type(e.params) ~= "table" then return where .. ".params: table expected" end
  if e.fn ~= nil and type(e.fn) ~= "function" then return where .. ".fn: function expected" end
  if e.layer ~= nil and (math.type(e.layer) ~= "integer" or e.layer < 1) then
    return where .. ".layer: a layer number (1-based) expected"
  end
  if e.allowed == nil and e.masked == nil and e.fn == nil then
    return where .. ": needs allowed, masked or fn"
  end
  for _, k in ipairs({ "allowed", "masked" }) do
    if e[k] ~= nil then
      local err = cell_list_error(e[k], where .. "." .. k)
      if err then return err end
    end
  end
  return nil
end

--- Nil when r is a well-formed recipe called name, else the message
-- (naming the field).
function R.validate(r, name)
  if type(r) ~= "table" then return "the file must return a table, got " .. type(r) end
  local bad = unknown_key(r, FIELDS)
  if bad then return ("unknown field '%s' (expected %s)"):format(bad, O.spell(FIELDS)) end
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    return ("the file name must be NAME.lua with NAME of letters, digits and _, got '%s'"):format(tostring(name))
  end
  if r.name ~= name then
    return ("field 'name' must be the file name without .lua ('%s'), got %s"):format(name, tostring(r.name))
  end
  for _, k in ipairs({ "description", "source" }) do
    if type(r[k]) ~= "string" or r[k] == "" or r[k]:find("\n") then
      return ("field '%s': a one-line string expected"):format(k)
    end
  end
  if type(r.build) ~= "function" then return "field 'build': function(mi, p) expected" end
  if type(r.params) ~= "table" or #r.params == 0 then return "field 'params': a list of parameters expected" end
  local seen = {}
  for i, p in ipairs(r.params) do
    local err = spec_error(p, i, seen)
    if err then return "field 'params': " .. err end
  end
  local len = r.params[1]
  if len.name ~= "len" or len.type ~= "integer" then
    return "field 'params': the first parameter must be len (integer, tokens)"
  end
  if r.small ~= nil and type(r.small) ~= "table" then return "field 'small': a table of parameter values expected" end
  if r.examples ~= nil then
    if type(r.examples) ~= "table" then return "field 'examples': a list expected" end
    for i, e in ipairs(r.examples) do
      local err = example_error(e, i)
      if err then return "field 'examples': " .. err end
    end
  end
  return nil
end

---------------------------------------------------------------- loading

local function load_file(path, name)
  if not readable(path) then return nil, ("cannot read recipe file '%s'"):format(path), "EIO" end
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err, "EINVAL" end
  local ok, r = pcall(chunk)
  if not ok then return nil, ("%s: %s"):format(path, tostring(r)), "EINVAL" end
  local msg = R.validate(r, name)
  if msg then return nil, ("%s: %s"):format(path, msg), "EINVAL" end
  return r
end

--- The recipe table of a built-in name, a NAME.lua on MASKINFO_RECIPE_PATH,
-- or a path (anything with a "/" or ending in .lua); or nil, a message and
-- a status ("EIO": not found or unreadable, "EINVAL": not a valid recipe).
function R.load(name_or_path)
  local s = name_or_path
  if type(s) ~= "string" or s == "" then return nil, "recipe name or path expected", "EINVAL" end
  if s:find("/", 1, true) or s:match("%.lua$") then
    local base = s:match("([^/]*)%.lua$") or s:match("([^/]*)$")
    return load_file(s, base)
  end
  if not s:match("^[%w_]+$") then
    return nil, ("bad recipe name '%s' (letters, digits and _; or a path to a .lua file)"):format(s), "EINVAL"
  end
  if is_builtin(s) then
    local path = package.searchpath("maskinfo.recipes." .. s, package.path)
    if path then return load_file(path, s) end
  end
  for _, d in ipairs(R.path_dirs()) do
    local path = d .. "/" .. s .. ".lua"
    if readable(path) then return load_file(path, s) end
  end
  return nil, ("no recipe '%s' (see 'maskinfo list'; user recipes: a path, or NAME.lua in MASKINFO_RECIPE_PATH)"):format(s), "EIO"
end

---------------------------------------------------------------- parameters

local function spec_of(r, name)
  for _, p in ipairs(r.params) do
    if p.name == name then return p end
  end
end

local function names_of(r)
  local t = {}
  for i, p in ipairs(r.params) do t[i] = p.name end
  return table.concat(t, ", ")
end

-- A CLI string as a value of spec's type, or nil and why not.
local function from_string(spec, s)
  local t = spec.type
  if t == "integer" then
    local v = math.tointeger(tonumber(s))
    if v == nil then return nil, "expected an integer, got '" .. s .. "'" end
    return v
  elseif t == "number" then
    local v = tonumber(s)
    if v == nil then return nil, "expected a number, got '" .. s .. "'" end
    return v
  elseif t == "boolean" then
    if s == "true" then return true elseif s == "false" then return false end
    return nil, "expected true or false, got '" .. s .. "'"
  end
  return s
end

--- The full params table of recipe r: its defaults with overrides (name ->
-- value; strings are converted to the param's type) on top; or nil and a
-- message naming the parameter and what it accepts.
function R.params(r, overrides)
  local p = {}
  for _, spec in ipairs(r.params) do p[spec.name] = spec.default end
  for _, k in ipairs(sorted_keys(overrides or {})) do
    local v = overrides[k]
    local spec = spec_of(r, k)
    if not spec then
      return nil, ("unknown parameter '%s' (recipe %s takes: %s)"):format(k, r.name, names_of(r))
    end
    if type(v) == "string" and spec.type ~= "string" and spec.type ~= "enum" then
      local why
      v, why = from_string(spec, v)
      if v == nil then return nil, ("parameter '%s': %s"):format(k, why) end
    end
    local err = value_error(spec, v)
    if err then return nil, ("parameter '%s' %s"):format(k, err) end
    p[k] = v
  end
  return p
end

--- Nil when the memory guard allows a mask of p.len tokens (its ids),
-- else the refusal message.  Nothing is allocated.
function R.size_refusal(p)
  if core.check_alloc(p.len * 1.0, TOKEN_BYTES) then return nil end
  return G.over(("len = %d tokens (ids, positions and derived tables, 32 bytes a token)"):format(p.len), p.len * 1.0 * TOKEN_BYTES)
end

--- The layers {{name=, mask=}, ...} recipe r builds at params p (a single
-- MaskInfo is one layer named after the recipe); or nil and a message.
-- The size is checked against the memory guard before build runs.
function R.build(r, p)
  local refusal = R.size_refusal(p)
  if refusal then return nil, refusal end
  local ok, res = pcall(r.build, require("maskinfo"), p)
  if not ok then return nil, ("recipe %s: build failed: %s"):format(r.name, tostring(res)) end
  if O.is_maskinfo(res) then return { { name = r.name, mask = res } } end
  local bad = ("recipe %s: build must return a MaskInfo or a list of {name=, mask=}"):format(r.name)
  if type(res) ~= "table" or #res == 0 then return nil, bad .. ", got " .. type(res) end
  for i, l in ipairs(res) do
    if type(l) ~= "table" or type(l.name) ~= "string" or not O.is_maskinfo(l.mask) then
      return nil, ("%s (layer %d is not)"):format(bad, i)
    end
  end
  return res
end

---------------------------------------------------------------- checking

local function merged(...)
  local t = {}
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do t[k] = v end
  end
  return t
end

local function cell_str(c) return ("(%d, %d, %d, %d)"):format(c[1], c[2], c[3], c[4]) end

-- Nil when every listed cell of mask m is (want) allowed, else a message.
local function check_cells(m, cells, want)
  local B, Q, K = m:shape()
  local H = select(2, m:count()):shape()[2]
  for _, c in ipairs(cells or {}) do
    if c[1] >= B or c[2] >= H or c[3] >= Q or c[4] >= K then
      return ("cell %s is outside the mask (%d, %d, %d, %d)"):format(cell_str(c), B, H, Q, K)
    end
    if m:allowed(c[1], c[2], c[3], c[4]) ~= want then
      return ("cell %s should be %s"):format(cell_str(c), want and "allowed" or "masked")
    end
  end
  return nil
end

-- Every cell of layer mask m: the dense mask, allowed() and the per-head
-- counts agree, and with fn given, fn(b, h, q, k, p, layer) too.  Nil or
-- the first disagreement.
local function dense_check(m, fn, p, layer)
  local B, Q, K = m:shape()
  local _, per = m:count()
  local H = per:shape()[2]
  if B * H * Q * K > DENSE_CELLS then
    return ("(%d, %d, %d, %d) is too big for a dense check (at most %d cells): make `small` smaller"):format(
      B, H, Q, K, DENSE_CELLS)
  end
  local dense = m:attention_mask():totable()
  local counts = per:totable()
  for b = 0, B - 1 do
    for h = 0, H - 1 do
      local plane, n = dense[b + 1][h + 1], 0
      for q = 0, Q - 1 do
        local row = plane[q + 1]
        for k = 0, K - 1 do
          local d = row[k + 1]
          if d then n = n + 1 end
          if m:allowed(b, h, q, k) ~= d then
            return ("cell %s: the dense mask says %s, allowed() disagrees"):format(cell_str({ b, h, q, k }), tostring(d))
          end
          if fn and (fn(b, h, q, k, p, layer) and true or false) ~= d then
            return ("cell %s is %s, the example's fn says otherwise"):format(
              cell_str({ b, h, q, k }), d and "allowed" or "masked")
          end
        end
      end
      if counts[b + 1][h + 1] ~= n then
        return ("batch %d head %d: count() says %d cells, the dense mask has %d"):format(b, h, counts[b + 1][h + 1], n)
      end
    end
  end
  return nil
end

local function shape_str(m)
  local B, Q, K = m:shape()
  return ("(%d, %d, %d, %d)"):format(B, select(2, m:count()):shape()[2], Q, K)
end

-- Check one example; returns nil or the failure.
local function check_example(r, e, small)
  local p, err = R.params(r, merged(small, e.params))
  if not p then return err end
  local layers
  layers, err = R.build(r, p)
  if not layers then return err end
  if e.layer and e.layer > #layers then
    return ("layer %d asked for, the recipe builds %d"):format(e.layer, #layers)
  end
  for i, l in ipairs(layers) do
    if e.layer == nil or e.layer == i then
      local why = check_cells(l.mask, e.allowed, true) or check_cells(l.mask, e.masked, false)
        or (e.fn and dense_check(l.mask, e.fn, p, i))
      if why then return ("layer %d (%s): %s"):format(i, l.name, why) end
    end
  end
  return nil
end

--- Check recipe r: its params and defaults, that `small` builds, that
-- every example holds, and that each layer at the small size agrees cell
-- for cell with its dense mask.  Returns ok and the report (a list of
-- lines, failures starting with "FAIL").
function R.check(r)
  local report, ok = {}, true
  local function line(good, msg)
    report[#report + 1] = (good and "ok    " or "FAIL  ") .. msg
    if not good then ok = false end
  end
  local err = R.validate(r, r and r.name)
  line(err == nil, err or ("recipe %s: fields and %d params valid"):format(r.name, #r.params))
  if err then return false, report end
  local p
  p, err = R.params(r, {})
  line(p ~= nil, err or "defaults valid")
  local small = r.small or {}
  p, err = R.params(r, small)
  if not p then
    line(false, "small: " .. err)
    return false, report
  end
  local layers
  layers, err = R.build(r, p)
  if not layers then
    line(false, "small: " .. err)
    return false, report
  end
  local sizes = {}
  for i, l in ipairs(layers) do sizes[i] = shape_str(l.mask) end
  line(true, ("small (len=%d) builds %d layer%s %s"):format(p.len, #layers, #layers == 1 and "" or "s",
    table.concat(sizes, ", ")))
  for i, e in ipairs(r.examples or {}) do
    local why = check_example(r, e, small)
    local what = { ("%d cells"):format(#(e.allowed or {}) + #(e.masked or {})) }
    if e.fn then what[2] = "fn on every cell" end
    line(why == nil, ("example %d: %s"):format(i, why or ("holds (%s)"):format(table.concat(what, ", "))))
  end
  if not r.examples or #r.examples == 0 then line(true, "no examples (add some: docs/recipes.md)") end
  for i, l in ipairs(layers) do
    local why = dense_check(l.mask, nil, p, i)
    line(why == nil, ("dense check, layer %d (%s) %s: %s"):format(i, l.name, shape_str(l.mask), why or "every cell agrees"))
  end
  return ok, report
end

---------------------------------------------------------------- skeleton

--- The source of a new recipe file called name, with params and examples
-- that pass R.check.
function R.skeleton(name)
  assert(type(name) == "string" and name:match("^[%a_][%w_]*$"), "recipe name: an identifier expected")
  -- mi.causal where the package has it (an O(1) mask), else ids of zeros.
  local base = require("maskinfo").causal and "mi.causal(p.len)" or "mi.from_segments({ mi.util.fill(p.len, 0) }):apply_causal()"
  return ([[
-- %s: a maskinfo recipe.  Check it with `maskinfo check %s.lua`, render it
-- with `maskinfo render %s.lua out.png --set window=8`.  docs/recipes.md
-- explains every field.
return {
  name = "%s",
  description = "causal sliding window of `window` tokens",
  source = "say where the default values come from (a paper, or a config field and its value)",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 512, min = 1, doc = "window, counting the query itself" },
  },
  small = { len = 32, window = 4 },
  build = function(mi, p)
    return %s:apply_sliding_window({ p.window - 1, 0 })
  end,
  examples = {
    -- cells are {batch, head, query, key}, 0-based
    { params = { len = 16, window = 4 }, allowed = { { 0, 0, 5, 5 }, { 0, 0, 5, 2 } },
      masked = { { 0, 0, 5, 1 }, { 0, 0, 2, 3 } } },
    { fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
  },
}
]]):format(name, name, name, name, base)
end

return R
