-- Bad input: every public function checks its arguments and raises a Lua error that names
-- the function, the argument and what was expected (issue 2, "Bad input").  It never
-- crashes and never returns a silently wrong result.  Exact texts are compared on the raw
-- message (luassert's has_error strips a "file:line:" prefix; these errors have none).
-- Also: Arrays are accepted everywhere a table is.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local E = dofile(here .. "/helpers/errors.lua")
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")

local T, F = true, false
local NaN = 0 / 0
local A = maskinfo.Array.new

local errmsg, assert_error, assert_error_has = E.errmsg, E.assert_error, E.assert_error_has

-- Run code in a child lua5.4 limited to `kb` KiB of address space, so that an unguarded
-- huge allocation ends in "not enough memory" instead of taking the machine's memory.
local function run_limited(code, kb) return P.run_lua(code, nil, kb) end

local DTYPES = "(expected bool, int32, float32, float16 or bfloat16)"

---------------------------------------------------------------- wrong rank

describe("bad input: wrong rank", function()
  it("from_segments: 3-D or 4-D ids", function()
    assert_error(function() maskinfo.from_segments({ { { { 0 } } } }) end,
      "bad argument #1 to 'from_segments' (segment ids: 2-D (batch, len) expected, got 4-D)")
    assert_error(function() maskinfo.from_segments({ { 0 } }, { { { 0 } } }) end,
      "bad argument #2 to 'from_segments' (kv segment ids: 2-D (batch, len) expected, got 3-D)")
  end)

  it("from_segments is_attn_mask: a 3-D padding mask", function()
    assert_error(function() maskinfo.from_segments({ { { 1, 0 } } }, { is_attn_mask = true }) end,
      "bad argument #1 to 'from_segments' (padding mask: 2-D (batch, len) mask expected, got 3-D)")
  end)

  it("from_attention_mask: 1-D and 5-D", function()
    assert_error(function() maskinfo.from_attention_mask({ 1, 0, 1 }) end,
      "bad argument #1 to 'from_attention_mask' (2-D, 3-D or 4-D mask expected, got 1-D)")
    assert_error(function() maskinfo.from_attention_mask({ { { { { 1 } } } } }) end,
      "bad argument #1 to 'from_attention_mask' (2-D, 3-D or 4-D mask expected, got 5-D)")
  end)

  it("segment_ids_to_mask: 3-D ids", function()
    assert_error(function() maskinfo.segment_ids_to_mask({ { { 0 } } }) end,
      "bad argument #1 to 'segment_ids_to_mask' (segment ids: 2-D (batch, len) expected, got 3-D)")
  end)

  it("mask_to_segment_ids: 1-D and 5-D", function()
    assert_error(function() maskinfo.mask_to_segment_ids({ 1, 0 }) end,
      "bad argument #1 to 'mask_to_segment_ids' (2-D, 3-D or 4-D mask expected, got 1-D)")
    assert_error(function() maskinfo.mask_to_segment_ids({ { { { { 1 } } } } }) end,
      "bad argument #1 to 'mask_to_segment_ids' (2-D, 3-D or 4-D mask expected, got 5-D)")
  end)

  it("qkv_masks_to_cu_seqlens: 3-D masks", function()
    assert_error(function() maskinfo.qkv_masks_to_cu_seqlens({ { { 1 } } }) end,
      "bad argument #1 to 'qkv_masks_to_cu_seqlens' (q_mask: 2-D (batch, len) mask expected, got 3-D)")
  end)

  it("cu_seqlens_to_mask: 2-D cu_seqlens", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ { 0, 1 } }, 2) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens: 1-D sequence expected, got 2-D)")
  end)

  it("from_cu_seqlens: 2-D cu_seqlens", function()
    assert_error(function() maskinfo.from_cu_seqlens({ { 0, 3 } }, { max_q_len = 5 }) end,
      "bad argument #1 to 'from_cu_seqlens' (cu_seqlens_q: 1-D sequence expected, got 2-D)")
  end)

  it("attention_mask_to_qkv_cu_seqlens: 1-D", function()
    assert_error(function() maskinfo.attention_mask_to_qkv_cu_seqlens({ 1, 0 }) end,
      "bad argument #1 to 'attention_mask_to_qkv_cu_seqlens' (2-D, 3-D or 4-D mask expected, got 1-D)")
  end)
end)

---------------------------------------------------------------- ragged tables

describe("bad input: ragged nested tables", function()
  it("from_segments", function()
    assert_error(function() maskinfo.from_segments({ { 0, 0 }, { 1 } }) end,
      "bad argument #1 to 'from_segments' (segment ids: ragged nested table: length 1 at [2], expected 2)")
  end)

  it("from_attention_mask", function()
    assert_error(function() maskinfo.from_attention_mask({ { { 1, 0 }, { 1 } } }) end,
      "bad argument #1 to 'from_attention_mask' (attention_mask: ragged nested table: length 1 at [1][2], expected 2)")
  end)

  it("segment_ids_to_mask", function()
    assert_error(function() maskinfo.segment_ids_to_mask({ { 0 }, { 0, 1 } }) end,
      "bad argument #1 to 'segment_ids_to_mask' (segment ids: ragged nested table: length 2 at [2], expected 1)")
  end)

  it("mask_to_segment_ids", function()
    assert_error(function() maskinfo.mask_to_segment_ids({ { 1, 0 }, { 1 } }) end,
      "bad argument #1 to 'mask_to_segment_ids' (mask: ragged nested table: length 1 at [2], expected 2)")
  end)

  it("qkv_masks_to_cu_seqlens", function()
    assert_error(function() maskinfo.qkv_masks_to_cu_seqlens({ { 1, 0 }, { 1 } }) end,
      "bad argument #1 to 'qkv_masks_to_cu_seqlens' (q_mask: ragged nested table: length 1 at [2], expected 2)")
  end)

  it("a table where a number belongs", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, { 1 } }, 2) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens: integer expected at [2], got table)")
  end)

  it("dynamic_init input_ids", function()
    assert_error(function() maskinfo.dynamic_init{ input_ids = { { 1, 2 }, { 3 } } } end,
      "bad argument #1 to 'dynamic_init' (input_ids: ragged nested table: length 1 at [2], expected 2)")
  end)
end)

---------------------------------------------------------------- non-integers, NaN, booleans

describe("bad input: non-integers", function()
  it("segment ids", function()
    assert_error(function() maskinfo.from_segments({ { 0, 1.5 } }) end,
      "bad argument #1 to 'from_segments' (segment ids: non-integer at [1][2])")
  end)

  it("infinite segment ids", function()
    assert_error(function() maskinfo.from_segments({ { 0, math.huge } }) end,
      "bad argument #1 to 'from_segments' (segment ids: non-integer at [1][2])")
  end)

  it("segment ids that do not fit int32", function()
    assert_error(function() maskinfo.from_segments({ { 0, 2147483648 } }) end,
      "bad argument #1 to 'from_segments' (segment ids: value at [1][2] does not fit int32)")
    assert_error(function() maskinfo.from_segments({ { 0, 2 ^ 53 } }) end,
      "bad argument #1 to 'from_segments' (segment ids: value at [1][2] does not fit int32)")
  end)

  it("cu_seqlens entries", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1.5 }, 2) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens: non-integer at [2])")
  end)

  it("lengths", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1 }, 2.5) end,
      "bad argument #2 to 'cu_seqlens_to_mask' (max_len: integer expected, got 2.5)")
    assert_error(function() maskinfo.from_random(1, 4.5) end,
      "bad argument #2 to 'from_random' (q_len: integer expected, got 4.5)")
    assert_error(function() maskinfo.from_cu_seqlens({ 0, 1 }, { max_q_len = 2.5 }) end,
      "bad argument #2 to 'from_cu_seqlens' (max_q_len: integer expected, got 2.5)")
  end)

  it("chunk size, offset and seed", function()
    assert_error(function() maskinfo.create_chunked_attention_mask(1.5, 4) end,
      "bad argument #1 to 'create_chunked_attention_mask' (chunk_size: integer expected, got 1.5)")
    assert_error(function() maskinfo.create_chunked_attention_mask(2, 4, 4, 0.5) end,
      "bad argument #4 to 'create_chunked_attention_mask' (offset: integer expected, got 0.5)")
    assert_error(function() maskinfo.from_random(1, 4, 4, 0.5, 1.5) end,
      "bad argument #5 to 'from_random' (seed: integer expected, got 1.5)")
  end)

  it("positions", function()
    assert_error(function() maskinfo.from_segments({ { 0, 0 } }, { q_positions = { { 0, 0.5 } } }) end,
      "bad argument #2 to 'from_segments' (q_positions: non-integer at [1][2])")
  end)

  it("a float32 Array of ids with a fraction", function()
    assert_error(function() maskinfo.from_segments(A("float32", { 1, 2 }, { 0, 1.5 })) end,
      "bad argument #1 to 'from_segments' (segment ids: non-integer value in float32 array)")
  end)

  it("a float32 Array of ids too large for int32 is refused, not saturated", function()
    assert_error_has(function() maskinfo.from_segments(A("float32", { 1, 2 }, { 0, 1e12 })) end,
      { "bad argument #1 to 'from_segments'", "int32" })
  end)

  it("a string where a number belongs", function()
    assert_error(function() maskinfo.from_segments({ { 0, "1" } }) end,
      "bad argument #1 to 'from_segments' (segment ids: integer expected at [1][2], got string)")
    assert_error(function() maskinfo.from_attention_mask({ { { 1, 0 }, { 1, "x" } } }) end,
      "bad argument #1 to 'from_attention_mask' (attention_mask: boolean or number expected at [1][2][2], got string)")
  end)

  it("a sparsity that is a string says so", function()
    assert_error_has(function() maskinfo.from_random(1, 4, 4, "0.5") end,
      { "bad argument #4 to 'from_random'", "string" })
  end)
end)

describe("bad input: NaN", function()
  it("in segment ids", function()
    assert_error(function() maskinfo.from_segments({ { 0, NaN } }) end,
      "bad argument #1 to 'from_segments' (segment ids: NaN at [1][2])")
  end)

  it("in a mask", function()
    assert_error(function() maskinfo.from_attention_mask({ { { NaN, 0 }, { 0, 1 } } }) end,
      "bad argument #1 to 'from_attention_mask' (attention_mask: NaN at [1][1][1])")
    assert_error(function() maskinfo.mask_to_segment_ids({ { 1, NaN } }) end,
      "bad argument #1 to 'mask_to_segment_ids' (mask: NaN at [1][2])")
  end)

  it("in cu_seqlens and lengths", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, NaN }, 2) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens: NaN at [2])")
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1 }, NaN) end,
      "bad argument #2 to 'cu_seqlens_to_mask' (max_len: integer expected, got NaN)")
  end)

  it("in dynamic_init's attention_mask", function()
    assert_error(function() maskinfo.dynamic_init{ attention_mask = { { 1, NaN } } } end,
      "bad argument #1 to 'dynamic_init' (attention_mask: NaN at [1][2])")
  end)

  it("as sparsity, spelled NaN", function()
    assert_error(function() maskinfo.from_random(1, 4, 4, NaN) end,
      "bad argument #4 to 'from_random' (sparsity in [0, 1] expected, got NaN)")
  end)
end)

describe("bad input: booleans where integers are expected", function()
  it("segment ids", function()
    assert_error(function() maskinfo.from_segments({ { T, F } }) end,
      "bad argument #1 to 'from_segments' (segment ids: integer expected at [1][1], got boolean)")
  end)

  it("cu_seqlens", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ T, F }, 2) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens: integer expected at [1], got boolean)")
  end)

  it("lengths and sizes", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1 }, true) end,
      "bad argument #2 to 'cu_seqlens_to_mask' (max_len: integer expected, got boolean)")
    assert_error(function() maskinfo.from_random(true, 4) end,
      "bad argument #1 to 'from_random' (batch_size: integer expected, got boolean)")
  end)

  it("a missing required integer says nil", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1 }) end,
      "bad argument #2 to 'cu_seqlens_to_mask' (max_len: integer expected, got nil)")
    assert_error(function() maskinfo.create_chunked_attention_mask(nil, 4) end,
      "bad argument #1 to 'create_chunked_attention_mask' (chunk_size: integer expected, got nil)")
  end)
end)

describe("bad input: flags must be booleans (0 is true in Lua but False in the seed)", function()
  it("from_segments is_attn_mask", function()
    assert_error_has(function() maskinfo.from_segments({ { 1, 0 } }, { is_attn_mask = 0 }) end,
      { "bad argument #2 to 'from_segments'", "is_attn_mask", "boolean" })
  end)

  it("from_attention_mask mask_is_valid", function()
    assert_error_has(function() maskinfo.from_attention_mask({ { 1, 0 } }, { mask_is_valid = 0 }) end,
      { "bad argument #2 to 'from_attention_mask'", "mask_is_valid", "boolean" })
  end)

  it("segment_ids_to_mask return_separate_masks", function()
    assert_error_has(function() maskinfo.segment_ids_to_mask({ { 0, 1 } }, nil, { return_separate_masks = 0 }) end,
      { "bad argument #3 to 'segment_ids_to_mask'", "return_separate_masks", "boolean" })
  end)

  it("get_or_compute_segment_ids per_head", function()
    local m = maskinfo.from_random(1, 2, 2, 0.5, 1)
    assert_error(function() m:get_or_compute_segment_ids(0) end,
      "bad argument #1 to 'get_or_compute_segment_ids' (boolean expected, got number)")
  end)

  it("mask_to_segment_ids per_head", function()
    assert_error(function() maskinfo.mask_to_segment_ids({ { 1, 0 } }, 1) end,
      "bad argument #2 to 'mask_to_segment_ids' (boolean expected, got number)")
  end)

  it("get_shardings sequence_parallel", function()
    local m = maskinfo.from_segments({ { 0 } })
    assert_error_has(function() m:get_shardings{ mesh = { dp = 1, fsdp = 1, tp = 1, sp = 1 }, sequence_parallel = 0 } end,
      { "bad argument #1 to 'get_shardings'", "sequence_parallel", "boolean" })
  end)

  it("replace baked-in flags", function()
    assert_error(function() maskinfo.from_segments({ { 0 } }):replace{ causal_mask_baked_in = 1 } end,
      "bad argument #1 to 'replace' (option 'causal_mask_baked_in': boolean expected, got number)")
  end)

  it("set_debug_mode", function()
    assert_error(function() maskinfo.set_debug_mode(0) end,
      "bad argument #1 to 'set_debug_mode' (boolean expected, got number)")
  end)
end)

---------------------------------------------------------------- batch sizes, lengths

describe("bad input: mismatched batch sizes", function()
  -- upstream broadcasts a batch-1 side; other mismatches are errors
  local two, three = { { 0, 0 }, { 0, 0 } }, { { 0, 0 }, { 0, 0 }, { 0, 0 } }
  it("from_segments", function()
    assert_error(function() maskinfo.from_segments(two, three) end,
      "bad argument #2 to 'from_segments' (batch sizes differ: 2 query rows and 3 key rows (only a batch of 1 broadcasts))")
  end)

  it("from_segments is_attn_mask", function()
    assert_error(function() maskinfo.from_segments({ { 1, 0 }, { 1, 1 } }, { { 1 }, { 1 }, { 0 } }, { is_attn_mask = true }) end,
      "bad argument #2 to 'from_segments' (batch sizes differ: 2 query rows and 3 key rows (only a batch of 1 broadcasts))")
  end)

  it("segment_ids_to_mask", function()
    assert_error(function() maskinfo.segment_ids_to_mask(three, two) end,
      "bad argument #2 to 'segment_ids_to_mask' (batch sizes differ: 3 query rows and 2 key rows (only a batch of 1 broadcasts))")
  end)

  it("segment_ids_to_qkv_masks", function()
    assert_error(function() maskinfo.segment_ids_to_qkv_masks(two, three) end,
      "bad argument #2 to 'segment_ids_to_qkv_masks' (batch sizes differ: 2 query rows and 3 key rows (only a batch of 1 broadcasts))")
  end)

  it("qkv_cu_seqlens_to_attention_mask", function()
    assert_error(function()
      maskinfo.qkv_cu_seqlens_to_attention_mask({ 0, 3, 0, 1 }, { max_q_len = 5, cu_seqlens_kv = { 0, 1, 0, 1, 0, 1 } })
    end, "bad argument #2 to 'qkv_cu_seqlens_to_attention_mask' (batch sizes differ: 2 query rows and 3 key rows "
      .. "(only a batch of 1 broadcasts))")
  end)

  it("from_cu_seqlens (its ids and stored pairs must share one batch)", function()
    assert_error(function()
      maskinfo.from_cu_seqlens({ 0, 3 }, { max_q_len = 5, cu_seqlens_kv = { 0, 1, 0, 1 } })
    end, "bad argument #2 to 'from_cu_seqlens' (batch sizes differ: 1 query rows and 2 key rows)")
  end)

  it("positions whose shape differs from the ids", function()
    assert_error_has(function() maskinfo.from_segments({ { 0, 0, 1 } }, { q_positions = { { 5, 6 } } }) end,
      { "bad argument #2 to 'from_segments'", "q_positions" })
    assert_error_has(function() maskinfo.from_segments({ { 0, 0 } }, { kv_positions = { { 1, 2 }, { 3, 4 } } }) end,
      { "bad argument #2 to 'from_segments'", "kv_positions" })
  end)

  it("replace with a mask whose shape disagrees with the stored ids", function()
    local m = maskinfo.from_cu_seqlens({ 0, 3 }, { max_q_len = 4 })
    assert_error_has(function() m:replace{ attention_mask = { { { 1, 0 }, { 1, 1 } } } } end,
      { "bad argument #1 to 'replace'", "attention_mask" })
  end)
end)

describe("bad input: negative lengths and sizes", function()
  it("from_random", function()
    assert_error(function() maskinfo.from_random(-1, 4) end,
      "bad argument #1 to 'from_random' (batch_size must be >= 0, got -1)")
    assert_error(function() maskinfo.from_random(1, 4, -4) end,
      "bad argument #3 to 'from_random' (kv_len must be >= 0, got -4)")
  end)

  it("cu_seqlens_to_mask max_len", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 2 }, -1) end,
      "bad argument #2 to 'cu_seqlens_to_mask' (max_len must be >= 0, got -1)")
  end)

  it("from_cu_seqlens / qkv_cu_seqlens_to_qkv_masks max_q_len", function()
    assert_error(function() maskinfo.from_cu_seqlens({ 0, 1 }, { max_q_len = -1 }) end,
      "bad argument #2 to 'from_cu_seqlens' (max_q_len must be >= 0, got -1)")
    assert_error(function() maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 1 }, { max_q_len = -2 }) end,
      "bad argument #2 to 'qkv_cu_seqlens_to_qkv_masks' (max_q_len must be >= 0, got -2)")
  end)

  it("create_chunked_attention_mask", function()
    assert_error(function() maskinfo.create_chunked_attention_mask(2, -4) end,
      "bad argument #2 to 'create_chunked_attention_mask' (q_len must be >= 0, got -4)")
    assert_error(function() maskinfo.create_chunked_attention_mask(2, 4, -1) end,
      "bad argument #3 to 'create_chunked_attention_mask' (kv_len must be >= 0, got -1)")
    assert_error(function() maskinfo.create_chunked_attention_mask(0, 4) end,
      "bad argument #1 to 'create_chunked_attention_mask' (chunk_size must be a positive integer, got 0)")
  end)

  it("dynamic_init batch_size", function()
    assert_error(function() maskinfo.dynamic_init{ batch_size = -2, seq_len = 2 } end,
      "bad argument #1 to 'dynamic_init' (batch_size must be >= 0, got -2)")
  end)

  it("get_or_compute_qkv_cu_seqlens max_segments", function()
    assert_error(function() maskinfo.from_segments({ { 0 } }):get_or_compute_qkv_cu_seqlens{ max_segments = -1 } end,
      "bad argument #1 to 'get_or_compute_qkv_cu_seqlens' (max_segments must be >= 0, got -1)")
  end)

  it("sparsity outside [0, 1]", function()
    assert_error(function() maskinfo.from_random(1, 4, 4, 1.5) end,
      "bad argument #4 to 'from_random' (sparsity in [0, 1] expected, got 1.5)")
    assert_error(function() maskinfo.from_random(1, 4, 4, -0.1) end,
      "bad argument #4 to 'from_random' (sparsity in [0, 1] expected, got -0.1)")
  end)
end)

---------------------------------------------------------------- cu_seqlens

describe("bad input: cu_seqlens", function()
  it("odd length", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1, 2 }, 4) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens must have even length (batch*2), got 3)")
    assert_error(function() maskinfo.from_cu_seqlens({ 0, 3, 4 }, { max_q_len = 5 }) end,
      "bad argument #1 to 'from_cu_seqlens' (cu_seqlens_q must have even length (batch*2), got 3)")
    assert_error(function() maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 1 }, { max_q_len = 2, cu_seqlens_kv = { 0, 1, 2 } }) end,
      "bad argument #2 to 'qkv_cu_seqlens_to_qkv_masks' (cu_seqlens_kv must have even length (batch*2), got 3)")
  end)

  it("end > max_len", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 5 }, 4) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens pair 0 is [0, 5): expected 0 <= start <= end <= 4)")
    assert_error(function() maskinfo.from_cu_seqlens({ 0, 3 }, { max_q_len = 2 }) end,
      "bad argument #1 to 'from_cu_seqlens' (cu_seqlens_q pair 0 is [0, 3): expected 0 <= start <= end <= 2)")
    assert_error(function() maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 1 }, { max_q_len = 2, cu_seqlens_kv = { 0, 3 } }) end,
      "bad argument #2 to 'qkv_cu_seqlens_to_qkv_masks' (cu_seqlens_kv pair 0 is [0, 3): expected 0 <= start <= end <= 2)")
  end)

  it("start > end, in the second pair", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 1, 3, 2 }, 4) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens pair 1 is [3, 2): expected 0 <= start <= end <= 4)")
  end)

  it("negative start", function()
    assert_error(function() maskinfo.cu_seqlens_to_mask({ -1, 2 }, 4) end,
      "bad argument #1 to 'cu_seqlens_to_mask' (cu_seqlens pair 0 is [-1, 2): expected 0 <= start <= end <= 4)")
  end)

  it("from_cu_seqlens without options, or without max_q_len", function()
    assert_error(function() maskinfo.from_cu_seqlens({ 0, 3 }) end,
      "bad argument #2 to 'from_cu_seqlens' (options table with max_q_len expected)")
    assert_error(function() maskinfo.from_cu_seqlens({ 0, 3 }, {}) end,
      "bad argument #2 to 'from_cu_seqlens' (option 'max_q_len' is required)")
    assert_error(function() maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 1 }) end,
      "bad argument #2 to 'qkv_cu_seqlens_to_qkv_masks' (option 'max_q_len' is required)")
  end)
end)

---------------------------------------------------------------- ids below -1

describe("bad input: segment ids below -1", function()
  it("from_segments q and kv", function()
    assert_error(function() maskinfo.from_segments({ { 0, -2 } }) end,
      "bad argument #1 to 'from_segments' (segment ids must be >= -1 (-1 marks padding), got -2)")
    assert_error(function() maskinfo.from_segments({ { 0 } }, { { -5 } }) end,
      "bad argument #2 to 'from_segments' (kv segment ids must be >= -1 (-1 marks padding), got -5)")
  end)

  it("segment_ids_to_mask", function()
    assert_error(function() maskinfo.segment_ids_to_mask({ { 0, -2 } }) end,
      "bad argument #1 to 'segment_ids_to_mask' (segment ids must be >= -1 (-1 marks padding), got -2)")
  end)

  it("an int32 Array", function()
    assert_error(function() maskinfo.from_segments(A("int32", { 1, 2 }, { 0, -5 })) end,
      "bad argument #1 to 'from_segments' (segment ids must be >= -1 (-1 marks padding), got -5)")
  end)

  it("replace", function()
    assert_error(function() maskinfo.from_segments({ { 0, 0 } }):replace{ q_segment_ids = { { 0, -3 } } } end,
      "bad argument #1 to 'replace' (q_segment_ids must be >= -1 (-1 marks padding), got -3)")
  end)
end)

---------------------------------------------------------------- options, dtypes

describe("bad input: unknown option names", function()
  it("from_segments", function()
    assert_error(function() maskinfo.from_segments({ { 0, 0 } }, { foo = 1 }) end,
      "bad argument #2 to 'from_segments' (unknown option 'foo' (expected one of: batch_axis_name, is_attn_mask, "
      .. "kv_positions, kvheads_axis_name, q_positions, qheads_axis_name, sequence_axis_name))")
  end)

  it("from_attention_mask", function()
    assert_error(function() maskinfo.from_attention_mask({ { 1 } }, { foo = 1 }) end,
      "bad argument #2 to 'from_attention_mask' (unknown option 'foo' (expected one of: batch_axis_name, kv_positions, "
      .. "kvheads_axis_name, mask_is_valid, q_positions, qheads_axis_name, sequence_axis_name))")
  end)

  it("segment_ids_to_mask", function()
    assert_error(function() maskinfo.segment_ids_to_mask({ { 0, 1 } }, { foo = 1 }) end,
      "bad argument #2 to 'segment_ids_to_mask' (unknown option 'foo' (expected one of: dtype, return_separate_masks))")
  end)

  it("attention_mask_to_qkv_cu_seqlens", function()
    assert_error(function() maskinfo.attention_mask_to_qkv_cu_seqlens({ { 1, 0 } }, { foo = 1 }) end,
      "bad argument #2 to 'attention_mask_to_qkv_cu_seqlens' (unknown option 'foo' (expected one of: reduce_heads))")
  end)

  it("qkv_cu_seqlens_to_qkv_masks", function()
    assert_error(function() maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 1 }, { max_q_len = 2, foo = 1 }) end,
      "bad argument #2 to 'qkv_cu_seqlens_to_qkv_masks' (unknown option 'foo' (expected one of: cu_seqlens_kv, dtype, max_kv_len, max_q_len))")
  end)

  it("dynamic_init", function()
    assert_error(function() maskinfo.dynamic_init{ foo = 2 } end,
      "bad argument #1 to 'dynamic_init' (unknown option 'foo' (expected one of: attention_mask, batch_size, input_ids, inputs_embeds, mask_info, seq_len))")
  end)

  it("get_shardings and get_or_compute_qkv_cu_seqlens", function()
    local m = maskinfo.from_segments({ { 0 } })
    assert_error(function() m:get_shardings{ mesh = { dp = 1 }, foo = 1 } end,
      "bad argument #1 to 'get_shardings' (unknown option 'foo' (expected one of: mesh, sequence_parallel))")
    assert_error(function() m:get_or_compute_qkv_cu_seqlens{ foo = 1 } end,
      "bad argument #1 to 'get_or_compute_qkv_cu_seqlens' (unknown option 'foo' (expected one of: max_segments, out_dtype))")
  end)

  it("replace", function()
    assert_error_has(function() maskinfo.from_segments({ { 0 } }):replace{ foo = 1 } end,
      { "bad argument #1 to 'replace' (unknown option 'foo' (expected one of: attention_mask, batch_axis_name," })
  end)

  it("an options argument that is not a table", function()
    assert_error(function() maskinfo.from_segments({ { 0 } }, nil, 5) end,
      "bad argument #3 to 'from_segments' (options table expected, got number)")
    assert_error(function() maskinfo.from_attention_mask({ { 1 } }, 5) end,
      "bad argument #2 to 'from_attention_mask' (options table expected, got number)")
    assert_error(function() maskinfo.from_segments({ { 0 } }):replace(5) end,
      "bad argument #1 to 'replace' (options table expected, got number)")
  end)

  it("bad axis names", function()
    assert_error(function() maskinfo.from_segments({ { 0 } }, { batch_axis_name = 5 }) end,
      "bad argument #2 to 'from_segments' (option 'batch_axis_name': string, list of strings or false expected, got number)")
    assert_error(function() maskinfo.from_segments({ { 0 } }, { batch_axis_name = {} }) end,
      "bad argument #2 to 'from_segments' (option 'batch_axis_name': empty axis name list)")
    assert_error(function() maskinfo.from_segments({ { 0 } }, { batch_axis_name = { "a", 1 } }) end,
      "bad argument #2 to 'from_segments' (option 'batch_axis_name': axis names must be strings)")
  end)
end)

describe("bad input: unknown dtype", function()
  local m = maskinfo.from_segments({ { 0, 1 } })

  it("attention_mask / get_or_compute_attention_mask / to_dtype", function()
    assert_error(function() m:attention_mask("int8") end,
      "bad argument #1 to 'attention_mask' (invalid dtype 'int8' " .. DTYPES .. ")")
    assert_error(function() m:get_or_compute_attention_mask("float64") end,
      "bad argument #1 to 'get_or_compute_attention_mask' (invalid dtype 'float64' " .. DTYPES .. ")")
    assert_error(function() m:to_dtype(5) end,
      "bad argument #1 to 'to_dtype' (invalid dtype '5' " .. DTYPES .. ")")
    assert_error(function() m:to_dtype() end, "bad argument #1 to 'to_dtype' (dtype expected)")
  end)

  it("module functions", function()
    assert_error(function() maskinfo.segment_ids_to_mask({ { 0, 1 } }, nil, { dtype = "int8" }) end,
      "bad argument #3 to 'segment_ids_to_mask' (invalid dtype 'int8' " .. DTYPES .. ")")
    assert_error(function() maskinfo.segment_ids_to_qkv_masks({ { 0, 1 } }, "float64") end,
      "bad argument #2 to 'segment_ids_to_qkv_masks' (invalid dtype 'float64' " .. DTYPES .. ")")
    assert_error(function() maskinfo.cu_seqlens_to_mask({ 0, 2 }, 4, "int8") end,
      "bad argument #3 to 'cu_seqlens_to_mask' (invalid dtype 'int8' " .. DTYPES .. ")")
    assert_error(function() maskinfo.qkv_cu_seqlens_to_attention_mask({ 0, 1 }, { max_q_len = 2, dtype = "x" }) end,
      "bad argument #2 to 'qkv_cu_seqlens_to_attention_mask' (invalid dtype 'x' " .. DTYPES .. ")")
    assert_error(function() maskinfo.create_chunked_attention_mask(2, 4, 4, 0, "int8") end,
      "bad argument #5 to 'create_chunked_attention_mask' (invalid dtype 'int8' " .. DTYPES .. ")")
  end)
end)

describe("bad input: unknown reduce_heads", function()
  it("names the allowed values", function()
    assert_error(function() maskinfo.attention_mask_to_qkv_cu_seqlens({ { 1, 0 }, { 0, 1 } }, { reduce_heads = "max" }) end,
      "bad argument #2 to 'attention_mask_to_qkv_cu_seqlens' (reduce_heads must be one of 'any', 'all', 'first', got 'max')")
  end)
end)

---------------------------------------------------------------- sizes

describe("bad input: sizes that overflow or exceed memory", function()
  after_each(function() maskinfo.set_memory_limit(0) end)

  it("from_random(1, 2^31, 2^31) is a guard error, not a crash", function()
    assert_error(function() maskinfo.from_random(1, 2 ^ 31, 2 ^ 31) end,
      "from_random: a random (1, 1, 2147483648, 2147483648) mask needs 512.0 PiB of bits: over the memory guard (limit 12.0 GiB)")
  end)

  it("from_random with sizes whose product overflows int64 is refused", function()
    assert_error_has(function() maskinfo.from_random(2 ^ 62, 2 ^ 62, 2 ^ 62) end, { "from_random:", "memory guard" })
  end)

  it("create_chunked_attention_mask of 2^31 tokens is a guard error", function()
    assert_error_has(function() maskinfo.create_chunked_attention_mask(2, 2 ^ 31) end,
      { "create_chunked_attention_mask: a dense (1, 1, 2147483648, 2147483648) bool array needs", "memory guard" })
  end)

  it("create_chunked_attention_mask of 2^62 x 2^62 reports an overflow", function()
    assert_error(function() maskinfo.create_chunked_attention_mask(2, 2 ^ 62, 2 ^ 62) end,
      "create_chunked_attention_mask: size computation overflows")
  end)

  it("cu_seqlens_to_mask over the limit raises (does not return nil)", function()
    maskinfo.set_memory_limit(4096)
    assert_error_has(function() maskinfo.cu_seqlens_to_mask({ 0, 0 }, 100000) end, { "cu_seqlens_to_mask", "memory" })
  end)

  it("qkv_cu_seqlens_to_qkv_masks over the limit raises", function()
    maskinfo.set_memory_limit(4096)
    assert_error_has(function() maskinfo.qkv_cu_seqlens_to_qkv_masks({ 0, 0 }, { max_q_len = 100000 }) end,
      { "qkv_cu_seqlens_to_qkv_masks", "memory" })
  end)

  it("from_cu_seqlens over the limit raises a guard error naming the function", function()
    maskinfo.set_memory_limit(4096)
    assert_error_has(function() maskinfo.from_cu_seqlens({ 0, 0 }, { max_q_len = 100000 }) end,
      { "from_cu_seqlens", "memory" })
  end)

  it("dynamic_init{batch_size, seq_len} over the limit raises a guard error naming the function", function()
    maskinfo.set_memory_limit(4096)
    assert_error_has(function() maskinfo.dynamic_init{ batch_size = 1, seq_len = 100000 } end,
      { "dynamic_init", "memory" })
  end)

  it("cu_seqlens_to_mask({0, 0}, 2^40) is a guard error, not an out-of-memory", function()
    local out = run_limited([[
      local m = require("maskinfo")
      local ok, err = pcall(m.cu_seqlens_to_mask, {0, 0}, 2^40)
      print(ok and "returned" or ("error: " .. tostring(err)))
    ]], 100000)
    assert.is_truthy(out:find("error: cu_seqlens_to_mask", 1, true), out)
    assert.is_falsy(out:find("not enough memory", 1, true), out)
  end)

  it("dynamic_init{batch_size=2^20, seq_len=2^20} is a guard error, not an out-of-memory", function()
    local out = run_limited([[
      local m = require("maskinfo")
      local ok, err = pcall(m.dynamic_init, {batch_size = 2^20, seq_len = 2^20})
      print(ok and "returned" or ("error: " .. tostring(err)))
    ]], 100000)
    assert.is_truthy(out:find("error: dynamic_init", 1, true), out)
    assert.is_falsy(out:find("not enough memory", 1, true), out)
  end)
end)

---------------------------------------------------------------- not a MaskInfo

describe("bad input: a method called on a non-MaskInfo", function()
  it("the issue's example", function()
    assert_error(function() return maskinfo.from_segments({ { 0 } }).q_len(42) end,
      "bad argument #1 to 'q_len' (MaskInfo expected, got number)")
  end)

  it("every method checks its receiver", function()
    local m = maskinfo.from_segments({ { 0 } })
    for _, name in ipairs({ "attention_mask", "q_segment_ids", "kv_segment_ids", "get_or_compute_attention_mask",
      "get_or_compute_segment_ids", "materialize_attention_mask", "materialize_segment_ids", "get_qkv_masks",
      "to_dtype", "cu_seqlens_q", "cu_seqlens_kv", "get_or_compute_qkv_cu_seqlens", "q_lens", "kv_lens",
      "q_attention_mask", "q_position_ids", "get_or_compute_positions", "is_multi_sequence",
      "is_self_attention", "baked_in_masks", "bias", "create_bias", "batch_size", "q_len", "kv_len",
      "shape", "get_shardings", "replace" }) do
      assert.are.equal(("bad argument #1 to '%s' (MaskInfo expected, got table)"):format(name),
        errmsg(m[name], {}), name)
    end
  end)

  it("passing a MaskInfo where ids are expected", function()
    assert_error(function() maskinfo.from_segments(maskinfo.from_segments({ { 0 } })) end,
      "bad argument #1 to 'from_segments' (segment ids: table or Array expected, got userdata)")
  end)

  it("dynamic_init mask_info must be a MaskInfo", function()
    assert_error(function() maskinfo.dynamic_init{ mask_info = "x" } end,
      "bad argument #1 to 'dynamic_init' (MaskInfo expected, got string)")
  end)
end)

---------------------------------------------------------------- Arrays everywhere

describe("Arrays are accepted everywhere a table is", function()
  local ids_t = { { 0, 0, 1, -1 } }
  local ids_a = A("int32", { 1, 4 }, { 0, 0, 1, -1 })

  it("from_segments q and kv", function()
    assert.is_true(maskinfo.from_segments(ids_a, ids_a):attention_mask() == maskinfo.from_segments(ids_t, ids_t):attention_mask())
  end)

  it("from_segments is_attn_mask with a bool Array", function()
    local a = maskinfo.from_segments(A("bool", { 1, 3 }, { 1, 1, 0 }), { is_attn_mask = true })
    local t = maskinfo.from_segments({ { 1, 1, 0 } }, { is_attn_mask = true })
    assert.is_true(a:attention_mask() == t:attention_mask())
  end)

  it("from_segments positions", function()
    local qp = maskinfo.from_segments({ { 0, 0 } }, { q_positions = A("int32", { 1, 2 }, { 3, 4 }) }):get_or_compute_positions()
    assert.are.same({ { 3, 4 } }, qp:totable())
  end)

  it("from_segments with an integral float32 Array", function()
    assert.are.same({ { 0, 1 } }, maskinfo.from_segments(A("float32", { 1, 2 }, { 0, 1 })):q_segment_ids():totable())
  end)

  it("from_attention_mask with bool and float32 Arrays", function()
    local t = maskinfo.from_attention_mask({ { { 1, 0 }, { 1, 1 } } }):attention_mask()
    assert.is_true(maskinfo.from_attention_mask(A("bool", { 1, 2, 2 }, { 1, 0, 1, 1 })):attention_mask() == t)
    assert.is_true(maskinfo.from_attention_mask(A("float32", { 1, 2, 2 }, { 1, 0, 1, 1 })):attention_mask() == t)
  end)

  it("from_attention_mask accepts an Array returned by attention_mask()", function()
    local m = maskinfo.from_segments({ { 0, 0, 1 } })
    assert.is_true(maskinfo.from_attention_mask(m:attention_mask()):attention_mask() == m:attention_mask())
  end)

  it("from_cu_seqlens q and kv", function()
    local a = maskinfo.from_cu_seqlens(A("int32", { 2 }, { 0, 2 }), { max_q_len = 3, cu_seqlens_kv = A("int32", { 2 }, { 1, 3 }) })
    local t = maskinfo.from_cu_seqlens({ 0, 2 }, { max_q_len = 3, cu_seqlens_kv = { 1, 3 } })
    assert.is_true(a:attention_mask() == t:attention_mask())
  end)

  it("segment_ids_to_mask and segment_ids_to_qkv_masks", function()
    assert.is_true(maskinfo.segment_ids_to_mask(ids_a) == maskinfo.segment_ids_to_mask(ids_t))
    local q1, k1, m1 = maskinfo.segment_ids_to_qkv_masks(ids_a, ids_a)
    local q2, k2, m2 = maskinfo.segment_ids_to_qkv_masks(ids_t, ids_t)
    assert.is_true(q1 == q2 and k1 == k2 and m1 == m2)
  end)

  it("mask_to_segment_ids", function()
    local q1 = maskinfo.mask_to_segment_ids(A("bool", { 2, 2 }, { 1, 0, 0, 1 }))
    local q2 = maskinfo.mask_to_segment_ids({ { 1, 0 }, { 0, 1 } })
    assert.is_true(q1 == q2)
  end)

  it("qkv_masks_to_cu_seqlens", function()
    local q = maskinfo.qkv_masks_to_cu_seqlens(A("bool", { 1, 3 }, { 0, 1, 1 }), A("bool", { 1, 3 }, { 1, 1, 0 }))
    assert.are.same({ 1, 3 }, q:totable())
  end)

  it("cu_seqlens_to_mask, qkv_cu_seqlens_to_qkv_masks, qkv_cu_seqlens_to_attention_mask", function()
    local cu = A("int32", { 2 }, { 0, 2 })
    assert.are.same({ { T, T, F } }, maskinfo.cu_seqlens_to_mask(cu, 3):totable())
    local q = maskinfo.qkv_cu_seqlens_to_qkv_masks(cu, { max_q_len = 3 })
    assert.are.same({ { T, T, F } }, q:totable())
    assert.is_true(maskinfo.qkv_cu_seqlens_to_attention_mask(cu, { max_q_len = 3 })
      == maskinfo.qkv_cu_seqlens_to_attention_mask({ 0, 2 }, { max_q_len = 3 }))
  end)

  it("attention_mask_to_qkv_cu_seqlens", function()
    local q, kv = maskinfo.attention_mask_to_qkv_cu_seqlens(A("bool", { 1, 2, 2 }, { 0, 0, 0, 1 }))
    assert.are.same({ 1, 2 }, q:totable())
    assert.are.same({ 1, 2 }, kv:totable())
  end)

  it("dynamic_init input_ids and attention_mask", function()
    assert.are.same({ 2, 3, 3 }, { maskinfo.dynamic_init{ input_ids = A("int32", { 2, 3 }) }:shape() })
    assert.are.same({ { 0, 0, -1 } },
      maskinfo.dynamic_init{ attention_mask = A("int32", { 1, 3 }, { 1, 1, 0 }) }:q_segment_ids():totable())
  end)

  it("replace with Arrays", function()
    local m = maskinfo.from_segments({ { 0, 0 } }):replace{ q_segment_ids = A("int32", { 1, 2 }, { 0, 1 }),
      attention_mask = A("bool", { 1, 1, 2, 2 }, { 1, 0, 0, 1 }) }
    assert.are.same({ { 0, 1 } }, m:q_segment_ids():totable())
    assert.are.same({ { { { T, F }, { F, T } } } }, m:attention_mask():totable())
  end)
end)
