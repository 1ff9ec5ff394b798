-- The mask-shaping ops (apply_causal, apply_sliding_window, apply_chunked,
-- apply_token_type_ids, apply_kv_lengths) against a naive dense reference
-- (tests/helpers/dense_ref.lua) on random shapes, ids, padding, offsets,
-- windows and per-batch parameters; chains of ops; the seed's docstring
-- examples; baked-in flags; immutability; per-head windows; error messages.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local R = dofile(here .. "/helpers/dense_ref.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local rnd = math.random

-- The exact error text (see helpers/errors.lua).
local raises = E.raises

---------------------------------------------------------------- generators

-- Segment ids for one row of length L: documents (runs) with non-contiguous
-- ids, or scattered ids, with padding at the end, the start or in the middle.
local POOL = { 0, 1, 2, 3, 5, 7, 12, 40 }
local function gen_row(L)
  local row = {}
  local style = rnd(4)
  if style <= 2 then
    local j = 1
    while j <= L do
      local id = POOL[rnd(#POOL)]
      local n = rnd(1, 6)
      for _ = 1, n do
        if j > L then break end
        row[j] = id
        j = j + 1
      end
    end
  else
    for j = 1, L do row[j] = POOL[rnd(4)] end
  end
  local pad = rnd(4)
  if pad == 1 then -- trailing padding
    for j = L - rnd(0, L // 2), L do if j >= 1 then row[j] = -1 end end
  elseif pad == 2 then -- leading padding
    for j = 1, rnd(0, L // 2) do row[j] = -1 end
  elseif pad == 3 then -- scattered padding
    for j = 1, L do if rnd(5) == 1 then row[j] = -1 end end
  end
  return row
end

local function gen_ids(B, L)
  local t = {}
  for b = 1, B do t[b] = gen_row(L) end
  return t
end

local gen_bool4 = R.random_mask

local function gen_positions(B, L)
  local t = {}
  for b = 1, B do
    t[b] = {}
    for j = 1, L do t[b][j] = rnd(0, 50) end
  end
  return t
end

-- A random base MaskInfo and its reference state.
local function gen_base()
  local B, Q = rnd(1, 3), rnd(1, 20)
  local kind = rnd(6)
  if kind <= 2 then
    local ids = gen_ids(B, Q)
    return maskinfo.from_segments(ids), R.from_segments(ids), "self segments"
  elseif kind == 3 then
    local K = rnd(1, 20)
    local q, kv = gen_ids(B, Q), gen_ids(B, K)
    return maskinfo.from_segments(q, kv), R.from_segments(q, kv), "cross segments"
  elseif kind == 4 then
    local K = rnd(1, 20)
    local q, kv = gen_ids(B, Q), gen_ids(B, K)
    local qp, kp = gen_positions(B, Q), gen_positions(B, K)
    local mi = maskinfo.from_segments(q, kv, { q_positions = qp, kv_positions = kp })
    return mi, R.with_positions(R.from_segments(q, kv), qp, kp), "segments with positions"
  elseif kind == 5 then
    local K = rnd(1, 20)
    local mi = maskinfo.from_random(B, Q, K, rnd() * 0.8, rnd(0, 1000))
    return mi, R.of(mi), "from_random"
  else
    local K, H = rnd(1, 20), rnd(1, 2)
    local m = gen_bool4(B, H, Q, K, 0.6)
    return maskinfo.from_attention_mask(m), R.from_attention_mask4(m), "from_attention_mask"
  end
end

local function gen_offset(B, lo, hi)
  if rnd(2) == 1 then return rnd(lo, hi) end
  local t = {}
  for b = 1, B do t[b] = rnd(lo, hi) end
  return t
end

local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do
    parts[#parts + 1] = (type(k) == "number" and "" or (k .. "=")) .. show(x)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- Random parameters for each op, as {ref = function(s) ..., api = function(mi) ..., desc = }.
local gen_op = {}

function gen_op.causal(s)
  local off = gen_offset(s.B, -4, 4)
  if rnd(5) == 1 then off = nil end
  return {
    desc = "apply_causal(" .. show(off) .. ")",
    ref = function(x) return R.causal(x, off) end,
    api = function(mi) return mi:apply_causal(off) end,
  }
end

-- Slicing ops keep the positions of the tokens they keep (docs/decisions.md,
-- "Slices keep positions"): the stored positions sliced, or those the stored
-- ids give before the slice.  A side with neither keeps deriving them.
local function keep_positions(s, t, qs, qlen, ks, klen)
  local ids = s.q_ids and s.kv_ids
  local qp, kp = R.get_positions(s)
  if qs and (s.q_pos or ids) then t.q_pos = R.slice_rows(qp, qs, qlen) end
  if ks and (s.kv_pos or ids) then t.kv_pos = R.slice_rows(kp, ks, klen) end
  return t
end

-- The reference sliding window, with the slices' positions kept.
local function ref_window(x, w, opts)
  local t = R.sliding_window(x, w, opts)
  local mode = opts.mode or "default"
  if mode == "default" then return t end
  local l, r = w, w
  if type(w) == "table" then l, r = w[1], w[2] end
  local qs, ks = {}, {}
  if mode == "decode" then
    local idx = R.per_batch(opts.index, x.B)
    local width = math.min(l + r + 1, x.K)
    for b = 1, x.B do
      qs[b] = R.clip(idx[b], 0, x.Q - 1)
      ks[b] = R.clip(qs[b] - l, 0, math.max(x.K - width, 0))
    end
    return keep_positions(x, t, qs, 1, ks, width)
  end
  local width = type(w) == "number" and math.min(l, x.K) or math.min(l + r + 1, x.K)
  for b = 1, x.B do ks[b] = math.max(x.K - width, 0) end
  return keep_positions(x, t, nil, nil, ks, width)
end

function gen_op.window(s)
  local w
  if rnd(2) == 1 then w = rnd(0, 6) else w = { rnd(0, 6), rnd(0, 6) } end
  local modes = { "default", "decode", "prefill", false }
  local mode = modes[rnd(4)] or nil
  local opts = {}
  if rnd(2) == 1 then opts.offset = gen_offset(s.B, -3, 3) end
  if mode then opts.mode = mode end
  if mode == "decode" then
    if rnd(2) == 1 then
      opts.index = rnd(-3, s.Q + 3)
    else
      opts.index = {}
      for b = 1, s.B do opts.index[b] = rnd(-3, s.Q + 3) end
    end
  end
  if mode == "prefill" and type(w) == "number" and w == 0 then w = 1 end
  return {
    desc = "apply_sliding_window(" .. show(w) .. ", " .. show(opts) .. ")",
    ref = function(x) return ref_window(x, w, opts) end,
    api = function(mi) return mi:apply_sliding_window(w, opts) end,
  }
end

function gen_op.chunked(s)
  local c = rnd(1, 7)
  local off = nil
  local r = rnd(3)
  if r == 1 then off = rnd(-2, 3) elseif r == 2 then off = gen_offset(s.B, -2, 3) end
  return {
    desc = ("apply_chunked(%d, %s)"):format(c, show(off)),
    ref = function(x) return R.chunked(x, c, off) end,
    api = function(mi) return mi:apply_chunked(c, off) end,
  }
end

local function gen_types(B, L)
  local t = {}
  for b = 1, B do
    t[b] = {}
    for j = 1, L do t[b][j] = rnd(0, 3) end
  end
  return t
end

function gen_op.token_types(s)
  local types = gen_types(s.B, s.Q)
  local opts = {}
  if s.Q ~= s.K or rnd(3) == 1 then opts.kv_token_type_ids = gen_types(s.B, s.K) end
  local combines = { "union", "intersect", "replace", false }
  local policies = { "q", "kv", "both", "none", false }
  opts.combine = combines[rnd(4)] or nil
  opts.zero_policy = policies[rnd(5)] or nil
  local u = rnd(3)
  if u == 1 then opts.update_segment_ids = true elseif u == 2 then opts.update_segment_ids = false end
  return {
    desc = "apply_token_type_ids(" .. show(types) .. ", " .. show(opts) .. ")",
    ref = function(x) return R.token_type_ids(x, types, opts) end,
    api = function(mi) return mi:apply_token_type_ids(types, opts) end,
  }
end

function gen_op.kv_lengths(s)
  local lens
  if rnd(3) == 1 then
    lens = rnd(0, s.K + 2)
  else
    lens = {}
    for b = 1, s.B do lens[b] = rnd(0, s.K + 2) end
  end
  local opts = { q_len = rnd(1, s.Q) }
  if rnd(2) == 1 then opts.sliding_window = rnd(1, s.K + 2) end
  return {
    desc = "apply_kv_lengths(" .. show(lens) .. ", " .. show(opts) .. ")",
    ref = function(x)
      local t = R.kv_lengths(x, lens, opts)
      local L, qs, ks = R.per_batch(lens, x.B), {}, nil
      local width = x.K
      for b = 1, x.B do qs[b] = R.clip(L[b] - opts.q_len, 0, math.max(x.Q - opts.q_len, 0)) end
      if opts.sliding_window then
        width, ks = math.min(opts.sliding_window, x.K), {}
        for b = 1, x.B do ks[b] = R.clip(L[b] - width, 0, math.max(x.K - width, 0)) end
      end
      return keep_positions(x, t, qs, opts.q_len, ks, width)
    end,
    api = function(mi) return mi:apply_kv_lengths(lens, opts) end,
  }
end

---------------------------------------------------------------- checks

-- Everything observable about the mask and its ids must match the reference.
local function check(mi, s, ctx)
  local ok, msg = R.compare_mask(mi:attention_mask():totable(), s)
  assert(ok, ctx .. ": mask: " .. tostring(msg) .. "\nwant:\n" .. R.mask_string(s))
  local wq, wkv = R.segment_ids(s)
  ok, msg = R.compare_rows(mi:q_segment_ids():totable(), wq, "q_segment_ids")
  assert(ok, ctx .. ": " .. tostring(msg))
  ok, msg = R.compare_rows(mi:kv_segment_ids():totable(), wkv, "kv_segment_ids")
  assert(ok, ctx .. ": " .. tostring(msg))
  local gp, gk = mi:get_or_compute_positions()
  local rp, rk = R.get_positions(s)
  ok, msg = R.compare_rows(gp:totable(), rp, "q_positions")
  assert(ok, ctx .. ": " .. tostring(msg))
  ok, msg = R.compare_rows(gk:totable(), rk, "kv_positions")
  assert(ok, ctx .. ": " .. tostring(msg))
  local B, Q, K = mi:shape()
  assert(B == s.B and Q == s.Q and K == s.K,
    ("%s: shape() = %s, %s, %s; want %d, %d, %d"):format(ctx, tostring(B), tostring(Q), tostring(K), s.B, s.Q, s.K))
  local f = mi:baked_in_masks()
  for k, v in pairs(s.flags) do
    assert(f[k] == v, ("%s: baked_in_masks().%s = %s, want %s"):format(ctx, k, tostring(f[k]), tostring(v)))
  end
end

local function run_cases(op, seed, n)
  math.randomseed(seed)
  for i = 1, n do
    local mi, s, kind = gen_base()
    local o = gen_op[op](s)
    local ctx = ("seed %d case %d: %s (B=%d, H=%d, Q=%d, K=%d) :%s"):format(seed, i, kind, s.B, s.H, s.Q, s.K, o.desc)
    check(o.api(mi), o.ref(s), ctx)
  end
end

---------------------------------------------------------------- random cases per op

local OPS = { "causal", "window", "chunked", "token_types", "kv_lengths" }
local OP_NAMES = { causal = "apply_causal", window = "apply_sliding_window", chunked = "apply_chunked",
  token_types = "apply_token_type_ids", kv_lengths = "apply_kv_lengths" }

for _, op in ipairs(OPS) do
  describe(OP_NAMES[op] .. " vs the dense reference", function()
    for seed = 1, 10 do
      it(("12 random cases (seed %d): mask, segment ids, positions, shape, flags"):format(seed), function()
        run_cases(op, 1000 * #op + seed, 12)
      end)
    end
  end)
end

describe("chains of ops vs the dense reference", function()
  for seed = 1, 12 do
    it(("8 random chains of 2-4 ops (seed %d)"):format(seed), function()
      math.randomseed(7000 + seed)
      for i = 1, 8 do
        local mi, s, kind = gen_base()
        local descs = {}
        for _ = 1, rnd(2, 4) do
          local op = OPS[rnd(#OPS)]
          -- keep shapes usable: kv_lengths / decode need at least one row
          if s.Q == 0 or s.K == 0 then break end
          local o = gen_op[op](s)
          descs[#descs + 1] = o.desc
          mi, s = o.api(mi), o.ref(s)
          check(mi, s, ("seed %d chain %d: %s :%s"):format(seed, i, kind, table.concat(descs, " -> ")))
        end
      end
    end)
  end
end)

---------------------------------------------------------------- hand-checked cases

local function rows_of(mi, b, h)
  local t = mi:attention_mask():totable()[(b or 0) + 1][(h or 0) + 1]
  local out = {}
  for q, row in ipairs(t) do
    local r = {}
    for k, v in ipairs(row) do r[k] = v and "1" or "." end
    out[q] = table.concat(r)
  end
  return out
end

local six = { { 1, 1, 1, 1, 1, 1 } }

describe("seed docstring examples for the ops", function()
  it("apply_causal() on [[1,1,1,1]] is the lower triangle", function()
    local mi = maskinfo.from_segments({ { 1, 1, 1, 1 } }):apply_causal()
    assert.are.same({ "1...", "11..", "111.", "1111" }, rows_of(mi))
  end)

  it("apply_causal(offset=[0,1,2]) on a batch of 3: row b may see b keys ahead", function()
    local mi = maskinfo.from_segments({ { 1, 1, 1, 1 }, { 1, 1, 1, 1 }, { 1, 1, 1, 1 } }):apply_causal({ 0, 1, 2 })
    assert.are.same({ "1...", "11..", "111.", "1111" }, rows_of(mi, 0))
    assert.are.same({ "11..", "111.", "1111", "1111" }, rows_of(mi, 1))
    assert.are.same({ "111.", "1111", "1111", "1111" }, rows_of(mi, 2))
  end)

  it("apply_causal(offset=[0,1,2]) on a batch-1 mask raises (the seed broadcasts silently)", function()
    local mi = maskinfo.from_segments({ { 1, 1, 1, 1 } })
    raises("bad argument #1 to 'apply_causal' (offset: an integer or one per batch row (1) expected, got 3 values)", function() mi:apply_causal({ 0, 1, 2 }) end)
  end)

  it("baked_in_masks after from_segments([[1,1,1]]):apply_causal()", function()
    assert.are.same({ causal = true, sliding_window = false, chunked = false, token_type_ids = false },
      maskinfo.from_segments({ { 1, 1, 1 } }):apply_causal():baked_in_masks())
  end)

  it("apply_sliding_window(2) on six tokens: a band of width 2 either side", function()
    assert.are.same({ "111...", "1111..", "11111.", ".11111", "..1111", "...111" },
      rows_of(maskinfo.from_segments(six):apply_sliding_window(2)))
  end)

  it("apply_sliding_window({3, 1}): 3 left, 1 right", function()
    assert.are.same({ "11....", "111...", "1111..", "11111.", ".11111", "..1111" },
      rows_of(maskinfo.from_segments(six):apply_sliding_window({ 3, 1 })))
  end)

  it("apply_sliding_window(3, decode, index=5): one row, width min(7, 6) = 6, keys 2..5 allowed", function()
    local mi = maskinfo.from_segments(six):apply_sliding_window(3, { mode = "decode", index = 5 })
    assert.are.same({ "..1111" }, rows_of(mi))
    assert.are.same({ { 1 } }, mi:q_segment_ids():totable())
    assert.are.same(six, mi:kv_segment_ids():totable())
    assert.are.same({ 1, 1, 1, 6 }, mi:attention_mask():shape())
  end)

  it("apply_sliding_window(3, decode, index=[5,7,3]) on a batch of 3: 7 is clipped to 5", function()
    local mi = maskinfo.from_segments({ six[1], six[1], six[1] })
      :apply_sliding_window(3, { mode = "decode", index = { 5, 7, 3 } })
    assert.are.same({ "..1111" }, rows_of(mi, 0))
    assert.are.same({ "..1111" }, rows_of(mi, 1))
    assert.are.same({ "111111" }, rows_of(mi, 2))
  end)

  it("apply_sliding_window(4, prefill): keeps the last min(4, 6) keys", function()
    local mi = maskinfo.from_segments(six):apply_sliding_window(4, { mode = "prefill" })
    assert.are.same({ 1, 1, 6, 4 }, mi:attention_mask():shape())
    assert.are.same({ "111.", "1111", "1111", "1111", "1111", "1111" }, rows_of(mi))
    assert.are.same({ { 1, 1, 1, 1 } }, mi:kv_segment_ids():totable())
    assert.are.same(six, mi:q_segment_ids():totable())
  end)

  it("apply_chunked(2) on [[1,1,1,1,-1]]: causal within chunks, ids become chunk + 1, padding stays -1", function()
    local mi = maskinfo.from_segments({ { 1, 1, 1, 1, -1 } }):apply_chunked(2)
    assert.are.same({ "1....", "11...", "..1..", "..11.", "....." }, rows_of(mi))
    assert.are.same({ { 1, 1, 2, 2, -1 } }, mi:q_segment_ids():totable())
    assert.are.same({ { 1, 1, 2, 2, -1 } }, mi:kv_segment_ids():totable())
  end)

  it("apply_token_type_ids union (default): base OR (same type and query type != 0); ids kept", function()
    local mi = maskinfo.from_segments({ { 0, 0, 1, 1 } }):apply_token_type_ids({ { 0, 2, 2, 0 } })
    assert.are.same({ "11..", "111.", ".111", "..11" }, rows_of(mi))
    assert.are.same({ { 0, 0, 1, 1 } }, mi:q_segment_ids():totable())
  end)

  it("apply_token_type_ids replace: only the type mask; ids are the types with 0 -> -1", function()
    local mi = maskinfo.from_segments({ { 0, 0, 1, 1 } })
      :apply_token_type_ids({ { 0, 2, 2, 0 } }, { combine = "replace" })
    assert.are.same({ "....", ".11.", ".11.", "...." }, rows_of(mi))
    assert.are.same({ { -1, 2, 2, -1 } }, mi:q_segment_ids():totable())
  end)

  it("apply_kv_lengths(3, q_len=2): keys >= 3 masked, the rows kept are 1..2", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 0, 0 } }):apply_causal():apply_kv_lengths(3, { q_len = 2 })
    assert.are.same({ "11...", "111.." }, rows_of(mi))
  end)

  it("apply_kv_lengths(4, q_len=2, sliding_window=3): keys 1..3 kept", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 0, 0 } }):apply_causal():apply_kv_lengths(4, { q_len = 2, sliding_window = 3 })
    assert.are.same({ "11.", "111" }, rows_of(mi))
  end)
end)

---------------------------------------------------------------- flags

describe("baked_in_masks per op", function()
  local base = maskinfo.from_segments({ { 0, 0, 1, 1, -1 } })
  local none = { causal = false, sliding_window = false, chunked = false, token_type_ids = false }
  local function with(k)
    local t = {}
    for a, v in pairs(none) do t[a] = v end
    if k then t[k] = true end
    return t
  end
  it("a fresh MaskInfo has no flags", function()
    assert.are.same(none, base:baked_in_masks())
  end)
  it("apply_causal sets causal only", function()
    assert.are.same(with("causal"), base:apply_causal():baked_in_masks())
  end)
  it("apply_sliding_window sets sliding_window in every mode", function()
    assert.are.same(with("sliding_window"), base:apply_sliding_window(1):baked_in_masks())
    assert.are.same(with("sliding_window"), base:apply_sliding_window(1, { mode = "decode", index = 2 }):baked_in_masks())
    assert.are.same(with("sliding_window"), base:apply_sliding_window(2, { mode = "prefill" }):baked_in_masks())
  end)
  it("apply_chunked sets chunked only", function()
    assert.are.same(with("chunked"), base:apply_chunked(2):baked_in_masks())
  end)
  it("apply_token_type_ids sets token_type_ids only", function()
    assert.are.same(with("token_type_ids"), base:apply_token_type_ids({ { 1, 1, 0, 0, 1 } }):baked_in_masks())
  end)
  it("apply_kv_lengths sets no flag", function()
    assert.are.same(none, base:apply_kv_lengths(4, { q_len = 2 }):baked_in_masks())
  end)
  it("flags accumulate along a chain", function()
    local b = base:apply_causal():apply_sliding_window(2):apply_chunked(3):baked_in_masks()
    assert.are.same({ causal = true, sliding_window = true, chunked = true, token_type_ids = false }, b)
  end)
  it("tostring lists the baked-in flags in the seed's order", function()
    assert.are.equal(
      "MaskInfo(attention_mask.shape=(1, 1, 5, 5), q_segment_ids.shape=(1, 5), kv_segment_ids.shape=(1, 5), "
        .. "self_attn=True, baked_in=['causal', 'chunked'])",
      tostring(base:apply_chunked(2):apply_causal()))
  end)
end)

---------------------------------------------------------------- immutability

describe("ops never change the receiver", function()
  local function snapshot(mi)
    return { tostring(mi), mi:attention_mask():totable(), mi:q_segment_ids():totable(),
      mi:kv_segment_ids():totable(), mi:baked_in_masks() }
  end
  local cases = {
    { "apply_causal", function(mi) return mi:apply_causal(1) end },
    { "apply_sliding_window", function(mi) return mi:apply_sliding_window({ 1, 0 }) end },
    { "apply_sliding_window decode", function(mi) return mi:apply_sliding_window(1, { mode = "decode", index = 3 }) end },
    { "apply_sliding_window prefill", function(mi) return mi:apply_sliding_window(2, { mode = "prefill" }) end },
    { "apply_chunked", function(mi) return mi:apply_chunked(2) end },
    { "apply_token_type_ids", function(mi) return mi:apply_token_type_ids({ { 1, 0, 1, 2, 2, 0 } }, { combine = "replace" }) end },
    { "apply_kv_lengths", function(mi) return mi:apply_kv_lengths(4, { q_len = 2, sliding_window = 3 }) end },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ": the receiver's mask, ids, flags and tostring are unchanged", function()
      local mi = maskinfo.from_segments({ { 3, 3, 3, 8, 8, -1 } })
      local before = snapshot(mi)
      local out = c[2](mi)
      assert.are_not.equal(mi, out)
      assert.are.same(before, snapshot(mi))
      -- and the receiver still takes other ops as before
      assert.are.same(R.from_segments({ { 3, 3, 3, 8, 8, -1 } }).m, mi:attention_mask():totable())
    end)
  end
  it("a stored-mask receiver (from_random) is unchanged by a chain", function()
    local mi = maskinfo.from_random(2, 6, 7, 0.4, 3)
    local before = snapshot(mi)
    mi:apply_causal():apply_sliding_window(2):apply_chunked(3)
    assert.are.same(before, snapshot(mi))
  end)
end)

---------------------------------------------------------------- per-batch parameters

describe("per-batch parameters", function()
  local ids = { { 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0 } }
  it("apply_causal with an offset per batch row equals applying each offset to each row", function()
    local mi = maskinfo.from_segments(ids):apply_causal({ -1, 2 })
    assert.are.same({ ".....", "1....", "11...", "111..", "1111." }, rows_of(mi, 0))
    assert.are.same({ "111..", "1111.", "11111", "11111", "11111" }, rows_of(mi, 1))
  end)
  it("apply_sliding_window with an offset per batch row shifts each row's band", function()
    local mi = maskinfo.from_segments(ids):apply_sliding_window({ 0, 0 }, { offset = { 0, 2 } })
    assert.are.same({ "1....", ".1...", "..1..", "...1.", "....1" }, rows_of(mi, 0))
    assert.are.same({ "..1..", "...1.", "....1", ".....", "....." }, rows_of(mi, 1))
  end)
  it("apply_chunked with an offset per batch row", function()
    local mi = maskinfo.from_segments(ids):apply_chunked(3, { 0, 1 })
    assert.are.same({ "1....", "11...", "111..", "...1.", "...11" }, rows_of(mi, 0))
    assert.are.same({ "11...", "111..", "111..", "...11", "...11" }, rows_of(mi, 1))
  end)
  it("decode with an index per batch row slices each row's ids at its own index", function()
    local mi = maskinfo.from_segments({ { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } }, { { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } })
      :apply_sliding_window({ 1, 0 }, { mode = "decode", index = { 0, 4 } })
    assert.are.same({ { 1 }, { 10 } }, mi:q_segment_ids():totable())
    assert.are.same({ { 1, 2 }, { 9, 10 } }, mi:kv_segment_ids():totable())
    assert.are.same({ "1." }, rows_of(mi, 0))
    assert.are.same({ ".1" }, rows_of(mi, 1))
  end)
  it("apply_kv_lengths with one length per row slices queries per row", function()
    local mi = maskinfo.from_segments({ { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } }):apply_kv_lengths({ 2, 5 }, { q_len = 2 })
    assert.are.same({ { 1, 2 }, { 9, 10 } }, mi:q_segment_ids():totable())
  end)
  it("an Array works as a per-batch offset", function()
    local off = maskinfo.Array.new("int32", { 2 }, { -1, 2 })
    assert.is_true(maskinfo.from_segments(ids):apply_causal(off):equals(maskinfo.from_segments(ids):apply_causal({ -1, 2 })))
  end)
end)

---------------------------------------------------------------- per-head windows

describe("per-head windows", function()
  local ids = { { 0, 0, 0, 0, 0 } }
  it("apply_sliding_window({{1,1},{2,0}}) on a 2-head mask: head 0 symmetric 1, head 1 left 2", function()
    local base = maskinfo.from_segments(ids)
    local two = maskinfo.stack_heads({ base, base:apply_causal(1) })
    local mi = two:apply_sliding_window({ { 1, 1 }, { 2, 0 } })
    assert.are.same({ 1, 2, 5, 5 }, mi:attention_mask():shape())
    assert.are.same({ "11...", "111..", ".111.", "..111", "...11" }, rows_of(mi, 0, 0))
    assert.are.same({ "1....", "11...", "111..", ".111.", "..111" }, rows_of(mi, 0, 1))
    assert.is_true(mi:baked_in_masks().sliding_window)
  end)
  it("per-head windows on a 2-head mask match the reference head by head", function()
    math.randomseed(99)
    for _ = 1, 10 do
      local B, Q, K = rnd(1, 3), rnd(1, 12), rnd(1, 12)
      local m = gen_bool4(B, 2, Q, K, 0.7)
      local w = { { rnd(0, 4), rnd(0, 4) }, rnd(0, 3) }
      local off = gen_offset(B, -2, 2)
      local mi = maskinfo.from_attention_mask(m):apply_sliding_window(w, { offset = off })
      local s = R.sliding_window(R.from_attention_mask4(m), w, { offset = off })
      local ok, msg = R.compare_mask(mi:attention_mask():totable(), s)
      assert(ok, msg)
    end
  end)
  it("per-head windows on a 1-head mask broadcast it to one head per window", function()
    local mi = maskinfo.from_segments(ids):apply_sliding_window({ 0, 1, 2 })
    assert.are.same({ 1, 3, 5, 5 }, mi:attention_mask():shape())
    local s = R.sliding_window(R.from_segments(ids), { 0, 1, 2 })
    assert(R.compare_mask(mi:attention_mask():totable(), s))
    assert.are.same({ "1....", ".1...", "..1..", "...1.", "....1" }, rows_of(mi, 0, 0))
  end)
  it("{3, 1} is one (left, right) window, not two per-head windows", function()
    local mi = maskinfo.from_segments(ids):apply_sliding_window({ 3, 1 })
    assert.are.same({ 1, 1, 5, 5 }, mi:attention_mask():shape())
  end)
  it("a number of windows that differs from the number of heads raises", function()
    local base = maskinfo.from_segments(ids)
    local two = maskinfo.stack_heads({ base, base })
    raises("bad argument #1 to 'apply_sliding_window' (3 per-head windows for a mask with 2 heads)", function() two:apply_sliding_window({ 1, 2, 3 }) end)
  end)
  it("per-head windows with mode decode or prefill raise", function()
    local base = maskinfo.from_segments(ids)
    raises("bad argument #1 to 'apply_sliding_window' (per-head windows are not supported with mode 'decode')", function() base:apply_sliding_window({ { 1, 1 }, { 2, 0 } }, { mode = "decode", index = 1 }) end)
    raises("bad argument #1 to 'apply_sliding_window' (per-head windows are not supported with mode 'prefill')", function() base:apply_sliding_window({ { 1, 1 }, { 2, 0 } }, { mode = "prefill" }) end)
  end)
end)

---------------------------------------------------------------- slicing details

describe("slicing of ids and positions", function()
  it("decode slices given positions: q at the index, kv over the window", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 0 } },
      { q_positions = { { 10, 11, 12, 13, 14, 15 } }, kv_positions = { { 20, 21, 22, 23, 24, 25 } } })
      :apply_sliding_window({ 2, 0 }, { mode = "decode", index = 4 })
    local qp, kp = mi:get_or_compute_positions()
    assert.are.same({ { 14 } }, qp:totable())
    assert.are.same({ { 22, 23, 24 } }, kp:totable())
  end)
  it("decode keeps the positions the ids give (the query at index 5 stays at position 5)", function()
    local mi = maskinfo.from_segments({ { 1, 1, 1, 1, 1, 1 } }):apply_sliding_window(1, { mode = "decode", index = 5 })
    local qp, kp = mi:get_or_compute_positions()
    assert.are.same({ { 5 } }, qp:totable())
    assert.are.same({ { 3, 4, 5 } }, kp:totable())
    assert.are.same({ { 5 } }, mi.q_positions:totable()) -- stored
  end)
  it("decode on a mask-only object keeps deriving positions from the sliced mask", function()
    local mi = maskinfo.from_random(1, 6, 6, 0, 1):apply_sliding_window(1, { mode = "decode", index = 5 })
    assert.is_nil(mi.q_positions)
    assert.is_nil(mi.kv_positions)
  end)
  it("decode clips an index below 0 to 0 and above Q-1 to Q-1", function()
    local ids = { { 1, 2, 3, 4, 5 } }
    local lo = maskinfo.from_segments(ids):apply_sliding_window(1, { mode = "decode", index = -7 })
    local hi = maskinfo.from_segments(ids):apply_sliding_window(1, { mode = "decode", index = 99 })
    assert.are.same({ { 1 } }, lo:q_segment_ids():totable())
    assert.are.same({ { 1, 2, 3 } }, lo:kv_segment_ids():totable())
    assert.are.same({ { 5 } }, hi:q_segment_ids():totable())
    assert.are.same({ { 3, 4, 5 } }, hi:kv_segment_ids():totable())
  end)
  it("decode width is capped at K when the window is wider than the keys", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } }):apply_sliding_window(5, { mode = "decode", index = 1 })
    assert.are.same({ 1, 1, 1, 3 }, mi:attention_mask():shape())
  end)
  it("prefill with an int window keeps w keys, with a pair keeps l + r + 1", function()
    local ids = { { 0, 0, 0, 0, 0, 0, 0, 0 } }
    assert.are.same({ 1, 1, 8, 3 }, maskinfo.from_segments(ids):apply_sliding_window(3, { mode = "prefill" }):attention_mask():shape())
    assert.are.same({ 1, 1, 8, 5 }, maskinfo.from_segments(ids):apply_sliding_window({ 3, 1 }, { mode = "prefill" }):attention_mask():shape())
  end)
  it("prefill slices given kv positions but not q positions", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 0 } }, { q_positions = { { 1, 2, 3, 4 } }, kv_positions = { { 5, 6, 7, 8 } } })
      :apply_sliding_window(2, { mode = "prefill" })
    local qp, kp = mi:get_or_compute_positions()
    assert.are.same({ { 1, 2, 3, 4 } }, qp:totable())
    assert.are.same({ { 7, 8 } }, kp:totable())
  end)
  it("apply_kv_lengths keeps kv ids unmasked and does not slice them without sliding_window", function()
    local mi = maskinfo.from_segments({ { 4, 4, 4, 4, 4 } }):apply_kv_lengths(2, { q_len = 1 })
    assert.are.same({ { 4, 4, 4, 4, 4 } }, mi:kv_segment_ids():totable())
    assert.are.same({ { 4 } }, mi:q_segment_ids():totable())
    assert.are.same({ "11..." }, rows_of(mi))
  end)
  it("apply_kv_lengths slices given positions with the queries and keys it keeps", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 0 } }, { q_positions = { { 1, 2, 3, 4 } }, kv_positions = { { 5, 6, 7, 8 } } })
      :apply_kv_lengths(3, { q_len = 2, sliding_window = 2 })
    local qp, kp = mi:get_or_compute_positions()
    assert.are.same({ { 2, 3 } }, qp:totable())
    assert.are.same({ { 6, 7 } }, kp:totable())
  end)
  it("apply_kv_lengths (decode) keeps the query's position len - 1, per row", function()
    local row = {}
    for j = 1, 12 do row[j] = 0 end
    local pos = { { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 } }
    for _, mi in ipairs({ maskinfo.from_segments({ row, row }), maskinfo.from_segments({ row, row }, { q_positions = pos }) }) do
      local d = mi:apply_kv_lengths({ 12, 7 }, { q_len = 1 })
      assert.are.same({ { 11 }, { 6 } }, (d:get_or_compute_positions()):totable())
      assert.are.same({ 2, 1 }, d.q_positions:shape())
      assert.are.same({ 2, 1, 1, 12 }, d:attention_mask():shape())
    end
  end)
  it("apply_kv_lengths with end_index: the query window ends there and key ids past the lengths become -1", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 }, { 0, 0, 0, 0, 0, 0 } })
    local d = mi:apply_kv_lengths({ 4, 6 }, { q_len = 2, end_index = { 6, 3 } })
    assert.are.same({ { 1, 1 }, { 0, 0 } }, d:q_segment_ids():totable())
    assert.are.same({ { 0, 0, 0, 1, -1, -1 }, { 0, 0, 0, 0, 0, 0 } }, d:kv_segment_ids():totable())
    assert.are.same({ { 1, 2 }, { 1, 2 } }, (d:get_or_compute_positions()):totable())
    assert.are.same({ "...1..", "...1.." }, rows_of(d))
    -- without end_index: the seed's window (ending at the lengths), ids kept
    local s = mi:apply_kv_lengths({ 4, 6 }, { q_len = 2 })
    assert.are.same({ { 0, 1 }, { 0, 0 } }, s:q_segment_ids():totable())
    assert.are.same({ { 0, 0, 0, 1, 1, 1 }, { 0, 0, 0, 0, 0, 0 } }, s:kv_segment_ids():totable())
    raises("bad argument #2 to 'apply_kv_lengths' (end_index: an integer or one per batch row (2) expected, got 3 values)",
      function() mi:apply_kv_lengths(4, { q_len = 1, end_index = { 1, 2, 3 } }) end)
    raises("bad argument #2 to 'apply_kv_lengths' (end_index must be >= 0, got -1)",
      function() mi:apply_kv_lengths(4, { q_len = 1, end_index = -1 }) end)
  end)
  it("apply_kv_lengths with end_index cuts stored per-head (3-D) key ids per batch row", function()
    local per_head = { { { 0, 0, 1, 1, 2 }, { 0, 1, 1, 2, 2 } }, { { 3, 3, 3, -1, 4 }, { 5, -1, 3, 3, 3 } } }
    local ph = maskinfo.from_segments({ { 0, 0, 1, 1, 2 }, { 3, 3, 3, -1, 4 } })
      :apply_sliding_window({ { 1, 0 }, { 2, 0 } }):replace { kv_segment_ids = per_head }
    local kv = ph:kv_segment_ids()
    assert.are.same({ 2, 2, 5 }, kv:shape())
    local lens = { 3, 6 }
    local d = ph:apply_kv_lengths(lens, { q_len = 1, end_index = { 5, 5 } })
    local want = kv:totable()
    for b = 1, 2 do
      for h = 1, 2 do
        for k = 1, 5 do if k > lens[b] then want[b][h][k] = -1 end end
      end
    end
    assert.are.same(want, d:kv_segment_ids():totable())
  end)
  it("apply_kv_lengths with q_len = 0 gives an empty query dimension", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } }):apply_kv_lengths(2, { q_len = 0 })
    assert.are.same({ 1, 1, 0, 3 }, mi:attention_mask():shape())
    assert.are.equal(0, (mi:count()))
  end)
  it("apply_chunked derives padding from the mask when no ids are stored", function()
    local m = { { { { true, false, false }, { false, false, false }, { true, true, true } } } }
    local mi = maskinfo.from_function({ q_len = 3, fn = function(_, _, q, k) return m[1][1][q + 1][k + 1] end })
    local out = mi:apply_chunked(2)
    -- row 1 is empty, columns are all used: q ids {1, -1, 2}, kv ids {1, 1, 2}
    assert.are.same({ { 1, -1, 2 } }, out:q_segment_ids():totable())
    assert.are.same({ { 1, 1, 2 } }, out:kv_segment_ids():totable())
  end)
  it("apply_token_type_ids with update_segment_ids keeps non-zero types as ids (a type 5 is id 5)", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0 } }):apply_token_type_ids({ { 5, 0, 5 } }, { update_segment_ids = true })
    assert.are.same({ { 5, -1, 5 } }, mi:q_segment_ids():totable())
  end)
  it("apply_token_type_ids cross attention with kv_token_type_ids", function()
    local mi = maskinfo.from_segments({ { -1, -1 } }, { { -1, -1, -1 } })
      :apply_token_type_ids({ { 1, 2 } }, { kv_token_type_ids = { { 2, 1, 1 } } })
    assert.are.same({ ".11", "1.." }, rows_of(mi))
  end)
end)

---------------------------------------------------------------- other inputs

describe("ops on other inputs", function()
  local ids = { { 0, 0, 0, 1, 1 } }
  it("a stored float mask (to_dtype float32) is ANDed as bool; the result is bool", function()
    local f = maskinfo.from_segments(ids):to_dtype("float32")
    local x = f:apply_causal()
    assert.are.equal("bool", x:attention_mask():dtype())
    assert.is_true(x:equals(maskinfo.from_segments(ids):apply_causal()))
  end)
  it("per-head (B, H, L) ids: decode slices each head's ids at the index", function()
    local m = maskinfo.from_segments(ids):replace({
      q_segment_ids = { { { 0, 0, 1, 1, 1 }, { 0, 0, 0, 1, 1 } } },
      kv_segment_ids = { { { 0, 0, 1, 1, 1 }, { 0, 0, 0, 1, 1 } } } })
    local x = m:apply_sliding_window(1, { mode = "decode", index = 2 })
    assert.are.same({ { { 1 }, { 0 } } }, x:q_segment_ids():totable())
    assert.are.same({ { { 0, 1, 1 }, { 0, 0, 1 } } }, x:kv_segment_ids():totable())
    assert.are.same({ 1, 2, 1, 3 }, x:attention_mask():shape())
    assert.are.same({ { { { false, true, true } }, { { true, true, false } } } }, x:attention_mask():totable())
  end)
  it("per-head (B, H, L) ids: apply_kv_lengths slices each head's ids", function()
    local m = maskinfo.from_segments(ids):replace({
      q_segment_ids = { { { 0, 0, 1, 1, 1 }, { 0, 0, 0, 1, 1 } } },
      kv_segment_ids = { { { 0, 0, 1, 1, 1 }, { 0, 0, 0, 1, 1 } } } })
    local x = m:apply_kv_lengths(4, { q_len = 2, sliding_window = 2 })
    assert.are.same({ { { 1, 1 }, { 0, 1 } } }, x:q_segment_ids():totable())
    assert.are.same({ { { 1, 1 }, { 0, 1 } } }, x:kv_segment_ids():totable())
  end)
  it("offsets far beyond the sequence give a full or an empty mask", function()
    local m = maskinfo.from_segments({ { 0, 0, 0, 0, 0 } })
    assert.are.equal(25, (m:apply_causal(1 << 40):count()))
    assert.are.equal(0, (m:apply_causal(-(1 << 40)):count()))
    assert.are.equal(25, (m:apply_causal(math.maxinteger):count()))
    assert.are.equal(0, (m:apply_causal(math.mininteger):count()))
    assert.are.equal(0, (m:apply_sliding_window(1, { offset = math.maxinteger }):count()))
    assert.are.equal(25, (m:apply_sliding_window(1 << 40):count()))
  end)
  it("a window of math.maxinteger in decode / prefill acts as a window wider than K (no overflow)", function()
    local m = maskinfo.from_segments({ { 0, 0, 0, 0, 0 } })
    local d = m:apply_sliding_window(math.maxinteger, { mode = "decode", index = 2 })
    assert.is_true(d:equals(m:apply_sliding_window(5, { mode = "decode", index = 2 })))
    local p = m:apply_sliding_window({ math.maxinteger, 1 }, { mode = "prefill" })
    assert.is_true(p:equals(m:apply_sliding_window({ 5, 1 }, { mode = "prefill" })))
  end)
  it("zero-size masks take every op", function()
    local z = maskinfo.from_function({ q_len = 0, kv_len = 0, fn = function() return true end })
    for _, x in ipairs({ z:apply_causal(), z:apply_sliding_window(1), z:apply_sliding_window(1, { mode = "prefill" }),
      z:apply_chunked(2), z:apply_kv_lengths(0, { q_len = 0 }), z & z, ~z }) do
      assert.are.equal(0, (x:count()))
    end
    local z2 = maskinfo.from_function({ q_len = 3, kv_len = 0, fn = function() return true end })
    assert.are.same({ 1, 1, 1, 0 }, z2:apply_sliding_window(1, { mode = "decode", index = 1 }):attention_mask():shape())
  end)
end)

---------------------------------------------------------------- errors

describe("op errors", function()
  local mi = maskinfo.from_segments({ { 0, 0, 1, 1 } })
  local err = raises

  it("a negative window", function()
    err("bad argument #1 to 'apply_sliding_window' (window must be non-negative, got -1)",
      function() mi:apply_sliding_window(-1) end)
  end)
  it("a negative left or right window", function()
    err("bad argument #1 to 'apply_sliding_window' (window must be non-negative, got -3)",
      function() mi:apply_sliding_window({ -3, 1 }) end)
    err("bad argument #1 to 'apply_sliding_window' (window must be non-negative, got -2)",
      function() mi:apply_sliding_window({ 1, -2 }) end)
  end)
  it("a non-integer window names the value", function()
    err("bad argument #1 to 'apply_sliding_window' (window: integer expected, got 2.5)",
      function() mi:apply_sliding_window(2.5) end)
  end)
  it("a window that is not a number or table", function()
    err("bad argument #1 to 'apply_sliding_window' (window: integer, {left, right} or a list of per-head windows expected, got string)",
      function() mi:apply_sliding_window("2") end)
  end)
  it("chunk_size 0 and negative", function()
    err("bad argument #1 to 'apply_chunked' (chunk_size must be a positive integer, got 0)",
      function() mi:apply_chunked(0) end)
    err("bad argument #1 to 'apply_chunked' (chunk_size must be a positive integer, got -4)",
      function() mi:apply_chunked(-4) end)
  end)
  it("a non-integer chunk_size", function()
    err("bad argument #1 to 'apply_chunked' (chunk_size: integer expected, got 1.5)",
      function() mi:apply_chunked(1.5) end)
  end)
  it("decode without index", function()
    err("bad argument #2 to 'apply_sliding_window' (index is required when mode is 'decode')",
      function() mi:apply_sliding_window(1, { mode = "decode" }) end)
  end)
  it("an unknown mode", function()
    err("bad argument #2 to 'apply_sliding_window' (mode must be one of 'default', 'decode', 'prefill', got 'fast')",
      function() mi:apply_sliding_window(1, { mode = "fast" }) end)
  end)
  it("an unknown option", function()
    err("bad argument #2 to 'apply_sliding_window' (unknown option 'idx' (expected one of: index, mode, offset))",
      function() mi:apply_sliding_window(1, { idx = 1 }) end)
  end)
  it("token types of the wrong length", function()
    err("bad argument #1 to 'apply_token_type_ids' (token types have length 3, the mask has 4 queries)",
      function() mi:apply_token_type_ids({ { 1, 1, 1 } }) end)
  end)
  it("kv token types of the wrong length", function()
    err("bad argument #2 to 'apply_token_type_ids' (kv token types have length 2, the mask has 4 keys)",
      function() mi:apply_token_type_ids({ { 1, 1, 1, 1 } }, { kv_token_type_ids = { { 1, 1 } } }) end)
  end)
  it("token types with the wrong batch size", function()
    err("bad argument #1 to 'apply_token_type_ids' (token types have 2 batch rows, the mask has 1)",
      function() mi:apply_token_type_ids({ { 1, 1, 1, 1 }, { 1, 1, 1, 1 } }) end)
  end)
  it("an unknown combine", function()
    err("bad argument #2 to 'apply_token_type_ids' (combine must be one of 'union', 'intersect', 'replace', got 'xor')",
      function() mi:apply_token_type_ids({ { 1, 1, 1, 1 } }, { combine = "xor" }) end)
  end)
  it("an unknown zero_policy", function()
    err("bad argument #2 to 'apply_token_type_ids' (zero_policy must be one of 'q', 'kv', 'both', 'none', got 'all')",
      function() mi:apply_token_type_ids({ { 1, 1, 1, 1 } }, { zero_policy = "all" }) end)
  end)
  it("apply_kv_lengths without q_len", function()
    err("bad argument #2 to 'apply_kv_lengths' (q_len must be provided)",
      function() mi:apply_kv_lengths(3) end)
    err("bad argument #2 to 'apply_kv_lengths' (q_len must be provided)",
      function() mi:apply_kv_lengths(3, {}) end)
  end)
  it("apply_kv_lengths with q_len beyond the queries", function()
    err("bad argument #2 to 'apply_kv_lengths' (q_len (9) exceeds the mask's query length (4))",
      function() mi:apply_kv_lengths(3, { q_len = 9 }) end)
  end)
  it("per-batch parameters of the wrong length", function()
    err("bad argument #1 to 'apply_kv_lengths' (kv_lengths: an integer or one per batch row (1) expected, got 2 values)",
      function() mi:apply_kv_lengths({ 1, 2 }, { q_len = 1 }) end)
    err("bad argument #2 to 'apply_sliding_window' (offset: an integer or one per batch row (1) expected, got 2 values)",
      function() mi:apply_sliding_window(1, { offset = { 0, 1 } }) end)
    err("bad argument #2 to 'apply_sliding_window' (index: an integer or one per batch row (1) expected, got 3 values)",
      function() mi:apply_sliding_window(1, { mode = "decode", index = { 0, 1, 2 } }) end)
    err("bad argument #2 to 'apply_chunked' (offset: an integer or one per batch row (1) expected, got 2 values)",
      function() mi:apply_chunked(2, { 0, 1 }) end)
  end)
  it("a non-integer offset", function()
    err("bad argument #1 to 'apply_causal' (offset: integer expected, got 0.5)",
      function() mi:apply_causal(0.5) end)
  end)
  for _, name in ipairs({ "apply_causal", "apply_sliding_window", "apply_chunked", "apply_token_type_ids",
    "apply_kv_lengths" }) do
    it(name .. " called on a non-MaskInfo (dot instead of colon) names the function and the type", function()
      local m = maskinfo.from_segments({ { 0 } })
      err(("bad argument #1 to '%s' (MaskInfo expected, got table)"):format(name), function() m[name]({}) end)
      err(("bad argument #1 to '%s' (MaskInfo expected, got number)"):format(name), function() m[name](3) end)
    end)
  end
end)
