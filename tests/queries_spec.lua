-- Queries on a MaskInfo: allowed, count (total and per head), density,
-- empty_rows, equals, diff, each against the dense reference on random masks.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local R = dofile(here .. "/helpers/dense_ref.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local rnd = math.random

local raises = E.raises

local gen_bool4 = R.random_mask

local function gen_ids(B, L)
  local t = {}
  for b = 1, B do
    t[b] = {}
    for j = 1, L do t[b][j] = rnd(-1, 3) end
  end
  return t
end

-- A random MaskInfo and its reference: segments + ops, from_attention_mask
-- with 1-3 heads, or from_random.
local function gen_case()
  local B, Q, K = rnd(1, 3), rnd(1, 14), rnd(1, 14)
  local kind = rnd(3)
  if kind == 1 then
    local q, kv = gen_ids(B, Q), gen_ids(B, K)
    local mi, s = maskinfo.from_segments(q, kv), R.from_segments(q, kv)
    if rnd(2) == 1 then
      local off = rnd(-3, 2)
      mi, s = mi:apply_causal(off), R.causal(s, off)
    end
    if rnd(2) == 1 then
      local w = { rnd(0, 3), rnd(0, 3) }
      mi, s = mi:apply_sliding_window(w), R.sliding_window(s, w)
    end
    return mi, s
  elseif kind == 2 then
    local m = gen_bool4(B, rnd(1, 3), Q, K, rnd())
    return maskinfo.from_attention_mask(m), R.from_mask(m)
  else
    local mi = maskinfo.from_random(B, Q, K, rnd(), rnd(0, 999))
    return mi, R.of(mi)
  end
end

---------------------------------------------------------------- allowed

describe("allowed(b, h, q, kv)", function()
  for seed = 1, 6 do
    it(("matches the reference on every cell of 8 random masks (seed %d)"):format(seed), function()
      math.randomseed(seed)
      for i = 1, 8 do
        local mi, s = gen_case()
        for b = 0, s.B - 1 do
          for h = 0, s.H - 1 do
            for q = 0, s.Q - 1 do
              for k = 0, s.K - 1 do
                local got = mi:allowed(b, h, q, k)
                if got ~= s.m[b + 1][h + 1][q + 1][k + 1] then
                  error(("case %d: allowed(%d, %d, %d, %d) = %s"):format(i, b, h, q, k, tostring(got)))
                end
              end
            end
          end
        end
      end
    end)
  end
  it("returns a boolean", function()
    local mi = maskinfo.from_segments({ { 0, 0, 1 } })
    assert.are.equal("boolean", type(mi:allowed(0, 0, 0, 1)))
    assert.is_true(mi:allowed(0, 0, 0, 1))
    assert.is_false(mi:allowed(0, 0, 0, 2))
  end)
  it("sees ops: causal, a decode slice, a per-head stack", function()
    local base = maskinfo.from_segments({ { 0, 0, 0, 0 } })
    assert.is_false(base:apply_causal():allowed(0, 0, 1, 2))
    assert.is_true(base:apply_causal():allowed(0, 0, 2, 1))
    local d = base:apply_sliding_window({ 1, 0 }, { mode = "decode", index = 3 })
    assert.is_true(d:allowed(0, 0, 0, 0))
    assert.is_true(d:allowed(0, 0, 0, 1))
    local st = maskinfo.stack_heads({ base, base:apply_causal() })
    assert.is_true(st:allowed(0, 0, 0, 3))
    assert.is_false(st:allowed(0, 1, 0, 3))
  end)
  it("out-of-range coordinates raise naming the argument and the range", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } }, { { 0, 0, 0, 0 } })
    raises("bad argument #1 to 'allowed' (batch 1 out of range [0, 1))", function() mi:allowed(1, 0, 0, 0) end)
    raises("bad argument #1 to 'allowed' (batch -1 out of range [0, 1))", function() mi:allowed(-1, 0, 0, 0) end)
    raises("bad argument #2 to 'allowed' (head 1 out of range [0, 1))", function() mi:allowed(0, 1, 0, 0) end)
    raises("bad argument #3 to 'allowed' (query 3 out of range [0, 3))", function() mi:allowed(0, 0, 3, 0) end)
    raises("bad argument #4 to 'allowed' (key 4 out of range [0, 4))", function() mi:allowed(0, 0, 0, 4) end)
    raises("bad argument #4 to 'allowed' (key -1 out of range [0, 4))", function() mi:allowed(0, 0, 0, -1) end)
  end)
  it("non-integer coordinates raise", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } })
    raises("bad argument #3 to 'allowed' (query: integer expected, got 0.5)", function() mi:allowed(0, 0, 0.5, 0) end)
    raises("bad argument #1 to 'allowed' (batch: integer expected, got nil)", function() mi:allowed() end)
  end)
  it("called on a non-MaskInfo raises without a position prefix", function()
    local mi = maskinfo.from_segments({ { 0 } })
    raises("bad argument #1 to 'allowed' (MaskInfo expected, got table)", function() mi.allowed({}, 0, 0, 0, 0) end)
  end)
end)

---------------------------------------------------------------- count, density

describe("count()", function()
  for seed = 1, 5 do
    it(("total and per-head Array match the reference on 10 random masks (seed %d)"):format(seed), function()
      math.randomseed(100 + seed)
      for _ = 1, 10 do
        local mi, s = gen_case()
        local total, per = mi:count()
        local wt, wp = R.count(s)
        assert.are.equal(wt, total)
        assert.are.equal("integer", math.type(total))
        assert.are.same({ s.B, s.H }, per:shape())
        assert.are.equal("int64", per:dtype())
        assert.are.same(wp, per:totable())
      end
    end)
  end
  it("causal over n tokens counts n(n+1)/2", function()
    for _, n in ipairs({ 1, 2, 7, 64, 100 }) do
      local ids = {}
      for j = 1, n do ids[j] = 0 end
      assert.are.equal(n * (n + 1) // 2, (maskinfo.from_segments(ids):apply_causal():count()))
    end
  end)
  it("documents count the sum of squared lengths; padding counts nothing", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 1, 1, -1, 2, -1 }, { 5, 5, 5, 5, 5, 5, 5, 5 } })
    local total, per = mi:count()
    assert.are.equal(9 + 4 + 1 + 64, total)
    assert.are.same({ { 14 }, { 64 } }, per:totable())
  end)
  it("per-head counts of a stack are the counts of its members", function()
    local base = maskinfo.from_segments({ { 0, 0, 0, 0, 0 }, { 0, 0, 1, 1, 1 } })
    local a, b, c = base, base:apply_causal(), base:apply_sliding_window(1)
    local _, per = maskinfo.stack_heads({ a, b, c }):count()
    local _, pa = a:count()
    local _, pb = b:count()
    local _, pc = c:count()
    assert.are.same({ { pa:totable()[1][1], pb:totable()[1][1], pc:totable()[1][1] },
      { pa:totable()[2][1], pb:totable()[2][1], pc:totable()[2][1] } }, per:totable())
  end)
  it("an empty shape counts 0", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } }):apply_kv_lengths(3, { q_len = 0 })
    local total, per = mi:count()
    assert.are.equal(0, total)
    assert.are.same({ { 0 } }, per:totable())
  end)
end)

describe("density()", function()
  it("is count / (B*H*Q*K) on random masks", function()
    math.randomseed(200)
    for _ = 1, 20 do
      local mi, s = gen_case()
      local wt = R.count(s)
      assert.is_true(math.abs(mi:density() - wt / (s.B * s.H * s.Q * s.K)) < 1e-12)
    end
  end)
  it("is 1 for a full mask, 0 for an empty one, and a float", function()
    assert.are.equal(1.0, maskinfo.from_segments({ { 0, 0, 0 } }):density())
    assert.are.equal(0.0, maskinfo.from_segments({ { -1, -1 } }):density())
    assert.are.equal("float", math.type(maskinfo.from_segments({ { 0, 0, 0 } }):density()))
  end)
  it("causal over 4 tokens is 10/16", function()
    assert.are.equal(10 / 16, maskinfo.from_segments({ { 0, 0, 0, 0 } }):apply_causal():density())
  end)
  it("is 0 for an empty shape (no division by zero)", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } }):apply_kv_lengths(3, { q_len = 0 })
    assert.are.equal(0.0, mi:density())
  end)
  it("from_random's density is close to 1 - sparsity", function()
    local d = maskinfo.from_random(2, 128, 128, 0.7, 42):density()
    assert.is_true(math.abs(d - 0.3) < 0.02, "density " .. d)
  end)
end)

---------------------------------------------------------------- empty_rows

describe("empty_rows()", function()
  for seed = 1, 4 do
    it(("count and (B, H, Q) flags match the reference on 10 random masks (seed %d)"):format(seed), function()
      math.randomseed(300 + seed)
      for _ = 1, 10 do
        local mi, s = gen_case()
        local n, flags = mi:empty_rows()
        local wn, wf = R.empty_rows(s)
        assert.are.equal(wn, n)
        assert.are.equal("bool", flags:dtype())
        assert.are.same({ s.B, s.H, s.Q }, flags:shape())
        assert.are.same(wf, flags:totable())
      end
    end)
  end
  it("padding rows are empty", function()
    local n, flags = maskinfo.from_segments({ { 0, -1, 0, -1 } }):empty_rows()
    assert.are.equal(2, n)
    assert.are.same({ { { false, true, false, true } } }, flags:totable())
  end)
  it("causal with offset -1 empties the first row (the NaN-softmax trap)", function()
    local n, flags = maskinfo.from_segments({ { 0, 0, 0 } }):apply_causal(-1):empty_rows()
    assert.are.equal(1, n)
    assert.are.same({ { { true, false, false } } }, flags:totable())
  end)
  it("a full mask has none", function()
    local n, flags = maskinfo.from_segments({ { 0, 0 }, { 1, 1 } }):empty_rows()
    assert.are.equal(0, n)
    assert.are.same({ { { false, false } }, { { false, false } } }, flags:totable())
  end)
  it("counts per head", function()
    local base = maskinfo.from_segments({ { 0, 0, 0 } })
    local n, flags = maskinfo.stack_heads({ base, base:apply_causal(-1), base:apply_causal(-2) }):empty_rows()
    assert.are.equal(3, n)
    assert.are.same({ { { false, false, false }, { true, false, false }, { true, true, false } } }, flags:totable())
  end)
end)

---------------------------------------------------------------- equals, diff

describe("equals()", function()
  it("is true for the same cells built different ways", function()
    local a = maskinfo.from_segments({ { 0, 0, 1 } })
    local b = maskinfo.from_attention_mask({ { { true, true, false }, { true, true, false }, { false, false, true } } })
    assert.is_true(a:equals(b))
    assert.is_true(b:equals(a))
    local c = maskinfo.from_function({ q_len = 3, fn = function(_, _, q, k) return (q < 2) == (k < 2) end })
    assert.is_true(a:equals(c))
  end)
  it("is false when one cell differs", function()
    local a = maskinfo.from_segments({ { 0, 0, 1 } })
    local b = maskinfo.from_attention_mask({ { { true, true, false }, { true, false, false }, { false, false, true } } })
    assert.is_false(a:equals(b))
  end)
  it("is false for different shapes (no error)", function()
    assert.is_false(maskinfo.from_segments({ { 0, 0 } }):equals(maskinfo.from_segments({ { 0, 0, 0 } })))
    assert.is_false(maskinfo.from_segments({ { 0, 0 } }):equals(maskinfo.from_segments({ { 0, 0 }, { 0, 0 } })))
  end)
  it("is false when the numbers of heads differ, even if every head is the same", function()
    local a = maskinfo.from_segments({ { 0, 0 } })
    assert.is_false(a:equals(maskinfo.stack_heads({ a, a })))
  end)
  it("agrees with diff() == 0 on random pairs", function()
    math.randomseed(400)
    for _ = 1, 20 do
      local mi, s = gen_case()
      local other = maskinfo.from_attention_mask(s.m)
      assert.is_true(mi:equals(other))
      local m2 = s.m
      local b, h, q, k = rnd(s.B), rnd(s.H), rnd(s.Q), rnd(s.K)
      m2[b][h][q][k] = not m2[b][h][q][k]
      assert.is_false(mi:equals(maskinfo.from_attention_mask(m2)))
    end
  end)
  it("raises for a non-MaskInfo", function()
    raises("bad argument #1 to 'equals' (MaskInfo expected, got number)",
      function() maskinfo.from_segments({ { 0 } }):equals(3) end)
  end)
end)

describe("diff()", function()
  for seed = 1, 5 do
    it(("count and first differing {b, h, q, kv} (row-major) match the reference (seed %d)"):format(seed), function()
      math.randomseed(500 + seed)
      for _ = 1, 10 do
        local mi, s = gen_case()
        local m2 = gen_bool4(s.B, s.H, s.Q, s.K, rnd())
        local n, first = mi:diff(maskinfo.from_attention_mask(m2))
        local wn, wfirst = R.diff(s, R.from_mask(m2))
        assert.are.equal(wn, n)
        assert.are.same(wfirst, first)
      end
    end)
  end
  it("returns 0 and nil when equal", function()
    local a = maskinfo.from_segments({ { 0, 0, 1 } })
    local n, first = a:diff(maskinfo.from_segments({ { 4, 4, 9 } }))
    assert.are.equal(0, n)
    assert.is_nil(first)
  end)
  it("first is the earliest cell in (b, h, q, kv) order", function()
    local a = maskinfo.from_segments({ { 0, 0, 0 }, { 0, 0, 0 } })
    local b = a:apply_causal()
    local n, first = a:diff(b)
    assert.are.equal(6, n)
    assert.are.same({ 0, 0, 0, 1 }, first)
    local c = maskinfo.from_segments({ { 0, 0, 0 }, { 0, 0, 1 } })
    local n2, f2 = a:diff(c)
    assert.are.equal(4, n2)
    assert.are.same({ 1, 0, 0, 2 }, f2)
  end)
  it("broadcasts a 1-head operand over heads", function()
    local base = maskinfo.from_segments({ { 0, 0, 0 } })
    local st = maskinfo.stack_heads({ base, base:apply_causal() })
    local n, first = base:diff(st)
    assert.are.equal(3, n)
    assert.are.same({ 0, 1, 0, 1 }, first)
    local n2, f2 = st:diff(base)
    assert.are.equal(3, n2)
    assert.are.same({ 0, 1, 0, 1 }, f2)
  end)
  it("is symmetric in its count", function()
    math.randomseed(600)
    for _ = 1, 10 do
      local mi, s = gen_case()
      local other = maskinfo.from_attention_mask(gen_bool4(s.B, s.H, s.Q, s.K, 0.5))
      assert.are.equal((mi:diff(other)), (other:diff(mi)))
    end
  end)
  it("equals count((a - b) | (b - a))", function()
    math.randomseed(601)
    for _ = 1, 10 do
      local mi, s = gen_case()
      local other = maskinfo.from_attention_mask(gen_bool4(s.B, s.H, s.Q, s.K, 0.5))
      assert.are.equal((mi:diff(other)), (((mi - other) | (other - mi)):count()))
    end
  end)
  it("raises a bad-argument error naming both shapes when shapes differ", function()
    raises("bad argument #1 to 'diff' (shapes differ: (1, 1, 3, 3) and (1, 1, 2, 2))",
      function() maskinfo.from_segments({ { 0, 0, 0 } }):diff(maskinfo.from_segments({ { 0, 0 } })) end)
  end)
  it("raises for a non-MaskInfo", function()
    raises("bad argument #1 to 'diff' (MaskInfo expected, got string)",
      function() maskinfo.from_segments({ { 0 } }):diff("x") end)
  end)
end)
