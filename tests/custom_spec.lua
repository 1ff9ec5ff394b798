-- Custom masks: maskinfo.from_function (a predicate per cell), maskinfo.from_rows
-- (allowed half-open key ranges per row) and maskinfo.stack_heads (splash's
-- MultiHeadMask: head h is list[h+1]).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local R = dofile(here .. "/helpers/dense_ref.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")
local object = require("maskinfo.object")

local rnd = math.random

local raises = E.raises

-- Every cell of mi against pred(b, h, q, kv).
local function check_pred(mi, B, H, Q, K, pred, ctx)
  R.assert_mask(mi, { B = B, H = H, Q = Q, K = K, m = R.new_mask(B, H, Q, K, pred) }, ctx)
end

---------------------------------------------------------------- predicates

-- Random predicates of a few families, each with its parameters.
local function gen_pred(B, H, Q, K)
  local fam = rnd(6)
  if fam == 1 then -- a random table
    local t = R.new_mask(B, H, Q, K, function() return rnd(2) == 1 end)
    return function(b, h, q, k) return t[b + 1][h + 1][q + 1][k + 1] end, "random table"
  elseif fam == 2 then -- causal with a per-batch, per-head offset
    return function(b, h, q, k) return k <= q + b - h end, "causal k <= q + b - h"
  elseif fam == 3 then -- window per head
    local w = {}
    for h = 1, H do w[h] = rnd(0, 3) end
    return function(_, h, q, k) return math.abs(q - k) <= w[h + 1] end, "window per head"
  elseif fam == 4 then -- documents
    local d = rnd(1, 4)
    return function(_, _, q, k) return q // d == k // d end, "documents of " .. d
  elseif fam == 5 then -- global tokens + causal
    local g = rnd(0, 2)
    return function(_, _, q, k) return k < g or q < g or k <= q end, "global " .. g .. " + causal"
  else -- checkerboard: parity
    return function(b, h, q, k) return (b + h + q + k) % 2 == 0 end, "parity"
  end
end

describe("from_function", function()
  for seed = 1, 8 do
    it(("matches its predicate on 8 random shapes and predicates (seed %d)"):format(seed), function()
      math.randomseed(seed)
      for i = 1, 8 do
        local B, H, Q, K = rnd(1, 3), rnd(1, 3), rnd(1, 12), rnd(1, 12)
        local pred, name = gen_pred(B, H, Q, K)
        local mi = maskinfo.from_function({ batch_size = B, num_heads = H, q_len = Q, kv_len = K, fn = pred })
        assert.are.same({ B, H, Q, K }, mi:attention_mask():shape())
        check_pred(mi, B, H, Q, K, pred, ("case %d (%s)"):format(i, name))
        local b, q, k = mi:shape()
        assert.are.same({ B, Q, K }, { b, q, k })
      end
    end)
  end
  it("calls fn once per cell with 0-based (b, h, q, kv) in row-major order", function()
    local calls = {}
    maskinfo.from_function({ batch_size = 2, num_heads = 2, q_len = 2, kv_len = 3, fn = function(b, h, q, k)
      calls[#calls + 1] = ("%d%d%d%d"):format(b, h, q, k)
      return true
    end })
    local want = {}
    for b = 0, 1 do for h = 0, 1 do for q = 0, 1 do for k = 0, 2 do
      want[#want + 1] = ("%d%d%d%d"):format(b, h, q, k)
    end end end end
    assert.are.same(want, calls)
  end)
  it("defaults: batch_size 1, num_heads 1, kv_len = q_len", function()
    local mi = maskinfo.from_function({ q_len = 4, fn = function(_, _, q, k) return k <= q end })
    assert.are.same({ 1, 1, 4, 4 }, mi:attention_mask():shape())
    assert.is_true(mi:equals(maskinfo.from_segments({ { 0, 0, 0, 0 } }):apply_causal()))
  end)
  it("an all-true / all-false predicate gives a full / empty mask", function()
    local full = maskinfo.from_function({ batch_size = 2, q_len = 3, kv_len = 5, fn = function() return true end })
    local none = maskinfo.from_function({ batch_size = 2, q_len = 3, kv_len = 5, fn = function() return false end })
    assert.are.equal(30, (full:count()))
    assert.are.equal(0, (none:count()))
    assert.are.equal(6, (none:empty_rows()))
  end)
  it("the result takes ops and algebra like any MaskInfo", function()
    local pred = function(_, _, q, k) return (q + k) % 3 ~= 0 end
    local mi = maskinfo.from_function({ q_len = 6, fn = pred }):apply_causal():apply_sliding_window(2)
    check_pred(mi, 1, 1, 6, 6, function(b, h, q, k) return pred(b, h, q, k) and k <= q and k >= q - 2 end, "ops")
    local d = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 } })
    check_pred(mi & d, 1, 1, 6, 6, function(b, h, q, k)
      return pred(b, h, q, k) and k <= q and k >= q - 2 and (q < 3) == (k < 3)
    end, "algebra")
  end)
  it("stores no segment ids: they are derived from the mask", function()
    local mi = maskinfo.from_function({ q_len = 3, fn = function(_, _, q, k) return q ~= 1 and k ~= 2 end })
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 3, 3), self_attn=True)", tostring(mi))
    assert.are.same({ { 0, -1, 0 } }, mi:q_segment_ids():totable())
    assert.are.same({ { 0, 0, -1 } }, mi:kv_segment_ids():totable())
  end)
  it("zero-length sides give an empty mask", function()
    local mi = maskinfo.from_function({ q_len = 2, kv_len = 0, fn = function() return true end })
    assert.are.same({ 1, 1, 2, 0 }, mi:attention_mask():shape())
    assert.are.equal(0, (mi:count()))
  end)
  it("fn returning a number raises with the cell's coordinates", function()
    raises("from_function: fn must return a boolean, got number at (b=0, h=0, q=0, kv=0)",
      function() maskinfo.from_function({ q_len = 3, fn = function() return 1 end }) end)
  end)
  it("fn returning nil or a string at one cell raises with that cell's coordinates", function()
    raises("from_function: fn must return a boolean, got nil at (b=1, h=0, q=2, kv=1)",
      function()
        maskinfo.from_function({ batch_size = 2, q_len = 3, fn = function(b, _, q, k)
          if b == 1 and q == 2 and k == 1 then return nil end
          return true
        end })
      end)
    raises("from_function: fn must return a boolean, got string at (b=0, h=1, q=0, kv=2)",
      function()
        maskinfo.from_function({ num_heads = 2, q_len = 3, fn = function(_, h, _, k)
          if h == 1 and k == 2 then return "yes" end
          return false
        end })
      end)
  end)
  it("an error inside fn is re-raised with the cell's coordinates", function()
    raises("from_function: fn raised an error at (b=0, h=0, q=1, kv=2): boom",
      function()
        maskinfo.from_function({ q_len = 3, fn = function(_, _, q, k)
          if q == 1 and k == 2 then error("boom", 0) end
          return true
        end })
      end)
  end)
  it("an error with a position keeps the original message after the coordinates", function()
    local ok, e = pcall(maskinfo.from_function, { q_len = 2, fn = function(_, _, q)
      if q == 1 then error("bad cell") end
      return true
    end })
    assert.is_false(ok)
    assert.truthy(e:find("^from_function: fn raised an error at %(b=0, h=0, q=1, kv=0%): .*bad cell$"), e)
  end)
  it("bad options raise", function()
    raises("bad argument #1 to 'from_function' (option 'q_len' is required)",
      function() maskinfo.from_function({ fn = function() return true end }) end)
    raises("bad argument #1 to 'from_function' (option 'fn': function expected, got nil)",
      function() maskinfo.from_function({ q_len = 3 }) end)
    raises("bad argument #1 to 'from_function' (num_heads must be >= 1, got 0)",
      function() maskinfo.from_function({ q_len = 3, num_heads = 0, fn = function() return true end }) end)
    raises("bad argument #1 to 'from_function' (unknown option 'heads' (expected one of: batch_size, fn, kv_len, num_heads, q_len))",
      function() maskinfo.from_function({ q_len = 3, heads = 2, fn = function() return true end }) end)
  end)
end)

---------------------------------------------------------------- from_rows

-- Row patterns: fn(b, h, q) -> ranges, and the equivalent predicate.
local PATTERNS = {
  {
    "global tokens + sliding window",
    function(K, g, w)
      return function(_, _, q)
        if q < g then return { 0, K } end -- global queries see everything
        return { 0, math.min(g, K), math.max(0, q - w), math.min(q + w + 1, K) }
      end, function(_, _, q, k)
        return q < g or k < g or math.abs(q - k) <= w
      end
    end,
  },
  {
    "dilated causal window (one range per dilation step, newest first)",
    function(K, d, n)
      d = d + 1
      return function(_, _, q)
        local r = {}
        for i = 0, n - 1 do
          local k = q - i * d
          if k >= 0 and k < K then r[#r + 1] = k; r[#r + 1] = k + 1 end
        end
        return r
      end, function(_, _, q, k)
        return k <= q and (q - k) % d == 0 and (q - k) // d < n and k < K
      end
    end,
  },
  {
    "attention sinks + causal window (ranges overlap near the start)",
    function(K, s, w)
      return function(_, _, q)
        local hi = math.min(q + 1, K)
        return { math.max(0, math.min(q - w, hi)), hi, 0, math.min(s, hi) }
      end, function(_, _, q, k)
        return k <= q and (k < s or k >= q - w)
      end
    end,
  },
  {
    "per-head stride pattern with empty ranges",
    function(K, a, b)
      return function(_, h, q)
        local r = { 0, 0 } -- an empty range is allowed
        for k = (q + h) % (a + 1), K - 1, a + b + 1 do r[#r + 1] = k; r[#r + 1] = math.min(k + a + 1, K) end
        return r
      end, function(_, h, q, k)
        local start = (q + h) % (a + 1)
        if k < start then return false end
        return (k - start) % (a + b + 1) <= a
      end
    end,
  },
}

describe("from_rows", function()
  for pi, p in ipairs(PATTERNS) do
    for seed = 1, 3 do
      it(("%s equals from_function with the same predicate (seed %d)"):format(p[1], seed), function()
        math.randomseed(pi * 100 + seed)
        for _ = 1, 6 do
          local B, H, Q, K = rnd(1, 2), rnd(1, 3), rnd(1, 16), rnd(1, 16)
          if pi ~= 4 then K = Q end
          local rows, pred = p[2](K, rnd(0, 4), rnd(1, 4))
          local a = maskinfo.from_rows({ batch_size = B, num_heads = H, q_len = Q, kv_len = K, fn = rows })
          local b = maskinfo.from_function({ batch_size = B, num_heads = H, q_len = Q, kv_len = K, fn = pred })
          local n, first = a:diff(b)
          assert(n == 0, ("%d cells differ, first %s"):format(n, first and table.concat(first, ",") or "-"))
          check_pred(a, B, H, Q, K, pred, p[1])
        end
      end)
    end
  end
  it("ranges are half-open [lo, hi)", function()
    local mi = maskinfo.from_rows({ q_len = 2, kv_len = 5, fn = function(_, _, q) return { q, q + 2 } end })
    check_pred(mi, 1, 1, 2, 5, function(_, _, q, k) return k >= q and k < q + 2 end, "half-open")
  end)
  it("overlapping and unsorted ranges form their union", function()
    local mi = maskinfo.from_rows({ q_len = 3, kv_len = 8, fn = function() return { 5, 7, 0, 2, 1, 3, 6, 8 } end })
    check_pred(mi, 1, 1, 3, 8, function(_, _, _, k) return k < 3 or k >= 5 end, "union")
  end)
  it("an empty table means an empty row", function()
    local mi = maskinfo.from_rows({ q_len = 3, fn = function(_, _, q) if q == 1 then return {} end return { 0, 3 } end })
    local n, flags = mi:empty_rows()
    assert.are.equal(1, n)
    assert.are.same({ { { false, true, false } } }, flags:totable())
  end)
  it("calls fn once per row with 0-based (b, h, q)", function()
    local calls = {}
    maskinfo.from_rows({ batch_size = 2, num_heads = 2, q_len = 2, fn = function(b, h, q)
      calls[#calls + 1] = ("%d%d%d"):format(b, h, q)
      return {}
    end })
    assert.are.same({ "000", "001", "010", "011", "100", "101", "110", "111" }, calls)
  end)
  it("a long sequence (65,536 tokens, sinks + window) is compact and counts the closed form", function()
    local N, S, W = 65536, 4, 127
    local mi = maskinfo.from_rows({ q_len = N, fn = function(_, _, q)
      return { 0, math.min(S, q + 1), math.max(0, q - W), q + 1 }
    end })
    assert.is_false(object.fields(mi, "test").mask:is_dense())
    -- row q: keys max(0, q-W)..q plus sinks 0..S-1 below that window
    local want = 0
    for q = 0, N - 1 do
      local lo = math.max(0, q - W)
      want = want + (q - lo + 1) + math.min(S, lo)
    end
    assert.are.equal(want, (mi:count()))
  end)
  it("ranges out of [0, K] raise with the row's coordinates", function()
    raises("from_rows: range 3..9 at (b=0, h=0, q=0) is not 0 <= lo <= hi <= 5",
      function() maskinfo.from_rows({ q_len = 5, fn = function() return { 3, 9 } end }) end)
    raises("from_rows: range -1..2 at (b=0, h=0, q=0) is not 0 <= lo <= hi <= 5",
      function() maskinfo.from_rows({ q_len = 5, fn = function() return { -1, 2 } end }) end)
    raises("from_rows: range 2..1 at (b=0, h=0, q=1) is not 0 <= lo <= hi <= 5",
      function() maskinfo.from_rows({ q_len = 5, fn = function(_, _, q) if q == 1 then return { 2, 1 } end return {} end }) end)
  end)
  it("an odd number of bounds, a non-table or an error in fn raise with coordinates", function()
    raises("from_rows: fn returned an odd number of bounds at (b=0, h=0, q=0)",
      function() maskinfo.from_rows({ q_len = 5, fn = function() return { 3 } end }) end)
    raises("from_rows: fn must return a table of ranges, got number at (b=0, h=0, q=0)",
      function() maskinfo.from_rows({ q_len = 5, fn = function() return 3 end }) end)
    raises("from_rows: fn raised an error at (b=1, h=0, q=2): nope",
      function()
        maskinfo.from_rows({ batch_size = 2, q_len = 5, fn = function(b, _, q)
          if b == 1 and q == 2 then error("nope", 0) end
          return {}
        end })
      end)
  end)
  it("non-integer bounds raise", function()
    raises("from_rows: range 0.5..2 at (b=0, h=0, q=0) is not 0 <= lo <= hi <= 5",
      function() maskinfo.from_rows({ q_len = 5, fn = function() return { 0.5, 2 } end }) end)
  end)
end)

---------------------------------------------------------------- stack_heads

describe("stack_heads", function()
  local function head(mi, b, h)
    local t = mi:attention_mask():totable()
    return t[b + 1][h + 1]
  end
  for seed = 1, 4 do
    it(("head h of the stack equals list[h+1], for random members (seed %d)"):format(seed), function()
      math.randomseed(900 + seed)
      for _ = 1, 6 do
        local B, Q, K, n = rnd(1, 3), rnd(1, 10), rnd(1, 10), rnd(1, 4)
        local list = {}
        for i = 1, n do
          local kind = rnd(3)
          if kind == 1 then
            list[i] = maskinfo.from_random(B, Q, K, rnd(), rnd(0, 99))
          elseif kind == 2 then
            local c = rnd(-2, 2)
            list[i] = maskinfo.from_function({ batch_size = B, q_len = Q, kv_len = K,
              fn = function(_, _, q, k) return k <= q + c end })
          else
            local w = rnd(0, 3)
            list[i] = maskinfo.from_function({ batch_size = B, q_len = Q, kv_len = K, fn = function() return true end })
              :apply_sliding_window(w)
          end
        end
        local st = maskinfo.stack_heads(list)
        assert.are.same({ B, n, Q, K }, st:attention_mask():shape())
        for b = 0, B - 1 do
          for h = 0, n - 1 do
            assert.are.same(head(list[h + 1], b, 0), head(st, b, h))
          end
        end
        local _, per = st:count()
        for h = 1, n do
          local _, ph = list[h]:count()
          for b = 1, B do assert.are.equal(ph:totable()[b][1], per:totable()[b][h]) end
        end
      end
    end)
  end
  it("a single member gives a 1-head mask equal to it", function()
    local a = maskinfo.from_segments({ { 0, 0, 1 } }):apply_causal()
    assert.is_true(maskinfo.stack_heads({ a }):equals(a))
  end)
  it("ops on a stack apply to every head (= stacking the op's results)", function()
    local d = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 } })
    local a, b = d, d:apply_sliding_window({ 1, 0 })
    local st = maskinfo.stack_heads({ a, b })
    assert.is_true(st:apply_causal():equals(maskinfo.stack_heads({ a:apply_causal(), b:apply_causal() })))
    assert.is_true(st:apply_chunked(2):equals(maskinfo.stack_heads({ a:apply_chunked(2), b:apply_chunked(2) })))
    local dec = st:apply_sliding_window(1, { mode = "decode", index = 4 })
    assert.is_true(dec:equals(maskinfo.stack_heads({
      a:apply_sliding_window(1, { mode = "decode", index = 4 }),
      b:apply_sliding_window(1, { mode = "decode", index = 4 }) })))
  end)
  it("keeps segment ids when every member stores the same ids, else drops them", function()
    local ids = { { 0, 0, 1, 1 } }
    local d = maskinfo.from_segments(ids)
    local same = maskinfo.stack_heads({ d, d:apply_causal(), d:apply_sliding_window(1) })
    assert.are.same(ids, same:q_segment_ids():totable())
    assert.truthy(tostring(same):find("q_segment_ids.shape=(1, 4)", 1, true))
    local diff = maskinfo.stack_heads({ d, maskinfo.from_segments({ { 0, 1, 1, 1 } }) })
    assert.is_nil(tostring(diff):find("segment_ids", 1, true))
  end)
  it("members are not changed", function()
    local a = maskinfo.from_segments({ { 0, 0, 1 } })
    local before = tostring(a)
    maskinfo.stack_heads({ a, a:apply_causal() })
    assert.are.equal(before, tostring(a))
    assert.are.same({ 1, 1, 3, 3 }, a:attention_mask():shape())
  end)
  it("bad lists raise", function()
    local one = maskinfo.from_segments({ { 0 } })
    raises("bad argument #1 to 'stack_heads' (non-empty list of MaskInfo expected)", function() maskinfo.stack_heads({}) end)
    raises("bad argument #1 to 'stack_heads' (non-empty list of MaskInfo expected)", function() maskinfo.stack_heads(5) end)
    raises("bad argument #1 to 'stack_heads' (element 2: MaskInfo expected, got number)",
      function() maskinfo.stack_heads({ one, 3 }) end)
    raises("bad argument #1 to 'stack_heads' (element 2 has shape (1, 2, 2), expected (1, 1, 1))",
      function() maskinfo.stack_heads({ one, maskinfo.from_segments({ { 0, 0 } }) }) end)
    raises("bad argument #1 to 'stack_heads' (element 2 has 2 heads, expected 1)",
      function() maskinfo.stack_heads({ one, maskinfo.stack_heads({ one, one }) }) end)
  end)
end)
