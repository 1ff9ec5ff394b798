-- Property tests over random shapes (seeded, deterministic): round trips between segment ids
-- and masks, between cu_seqlens and masks, from_attention_mask(m):attention_mask() == m,
-- dtype round trips, and count() against the dense mask.  Every case is checked against a
-- small pure-Lua reference written here; failure messages name the seed and the case.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local R = dofile(here .. "/helpers/dense_ref.lua")
local maskinfo = require("maskinfo")

local F32_LOWEST = -3.4028234663852886e38
local CASES = 40

---------------------------------------------------------------- references

local function rint(lo, hi) return math.random(lo, hi) end

-- Random (B, L) ids: packed documents, scattered ids, or padding-style, with -1 padding.
local function rand_ids(B, L)
  local style = rint(1, 3)
  local ids = {}
  for b = 1, B do
    local row = {}
    if style == 1 then -- packed documents then padding
      local seg, j = rint(0, 3), 1
      local pad_from = L - rint(0, L // 2)
      while j <= L do
        local len = rint(1, math.max(1, L // 2))
        for _ = 1, len do
          if j > L then break end
          row[j] = j > pad_from and -1 or seg
          j = j + 1
        end
        seg = seg + rint(1, 3)
      end
    elseif style == 2 then -- scattered ids
      for j = 1, L do row[j] = rint(-1, 4) end
    else -- padding style
      for j = 1, L do row[j] = (math.random() < 0.7) and 0 or -1 end
    end
    ids[b] = row
  end
  return ids
end

-- (B, 1, Q, K) nested booleans: same id and not padding.
local function ref_seg_mask(q, kv)
  local out = {}
  for b = 1, #q do
    local plane = {}
    for i = 1, #q[b] do
      local row = {}
      for j = 1, #kv[b] do row[j] = q[b][i] >= 0 and q[b][i] == kv[b][j] end
      plane[i] = row
    end
    out[b] = { plane }
  end
  return out
end

-- Random (B, Q, K) and (B, H, Q, K) masks, one math.random() per cell.
local function rand_mask3(B, Q, K, p) return R.random_mask(1, B, Q, K, p)[1] end
local rand_mask4 = R.random_mask

local function count_true(t)
  if type(t) == "boolean" then return t and 1 or 0 end
  local n = 0
  for _, v in ipairs(t) do n = n + count_true(v) end
  return n
end

-- Random (start, end) pairs in [0, L], start <= end; some empty.
local function rand_cu(B, L)
  local cu = {}
  for b = 1, B do
    local s = rint(0, L)
    local e = rint(s, L)
    if math.random() < 0.15 then e = s end
    cu[2 * b - 1], cu[2 * b] = s, e
  end
  return cu
end

-- What qkv_masks_to_cu_seqlens gives back for cu: empty ranges become (0, 0).
local function normalized(cu)
  local out = {}
  for i = 1, #cu, 2 do
    if cu[i] < cu[i + 1] then
      out[i], out[i + 1] = cu[i], cu[i + 1]
    else
      out[i], out[i + 1] = 0, 0
    end
  end
  return out
end

-- The seed's _positions_from_segments_2d for one row.
local function ref_positions(row, pad)
  local out, prev, cnt = {}, -2, -1
  for j, s in ipairs(row) do
    if s < 0 then
      out[j], prev, cnt = pad, -2, -1
    else
      if s ~= prev then cnt = 0 else cnt = cnt + 1 end
      out[j], prev = cnt, s
    end
  end
  return out
end

-- The columns of a (Q, K) nested plane, as K rows.
local function columns(plane, K)
  local cols = {}
  for c = 1, K do
    cols[c] = {}
    for r = 1, #plane do cols[c][r] = plane[r][c] end
  end
  return cols
end

-- ids must group the vectors the seed's way: equal vectors share an id, all-false ones get
-- -1, and ids are numbered 0, 1, ... by first appearance.
local function check_grouping(vectors, ids, what)
  local keys, next_id = {}, 0
  for r, v in ipairs(vectors) do
    local parts = {}
    for j, x in ipairs(v) do parts[j] = x and "1" or "0" end
    local key = table.concat(parts)
    if not key:find("1", 1, true) then
      assert.are.equal(-1, ids[r], what .. ": an empty vector gets -1 (index " .. (r - 1) .. ")")
    elseif keys[key] == nil then
      assert.are.equal(next_id, ids[r], what .. ": first appearance gets the next id (index " .. (r - 1) .. ")")
      keys[key], next_id = next_id, next_id + 1
    else
      assert.are.equal(keys[key], ids[r], what .. ": equal vectors share an id (index " .. (r - 1) .. ")")
    end
  end
end

local function case_name(seed, i, what)
  return ("seed %d case %d: %s"):format(seed, i, what)
end

local function for_cases(seed, fn)
  math.randomseed(seed)
  for i = 1, CASES do fn(i) end
end

---------------------------------------------------------------- segment ids <-> masks

describe("property: segment ids -> mask -> mask_to_segment_ids", function()
  for _, seed in ipairs({ 11, 12, 13, 14 }) do
    it(("self-attention ids induce the same mask after the round trip (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, L = rint(1, 3), rint(1, 14)
        local ids = rand_ids(B, L)
        local mask = maskinfo.segment_ids_to_mask(ids)
        assert.are.same(ref_seg_mask(ids, ids), mask:totable(), case_name(seed, i, "segment_ids_to_mask vs reference"))
        local q, kv = maskinfo.mask_to_segment_ids(mask)
        assert.are.same({ B, L }, q:shape())
        assert.is_true(maskinfo.segment_ids_to_mask(q, kv) == mask, case_name(seed, i, "ids from the mask induce it"))
      end)
    end)

    it(("the new ids are numbered by first appearance, -1 exactly at padding (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, L = rint(1, 3), rint(1, 14)
        local ids = rand_ids(B, L)
        local q = maskinfo.mask_to_segment_ids(maskinfo.segment_ids_to_mask(ids)):totable()
        for b = 1, B do
          local next_id, seen = 0, {}
          for j = 1, L do
            local orig, new = ids[b][j], q[b][j]
            if orig < 0 then
              assert.are.equal(-1, new, case_name(seed, i, "padding stays -1"))
            elseif seen[orig] == nil then
              assert.are.equal(next_id, new, case_name(seed, i, "first appearance gets the next id"))
              seen[orig], next_id = new, next_id + 1
            else
              assert.are.equal(seen[orig], new, case_name(seed, i, "same segment, same id"))
            end
          end
        end
      end)
    end)
  end

  for _, seed in ipairs({ 21, 22, 23 }) do
    it(("cross-attention (Q != K): q ids group equal rows, kv ids equal columns, by first appearance (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, Q, K = rint(1, 3), rint(1, 10), rint(1, 10)
        local q, kv = rand_ids(B, Q), rand_ids(B, K)
        local mask = maskinfo.segment_ids_to_mask(q, kv)
        local mt = mask:totable()
        assert.are.same(ref_seg_mask(q, kv), mt, case_name(seed, i, "segment_ids_to_mask vs reference"))
        local q2, kv2 = maskinfo.mask_to_segment_ids(mask)
        local qt, kt = q2:totable(), kv2:totable()
        for b = 1, B do
          local plane = mt[b][1]
          check_grouping(plane, qt[b], case_name(seed, i, "rows of batch " .. (b - 1)))
          check_grouping(columns(plane, K), kt[b], case_name(seed, i, "columns of batch " .. (b - 1)))
        end
      end)
    end)
  end

  for _, seed in ipairs({ 31, 32, 33 }) do
    it(("arbitrary 3-D masks: rows share an id iff equal, empty rows get -1 (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, Q, K = rint(1, 2), rint(1, 9), rint(1, 9)
        -- few distinct rows, so that equal rows actually occur
        local m, protos = {}, {}
        for r = 1, 3 do protos[r] = rand_mask3(1, 1, K, 0.5)[1][1] end
        protos[4] = rand_mask3(1, 1, K, 0)[1][1]
        for b = 1, B do
          m[b] = {}
          for r = 1, Q do m[b][r] = protos[rint(1, 4)] end
        end
        local q, kv = maskinfo.mask_to_segment_ids(m)
        local qt, kt = q:totable(), kv:totable()
        for b = 1, B do
          check_grouping(m[b], qt[b], case_name(seed, i, "rows of batch " .. (b - 1)))
          check_grouping(columns(m[b], K), kt[b], case_name(seed, i, "columns of batch " .. (b - 1)))
        end
      end)
    end)
  end

  it("from_segments(ids):attention_mask() matches the reference for random ids", function()
    for_cases(41, function(i)
      local B, L = rint(1, 3), rint(1, 12)
      local ids = rand_ids(B, L)
      assert.are.same(ref_seg_mask(ids, ids), maskinfo.from_segments(ids):attention_mask():totable(), case_name(41, i, "mask"))
    end)
  end)

  it("segment_ids_to_qkv_masks agrees with segment_ids_to_mask and the validity", function()
    for_cases(42, function(i)
      local B, Q, K = rint(1, 3), rint(1, 10), rint(1, 10)
      local q, kv = rand_ids(B, Q), rand_ids(B, K)
      local qm, km, m = maskinfo.segment_ids_to_qkv_masks(q, kv)
      assert.is_true(m == maskinfo.segment_ids_to_mask(q, kv), case_name(42, i, "mask"))
      local qt = qm:totable()
      for b = 1, B do
        for j = 1, Q do assert.are.equal(q[b][j] ~= -1, qt[b][j], case_name(42, i, "q validity")) end
      end
      local kt = km:totable()
      for b = 1, B do
        for j = 1, K do assert.are.equal(kv[b][j] ~= -1, kt[b][j], case_name(42, i, "kv validity")) end
      end
    end)
  end)

  it("q_position_ids and get_or_compute_positions match the seed's scan", function()
    for_cases(43, function(i)
      local B, L = rint(1, 3), rint(1, 14)
      local ids = rand_ids(B, L)
      local m = maskinfo.from_segments(ids)
      local qp, kp = m:get_or_compute_positions()
      local want_q, want_k = {}, {}
      for b = 1, B do
        want_q[b] = ref_positions(ids[b], -1)
        want_k[b] = ref_positions(ids[b], 2147483647)
      end
      assert.are.same(want_q, m:q_position_ids():totable(), case_name(43, i, "q_position_ids"))
      assert.are.same(want_q, qp:totable(), case_name(43, i, "q positions"))
      assert.are.same(want_k, kp:totable(), case_name(43, i, "kv positions"))
    end)
  end)
end)

---------------------------------------------------------------- cu_seqlens <-> masks

describe("property: cu_seqlens -> masks -> cu_seqlens", function()
  for _, seed in ipairs({ 51, 52, 53 }) do
    it(("qkv_cu_seqlens_to_qkv_masks then qkv_masks_to_cu_seqlens gives the pairs back (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, Lq, Lk = rint(1, 4), rint(0, 12), rint(0, 12)
        local cq, ck = rand_cu(B, Lq), rand_cu(B, Lk)
        local qm, km = maskinfo.qkv_cu_seqlens_to_qkv_masks(cq, { max_q_len = Lq, cu_seqlens_kv = ck, max_kv_len = Lk })
        assert.are.same({ B, Lq }, qm:shape())
        assert.are.same({ B, Lk }, km:shape())
        local q2, k2 = maskinfo.qkv_masks_to_cu_seqlens(qm, km)
        assert.are.same(normalized(cq), q2:totable(), case_name(seed, i, "cu_q"))
        assert.are.same(normalized(ck), k2:totable(), case_name(seed, i, "cu_kv"))
      end)
    end)
  end

  it("cu_seqlens_to_mask marks exactly the tokens in [start, end)", function()
    for_cases(54, function(i)
      local B, L = rint(1, 4), rint(0, 12)
      local cu = rand_cu(B, L)
      local m = maskinfo.cu_seqlens_to_mask(cu, L):totable()
      for b = 1, B do
        for j = 1, L do
          local pos = j - 1
          assert.are.equal(pos >= cu[2 * b - 1] and pos < cu[2 * b], m[b][j], case_name(54, i, "token " .. pos))
        end
      end
    end)
  end)

  for _, seed in ipairs({ 61, 62 }) do
    it(("attention_mask_to_qkv_cu_seqlens recovers the pairs of outer-product masks (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, Lq, Lk = rint(1, 3), rint(1, 10), rint(1, 10)
        local cq, ck = rand_cu(B, Lq), rand_cu(B, Lk)
        local mask = maskinfo.qkv_cu_seqlens_to_attention_mask(cq, { max_q_len = Lq, cu_seqlens_kv = ck, max_kv_len = Lk })
        local wq, wk = {}, {}
        for b = 1, B do
          local nonempty = cq[2 * b - 1] < cq[2 * b] and ck[2 * b - 1] < ck[2 * b]
          wq[2 * b - 1], wq[2 * b] = nonempty and cq[2 * b - 1] or 0, nonempty and cq[2 * b] or 0
          wk[2 * b - 1], wk[2 * b] = nonempty and ck[2 * b - 1] or 0, nonempty and ck[2 * b] or 0
        end
        local q, k = maskinfo.attention_mask_to_qkv_cu_seqlens(mask)
        assert.are.same(wq, q:totable(), case_name(seed, i, "cu_q"))
        assert.are.same(wk, k:totable(), case_name(seed, i, "cu_kv"))
      end)
    end)
  end

  it("with heads repeated, every reduce_heads mode gives the same pairs", function()
    for_cases(63, function(i)
      local B, L = rint(1, 3), rint(1, 8)
      local cu = rand_cu(B, L)
      local m3 = maskinfo.qkv_cu_seqlens_to_attention_mask(cu, { max_q_len = L }):totable()
      local m4 = {}
      for b = 1, B do m4[b] = { m3[b][1], m3[b][1] } end
      local want = maskinfo.attention_mask_to_qkv_cu_seqlens(m3)
      for _, mode in ipairs({ "any", "all", "first" }) do
        assert.is_true(maskinfo.attention_mask_to_qkv_cu_seqlens(m4, { reduce_heads = mode }) == want, case_name(63, i, mode))
      end
    end)
  end)

  it("from_cu_seqlens keeps the pairs and implies the outer-product mask", function()
    for_cases(64, function(i)
      local B, L = rint(1, 3), rint(1, 10)
      local cu = rand_cu(B, L)
      local m = maskinfo.from_cu_seqlens(cu, { max_q_len = L })
      assert.are.same(cu, m:cu_seqlens_q():totable(), case_name(64, i, "stored pairs"))
      assert.is_true(m:attention_mask() == maskinfo.qkv_cu_seqlens_to_attention_mask(cu, { max_q_len = L }), case_name(64, i, "mask"))
    end)
  end)
end)

---------------------------------------------------------------- masks

describe("property: from_attention_mask(m):attention_mask() == m", function()
  for _, seed in ipairs({ 71, 72 }) do
    it(("random 3-D masks come back as (B, 1, Q, K) (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, Q, K = rint(1, 3), rint(1, 9), rint(1, 9)
        local m = rand_mask3(B, Q, K, math.random())
        local want = {}
        for b = 1, B do want[b] = { m[b] } end
        assert.are.same(want, maskinfo.from_attention_mask(m):attention_mask():totable(), case_name(seed, i, "mask"))
      end)
    end)

    it(("random 4-D masks come back unchanged (seed %d)"):format(seed), function()
      for_cases(seed, function(i)
        local B, H, Q, K = rint(1, 2), rint(1, 3), rint(1, 7), rint(1, 7)
        local m = rand_mask4(B, H, Q, K, math.random())
        assert.are.same(m, maskinfo.from_attention_mask(m):attention_mask():totable(), case_name(seed, i, "mask"))
      end)
    end)
  end

  it("mask_is_valid=false gives the complement", function()
    for_cases(73, function(i)
      local m = rand_mask3(rint(1, 2), rint(1, 6), rint(1, 6), 0.5)
      local a = maskinfo.from_attention_mask(m):attention_mask():totable()
      local b = maskinfo.from_attention_mask(m, { mask_is_valid = false }):attention_mask():totable()
      for x = 1, #a do
        for r = 1, #a[x][1] do
          for c = 1, #a[x][1][r] do
            assert.are.equal(not a[x][1][r][c], b[x][1][r][c], case_name(73, i, "cell"))
          end
        end
      end
    end)
  end)

  it("ids of a 3-D mask mark the rows and columns that take part", function()
    for_cases(74, function(i)
      local B, Q, K = rint(1, 2), rint(1, 7), rint(1, 7)
      local m = rand_mask3(B, Q, K, 0.2)
      local mi = maskinfo.from_attention_mask(m)
      local q, kv = mi:q_segment_ids():totable(), mi:kv_segment_ids():totable()
      for b = 1, B do
        for r = 1, Q do assert.are.equal(count_true(m[b][r]) > 0 and 0 or -1, q[b][r], case_name(74, i, "q id")) end
        for c = 1, K do
          local any = false
          for r = 1, Q do any = any or m[b][r][c] end
          assert.are.equal(any and 0 or -1, kv[b][c], case_name(74, i, "kv id"))
        end
      end
    end)
  end)
end)

describe("property: dtype round trips", function()
  local DT = { "bool", "int32", "float32", "float16", "bfloat16" }

  it("to_dtype(dt):attention_mask('bool') is the original mask for every dtype", function()
    for_cases(81, function(i)
      local m = maskinfo.from_attention_mask(rand_mask4(rint(1, 2), rint(1, 2), rint(1, 6), rint(1, 6), 0.5))
      local ref = m:attention_mask()
      for _, dt in ipairs(DT) do
        local c = m:to_dtype(dt)
        assert.are.equal(dt, c:attention_mask():dtype(), case_name(81, i, dt))
        assert.is_true(c:attention_mask("bool") == ref, case_name(81, i, dt))
        assert.is_true(m:attention_mask() == ref, case_name(81, i, "receiver unchanged after " .. dt))
      end
    end)
  end)

  it("attention_mask(dt):astype('bool') and from_attention_mask(attention_mask(dt)) round trip", function()
    for_cases(82, function(i)
      local B, L = rint(1, 3), rint(1, 10)
      local m = maskinfo.from_segments(rand_ids(B, L))
      local ref = m:attention_mask()
      for _, dt in ipairs(DT) do
        local a = m:attention_mask(dt)
        assert.is_true(a:astype("bool") == ref, case_name(82, i, dt))
        assert.is_true(maskinfo.from_attention_mask(a):attention_mask() == ref, case_name(82, i, "from " .. dt))
      end
    end)
  end)

  it("int32 Arrays of small integers survive float16, bfloat16 and float32", function()
    for_cases(83, function(i)
      local n = rint(1, 20)
      local vals = {}
      for j = 1, n do vals[j] = rint(-256, 256) end
      local a = maskinfo.Array.new("int32", { n }, vals)
      for _, dt in ipairs({ "float32", "float16", "bfloat16" }) do
        assert.is_true(a:astype(dt):astype("int32") == a, case_name(83, i, dt))
      end
    end)
  end)

  it("bias is 0 exactly where the mask allows, float32 lowest elsewhere", function()
    for_cases(84, function(i)
      local m = maskinfo.from_attention_mask(rand_mask3(rint(1, 2), rint(1, 6), rint(1, 6), 0.5))
      local mask, bias = m:attention_mask():flat(), m:bias():flat()
      for j = 1, #mask do
        assert.are.equal(mask[j] and 0 or F32_LOWEST, bias[j], case_name(84, i, "cell " .. (j - 1)))
      end
    end)
  end)
end)

describe("property: count() equals the true cells of attention_mask()", function()
  it("for random masks, with per-head counts", function()
    for_cases(91, function(i)
      local B, H = rint(1, 2), rint(1, 3)
      local m4 = rand_mask4(B, H, rint(1, 8), rint(1, 8), math.random())
      local m = maskinfo.from_attention_mask(m4)
      local total, per = m:count()
      assert.are.equal(count_true(m:attention_mask():totable()), total, case_name(91, i, "total"))
      local pt = per:totable()
      for b = 1, B do
        for h = 1, H do assert.are.equal(count_true(m4[b][h]), pt[b][h], case_name(91, i, "per head")) end
      end
    end)
  end)

  it("for random segment ids", function()
    for_cases(92, function(i)
      local B, L = rint(1, 3), rint(1, 14)
      local ids = rand_ids(B, L)
      local m = maskinfo.from_segments(ids)
      assert.are.equal(count_true(ref_seg_mask(ids, ids)), (m:count()), case_name(92, i, "total"))
    end)
  end)

  it("for random cu_seqlens", function()
    for_cases(93, function(i)
      local B, L = rint(1, 3), rint(1, 10)
      local cu = rand_cu(B, L)
      local want = 0
      for b = 1, B do want = want + (cu[2 * b] - cu[2 * b - 1]) ^ 2 end
      assert.are.equal(want, (maskinfo.from_cu_seqlens(cu, { max_q_len = L }):count()), case_name(93, i, "total"))
    end)
  end)

  it("density is count over cells", function()
    for_cases(94, function(i)
      local B, Q, K = rint(1, 2), rint(1, 8), rint(1, 8)
      local m = maskinfo.from_random(B, Q, K, math.random(), i)
      assert.are.equal((m:count()) / (B * Q * K), m:density(), case_name(94, i, "density"))
    end)
  end)
end)
