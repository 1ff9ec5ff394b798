-- maskinfo.testing: the assertions recipe specs use.  A right predicate
-- passes; a wrong one fails with a message naming the first differing cell
-- and the number of differing cells; cell lists are checked both ways; the
-- brute force refuses big masks; misuse is an argument error.
local mi = require("maskinfo")
local testing = require("maskinfo.testing")

local function causal(_, _, q, k) return k <= q end

-- The message of a raised error, without the position prefix.
local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

describe("maskinfo.testing", function()
  it("a mask equals its predicate", function()
    assert.is_true(testing.assert_equals(mi.causal(9), causal))
    assert.is_true((testing.compare(mi.full(3, 5), function() return true end)))
    local heads = mi.stack_heads({ mi.causal(6), mi.full(6) })
    assert.is_true(testing.assert_equals(heads, function(_, h, q, k) return h == 1 or k <= q end))
  end)

  it("a wrong predicate fails, naming the first differing cell", function()
    local ok, msg = testing.compare(mi.causal(8), function(_, _, q, k) return k < q end)
    assert.is_false(ok)
    assert.are.equal("the mask differs from the predicate at (b=0, h=0, q=0, k=0): the mask allows it, "
      .. "the predicate masks it (8 of 64 cells differ)", msg)
    assert.are.equal(msg, err_of(testing.assert_equals, mi.causal(8), function(_, _, q, k) return k < q end))
    local _, m2 = testing.compare(mi.causal(4), function(_, _, q, k) return k <= q + 1 end)
    assert.are.equal("the mask differs from the predicate at (b=0, h=0, q=0, k=1): the mask masks it, "
      .. "the predicate allows it (3 of 16 cells differ)", m2)
  end)

  it("the failure points at the spec's line", function()
    local ok, err = pcall(function()
      testing.assert_equals(mi.causal(2), function() return false end) -- this line
    end)
    assert.is_false(ok)
    assert.matches("testing_spec%.lua:%d+: the mask differs", err)
  end)

  it("a predicate must return a boolean (0 would be true in Lua)", function()
    local ok, msg = testing.compare(mi.causal(3), function(_, _, q, k) return k <= q and 1 or 0 end)
    assert.is_false(ok)
    assert.are.equal("the predicate returned number at (b=0, h=0, q=0, k=0), a boolean expected", msg)
  end)

  it("checks given cells are allowed or masked", function()
    local m = mi.causal(5)
    assert.is_true(testing.assert_allowed(m, { { 0, 0, 4, 4 }, { 0, 0, 4, 0 } }))
    assert.is_true(testing.assert_masked(m, { { 0, 0, 0, 1 }, { 0, 0, 3, 4 } }))
    assert.are.equal("cell (b=0, h=0, q=1, k=2) should be allowed, but it is masked",
      err_of(testing.assert_allowed, m, { { 0, 0, 1, 1 }, { 0, 0, 1, 2 } }))
    assert.are.equal("cell (b=0, h=0, q=2, k=1) should be masked, but it is allowed",
      err_of(testing.assert_masked, m, { { 0, 0, 2, 1 } }))
    assert.are.equal("cell 1 {0, 0, 5, 0} is outside the mask's shape (1, 1, 5, 5)",
      err_of(testing.assert_masked, m, { { 0, 0, 5, 0 } }))
    assert.are.equal("cell 1 {0, 1, 0, 0} is outside the mask's shape (1, 1, 5, 5)",
      err_of(testing.assert_allowed, m, { { 0, 1, 0, 0 } }))
  end)

  it("the compact mask agrees with its dense form", function()
    assert.is_true(testing.assert_consistent(mi.from_lengths({ 3, 4 }):apply_causal()))
    assert.is_true(testing.assert_consistent(mi.from_tree({ -1, 0, 0, 1 }, { prefix = 2 })))
  end)

  it("refuses masks too big for brute force", function()
    local ok, msg = testing.compare(mi.causal(64), causal, { max_cells = 1000 })
    assert.is_false(ok)
    assert.are.equal("the mask has 4096 cells, more than max_cells (1000): test it at a smaller size", msg)
    assert.is_false((testing.consistent(mi.causal(64), { max_cells = 1000 })))
  end)

  it("misuse is an argument error", function()
    assert.has_error(function() testing.assert_equals({}, causal) end,
      "bad argument #1 to 'compare' (open MaskInfo expected, got table)")
    assert.has_error(function() testing.compare(mi.causal(2), 3) end,
      "bad argument #2 to 'compare' (predicate function expected, got number)")
    assert.has_error(function() testing.assert_allowed(mi.causal(2), { { 0, 0 } }) end,
      "bad argument #2 to 'assert_allowed' (cell 1: {b, h, q, k} expected)")
    assert.has_error(function() testing.assert_masked(mi.causal(2), "x") end,
      "bad argument #2 to 'assert_masked' (list of {b, h, q, k} cells expected, got string)")
  end)
end)
