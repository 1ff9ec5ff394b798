-- The seed's public fields under their names, and the issue 8 items that are
-- not ops: batch broadcasting, upstream's casts, replace{false}, duplicate
-- mesh axes, guard refusals that name size and limit, one rule for numbers,
-- file errors, the debug trace.  (Ops and slices: ops_spec.lua; random
-- chains: invariants_spec.lua.)
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local raises = E.assert_error

describe("the seed's public fields, read-only", function()
  local m = maskinfo.from_segments({ { 0, 0, 1 } }, nil, { q_positions = { { 5, 6, 7 } }, sequence_axis_name = "seq" })

  it("read under the seed's names", function()
    assert.are.same({ { 5, 6, 7 } }, m.q_positions:totable())
    assert.is_nil(m.kv_positions)
    assert.are.same({ "dp", "fsdp" }, m.batch_axis_name)
    assert.are.equal("tp", m.qheads_axis_name)
    assert.are.equal("tp", m.kvheads_axis_name)
    assert.are.equal("seq", m.sequence_axis_name)
    for _, k in ipairs({ "causal_mask_baked_in", "sliding_window_baked_in", "chunked_mask_baked_in",
      "token_type_ids_baked_in" }) do
      assert.is_false(m[k])
    end
    local c = m:apply_causal():apply_chunked(2)
    assert.is_true(c.causal_mask_baked_in)
    assert.is_true(c.chunked_mask_baked_in)
    assert.is_false(c.sliding_window_baked_in)
  end)

  it("an axis name set to None reads false, as replace{} spells it", function()
    assert.is_false(m:replace{ qheads_axis_name = false }.qheads_axis_name)
  end)

  it("a returned axis-name list is a copy: changing it leaves the object alone", function()
    local t = m.batch_axis_name
    t[1] = "changed"
    assert.are.same({ "dp", "fsdp" }, m.batch_axis_name)
  end)

  it("writing a field raises and points to replace", function()
    raises(function() m.q_positions = { { 1, 2, 3 } } end,
      "MaskInfo: field 'q_positions' is read-only; use m:replace{q_positions = ...}, which returns a new MaskInfo")
    raises(function() m.causal_mask_baked_in = true end,
      "MaskInfo: field 'causal_mask_baked_in' is read-only; use m:replace{causal_mask_baked_in = ...}, "
      .. "which returns a new MaskInfo")
    raises(function() m.anything = 1 end,
      "MaskInfo: cannot set 'anything' on a MaskInfo (it is immutable); use m:replace{... = ...}, "
      .. "which returns a new MaskInfo")
    assert.is_false(m.causal_mask_baked_in)
  end)

  it("a closed MaskInfo refuses to read them", function()
    local x = maskinfo.from_segments({ { 0 } })
    getmetatable(x).__close(x)
    raises(function() return x.q_positions end, "q_positions: MaskInfo is closed")
  end)
end)

describe("batch broadcasting (upstream)", function()
  it("from_segments repeats a batch-1 side, so both stored ids have the mask's batch", function()
    local m = maskinfo.from_segments({ { 0, 0, 1 } }, { { 0, 1, 1 }, { 1, 1, -1 } })
    assert.are.same({ { 0, 0, 1 }, { 0, 0, 1 } }, m:q_segment_ids():totable())
    assert.are.same({ 2, 1, 3, 3 }, m:attention_mask():shape())
    local p = maskinfo.from_segments({ { 1, 0 } }, { { 1, 1 }, { 0, 1 } }, { is_attn_mask = true })
    assert.are.same({ { 0, -1 }, { 0, -1 } }, p:q_segment_ids():totable())
    assert.are.same({ { 0, 0 }, { -1, 0 } }, p:kv_segment_ids():totable())
  end)

  it("segment_ids_to_mask and qkv_cu_seqlens_to_attention_mask broadcast the mask", function()
    local a = maskinfo.segment_ids_to_mask({ { 0, 1 } }, { { 0, 1 }, { 1, 1 } })
    assert.are.same({ { { { true, false }, { false, true } } }, { { { false, false }, { true, true } } } }, a:totable())
    local q, kv, mask = maskinfo.segment_ids_to_qkv_masks({ { 0, 1 } }, { { 0, 1 }, { 1, 1 } })
    assert.are.same({ 1, 2 }, q:shape())
    assert.are.same({ 2, 2 }, kv:shape())
    assert.are.same({ 2, 1, 2, 2 }, mask:shape())
    local c = maskinfo.qkv_cu_seqlens_to_attention_mask({ 0, 1 }, { max_q_len = 2, cu_seqlens_kv = { 0, 2, 1, 2 } })
    assert.are.same({ { { { true, true }, { false, false } } }, { { { false, true }, { false, false } } } }, c:totable())
  end)

  it("qkv_masks_to_cu_seqlens and qkv_cu_seqlens_to_qkv_masks keep each side's batch", function()
    local cq, ck = maskinfo.qkv_masks_to_cu_seqlens({ { 1, 1, 0 } }, { { 0, 1 }, { 1, 1 } })
    assert.are.same({ 0, 2 }, cq:totable())
    assert.are.same({ 1, 2, 0, 2 }, ck:totable())
    local q, kv = maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 2 }, { max_q_len = 3, cu_seqlens_kv = { 0, 1, 1, 2 } })
    assert.are.same({ { true, true, false } }, q:totable())
    assert.are.same({ { true, false, false }, { false, true, false } }, kv:totable())
  end)
end)

describe("upstream's casts and what replace{} keeps", function()
  it("from_segments{is_attn_mask} casts numbers to int32 first", function()
    local m = maskinfo.from_segments({ { 0.5, 1, 0, -0.5, 1.7 } }, { is_attn_mask = true })
    assert.are.same({ { -1, 0, -1, -1, 0 } }, m:q_segment_ids():totable())
  end)

  it("replace{attention_mask = float Array} keeps the dtype; non-zero cells are allowed", function()
    local a = maskinfo.Array.new("float32", { 1, 1, 1, 3 }, { 0.5, 0, 2 })
    local m = maskinfo.from_segments({ { 0 } }, { { 0, 0, 0 } }):replace{ attention_mask = a }
    assert.are.equal("float32", m:attention_mask():dtype())
    assert.are.same({ 1, 0, 1 }, m:attention_mask():flat())
  end)

  it("replace{...= false}: positions and cu_seqlens are cleared, axis names become None", function()
    local m = maskinfo.from_cu_seqlens({ 0, 2 }, { max_q_len = 3, q_positions = { { 1, 2, 3 } } })
    assert.truthy(tostring(m):find("cu_seqlens_q.shape=(2,)", 1, true))
    local r = m:replace{ cu_seqlens_q = false, q_positions = false, batch_axis_name = false }
    assert.is_nil(r.q_positions)
    assert.is_false(r.batch_axis_name)
    assert.is_nil(tostring(r):find("cu_seqlens_q", 1, true))
    assert.truthy(tostring(r):find("cu_seqlens_kv.shape=(2,)", 1, true))
    -- with one side cleared, the getter answers both sides from the stored one (the seed's rule)
    assert.are.same({ 0, 2 }, r:cu_seqlens_q():totable())
  end)

  it("replace{} refuses a result whose positions or cu_seqlens no longer fit, naming the key that clears them", function()
    local m = maskinfo.from_segments({ { 0, 0 } }, nil, { q_positions = { { 0, 1 } } })
    raises(function() m:replace{ q_segment_ids = { { 0, 0, 0 } }, kv_segment_ids = { { 0, 0, 0 } } } end,
      "bad argument #1 to 'replace' (option 'q_positions': shape (1, 3) expected, got (1, 2) "
      .. "(give new ones or q_positions = false))")
    local ok = m:replace{ q_segment_ids = { { 0, 0, 0 } }, kv_segment_ids = { { 0, 0, 0 } }, q_positions = false }
    assert.are.same({ 1, 3 }, ok:q_segment_ids():shape())
    raises(function() maskinfo.from_segments({ { 0, 0 } }):replace{ cu_seqlens_q = { 0, 1, 0, 2 } } end,
      "bad argument #1 to 'replace' (cu_seqlens_q holds 2 (start, end) pairs, the batch has 1 rows "
      .. "(give new ones or cu_seqlens_q = false))")
  end)
end)

describe("apply_chunked keeps document positions on request", function()
  local docs = { { 0, 0, 0, 1, 1, 1, 1, 1 } }
  it("by default the ids become chunk ids and positions restart in every chunk (the seed)", function()
    local c = maskinfo.from_segments(docs):apply_chunked(2)
    assert.are.same({ { 1, 1, 2, 2, 3, 3, 4, 4 } }, c:q_segment_ids():totable())
    assert.are.same({ { 0, 1, 0, 1, 0, 1, 0, 1 } }, (c:get_or_compute_positions()):totable())
  end)
  it("{keep_positions = true} stores the documents' positions; the ids are still chunk ids", function()
    local c = maskinfo.from_segments(docs):apply_chunked(2, { keep_positions = true })
    assert.are.same({ { 1, 1, 2, 2, 3, 3, 4, 4 } }, c:q_segment_ids():totable())
    assert.are.same({ { 0, 1, 2, 0, 1, 2, 3, 4 } }, c.q_positions:totable())
    assert.are.same({ { 0, 1, 2, 0, 1, 2, 3, 4 } }, c.kv_positions:totable())
    -- the same with an offset before the options
    local d = maskinfo.from_segments(docs):apply_chunked(2, 1, { keep_positions = true })
    assert.are.same(c.q_positions:totable(), d.q_positions:totable())
  end)
  it("positions stored before chunking survive it", function()
    local c = maskinfo.from_segments(docs, nil, { q_positions = { { 9, 8, 7, 6, 5, 4, 3, 2 } } }):apply_chunked(4)
    assert.are.same({ { 9, 8, 7, 6, 5, 4, 3, 2 } }, c.q_positions:totable())
  end)
  it("refuses a non-boolean keep_positions and unknown options", function()
    local m = maskinfo.from_segments(docs)
    raises(function() m:apply_chunked(2, { keep_positions = 1 }) end,
      "bad argument #2 to 'apply_chunked' (keep_positions: boolean expected, got number)")
    raises(function() m:apply_chunked(2, 0, { keep = true }) end,
      "bad argument #3 to 'apply_chunked' (unknown option 'keep' (expected one of: keep_positions))")
  end)
end)

describe("get_shardings with one mesh axis for two dimensions", function()
  it("raises a clear error instead of a spec JAX refuses", function()
    local m = maskinfo.from_segments({ { 0, 0, 1, 1 } }, nil, { sequence_axis_name = "dp" })
    raises(function() m:get_shardings{ mesh = { dp = 1, fsdp = 1, tp = 1 }, sequence_parallel = true } end,
      "get_shardings: mesh axis 'dp' would shard dimensions 0 and 1 of q_segment_ids (named by batch_axis_name "
      .. "and sequence_axis_name); JAX refuses a spec that uses one axis twice: give those axis names different mesh axes")
    -- as JAX, only the corrected spec counts: a batch entry that does not divide is dropped
    assert.are.same({ false, "dp" },
      m:get_shardings{ mesh = { dp = 2, fsdp = 1, tp = 1 }, sequence_parallel = true }.q_segment_ids)
    -- without sequence_parallel the sequence axis is unused: fine
    assert.are.same({ { "dp", "fsdp" }, false }, m:get_shardings{ mesh = { dp = 1, fsdp = 1, tp = 1 } }.q_segment_ids)
  end)
  it("the heads axis may not reuse the batch axis of a stored mask either", function()
    local m = maskinfo.from_segments({ { 0, 0 } }, nil, { qheads_axis_name = "dp", batch_axis_name = "dp" }):to_dtype("bool")
    raises(function() m:get_shardings{ mesh = { dp = 1 } } end,
      "get_shardings: mesh axis 'dp' would shard dimensions 0 and 1 of attention_mask (named by batch_axis_name "
      .. "and qheads_axis_name); JAX refuses a spec that uses one axis twice: give those axis names different mesh axes")
  end)
end)

describe("guard refusals name the size asked and the limit", function()
  after_each(function() maskinfo.set_memory_limit(0) end)
  local big = 1 << 20

  it("from_function, block_classes and flex_block_mask", function()
    local m = maskinfo.from_segments({ maskinfo.util.fill(big, 0) })
    raises(function() maskinfo.from_function({ q_len = big, fn = function() return true end }) end,
      "from_function: calling fn on every cell of a (1, 1, 1048576, 1048576) mask needs 1.0 TiB: "
      .. "over the memory guard (limit 12.0 GiB, see maskinfo.set_memory_limit)")
    raises(function() m:flex_block_mask{ block_size = 1 } end,
      "flex_block_mask: the dense tables (1, 1, 1048576, 1048576) at block {1, 1} need 17.0 TiB, "
      .. "over the memory limit (limit 12.0 GiB, see maskinfo.set_memory_limit); format = \"csr\" keeps them small")
    raises(function() m:block_classes{ block_size = 2 } end,
      "block_classes: block classes of (1, 1, 524288, 524288) blocks needs 256.0 GiB: "
      .. "over the memory guard (limit 12.0 GiB, see maskinfo.set_memory_limit)")
  end)

  it("visualize with fit_in_screen = false at 1M tokens is refused before rendering", function()
    local m = maskinfo.from_segments({ maskinfo.util.fill(big, 0) }):apply_causal()
    maskinfo.set_memory_limit(1 << 30)
    raises(function() m:visualize{ fit_in_screen = false } end,
      "visualize: the text of 32768 x 32768 blocks needs 6.0 GiB: "
      .. "over the memory guard (limit 1.0 GiB, see maskinfo.set_memory_limit)")
  end)

  it("arrays built from tables, and the binding's own checks", function()
    local ids = maskinfo.util.fill(2000, 0)
    local a = maskinfo.Array.new("bool", { 900 })
    maskinfo.set_memory_limit(1000)
    raises(function() maskinfo.from_segments({ ids }) end,
      "from_segments: an array of 2000 int32 elements needs 7.8 KiB: "
      .. "over the memory guard (limit 1000.0 B, see maskinfo.set_memory_limit)")
    raises(function() a:astype("float32") end,
      "astype: an array of 900 float32 elements needs 3.5 KiB: "
      .. "over the memory guard (limit 1000.0 B, see maskinfo.set_memory_limit)")
  end)
end)

describe("one rule for numbers: strings are never numbers", function()
  local m = maskinfo.from_segments({ { 0, 0, 0 } })
  it("ops, queries and Array methods refuse numeric strings", function()
    raises(function() m:apply_causal("1") end, "bad argument #1 to 'apply_causal' (offset: integer expected, got string)")
    raises(function() m:allowed(0, 0, "1", 0) end, "bad argument #3 to 'allowed' (query: integer expected, got string)")
    raises(function() m:apply_sliding_window("2") end,
      "bad argument #1 to 'apply_sliding_window' (window: integer, {left, right} or a list of per-head windows "
      .. "expected, got string)")
    raises(function() m:apply_chunked("2") end, "bad argument #1 to 'apply_chunked' (chunk_size: integer expected, got string)")
    raises(function() maskinfo.from_segments({ { "0" } }) end,
      "bad argument #1 to 'from_segments' (segment ids: integer expected at [1][1], got string)")
    raises(function() maskinfo.Array.new("int32", { "2" }) end,
      "bad argument #2 to 'Array.new' (shape[1]: non-negative integer expected, got string)")
    local a = maskinfo.Array.from({ 1, 2, 3 })
    raises(function() a:get("1") end, "bad argument #1 to 'get' (flat index in [0, 3) expected)")
    raises(function() a:reshape({ "3" }) end, "bad argument #1 to 'reshape' (dimensions must be non-negative integers)")
    -- a string is a byte count in MASKINFO_MAX_BYTES' syntax, never a Lua number
    raises(function() maskinfo.set_memory_limit("1e3") end,
      "bad argument #1 to 'set_memory_limit' (byte count expected: digits with an optional K, M, G, T, "
      .. "KiB, MiB, GiB or TiB, got '1e3')")
  end)
end)

describe("file errors name the path and the OS reason", function()
  it("save_safetensors, like save_npy and render_png", function()
    local m = maskinfo.from_segments({ { 0, 0 } })
    local ok, msg, st = m:save_safetensors("/nonexistent-dir-maskinfo/x.safetensors")
    assert.is_nil(ok)
    assert.are.equal("save_safetensors: cannot write '/nonexistent-dir-maskinfo/x.safetensors': No such file or directory", msg)
    assert.are.equal("EIO", st)
  end)
end)

describe("the debug trace prints one line per public call", function()
  local function capture(fn)
    local lines, old = {}, _G.print
    _G.print = function(s) lines[#lines + 1] = s end
    local ok, err = pcall(fn)
    _G.print = old
    if not ok then error(err, 0) end
    return lines
  end
  after_each(function() capture(function() maskinfo.set_debug_mode(false) end) end)

  it("apply_causal prints its own line, not the nested calls upstream prints", function()
    local m = maskinfo.from_segments({ { 0, 0 } })
    capture(function() maskinfo.set_debug_mode(true) end)
    assert.are.same({ "[MaskInfo Debug] Calling MaskInfo.apply_causal()" }, capture(function() m:apply_causal() end))
  end)
end)

describe("upstream bugs maskinfo fixes (docs/decisions.md)", function()
  it("offsets and windows near 2^31 do not wrap around", function()
    local m = maskinfo.from_segments({ { 0, 0, 0 } })
    assert.are.equal(9, (m:apply_causal(2147483647):count()))
    assert.are.equal(9, (m:apply_sliding_window(2147483647):count()))
    assert.are.equal(0, (m:apply_causal(-2147483648):count()))
  end)

  it("empty axes give empty, well-shaped results", function()
    assert.are.same({ 0, 1, 0, 0 }, maskinfo.from_random(0, 0, 0):attention_mask():shape())
    local e = maskinfo.from_segments({ {} })
    assert.are.same({ 1, 1, 0, 0 }, e:apply_causal():attention_mask():shape())
    assert.are.same({ 1, 1, 0, 3 }, maskinfo.from_segments({ { 0, 0, 0 } }):apply_kv_lengths(2, { q_len = 0 })
      :attention_mask():shape())
  end)

  it("per-head (3-D) ids: get_qkv_masks per head, slices along the sequence", function()
    local m = maskinfo.from_function({ num_heads = 2, q_len = 3,
      fn = function(_, h, q, k) return (h == 0 and k <= q) or k == q end }):materialize_segment_ids(true)
    assert.are.same({ 1, 2, 3 }, m:q_segment_ids():shape())
    local q, kv, a = m:get_qkv_masks()
    assert.are.same({ 1, 2, 3 }, q:shape())
    assert.are.same({ 1, 2, 3 }, kv:shape())
    assert.are.same({ 1, 2, 3, 3 }, a:shape())
    local k = m:apply_kv_lengths(3, { q_len = 1 })
    assert.are.same({ { { 2 }, { 2 } } }, k:q_segment_ids():totable())
  end)

  it("visualize classes a merged cell by its exact mean", function()
    -- one 1024 x 1024 plane shown as one cell: 1 missing cell (mean 1 - 2^-20)
    -- is full, 2 missing cells (mean 1 - 2^-19 < 1 - 1e-6) are partial
    local function plane(missing)
      return maskinfo.from_rows({ q_len = 1024, fn = function(_, _, q) return { q < missing and 1 or 0, 1024 } end })
    end
    local opts = { block_size = 1, max_rows = 1, max_cols = 1, show_segments = false, charset = "ascii" }
    assert.truthy(plane(1):visualize(opts):find("||##||", 1, true))
    assert.truthy(plane(2):visualize(opts):find("||..||", 1, true))
  end)
end)

describe("algebra keeps the fields of packed documents (issue 9)", function()
  it("docs & causal keeps ids, positions and cu_seqlens, as docs:apply_causal() does", function()
    local docs = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 1 } })
    local causal = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 0 } }):apply_causal()
    local a, b = docs & causal, docs:apply_causal()
    assert.is_true(a:equals(b))
    assert.are.same(b:q_segment_ids():totable(), a:q_segment_ids():totable())
    assert.are.same(b:get_or_compute_positions():totable(), a:get_or_compute_positions():totable())
    assert.are.same(b:cu_seqlens_q():totable(), a:cu_seqlens_q():totable())
    assert.are.same({ { 0, 0, 0, 1, 1, 1 } }, a:q_segment_ids():totable())
  end)
end)
