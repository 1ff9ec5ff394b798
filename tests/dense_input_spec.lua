-- Dense input: Arrays are read in place (no copy before the bit-packed
-- leaf), the complement of from_attention_mask is built inside the core,
-- and the garbage collector feels the bytes an Array holds.
local maskinfo = require("maskinfo")
local core = require("maskinfo.core")
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")

local Array = maskinfo.Array

-- Live members of a weak-valued table.
local function alive(weak)
  local n = 0
  for _ in pairs(weak) do n = n + 1 end
  return n
end

-- A random (B, Q, K) bool Array with repeated rows and columns.
local function random_bool(B, Q, K, seed)
  return maskinfo.from_random(B, Q, K, 0.5, seed):attention_mask():reshape({ B, Q, K })
end

describe("the collector feels Arrays", function()
  local MiB = 1024 * 1024

  it("unreachable Arrays are finalized while more are made, without a collect call", function()
    collectgarbage("collect")
    local weak = setmetatable({}, { __mode = "v" })
    local N = 64
    for i = 1, N do
      weak[i] = Array.new("float32", { MiB // 2 }) -- 2 MiB, dropped at once
    end
    -- without the rule the Lua heap grows by a few KiB and no cycle runs,
    -- so all N would still be alive
    assert.is_true(alive(weak) <= N // 2, ("%d of %d Arrays still alive"):format(alive(weak), N))
  end)

  it("every constructor feels them (astype, reshape, attention_mask)", function()
    collectgarbage("collect")
    local weak = setmetatable({}, { __mode = "v" })
    local base = Array.new("bool", { 1024, 1024 })
    local m = maskinfo.from_random(1, 512, 512, 0.5, 1)
    local N = 60
    for i = 1, N, 3 do
      weak[i] = base:astype("float32")
      weak[i + 1] = base:reshape({ 1, 1, 1024, 1024 })
      weak[i + 2] = m:attention_mask("float32")
    end
    assert.is_true(alive(weak) <= N // 2, ("%d of %d Arrays still alive"):format(alive(weak), N))
  end)

  it("dense-bit masks are felt too (from_random)", function()
    -- in a child of its own: with the small heap of a fresh process, 64
    -- masks of 512 KiB of bits (nothing else of size) decide it alone
    local out = P.run_lua([[
      local maskinfo = require("maskinfo")
      collectgarbage("collect")
      local weak = setmetatable({}, { __mode = "v" })
      for i = 1, 64 do weak[i] = maskinfo.from_random(1, 2048, 2048, 0.5, i) end
      local n = 0
      for _ in pairs(weak) do n = n + 1 end
      print("alive " .. n)
    ]])
    local n = tonumber(out:match("alive (%d+)"))
    assert.is_truthy(n, out)
    assert.is_true(n <= 32, ("%d of 64 masks still alive"):format(n))
  end)

  it("a stopped collector stays stopped", function()
    collectgarbage("collect")
    collectgarbage("stop")
    local weak = setmetatable({}, { __mode = "v" })
    for i = 1, 16 do weak[i] = Array.new("float32", { MiB // 4 }) end
    local n = alive(weak)
    collectgarbage("restart")
    assert.are.equal(16, n)
    collectgarbage("collect")
    assert.are.equal(0, alive(weak))
  end)
end)

describe("dense Array input is read in place", function()
  it("core.from_nested returns a bool (float32) Array of the bool (float) kind itself", function()
    local b = Array.new("bool", { 2, 3 }, { 1, 0, 1, 0, 1, 1 })
    local f = Array.new("float32", { 2 }, { 0.5, 2 })
    assert.is_true(rawequal(b, core.from_nested(b, "bool")))
    assert.is_true(rawequal(f, core.from_nested(f, "float")))
    -- other dtypes are converted, and ids are still copied
    local i = Array.new("int32", { 2 }, { 1, 0 })
    assert.is_false(rawequal(i, core.from_nested(i, "int")))
    assert.are.equal("bool", core.from_nested(f, "bool"):dtype())
    -- "cells" keeps any dtype (non-zero is allowed) once checked for NaN
    assert.is_true(rawequal(i, core.from_nested(i, "cells")))
    assert.is_true(rawequal(f, core.from_nested(f, "cells")))
    assert.are.equal("bool", core.from_nested({ { 1, 0 } }, "cells"):dtype())
    local nan = Array.new("float32", { 1, 2 }, { 1, 0 / 0 })
    assert.has_error(function() maskinfo.mask_to_segment_ids(nan) end,
      "bad argument #1 to 'mask_to_segment_ids' (mask: NaN value in float32 array)")
  end)

  it("core.dense reads 2-D, 3-D and 4-D Arrays, plain or inverted", function()
    local a = random_bool(2, 37, 70, 5)
    local want = core.dense(a:reshape({ 2, 1, 37, 70 }))
    local inv = core.dense(core.where(a, "nonzero", 0, 0, 1, "bool"):reshape({ 2, 1, 37, 70 }))
    assert.are.equal(0, core.dense(a):diff(want))
    assert.are.equal(0, core.dense(a, true):diff(inv))
    local a2 = a:reshape({ 74, 70 })
    assert.are.same({ 1, 1, 74, 70 }, { core.dense(a2):shape() })
    assert.has_error(function() core.dense(Array.new("bool", { 5 })) end)
  end)

  it("mask_to_segment_ids of an Array equals that of its nested table, for every rank and dtype", function()
    local a = random_bool(2, 70, 66, 9)
    local nested = a:totable()
    for _, dt in ipairs({ "bool", "float32", "int32", "float16", "bfloat16" }) do
      local x = a:astype(dt)
      local q1, k1 = maskinfo.mask_to_segment_ids(x)
      local q2, k2 = maskinfo.mask_to_segment_ids(nested)
      assert.is_true(q1 == q2 and k1 == k2, dt)
      local q3 = maskinfo.mask_to_segment_ids(x:reshape({ 2, 1, 70, 66 }), true)
      assert.is_true(q3:reshape({ 2, 70 }) == q1, dt .. " 4-D per head")
      local q4, k4 = maskinfo.mask_to_segment_ids(x:reshape({ 140, 66 }))
      assert.are.same({ 140 }, q4:shape())
      assert.are.same({ 66 }, k4:shape())
    end
  end)

  it("from_attention_mask{mask_is_valid = false} is the complement's from_attention_mask", function()
    local a = random_bool(2, 33, 40, 3)
    local comp = core.where(a, "nonzero", 0, 0, 1, "bool")
    local x = maskinfo.from_attention_mask(a:reshape({ 2, 1, 33, 40 }), { mask_is_valid = false })
    local y = maskinfo.from_attention_mask(comp:reshape({ 2, 1, 33, 40 }))
    assert.is_true(x:attention_mask() == y:attention_mask())
    assert.is_true(x:q_segment_ids() == y:q_segment_ids())
  end)
end)

describe("segment_ids_to_qkv_masks validity in C", function()
  it("is 1 for segment tokens and 0 for padding, in every dtype", function()
    local ids = { { 0, 0, 1, -1, 2 }, { -1, -1, 3, 3, 3 } }
    for _, dt in ipairs({ "bool", "int32", "float32", "float16", "bfloat16" }) do
      local q, kv = maskinfo.segment_ids_to_qkv_masks(ids, dt)
      local one, zero = 1, 0
      if dt == "bool" then one, zero = true, false end
      local want = {}
      for b = 1, 2 do
        want[b] = {}
        for j = 1, 5 do want[b][j] = ids[b][j] > -1 and one or zero end
      end
      assert.are.equal(dt, q:dtype())
      assert.are.same(want, q:totable())
      assert.are.same(want, kv:totable())
    end
  end)
end)

describe("padding spans in C", function()
  -- random (B, L) padding masks with runs, holes, empty and full rows
  local function random_valid(B, L, seed)
    local rows, s = {}, seed
    for b = 1, B do
      rows[b] = {}
      for j = 1, L do
        s = (s * 1103515245 + 12345) % 2147483648
        rows[b][j] = (b % 3 ~= 0) and (s >> 16) % 3 ~= 0
      end
    end
    return rows
  end

  it("qkv_masks_to_cu_seqlens gives each row's first and one-past-last valid token", function()
    for _, L in ipairs({ 1, 5, 64, 77 }) do
      local rows = random_valid(4, L, L)
      local cu = maskinfo.qkv_masks_to_cu_seqlens(rows)
      local want = {}
      for b, r in ipairs(rows) do
        local first, last
        for j, v in ipairs(r) do
          if v then first = first or j - 1; last = j end
        end
        want[2 * b - 1], want[2 * b] = first or 0, last or 0
      end
      assert.are.same(want, cu:totable())
    end
  end)

  it("cu_seqlens_to_mask marks [start, end) in every dtype", function()
    local cu = { 0, 3, 2, 2, 1, 5, 4, 6 }
    for _, dt in ipairs({ "bool", "int32", "float32", "float16", "bfloat16" }) do
      local m = maskinfo.cu_seqlens_to_mask(cu, 6, dt)
      local one, zero = 1, 0
      if dt == "bool" then one, zero = true, false end
      local want = {}
      for b = 1, 4 do
        want[b] = {}
        for j = 0, 5 do want[b][j + 1] = (j >= cu[2 * b - 1] and j < cu[2 * b]) and one or zero end
      end
      assert.are.equal(dt, m:dtype())
      assert.are.same(want, m:totable())
    end
  end)
end)
