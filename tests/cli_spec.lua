-- The maskinfo command (scripts/maskinfo.lua): list, show, info, render, and its errors.
-- Each case runs `lua5.4 scripts/maskinfo.lua ...` through io.popen with LUA_PATH_5_4 and
-- LUA_CPATH_5_4 pointing at this repo's lua/ and build/ (absolute paths), and checks the
-- output against the library itself (recipes built in this process).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")

local ROOT, shell_quote, lines_of = P.ROOT, P.shell_quote, P.lines_of

-- Run the command with args; returns stdout, stderr, exit code.
local function run(args)
  local err_file = os.tmpname()
  local parts = {}
  for i, a in ipairs(args) do parts[i] = shell_quote(a) end
  local cmd = ("cd %s && env -u MASKINFO_DEBUG -u MASKINFO_MAX_BYTES LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 scripts/maskinfo.lua %s 2>%s; echo \"@rc=$?\"")
    :format(shell_quote(ROOT), shell_quote(P.LUA_PATH), shell_quote(P.LUA_CPATH),
      table.concat(parts, " "), shell_quote(err_file))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local f = io.open(err_file, "rb")
  local err = f and f:read("a") or ""
  if f then f:close() end
  os.remove(err_file)
  local rc = tonumber(out:match("@rc=(%d+)%s*$"))
  out = out:gsub("@rc=%d+%s*$", "")
  return out, err, rc
end

-- Width and height from a PNG's IHDR chunk.
local function png_size(path)
  local f = assert(io.open(path, "rb"))
  local head = f:read(24)
  f:close()
  assert.are.equal("\137PNG\r\n\26\n", head:sub(1, 8))
  assert.are.equal("IHDR", head:sub(13, 16))
  return (string.unpack(">I4", head, 17)), (string.unpack(">I4", head, 21))
end

local recipes = require("maskinfo.recipes")

local function build(name, n)
  local r = recipes.get(name)
  return r.build(maskinfo, n or r.default_len or 64), r
end

describe("maskinfo list", function()
  local out, err, rc = run({ "list" })

  it("exits 0 without errors", function()
    assert.are.equal(0, rc)
    assert.are.equal("", err)
  end)

  it("lists every recipe, in order, with its description", function()
    local lines = lines_of(out)
    assert.are.equal(#recipes.names, #lines)
    for i, name in ipairs(recipes.names) do
      local r = recipes.get(name)
      assert.are.equal(("%-20s %s"):format(name, r.description), lines[i])
    end
  end)

  it("lists the recipe files shipped in lua/maskinfo/recipes", function()
    local p = io.popen("ls " .. shell_quote(ROOT .. "/lua/maskinfo/recipes"))
    local files = {}
    for l in p:lines() do
      local n = l:match("^([%w_]+)%.lua$")
      if n and n ~= "init" then files[#files + 1] = n end
    end
    p:close()
    table.sort(files)
    local listed = {}
    for _, l in ipairs(lines_of(out)) do listed[#listed + 1] = l:match("^(%S+)") end
    assert.are.same(files, listed)
  end)

  it("has at least the common patterns", function()
    for _, n in ipairs({ "causal", "sliding_window", "packed_documents", "padded_batch", "chunked", "prefix_lm" }) do
      assert.truthy(out:find("\n" .. n .. " ", 1, true) or out:find("^" .. n .. " "), n)
    end
  end)
end)

describe("maskinfo show", function()
  it("causal --len 8 prints the seed's text view with its header", function()
    local out, err, rc = run({ "show", "causal", "--len", "8" })
    assert.are.equal(0, rc, err)
    local lines = lines_of(out)
    assert.are.equal("Attention mask (batch=0, head=0) block=(1x1) mask_shape=(1, 1, 8, 8)", lines[1])
    assert.are.equal(build("causal", 8):visualize{ block_size = 1, charset = "unicode" }, out)
  end)

  it("causal --len 8 rows fill one more block each", function()
    local out = run({ "show", "causal", "--len", "8" })
    local rows = {}
    for l in out:gmatch("[^\n]+") do
      local body = l:match("||(.*)||")
      if body then rows[#rows + 1] = body end
    end
    assert.are.equal(8, #rows)
    for i, body in ipairs(rows) do
      local _, full = body:gsub("██", "")
      assert.are.equal(i, full, "row " .. (i - 1))
    end
  end)

  it("--ascii uses ## for full blocks", function()
    local out, _, rc = run({ "show", "causal", "--len", "4", "--ascii" })
    assert.are.equal(0, rc)
    assert.truthy(out:find("||########||", 1, true))
    assert.falsy(out:find("██", 1, true) and out:find("||██", 1, true))
  end)

  it("--block 4 downsamples", function()
    local out, _, rc = run({ "show", "causal", "--len", "16", "--block", "4" })
    assert.are.equal(0, rc)
    assert.are.equal("Attention mask (batch=0, head=0) block=(4x4) mask_shape=(1, 1, 16, 16)", lines_of(out)[1])
  end)

  it("packed_documents at the default length matches the library", function()
    local out, _, rc = run({ "show", "packed_documents" })
    assert.are.equal(0, rc)
    assert.are.equal(build("packed_documents"):visualize{ block_size = 1, charset = "unicode" }, out)
  end)
end)

describe("maskinfo info", function()
  it("packed_documents prints the repr, shape, counts, empty rows and baked-in flags", function()
    local out, err, rc = run({ "info", "packed_documents" })
    assert.are.equal(0, rc, err)
    local m, r = build("packed_documents")
    local B, Q, K = m:shape()
    local total, per = m:count()
    local lines = lines_of(out)
    assert.are.equal(tostring(m), lines[1])
    assert.are.equal("recipe:      " .. r.description, lines[2])
    assert.are.equal(("shape:       batch=%d q_len=%d kv_len=%d heads=%d"):format(B, Q, K, per:shape()[2]), lines[3])
    assert.are.equal(("allowed:     %d cells (density %.4f)"):format(total, m:density()), lines[4])
    assert.are.equal("empty rows:  0", lines[5])
    assert.are.equal("baked in:    causal", lines[6])
  end)

  it("causal --len 16 counts 136 cells", function()
    local out, _, rc = run({ "info", "causal", "--len", "16" })
    assert.are.equal(0, rc)
    assert.truthy(out:find("shape:       batch=1 q_len=16 kv_len=16 heads=1", 1, true))
    assert.truthy(out:find("allowed:     136 cells (density 0.5312)", 1, true))
  end)

  it("every recipe's counts agree with the library at --len 32", function()
    for _, name in ipairs(recipes.names) do
      local out, err, rc = run({ "info", name, "--len", "32" })
      assert.are.equal(0, rc, name .. ": " .. err)
      local m = build(name, 32)
      local total = m:count()
      local nempty = m:empty_rows()
      assert.truthy(out:find(("allowed:     %d cells"):format(total), 1, true), name .. "\n" .. out)
      assert.truthy(out:find(("empty rows:  %d"):format(nempty), 1, true), name .. "\n" .. out)
    end
  end)
end)

describe("maskinfo render", function()
  it("causal writes a PNG whose IHDR size is the one printed", function()
    local path = os.tmpname() .. ".png"
    local out, err, rc = run({ "render", "causal", path })
    assert.are.equal(0, rc, err)
    local w, h = out:match("^wrote " .. path:gsub("%p", "%%%0") .. " %((%d+)x(%d+)%)\n$")
    assert.truthy(w, out)
    local pw, ph = png_size(path)
    assert.are.same({ tonumber(w), tonumber(h) }, { pw, ph })
    os.remove(path)
    os.remove(path:sub(1, -5))
  end)

  it("--len and --scale change the picture", function()
    local path = os.tmpname() .. ".png"
    local out1 = run({ "render", "causal", path, "--len", "16", "--scale", "4" })
    local w1, h1 = png_size(path)
    local out2 = run({ "render", "causal", path, "--len", "16", "--scale", "8" })
    local w2, h2 = png_size(path)
    assert.truthy(out1:find(("(%dx%d)"):format(w1, h1), 1, true))
    assert.truthy(out2:find(("(%dx%d)"):format(w2, h2), 1, true))
    assert.is_true(w2 >= w1 and h2 > h1)
    os.remove(path)
    os.remove(path:sub(1, -5))
  end)

  it("an unwritable path exits non-zero naming the path", function()
    local out, err, rc = run({ "render", "causal", "/nonexistent-dir/x.png" })
    assert.are_not.equal(0, rc)
    assert.are.equal("", out)
    assert.truthy(err:find("maskinfo:", 1, true))
    assert.truthy(err:find("/nonexistent-dir/x.png", 1, true))
  end)

  it("without an output path prints the usage", function()
    local _, err, rc = run({ "render", "causal" })
    assert.are_not.equal(0, rc)
    assert.are.equal("maskinfo: usage: maskinfo render NAME OUT.png [options]\n", err)
  end)
end)

describe("maskinfo errors", function()
  it("an unknown recipe exits non-zero with a clear message on stderr", function()
    local out, err, rc = run({ "show", "nosuch" })
    assert.are_not.equal(0, rc)
    assert.are.equal("", out)
    assert.truthy(err:find("maskinfo: no recipe 'nosuch'", 1, true), err)
    assert.falsy(err:find("stack traceback", 1, true))
  end)

  it("an unknown recipe for info and render likewise", function()
    for _, cmd in ipairs({ { "info", "nosuch" }, { "render", "nosuch", "/tmp/never-written.png" } }) do
      local _, err, rc = run(cmd)
      assert.are_not.equal(0, rc)
      assert.truthy(err:find("no recipe 'nosuch'", 1, true), err)
    end
  end)

  it("an unknown command lists the commands", function()
    local _, err, rc = run({ "frob" })
    assert.are_not.equal(0, rc)
    assert.are.equal("maskinfo: unknown command 'frob' (expected list, show, info, render, export, gallery or demo)\n", err)
  end)

  it("a missing recipe name", function()
    local _, err, rc = run({ "show" })
    assert.are_not.equal(0, rc)
    assert.truthy(err:find("maskinfo: recipe name expected", 1, true), err)
  end)

  it("--len must be a positive integer", function()
    for _, v in ipairs({ "0", "-3", "2.5", "many" }) do
      local _, err, rc = run({ "show", "causal", "--len", v })
      assert.are_not.equal(0, rc, v)
      assert.are.equal("maskinfo: --len must be a positive integer\n", err, v)
    end
  end)

  it("an option without its value", function()
    local _, err, rc = run({ "show", "causal", "--len" })
    assert.are_not.equal(0, rc)
    assert.are.equal("maskinfo: --len needs a value\n", err)
  end)
end)

describe("maskinfo export", function()
  it("writes a recipe's dense mask as .npy and its forms as safetensors", function()
    local npy = os.tmpname() .. ".npy"
    local out, _, rc = run({ "export", "sliding_window", npy, "--len", "32" })
    assert.are.equal(0, rc)
    assert.is_truthy(out:find("wrote " .. npy, 1, true))
    local s = P.read_file(npy)
    assert.are.equal("\147NUMPY", s:sub(1, 6))
    local hlen = string.unpack("<I2", s, 9)
    assert.is_truthy(s:sub(11, 10 + hlen):find("'shape': (1, 1, 32, 32)", 1, true))
    -- the cells written are the recipe's mask
    local m = maskinfo.recipes.get("sliding_window").build(maskinfo, 32)
    local ones = select(2, s:sub(11 + hlen):gsub("\1", ""))
    assert.are.equal(m:count(), ones)
    os.remove(npy)
    local st = os.tmpname() .. ".safetensors"
    _, _, rc = run({ "export", "chunked", st, "--dtype", "float16" })
    assert.are.equal(0, rc)
    local t = P.read_file(st)
    local n = string.unpack("<I8", t)
    assert.is_truthy(t:sub(9, 8 + n):find('"attention_mask":{"dtype":"F16"', 1, true))
    os.remove(st)
  end)

  it("refuses other file types", function()
    local _, err, rc = run({ "export", "causal", "/tmp/x.txt" })
    assert.are.equal(2, rc)
    assert.is_truthy(err:find("must end in .npy or .safetensors", 1, true))
  end)
end)
