-- The recipe loader (maskinfo.recipes): list, load (path, name, MASKINFO_RECIPE_PATH),
-- validation messages, params, build, check (examples and the dense comparison),
-- skeleton, the memory guard before build, and the old-format adapter.  Recipes in
-- the new format are written to a temporary directory here (Mistral's window,
-- Llama 4's chunks, Gemma 2's alternating layers), so the spec does not depend on
-- which built-in files are converted.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")
local R = require("maskinfo.recipes")

local q = P.shell_quote

local dir = P.mkdtemp()

local function write(name, src)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

local MISTRAL = [[
return {
  name = "mistral_7b",
  description = "Mistral 7B: causal sliding window of 4096 tokens",
  source = "Mistral 7B v0.1 config.json: sliding_window = 4096",
  params = {
    { name = "len", type = "integer", default = 16384, min = 1, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 4096, min = 1, doc = "window, counting the query itself" },
  },
  small = { len = 24, window = 5 },
  build = function(mi, p)
    return mi.from_segments({ mi.util.fill(p.len, 0) }):apply_causal():apply_sliding_window({ p.window - 1, 0 })
  end,
  examples = {
    { params = { len = 16, window = 4 }, allowed = { { 0, 0, 5, 5 }, { 0, 0, 5, 2 } }, masked = { { 0, 0, 5, 1 }, { 0, 0, 2, 3 } } },
    { fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
  },
}
]]

local LLAMA4 = [[
return {
  name = "llama4_chunked",
  description = "Llama 4 local layers: causal within chunks of 8192",
  source = "Llama 4 Scout config.json: attention_chunk_size = 8192",
  params = {
    { name = "len", type = "integer", default = 32768, min = 1, doc = "sequence length in tokens" },
    { name = "chunk", type = "integer", default = 8192, min = 1, doc = "chunk size" },
  },
  small = { len = 20, chunk = 6 },
  build = function(mi, p)
    return mi.from_segments({ mi.util.fill(p.len, 0) }):apply_chunked(p.chunk)
  end,
  examples = {
    { fn = function(_, _, q, k, p) return k <= q and q // p.chunk == k // p.chunk end },
  },
}
]]

local GEMMA2 = [[
return {
  name = "gemma2",
  description = "Gemma 2: local layers of window 4096 alternating with global ones",
  source = "Gemma 2 config.json: sliding_window = 4096, layers alternate starting with sliding",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 4096, min = 1, doc = "window of the local layers" },
    { name = "first", type = "enum", values = { "local", "global" }, default = "local", doc = "the kind of layer 0" },
    { name = "bidirectional", type = "boolean", default = false, doc = "encoder-style (no causal rule)" },
  },
  small = { len = 16, window = 3 },
  build = function(mi, p)
    local base = mi.from_segments({ mi.util.fill(p.len, 0) })
    if not p.bidirectional then base = base:apply_causal() end
    local loc = { name = "local", mask = base:apply_sliding_window({ p.window - 1, p.bidirectional and p.window - 1 or 0 }) }
    local glob = { name = "global", mask = base }
    if p.first == "local" then return { loc, glob } end
    return { glob, loc }
  end,
  examples = {
    { layer = 1, params = { len = 8, window = 2 }, allowed = { { 0, 0, 3, 2 } }, masked = { { 0, 0, 3, 1 } } },
    { layer = 2, params = { len = 8, window = 2 }, allowed = { { 0, 0, 3, 0 } } },
    { fn = function(_, _, q, k, p, layer) return k <= q and (layer == 2 or q - k < p.window) end },
  },
}
]]

local mistral_path = write("mistral_7b.lua", MISTRAL)
local llama_path = write("llama4_chunked.lua", LLAMA4)
local gemma_path = write("gemma2.lua", GEMMA2)

teardown(function() P.sh("rm -rf " .. q(dir)) end)

describe("recipes.list", function()
  it("is sorted and names the built-in recipe files", function()
    local names = R.list()
    assert.is_true(#names >= 15)
    for i = 2, #names do assert.is_true(names[i - 1] < names[i]) end
    for _, n in ipairs(names) do
      assert.truthy(package.searchpath("maskinfo.recipes." .. n, package.path), n)
    end
  end)

  it("returns a fresh copy", function()
    local a = R.list()
    a[1] = "changed"
    assert.are_not.equal("changed", R.list()[1])
  end)
end)

describe("recipes.load", function()
  it("loads a recipe file by path", function()
    local r = assert(R.load(mistral_path))
    assert.are.equal("mistral_7b", r.name)
    assert.are.equal(4096, r.params[2].default)
  end)

  it("loads every built-in by name", function()
    for _, n in ipairs(R.list()) do
      local r, err = R.load(n)
      assert.is_table(r, err)
      assert.are.equal(n, r.name)
      assert.are.equal("len", r.params[1].name)
    end
  end)

  it("finds NAME.lua on MASKINFO_RECIPE_PATH, in order", function()
    local other = dir .. "/other"
    assert(P.sh("mkdir -p " .. q(other)))
    local code = [[local r, e = require("maskinfo.recipes").load("llama4_chunked") print(r and r.description or e)]]
    local out = P.run_lua(code, "MASKINFO_RECIPE_PATH=" .. q(other .. ":" .. dir))
    assert.are.equal("Llama 4 local layers: causal within chunks of 8192\n", out)
    out = P.run_lua(code)
    assert.truthy(out:find("no recipe 'llama4_chunked'", 1, true), out)
  end)

  it("an unknown name or a missing file is nil, a message and EIO", function()
    local r, err, status = R.load("nosuch_recipe")
    assert.is_nil(r)
    assert.are.equal("EIO", status)
    assert.truthy(err:find("no recipe 'nosuch_recipe'", 1, true))
    r, err, status = R.load(dir .. "/missing.lua")
    assert.is_nil(r)
    assert.are.equal("EIO", status)
    assert.are.equal("cannot read recipe file '" .. dir .. "/missing.lua'", err)
  end)

  it("names that are neither identifiers nor paths are refused", function()
    for _, s in ipairs({ "a b", "x-y", "" }) do
      local r, _, status = R.load(s)
      assert.is_nil(r)
      assert.are.equal("EINVAL", status)
    end
    assert.is_nil((R.load(42)))
  end)

  local function load_src(fname, src)
    return R.load(write(fname, src))
  end

  it("a syntax error or a raising file is EINVAL with the file's message", function()
    local r, err, status = load_src("broken.lua", "return {")
    assert.is_nil(r)
    assert.are.equal("EINVAL", status)
    assert.truthy(err:find("broken.lua", 1, true), err)
    r, err = load_src("raises.lua", "error('boom')")
    assert.is_nil(r)
    assert.truthy(err:find("boom", 1, true), err)
  end)

  it("validation messages name the file and the field", function()
    local cases = {
      { MISTRAL:gsub('name = "mistral_7b"', 'name = "other"'), "field 'name' must be the file name without .lua ('mistral_7b'), got other" },
      { MISTRAL:gsub('  source = [^\n]*\n', ""), "field 'source': a one-line string expected" },
      { MISTRAL:gsub("  small =", "  smal ="), "unknown field 'smal' (expected build, description, examples, name, params, small or source)" },
      { MISTRAL:gsub('type = "integer", default = 4096', 'type = "int", default = 4096'), "param 'window': type must be one of" },
      { MISTRAL:gsub("default = 4096, min = 1", "default = 0, min = 1"), "param 'window': default must be >= 1, got 0" },
      { MISTRAL:gsub('{ name = "len"', '{ name = "n"'), "the first parameter must be len" },
      { MISTRAL:gsub('doc = "window, counting the query itself"', "doc = 3"), "param 'window': doc (a one-line string) expected" },
      { MISTRAL:gsub("allowed = { { 0, 0, 5, 5 }", "allowed = { { 0, 0, 5 }"), "field 'examples': examples[1].allowed[1]: {b, h, q, k} expected" },
      { MISTRAL:gsub("{ fn = function", "{ fun = function"), "examples[2]: unknown field 'fun'" },
      { MISTRAL:gsub("build = function", "build = 3, f = function"), "unknown field 'f'" },
      { GEMMA2:gsub('values = { "local", "global" }, default = "local"', 'values = { "local", "global" }, default = "both"'),
        "param 'first': default must be one of local, global, got both" },
    }
    assert(P.sh("mkdir -p " .. q(dir .. "/bad")))
    for _, c in ipairs(cases) do
      local fname = "bad/" .. (c[1]:find('"gemma2"', 1, true) and "gemma2" or "mistral_7b") .. ".lua"
      local r, err, status = load_src(fname, c[1])
      assert.is_nil(r, c[2])
      assert.are.equal("EINVAL", status)
      assert.truthy(err:find(dir .. "/" .. fname .. ": ", 1, true), err)
      assert.truthy(err:find(c[2], 1, true), "expected '" .. c[2] .. "' in: " .. err)
    end
  end)

  it("refuses an old-format recipe ({description, default_len, build(mi, n)}), naming the field", function()
    local r, err, status = load_src("old_style.lua", [[
      return { description = "old", default_len = 12,
        build = function(mi, n) return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal() end }]])
    assert.is_nil(r)
    assert.are.equal("EINVAL", status)
    assert.truthy(err:find("old_style.lua: unknown field 'default_len'", 1, true), err)
  end)
end)

describe("recipes.params", function()
  local r = assert(R.load(gemma_path))

  it("fills the defaults", function()
    assert.are.same({ len = 8192, window = 4096, first = "local", bidirectional = false }, R.params(r, {}))
    assert.are.same({ len = 8192, window = 4096, first = "local", bidirectional = false }, R.params(r))
  end)

  it("converts CLI strings per type", function()
    local p = assert(R.params(r, { len = "64", window = "8", first = "global", bidirectional = "true" }))
    assert.are.same({ len = 64, window = 8, first = "global", bidirectional = true }, p)
    assert.are.equal("integer", math.type(p.len))
    assert.are.equal(1000, R.params(r, { len = "1e3" }).len)
  end)

  it("refuses unknown, ill-typed and out-of-range parameters, naming them", function()
    local cases = {
      { { windw = 3 }, "unknown parameter 'windw' (recipe gemma2 takes: len, window, first, bidirectional)" },
      { { window = "x" }, "parameter 'window': expected an integer, got 'x'" },
      { { window = "2.5" }, "parameter 'window': expected an integer, got '2.5'" },
      { { window = 2.5 }, "parameter 'window' expected an integer, got 2.5" },
      { { window = 0 }, "parameter 'window' must be >= 1, got 0" },
      { { len = "-4" }, "parameter 'len' must be >= 1, got -4" },
      { { first = "middle" }, "parameter 'first' must be one of local, global, got middle" },
      { { bidirectional = "yes" }, "parameter 'bidirectional': expected true or false, got 'yes'" },
      { { bidirectional = 1 }, "parameter 'bidirectional' expected true or false, got 1" },
    }
    for _, c in ipairs(cases) do
      local p, err = R.params(r, c[1])
      assert.is_nil(p)
      assert.are.equal(c[2], err)
    end
  end)
end)

describe("recipes.build", function()
  it("a single MaskInfo becomes one layer named after the recipe", function()
    local r = assert(R.load(mistral_path))
    local layers = assert(R.build(r, assert(R.params(r, { len = 32, window = 8 }))))
    assert.are.equal(1, #layers)
    assert.are.equal("mistral_7b", layers[1].name)
    -- 8 cells per row once the window is full: 1 + 2 + ... + 8 + 24 * 8
    assert.are.equal(36 + 24 * 8, (layers[1].mask:count()))
  end)

  it("multi-layer recipes return their layers in order", function()
    local r = assert(R.load(gemma_path))
    local layers = assert(R.build(r, assert(R.params(r, { len = 16, window = 4, first = "global" }))))
    assert.are.same({ "global", "local" }, { layers[1].name, layers[2].name })
    assert.are.equal(136, (layers[1].mask:count()))
  end)

  it("refuses a size the memory guard would refuse before build runs", function()
    local src = MISTRAL:gsub("build = function%(mi, p%)", "build = function(mi, p) error('build ran')")
    local r = assert(R.load(write("mistral_7b.lua", src)))
    local layers, err = R.build(r, assert(R.params(r, { len = 99999999999 })))
    assert.is_nil(layers)
    assert.truthy(err:find("^len = 99999999999 tokens %(ids, positions and derived tables, 32 bytes a token%) needs 2.9 TiB: over the memory guard %(limit "), err)
    write("mistral_7b.lua", MISTRAL)
  end)

  it("a failing build or a bad result is nil and a message", function()
    local r = assert(R.load(write("bad_build.lua", (MISTRAL:gsub('"mistral_7b"', '"bad_build"')
      :gsub("return mi.from_segments", "error('no luck') return mi.from_segments")))))
    local layers, err = R.build(r, R.params(r, { len = 4 }))
    assert.is_nil(layers)
    assert.truthy(err:find("recipe bad_build: build failed: .*no luck"), err)
    r.build = function() return { { name = "x", mask = 3 } } end
    layers, err = R.build(r, R.params(r, { len = 4 }))
    assert.is_nil(layers)
    assert.are.equal("recipe bad_build: build must return a MaskInfo or a list of {name=, mask=} (layer 1 is not)", err)
  end)
end)

describe("recipes.check", function()
  it("passes every built-in recipe (at least 25), as `maskinfo check NAME` does", function()
    local names = R.list()
    assert.is_true(#names >= 25, #names .. " built-in recipes")
    for _, name in ipairs(names) do
      local ok, report = R.check(assert(R.load(name)))
      assert.is_true(ok, name .. ":\n" .. table.concat(report, "\n"))
    end
  end)

  it("passes the converted recipes, with a line per example and per layer", function()
    for _, path in ipairs({ mistral_path, llama_path, gemma_path }) do
      local ok, report = R.check(assert(R.load(path)))
      assert.is_true(ok, table.concat(report, "\n"))
      for _, l in ipairs(report) do assert.truthy(l:find("^ok    "), l) end
    end
    local _, report = R.check(assert(R.load(gemma_path)))
    assert.are.same({
      "ok    recipe gemma2: fields and 4 params valid",
      "ok    defaults valid",
      "ok    small (len=16) builds 2 layers (1, 1, 16, 16), (1, 1, 16, 16)",
      "ok    example 1: holds (2 cells)",
      "ok    example 2: holds (1 cells)",
      "ok    example 3: holds (0 cells, fn on every cell)",
      "ok    dense check, layer 1 (local) (1, 1, 16, 16): every cell agrees",
      "ok    dense check, layer 2 (global) (1, 1, 16, 16): every cell agrees",
    }, report)
  end)

  it("fails when an example's cells are wrong, naming the cell", function()
    local r = assert(R.load(write("mistral_7b.lua", MISTRAL:gsub("masked = { { 0, 0, 5, 1 }", "masked = { { 0, 0, 5, 3 }"))))
    local ok, report = R.check(r)
    assert.is_false(ok)
    assert.truthy(table.concat(report, "\n"):find(
      "FAIL  example 1: layer 1 (mistral_7b): cell (0, 0, 5, 3) should be masked", 1, true), table.concat(report, "\n"))
    write("mistral_7b.lua", MISTRAL)
  end)

  it("fails when the predicate disagrees with the mask", function()
    local r = assert(R.load(write("mistral_7b.lua", MISTRAL:gsub("q %- k < p.window", "q - k <= p.window"))))
    local ok, report = R.check(r)
    assert.is_false(ok)
    assert.truthy(table.concat(report, "\n"):find("FAIL  example 2: layer 1 (mistral_7b): cell (0, 0, 5, 0) is masked, the example's fn says otherwise", 1, true),
      table.concat(report, "\n"))
    write("mistral_7b.lua", MISTRAL)
  end)

  it("fails on cells outside the mask, on a missing layer and on bad small params", function()
    local r = assert(R.load(gemma_path))
    r.examples = { { layer = 3, allowed = { { 0, 0, 0, 0 } } }, { allowed = { { 0, 1, 0, 0 } } } }
    local ok, report = R.check(r)
    assert.is_false(ok)
    local text = table.concat(report, "\n")
    assert.truthy(text:find("FAIL  example 1: layer 3 asked for, the recipe builds 2", 1, true), text)
    assert.truthy(text:find("FAIL  example 2: layer 1 (local): cell (0, 1, 0, 0) is outside the mask (1, 1, 16, 16)", 1, true), text)
    r.small = { window = 0 }
    ok, report = R.check(r)
    assert.is_false(ok)
    assert.are.equal("FAIL  small: parameter 'window' must be >= 1, got 0", report[#report])
  end)

  it("refuses a small size too big for a dense check", function()
    local r = assert(R.load(mistral_path))
    r.small = { len = 2048 }
    local ok, report = R.check(r)
    assert.is_false(ok)
    assert.truthy(report[#report]:find("too big for a dense check", 1, true), report[#report])
  end)
end)

describe("recipes.skeleton", function()
  it("writes a recipe that loads and passes check", function()
    local path = write("my_pattern.lua", R.skeleton("my_pattern"))
    local r = assert(R.load(path))
    assert.are.equal("my_pattern", r.name)
    local ok, report = R.check(r)
    assert.is_true(ok, table.concat(report, "\n"))
    assert.is_true(#r.examples >= 1)
  end)

  it("refuses a name that is not an identifier", function()
    assert.has_error(function() R.skeleton("a-b") end)
  end)
end)

describe("maskinfo.recipes is the same module", function()
  it("as mi.recipes", function()
    assert.are.equal(R, maskinfo.recipes)
  end)
end)
