-- The maskinfo command (scripts/maskinfo.lua, lua/maskinfo/cli): each convention of
-- docs/cli.md (help and version on stdout with exit 0, usage errors exit 2, runtime
-- failures exit 1, --key=value and --, unknown options and extra arguments refused),
-- recipes by name, path and MASKINFO_RECIPE_PATH with their parameters as options,
-- every subcommand, and the memory guard before anything is built.  Each case runs
-- `lua5.4 scripts/maskinfo.lua ...` in a child process with this checkout's modules
-- and compares with the library itself.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")
local R = require("maskinfo.recipes")

local ROOT, q, lines_of = P.ROOT, P.shell_quote, P.lines_of

local tmp = P.mkdtemp()
teardown(function() P.sh("rm -rf " .. q(tmp)) end)

-- Run the command with args in dir (default: the checkout) with env ("NAME=value
-- ..."); returns stdout, stderr, exit code.  prefix goes before the command
-- (ulimit, timeout).
local function run(args, opts)
  opts = opts or {}
  local err_file = os.tmpname()
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  local cmd = ("cd %s && %s env -u MASKINFO_DEBUG -u MASKINFO_MAX_BYTES -u MASKINFO_RECIPE_PATH %s LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s lua5.4 %s %s 2>%s; echo \"@rc=$?\"")
    :format(q(opts.dir or ROOT), opts.shell or "", opts.env or "", q(P.LUA_PATH), q(P.LUA_CPATH), opts.prefix or "",
      q(ROOT .. "/scripts/maskinfo.lua"), table.concat(parts, " "), q(err_file))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local err = P.read_file(err_file) or ""
  os.remove(err_file)
  local rc = tonumber(out:match("@rc=(%d+)%s*$"))
  return out:gsub("@rc=%d+%s*$", ""), err, rc
end

local function png_size(path)
  local head = assert(P.read_file(path))
  assert.are.equal("\137PNG\r\n\26\n", head:sub(1, 8))
  return (string.unpack(">I4", head, 17)), (string.unpack(">I4", head, 21))
end

local function write(name, src)
  local f = assert(io.open(tmp .. "/" .. name, "w"))
  f:write(src)
  f:close()
  return tmp .. "/" .. name
end

-- A user recipe with two layers and an enum, in the temporary directory.
local TWO_LAYERS = [[
return {
  name = "two_layers",
  description = "a local and a global layer",
  source = "this spec",
  params = {
    { name = "len", type = "integer", default = 64, min = 1, doc = "tokens" },
    { name = "window", type = "integer", default = 8, min = 1, doc = "local window, counting the query" },
    { name = "order", type = "enum", values = { "local_first", "global_first" }, default = "local_first", doc = "layer order" },
  },
  small = { len = 16, window = 3 },
  build = function(mi, p)
    local base = mi.from_segments({ mi.util.fill(p.len, 0) }):apply_causal()
    local l = { name = "local", mask = base:apply_sliding_window({ p.window - 1, 0 }) }
    local g = { name = "global", mask = base }
    if p.order == "local_first" then return { l, g } end
    return { g, l }
  end,
  examples = {
    { layer = 1, params = { len = 8, window = 2 }, allowed = { { 0, 0, 4, 3 } }, masked = { { 0, 0, 4, 2 } } },
    { fn = function(_, _, qi, k, p, layer) return k <= qi and (layer == 2 or qi - k < p.window) end },
  },
}
]]
local two_layers = write("two_layers.lua", TWO_LAYERS)

local function build(name, over)
  local r = assert(R.load(name))
  return assert(R.build(r, assert(R.params(r, over or {})))), r
end

---------------------------------------------------------------- conventions

describe("maskinfo help and version", function()
  it("--help, -h and help print the usage and the commands to stdout, exit 0", function()
    local first
    for _, args in ipairs({ { "--help" }, { "-h" }, { "help" } }) do
      local out, err, rc = run(args)
      assert.are.equal(0, rc, table.concat(args, " "))
      assert.are.equal("", err)
      assert.truthy(out:find("^Usage: maskinfo "), out)
      for _, c in ipairs({ "list", "show", "info", "render", "export", "check", "new", "gallery", "demo", "model", "completion" }) do
        assert.truthy(out:find("\n   " .. c .. " ", 1, true), c)
      end
      assert.truthy(out:find("Exit status: 0 success, 1 runtime failure, 2 usage error.", 1, true))
      first = first or out
      assert.are.equal(first, out)
    end
  end)

  it("help CMD and CMD --help print the command's help to stdout, exit 0", function()
    for _, c in ipairs({ "show", "render", "model", "check", "new" }) do
      local a, err1, rc1 = run({ "help", c })
      local b, err2, rc2 = run({ c, "--help" })
      assert.are.same({ 0, 0, "", "" }, { rc1, rc2, err1, err2 })
      assert.truthy(a:find("^Usage: maskinfo " .. c), a)
      assert.are.equal(a, b)
    end
  end)

  it("CMD RECIPE --help lists the recipe's declared parameters", function()
    local out, _, rc = run({ "show", two_layers, "--help" })
    assert.are.equal(0, rc)
    assert.truthy(out:find("--window <window>", 1, true), out)
    assert.truthy(out:find("local_first|global_first", 1, true), out)
  end)

  it("--version prints the package version", function()
    local out, err, rc = run({ "--version" })
    assert.are.same({ 0, "", "maskinfo " .. maskinfo._VERSION .. "\n" }, { rc, err, out })
  end)

  it("a bare maskinfo prints the help and writes nothing", function()
    local dir = tmp .. "/bare"
    assert(P.sh("mkdir -p " .. q(dir)))
    local out, err, rc = run({}, { dir = dir })
    assert.are.same({ 0, "" }, { rc, err })
    assert.are.equal(run({ "--help" }), out)
    local _, listing = P.sh("ls -A " .. q(dir))
    assert.are.equal("", listing)
  end)

  it("help for an unknown command is a usage error", function()
    local out, err, rc = run({ "help", "frob" })
    assert.are.same({ 2, "" }, { rc, out })
    assert.are.equal("maskinfo: no command 'frob' (see maskinfo --help)\nTry 'maskinfo --help'.\n", err)
  end)
end)

describe("maskinfo usage errors exit 2", function()
  local cases = {
    { { "frob" }, "maskinfo: unknown command 'frob'" },
    { { "show", "causal", "--lenght", "8" }, "maskinfo: unknown option '--lenght'" },
    { { "show", "causal", "--title", "X" }, "maskinfo: unknown option '--title'" },
    { { "show", "causal", "--window", "4" }, "maskinfo: unknown option '--window'" },
    { { "show", "causal", "extra" }, "maskinfo: too many arguments" },
    { { "list", "extra" }, "maskinfo: too many arguments" },
    { { "show" }, "maskinfo: missing argument 'recipe'" },
    { { "show", "nosuch" }, "maskinfo: no recipe 'nosuch'" },
    { { "show", "causal", "--len" }, "maskinfo: option '--len' requires an argument" },
    { { "show", "causal", "--len", "0" }, "maskinfo: parameter 'len' must be >= 1, got 0" },
    { { "show", "causal", "--len", "2.5" }, "maskinfo: parameter 'len': expected an integer, got '2.5'" },
    { { "show", "causal", "--set", "lenn=4" }, "maskinfo: unknown parameter 'lenn' (recipe causal takes: len)" },
    { { "show", "causal", "--set", "len" }, "maskinfo: --set expects NAME=VALUE, got 'len'" },
    { { "show", two_layers, "--order", "middle" }, "maskinfo: parameter 'order' must be one of local_first, global_first, got middle" },
    { { "show", two_layers, "--heads", "3" }, "maskinfo: --heads 3: heads (layer 1 has 1) must be all or numbers in 0..0" },
    { { "show", two_layers, "--layers", "3" }, "maskinfo: --layers 3: layers must be all or numbers in 1..2" },
    { { "show", "causal", "--block", "x" }, "maskinfo: --block must be an integer >= 1, got 'x'" },
    { { "export", "causal", "/tmp/x.txt" }, "maskinfo: export: the output must end in .npy or .safetensors" },
    { { "export", two_layers, tmp .. "/x.npy" }, "maskinfo: recipe two_layers has 2 layers: pick one with --layers N" },
    { { "render", "causal", "x.png", "--colormap", "jet" }, "maskinfo: argument for option '--colormap' must be one of 'grey', 'viridis', 'magma'" },
    { { "completion", "tcsh" }, "maskinfo: argument 'shell' must be one of 'bash', 'zsh', 'fish'" },
    { { "new", "a-b" }, "maskinfo: recipe name 'a-b': letters, digits and _, not starting with a digit" },
    { { "model", "tests/data/hf/gemma-2-9b.json" }, "maskinfo: --len N is required" },
    { { "model", "tests/data/hf/gemma-2-9b.json", "--len", "8", "--documents", "3,3" }, "maskinfo: --documents add up to 6, --len is 8" },
  }
  for _, c in ipairs(cases) do
    it(table.concat(c[1], " "), function()
      local out, err, rc = run(c[1])
      assert.are.equal(2, rc, err)
      assert.are.equal("", out)
      assert.truthy(err:find(c[2], 1, true), "expected '" .. c[2] .. "' in:\n" .. err)
      assert.truthy(err:find("\nTry 'maskinfo [%w ]*%-%-help'%.\n$"), err)
      assert.falsy(err:find("traceback", 1, true), err)
    end)
  end
end)

describe("maskinfo runtime failures exit 1", function()
  it("an unwritable output names the path and the reason", function()
    local out, err, rc = run({ "render", "causal", "/nonexistent-dir/x.png", "--len", "8" })
    assert.are.same({ 1, "" }, { rc, out })
    assert.truthy(err:find("^maskinfo: render_png: cannot write '/nonexistent%-dir/x.png': "), err)
  end)

  it("a broken recipe file is a runtime failure, a missing one a usage error", function()
    local broken = write("broken.lua", "return {")
    local _, err, rc = run({ "show", broken })
    assert.are.equal(1, rc)
    assert.truthy(err:find("^maskinfo: .*broken.lua"), err)
    _, _, rc = run({ "show", tmp .. "/missing.lua" })
    assert.are.equal(2, rc)
  end)

  it("info causal --len 99999999999 is refused within 2 s and under 200 MB, before anything is built", function()
    local t0 = os.time()
    local out, err, rc = run({ "info", "causal", "--len", "99999999999" },
      { shell = "ulimit -v 200000 &&", prefix = "timeout 2" })
    assert.is_true(os.time() - t0 <= 3)
    -- past the recipe's declared range: a usage error
    assert.are.same({ 2, "" }, { rc, out })
    assert.truthy(err:find("maskinfo: parameter 'len' must be <= 2147483648, got 99999999999", 1, true), err)
  end)

  it("a --len inside the recipe's range but over the memory guard is a runtime refusal", function()
    local t0 = os.time()
    local out, err, rc = run({ "info", "causal", "--len", "1000000" },
      { env = "MASKINFO_MAX_BYTES=1000000", shell = "ulimit -v 200000 &&", prefix = "timeout 2" })
    assert.is_true(os.time() - t0 <= 3)
    assert.are.same({ 1, "" }, { rc, out })
    assert.are.equal("maskinfo: len = 1000000 tokens (ids, positions and derived tables, 32 bytes a token) needs 30.5 MiB: "
      .. "over the memory guard (limit 976.6 KiB, see maskinfo.set_memory_limit)\n", err)
  end)

  it("--layers all shows every layer; info describes every layer", function()
    local out = run({ "show", two_layers, "--len", "4", "--window", "2", "--layers", "all" })
    local layers = build(two_layers, { len = 4, window = 2 })
    assert.are.equal("== layer 1 (local), head 0\n" .. layers[1].mask:visualize{ block_size = 1 }
      .. "== layer 2 (global), head 0\n" .. layers[2].mask:visualize{ block_size = 1 }, out)
    out = run({ "info", two_layers, "--len", "4", "--window", "2" })
    assert.truthy(out:find("layer:       1 of 2 (local)", 1, true))
    assert.truthy(out:find("layer:       2 of 2 (global)", 1, true))
    assert.truthy(out:find("allowed:     7 cells", 1, true))
    assert.truthy(out:find("allowed:     10 cells", 1, true))
  end)

  it("--heads all renders every head side by side; --title sets the title", function()
    local one, all = tmp .. "/h1.png", tmp .. "/h2.png"
    local _, _, rc1 = run({ "render", "per_head_windows", one, "--len", "16" })
    local _, _, rc2 = run({ "render", "per_head_windows", all, "--len", "16", "--heads", "all" })
    assert.are.same({ 0, 0 }, { rc1, rc2 })
    assert.are_not.equal(P.read_file(one), P.read_file(all))
    local out = run({ "render", "per_head_windows", all, "--len", "16", "--heads", "all" })
    assert.falsy(out:find("note:", 1, true), out)
    out = run({ "render", "per_head_windows", one, "--len", "16" })
    assert.truthy(out:find("note: head 0 of 5 shown", 1, true), out)
    local titled = tmp .. "/t.png"
    run({ "render", "per_head_windows", titled, "--len", "16", "--title", "Another title" })
    assert.are_not.equal(P.read_file(one), P.read_file(titled))
    run({ "render", "per_head_windows", titled, "--len", "16" })
    assert.are.equal(P.read_file(one), P.read_file(titled))
  end)
end)

describe("maskinfo new and check", function()
  it("new writes a skeleton that check passes; it does not overwrite without --force", function()
    local dir = tmp .. "/new"
    assert(P.sh("mkdir -p " .. q(dir)))
    local out, err, rc = run({ "new", "my_pattern" }, { dir = dir })
    assert.are.equal(0, rc, err)
    assert.are.equal("wrote my_pattern.lua; check it with: maskinfo check my_pattern.lua\n", out)
    assert.are.equal(R.skeleton("my_pattern"), P.read_file(dir .. "/my_pattern.lua"))
    out, err, rc = run({ "check", "my_pattern.lua" }, { dir = dir })
    assert.are.equal(0, rc, err)
    assert.truthy(out:find("all 6 checks passed", 1, true), out)
    local _
    _, err, rc = run({ "new", "my_pattern" }, { dir = dir })
    assert.are.equal(1, rc)
    assert.are.equal("maskinfo: my_pattern.lua exists (--force overwrites it)\n", err)
    _, _, rc = run({ "new", "my_pattern", "--force" }, { dir = dir })
    assert.are.equal(0, rc)
    _, err, rc = run({ "new", "my_pattern", "-o", "other.lua" }, { dir = dir })
    assert.are.equal(2, rc)
    assert.truthy(err:find("must be called my_pattern.lua", 1, true), err)
  end)

  it("check fails with a clear message when an example is wrong", function()
    local wrong = write("two_layers.lua", (TWO_LAYERS:gsub("masked = { { 0, 0, 4, 2 } }", "masked = { { 0, 0, 4, 3 } }")))
    local out, err, rc = run({ "check", wrong })
    write("two_layers.lua", TWO_LAYERS)
    assert.are.equal(1, rc)
    assert.truthy(out:find("FAIL  example 1: layer 1 (local): cell (0, 0, 4, 3) should be masked", 1, true), out)
    assert.are.equal("maskinfo: recipe two_layers: 1 of 7 checks failed\n", err)
  end)

  it("check takes a built-in name", function()
    local out, err, rc = run({ "check", "causal" })
    assert.are.equal(0, rc, err)
    assert.truthy(out:find("dense check, layer 1 (causal)", 1, true), out)
  end)
end)

---------------------------------------------------------------- subcommands

describe("maskinfo list, show, info, render, export, gallery", function()
  it("list prints every built-in recipe with its description", function()
    local out, err, rc = run({ "list" })
    assert.are.same({ 0, "" }, { rc, err })
    local want = {}
    for i, n in ipairs(R.list()) do want[i] = ("%-20s %s"):format(n, assert(R.load(n)).description) end
    assert.are.same(want, lines_of(out))
  end)

  it("show prints the seed's text view", function()
    local out, err, rc = run({ "show", "causal", "--len", "8", "--ascii" })
    assert.are.equal(0, rc, err)
    assert.are.equal(build("causal", { len = 8 })[1].mask:visualize{ block_size = 1, charset = "ascii" }, out)
  end)

  it("info agrees with the library for every built-in recipe at its small size", function()
    for _, n in ipairs(R.list()) do
      local r = assert(R.load(n))
      local args = { "info", n }
      for k, v in pairs(r.small or {}) do
        args[#args + 1] = "--set"
        args[#args + 1] = k .. "=" .. tostring(v)
      end
      local out, err, rc = run(args)
      assert.are.equal(0, rc, n .. ": " .. err)
      for _, l in ipairs(build(n, r.small)) do
        assert.truthy(out:find(("allowed:     %d cells"):format(l.mask:count()), 1, true), n .. "\n" .. out)
      end
    end
  end)

  it("export writes the dense mask of a layer", function()
    local npy = tmp .. "/m.npy"
    local out, err, rc = run({ "export", two_layers, npy, "--len", "8", "--layers", "2" })
    assert.are.equal(0, rc, err)
    assert.are.equal("wrote " .. npy .. " (batch=1 q_len=8 kv_len=8)\n", out)
    local s = P.read_file(npy)
    local hlen = string.unpack("<I2", s, 9)
    assert.are.equal(36, select(2, s:sub(11 + hlen):gsub("\1", "")))
  end)

  it("gallery --small renders every built-in", function()
    local dir = tmp .. "/gallery"
    local out, err, rc = run({ "gallery", dir, "--small" })
    assert.are.equal(0, rc, err)
    for _, n in ipairs(R.list()) do
      assert.truthy(out:find("wrote " .. dir .. "/" .. n .. ".png", 1, true), n)
      assert.truthy(png_size(dir .. "/" .. n .. ".png") > 0)
    end
    assert.truthy(png_size(dir .. "/grid.png") > 0)
  end)

  it("completion bash prints a completion script naming the commands", function()
    local out, err, rc = run({ "completion", "bash" })
    assert.are.same({ 0, "" }, { rc, err })
    assert.truthy(out:find("complete -F _maskinfo", 1, true), out)
    assert.truthy(out:find("model", 1, true))
  end)
end)

describe("maskinfo model", function()
  local cfg = "tests/data/hf/gemma-2-9b.json"

  it("prints one row per layer with the library's numbers", function()
    local out, err, rc = run({ "model", cfg, "--len", "300", "--left-pad", "3" })
    assert.are.equal(0, rc, err)
    local lines = lines_of(out)
    assert.are.equal("config:  tests/data/hf/gemma-2-9b.json (42 layers)", lines[1])
    assert.are.equal("tokens:  300, left padding 3", lines[2])
    assert.truthy(lines[3]:find("^layer  kind"), lines[3])
    assert.are.equal(3 + 42 + 1, #lines)
    assert.are.equal("2 distinct layer masks", lines[#lines])
    local am = {}
    for i = 1, 300 do am[i] = i > 3 and 1 or 0 end
    local masks = maskinfo.from_hf_config(cfg, { attention_mask = { am } })
    for i = 0, 1 do
      local m = masks[i + 1]
      local total = m:count()
      local row = lines[4 + i]
      assert.truthy(row:find(("^%d%%s+%s%%s+"):format(i, i == 0 and "sliding" or "full")), row)
      assert.truthy(row:find((" %d  "):format(total), 1, true), row)
      assert.truthy(row:find(("%.4f"):format(m:density()), 1, true), row)
      assert.truthy(row:find(("%.1f%%"):format(100 * total / (300 * 301 / 2)), 1, true), row)
    end
  end)

  it("counts empty blocks and renders the distinct layers as one grid", function()
    local png = tmp .. "/model.png"
    local out, err, rc = run({ "model", "tests/data/hf/gpt-oss-20b.json", "--len", "512", "--render", png })
    assert.are.equal(0, rc, err)
    local lines = lines_of(out)
    -- window 128 over 4 x 4 blocks of 128: 7 blocks touched, 9 empty of 16
    assert.truthy(lines[4]:find("0.5625$"), lines[4])
    -- causal: 10 of 16 blocks touched
    assert.truthy(lines[5]:find("0.3750$"), lines[5])
    local w = png_size(png)
    assert.truthy(out:find(("wrote %s (%dx"):format(png, w), 1, true), out)
  end)

  it("packed documents from --documents", function()
    local out, err, rc = run({ "model", "tests/data/hf/mistral-7b-v0.1.json", "--len", "10", "--documents", "4,6" })
    assert.are.equal(0, rc, err)
    -- causal inside documents of 4 and 6: 10 + 21 cells
    assert.truthy(lines_of(out)[4]:find(" 31  ", 1, true), out)
  end)

  it("a missing config is a usage error, a bad one a runtime failure", function()
    local _, err, rc = run({ "model", "nope.json", "--len", "8" })
    assert.are.equal(2, rc)
    assert.truthy(err:find("cannot read 'nope.json'", 1, true))
    local bad = write("bad.json", "{ no")
    _, err, rc = run({ "model", bad, "--len", "8" })
    assert.are.equal(1, rc)
    assert.truthy(err:find("is not JSON", 1, true), err)
  end)
end)
