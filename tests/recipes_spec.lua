-- The recipe library (lua/maskinfo/recipes/NAME.lua), checked against the
-- recipe format directly: every file is listed in recipes/builtin.lua and
-- loads as a well-formed recipe; its params and `small` validate; it builds
-- at the small size, where every layer's compact mask agrees cell for cell
-- with its dense form and every example holds; and it builds at its real
-- default size.  A recipe with a wrong example is caught.
local mi = require("maskinfo")
local testing = require("maskinfo.testing")
local O = require("maskinfo.object")

local builtin = require("maskinfo.recipes.builtin")

-- A failed check raises msg as it is (busted's assert would add a position).
local function need(cond, msg)
  if not cond then error(msg, 0) end
  return cond
end

local TYPES = { integer = true, number = true, boolean = true, string = true, enum = true }

-- A value of param spec s: nil when fine, else what is wrong.
local function bad_value(s, v)
  if s.type == "integer" and math.type(v) ~= "integer" then return "integer expected" end
  if s.type == "number" and type(v) ~= "number" then return "number expected" end
  if (s.type == "boolean" or s.type == "string") and type(v) ~= s.type then return s.type .. " expected" end
  if s.type == "enum" then
    for _, x in ipairs(s.values) do if x == v then return nil end end
    return "one of the values expected"
  end
  if s.min and v < s.min then return ("%s below min %s"):format(v, s.min) end
  if s.max and v > s.max then return ("%s above max %s"):format(v, s.max) end
  return nil
end

-- Check the format; returns the param specs by name.
local function check_format(r, name)
  need(type(r) == "table", name .. ": a recipe file returns a table")
  need(r.name == name, ("%s: name is %s"):format(name, tostring(r.name)))
  need(name:match("^[%w_]+$"), name .. ": name must be [%w_]+")
  for _, f in ipairs({ "description", "source" }) do
    need(type(r[f]) == "string" and r[f] ~= "" and not r[f]:find("\n"), name .. ": " .. f .. " must be one line")
  end
  need(type(r.params) == "table" and #r.params >= 1, name .. ": params must be a non-empty list")
  need(r.params[1].name == "len" and r.params[1].type == "integer", name .. ": the first param is the integer len")
  local specs = {}
  for i, s in ipairs(r.params) do
    local where = ("%s: params[%d]"):format(name, i)
    need(type(s.name) == "string" and s.name:match("^[%a_][%w_]*$"), where .. ": name")
    need(not specs[s.name], where .. ": " .. s.name .. " declared twice")
    need(TYPES[s.type], where .. ": unknown type " .. tostring(s.type))
    need(type(s.doc) == "string" and s.doc ~= "", where .. ": doc")
    need(s.type ~= "enum" or (type(s.values) == "table" and #s.values > 0), where .. ": enum values")
    local why = bad_value(s, s.default)
    need(why == nil, ("%s: default of %s: %s"):format(where, s.name, tostring(why)))
    specs[s.name] = s
  end
  need(type(r.build) == "function", name .. ": build must be a function")
  need(type(r.examples) == "table" and #r.examples >= 1, name .. ": at least one example")
  return specs
end

-- Defaults, then `small`, then over (each override validated).
local function params_of(r, specs, name, over)
  local p = {}
  for _, s in ipairs(r.params) do p[s.name] = s.default end
  for _, t in ipairs({ r.small or {}, over or {} }) do
    for k, v in pairs(t) do
      need(specs[k], ("%s: unknown param '%s'"):format(name, tostring(k)))
      local why = bad_value(specs[k], v)
      need(why == nil, ("%s: param %s: %s"):format(name, k, tostring(why)))
      p[k] = v
    end
  end
  return p
end

-- The layers of a build: a MaskInfo is one layer named after the recipe.
local function layers(name, built)
  if O.is_maskinfo(built) then return { { name = name, mask = built } } end
  need(type(built) == "table" and #built >= 1, name .. ": build returns a MaskInfo or a list of layers")
  for i, l in ipairs(built) do
    need(type(l.name) == "string" and O.is_maskinfo(l.mask), ("%s: layer %d needs a name and a mask"):format(name, i))
  end
  return built
end

-- The whole check at the small size; raises on the first problem.
local function check_recipe(r, name)
  local specs = check_format(r, name)
  local small = params_of(r, specs, name)
  for i, l in ipairs(layers(name, r.build(mi, small))) do
    local ok, msg = testing.consistent(l.mask)
    need(ok, ("%s: layer %d (%s): %s"):format(name, i, l.name, tostring(msg)))
  end
  for e, ex in ipairs(r.examples) do
    local p = params_of(r, specs, name, ex.params)
    local ls = layers(name, r.build(mi, p))
    need(ex.layer == nil or ls[ex.layer], ("%s: example %d names layer %s"):format(name, e, tostring(ex.layer)))
    need(ex.allowed or ex.masked or ex.fn, ("%s: example %d checks nothing"):format(name, e))
    for li, l in ipairs(ls) do
      if ex.layer == nil or ex.layer == li then
        local where = ("%s: example %d, layer %d: "):format(name, e, li)
        local ok, msg = pcall(function()
          if ex.allowed then testing.assert_allowed(l.mask, ex.allowed) end
          if ex.masked then testing.assert_masked(l.mask, ex.masked) end
        end)
        need(ok, where .. tostring(msg))
        if ex.fn then
          local same, why = testing.compare(l.mask, function(b, h, q, k) return ex.fn(b, h, q, k, p, li) end)
          need(same, where .. tostring(why))
        end
      end
    end
  end
end

describe("the recipe library", function()
  it("lists at least 25 recipes, sorted, one per file", function()
    assert.is_true(#builtin >= 25)
    for i = 2, #builtin do assert.is_true(builtin[i - 1] < builtin[i]) end
    local dir = package.searchpath("maskinfo.recipes.builtin", package.path):gsub("builtin%.lua$", "")
    local files = {}
    for f in io.popen("ls '" .. dir .. "'"):lines() do
      local n = f:match("^([%w_]+)%.lua$")
      if n and n ~= "init" and n ~= "builtin" then files[#files + 1] = n end
    end
    table.sort(files)
    assert.are.same(files, builtin)
  end)

  for _, name in ipairs(builtin) do
    it(name .. " is a well-formed recipe whose examples hold at its small size", function()
      check_recipe(require("maskinfo.recipes." .. name), name)
    end)
  end

  it("every recipe builds at its real default size", function()
    for _, name in ipairs(builtin) do
      local r = require("maskinfo.recipes." .. name)
      local defaults = params_of(r, check_format(r, name), name)
      for _, s in ipairs(r.params) do defaults[s.name] = s.default end
      for i, l in ipairs(layers(name, r.build(mi, defaults))) do
        local _, Q, K = l.mask:shape()
        assert.is_true(Q >= 1 and K >= 1, name .. " layer " .. i)
        assert.is_true(l.mask:count() > 0, name .. " layer " .. i .. " allows no cell")
      end
    end
  end)

  it("causal keeps its name and meaning; gemma_local_global shows both kinds of layer", function()
    local causal = require("maskinfo.recipes.causal")
    assert.is_true(causal.build(mi, { len = 12 }):equals(mi.causal(12)))
    local gemma = require("maskinfo.recipes.gemma_local_global").build(mi, { len = 64, window = 16 })
    assert.are.equal(2, #gemma)
    assert.is_false(gemma[1].mask:equals(gemma[2].mask))
  end)

  it("a wrong example, a bad default or an inconsistent build is caught", function()
    local function recipe(over)
      local r = {
        name = "mine", description = "d", source = "s",
        params = { { name = "len", type = "integer", default = 8, min = 1, doc = "tokens" } },
        build = function(m, p) return m.causal(p.len) end,
        examples = { { fn = function(_, _, q, k) return k <= q end } },
      }
      for k, v in pairs(over) do r[k] = v end
      return r
    end
    check_recipe(recipe({}), "mine") -- the right one passes
    local wrong = recipe({ examples = { { fn = function(_, _, q, k) return k < q end } } })
    assert.has_error(function() check_recipe(wrong, "mine") end,
      "mine: example 1, layer 1: the mask differs from the predicate at (b=0, h=0, q=0, k=0): "
      .. "the mask allows it, the predicate masks it (8 of 64 cells differ)")
    local cells = recipe({ examples = { { masked = { { 0, 0, 3, 2 } } } } })
    assert.has_error(function() check_recipe(cells, "mine") end)
    local bad_default = recipe({ params = { { name = "len", type = "integer", default = 0, min = 1, doc = "tokens" } } })
    assert.has_error(function() check_recipe(bad_default, "mine") end,
      "mine: params[1]: default of len: 0 below min 1")
    local bad_layer = recipe({ examples = { { layer = 2, fn = function() return true end } } })
    assert.has_error(function() check_recipe(bad_layer, "mine") end, "mine: example 1 names layer 2")
    local unknown = recipe({ small = { lenght = 4 } })
    assert.has_error(function() check_recipe(unknown, "mine") end, "mine: unknown param 'lenght'")
  end)
end)
