-- cli_render_spec.lua - `maskinfo render`: the format follows the extension
-- (unknown ones exit 2 and write nothing), the figure options reach the
-- library (each picture is byte-identical to the library's own call with
-- the same options), --diff draws render_diff, and bad values are usage
-- errors.  Each case runs scripts/maskinfo.lua in a child process.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local mi = require("maskinfo")
local R = require("maskinfo.recipes")

local q = P.shell_quote

local tmp = P.mkdtemp()
teardown(function() P.sh("rm -rf " .. q(tmp)) end)

-- Run maskinfo with args; returns its output (stdout and stderr) and exit code.
local function cli(args)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  local _, out = P.sh(("cd %s && env -u MASKINFO_DEBUG LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 %s %s; echo \"@rc=$?\"")
    :format(q(P.ROOT), q(P.LUA_PATH), q(P.LUA_CPATH), q(P.ROOT .. "/scripts/maskinfo.lua"), table.concat(parts, " ")))
  local rc = tonumber(out:match("@rc=(%d+)%s*$"))
  return out:gsub("@rc=%d+%s*$", ""), rc
end

local function layer(name, params, i)
  local r = assert(R.load(name))
  return assert(R.build(r, assert(R.params(r, params))))[i or 1].mask
end

-- The CLI's picture equals the library's with opts.
local function same_as_library(args, path, draw)
  local out, rc = cli(args)
  assert.are.equal(0, rc, out)
  local want = tmp .. "/want" .. path:match("%.%w+$")
  assert.is_truthy(draw(want))
  -- not are.equal: a failure would print both images
  assert.is_true(P.read_file(want) == P.read_file(path), "differs from the library: " .. table.concat(args, " "))
end

describe("maskinfo render", function()
  it("writes SVG for .svg and PNG for .png, the same figure as the library", function()
    local svg, png = tmp .. "/c.svg", tmp .. "/c.PNG"
    local m = layer("causal", { len = 16 })
    same_as_library({ "render", "causal", svg, "--len", "16" }, svg,
      function(p) return m:render_svg(p, { title = "causal", batch = 0, head = 0 }) end)
    assert.are.equal("<?xml", P.read_file(svg):sub(1, 5))
    same_as_library({ "render", "causal", png, "--len", "16" }, png,
      function(p) return m:render_png(p, { title = "causal", batch = 0, head = 0 }) end)
    assert.are.equal("\137PNG", P.read_file(png):sub(1, 4))
  end)

  it("refuses an unknown extension with exit 2 and writes nothing", function()
    for _, name in ipairs({ "x.jpg", "x", "x.svg.gz" }) do
      local out, rc = cli({ "render", "causal", tmp .. "/" .. name, "--len", "8" })
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find("unknown image format", 1, true), out)
      assert.is_false(P.exists(tmp .. "/" .. name))
    end
  end)

  it("passes the figure options on", function()
    local path = tmp .. "/s.png"
    local m = layer("streaming_sinks", { len = 131072 })
    same_as_library({ "render", "streaming_sinks", path, "--len", "131072", "--aggregate", "any", "--width", "1024",
      "--no-colorbar", "--font-scale", "1.5", "--title", "sinks ± α" }, path,
      function(p) return m:render_png(p, { aggregate = "any", width = 1024, legend = false, font_scale = 1.5,
        title = "sinks ± α", batch = 0, head = 0 }) end)
    local c = layer("causal", { len = 64 })
    same_as_library({ "render", "causal", path, "--len", "64", "--q-range", "8:24", "--kv-range", "0,32",
      "--q-offset", "1000", "--kv-offset", "992", "--block-overlay", "8", "--bands", "--dpi", "150" }, path,
      function(p) return c:render_png(p, { q_range = { 8, 24 }, kv_range = { 0, 32 }, q_offset = 1000,
        kv_offset = 992, block_size = 8, bands = true, dpi = 150, title = "causal", batch = 0, head = 0 }) end)
    local t = layer("causal", { len = 4 })
    same_as_library({ "render", "causal", path, "--len", "4", "--tokens", "a,b,c,d", "--block-overlay", "2,4",
      "--no-segments", "--scale", "20" }, path,
      function(p) return t:render_png(p, { tokens = { "a", "b", "c", "d" }, block_size = { 2, 4 },
        show_segments = false, scale = 20, title = "causal", batch = 0, head = 0 }) end)
  end)

  it("draws every head under one figure title", function()
    local path = tmp .. "/h.svg"
    local m = layer("per_head_windows", { len = 16 })
    same_as_library({ "render", "per_head_windows", path, "--len", "16", "--heads", "0,2" }, path,
      function(p) return mi.render_grid(p, { m, m }, { heads = { 0, 2 }, batches = { 0, 0 }, columns = 2,
        titles = { "head 0", "head 2" }, figure_title = "per_head_windows" }) end)
  end)

  it("names one head of several, and breaks --title at a literal \\n", function()
    local path = tmp .. "/h1.svg"
    local m = layer("per_head_windows", { len = 16 })
    same_as_library({ "render", "per_head_windows", path, "--len", "16", "--heads", "1", "--title", "a\\nb" }, path,
      function(p) return m:render_svg(p, { head = 1, batch = 0, title = "a\nb" }) end)
    local svg = P.read_file(path)
    assert.is_truthy(svg:find(">head 1</text>", 1, true))
    assert.is_truthy(svg:find(">a</text>", 1, true) and svg:find(">b</text>", 1, true))
  end)

  it("--diff draws the difference to another parameter set or recipe", function()
    local path = tmp .. "/d.png"
    local a, b = layer("sliding_window", { len = 32, window = 8 }), layer("sliding_window", { len = 32, window = 3 })
    same_as_library({ "render", "sliding_window", path, "--len", "32", "--window", "8", "--diff", ":window=3" }, path,
      function(p) return mi.render_diff(p, a, b, { title = "sliding_window: window=8 vs window=3", batch = 0,
        head = 0 }) end)
    local c = layer("causal", { len = 32 })
    same_as_library({ "render", "sliding_window", path, "--len", "32", "--window", "8", "--diff", "causal" }, path,
      function(p) return mi.render_diff(p, a, c, { title = "sliding_window vs causal", batch = 0, head = 0 }) end)
    local out, rc = cli({ "render", "sliding_window", path, "--len", "32", "--diff", ":nope=3" })
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("unknown parameter 'nope'", 1, true), out)
    out, rc = cli({ "render", "per_head_windows", path, "--len", "16", "--heads", "all", "--diff", ":len=16" })
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("--diff draws one layer and head", 1, true), out)
  end)

  it("bad option values are usage errors naming the option", function()
    for _, case in ipairs({
      { { "--q-range", "70:80" }, "--q-range: {70, 80} is not a non-empty part of [0, 64)" },
      { { "--kv-range", "0:99" }, "--kv-range: {0, 99} is not a non-empty part of [0, 64)" },
      { { "--q-range", "8" }, "--q-range must be LO:HI with LO < HI, got '8'" },
      { { "--block-overlay", "0" }, "--block-overlay must be N or Q,KV" },
      { { "--tokens", "a,b" }, "--tokens: a list of 64 strings expected" },
      { { "--font-scale=-1" }, "--font-scale must be a positive number" },
      -- a negative value after a space reaches the option's check too
      { { "--font-scale", "-1" }, "--font-scale must be a positive number" },
      { { "--q-offset", "-1" }, "--q-offset must be an integer >= 0, got '-1'" },
      { { "--font-scale", "1e9" }, "--font-scale: a number from 0.25 to 100 expected, got 1000000000.0" },
      { { "--dpi", "1" }, "--dpi: a number from 36 to 10000 expected, got 1" },
      { { "--scale", "100000" }, "--scale 100000 makes the heatmap" },
    }) do
      local args = { "render", "causal", tmp .. "/e.png", "--len", "64" }
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local out, rc = cli(args)
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find(case[2], 1, true), out)
    end
  end)
end)
