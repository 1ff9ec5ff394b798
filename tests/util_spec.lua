-- maskinfo.util: fill, segments_from_lengths and documents (id tables for recipes).
local maskinfo = require("maskinfo")
local U = maskinfo.util

local function count(t, v)
  local n = 0
  for _, x in ipairs(t) do if x == v then n = n + 1 end end
  return n
end

describe("util.fill", function()
  it("gives n copies of a value", function()
    assert.are.same({ 7, 7, 7 }, U.fill(3, 7))
    assert.are.same({ false, false }, U.fill(2, false))
    assert.are.same({ -1 }, U.fill(1, -1))
  end)

  it("n = 0 gives an empty sequence", function()
    assert.are.same({}, U.fill(0, 1))
  end)

  it("gives a fresh table each call", function()
    local a = U.fill(2, 0)
    a[1] = 9
    assert.are.same({ 0, 0 }, U.fill(2, 0))
  end)

  it("is usable as a row of ids", function()
    local m = maskinfo.from_segments({ U.fill(4, 0) })
    assert.are.equal(16, (m:count()))
  end)
end)

describe("util.segments_from_lengths", function()
  it("packs documents in order with ids 0, 1, ...", function()
    assert.are.same({ 0, 0, 1, 1, 1 }, U.segments_from_lengths({ 2, 3 }))
  end)

  it("pads the rest of n with -1", function()
    assert.are.same({ 0, 0, 1, 1, 1, -1, -1 }, U.segments_from_lengths({ 2, 3 }, 7))
  end)

  it("n equal to the total adds no padding", function()
    assert.are.same({ 0, 1, 1 }, U.segments_from_lengths({ 1, 2 }, 3))
  end)

  it("no documents: all padding", function()
    assert.are.same({ -1, -1, -1 }, U.segments_from_lengths({}, 3))
    assert.are.same({}, U.segments_from_lengths({}))
  end)

  it("an empty document keeps its id slot", function()
    assert.are.same({ 1, 1, -1 }, U.segments_from_lengths({ 0, 2 }, 3))
  end)

  it("feeds from_segments: per-document lengths come back from q_lens", function()
    local m = maskinfo.from_segments({ U.segments_from_lengths({ 3, 1, 4 }, 10) })
    assert.are.same({ 3, 1, 4 }, m:q_lens():totable())
    assert.is_true(m:is_multi_sequence())
    assert.are.equal(9 + 1 + 16, (m:count()))
  end)

  it("lengths that add up to more than n are an error, not a longer table", function()
    assert.has_error(function() U.segments_from_lengths({ 2, 3 }, 3) end)
  end)

  it("a negative length is an error", function()
    assert.has_error(function() U.segments_from_lengths({ -1, 2 }) end)
  end)
end)

describe("util.documents", function()
  it("splits n by fractions", function()
    assert.are.same({ 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 }, U.documents(10, { 0.5, 0.5 }))
  end)

  it("fractions summing to less than 1 leave padding at the end", function()
    assert.are.same({ 0, 0, 0, 1, 1, 1, -1, -1, -1, -1 }, U.documents(10, { 0.3, 0.3 }))
  end)

  it("no fractions: all padding", function()
    assert.are.same({ -1, -1, -1, -1 }, U.documents(4, {}))
  end)

  it("always returns n ids", function()
    for _, n in ipairs({ 1, 7, 10, 64, 1000 }) do
      assert.are.equal(n, #U.documents(n, { 0.4, 0.25, 0.2, 0.15 }))
    end
  end)

  it("ids are non-decreasing and padding comes last", function()
    local t = U.documents(64, { 0.4, 0.25, 0.2, 0.1 })
    local prev, seen_pad = 0, false
    for _, v in ipairs(t) do
      if v == -1 then
        seen_pad = true
      else
        assert.is_false(seen_pad)
        assert.is_true(v >= prev)
        prev = v
      end
    end
  end)

  it("lengths follow the fractions (within rounding)", function()
    local t = U.documents(100, { 0.4, 0.25, 0.2, 0.15 })
    assert.are.same({ 40, 25, 20, 15 }, { count(t, 0), count(t, 1), count(t, 2), count(t, 3) })
  end)

  it("fractions summing to 1 leave no padding even when they do not divide n", function()
    local t = U.documents(7, { 1 / 3, 1 / 3, 1 / 3 })
    assert.are.equal(7, #t)
    assert.are.equal(0, count(t, -1))
    for d = 0, 2 do
      local len = count(t, d)
      assert.is_true(len >= 2 and len <= 3, "document " .. d .. " has " .. len .. " tokens")
    end
  end)

  it("fractions summing to more than 1 are an error", function()
    assert.has_error(function() U.documents(10, { 0.6, 0.6 }) end)
  end)

  it("a negative fraction is an error", function()
    assert.has_error(function() U.documents(10, { -0.5, 0.5 }) end)
  end)
end)

describe("util.fill validates its count", function()
  it("refuses a fractional, negative, NaN or non-number count", function()
    for _, n in ipairs({ 2.5, -1, 0 / 0, math.huge, "3", true }) do
      local ok, err = pcall(U.fill, n, 0)
      assert.is_false(ok, tostring(n))
      assert.truthy(err:find("bad argument #1 to 'fill' (count must be a non-negative integer, got ", 1, true), err)
    end
  end)

  it("takes an integral float as its integer", function()
    local t = U.fill(3.0, 1)
    assert.are.same({ 1, 1, 1 }, t)
    assert.are.equal("integer", math.type(#t))
  end)

  it("refuses a count over the memory guard before building anything", function()
    local ok, err = pcall(U.fill, 99999999999, 0)
    assert.is_false(ok)
    assert.are.equal("fill: a table of 99999999999 elements needs 4.4 TiB: "
      .. "over the memory guard (limit 12.0 GiB, see maskinfo.set_memory_limit)", err)
  end)

  it("follows the memory limit", function()
    local prev = maskinfo.set_memory_limit(1024)
    -- each element: a table slot built (maskinfo.guard's 32 bytes) and its 16-byte value
    local ok1 = pcall(U.fill, 21, 0)        -- 21 x 48 bytes: under 1024
    local ok2, err = pcall(U.fill, 22, 0)
    maskinfo.set_memory_limit(prev)
    assert.is_true(ok1)
    assert.is_false(ok2)
    assert.truthy(err:find("^fill: a table of 22 elements"), err)
  end)
end)
