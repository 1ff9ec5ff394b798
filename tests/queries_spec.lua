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

describe("key_ranges(b, h, q)", function()
  it("gives each row's allowed keys as sorted half-open ranges, on random masks", function()
    math.randomseed(11)
    for _ = 1, 10 do
      local B, H, Q, K = rnd(1, 2), rnd(1, 2), rnd(1, 9), rnd(1, 12)
      local cells = gen_bool4(B, H, Q, K, 0.5)
      local mi = maskinfo.from_attention_mask(cells)
      for b = 0, B - 1 do
        for h = 0, H - 1 do
          for q = 0, Q - 1 do
            local want, run = {}, nil
            for k = 0, K do
              local v = k < K and cells[b + 1][h + 1][q + 1][k + 1]
              if v and not run then run = k end
              if not v and run then want[#want + 1] = run; want[#want + 1] = k; run = nil end
            end
            assert.are.same(want, mi:key_ranges(b, h, q))
          end
        end
      end
    end
  end)

  it("follows the ops (a decode slice keeps one row of the window)", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 0 } }):apply_causal()
      :apply_sliding_window({ 2, 0 }, { mode = "decode", index = 4 })
    assert.are.same({ 0, 3 }, mi:key_ranges(0, 0, 0))
  end)

  it("checks its indices", function()
    raises("bad argument #3 to 'key_ranges' (query 5 out of range [0, 5))",
      function() maskinfo.from_segments({ { 0, 0, 0, 0, 0 } }):key_ranges(0, 0, 5) end)
  end)
end)

describe("block_counts{block_size=, batch=, head=}", function()
  it("sums allowed cells per block, with smaller tail blocks, on random masks", function()
    math.randomseed(12)
    for _ = 1, 10 do
      local B, H, Q, K = rnd(1, 2), rnd(1, 2), rnd(1, 13), rnd(1, 13)
      local bq, bk = rnd(1, 5), rnd(1, 5)
      local cells = gen_bool4(B, H, Q, K, 0.4)
      local mi = maskinfo.from_attention_mask(cells)
      local b, h = rnd(0, B - 1), rnd(0, H - 1)
      local got = mi:block_counts { block_size = { bq, bk }, batch = b, head = h }
      assert.are.equal("int64", got:dtype())
      assert.are.same({ (Q + bq - 1) // bq, (K + bk - 1) // bk }, got:shape())
      local t = got:totable()
      for i = 1, #t do
        for j = 1, #t[i] do
          local n = 0
          for q = (i - 1) * bq, math.min(i * bq, Q) - 1 do
            for k = (j - 1) * bk, math.min(j * bk, K) - 1 do
              if cells[b + 1][h + 1][q + 1][k + 1] then n = n + 1 end
            end
          end
          assert.are.equal(n, t[i][j])
        end
      end
    end
  end)

  it("works at 1M tokens without expanding the mask", function()
    local n = 1048576
    local mi = maskinfo.from_segments({ maskinfo.util.fill(n, 0) }):apply_causal()
    local got = mi:block_counts { block_size = 65536 }
    local t = got:totable()
    assert.are.equal(16, #t)
    assert.are.equal(65536 * 65537 // 2, t[1][1])   -- diagonal block: a triangle
    assert.are.equal(65536 * 65536, t[2][1])        -- below the diagonal: full
    assert.are.equal(0, t[1][2])                    -- above: empty
  end)

  it("refuses a block size below 1", function()
    raises("bad argument #1 to 'block_counts' (block_size must be >= 1, got 0)",
      function() maskinfo.from_segments({ { 0, 0 } }):block_counts { block_size = 0 } end)
  end)
end)

describe("MaskInfo as a to-be-closed variable", function()
  it("can be used in its scope and is closed after it", function()
    local kept
    do
      local mi <close> = maskinfo.from_segments({ { 0, 0, 1 } })
      kept = mi
      assert.are.equal(5, (mi:count()))
    end
    assert.are.equal("MaskInfo(closed)", tostring(kept))
    raises("bad argument #1 to 'count' (MaskInfo is closed)", function() kept:count() end)
  end)
end)
