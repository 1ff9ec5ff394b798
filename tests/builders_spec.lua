-- The constructors for ML inputs (maskinfo.builders): causal, full,
-- from_lengths, from_packed_cu_seqlens, from_tree and image_runs.  Each is
-- compared with the MaskInfo from_segments (or a brute-force reference)
-- gives, in mask, ids, positions and cu_seqlens; bad input is refused with
-- the function and argument named; a million tokens cost no Lua memory.
local mi = require("maskinfo")
local testing = require("maskinfo.testing")

local function flat(a)
  local t = {}
  for i, v in ipairs(a:flat()) do t[i] = v == true and 1 or (v == false and 0 or v) end
  return t
end

-- Same mask, ids, positions and cu_seqlens.
local function same_as(a, b)
  assert.is_true(a:equals(b))
  assert.are.same(flat(b:q_segment_ids()), flat(a:q_segment_ids()))
  assert.are.same(flat(b:kv_segment_ids()), flat(a:kv_segment_ids()))
  local ap, ak = a:get_or_compute_positions()
  local bp, bk = b:get_or_compute_positions()
  assert.are.same(flat(bp), flat(ap))
  assert.are.same(flat(bk), flat(ak))
  assert.are.same(flat(b:cu_seqlens_q()), flat(a:cu_seqlens_q()))
end

local function zeros(n) local t = {} for i = 1, n do t[i] = 0 end return t end

describe("causal and full", function()
  it("causal(n) is from_segments of one document with apply_causal", function()
    same_as(mi.causal(6), mi.from_segments({ zeros(6) }):apply_causal())
    assert.are.same(mi.from_segments({ zeros(6) }):apply_causal():baked_in_masks(), mi.causal(6):baked_in_masks())
    testing.assert_equals(mi.causal(5, { batch = 2 }), function(_, _, q, k) return k <= q end)
    assert.are.equal(2, (mi.causal(5, { batch = 2 }):shape()))
  end)

  it("causal with kv_len puts the queries at the end of the keys", function()
    local m = mi.causal(3, { kv_len = 7 })
    local B, Q, K = m:shape()
    assert.are.same({ 1, 3, 7 }, { B, Q, K })
    testing.assert_equals(m, function(_, _, q, k) return k <= q + 4 end)
    local qp, kp = m:get_or_compute_positions()
    assert.are.same({ 4, 5, 6 }, flat(qp))
    assert.are.same({ 0, 1, 2, 3, 4, 5, 6 }, flat(kp))
  end)

  it("full(q, k) allows every cell", function()
    local m = mi.full(3, 5)
    local _, Q, K = m:shape()
    assert.are.same({ 3, 5 }, { Q, K })
    assert.are.equal(15, m:count())
    same_as(mi.full(4), mi.from_segments({ zeros(4) }))
    assert.are.equal(3, (mi.full(2, { batch = 3 }):shape()))
  end)

  it("refuses bad sizes, naming the function and the argument", function()
    assert.has_error(function() mi.causal(-1) end, "bad argument #1 to 'causal' (n must be >= 0, got -1)")
    assert.has_error(function() mi.causal(2.5) end, "bad argument #1 to 'causal' (n: integer expected, got 2.5)")
    assert.has_error(function() mi.causal(4, { kv_len = 2 }) end,
      "bad argument #2 to 'causal' (kv_len must be >= 4, got 2)")
    assert.has_error(function() mi.causal(4, { windwo = 2 }) end,
      "bad argument #2 to 'causal' (unknown option 'windwo' (expected one of: batch, kv_len))")
    assert.has_error(function() mi.full(2, -3) end, "bad argument #2 to 'full' (k must be >= 0, got -3)")
  end)

  it("a mistyped length is refused by the guard at once", function()
    local t0 = os.clock()
    local ok, err = pcall(mi.causal, 99999999999)
    assert.is_false(ok)
    assert.matches("^causal: segment ids of 99999999999 elements needs [%d.]+ %a+: over the memory guard %(limit ", err)
    assert.is_true(os.clock() - t0 < 0.5)
  end)
end)

describe("from_lengths", function()
  it("equals from_segments of the same documents", function()
    same_as(mi.from_lengths({ 3, 2, 4 }), mi.from_segments({ { 0, 0, 0, 1, 1, 2, 2, 2, 2 } }))
    same_as(mi.from_lengths({ 3, 2 }, { pad_to = 7 }), mi.from_segments({ { 0, 0, 0, 1, 1, -1, -1 } }))
    same_as(mi.from_lengths({ 2, 0, 1 }), mi.from_segments({ { 0, 0, 2 } }))
    same_as(mi.from_lengths({ 2, 3 }):apply_causal(), mi.from_segments({ { 0, 0, 1, 1, 1 } }):apply_causal())
  end)

  it("a list of lists is a batch, padded to the longest row", function()
    local m = mi.from_lengths({ { 2, 2 }, { 3 } })
    assert.are.same({ 0, 0, 1, 1, 0, 0, 0, -1 }, flat(m:q_segment_ids()))
    same_as(m, mi.from_segments({ { 0, 0, 1, 1 }, { 0, 0, 0, -1 } }))
  end)

  it("keeps the documents through algebra with causal", function()
    local docs = mi.from_lengths({ 3, 3 })
    local c = docs:apply_causal()
    assert.are.same({ 0, 1, 2, 0, 1, 2 }, flat((c:get_or_compute_positions())))
    testing.assert_equals(c, function(_, _, q, k) return k <= q and q // 3 == k // 3 end)
  end)

  it("refuses bad lengths and a short pad_to", function()
    assert.has_error(function() mi.from_lengths({ 3, -1 }) end,
      "bad argument #1 to 'from_lengths' (lengths[2]: non-negative integer expected, got -1)")
    assert.has_error(function() mi.from_lengths({ 3, 1.5 }) end,
      "bad argument #1 to 'from_lengths' (lengths[2]: non-negative integer expected, got 1.5)")
    assert.has_error(function() mi.from_lengths({ { 1 }, { 2, "x" } }) end,
      "bad argument #1 to 'from_lengths' (lengths[2][2]: non-negative integer expected, got string)")
    assert.has_error(function() mi.from_lengths(5) end,
      "bad argument #1 to 'from_lengths' (lengths: list of document lengths expected, got number)")
    assert.has_error(function() mi.from_lengths({ 4, 4 }, { pad_to = 7 }) end,
      "bad argument #2 to 'from_lengths' (pad_to (7) is shorter than the documents of a row (8 tokens))")
    assert.has_error(function() mi.from_lengths({ 4 }, { pad = 7 }) end,
      "bad argument #2 to 'from_lengths' (unknown option 'pad' (expected one of: pad_to))")
  end)

  it("refuses a size over the memory guard before allocating", function()
    local prev = mi.set_memory_limit(4096)
    local ok, err = pcall(mi.from_lengths, { 100000 })
    mi.set_memory_limit(0)
    assert.is_true(prev > 4096)
    assert.is_false(ok)
    assert.matches("^from_lengths: segment ids of 100000 elements needs [%d.]+ %a+: over the memory guard %(limit 4.0 KiB", err)
  end)

  it("a million tokens keep (almost) no Lua memory and take little time", function()
    collectgarbage()
    local before = collectgarbage("count")
    local t0 = os.clock()
    local m = mi.from_lengths({ 300000, 250000, 498576 }):apply_causal()
    local c = mi.causal(1048576)
    local elapsed = os.clock() - t0
    collectgarbage() -- the binding's scratch is garbage by now; what stays is C memory
    local grew_kib = collectgarbage("count") - before
    assert.is_true(grew_kib < 256, ("Lua heap grew by %.0f KiB"):format(grew_kib))
    assert.is_true(elapsed < 2, ("took %.2f s"):format(elapsed))
    local want = 0
    for _, n in ipairs({ 300000, 250000, 498576 }) do want = want + n * (n + 1) // 2 end
    assert.are.equal(want, (m:count()))
    assert.are.equal(1048576 * 1048577 // 2, (c:count()))
  end)
end)

describe("from_packed_cu_seqlens", function()
  it("reads flash-attn's offsets as documents of one row", function()
    local m = mi.from_packed_cu_seqlens({ 0, 5, 12, 16 })
    local B, Q = m:shape()
    assert.are.same({ 1, 16 }, { B, Q })
    local want = { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2 }
    same_as(m, mi.from_segments({ want }))
    same_as(mi.from_packed_cu_seqlens(mi.Array.from({ 0, 5, 12, 16 })), m)
  end)

  it("takes key offsets with as many documents", function()
    local m = mi.from_packed_cu_seqlens({ 0, 2, 3 }, { 0, 4, 6 })
    local _, Q, K = m:shape()
    assert.are.same({ 3, 6 }, { Q, K })
    assert.are.same({ 0, 0, 0, 0, 1, 1 }, flat(m:kv_segment_ids()))
    testing.assert_equals(m, function(_, _, q, k) return (q < 2) == (k < 4) end)
  end)

  it("refuses offsets that are not flash-attn's", function()
    assert.has_error(function() mi.from_packed_cu_seqlens({ 1, 5 }) end,
      "bad argument #1 to 'from_packed_cu_seqlens' (cu_seqlens[0]: the first offset must be 0, got 1)")
    assert.has_error(function() mi.from_packed_cu_seqlens({ 0, 5, 3, 8 }) end,
      "bad argument #1 to 'from_packed_cu_seqlens' (cu_seqlens[2]: offsets must not decrease, got 3 after 5)")
    assert.has_error(function() mi.from_packed_cu_seqlens({ 0, 9, 8 }) end,
      "bad argument #1 to 'from_packed_cu_seqlens' (cu_seqlens[1]: 9 is past the last offset (8))")
    assert.has_error(function() mi.from_packed_cu_seqlens({}) end,
      "bad argument #1 to 'from_packed_cu_seqlens' (cu_seqlens[0]: at least one offset (0) expected)")
    assert.has_error(function() mi.from_packed_cu_seqlens({ 0, 2 }, { 0, 1, 2 }) end,
      "bad argument #2 to 'from_packed_cu_seqlens' (cu_seqlens_kv has 2 documents, cu_seqlens has 1)")
    assert.has_error(function() mi.from_packed_cu_seqlens({ 0, 1.5 }) end)
  end)
end)

describe("from_tree", function()
  local medusa = { -1, 0, 0, 1, 1, 1, 2, 2, 2 }

  local function ancestor(parents, q, k)
    local j = q
    while j >= 0 do
      if j == k then return true end
      j = parents[j + 1]
    end
    return false
  end

  it("each node attends to itself and its ancestors", function()
    testing.assert_equals(mi.from_tree(medusa), function(_, _, q, k) return ancestor(medusa, q, k) end)
    local forest = { -1, -1, 0, 1, 2, 2, -1, 6 }
    local m = mi.from_tree(forest)
    testing.assert_equals(m, function(_, _, q, k) return ancestor(forest, q, k) end)
    assert.are.same({ 0, 1, 0, 1, 0, 0, 2, 2 }, flat(m:q_segment_ids()))
    assert.are.same({ 0, 0, 1, 1, 2, 2, 0, 1 }, flat((m:get_or_compute_positions())))
  end)

  it("after a prefix every node sees the prefix and sits at prefix + depth", function()
    local m = mi.from_tree(medusa, { prefix = 4 })
    local _, Q, K = m:shape()
    assert.are.same({ 9, 13 }, { Q, K })
    testing.assert_equals(m, function(_, _, q, k) return k < 4 or ancestor(medusa, q, k - 4) end)
    local qp, kp = m:get_or_compute_positions()
    assert.are.same({ 4, 5, 5, 6, 6, 6, 6, 6, 6 }, flat(qp))
    assert.are.same({ 0, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6 }, flat(kp))
  end)

  it("a chain is causal", function()
    local chain = {}
    for i = 1, 200 do chain[i] = i - 2 end
    assert.is_true(mi.from_tree(chain):equals(mi.causal(200)))
  end)

  it("refuses parents that do not come first", function()
    assert.has_error(function() mi.from_tree({ -1, 0, 3, 1 }) end,
      "bad argument #1 to 'from_tree' (parents[2]: -1 or an earlier node (< 2) expected, got 3)")
    assert.has_error(function() mi.from_tree({ -1, -5 }) end,
      "bad argument #1 to 'from_tree' (parents[1]: -1 or an earlier node (< 1) expected, got -5)")
    assert.has_error(function() mi.from_tree({ -1 }, { prefix = -1 }) end,
      "bad argument #2 to 'from_tree' (prefix must be >= 0, got -1)")
    assert.has_error(function() mi.from_tree("x") end)
  end)
end)

describe("image_runs", function()
  it("numbers each run of image tokens per row", function()
    assert.are.same({ { 0, 1, 1, 0, 2, 2, 0 } }, mi.image_runs({ 0, 1, 1, 0, 1, 1, 0 }):totable())
    assert.are.same({ { 1, 1, 0 }, { 0, 1, 0 } }, mi.image_runs({ { 1, 1, 0 }, { 0, 1, 0 } }):totable())
    assert.are.same({ { 0, 1, 2, 2 } }, mi.image_runs({ 0, 1, 2, 2 }):totable())
  end)

  it("with token types, an image does not see a later image", function()
    local types = { 0, 1, 1, 0, 1, 1, 0 }
    local runs = mi.image_runs(types)
    local m = mi.causal(7):apply_token_type_ids(runs)
    local r = runs:flat()
    testing.assert_equals(m, function(_, _, q, k) return k <= q or (r[q + 1] > 0 and r[q + 1] == r[k + 1]) end)
    assert.is_false(m:allowed(0, 0, 1, 4)) -- image 1 does not see image 2
    assert.is_true(m:allowed(0, 0, 1, 2)) -- but the rest of its own image
    -- with the raw 0/1 types, the first image would see the second
    assert.is_true(mi.causal(7):apply_token_type_ids(types):allowed(0, 0, 1, 4))
  end)

  it("refuses negative types", function()
    assert.has_error(function() mi.image_runs({ 0, 1, -1 }) end,
      "bad argument #1 to 'image_runs' (token_type_ids[2]: types must be >= 0 (0 is text))")
  end)
end)

describe("int_list", function()
  it("reads comma-separated integers (recipe list parameters)", function()
    assert.are.same({ 3000, 2500, 2692 }, mi.int_list("3000,2500,2692"))
    assert.are.same({ 1, 2, 4 }, mi.int_list(" 1, 2,4 "))
    assert.are.same({ 7 }, mi.int_list("7", { min = 1 }))
  end)

  it("names the list, the item and the bound", function()
    assert.has_error(function() mi.int_list("1,,2", { min = 0, what = "lengths" }) end,
      "bad argument #1 to 'int_list' (lengths '1,,2': item 2 () is not an integer >= 0)")
    assert.has_error(function() mi.int_list("1,-2", { min = 0 }) end,
      "bad argument #1 to 'int_list' (list '1,-2': item 2 (-2) is not an integer >= 0)")
    assert.has_error(function() mi.int_list("1.5") end,
      "bad argument #1 to 'int_list' (list '1.5': item 1 (1.5) is not an integer)")
    assert.has_error(function() mi.int_list(12) end,
      "bad argument #1 to 'int_list' (comma-separated integers expected, got number)")
  end)
end)
