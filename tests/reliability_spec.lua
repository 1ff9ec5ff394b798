-- What maskinfo promises about hostile or huge input (docs/reliability.md):
-- expressions of any depth and with shared parts, one memory budget per
-- call (rows count too), MASKINFO_MAX_BYTES' spelling, Arrays that cannot
-- be closed out from under a MaskInfo, exact int64 Arrays, refused
-- narrowing, Lua's view of hostile tables, long file names, and no way to
-- the unchecked binding from the public module.
local mi = require("maskinfo")
local core = require("maskinfo.core")
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local P = dofile(here .. "helpers/proc.lua")

local function ids(n, f)
  local t = {}
  for i = 1, n do t[i] = f and f(i) or 0 end
  return t
end

-- Wall-clock seconds of fn().
local function timed(fn)
  local t0 = core.now()
  fn()
  return core.now() - t0
end

describe("expressions", function()
  it("a chain of 30,000 distinct pieces builds, counts and drops with a 1 MiB C stack", function()
    local code = [[
      local mi = require("maskinfo")
      local c = mi.from_segments({{0, 0, 0, 1, 1, 1, 1, 2}}):apply_causal()
      local m = c
      for i = 1, 30000 do m = m | c:apply_sliding_window({i % 4, 0}) end
      local n = m:count()
      local want = (c | c:apply_sliding_window({3, 0})):count()
      m = nil
      collectgarbage()
      collectgarbage()
      print(n == want and "same" or ("differs " .. n .. " " .. want))
    ]]
    local ok, out = P.sh(("cd %s && ulimit -s 1024 && env -u MASKINFO_MAX_BYTES LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 -e %s")
      :format(P.shell_quote(P.ROOT), P.shell_quote(P.LUA_PATH), P.shell_quote(P.LUA_CPATH), P.shell_quote(code)))
    assert.is_true(ok, out)
    assert.are.equal("same\n", out)
  end)

  it("m = m | m, 64 times, counts in under 10 ms", function()
    local m = mi.from_segments({ ids(512, function(i) return i // 100 end) }):apply_causal()
    local want = m:count()
    for _ = 1, 64 do m = m | m end
    local n
    local t = timed(function() n = m:count() end)
    assert.are.equal(want, n)
    assert.is_true(t < 0.010, ("took %.4f s"):format(t))
  end)

  it("m = m | m:apply_sliding_window{i, 0} evaluates each part once per row", function()
    local base = mi.from_segments({ ids(256, function(i) return i // 40 end) }):apply_causal()
    local m = base
    for i = 1, 40 do m = m | m:apply_sliding_window({ i, 0 }) end
    local n
    local t = timed(function() n = m:count() end)
    assert.are.equal(base:count(), n) -- every step is a subset of m
    assert.is_true(t < 1, ("took %.3f s"):format(t))
    local dense = m:attention_mask():flat()
    local ones = 0
    for _, v in ipairs(dense) do if v then ones = ones + 1 end end
    assert.are.equal(n, ones)
  end)
end)

describe("MASKINFO_MAX_BYTES", function()
  local function limit_with(v)
    return P.run_lua([[print(require("maskinfo").get_memory_limit())]], "MASKINFO_MAX_BYTES=" .. P.shell_quote(v))
  end

  it("takes bytes with K, M, G, T or KiB .. TiB (powers of 1024)", function()
    assert.are.equal("4096\n", limit_with("4096"))
    assert.are.equal("67108864\n", limit_with("64M"))
    assert.are.equal("67108864\n", limit_with("64MiB"))
    assert.are.equal(tostring(2 << 40) .. "\n", limit_with("2TiB"))
  end)

  it("refuses anything else at load, with the value and the rule", function()
    for _, v in ipairs({ "-1", "1e9", "10GB", "1.5G", "64 M", "99999999999999999999" }) do
      local out = limit_with(v)
      assert.truthy(out:find("MASKINFO_MAX_BYTES='" .. v .. "' is not a byte count", 1, true), out)
    end
  end)

  it("set_memory_limit shares the parser, and 0 restores the value read at load", function()
    local out = P.run_lua([[
      local mi = require("maskinfo")
      mi.set_memory_limit("1K")
      io.write(mi.get_memory_limit(), " ")
      mi.set_memory_limit(0)
      io.write(mi.get_memory_limit(), " ")
      print(select(2, pcall(mi.set_memory_limit, "1e9")))
    ]], "MASKINFO_MAX_BYTES=3M")
    assert.are.equal("1024 3145728 bad argument #1 to 'set_memory_limit' (byte count expected: digits with an optional "
      .. "K, M, G, T, KiB, MiB, GiB or TiB, got '1e9')\n", out)
  end)
end)

describe("one budget per call, at a 64 MiB limit", function()
  before_each(function() mi.set_memory_limit("64M") end)
  after_each(function() mi.set_memory_limit(0) end)

  -- fn must fail within `within` seconds (default 1) with a guard message.
  -- under the sanitizers (make sanitize) everything runs several times slower
  local SLOW = os.getenv("ASAN_OPTIONS") and 10 or 1
  local function refused_within(within, fn, ...)
    within = within * SLOW
    local ok, err
    local args = table.pack(...)
    local t = timed(function() ok, err = pcall(fn, table.unpack(args, 1, args.n)) end)
    assert.is_false(ok, "not refused")
    assert.truthy(tostring(err):find("memory", 1, true), tostring(err))
    assert.is_true(t < within, ("refused after %.2f s"):format(t))
    return tostring(err)
  end
  local function refused(...) return refused_within(1, ...) end

  it("counts rows as well as cells: zero-size shapes with huge leading extents", function()
    refused(mi.Array.new, "int32", { 1 << 40, 0 })
    refused(mi.Array.new, "bool", { 1 << 40, 1, 0, 0 })
    refused(mi.from_random, 1 << 40, 0, 0)
    local a = mi.Array.new("int32", { 0 })
    refused(a.reshape, a, { 1 << 40, 0 })
  end)

  it("charges Lua tables their real cost", function()
    local m = mi.from_segments({ { 0, 0, 1, 1 } })
    local msg = refused(m.get_or_compute_qkv_cu_seqlens, m, { max_segments = 8 << 20 })
    assert.truthy(msg:find("limit 64.0 MiB", 1, true), msg)
    refused(mi.dynamic_init, { batch_size = 1, seq_len = 8 << 20 })
  end)

  it("refuses count before its per-row buffers, with the size and the limit", function()
    local c = mi.from_segments({ ids(1 << 17) }):apply_causal()
    local heads = {}
    for h = 1, 128 do heads[h] = { h, 0 } end
    local m = c:apply_sliding_window(heads)
    local msg = refused(m.count, m)
    assert.truthy(msg:find("needs " .. 8 * (128 + 128 * (1 << 17)) .. " bytes, over the memory limit of 67108864 bytes",
      1, true), msg)
  end)

  it("guards visualize before it renders", function()
    local m = mi.from_segments({ ids(4096) }):apply_causal()
    local msg = refused(m.visualize, m, { block_size = 1, fit_in_screen = false })
    assert.truthy(msg:find("^visualize: the text of 4096 x 4096 blocks needs"), msg)
  end)

  it("from_function with a huge batch and no queries is refused, not looped over", function()
    local msg = refused(mi.from_function, { batch_size = 1 << 40, q_len = 0, fn = function() return true end })
    assert.truthy(msg:find("(1099511627776, 1, 0) rows", 1, true), msg)
  end)

  it("block_counts at block 1 on a 64M-wide mask is refused before its edge tables", function()
    mi.set_memory_limit(0)
    local m = mi.full(1, 1 << 26)
    m:count() -- the user's mask exists already: only block_counts is timed
    mi.set_memory_limit("64M")
    local msg = refused(m.block_counts, m, { block_size = 1 })
    assert.truthy(msg:find("^block_counts: block edges of 67108867 elements needs 2.5 GiB"), msg)
  end)
end)

describe("Arrays held by a MaskInfo", function()
  it("can be closed without breaking it: stored, derived and cached ones", function()
    local m = mi.from_segments({ { 0, 0, 1, 1, -1 } }):apply_causal()
    local d = mi.from_attention_mask({ { 1, 1, 1, 0 } })
    do
      local q <close> = m:q_segment_ids()
      local kv <close> = m:kv_segment_ids()
      local dq <close> = d:q_segment_ids() -- derived from the mask, then cached
      local dq2 <close> = d:q_segment_ids()
      local pos <close> = m:get_or_compute_positions()
      assert.truthy(q and kv and dq and dq2 and pos)
    end
    assert.are.equal(6, (m:count()))
    assert.are.equal(9, (d:count()))
    assert.truthy(tostring(m):find("MaskInfo", 1, true))
    assert.are.same({ { 0, 0, 0, -1 } }, d:q_segment_ids():totable())
    local path = os.tmpname()
    assert.is_true(m:save_safetensors(path))
    os.remove(path)
  end)

  it("an Array of the user's stored in a MaskInfo stays usable after the user closes it", function()
    local a = mi.Array.new("int32", { 1, 3 }, { 0, 0, 1 })
    local m = mi.from_segments(a)
    do local _ <close> = a end
    assert.are.equal(5, (m:count()))
  end)

  it("a fresh Array still frees at once when closed", function()
    local a = mi.Array.new("int32", { 2 })
    do local _ <close> = a end
    assert.are.equal("Array(closed)", tostring(a))
  end)
end)

describe("Arrays", function()
  it("keep int64 values exact past 2^53", function()
    local big = (1 << 53) + 1
    local a = mi.Array.new("int64", { 2 }, { big, 1 << 53 })
    assert.are.same({ big, 1 << 53 }, a:totable())
    assert.are.equal(big, a:get(0))
    local lo, hi = a:minmax()
    assert.are.equal(1 << 53, lo)
    assert.are.equal(big, hi)
    assert.are_not.equal(a, mi.Array.new("int64", { 2 }, { 1 << 53, 1 << 53 }))
    assert.are.equal(a, mi.Array.new("int64", { 2 }, { big, 1 << 53 }))
  end)

  it("refuse values an integer dtype cannot hold instead of clamping them", function()
    assert.has_error(function() mi.Array.from({ 300 }, "uint8") end,
      "bad argument #1 to 'astype' (value 300.0 at flat index 0 does not fit uint8)")
    assert.has_error(function() mi.Array.new("float32", { 1 }, { -1 }):astype("uint8") end)
    assert.are.same({ 255 }, mi.Array.from({ 255 }, "uint8"):totable())
  end)

  it("read hostile tables as Lua does (__len, __index), in the checks and in C alike", function()
    local proxy = setmetatable({}, { __len = function() return 3 end, __index = function(_, i) return i * 2 end })
    assert.are.same({ 2, 4, 6 }, mi.Array.new("int32", { 3 }, proxy):totable())
    local nested = setmetatable({}, { __len = function() return 2 end,
      __index = function(_, i) return i <= 2 and { i, -i } or nil end })
    assert.are.same({ { 1, -1 }, { 2, -2 } }, mi.Array.from(nested):totable())
  end)

  it("a shape table whose __index never ends is refused, not looped over", function()
    local endless = setmetatable({}, { __index = function() return 1 end, __len = function() return 1e9 end })
    assert.has_error(function() mi.Array.new("int32", endless) end,
      "bad argument #2 to 'Array.new' (at most 8 dimensions)")
  end)

  it("error messages show a table's type, never its address", function()
    local m = mi.from_segments({ { 0, 0 } })
    local ok, err = pcall(m.apply_chunked, m, 2, { [{}] = true })
    assert.is_false(ok)
    assert.is_nil(err:find("0x", 1, true), err)
    assert.truthy(err:find("unknown option 'table'", 1, true), err)
  end)
end)

describe("files", function()
  it("a 240-byte file name is written atomically (the temporary name stays within NAME_MAX)", function()
    local dir = P.mkdtemp()
    local path = dir .. "/" .. ("n"):rep(236) .. ".npy"
    local m = mi.from_segments({ { 0, 0, 1 } })
    assert.is_true(m:save_npy(path))
    assert.is_true(P.exists(path))
    local _, listing = P.sh("ls -A " .. P.shell_quote(dir))
    assert.are.equal(("n"):rep(236) .. ".npy\n", listing)
    P.sh("rm -rf " .. P.shell_quote(dir))
  end)
end)

describe("the public module", function()
  it("does not hand out the unchecked binding", function()
    assert.is_nil(mi.core)
    for k, v in pairs(mi) do assert.are_not.equal(core, v, k) end
  end)

  it("the binding itself refuses sizes that would wrap, before allocating", function()
    assert.has_error(function() core.causal(1 << 61, 0, 0, 0) end)
    local a = core.array("int32", { 4 })
    assert.has_error(function() a:gather({}, 0, { 1 << 62, 4 }) end)
    assert.has_error(function() a:gather({ 0 }, 1 << 62, { 1 << 62 }) end)
  end)
end)
