-- Every docstring example of the seed (ejkernel's types/mask.py), each as its own test with the
-- stated result, through the Lua API. Where the seed's docstring is stale, the seed README's
-- correction (the code's behaviour) is used and noted. Coordinates are 0-based as in the seed;
-- Lua tables are 1-based, so the seed's x[0] is x[1] here.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local C = dofile(here .. "/helpers/conformance.lua")
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")

local T, F = true, false
local M32 = -3.4028234663852886e+38

local function shape_of(a) return a:shape() end

local function check(actual, expected, what)
  C.assert_array("[seed docstring example] " .. what, actual, expected, what)
end

local function same(actual, expected, what)
  C.assert_equal("[seed docstring example] " .. what, actual, expected, what)
end

-- Runs a Lua snippet in a child lua5.4 with this checkout's modules; returns its output.
local run_child, lines_of = P.run_lua, P.lines_of

describe("seed docstring examples: debug mode", function()
  it("get_debug_mode() is false by default; set_debug_mode(true/false) flips it and prints the seed's lines", function()
    local out = run_child([[
      local m = require("maskinfo")
      print(tostring(m.get_debug_mode()))
      m.set_debug_mode(true)
      print(tostring(m.get_debug_mode()))
      m.set_debug_mode(false)
      print(tostring(m.get_debug_mode()))
    ]], "MASKINFO_DEBUG= ")
    same(lines_of(out), { "false", "[MaskInfo Debug] Debug mode enabled", "true",
      "[MaskInfo Debug] Debug mode disabled", "false" }, "debug-mode output")
  end)

  it("with debug mode on, from_segments traces '[MaskInfo Debug] Calling type.from_segments()'", function()
    local out = run_child([[
      local m = require("maskinfo")
      m.set_debug_mode(true)
      m.from_segments({{1, 1, 2, 2}})
    ]], "MASKINFO_DEBUG= ")
    local found = false
    for _, l in ipairs(lines_of(out)) do
      if l == "[MaskInfo Debug] Calling type.from_segments()" then found = true end
    end
    assert(found, "expected the line '[MaskInfo Debug] Calling type.from_segments()' in:\n" .. out)
  end)

  it("MASKINFO_DEBUG=1 in the environment turns debug mode on (as EJKERNEL_MASK_DEBUG=1 does)", function()
    local out = run_child([[print(tostring(require("maskinfo").get_debug_mode()))]], "MASKINFO_DEBUG=1 ")
    same(lines_of(out)[#lines_of(out)], "true", "get_debug_mode() with MASKINFO_DEBUG=1")
  end)
end)

describe("seed docstring examples: module functions", function()
  it("_mask_to_segments_single: [[1,1,0],[1,1,0],[0,0,1]] -> q_ids [0,0,1], kv_ids [0,0,1] (via mask_to_segment_ids, 2-D)", function()
    local q, kv = maskinfo.mask_to_segment_ids({ { T, T, F }, { T, T, F }, { F, F, T } })
    check(q, { shape = { 3 }, dtype = "int32", values = { 0, 0, 1 } }, "q_ids")
    check(kv, { shape = { 3 }, dtype = "int32", values = { 0, 0, 1 } }, "kv_ids")
  end)

  it("mask_to_segment_ids: a (1,3,3) mask gives shapes ((1, 3), (1, 3))", function()
    local q, kv = maskinfo.mask_to_segment_ids({ { { 1, 1, 0 }, { 1, 1, 0 }, { 0, 0, 1 } } })
    same({ shape_of(q), shape_of(kv) }, { { 1, 3 }, { 1, 3 } }, "q_ids.shape, kv_ids.shape")
    check(q, { shape = { 1, 3 }, dtype = "int32", values = { { 0, 0, 1 } } }, "q_ids")
  end)

  local seg = { { 1, 1, 2, 2, -1 }, { 1, 1, 1, -1, -1 } }

  it("segment_ids_to_mask(segment_ids).shape == (2, 1, 5, 5)", function()
    local m = maskinfo.segment_ids_to_mask(seg)
    same(shape_of(m), { 2, 1, 5, 5 }, "mask.shape")
    check(m, { shape = { 2, 1, 5, 5 }, dtype = "bool", values = {
      { { { T, T, F, F, F }, { T, T, F, F, F }, { F, F, T, T, F }, { F, F, T, T, F }, { F, F, F, F, F } } },
      { { { T, T, T, F, F }, { T, T, T, F, F }, { T, T, T, F, F }, { F, F, F, F, F }, { F, F, F, F, F } } },
    } }, "mask")
  end)

  it("segment_ids_to_mask(return_separate_masks=True): shapes ((2, 5), (2, 5), (2, 1, 5, 5)); q_mask[0], kv_mask[0]", function()
    local qm, kvm, am = maskinfo.segment_ids_to_mask(seg, nil, { return_separate_masks = true })
    same({ shape_of(qm), shape_of(kvm), shape_of(am) }, { { 2, 5 }, { 2, 5 }, { 2, 1, 5, 5 } }, "shapes")
    same(qm:totable()[1], { T, T, T, T, F }, "q_mask[0]")
    same(kvm:totable()[1], { T, T, T, T, F }, "kv_mask[0]")
  end)

  it("segment_ids_to_mask((q=[[1,2,3]], kv=[[1,1,2,2,3]])).shape == (1, 1, 3, 5)", function()
    local m = maskinfo.segment_ids_to_mask({ { 1, 2, 3 } }, { { 1, 1, 2, 2, 3 } })
    check(m, { shape = { 1, 1, 3, 5 }, dtype = "bool", values = {
      { { { T, T, F, F, F }, { F, F, T, T, F }, { F, F, F, F, T } } } } }, "mask")
  end)

  it("segment_ids_to_mask(segment_ids, dtype=float32) is a float32 1.0/0.0 mask", function()
    local m = maskinfo.segment_ids_to_mask(seg, nil, { dtype = "float32" })
    same(m:dtype(), "float32", "dtype")
    same(m:totable()[2][1][1], { 1, 1, 1, 0, 0 }, "mask[1, 0, 0]")
  end)

  it("segment_ids_to_qkv_masks([[1,1,2,-1]]): shapes ((1, 4), (1, 4), (1, 1, 4, 4)); q_mask[0]; attn_mask[0,0,0,2]", function()
    local qm, kvm, am = maskinfo.segment_ids_to_qkv_masks({ { 1, 1, 2, -1 } })
    same({ shape_of(qm), shape_of(kvm), shape_of(am) }, { { 1, 4 }, { 1, 4 }, { 1, 1, 4, 4 } }, "shapes")
    same(qm:totable()[1], { T, T, T, F }, "q_mask[0]")
    same(am:totable()[1][1][1][3], false, "attn_mask[0, 0, 0, 2]")
  end)

  it("segment_ids_to_qkv_masks(q=[[1,2]], kv=[[1,1,2,2,-1]]): shapes ((1, 2), (1, 5), (1, 1, 2, 5)); kv_mask[0]; attn_mask[0,0,0,:2]", function()
    local qm, kvm, am = maskinfo.segment_ids_to_qkv_masks({ { 1, 2 } }, { { 1, 1, 2, 2, -1 } })
    same({ shape_of(qm), shape_of(kvm), shape_of(am) }, { { 1, 2 }, { 1, 5 }, { 1, 1, 2, 5 } }, "shapes")
    same(kvm:totable()[1], { T, T, T, T, F }, "kv_mask[0]")
    local row = am:totable()[1][1][1]
    same({ row[1], row[2] }, { T, T }, "attn_mask[0, 0, 0, :2]")
  end)

  it("qkv_masks_to_cu_seqlens([[F,T,T,T,F]]) -> cu_q == [1, 4] (int32)", function()
    local cu_q, cu_kv = maskinfo.qkv_masks_to_cu_seqlens({ { F, T, T, T, F } })
    check(cu_q, { shape = { 2 }, dtype = "int32", values = { 1, 4 } }, "cu_q")
    check(cu_kv, { shape = { 2 }, dtype = "int32", values = { 1, 4 } }, "cu_kv (defaults to q_mask)")
  end)

  it("_segment_ids_to_cu_seqlens: segments of 42, 36, 40 tokens, max_segments=4 -> [0, 42, 78, 118, 118] (via get_or_compute_qkv_cu_seqlens)", function()
    local row = {}
    for _ = 1, 3 do row[#row + 1] = -1 end
    for _ = 1, 42 do row[#row + 1] = 0 end
    for _ = 1, 36 do row[#row + 1] = 1 end
    for _ = 1, 40 do row[#row + 1] = 2 end
    for _ = 1, 7 do row[#row + 1] = -1 end
    local cu_q, cu_kv = maskinfo.from_segments({ row }):get_or_compute_qkv_cu_seqlens { max_segments = 4 }
    check(cu_q, { shape = { 5 }, dtype = "int32", values = { 0, 42, 78, 118, 118 } }, "cu_seqlens")
    check(cu_kv, { shape = { 5 }, dtype = "int32", values = { 0, 42, 78, 118, 118 } }, "cu_seqlens_kv")
  end)

  it("cu_seqlens_to_mask([41, 169], max_len=512): shape (1, 512); mask[0,40], [0,41], [0,168], [0,169] == F, T, T, F", function()
    local m = maskinfo.cu_seqlens_to_mask({ 41, 169 }, 512)
    same(shape_of(m), { 1, 512 }, "mask.shape")
    local r = m:totable()[1]
    same({ r[41], r[42], r[169], r[170] }, { F, T, T, F }, "mask[0, 40], mask[0, 41], mask[0, 168], mask[0, 169]")
  end)

  it("create_chunked_attention_mask(chunk_size=4, q_len=8, kv_len=8).shape == (8, 8)", function()
    local m = maskinfo.create_chunked_attention_mask(4, 8, 8)
    same(shape_of(m), { 8, 8 }, "mask.shape")
    check(m, { shape = { 8, 8 }, dtype = "bool", values = {
      { T, F, F, F, F, F, F, F }, { T, T, F, F, F, F, F, F }, { T, T, T, F, F, F, F, F }, { T, T, T, T, F, F, F, F },
      { F, F, F, F, T, F, F, F }, { F, F, F, F, T, T, F, F }, { F, F, F, F, T, T, T, F }, { F, F, F, F, T, T, T, T },
    } }, "mask")
  end)
end)

describe("seed docstring examples: MaskInfo", function()
  it("is_multi_sequence: [[0,0,0,-1,-1]] -> False", function()
    same(maskinfo.from_segments({ { 0, 0, 0, -1, -1 } }):is_multi_sequence(), false, "is_multi_sequence")
  end)

  it("is_multi_sequence: [[0,0,1,1,-1]] -> True", function()
    same(maskinfo.from_segments({ { 0, 0, 1, 1, -1 } }):is_multi_sequence(), true, "is_multi_sequence")
  end)

  it("baked_in_masks after apply_causal: {'causal': True, 'sliding_window': False, 'chunked': False, 'token_type_ids': False}", function()
    local b = maskinfo.from_segments({ { 1, 1, 1 } }):apply_causal():baked_in_masks()
    same({ causal = b.causal, sliding_window = b.sliding_window, chunked = b.chunked,
      token_type_ids = b.token_type_ids },
      { causal = true, sliding_window = false, chunked = false, token_type_ids = false }, "baked_in_masks")
  end)

  it("q_position_ids: [[-1,-1,0,0,0,1,1,-1]] -> [[-1,-1,0,1,2,0,1,-1]]", function()
    check(maskinfo.from_segments({ { -1, -1, 0, 0, 0, 1, 1, -1 } }):q_position_ids(),
      { shape = { 1, 8 }, dtype = "int32", values = { { -1, -1, 0, 1, 2, 0, 1, -1 } } }, "q_position_ids")
  end)

  it("from_segments([[1,1,2,2,-1]]).attention_mask.shape == (1, 1, 5, 5)", function()
    same(shape_of(maskinfo.from_segments({ { 1, 1, 2, 2, -1 } }):attention_mask()), { 1, 1, 5, 5 },
      "attention_mask.shape")
  end)

  it("from_attention_mask([[[1,1,0],[1,1,0],[0,0,1]]]).q_segment_ids.shape == (1, 3)", function()
    local mi = maskinfo.from_attention_mask({ { { 1, 1, 0 }, { 1, 1, 0 }, { 0, 0, 1 } } })
    same(shape_of(mi:q_segment_ids()), { 1, 3 }, "q_segment_ids.shape")
  end)

  it("from_random(batch_size=2, q_len=128, sparsity=0.7, seed=42).attention_mask.shape == (2, 1, 128, 128)", function()
    same(shape_of(maskinfo.from_random(2, 128, nil, 0.7, 42):attention_mask()), { 2, 1, 128, 128 },
      "attention_mask.shape")
  end)

  it("from_random(batch_size=1, q_len=64, kv_len=128, sparsity=0.5, seed=0).attention_mask.shape == (1, 1, 64, 128)", function()
    same(shape_of(maskinfo.from_random(1, 64, 128, 0.5, 0):attention_mask()), { 1, 1, 64, 128 },
      "attention_mask.shape")
  end)

  it("create_bias(dtype=float32) on [[1,1,2,2]]: 0.0 inside a segment, finfo(float32).min elsewhere", function()
    check(maskinfo.from_segments({ { 1, 1, 2, 2 } }):create_bias("float32"), { shape = { 1, 1, 4, 4 },
      dtype = "float32", values = { { { { 0, 0, M32, M32 }, { 0, 0, M32, M32 }, { M32, M32, 0, 0 },
        { M32, M32, 0, 0 } } } } }, "bias")
  end)

  it("get_shardings(mesh with axes ('dp', 'tp')) with the default axis names: the seed raises (axis 'fsdp' of batch_axis_name is not in the mesh)", function()
    local mi = maskinfo.from_segments({ { 1, 1, 2, 2 } })
    local ok, err = pcall(mi.get_shardings, mi, { mesh = { dp = 1, tp = 1 } })
    assert(not ok, "expected an error (the seed checks configured axis names before correcting specs)")
    assert(tostring(err):find("fsdp", 1, true), "the error should name the missing axis 'fsdp': " .. tostring(err))
  end)

  it("get_or_compute_positions on [[1,1,2,2]]: q_pos.shape == (1, 4); kv_pos[0] == [0, 1, 0, 1] (README correction: positions restart per segment)", function()
    local q_pos, kv_pos = maskinfo.from_segments({ { 1, 1, 2, 2 } }):get_or_compute_positions()
    same(shape_of(q_pos), { 1, 4 }, "q_pos.shape")
    check(kv_pos, { shape = { 1, 4 }, dtype = "int32", values = { { 0, 1, 0, 1 } } }, "kv_pos")
  end)

  it("apply_causal() on [[1,1,1,1]]: lower triangle", function()
    check(maskinfo.from_segments({ { 1, 1, 1, 1 } }):apply_causal():attention_mask(), { shape = { 1, 1, 4, 4 },
      dtype = "bool", values = { { { { T, F, F, F }, { T, T, F, F }, { T, T, T, F }, { T, T, T, T } } } } },
      "attention_mask")
  end)

  -- The seed's example passes 3 offsets to a batch-1 MaskInfo (JAX broadcasts it to batch 3 while the
  -- segment ids stay batch 1); here the same offsets are used with a batch of 3 rows.
  it("apply_causal(offset=[0, 1, 2]) (per-batch offsets, on a batch of 3)", function()
    local mi = maskinfo.from_segments({ { 1, 1, 1, 1 }, { 1, 1, 1, 1 }, { 1, 1, 1, 1 } }):apply_causal({ 0, 1, 2 })
    check(mi:attention_mask(), { shape = { 3, 1, 4, 4 }, dtype = "bool", values = {
      { { { T, F, F, F }, { T, T, F, F }, { T, T, T, F }, { T, T, T, T } } },
      { { { T, T, F, F }, { T, T, T, F }, { T, T, T, T }, { T, T, T, T } } },
      { { { T, T, T, F }, { T, T, T, T }, { T, T, T, T }, { T, T, T, T } } },
    } }, "attention_mask")
  end)

  local six = { { 1, 1, 1, 1, 1, 1 } }

  it("apply_sliding_window(2): each position attends to 2 positions left and 2 right", function()
    check(maskinfo.from_segments(six):apply_sliding_window(2):attention_mask(), { shape = { 1, 1, 6, 6 },
      dtype = "bool", values = { { {
        { T, T, T, F, F, F }, { T, T, T, T, F, F }, { T, T, T, T, T, F },
        { F, T, T, T, T, T }, { F, F, T, T, T, T }, { F, F, F, T, T, T } } } } }, "attention_mask")
  end)

  it("apply_sliding_window((3, 1)): 3 left, 1 right", function()
    check(maskinfo.from_segments(six):apply_sliding_window({ 3, 1 }):attention_mask(), { shape = { 1, 1, 6, 6 },
      dtype = "bool", values = { { {
        { T, T, F, F, F, F }, { T, T, T, F, F, F }, { T, T, T, T, F, F },
        { T, T, T, T, T, F }, { F, T, T, T, T, T }, { F, F, T, T, T, T } } } } }, "attention_mask")
  end)

  it("apply_sliding_window(3, mode='decode', index=5): one query row, keys sliced to min(2*3+1, 6) = 6", function()
    local mi = maskinfo.from_segments(six):apply_sliding_window(3, { mode = "decode", index = 5 })
    check(mi:attention_mask(), { shape = { 1, 1, 1, 6 }, dtype = "bool", values = { { { { F, F, T, T, T, T } } } } },
      "attention_mask")
    same({ mi:shape() }, { 1, 1, 6 }, "shape")
  end)

  -- The seed's example uses index=[5, 7, 3] on a batch-1 MaskInfo (a JAX vmap size error);
  -- here on a batch of 3 rows. Index 7 is clipped to the last query row (5).
  it("apply_sliding_window(3, mode='decode', index=[5, 7, 3]) (per-batch indices, on a batch of 3)", function()
    local ids = { six[1], six[1], six[1] }
    local mi = maskinfo.from_segments(ids):apply_sliding_window(3, { mode = "decode", index = { 5, 7, 3 } })
    check(mi:attention_mask(), { shape = { 3, 1, 1, 6 }, dtype = "bool", values = {
      { { { F, F, T, T, T, T } } }, { { { F, F, T, T, T, T } } }, { { { T, T, T, T, T, T } } } } }, "attention_mask")
  end)

  it("apply_sliding_window(4, mode='prefill'): keeps the last min(4, 6) = 4 keys", function()
    local mi = maskinfo.from_segments(six):apply_sliding_window(4, { mode = "prefill" })
    check(mi:attention_mask(), { shape = { 1, 1, 6, 4 }, dtype = "bool", values = { { {
      { T, T, T, F }, { T, T, T, T }, { T, T, T, T }, { T, T, T, T }, { T, T, T, T }, { T, T, T, T } } } } },
      "attention_mask")
    check(mi:kv_segment_ids(), { shape = { 1, 4 }, dtype = "int32", values = { { 1, 1, 1, 1 } } }, "kv_segment_ids")
  end)

  it("dynamic_init(input_ids=[[1,2,3,0],[4,5,0,0]], attention_mask=[[1,1,1,0],[1,1,0,0]]).shape == (2, 4, 4)", function()
    local mi = maskinfo.dynamic_init { input_ids = { { 1, 2, 3, 0 }, { 4, 5, 0, 0 } },
      attention_mask = { { 1, 1, 1, 0 }, { 1, 1, 0, 0 } } }
    same({ mi:shape() }, { 2, 4, 4 }, "mask_info.shape")
  end)

  it("replace(batch_axis_name='dp').batch_axis_name == 'dp' (seen through get_shardings)", function()
    local mi = maskinfo.from_segments({ { 1, 1, 2, 2 } }):replace { batch_axis_name = "dp" }
    local s = mi:get_shardings { mesh = { dp = 1, tp = 1 } }
    same(s.q_segment_ids, { "dp", false }, "get_shardings(...).q_segment_ids")
  end)

  it("module docstring: from_segments -> apply_causal -> bias", function()
    local mi = maskinfo.from_segments({ { 0, 0, 1 } }):apply_causal()
    check(mi:bias(), { shape = { 1, 1, 3, 3 }, dtype = "float32", values = { { {
      { 0, M32, M32 }, { 0, 0, M32 }, { M32, M32, 0 } } } } }, "bias")
  end)

  it("visualize on from_segments(ones((2, 128))) with block_size=16: header line", function()
    local ones = {}
    for b = 1, 2 do
      ones[b] = {}
      for i = 1, 128 do ones[b][i] = 1 end
    end
    local s = maskinfo.from_segments(ones):visualize { block_size = 16, batch = 0 }
    same(lines_of(s)[1], "Attention mask (batch=0, head=0) block=(16x16) mask_shape=(2, 1, 128, 128)", "header line")
  end)
end)
