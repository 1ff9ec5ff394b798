-- The mask algebra: a & b, a | b, ~a, a - b (and a:minus(b)) against a
-- cellwise reference on random masks; the laws of a Boolean algebra; head
-- broadcasting; shape errors; what happens to the documents (segment ids,
-- positions, cu_seqlens) and flags (documented in docs/api.md's Algebra
-- section: equal ids are kept by every op, one operand's documents by & and
-- by a - b from a; trivial ids count as none; flags OR-ed; ~a drops both).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local R = dofile(here .. "/helpers/dense_ref.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")
local object = require("maskinfo.object")

local rnd = math.random

local raises = E.raises
local ref_of, check_ref = R.of, R.assert_mask

local function stored_mask(mi) return object.fields(mi, "test").mask end

---------------------------------------------------------------- random operands

local function gen_ids(B, L)
  local t = {}
  for b = 1, B do
    t[b] = {}
    local id, j = rnd(0, 2), 1
    while j <= L do
      for _ = 1, rnd(1, 5) do
        if j > L then break end
        t[b][j] = (rnd(6) == 1) and -1 or id
        j = j + 1
      end
      id = id + rnd(1, 3)
    end
  end
  return t
end

local gen_bool4 = R.random_mask

-- A random MaskInfo of shape (B, H, Q, K): from_random, a from_segments
-- chain, or from_attention_mask.  H > 1 only through from_attention_mask.
local function gen_operand(B, H, Q, K)
  local kind = H > 1 and 3 or rnd(3)
  if kind == 1 then
    return maskinfo.from_random(B, Q, K, rnd() * 0.9, rnd(0, 10000))
  elseif kind == 2 then
    local mi = maskinfo.from_segments(gen_ids(B, Q), gen_ids(B, K))
    local r = rnd(4)
    if r == 1 then mi = mi:apply_causal(rnd(-2, 2)) end
    if r == 2 then mi = mi:apply_sliding_window({ rnd(0, 3), rnd(0, 3) }) end
    if r == 3 then mi = mi:apply_chunked(rnd(1, 4)) end
    return mi
  else
    return maskinfo.from_attention_mask(gen_bool4(B, H, Q, K, rnd()))
  end
end

local function gen_shape()
  return rnd(1, 3), rnd(1, 12), rnd(1, 12)
end

---------------------------------------------------------------- operators vs reference

local OPS = {
  { "a & b", function(a, b) return a & b end, R.band },
  { "a | b", function(a, b) return a | b end, R.bor },
  { "a - b", function(a, b) return a - b end, R.sub },
  { "a:minus(b)", function(a, b) return a:minus(b) end, R.sub },
}

describe("algebra operators vs the cellwise reference", function()
  for _, op in ipairs(OPS) do
    for seed = 1, 6 do
      it(("%s on 10 random operand pairs (seed %d)"):format(op[1], seed), function()
        math.randomseed(300 * seed + #op[1])
        for i = 1, 10 do
          local B, Q, K = gen_shape()
          local a, b = gen_operand(B, 1, Q, K), gen_operand(B, 1, Q, K)
          local out = op[2](a, b)
          check_ref(out, op[3](ref_of(a), ref_of(b)), ("%s case %d"):format(op[1], i))
          local wt = R.count(op[3](ref_of(a), ref_of(b)))
          assert.are.equal(wt, (out:count()))
        end
      end)
    end
  end
  for seed = 1, 6 do
    it(("~a on 10 random operands (seed %d)"):format(seed), function()
      math.randomseed(9000 + seed)
      for i = 1, 10 do
        local B, Q, K = gen_shape()
        local a = gen_operand(B, rnd(1, 2), Q, K)
        check_ref(~a, R.bnot(ref_of(a)), "~a case " .. i)
      end
    end)
  end
  it("operators return MaskInfos with a bool (B, H, Q, K) mask", function()
    local a = maskinfo.from_random(2, 3, 4, 0.5, 1)
    local b = maskinfo.from_random(2, 3, 4, 0.5, 2)
    for _, x in ipairs({ a & b, a | b, a - b, ~a }) do
      assert.is_true(object.is_maskinfo(x))
      assert.are.equal("bool", x:attention_mask():dtype())
      assert.are.same({ 2, 1, 3, 4 }, x:attention_mask():shape())
    end
  end)
  it("operands are never changed", function()
    local a = maskinfo.from_segments({ { 0, 0, 1, 1 } }):apply_causal()
    local b = maskinfo.from_random(1, 4, 4, 0.5, 7)
    local ta, tb, sa, sb = a:attention_mask():totable(), b:attention_mask():totable(), tostring(a), tostring(b)
    local _ = { a & b, a | b, a - b, ~a, ~b }
    assert.are.same(ta, a:attention_mask():totable())
    assert.are.same(tb, b:attention_mask():totable())
    assert.are.equal(sa, tostring(a))
    assert.are.equal(sb, tostring(b))
  end)
end)

---------------------------------------------------------------- laws

local function pairs_of_operands(seed, n)
  math.randomseed(seed)
  local out = {}
  for i = 1, n do
    local B, Q, K = gen_shape()
    out[i] = { gen_operand(B, 1, Q, K), gen_operand(B, 1, Q, K), gen_operand(B, 1, Q, K), B * Q * K }
  end
  return out
end

local LAWS = {
  { "De Morgan: ~(a & b) == ~a | ~b", function(a, b) return ~(a & b), ~a | ~b end },
  { "De Morgan: ~(a | b) == ~a & ~b", function(a, b) return ~(a | b), ~a & ~b end },
  { "absorption: a | (a & b) == a", function(a, b) return a | (a & b), a end },
  { "absorption: a & (a | b) == a", function(a, b) return a & (a | b), a end },
  { "commutativity of &", function(a, b) return a & b, b & a end },
  { "commutativity of |", function(a, b) return a | b, b | a end },
  { "double negation: ~~a == a", function(a) return ~~a, a end },
  { "idempotence: a & a == a and a | a == a", function(a) return (a & a) | (a | a), a end },
  { "associativity of &", function(a, b, c) return (a & b) & c, a & (b & c) end },
  { "associativity of |", function(a, b, c) return (a | b) | c, a | (b | c) end },
  { "distributivity: a & (b | c) == (a & b) | (a & c)", function(a, b, c) return a & (b | c), (a & b) | (a & c) end },
  { "distributivity: a | (b & c) == (a | b) & (a | c)", function(a, b, c) return a | (b & c), (a | b) & (a | c) end },
  { "difference: a - b == a & ~b", function(a, b) return a - b, a & ~b end },
}

describe("algebra laws on random masks", function()
  for li, law in ipairs(LAWS) do
    it(law[1] .. " (12 random triples)", function()
      for i, t in ipairs(pairs_of_operands(500 + li, 12)) do
        local x, y = law[2](t[1], t[2], t[3])
        local n, first = x:diff(y)
        assert(n == 0, ("case %d: %d cells differ, first %s"):format(i, n, first and table.concat(first, ",") or "-"))
        assert.is_true(x:equals(y))
      end
    end)
  end
  it("a & ~a is empty (count 0)", function()
    for _, t in ipairs(pairs_of_operands(601, 15)) do
      assert.are.equal(0, ((t[1] & ~t[1]):count()))
    end
  end)
  it("a | ~a is full (count B*H*Q*K, density 1)", function()
    for _, t in ipairs(pairs_of_operands(602, 15)) do
      assert.are.equal(t[4], ((t[1] | ~t[1]):count()))
      assert.are.equal(1.0, (t[1] | ~t[1]):density())
    end
  end)
  it("(a - b) & b is empty and (a - b) | (a & b) == a", function()
    for _, t in ipairs(pairs_of_operands(603, 15)) do
      local a, b = t[1], t[2]
      assert.are.equal(0, (((a - b) & b):count()))
      assert.is_true(((a - b) | (a & b)):equals(a))
    end
  end)
  it("count(a | b) == count(a) + count(b) - count(a & b)", function()
    for _, t in ipairs(pairs_of_operands(604, 15)) do
      local a, b = t[1], t[2]
      assert.are.equal((a:count()) + (b:count()) - ((a & b):count()), ((a | b):count()))
    end
  end)
  it("a & b is contained in a: (a & b) - a is empty", function()
    for _, t in ipairs(pairs_of_operands(605, 15)) do
      assert.are.equal(0, (((t[1] & t[2]) - t[1]):count()))
    end
  end)
end)

---------------------------------------------------------------- head broadcast

describe("head broadcast", function()
  local function three_head(B, Q, K)
    return maskinfo.from_attention_mask(gen_bool4(B, 3, Q, K, 0.5))
  end
  it("a 1-head operand broadcasts over 3 heads in &, |, - (both orders)", function()
    math.randomseed(77)
    for i = 1, 10 do
      local B, Q, K = gen_shape()
      local one, three = gen_operand(B, 1, Q, K), three_head(B, Q, K)
      local r1, r3 = ref_of(one), ref_of(three)
      for _, op in ipairs(OPS) do
        local x, y = op[2](one, three), op[2](three, one)
        assert.are.same({ B, 3, Q, K }, x:attention_mask():shape())
        check_ref(x, op[3](r1, r3), op[1] .. " 1x3 case " .. i)
        check_ref(y, op[3](r3, r1), op[1] .. " 3x1 case " .. i)
      end
    end
  end)
  it("1-head & 3-head equals stacking (1-head & head h) per head", function()
    local docs = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 } })
    local h0, h1, h2 = docs:apply_causal(), docs:apply_sliding_window(1), docs:apply_chunked(2)
    local three = maskinfo.stack_heads({ h0, h1, h2 })
    local one = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 0 } }):apply_sliding_window({ 1, 0 })
    local want = maskinfo.stack_heads({ one & h0, one & h1, one & h2 })
    assert.is_true((one & three):equals(want))
    assert.is_true((three & one):equals(want))
  end)
  it("2-head and 3-head operands do not broadcast", function()
    local two = maskinfo.from_attention_mask(gen_bool4(1, 2, 3, 3, 0.5))
    local three = maskinfo.from_attention_mask(gen_bool4(1, 3, 3, 3, 0.5))
    raises("bad argument #2 to '__band' (shapes differ: (1, 2, 3, 3) and (1, 3, 3, 3))", function() return two & three end)
  end)
  it("~ keeps the number of heads", function()
    local three = maskinfo.from_attention_mask(gen_bool4(2, 3, 4, 5, 0.5))
    assert.are.same({ 2, 3, 4, 5 }, (~three):attention_mask():shape())
  end)
end)

---------------------------------------------------------------- errors

describe("algebra errors", function()
  local a = maskinfo.from_segments({ { 0, 0, 1, 1, 1 } })
  local small = maskinfo.from_segments({ { 0, 0 } })
  it("mismatched shapes in & raise with both shapes", function()
    raises("bad argument #2 to '__band' (shapes differ: (1, 1, 5, 5) and (1, 1, 2, 2))", function() return a & small end)
  end)
  it("mismatched shapes in | and - raise", function()
    raises("bad argument #2 to '__bor' (shapes differ: (1, 1, 5, 5) and (1, 1, 2, 2))", function() return a | small end)
    raises("bad argument #2 to '__sub' (shapes differ: (1, 1, 5, 5) and (1, 1, 2, 2))", function() return a - small end)
  end)
  it("mismatched batch sizes raise", function()
    local b2 = maskinfo.from_segments({ { 0, 0, 1, 1, 1 }, { 0, 0, 1, 1, 1 } })
    raises("bad argument #2 to '__band' (shapes differ: (1, 1, 5, 5) and (2, 1, 5, 5))", function() return a & b2 end)
  end)
  it("cross shapes (Q != K) must match exactly", function()
    local c1 = maskinfo.from_segments({ { 0, 0, 0 } }, { { 0, 0, 0, 0 } })
    local c2 = maskinfo.from_segments({ { 0, 0, 0, 0 } }, { { 0, 0, 0 } })
    raises("bad argument #2 to '__bor' (shapes differ: (1, 1, 3, 4) and (1, 1, 4, 3))", function() return c1 | c2 end)
  end)
  it("a non-MaskInfo operand raises naming its position", function()
    raises("bad argument #2 to '__band' (MaskInfo expected, got number)", function() return a & 1 end)
    raises("bad argument #1 to '__band' (MaskInfo expected, got number)", function() return 1 & a end)
    raises("bad argument #2 to '__sub' (MaskInfo expected, got table)", function() return a - {} end)
  end)
end)

---------------------------------------------------------------- segment ids and flags

describe("segment ids and flags of algebra results", function()
  local ids = { { 0, 0, 0, 1, 1, -1 } }
  local docs = maskinfo.from_segments(ids)
  it("operands that store identical ids keep them", function()
    local x = docs:apply_causal() & docs:apply_sliding_window(1)
    assert.are.same(ids, x:q_segment_ids():totable())
    assert.are.same(ids, x:kv_segment_ids():totable())
    assert.truthy(tostring(x):find("q_segment_ids.shape=(1, 6)", 1, true))
  end)
  it("ids are compared by value: separately built equal ids are kept", function()
    local x = maskinfo.from_segments(ids):apply_causal() | maskinfo.from_segments({ { 0, 0, 0, 1, 1, -1 } })
    assert.truthy(tostring(x):find("q_segment_ids", 1, true))
    assert.are.same(ids, x:q_segment_ids():totable())
  end)
  it("operands with different ids drop them (ids are then derived from the mask)", function()
    local other = maskinfo.from_segments({ { 0, 0, 1, 1, 1, 1 } })
    for _, x in ipairs({ docs & other, docs | other, docs - other }) do
      assert.is_nil(tostring(x):find("segment_ids", 1, true))
      local q, kv = R.mask_to_segment_ids(ref_of(x))
      assert.are.same(q, x:q_segment_ids():totable())
      assert.are.same(kv, x:kv_segment_ids():totable())
    end
  end)
  it("an operand without stored ids (from_random) leaves & the other's ids, | drops them", function()
    local r = maskinfo.from_random(1, 6, 6, 0.3, 5)
    assert.are.same(ids, (docs & r):q_segment_ids():totable())
    assert.is_nil(tostring(docs | r):find("segment_ids", 1, true))
  end)
  it("~a drops the ids (the complement of a segment mask is not one)", function()
    local x = ~docs
    assert.is_nil(tostring(x):find("segment_ids", 1, true))
    assert.are.same(R.mask_to_segment_ids(ref_of(x)), x:q_segment_ids():totable())
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 6, 6), self_attn=True)", tostring(x))
  end)
  it("binary results OR the baked-in flags", function()
    local x = docs:apply_causal() & docs:apply_sliding_window(2)
    assert.are.same({ causal = true, sliding_window = true, chunked = false, token_type_ids = false }, x:baked_in_masks())
    local y = docs:apply_chunked(2) | docs
    assert.are.same({ causal = false, sliding_window = false, chunked = true, token_type_ids = false }, y:baked_in_masks())
  end)
  it("~a clears the flags", function()
    assert.are.same({ causal = false, sliding_window = false, chunked = false, token_type_ids = false },
      (~docs:apply_causal():apply_sliding_window(1)):baked_in_masks())
  end)
  it("the result takes further ops like any MaskInfo", function()
    local x = (docs:apply_causal() | docs:apply_sliding_window(1)):apply_chunked(3)
    local s = R.chunked(R.bor(R.causal(R.from_segments(ids)), R.sliding_window(R.from_segments(ids), 1)), 3)
    s.q_ids, s.kv_ids = nil, nil
    check_ref(x, s, "chain after |")
    -- identical ids were kept by |, so chunk ids take padding from them
    assert.are.same({ { 1, 1, 1, 2, 2, -1 } }, x:q_segment_ids():totable())
  end)
end)

---------------------------------------------------------------- documents

describe("documents through the algebra", function()
  local docs = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 } })
  local causal = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 0 } }):apply_causal()
  local window = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 0 } }):apply_sliding_window({ 1, 0 })

  local function same_documents(x, y, what)
    assert.are.same(y:q_segment_ids():totable(), x:q_segment_ids():totable(), what .. ": q ids")
    assert.are.same(y:kv_segment_ids():totable(), x:kv_segment_ids():totable(), what .. ": kv ids")
    local xq, xk = x:get_or_compute_positions()
    local yq, yk = y:get_or_compute_positions()
    assert.are.same(yq:totable(), xq:totable(), what .. ": q positions")
    assert.are.same(yk:totable(), xk:totable(), what .. ": kv positions")
    local xcq, xck = x:get_or_compute_qkv_cu_seqlens()
    local ycq, yck = y:get_or_compute_qkv_cu_seqlens()
    assert.are.same(ycq:totable(), xcq:totable(), what .. ": cu_seqlens_q")
    assert.are.same(yck:totable(), xck:totable(), what .. ": cu_seqlens_kv")
    assert.is_true(x:equals(y), what .. ": cells")
  end

  it("docs & causal equals docs:apply_causal() in ids, positions and cu_seqlens, either way round", function()
    same_documents(docs & causal, docs:apply_causal(), "docs & causal")
    same_documents(causal & docs, docs:apply_causal(), "causal & docs")
    assert.are.same({ { 0, 1, 2, 0, 1, 2 } }, (docs & causal):q_position_ids():totable())
    assert.are.same({ 0, 3, 6 }, { table.unpack((docs & causal):cu_seqlens_q():totable(), 1, 3) })
  end)

  it("a - b keeps a's documents; b's alone are not kept", function()
    same_documents(docs - window, docs & ~window, "docs - window")
    assert.are.same({ { 0, 0, 0, 1, 1, 1 } }, (docs - window):q_segment_ids():totable())
    local x = causal - docs
    assert.is_nil(tostring(x):find("segment_ids", 1, true))
  end)

  it("a | b keeps documents only when both store equal ids", function()
    local x = docs | causal
    assert.is_nil(tostring(x):find("segment_ids", 1, true))
    local y = docs:apply_causal() | docs:apply_sliding_window({ 0, 1 })
    assert.are.same({ { 0, 0, 0, 1, 1, 1 } }, y:q_segment_ids():totable())
  end)

  it("an operand without stored ids leaves & the other's documents and positions", function()
    local pos = { { 7, 8, 9, 0, 1, 2 } }
    local d = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 } }, { q_positions = pos, kv_positions = pos })
    local r = maskinfo.from_random(1, 6, 6, 0.5, 3)
    for _, x in ipairs({ d & r, r & d }) do
      assert.are.same({ { 0, 0, 0, 1, 1, 1 } }, x:q_segment_ids():totable())
      assert.are.same(pos, (x:get_or_compute_positions()):totable())
      check_ref(x, R.band(ref_of(d), ref_of(r)), "documents & random")
    end
  end)

  it("positions leave with the ids they came with", function()
    local pos = { { 5, 6, 7, 8, 9, 10 } }
    local p = maskinfo.from_segments({ { 0, 0, 1, 1, 2, 2 } }, { q_positions = pos, kv_positions = pos })
    local x = p & docs -- two different sets of documents: none kept
    assert.is_nil(tostring(x):find("segment_ids", 1, true))
    assert.are_not.same(pos, (x:get_or_compute_positions()):totable())
  end)

  it("trivial ids on both sides are still kept when equal", function()
    local x = causal & window
    assert.are.same({ { 0, 0, 0, 0, 0, 0 } }, x:q_segment_ids():totable())
  end)
end)

---------------------------------------------------------------- compactness

describe("structured operands stay compact", function()
  local docs = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1, 1, 2, 2, -1 } })
  local a, b = docs:apply_causal(), docs:apply_sliding_window({ 2, 0 })
  for _, c in ipairs({
    { "a & b", function() return a & b end },
    { "a | b", function() return a | b end },
    { "a - b", function() return a - b end },
    { "~a", function() return ~a end },
    { "~(a & b) | a", function() return ~(a & b) | a end },
  }) do
    it(c[1] .. " of structured masks is not dense", function()
      local m = stored_mask(c[2]())
      assert.is_false(m:is_dense())
    end)
  end
end)
