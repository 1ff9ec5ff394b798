-- maskinfo Arrays: shape, dtype, totable (booleans for bool), flat, get (0-based), size,
-- reshape, minmax, astype, #, == and tostring for each dtype; float16 and bfloat16 values
-- round-trip for representable numbers and round to nearest-even otherwise.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local A = maskinfo.Array.new
local T, F = true, false
local DTYPES = { "bool", "int32", "float32", "float16", "bfloat16" }

local errmsg = E.errmsg

describe("Array basics for each dtype", function()
  for _, dt in ipairs(DTYPES) do
    describe(dt, function()
      local a = A(dt, { 2, 3 }, { 1, 0, 1, 0, 1, 1 })
      local one, zero = 1, 0
      if dt == "bool" then one, zero = true, false end

      it("shape() is a sequence and dtype() the name", function()
        assert.are.same({ 2, 3 }, a:shape())
        assert.are.equal(dt, a:dtype())
      end)

      it("totable() gives nested sequences" .. (dt == "bool" and " of booleans" or " of numbers"), function()
        assert.are.same({ { one, zero, one }, { zero, one, one } }, a:totable())
      end)

      it("flat() is the row-major sequence", function()
        assert.are.same({ one, zero, one, zero, one, one }, a:flat())
      end)

      it("get(i) takes a 0-based flat index", function()
        assert.are.equal(one, a:get(0))
        assert.are.equal(zero, a:get(1))
        assert.are.equal(one, a:get(5))
      end)

      it("get() out of range is an error", function()
        assert.has_error(function() a:get(6) end, "bad argument #1 to 'get' (flat index in [0, 6) expected)")
        assert.has_error(function() a:get(-1) end, "bad argument #1 to 'get' (flat index in [0, 6) expected)")
      end)

      it("size() and # (first dimension)", function()
        assert.are.equal(6, a:size())
        assert.are.equal(2, #a)
      end)

      it("reshape() gives a new Array with the same values", function()
        local r = a:reshape({ 3, 2 })
        assert.are.same({ 3, 2 }, r:shape())
        assert.are.same(a:flat(), r:flat())
        assert.are.same({ 2, 3 }, a:shape())
        assert.are.equal(dt, r:dtype())
      end)

      it("minmax()", function()
        local lo, hi = a:minmax()
        assert.are.equal(0, lo)
        assert.are.equal(1, hi)
      end)

      it("== compares shape, dtype and values", function()
        assert.is_true(a == A(dt, { 2, 3 }, { 1, 0, 1, 0, 1, 1 }))
        assert.is_false(a == A(dt, { 3, 2 }, { 1, 0, 1, 0, 1, 1 }))
        assert.is_false(a == A(dt, { 2, 3 }, { 1, 0, 1, 0, 1, 0 }))
        assert.is_false(a == A(dt == "int32" and "float32" or "int32", { 2, 3 }, { 1, 0, 1, 0, 1, 1 }))
      end)

      it("astype() to every dtype and back keeps 0/1 values", function()
        for _, dt2 in ipairs(DTYPES) do
          local b = a:astype(dt2)
          assert.are.equal(dt2, b:dtype())
          assert.are.same({ 2, 3 }, b:shape())
          assert.is_true(b:astype(dt) == a, dt .. " -> " .. dt2 .. " -> " .. dt)
        end
      end)

      it("tostring() is a short summary with the values", function()
        local s = tostring(A(dt, { 2 }, { 1, 0 }))
        local v = ({ bool = "true, false", int32 = "1, 0" })[dt] or "1.0, 0.0"
        assert.are.equal(("Array(shape=(2,), dtype=%s, values=[%s])"):format(dt, v), s)
      end)

      it("tostring() leaves the values out of big arrays", function()
        assert.are.equal(("Array(shape=(1, 1, 5, 5), dtype=%s)"):format(dt), tostring(A(dt, { 1, 1, 5, 5 })))
      end)
    end)
  end
end)

describe("Array values by dtype", function()
  it("bool totable/flat/get give Lua booleans", function()
    local a = A("bool", { 3 }, { true, false, 1 })
    assert.are.same({ T, F, T }, a:totable())
    assert.are.equal("boolean", type(a:get(0)))
  end)

  it("bool treats any non-zero number as true", function()
    assert.are.same({ T, T, F }, A("bool", { 3 }, { 2, -1, 0 }):totable())
  end)

  it("int32 values are Lua integers, including the extremes", function()
    local a = A("int32", { 3 }, { -2147483648, 2147483647, 0 })
    assert.are.same({ -2147483648, 2147483647, 0 }, a:totable())
    assert.are.equal("integer", math.type(a:get(1)))
  end)

  it("float32 values are Lua floats rounded to float32", function()
    local a = A("float32", { 3 }, { 1.5, 0.1, 16777217 })
    assert.are.equal("float", math.type(a:get(0)))
    assert.are.same({ 1.5, 0.10000000149011612, 16777216.0 }, a:totable())
  end)

  it("float16 round-trips representable numbers", function()
    local vals = { 1.5, -2.25, 65504, -65504, 2 ^ -14, 2 ^ -24, 0.5, 1025, 0.0999755859375 }
    assert.are.same(vals, A("float16", { #vals }, vals):totable())
  end)

  it("float16 rounds to nearest even and overflows to inf", function()
    local a = A("float16", { 6 }, { 0.1, 2049, 1 + 2 ^ -11, 1 + 3 * 2 ^ -11, 65519, 65520 })
    assert.are.same({ 0.0999755859375, 2048, 1, 1 + 2 ^ -9, 65504, math.huge }, a:totable())
  end)

  it("float16 subnormals: 2^-25 rounds to 0, 3*2^-25 to 2^-23", function()
    assert.are.same({ 0, 2 ^ -23 }, A("float16", { 2 }, { 2 ^ -25, 3 * 2 ^ -25 }):totable())
  end)

  it("bfloat16 round-trips representable numbers", function()
    local vals = { 1.5, -2.25, 3.3895313892515355e38, -3.3895313892515355e38, 2 ^ -126, 2 ^ -133, 256, 1 + 2 ^ -7 }
    assert.are.same(vals, A("bfloat16", { #vals }, vals):totable())
  end)

  it("bfloat16 rounds to nearest even", function()
    assert.are.same({ 0.10009765625, 256, 1, 1 + 2 ^ -6 },
      A("bfloat16", { 4 }, { 0.1, 257, 1 + 2 ^ -8, 1 + 3 * 2 ^ -8 }):totable())
  end)

  it("negative zero survives float16", function()
    assert.are.equal(-math.huge, 1 / A("float16", { 1 }, { -0.0 }):get(0))
  end)

  it("float32 minmax returns floats", function()
    local lo, hi = A("float32", { 3 }, { 2.5, -1.25, 0 }):minmax()
    assert.are.same({ -1.25, 2.5 }, { lo, hi })
  end)

  it("int32 minmax", function()
    local lo, hi = A("int32", { 4 }, { 3, -7, 12, 0 }):minmax()
    assert.are.same({ -7, 12 }, { lo, hi })
  end)
end)

describe("Array conversions", function()
  it("int32 -> bool is non-zero", function()
    assert.are.same({ T, F, T }, A("int32", { 3 }, { 5, 0, -1 }):astype("bool"):totable())
  end)

  it("float32 -> int32 truncates toward zero (as numpy astype)", function()
    assert.are.same({ 1, -2, 3 }, A("float32", { 3 }, { 1.7, -2.5, 3 }):astype("int32"):totable())
  end)

  it("float32 -> float16 rounds", function()
    assert.are.same({ 0.0999755859375 }, A("float32", { 1 }, { 0.1 }):astype("float16"):totable())
  end)

  it("int32 -> float16/bfloat16 -> int32 keeps small integers", function()
    local vals = { -256, -3, 0, 7, 255, 256 }
    local a = A("int32", { #vals }, vals)
    assert.is_true(a:astype("float16"):astype("int32") == a)
    assert.is_true(a:astype("bfloat16"):astype("int32") == a)
  end)

  it("astype() leaves the source unchanged", function()
    local a = A("int32", { 2 }, { 1, 2 })
    a:astype("float32")
    assert.are.equal("int32", a:dtype())
  end)

  it("astype() of an unknown dtype is an error", function()
    assert.has_error(function() A("int32", { 2 }, { 1, 2 }):astype("int8") end,
      "bad argument #1 to 'astype' (invalid dtype 'int8' (expected bool, int32, float32, float16, bfloat16, int64 or uint8))")
  end)
end)

describe("Array shapes", function()
  it("reshape() to (1, n), (n, 1) and more dims", function()
    local a = A("int32", { 4 }, { 1, 2, 3, 4 })
    assert.are.same({ { 1, 2, 3, 4 } }, a:reshape({ 1, 4 }):totable())
    assert.are.same({ { 1 }, { 2 }, { 3 }, { 4 } }, a:reshape({ 4, 1 }):totable())
    assert.are.same({ { { 1, 2 } }, { { 3, 4 } } }, a:reshape({ 2, 1, 2 }):totable())
  end)

  it("reshape() to a different size is an error", function()
    local a = A("int32", { 3 }, { 1, 2, 3 })
    assert.has_error(function() a:reshape({ 2, 2 }) end)
    assert.truthy(errmsg(function() a:reshape({ 2, 2 }) end):find("reshape", 1, true))
  end)

  it("reshape() to negative dimensions is an error", function()
    local a = A("int32", { 3 }, { 1, 2, 3 })
    assert.has_error(function() a:reshape({ -1, -3 }) end)
  end)

  it("reshape() to more than 8 dimensions is an error", function()
    local a = A("int32", { 1 }, { 1 })
    assert.has_error(function() a:reshape({ 1, 1, 1, 1, 1, 1, 1, 1, 1 }) end,
      "bad argument #1 to 'reshape' (too many dimensions)")
  end)

  it("reshape() wants a table", function()
    assert.has_error(function() A("int32", { 1 }, { 1 }):reshape("x") end,
      "bad argument #1 to 'reshape' (table expected, got string)")
  end)

  it("empty arrays: size 0, empty tables, minmax gives nothing", function()
    local e = A("int32", { 0 })
    assert.are.equal(0, e:size())
    assert.are.equal(0, #e)
    assert.are.same({}, e:totable())
    assert.are.same({}, e:flat())
    assert.are.equal(0, select("#", e:minmax()))
    assert.are.same({ {}, {} }, A("int32", { 2, 0 }):totable())
  end)

  it("an Array without values is zero-filled", function()
    assert.are.same({ { 0, 0 }, { 0, 0 } }, A("int32", { 2, 2 }):totable())
    assert.are.same({ F, F }, A("bool", { 2 }):totable())
  end)

  it("Array.new checks its arguments", function()
    assert.has_error(function() A("int32", { 2 }, { 1 }) end)
    assert.has_error(function() A("int32", { -2 }) end)
    assert.has_error(function() A("int9", { 2 }) end)
  end)

  it("Array.new refuses non-integers for int32 instead of truncating", function()
    assert.has_error(function() A("int32", { 2 }, { 1.7, -1.7 }) end)
  end)

  it("Array.new refuses values that do not fit int32 instead of saturating", function()
    assert.has_error(function() A("int32", { 2 }, { 3e9, 0 }) end)
    assert.has_error(function() A("int32", { 1 }, { 0 / 0 }) end)
  end)

  it("Array.new over the memory guard raises instead of returning nil", function()
    maskinfo.set_memory_limit(1000)
    local ok, res = pcall(A, "bool", { 1, 1, 40, 40 })
    maskinfo.set_memory_limit(0)
    assert.is_false(ok, "Array.new returned " .. tostring(res))
  end)
end)

describe("Array equality and identity", function()
  it("an Array is not equal to a table or a number", function()
    local a = A("int32", { 1 }, { 1 })
    assert.is_false(a == 1)
    assert.is_false(a == { 1 })
  end)

  it("~= is the negation of ==", function()
    local a, b = A("int32", { 2 }, { 1, 2 }), A("int32", { 2 }, { 1, 2 })
    assert.is_false(a ~= b)
    assert.is_true(a ~= A("int32", { 2 }, { 2, 1 }))
  end)

  it("Arrays from the API compare equal when computed the same way", function()
    local m = maskinfo.from_segments({ { 0, 0, 1 } })
    assert.is_true(m:attention_mask() == maskinfo.from_segments({ { 0, 0, 1 } }):attention_mask())
  end)

  it("Array methods reject other values", function()
    local a = A("int32", { 1 }, { 1 })
    assert.has_error(function() a.shape(5) end, "bad argument #1 to 'shape' (maskinfo.Array expected, got number)")
  end)
end)

describe("Array.from(nested [, dtype])", function()
  it("infers the dtype from the first leaf", function()
    assert.are.equal("int32", maskinfo.Array.from({ { 1, 2 }, { 3, 4 } }):dtype())
    assert.are.equal("bool", maskinfo.Array.from({ true, false }):dtype())
    assert.are.equal("float32", maskinfo.Array.from({ 0.5, 1 }):dtype())
    assert.are.same({ { 1, 2 }, { 3, 4 } }, maskinfo.Array.from({ { 1, 2 }, { 3, 4 } }):totable())
  end)

  it("converts to a requested dtype", function()
    local a = maskinfo.Array.from({ { 1, 0, 2 } }, "bool")
    assert.are.same({ { true, false, true } }, a:totable())
    assert.are.same({ 1.5, -2.0 }, maskinfo.Array.from({ 1.5, -2 }, "float16"):totable())
  end)

  it("refuses ragged tables and unknown dtypes", function()
    E.assert_error(function() maskinfo.Array.from({ { 1, 2 }, { 3 } }) end,
      "bad argument #1 to 'Array.from' (ragged nested table: length 1 at [2], expected 2)")
    E.assert_error(function() maskinfo.Array.from({ 1 }, "int8") end,
      "bad argument #2 to 'Array.from' (invalid dtype 'int8' (expected bool, int32, float32, float16, bfloat16, int64 or uint8))")
  end)
end)

describe("Array.from of an Array, and the count/class dtypes", function()
  it("copies an Array in its own dtype, exactly", function()
    local a = maskinfo.Array.new("int32", { 1 }, { 16777217 })
    local b = maskinfo.Array.from(a)
    assert.are.equal("int32", b:dtype())
    assert.are.same({ 16777217 }, b:totable())
    assert.are.equal("int64", maskinfo.Array.from(a, "int64"):dtype())
  end)

  it("builds uint8 and int64 Arrays and checks their ranges", function()
    assert.are.same({ 0, 255 }, maskinfo.Array.new("uint8", { 2 }, { 0, 255 }):totable())
    assert.are.same({ math.maxinteger }, maskinfo.Array.new("int64", { 1 }, { math.maxinteger }):totable())
    E.assert_error(function() maskinfo.Array.new("uint8", { 1 }, { 256 }) end,
      "bad argument #3 to 'Array.new' (values[1]: integer in [0, 255] expected, got 256)")
  end)
end)
