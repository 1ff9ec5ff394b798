-- The recipe library (maskinfo.recipes): every recipe builds at several
-- lengths, and the ones with a simple closed form match it cell by cell.
local maskinfo = require("maskinfo")
local recipes = maskinfo.recipes

-- Compare a recipe's plane (0, head) with pred(q, k) on every cell.
local function matches(mi, n, pred, head)
  local t = mi:attention_mask():totable()[1][(head or 0) + 1]
  for q = 0, n - 1 do
    for k = 0, n - 1 do
      if t[q + 1][k + 1] ~= pred(q, k) then
        return false, ("cell (%d, %d): got %s"):format(q, k, tostring(t[q + 1][k + 1]))
      end
    end
  end
  return true
end

describe("recipes", function()
  it("lists at least 14 recipes, sorted, each with a description", function()
    assert.is_true(#recipes.names >= 14)
    for i, name in ipairs(recipes.names) do
      if i > 1 then assert.is_true(recipes.names[i - 1] < name) end
      local r = assert(recipes.get(name))
      assert.are.equal("string", type(r.description))
      assert.are.equal("function", type(r.build))
    end
  end)

  for _, name in ipairs(recipes.names) do
    it(name .. " builds a non-empty MaskInfo at 16, 48 and 64 tokens", function()
      for _, n in ipairs({ 16, 48, 64 }) do
        local mi = recipes.get(name).build(maskinfo, n)
        assert.is_true(require("maskinfo.object").is_maskinfo(mi))
        local B, Q, K = mi:shape()
        assert.is_true(B >= 1 and Q >= 1 and K >= 1)
        assert.is_true(mi:count() > 0)
        assert.is_true(mi:density() <= 1)
      end
    end)
  end

  it("unknown names are refused", function()
    local r, err = recipes.get("nope")
    assert.is_nil(r)
    assert.are.equal("no recipe 'nope' (see 'maskinfo list')", err)
    assert.is_nil((recipes.get("../init")))
  end)

  it("causal, sliding_window and chunked match their definitions", function()
    local n = 32
    assert(matches(recipes.get("causal").build(maskinfo, n), n, function(q, k) return k <= q end))
    local w = n // 4
    assert(matches(recipes.get("sliding_window").build(maskinfo, n), n,
      function(q, k) return k <= q and k > q - w end))
    local c = n // 4
    assert(matches(recipes.get("chunked").build(maskinfo, n), n,
      function(q, k) return k <= q and q // c == k // c end))
  end)

  it("prefix_lm is bidirectional over the prefix and causal after it", function()
    local n = 30
    local p = n // 3
    assert(matches(recipes.get("prefix_lm").build(maskinfo, n), n,
      function(q, k) return k <= q or (q < p and k < p) end))
  end)

  it("streaming_sinks keeps 4 sink tokens and a causal window", function()
    local n = 64
    local w = n // 4
    assert(matches(recipes.get("streaming_sinks").build(maskinfo, n), n,
      function(q, k) return k <= q and (k < 4 or k > q - w) end))
  end)

  it("longformer: local window plus global tokens both ways", function()
    local n = 64
    local w, g = n // 8, 2
    assert(matches(recipes.get("longformer").build(maskinfo, n), n,
      function(q, k) return q < g or k < g or math.abs(q - k) <= w end))
  end)

  it("gemma_local_global: head 0 is local, head 1 is global causal", function()
    local n = 64
    local mi = recipes.get("gemma_local_global").build(maskinfo, n)
    local w = n // 8
    assert(matches(mi, n, function(q, k) return k <= q and k > q - w end, 0))
    assert(matches(mi, n, function(q, k) return k <= q end, 1))
  end)
end)
