-- The maskinfo Lua module: constructors, every method of the issue's API with small
-- hand-computed expectations, immutability, dtype requests, bias values, debug tracing,
-- the memory guard and the 0-based coordinate convention.
--
-- Coordinates are 0-based (the seed's); returned tables are 1-based Lua sequences, so
-- position 0 is t[1].  Error texts are compared exactly, including the absence of a
-- "file:line:" prefix (luassert's has_error strips such a prefix, so the raw message is
-- checked as well).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local E = dofile(here .. "/helpers/errors.lua")
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")

local T, F = true, false
local F32_LOWEST = -3.4028234663852886e38
local F16_LOWEST = -65504
local BF16_LOWEST = -3.3895313892515355e38

-- Exact error texts and substrings (helpers/errors.lua).
local assert_error, assert_error_has = E.assert_error, E.assert_error_has

-- print() lines written while fn runs.
local function capture(fn)
  local lines, old = {}, _G.print
  _G.print = function(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
    lines[#lines + 1] = table.concat(t, "\t")
  end
  local ok, err = pcall(fn)
  _G.print = old
  if not ok then error(err, 0) end
  return lines
end

local function contains(lines, line)
  for _, l in ipairs(lines) do if l == line then return true end end
  return false
end

-- Run a Lua snippet in a child lua5.4 with the repo's modules; returns stdout+stderr.
local run_child, lines_of = P.run_lua, P.lines_of

local SEG = { { 0, 0, 1, 1, -1 } }
-- the mask SEG implies, (1, 1, 5, 5)
local SEG_MASK = { { {
  { T, T, F, F, F }, { T, T, F, F, F }, { F, F, T, T, F }, { F, F, T, T, F }, { F, F, F, F, F },
} } }

---------------------------------------------------------------- module

describe("require('maskinfo')", function()
  it("sets no globals (a fresh interpreter's _G keys are unchanged)", function()
    local out = run_child([[
      local before = {}
      for k in pairs(_G) do before[k] = true end
      local m = require("maskinfo")
      m.from_segments({{0, 0, 1}}):attention_mask()
      local new = {}
      for k in pairs(_G) do if not before[k] then new[#new + 1] = tostring(k) end end
      table.sort(new)
      print("new globals: [" .. table.concat(new, ",") .. "]")
    ]])
    assert.are.equal("new globals: []", lines_of(out)[#lines_of(out)])
  end)

  it("is not visible as a global in this process either", function()
    assert.is_nil(rawget(_G, "maskinfo"))
    assert.is_nil(rawget(_G, "MaskInfo"))
  end)

  it("returns the same module table on a second require", function()
    assert.are.equal(maskinfo, require("maskinfo"))
  end)

  it("exposes every public function of the issue", function()
    for _, name in ipairs({ "mask_to_segment_ids", "segment_ids_to_mask", "segment_ids_to_qkv_masks",
      "qkv_masks_to_cu_seqlens", "cu_seqlens_to_mask", "qkv_cu_seqlens_to_qkv_masks",
      "qkv_cu_seqlens_to_attention_mask", "attention_mask_to_qkv_cu_seqlens",
      "create_chunked_attention_mask", "get_empty_sharding", "set_debug_mode", "get_debug_mode",
      "from_segments", "from_attention_mask", "from_cu_seqlens", "from_random", "dynamic_init",
      "set_memory_limit", "get_memory_limit" }) do
      assert.are.equal("function", type(maskinfo[name]), name)
    end
  end)

  it("gives every MaskInfo every method of the issue", function()
    local m = maskinfo.from_segments(SEG)
    for _, name in ipairs({ "attention_mask", "q_segment_ids", "kv_segment_ids",
      "get_or_compute_attention_mask", "get_or_compute_segment_ids", "materialize_attention_mask",
      "materialize_segment_ids", "get_qkv_masks", "to_dtype", "cu_seqlens_q", "cu_seqlens_kv",
      "get_or_compute_qkv_cu_seqlens", "q_lens", "kv_lens", "q_attention_mask", "q_position_ids",
      "get_or_compute_positions", "is_multi_sequence", "is_self_attention", "baked_in_masks", "bias",
      "create_bias", "batch_size", "q_len", "kv_len", "shape", "get_shardings", "replace" }) do
      assert.are.equal("function", type(m[name]), name)
    end
  end)
end)

---------------------------------------------------------------- constructors

describe("from_segments", function()
  it("stores the ids and implies the same-segment mask; -1 pads", function()
    local m = maskinfo.from_segments(SEG)
    assert.are.same(SEG, m:q_segment_ids():totable())
    assert.are.same(SEG, m:kv_segment_ids():totable())
    assert.are.same(SEG_MASK, m:attention_mask():totable())
    assert.are.equal("bool", m:attention_mask():dtype())
  end)

  it("does not store a mask (the repr lists only the ids)", function()
    assert.are.equal("MaskInfo(q_segment_ids.shape=(1, 5), kv_segment_ids.shape=(1, 5), self_attn=True)",
      tostring(maskinfo.from_segments(SEG)))
  end)

  it("a flat sequence is batch 1", function()
    local m = maskinfo.from_segments({ 0, 0, 1, 1, -1 })
    assert.are.same({ 1, 5, 5 }, { m:shape() })
    assert.are.same(SEG, m:q_segment_ids():totable())
  end)

  it("takes separate kv ids (cross attention)", function()
    local m = maskinfo.from_segments({ { 0, 0, 1 } }, { { 0, 1 } })
    assert.are.same({ 1, 3, 2 }, { m:shape() })
    assert.are.same({ { { { T, F }, { T, F }, { F, T } } } }, m:attention_mask():totable())
    assert.is_false(m:is_self_attention())
  end)

  it("accepts options as the second argument", function()
    local m = maskinfo.from_segments({ { 0, 0 } }, { q_positions = { { 5, 6 } } })
    local qp = m:get_or_compute_positions()
    assert.are.same({ { 5, 6 } }, qp:totable())
  end)

  it("accepts kv, then options", function()
    local m = maskinfo.from_segments({ { 0, 0 } }, { { 0, 0, 0 } }, { kv_positions = { { 7, 8, 9 } } })
    local _, kp = m:get_or_compute_positions()
    assert.are.same({ { 7, 8, 9 } }, kp:totable())
    assert.are.equal(3, m:kv_len())
  end)

  it("accepts nil kv with options", function()
    local m = maskinfo.from_segments({ { 0, 1 } }, nil, { is_attn_mask = false })
    assert.are.same({ { 0, 1 } }, m:q_segment_ids():totable())
  end)

  it("is_attn_mask with booleans: outer product of the validity, ids 0 / -1, mask stored", function()
    local m = maskinfo.from_segments({ { T, T, F } }, { is_attn_mask = true })
    assert.are.same({ { 0, 0, -1 } }, m:q_segment_ids():totable())
    assert.are.same({ { 0, 0, -1 } }, m:kv_segment_ids():totable())
    assert.are.same({ { { { T, T, F }, { T, T, F }, { F, F, F } } } }, m:attention_mask():totable())
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 3, 3), q_segment_ids.shape=(1, 3), "
      .. "kv_segment_ids.shape=(1, 3), self_attn=True)", tostring(m))
  end)

  it("is_attn_mask with 0/1 numbers gives the same as booleans", function()
    local a = maskinfo.from_segments({ { 1, 1, 0 }, { 0, 1, 1 } }, { is_attn_mask = true })
    local b = maskinfo.from_segments({ { T, T, F }, { F, T, T } }, { is_attn_mask = true })
    assert.is_true(a:attention_mask() == b:attention_mask())
    assert.are.same({ { 0, 0, -1 }, { -1, 0, 0 } }, a:q_segment_ids():totable())
  end)

  it("is_attn_mask with a separate kv padding mask", function()
    local m = maskinfo.from_segments({ { 1, 1, 0 } }, { { 1, 0 } }, { is_attn_mask = true })
    assert.are.same({ { 0, -1 } }, m:kv_segment_ids():totable())
    assert.are.same({ { { { T, F }, { T, F }, { F, F } } } }, m:attention_mask():totable())
  end)

  it("reads ids alike from plain tables, proxies, integral floats and Arrays", function()
    -- ids that come back after others, padding anywhere, batch 2
    local rows = { {}, {} }
    for b = 1, 2 do
      for i = 1, 300 do rows[b][i] = (i * 7 + b) % 5 == 0 and -1 or ((i // 13) * 3 + b) % 7 end
    end
    local flat = {}
    for i, v in ipairs(rows[1]) do flat[i] = v + 0.0 end
    local function proxy(t)
      return setmetatable({}, { __index = function(_, i) return t[i] end, __len = function() return #t end })
    end
    local want = maskinfo.from_segments(maskinfo.from_segments(rows):q_segment_ids())
    for _, input in ipairs({ rows, { proxy(rows[1]), rows[2] }, proxy(rows), { flat, rows[2] } }) do
      local m = maskinfo.from_segments(input)
      assert.is_true(m:q_segment_ids() == want:q_segment_ids())
      assert.is_true(m:attention_mask() == want:attention_mask())
      assert.are.equal(want:count(), m:count())
    end
    local one = maskinfo.from_segments(rows[1])
    assert.are.same({ 1, 300 }, one:q_segment_ids():shape())
    assert.are.same(rows[1], one:q_segment_ids():totable()[1])
  end)

  it("names a bad id in any row, after rows that read fine", function()
    assert_error(function() maskinfo.from_segments({ { 0, 1, 1 }, { 0, 1, "1" } }) end,
      "bad argument #1 to 'from_segments' (segment ids: integer expected at [2][3], got string)")
    assert_error(function() maskinfo.from_segments({ { 0 }, { 1 }, { 0.5 } }) end,
      "bad argument #1 to 'from_segments' (segment ids: non-integer at [3][1])")
    assert_error(function() maskinfo.from_segments({ { 0, 1 }, { 0, -3 } }) end,
      "bad argument #1 to 'from_segments' (segment ids must be >= -1 (-1 marks padding), got -3)")
    assert_error(function() maskinfo.from_segments({ { 0, 0 } }):apply_token_type_ids({ { 0, 1 << 31 } }) end,
      "bad argument #1 to 'apply_token_type_ids' (token_type_ids: value at [1][2] does not fit int32)")
  end)

  it("MaskInfos made from one another share one segment leaf", function()
    local O = require("maskinfo.object")
    local a = maskinfo.from_segments({ { 0, 0, 1, -1 } })
    local leaf = O.logical(O.fields(a), "test")
    assert.is_true(rawequal(leaf, O.logical(O.fields(a:replace {}), "test")))
    assert.is_true(rawequal(leaf, O.logical(O.fields(a:materialize_segment_ids()), "test")))
    -- equal ids from another table are another leaf, with the same cells
    local b = maskinfo.from_segments({ { 0, 0, 1, -1 } })
    assert.is_false(rawequal(leaf, O.logical(O.fields(b), "test")))
    assert.is_true(a:attention_mask() == b:attention_mask())
    -- one Array given twice is one leaf (Arrays are immutable)
    local ids = maskinfo.from_segments({ { 2, 2, 0, -1, 0 } }):q_segment_ids()
    local c1, c2 = maskinfo.from_segments(ids), maskinfo.from_segments(ids, ids)
    assert.is_true(rawequal(O.logical(O.fields(c1), "test"), O.logical(O.fields(c2), "test")))
    assert.is_true(c1:q_segment_ids() == ids)
  end)

  it("an id Array closed after use is refused, as a fresh one would be", function()
    local ids = maskinfo.from_segments({ { 0, 1 } }):get_or_compute_positions() -- not stored: closable
    local m = maskinfo.from_segments(ids)
    do local _ <close> = ids end
    assert_error(function() maskinfo.from_segments(ids) end,
      "bad argument #1 to 'from_segments' (segment ids: table or Array expected, got userdata)")
    assert.are.same({ { 0, 0 } }, m:q_segment_ids():totable())
  end)

  it("keeps the default axis names of the seed", function()
    local s = maskinfo.from_segments({ { 0, 0 }, { 0, 0 } }):get_shardings{
      mesh = { dp = 2, fsdp = 1, tp = 1, sp = 2 }, sequence_parallel = true }
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.q_segment_ids)
  end)
end)

describe("from_attention_mask", function()
  it("2-D is a padding mask: ids 0/-1 and the outer-product mask", function()
    local m = maskinfo.from_attention_mask({ { 1, 1, 0 }, { 0, 1, 1 } })
    assert.are.same({ 2, 3, 3 }, { m:shape() })
    assert.are.same({ { 0, 0, -1 }, { -1, 0, 0 } }, m:q_segment_ids():totable())
    assert.are.same({ { { { T, T, F }, { T, T, F }, { F, F, F } } }, { { { F, F, F }, { F, T, T }, { F, T, T } } } },
      m:attention_mask():totable())
  end)

  it("3-D (B, Q, K) becomes (B, 1, Q, K); ids mark rows/columns that take part", function()
    local m = maskinfo.from_attention_mask({ { { 0, 0, 0 }, { 0, 1, 1 }, { 0, 0, 1 } } })
    assert.are.same({ 1, 1, 3, 3 }, m:attention_mask():shape())
    assert.are.same({ { { { F, F, F }, { F, T, T }, { F, F, T } } } }, m:attention_mask():totable())
    assert.are.same({ { -1, 0, 0 } }, m:q_segment_ids():totable())
    assert.are.same({ { -1, 0, 0 } }, m:kv_segment_ids():totable())
  end)

  it("4-D keeps its heads", function()
    local m = maskinfo.from_attention_mask({ { { { 1, 0 }, { 1, 1 } }, { { 0, 0 }, { 0, 1 } } } })
    assert.are.same({ 1, 2, 2, 2 }, m:attention_mask():shape())
    assert.are.same({ { { { T, F }, { T, T } }, { { F, F }, { F, T } } } }, m:attention_mask():totable())
    assert.are.same({ { 0, 0 } }, m:q_segment_ids():totable())
  end)

  it("mask_is_valid=false inverts a 3-D mask (PyTorch-style True = masked out)", function()
    local m = maskinfo.from_attention_mask({ { { 1, 0 }, { 0, 0 } } }, { mask_is_valid = false })
    assert.are.same({ { { { F, T }, { T, T } } } }, m:attention_mask():totable())
  end)

  it("mask_is_valid=false inverts a 2-D padding mask", function()
    local m = maskinfo.from_attention_mask({ { 1, 0, 1 } }, { mask_is_valid = false })
    assert.are.same({ { -1, 0, -1 } }, m:q_segment_ids():totable())
    assert.are.same({ { { { F, F, F }, { F, T, F }, { F, F, F } } } }, m:attention_mask():totable())
  end)

  it("mask_is_valid=true is the default", function()
    local a = maskinfo.from_attention_mask({ { { 1, 0 }, { 1, 1 } } }, { mask_is_valid = true })
    local b = maskinfo.from_attention_mask({ { { 1, 0 }, { 1, 1 } } })
    assert.is_true(a:attention_mask() == b:attention_mask())
  end)

  it("booleans and 0/1 give the same mask", function()
    local a = maskinfo.from_attention_mask({ { { T, F }, { T, T } } })
    local b = maskinfo.from_attention_mask({ { { 1, 0 }, { 1, 1 } } })
    assert.is_true(a:attention_mask() == b:attention_mask())
  end)
end)

describe("from_cu_seqlens", function()
  it("start/end pairs give padding-style ids and keep the pairs as cu_seqlens", function()
    local m = maskinfo.from_cu_seqlens({ 0, 3, 1, 4 }, { max_q_len = 5 })
    assert.are.same({ { 0, 0, 0, -1, -1 }, { -1, 0, 0, 0, -1 } }, m:q_segment_ids():totable())
    assert.are.same({ 0, 3, 1, 4 }, m:cu_seqlens_q():totable())
    assert.are.same({ 0, 3, 1, 4 }, m:cu_seqlens_kv():totable())
    assert.are.same({ 2, 5, 5 }, { m:shape() })
  end)

  it("the mask is the outer product of the ranges", function()
    local m = maskinfo.from_cu_seqlens({ 1, 3 }, { max_q_len = 4 })
    assert.are.same({ { { { F, F, F, F }, { F, T, T, F }, { F, T, T, F }, { F, F, F, F } } } },
      m:attention_mask():totable())
  end)

  it("takes separate kv pairs and length", function()
    local m = maskinfo.from_cu_seqlens({ 0, 3 }, { max_q_len = 4, cu_seqlens_kv = { 1, 2 }, max_kv_len = 3 })
    assert.are.same({ { 0, 0, 0, -1 } }, m:q_segment_ids():totable())
    assert.are.same({ { -1, 0, -1 } }, m:kv_segment_ids():totable())
    assert.are.same({ 1, 2 }, m:cu_seqlens_kv():totable())
    assert.are.same({ 1, 4, 3 }, { m:shape() })
    assert.is_false(m:is_self_attention())
  end)

  it("repr lists ids and cu_seqlens", function()
    assert.are.equal("MaskInfo(q_segment_ids.shape=(2, 5), kv_segment_ids.shape=(2, 5), cu_seqlens_q.shape=(4,), "
      .. "cu_seqlens_kv.shape=(4,), self_attn=True)", tostring(maskinfo.from_cu_seqlens({ 0, 3, 1, 4 }, { max_q_len = 5 })))
  end)
end)

describe("from_random", function()
  it("is deterministic for a seed", function()
    local a = maskinfo.from_random(2, 16, 24, 0.5, 42)
    local b = maskinfo.from_random(2, 16, 24, 0.5, 42)
    assert.is_true(a:attention_mask() == b:attention_mask())
  end)

  it("different seeds give different masks", function()
    local a = maskinfo.from_random(1, 32, 32, 0.5, 1)
    local b = maskinfo.from_random(1, 32, 32, 0.5, 2)
    assert.is_false(a:attention_mask() == b:attention_mask())
  end)

  it("density on 64x64 is close to 1 - sparsity", function()
    for _, sp in ipairs({ 0.1, 0.3, 0.5, 0.7, 0.9 }) do
      local m = maskinfo.from_random(1, 64, 64, sp, 3)
      local total = m:count()
      assert.is_near(1 - sp, total / 4096, 0.04)
      assert.is_near(1 - sp, m:density(), 0.04)
    end
  end)

  it("sparsity 0 allows everything, 1 nothing", function()
    assert.are.equal(64 * 64, (maskinfo.from_random(1, 64, 64, 0, 5):count()))
    assert.are.equal(0, (maskinfo.from_random(1, 64, 64, 1, 5):count()))
  end)

  it("kv_len defaults to q_len; shape (B, 1, Q, K)", function()
    assert.are.same({ 2, 8, 8 }, { maskinfo.from_random(2, 8):shape() })
    assert.are.same({ 2, 1, 8, 16 }, maskinfo.from_random(2, 8, 16):attention_mask():shape())
  end)

  it("defaults are sparsity 0.5 and seed 0", function()
    assert.is_true(maskinfo.from_random(1, 16):attention_mask() == maskinfo.from_random(1, 16, 16, 0.5, 0):attention_mask())
  end)

  it("stores only a mask (no segment ids)", function()
    local m = maskinfo.from_random(1, 4, 4, 0.5, 1)
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 4, 4), self_attn=True)", tostring(m))
    assert.is_nil(m:q_lens())
    assert.is_false(m:is_multi_sequence())
  end)
end)

describe("dynamic_init", function()
  it("mask_info is returned as is", function()
    local m = maskinfo.from_segments(SEG)
    assert.is_true(rawequal(m, maskinfo.dynamic_init{ mask_info = m }))
  end)

  it("a 2-D attention_mask goes through from_segments(is_attn_mask=true)", function()
    local m = maskinfo.dynamic_init{ attention_mask = { { 1, 1, 1, 0 }, { 1, 1, 0, 0 } } }
    local ref = maskinfo.from_segments({ { 1, 1, 1, 0 }, { 1, 1, 0, 0 } }, { is_attn_mask = true })
    assert.are.same({ 2, 4, 4 }, { m:shape() })
    assert.are.equal(tostring(ref), tostring(m))
    assert.is_true(ref:attention_mask() == m:attention_mask())
    assert.are.same({ { 0, 0, 0, -1 }, { 0, 0, -1, -1 } }, m:q_segment_ids():totable())
  end)

  it("the seed's example: input_ids and attention_mask give shape (2, 4, 4)", function()
    local m = maskinfo.dynamic_init{ input_ids = { { 1, 2, 3, 0 }, { 4, 5, 0, 0 } },
      attention_mask = { { 1, 1, 1, 0 }, { 1, 1, 0, 0 } } }
    assert.are.same({ 2, 4, 4 }, { m:shape() })
  end)

  it("a 4-D attention_mask goes through from_attention_mask", function()
    local mask = { { { { 1, 0 }, { 1, 1 } } } }
    local m = maskinfo.dynamic_init{ attention_mask = mask }
    assert.is_true(m:attention_mask() == maskinfo.from_attention_mask(mask):attention_mask())
    assert.are.same({ 1, 2, 2 }, { m:shape() })
  end)

  it("a non-bool attention_mask counts only values == 1 as valid (the seed's rule)", function()
    local m = maskinfo.dynamic_init{ attention_mask = { { 2, 1, 0 } } }
    assert.are.same({ { -1, 0, -1 } }, m:q_segment_ids():totable())
  end)

  it("input_ids alone: all tokens valid", function()
    local m = maskinfo.dynamic_init{ input_ids = { { 1, 2, 3, 0 }, { 4, 5, 0, 0 } } }
    assert.are.same({ 2, 4, 4 }, { m:shape() })
    assert.are.same({ { 0, 0, 0, 0 }, { 0, 0, 0, 0 } }, m:q_segment_ids():totable())
    assert.are.equal(32, (m:count()))
  end)

  it("batch_size and seq_len: all tokens valid", function()
    local m = maskinfo.dynamic_init{ batch_size = 2, seq_len = 3 }
    assert.are.same({ 2, 3, 3 }, { m:shape() })
    assert.are.equal(18, (m:count()))
  end)

  it("without enough information names what it needs", function()
    assert_error(function() maskinfo.dynamic_init{} end,
      "bad argument #1 to 'dynamic_init' (one of mask_info, attention_mask, input_ids, inputs_embeds, or batch_size and seq_len expected)")
    assert_error(function() maskinfo.dynamic_init{ batch_size = 2 } end,
      "bad argument #1 to 'dynamic_init' (one of mask_info, attention_mask, input_ids, inputs_embeds, or batch_size and seq_len expected)")
  end)

  it("mask_info that is not a MaskInfo is an argument error without a position prefix", function()
    assert_error(function() maskinfo.dynamic_init{ mask_info = 5 } end,
      "bad argument #1 to 'dynamic_init' (MaskInfo expected, got number)")
  end)
end)

---------------------------------------------------------------- methods

describe("methods: masks and segment ids", function()
  local m = maskinfo.from_segments(SEG)

  it("attention_mask() is (B, 1, Q, K) bool", function()
    local a = m:attention_mask()
    assert.are.same({ 1, 1, 5, 5 }, a:shape())
    assert.are.same(SEG_MASK, a:totable())
  end)

  it("attention_mask(dtype) converts", function()
    local a = m:attention_mask("float32")
    assert.are.equal("float32", a:dtype())
    assert.are.same({ 1, 1, 0, 0, 0 }, a:totable()[1][1][1])
    assert.are.same({ 0, 0, 1, 1, 0 }, m:attention_mask("int32"):totable()[1][1][3])
  end)

  it("get_or_compute_attention_mask([dtype]) equals attention_mask", function()
    assert.is_true(m:get_or_compute_attention_mask() == m:attention_mask())
    assert.is_true(m:get_or_compute_attention_mask("float16") == m:attention_mask("float16"))
  end)

  it("q_segment_ids / kv_segment_ids of a random mask are derived (first appearance, -1 for empty)", function()
    local r = maskinfo.from_attention_mask({ { { 1, 0, 1 }, { 0, 0, 0 }, { 1, 0, 1 } } })
    local fresh = maskinfo.from_random(1, 1, 1, 0, 0):replace{ attention_mask = { { { 1, 0, 1 }, { 0, 0, 0 }, { 1, 0, 1 } } } }
    local q, kv = fresh:get_or_compute_segment_ids()
    assert.are.same({ { 0, -1, 0 } }, q:totable())
    assert.are.same({ { 0, -1, 0 } }, kv:totable())
    assert.are.same({ { 0, -1, 0 } }, r:q_segment_ids():totable())
  end)

  it("get_or_compute_segment_ids(true) gives per-head ids (B, H, L) for a mask without ids", function()
    local r = maskinfo.from_random(1, 1, 1, 0, 0):replace{ attention_mask = { { { { 1, 0 }, { 0, 1 } }, { { 1, 1 }, { 1, 1 } } } } }
    local q, kv = r:get_or_compute_segment_ids(true)
    assert.are.same({ { { 0, 1 }, { 0, 0 } } }, q:totable())
    assert.are.same({ { { 0, 1 }, { 0, 0 } } }, kv:totable())
  end)

  it("get_or_compute_segment_ids returns stored ids as they are", function()
    local q, kv = m:get_or_compute_segment_ids()
    assert.are.same(SEG, q:totable())
    assert.are.same(SEG, kv:totable())
  end)

  it("materialize_attention_mask stores the mask", function()
    local mm = m:materialize_attention_mask()
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 5, 5), q_segment_ids.shape=(1, 5), "
      .. "kv_segment_ids.shape=(1, 5), self_attn=True)", tostring(mm))
    assert.is_true(mm:attention_mask() == m:attention_mask())
  end)

  it("materialize_attention_mask(dtype) stores it in that dtype", function()
    local mm = m:materialize_attention_mask("float32")
    assert.are.equal("float32", mm:attention_mask():dtype())
    assert.is_true(mm:attention_mask() == m:attention_mask("float32"))
  end)

  it("materialize_segment_ids stores ids derived from the mask", function()
    local r = maskinfo.from_random(1, 4, 4, 0.5, 1)
    local ms = r:materialize_segment_ids()
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 4, 4), q_segment_ids.shape=(1, 4), "
      .. "kv_segment_ids.shape=(1, 4), self_attn=False)", tostring(ms))
    local q = r:get_or_compute_segment_ids()
    assert.is_true(ms:q_segment_ids() == q)
  end)

  it("get_qkv_masks gives q validity, kv validity and the mask", function()
    local q, kv, a = m:get_qkv_masks()
    assert.are.same({ { T, T, T, T, F } }, q:totable())
    assert.are.same({ { T, T, T, T, F } }, kv:totable())
    assert.are.same(SEG_MASK, a:totable())
  end)

  it("get_qkv_masks(dtype) converts all three", function()
    local q, kv, a = m:get_qkv_masks("float32")
    assert.are.same({ "float32", "float32", "float32" }, { q:dtype(), kv:dtype(), a:dtype() })
    assert.are.same({ { 1, 1, 1, 1, 0 } }, q:totable())
  end)

  it("to_dtype stores the mask in that dtype", function()
    local f = m:to_dtype("float32")
    assert.are.equal("float32", f:attention_mask():dtype())
    assert.are.same({ 1, 1, 0, 0, 0 }, f:attention_mask():totable()[1][1][1])
    assert.are.equal("bool", f:attention_mask("bool"):dtype())
  end)

  it("to_dtype('bool') stores the computed mask", function()
    local b = m:to_dtype("bool")
    assert.are.equal("MaskInfo(attention_mask.shape=(1, 1, 5, 5), q_segment_ids.shape=(1, 5), "
      .. "kv_segment_ids.shape=(1, 5), self_attn=True)", tostring(b))
  end)
end)

describe("methods: lengths and positions", function()
  local m = maskinfo.from_segments(SEG)

  it("cu_seqlens_q from segment ids is FlashAttention-style with 129 entries", function()
    local cu = m:cu_seqlens_q():totable()
    assert.are.equal(129, #cu)
    assert.are.same({ 0, 2, 4, 4 }, { cu[1], cu[2], cu[3], cu[4] })
    assert.are.equal(4, cu[129])
  end)

  it("q and kv cu_seqlens and positions of shared ids are separate Arrays", function()
    local ck
    do
      local cq <close>, k = m:get_or_compute_qkv_cu_seqlens()
      assert.is_true(cq == k)
      ck = k
    end -- closing one leaves the other
    assert.are.same({ 0, 2, 4, 4 }, { table.unpack(ck:totable(), 1, 4) })
    local kp
    do
      local qp <close>, k = m:get_or_compute_positions()
      assert.are.same({ { 0, 1, 0, 1, -1 } }, qp:totable())
      kp = k
    end
    assert.are.same({ { 0, 1, 0, 1, 2147483647 } }, kp:totable())
  end)

  it("cu_seqlens_kv likewise", function()
    local cu = m:cu_seqlens_kv():totable()
    assert.are.equal(129, #cu)
    assert.are.same({ 0, 2, 4 }, { cu[1], cu[2], cu[3] })
  end)

  it("get_or_compute_qkv_cu_seqlens{max_segments=3} sums over the flattened batch", function()
    local q, kv = maskinfo.from_segments({ { 0, 0, 1 }, { 0, 2, 2 } }):get_or_compute_qkv_cu_seqlens{ max_segments = 3 }
    assert.are.same({ 0, 3, 4, 6 }, q:totable())
    assert.are.same({ 0, 3, 4, 6 }, kv:totable())
  end)

  it("get_or_compute_qkv_cu_seqlens: a segment id >= max_segments is an error", function()
    assert_error(function() m:get_or_compute_qkv_cu_seqlens{ max_segments = 1 } end,
      "get_or_compute_qkv_cu_seqlens: segment id 1 is >= max_segments (1)")
  end)

  it("get_or_compute_qkv_cu_seqlens returns stored pairs as they are", function()
    local c = maskinfo.from_cu_seqlens({ 0, 3, 1, 4 }, { max_q_len = 5 })
    local q, kv = c:get_or_compute_qkv_cu_seqlens()
    assert.are.same({ 0, 3, 1, 4 }, q:totable())
    assert.are.same({ 0, 3, 1, 4 }, kv:totable())
  end)

  it("get_or_compute_qkv_cu_seqlens of a mask without ids gives start/end pairs", function()
    local r = maskinfo.from_random(1, 1, 1, 0, 0):replace{ attention_mask = { { { 0, 0, 0 }, { 0, 1, 1 }, { 0, 0, 1 } } } }
    local q, kv = r:get_or_compute_qkv_cu_seqlens()
    assert.are.same({ 1, 3 }, q:totable())
    assert.are.same({ 1, 3 }, kv:totable())
  end)

  it("q_lens / kv_lens: per-segment lengths when packed", function()
    assert.are.same({ 2, 2 }, m:q_lens():totable())
    assert.are.same({ 2, 2 }, m:kv_lens():totable())
    assert.are.same({ 3, 3 }, maskinfo.from_segments({ { 0, 0, 1 }, { 0, 1, 1 } }):q_lens():totable())
  end)

  it("q_lens: per-batch valid counts when every valid token is segment 0", function()
    assert.are.same({ 3, 1 }, maskinfo.from_segments({ { 0, 0, 0, -1 }, { -1, -1, 0, -1 } }):q_lens():totable())
  end)

  it("q_attention_mask is 1 for valid tokens, 0 for padding (int32)", function()
    local a = m:q_attention_mask()
    assert.are.equal("int32", a:dtype())
    assert.are.same({ { 1, 1, 1, 1, 0 } }, a:totable())
  end)

  it("q_position_ids restart at each segment; padding -1", function()
    assert.are.same({ { 0, 1, 0, 1, -1 } }, m:q_position_ids():totable())
    assert.are.same({ { 0, 1, 2, 0, 0, 1 } }, maskinfo.from_segments({ { 3, 3, 3, 1, 2, 2 } }):q_position_ids():totable())
  end)

  it("get_or_compute_positions: restart per segment, kv padding int32 max", function()
    local qp, kp = m:get_or_compute_positions()
    assert.are.same({ { 0, 1, 0, 1, -1 } }, qp:totable())
    assert.are.same({ { 0, 1, 0, 1, 2147483647 } }, kp:totable())
  end)

  it("get_or_compute_positions returns stored positions", function()
    local p = maskinfo.from_segments({ { 0, 0, 1 } }, { q_positions = { { 4, 5, 6 } }, kv_positions = { { 1, 2, 3 } } })
    local qp, kp = p:get_or_compute_positions()
    assert.are.same({ { 4, 5, 6 } }, qp:totable())
    assert.are.same({ { 1, 2, 3 } }, kp:totable())
  end)
end)

describe("methods: flags, predicates and shape", function()
  it("is_multi_sequence: true when a segment id > 0", function()
    assert.is_false(maskinfo.from_segments({ { 0, 0, 0, -1, -1 } }):is_multi_sequence())
    assert.is_true(maskinfo.from_segments({ { 0, 0, 1, 1, -1 } }):is_multi_sequence())
  end)

  it("is_self_attention compares the ids, else the mask's Q and K", function()
    assert.is_true(maskinfo.from_segments(SEG):is_self_attention())
    assert.is_false(maskinfo.from_segments({ { 0, 1 } }, { { 1, 0 } }):is_self_attention())
    assert.is_true(maskinfo.from_random(1, 8, 8):is_self_attention())
    assert.is_false(maskinfo.from_random(1, 8, 16):is_self_attention())
  end)

  it("baked_in_masks is a table of four booleans, all false at first", function()
    assert.are.same({ causal = F, sliding_window = F, chunked = F, token_type_ids = F },
      maskinfo.from_segments(SEG):baked_in_masks())
  end)

  it("baked_in_masks follows replace", function()
    local r = maskinfo.from_segments(SEG):replace{ causal_mask_baked_in = true, chunked_mask_baked_in = true }
    assert.are.same({ causal = T, sliding_window = F, chunked = T, token_type_ids = F }, r:baked_in_masks())
  end)

  it("batch_size, q_len, kv_len and shape() (three results)", function()
    local m = maskinfo.from_segments({ { 0, 0, 1 }, { 0, 1, 1 } }, { { 0, 1 }, { 1, 1 } })
    assert.are.equal(2, m:batch_size())
    assert.are.equal(3, m:q_len())
    assert.are.equal(2, m:kv_len())
    assert.are.equal(3, select("#", m:shape()))
    assert.are.same({ 2, 3, 2 }, { m:shape() })
  end)

  it("shape of a mask-only MaskInfo comes from the mask", function()
    assert.are.same({ 3, 5, 7 }, { maskinfo.from_random(3, 5, 7):shape() })
  end)
end)

describe("methods: bias", function()
  local m = maskinfo.from_segments({ { 0, 0, 1 } })

  it("bias() is float32: 0 where allowed, float32 lowest elsewhere", function()
    local b = m:bias()
    assert.are.equal("float32", b:dtype())
    assert.are.same({ 1, 1, 3, 3 }, b:shape())
    assert.are.same({ { { { 0, 0, F32_LOWEST }, { 0, 0, F32_LOWEST }, { F32_LOWEST, F32_LOWEST, 0 } } } }, b:totable())
  end)

  it("create_bias() defaults to float32", function()
    assert.is_true(m:create_bias() == m:bias())
  end)

  it("create_bias('float16') uses -65504", function()
    local b = m:create_bias("float16")
    assert.are.equal("float16", b:dtype())
    assert.are.same({ 0, 0, F16_LOWEST }, b:totable()[1][1][1])
  end)

  it("create_bias('bfloat16') uses bfloat16 lowest", function()
    local b = m:create_bias("bfloat16")
    assert.are.equal("bfloat16", b:dtype())
    assert.are.equal(BF16_LOWEST, b:get(2))
    assert.are.equal(0, b:get(0))
  end)

  it("create_bias('int32') and create_bias('bool') are errors", function()
    assert_error(function() m:create_bias("int32") end,
      "bad argument #1 to 'create_bias' (float dtype expected (float32, float16 or bfloat16), got int32)")
    assert_error(function() m:create_bias("bool") end,
      "bad argument #1 to 'create_bias' (float dtype expected (float32, float16 or bfloat16), got bool)")
  end)

  it("create_bias of an unknown dtype is an error", function()
    assert_error(function() m:create_bias("float64") end,
      "bad argument #1 to 'create_bias' (float dtype expected (float32, float16 or bfloat16), got float64)")
  end)

  it("a float-stored mask gives the same bias as its bool mask", function()
    assert.is_true(m:to_dtype("float32"):bias() == m:bias())
  end)
end)

describe("module functions with hand-computed results", function()
  it("mask_to_segment_ids renumbers by first appearance", function()
    local q, kv = maskinfo.mask_to_segment_ids(maskinfo.segment_ids_to_mask({ { 3, 3, -1, 7, 7 } }))
    assert.are.same({ { 0, 0, -1, 1, 1 } }, q:totable())
    assert.are.same({ { 0, 0, -1, 1, 1 } }, kv:totable())
  end)

  it("mask_to_segment_ids of a 2-D mask gives 1-D ids", function()
    local q, kv = maskinfo.mask_to_segment_ids({ { 1, 1, 0 }, { 1, 1, 0 } })
    assert.are.same({ 2 }, q:shape())
    assert.are.same({ 0, 0 }, q:totable())
    assert.are.same({ 0, 0, -1 }, kv:totable())
  end)

  it("mask_to_segment_ids(4-D, true) gives per-head ids", function()
    local q = maskinfo.mask_to_segment_ids({ { { { 1, 0 }, { 0, 1 } }, { { 1, 1 }, { 1, 1 } } } }, true)
    assert.are.same({ { { 0, 1 }, { 0, 0 } } }, q:totable())
  end)

  it("mask_to_segment_ids(4-D) without per_head uses head 0 (the seed's rule)", function()
    local q, kv = maskinfo.mask_to_segment_ids({ { { { 1, 0 }, { 0, 1 } }, { { 1, 1 }, { 1, 1 } } } })
    assert.are.same({ { 0, 1 } }, q:totable())
    assert.are.same({ { 0, 1 } }, kv:totable())
    q = maskinfo.mask_to_segment_ids({ { { { 1, 1 }, { 1, 1 } }, { { 1, 0 }, { 0, 1 } } } })
    assert.are.same({ { 0, 0 } }, q:totable())
  end)

  it("segment_ids_to_mask with q and kv ids and a dtype", function()
    local a = maskinfo.segment_ids_to_mask({ { 0, 1 } }, { { 0, 0, 1 } }, { dtype = "int32" })
    assert.are.equal("int32", a:dtype())
    assert.are.same({ { { { 1, 1, 0 }, { 0, 0, 1 } } } }, a:totable())
  end)

  it("segment_ids_to_mask(q, {dtype=}) takes options in place of kv", function()
    local a = maskinfo.segment_ids_to_mask({ { 0, 1 } }, { dtype = "float32" })
    assert.are.same({ { { { 1, 0 }, { 0, 1 } } } }, a:totable())
  end)

  it("segment_ids_to_mask return_separate_masks gives three results", function()
    local q, kv, a = maskinfo.segment_ids_to_mask({ { 0, -1 } }, nil, { return_separate_masks = true })
    assert.are.same({ { T, F } }, q:totable())
    assert.are.same({ { T, F } }, kv:totable())
    assert.are.same({ { { { T, F }, { F, F } } } }, a:totable())
  end)

  it("segment_ids_to_qkv_masks with a dtype string in place of kv", function()
    local q, kv, a = maskinfo.segment_ids_to_qkv_masks({ { 0, -1 } }, "float16")
    assert.are.same({ "float16", "float16", "float16" }, { q:dtype(), kv:dtype(), a:dtype() })
    assert.are.same({ { { { 1, 0 }, { 0, 0 } } } }, a:totable())
  end)

  it("qkv_masks_to_cu_seqlens: [start, end) of the valid tokens per row, (0, 0) for none", function()
    local q, kv = maskinfo.qkv_masks_to_cu_seqlens({ { 0, 1, 1, 0 }, { 1, 1, 1, 1 } }, { { 0, 0, 0, 0 }, { 0, 0, 1, 0 } })
    assert.are.same({ 1, 3, 0, 4 }, q:totable())
    assert.are.same({ 0, 0, 2, 3 }, kv:totable())
  end)

  it("cu_seqlens_to_mask", function()
    assert.are.same({ { F, T, T, F }, { F, F, F, F } }, maskinfo.cu_seqlens_to_mask({ 1, 3, 0, 0 }, 4):totable())
    assert.are.same({ { 1, 1, 0 } }, maskinfo.cu_seqlens_to_mask({ 0, 2 }, 3, "float32"):totable())
  end)

  it("qkv_cu_seqlens_to_qkv_masks", function()
    local q, kv = maskinfo.qkv_cu_seqlens_to_qkv_masks({ 1, 3 }, { max_q_len = 4, cu_seqlens_kv = { 0, 2 }, max_kv_len = 3 })
    assert.are.same({ { F, T, T, F } }, q:totable())
    assert.are.same({ { T, T, F } }, kv:totable())
  end)

  it("qkv_cu_seqlens_to_attention_mask is the outer product", function()
    local a = maskinfo.qkv_cu_seqlens_to_attention_mask({ 1, 3 }, { max_q_len = 4, cu_seqlens_kv = { 0, 2 }, max_kv_len = 3 })
    assert.are.same({ { { { F, F, F }, { T, T, F }, { T, T, F }, { F, F, F } } } }, a:totable())
  end)

  it("attention_mask_to_qkv_cu_seqlens on 2-D, 3-D and 4-D masks with each reduce_heads", function()
    local q, kv = maskinfo.attention_mask_to_qkv_cu_seqlens({ { 1, 1, 0 } })
    assert.are.same({ 0, 2 }, q:totable())
    assert.are.same({ 0, 2 }, kv:totable())
    q = maskinfo.attention_mask_to_qkv_cu_seqlens({ { { 0, 0, 0 }, { 0, 1, 1 }, { 0, 0, 1 } } })
    assert.are.same({ 1, 3 }, q:totable())
    local m4 = { { { { 1, 0 }, { 0, 0 } }, { { 0, 0 }, { 0, 1 } } } }
    assert.are.same({ 0, 2 }, maskinfo.attention_mask_to_qkv_cu_seqlens(m4):totable())
    assert.are.same({ 0, 2 }, maskinfo.attention_mask_to_qkv_cu_seqlens(m4, { reduce_heads = "any" }):totable())
    assert.are.same({ 0, 0 }, maskinfo.attention_mask_to_qkv_cu_seqlens(m4, { reduce_heads = "all" }):totable())
    assert.are.same({ 0, 1 }, maskinfo.attention_mask_to_qkv_cu_seqlens(m4, { reduce_heads = "first" }):totable())
  end)

  it("create_chunked_attention_mask(2, 4) is (4, 4) block-causal", function()
    assert.are.same({ { T, F, F, F }, { T, T, F, F }, { F, F, T, F }, { F, F, T, T } },
      maskinfo.create_chunked_attention_mask(2, 4):totable())
  end)

  it("create_chunked_attention_mask with kv_len and offset (chunk of q, k <= q + offset)", function()
    assert.are.same({ { T, T, F, F }, { T, T, F, F }, { F, F, T, T } },
      maskinfo.create_chunked_attention_mask(2, 3, 4, 1):totable())
  end)

  it("get_empty_sharding has all seven keys false", function()
    assert.are.same({ attention_mask = F, q_segment_ids = F, kv_segment_ids = F, cu_seqlens_q = F,
      cu_seqlens_kv = F, q_positions = F, kv_positions = F }, maskinfo.get_empty_sharding())
  end)
end)

describe("replace and tostring", function()
  local m = maskinfo.from_cu_seqlens({ 0, 3 }, { max_q_len = 4 })

  it("replace of segment ids drops the cu_seqlens", function()
    local r = m:replace{ q_segment_ids = { { 0, 0, 0, 0 } } }
    assert.are.equal("MaskInfo(q_segment_ids.shape=(1, 4), kv_segment_ids.shape=(1, 4), self_attn=False)", tostring(r))
  end)

  it("replace of ids and cu_seqlens together keeps the new cu_seqlens", function()
    local r = m:replace{ q_segment_ids = { { 0, 0, 0, 0 } }, cu_seqlens_q = { 0, 4 } }
    assert.are.same({ 0, 4 }, r:cu_seqlens_q():totable())
  end)

  it("replace{cu_seqlens_q=false} clears that field", function()
    assert.are.equal("MaskInfo(q_segment_ids.shape=(1, 4), kv_segment_ids.shape=(1, 4), cu_seqlens_kv.shape=(2,), self_attn=True)",
      tostring(m:replace{ cu_seqlens_q = false }))
  end)

  it("replace of positions", function()
    local qp, kp = m:replace{ q_positions = { { 1, 2, 3, 4 } } }:get_or_compute_positions()
    assert.are.same({ { 1, 2, 3, 4 } }, qp:totable())
    assert.are.same({ { 0, 1, 2, 2147483647 } }, kp:totable())
  end)

  it("replace of the attention mask stores it", function()
    local s = maskinfo.from_segments({ { 0, 0 } })
    local r = s:replace{ attention_mask = { { { 1, 0 }, { 1, 1 } } } }
    assert.are.same({ { { { T, F }, { T, T } } } }, r:attention_mask():totable())
  end)

  it("tostring lists baked-in flags like the seed's repr", function()
    assert.are.equal("MaskInfo(q_segment_ids.shape=(1, 5), kv_segment_ids.shape=(1, 5), self_attn=True, baked_in=['causal', 'chunked'])",
      tostring(maskinfo.from_segments(SEG):replace{ causal_mask_baked_in = true, chunked_mask_baked_in = true }))
  end)
end)

---------------------------------------------------------------- immutability and dtypes

describe("immutability", function()
  local function snapshot(m)
    local a = m:attention_mask()
    return tostring(m), a:dtype(), a:totable()
  end

  local cases = {
    { "attention_mask('float32')", function(m) return m:attention_mask("float32") end },
    { "get_or_compute_attention_mask('int32')", function(m) return m:get_or_compute_attention_mask("int32") end },
    { "get_or_compute_segment_ids(true)", function(m) return m:get_or_compute_segment_ids(true) end },
    { "materialize_attention_mask('float16')", function(m) return m:materialize_attention_mask("float16") end },
    { "materialize_segment_ids()", function(m) return m:materialize_segment_ids() end },
    { "to_dtype('float32')", function(m) return m:to_dtype("float32") end },
    { "to_dtype('bool')", function(m) return m:to_dtype("bool") end },
    { "get_qkv_masks('int32')", function(m) return m:get_qkv_masks("int32") end },
    { "get_or_compute_qkv_cu_seqlens", function(m) return m:get_or_compute_qkv_cu_seqlens() end },
    { "cu_seqlens_q", function(m) return m:cu_seqlens_q() end },
    { "get_or_compute_positions", function(m) return m:get_or_compute_positions() end },
    { "create_bias('float16')", function(m) return m:create_bias("float16") end },
    { "replace{...}", function(m) return m:replace{ causal_mask_baked_in = true, batch_axis_name = "x" } end },
  }

  for _, c in ipairs(cases) do
    it(c[1] .. " leaves a from_segments receiver unchanged", function()
      local m = maskinfo.from_segments({ { 0, 0, 1, -1 } })
      local s1, d1, t1 = snapshot(m)
      c[2](m)
      local s2, d2, t2 = snapshot(m)
      assert.are.equal(s1, s2)
      assert.are.equal(d1, d2)
      assert.are.same(t1, t2)
    end)
  end

  it("methods on a random mask leave it unchanged", function()
    local m = maskinfo.from_random(1, 6, 6, 0.5, 9)
    local s1, d1, t1 = snapshot(m)
    for _, c in ipairs(cases) do c[2](m) end
    local s2, d2, t2 = snapshot(m)
    assert.are.same({ s1, d1, t1 }, { s2, d2, t2 })
  end)

  it("methods that make a MaskInfo return a new object", function()
    local m = maskinfo.from_segments(SEG)
    assert.is_false(rawequal(m, m:to_dtype("float32")))
    assert.is_false(rawequal(m, m:materialize_attention_mask()))
    assert.is_false(rawequal(m, m:replace{}))
  end)
end)

describe("dtype requests never change later results", function()
  it("attention_mask('float32') then attention_mask() is still bool", function()
    local m = maskinfo.from_segments(SEG)
    m:attention_mask("float32")
    assert.are.equal("bool", m:attention_mask():dtype())
  end)

  it("get_or_compute_attention_mask('int32') then get_or_compute_attention_mask() is bool", function()
    local m = maskinfo.from_segments(SEG)
    m:get_or_compute_attention_mask("int32")
    assert.are.equal("bool", m:get_or_compute_attention_mask():dtype())
  end)

  it("get_qkv_masks('float16') then get_qkv_masks() is bool", function()
    local m = maskinfo.from_segments(SEG)
    m:get_qkv_masks("float16")
    local q, _, a = m:get_qkv_masks()
    assert.are.same({ "bool", "bool" }, { q:dtype(), a:dtype() })
  end)

  it("a mask stored as float32 is returned as float32 by default", function()
    local f = maskinfo.from_segments(SEG):to_dtype("float32")
    f:attention_mask("bool")
    assert.are.equal("float32", f:attention_mask():dtype())
  end)

  it("a small max_segments request does not change the default cu_seqlens", function()
    local m = maskinfo.from_segments(SEG)
    m:get_or_compute_qkv_cu_seqlens{ max_segments = 2 }
    assert.are.equal(129, #m:cu_seqlens_q())
  end)
end)

---------------------------------------------------------------- debug mode

describe("debug mode", function()
  after_each(function()
    capture(function() maskinfo.set_debug_mode(false) end)
  end)

  it("set_debug_mode(true) prints the seed's line and get_debug_mode() follows", function()
    local lines = capture(function() maskinfo.set_debug_mode(true) end)
    assert.are.same({ "[MaskInfo Debug] Debug mode enabled" }, lines)
    assert.is_true(maskinfo.get_debug_mode())
    lines = capture(function() maskinfo.set_debug_mode(false) end)
    assert.are.same({ "[MaskInfo Debug] Debug mode disabled" }, lines)
    assert.is_false(maskinfo.get_debug_mode())
  end)

  it("traces constructors as type.<name>()", function()
    capture(function() maskinfo.set_debug_mode(true) end)
    local lines = capture(function()
      maskinfo.from_segments({ { 0, 0 } })
      maskinfo.from_attention_mask({ { 1, 1 } })
      maskinfo.from_random(1, 2)
    end)
    assert.is_true(contains(lines, "[MaskInfo Debug] Calling type.from_segments()"))
    assert.is_true(contains(lines, "[MaskInfo Debug] Calling type.from_attention_mask()"))
    assert.is_true(contains(lines, "[MaskInfo Debug] Calling type.from_random()"))
  end)

  it("traces method calls as MaskInfo.<name>() and properties as Property access", function()
    local m = maskinfo.from_segments({ { 0, 0 } })
    capture(function() maskinfo.set_debug_mode(true) end)
    local lines = capture(function()
      m:get_or_compute_attention_mask()
      m:to_dtype("float32")
      m:attention_mask()
      m:q_len()
    end)
    assert.is_true(contains(lines, "[MaskInfo Debug] Calling MaskInfo.get_or_compute_attention_mask()"))
    assert.is_true(contains(lines, "[MaskInfo Debug] Calling MaskInfo.to_dtype()"))
    assert.is_true(contains(lines, "[MaskInfo Debug] Property access: attention_mask"))
    assert.is_true(contains(lines, "[MaskInfo Debug] Property access: q_len"))
  end)

  it("traces module functions as <name>()", function()
    capture(function() maskinfo.set_debug_mode(true) end)
    local lines = capture(function() maskinfo.segment_ids_to_mask({ { 0, 1 } }) end)
    assert.is_true(contains(lines, "[MaskInfo Debug] Calling segment_ids_to_mask()"))
  end)

  it("prints nothing when off", function()
    local lines = capture(function()
      maskinfo.from_segments({ { 0, 0 } }):attention_mask()
      maskinfo.segment_ids_to_mask({ { 0, 1 } })
    end)
    assert.are.same({}, lines)
  end)

  it("set_debug_mode wants a boolean", function()
    assert_error(function() maskinfo.set_debug_mode(1) end,
      "bad argument #1 to 'set_debug_mode' (boolean expected, got number)")
    assert_error(function() maskinfo.set_debug_mode() end,
      "bad argument #1 to 'set_debug_mode' (boolean expected, got nil)")
  end)

  it("is off by default and MASKINFO_DEBUG=1 turns it on", function()
    local code = [[print("mode=" .. tostring(require("maskinfo").get_debug_mode()))]]
    assert.is_true(contains(lines_of(run_child(code)), "mode=false"))
    assert.is_true(contains(lines_of(run_child(code, "MASKINFO_DEBUG=1")), "mode=true"))
  end)
end)

---------------------------------------------------------------- memory guard

describe("memory guard", function()
  after_each(function() maskinfo.set_memory_limit(0) end)

  it("get_memory_limit defaults to 12 GiB", function()
    maskinfo.set_memory_limit(0)
    assert.are.equal(12 * 1024 * 1024 * 1024, maskinfo.get_memory_limit())
  end)

  it("set_memory_limit returns the previous limit", function()
    maskinfo.set_memory_limit(0)
    assert.are.equal(12 * 1024 * 1024 * 1024, maskinfo.set_memory_limit(5000))
    assert.are.equal(5000, maskinfo.get_memory_limit())
    assert.are.equal(5000, maskinfo.set_memory_limit(0))
  end)

  it("attention_mask() of a big structured mask fails naming the size", function()
    local m = maskinfo.from_segments({ maskinfo.util.fill(100, 0) })
    maskinfo.set_memory_limit(1000)
    assert_error(function() m:attention_mask() end,
      "attention_mask: a dense (1, 1, 100, 100) bool array needs 9.8 KiB: over the memory guard "
      .. "(limit 1000.0 B, see maskinfo.set_memory_limit)")
  end)

  it("bias() and create_bias() are guarded with their dtype's size", function()
    local m = maskinfo.from_segments({ maskinfo.util.fill(100, 0) })
    maskinfo.set_memory_limit(1000)
    assert_error_has(function() m:bias() end, { "bias:", "(1, 1, 100, 100) float32", "39.1 KiB" })
    assert_error_has(function() m:create_bias("float16") end, { "create_bias:", "float16", "19.5 KiB" })
  end)

  it("structured queries still work under a small limit", function()
    local m = maskinfo.from_segments({ maskinfo.util.fill(100, 0) })
    maskinfo.set_memory_limit(1000)
    assert.are.equal(10000, (m:count()))
    assert.are.same({ 1, 100, 100 }, { m:shape() })
  end)

  it("a million-token packed mask counts without a dense array", function()
    local ids = maskinfo.util.segments_from_lengths({ 2 ^ 19, 2 ^ 18, 2 ^ 18 })
    local m = maskinfo.from_segments({ ids })
    maskinfo.set_memory_limit(64 * 1024 * 1024)
    assert.are.equal(2 ^ 38 + 2 * 2 ^ 36, (m:count()))
    assert_error_has(function() m:attention_mask() end, { "attention_mask:", "(1, 1, 1048576, 1048576)", "1.0 TiB" })
  end)

  it("set_memory_limit wants a non-negative integer", function()
    assert_error(function() maskinfo.set_memory_limit(-1) end,
      "bad argument #1 to 'set_memory_limit' (non-negative integer byte count expected)")
    assert_error(function() maskinfo.set_memory_limit(1.5) end,
      "bad argument #1 to 'set_memory_limit' (non-negative integer byte count expected)")
  end)
end)

---------------------------------------------------------------- coordinates

describe("0-based coordinates, 1-based Lua tables", function()
  it("t[1] is position 0 in ids, positions and cu_seqlens", function()
    local m = maskinfo.from_segments({ { 5, 5, 9 } })
    assert.are.equal(5, m:q_segment_ids():totable()[1][1])
    assert.are.equal(5, m:q_segment_ids():get(0))
    assert.are.equal(0, m:q_position_ids():totable()[1][1])
    assert.are.equal(0, m:q_position_ids():get(2))
  end)

  it("mask[b][h][q][k] in Lua is cell (b-1, h-1, q-1, k-1); get() takes the 0-based flat index", function()
    local m = maskinfo.from_segments({ { 0, 1, 1 } })
    local a = m:attention_mask()
    -- query 1 attends key 2 (0-based): t[1][1][2][3]; flat index 1*3 + 2 = 5
    assert.is_true(a:totable()[1][1][2][3])
    assert.is_true(a:get(5))
    assert.is_false(a:get(1))
  end)

  it("cu_seqlens pairs are 0-based half-open [start, end)", function()
    local mask = maskinfo.cu_seqlens_to_mask({ 1, 2 }, 3):totable()
    assert.are.same({ { F, T, F } }, mask)
  end)
end)

---------------------------------------------------------------- methods on non-MaskInfo

describe("a method called on something that is not a MaskInfo", function()
  it("q_len(42) names the method and what it got, with no position prefix", function()
    assert_error(function() return maskinfo.from_segments({ { 0 } }).q_len(42) end,
      "bad argument #1 to 'q_len' (MaskInfo expected, got number)")
  end)

  it("attention_mask(nil) and replace('x') likewise", function()
    local m = maskinfo.from_segments({ { 0 } })
    assert_error(function() return m.attention_mask(nil) end,
      "bad argument #1 to 'attention_mask' (MaskInfo expected, got nil)")
    assert_error(function() return m.replace("x") end,
      "bad argument #1 to 'replace' (MaskInfo expected, got string)")
  end)

  it("an Array is not a MaskInfo", function()
    local m = maskinfo.from_segments({ { 0 } })
    assert_error(function() return m.shape(m:attention_mask()) end,
      "bad argument #1 to 'shape' (MaskInfo expected, got maskinfo.Array)")
  end)
end)
