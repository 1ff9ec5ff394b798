-- Sharding specs: get_empty_sharding and get_shardings{mesh=, sequence_parallel=} with the
-- seed's get_corrected_named_sharding rule (an axis absent from the mesh, or whose size does
-- not divide the dimension, becomes None = false; all None -> {}), tuple batch axes, axis
-- checks, mesh-size checks and custom axis names.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local F = false
local KEYS = { "attention_mask", "q_segment_ids", "kv_segment_ids", "cu_seqlens_q", "cu_seqlens_kv",
  "q_positions", "kv_positions" }

local assert_error = E.assert_error

-- (2, 4) ids, no mask stored
local ids = maskinfo.from_segments({ { 0, 0, 1, 1 }, { 0, 0, 0, -1 } })
-- (2, 1, 2, 2) mask stored, with (2, 2) ids
local mask = maskinfo.from_attention_mask({ { { 1, 0 }, { 1, 1 } }, { { 1, 1 }, { 0, 1 } } })
local MESH = { dp = 2, fsdp = 1, tp = 1, sp = 2 }

describe("get_empty_sharding", function()
  it("has the seven MaskSharding keys, all false (None)", function()
    local s = maskinfo.get_empty_sharding()
    local n = 0
    for k, v in pairs(s) do
      n = n + 1
      assert.are.equal(false, v, k)
    end
    assert.are.equal(7, n)
    for _, k in ipairs(KEYS) do assert.are.equal(false, s[k], k) end
  end)

  it("returns a fresh table each call", function()
    local a = maskinfo.get_empty_sharding()
    a.attention_mask = { "x" }
    assert.are.equal(false, maskinfo.get_empty_sharding().attention_mask)
  end)
end)

describe("get_shardings", function()
  it("returns all seven keys", function()
    local s = ids:get_shardings{ mesh = MESH }
    for _, k in ipairs(KEYS) do assert.is_not_nil(s[k], k) end
  end)

  it("segment ids without sequence parallelism: (batch axes, None)", function()
    local s = ids:get_shardings{ mesh = MESH }
    assert.are.same({ { "dp", "fsdp" }, F }, s.q_segment_ids)
    assert.are.same({ { "dp", "fsdp" }, F }, s.kv_segment_ids)
  end)

  it("fields that are not stored have no spec (false)", function()
    local s = ids:get_shardings{ mesh = MESH }
    assert.are.equal(false, s.attention_mask)
    assert.are.equal(false, s.q_positions)
    assert.are.equal(false, s.kv_positions)
  end)

  it("sequence_parallel=true shards the sequence dimension", function()
    local s = ids:get_shardings{ mesh = MESH, sequence_parallel = true }
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.q_segment_ids)
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.kv_segment_ids)
  end)

  it("sequence_parallel=false is the default", function()
    assert.are.same(ids:get_shardings{ mesh = MESH }, ids:get_shardings{ mesh = MESH, sequence_parallel = false })
  end)

  it("the stored mask gets (batch, heads, seq, None)", function()
    local s = mask:get_shardings{ mesh = MESH, sequence_parallel = true }
    assert.are.same({ { "dp", "fsdp" }, "tp", "sp", F }, s.attention_mask)
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.q_segment_ids)
  end)

  it("the stored mask without sequence parallelism", function()
    local s = mask:get_shardings{ mesh = MESH }
    assert.are.same({ { "dp", "fsdp" }, "tp", F, F }, s.attention_mask)
  end)

  it("a heads axis of size 2 does not divide 1 head: dropped to false", function()
    local s = mask:get_shardings{ mesh = { dp = 2, fsdp = 1, tp = 2, sp = 2 }, sequence_parallel = true }
    assert.are.same({ { "dp", "fsdp" }, F, "sp", F }, s.attention_mask)
  end)

  it("a batch axis of size 3 does not divide batch 2: dropped to false", function()
    local s = mask:get_shardings{ mesh = { dp = 3, fsdp = 1, tp = 1, sp = 2 }, sequence_parallel = true }
    assert.are.same({ F, "tp", "sp", F }, s.attention_mask)
    assert.are.same({ F, "sp" }, s.q_segment_ids)
  end)

  it("tuple batch axes divide by the product of their sizes", function()
    local four = maskinfo.from_segments({ { 0 }, { 0 }, { 0 }, { 0 } })
    assert.are.same({ { "dp", "fsdp" }, F }, four:get_shardings{ mesh = { dp = 2, fsdp = 2, tp = 1 } }.q_segment_ids)
    assert.are.same({}, ids:get_shardings{ mesh = { dp = 2, fsdp = 2, tp = 1 } }.q_segment_ids)
  end)

  it("every entry dropped gives {} (fully replicated)", function()
    local s = mask:get_shardings{ mesh = { dp = 3, fsdp = 1, tp = 1, sp = 3 }, sequence_parallel = true }
    assert.are.same({}, s.q_segment_ids)
    assert.are.same({}, s.kv_segment_ids)
    assert.are.same({ F, "tp", F, F }, s.attention_mask)
  end)

  it("a sequence axis of size 3 does not divide length 4", function()
    local s = ids:get_shardings{ mesh = { dp = 1, fsdp = 1, tp = 1, sp = 3 }, sequence_parallel = true }
    assert.are.same({ { "dp", "fsdp" }, F }, s.q_segment_ids)
  end)

  it("positions get the ids' spec", function()
    local p = maskinfo.from_segments({ { 0, 0, 1, 1 }, { 0, 0, 0, -1 } },
      { q_positions = { { 0, 1, 2, 3 }, { 0, 1, 2, 3 } }, kv_positions = { { 0, 1, 2, 3 }, { 0, 1, 2, 3 } } })
    local s = p:get_shardings{ mesh = MESH, sequence_parallel = true }
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.q_positions)
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.kv_positions)
  end)

  it("cu_seqlens are always replicated (false), even when stored", function()
    local c = maskinfo.from_cu_seqlens({ 0, 2, 0, 4 }, { max_q_len = 4 })
    local s = c:get_shardings{ mesh = MESH, sequence_parallel = true }
    assert.are.equal(false, s.cu_seqlens_q)
    assert.are.equal(false, s.cu_seqlens_kv)
    assert.are.same({ { "dp", "fsdp" }, "sp" }, s.q_segment_ids)
  end)

  it("returns fresh tables: changing one result does not change the next", function()
    local a = ids:get_shardings{ mesh = MESH }
    a.q_segment_ids[1][1] = "changed"
    assert.are.same({ { "dp", "fsdp" }, F }, ids:get_shardings{ mesh = MESH }.q_segment_ids)
  end)

  it("leaves the MaskInfo unchanged", function()
    local before = tostring(mask)
    mask:get_shardings{ mesh = MESH, sequence_parallel = true }
    assert.are.equal(before, tostring(mask))
  end)

  it("extra mesh axes are ignored", function()
    local s = ids:get_shardings{ mesh = { dp = 2, fsdp = 1, tp = 1, sp = 2, pp = 4, ep = 8 } }
    assert.are.same({ { "dp", "fsdp" }, F }, s.q_segment_ids)
  end)

  it("integral float sizes are accepted", function()
    assert.are.same({ { "dp", "fsdp" }, F }, ids:get_shardings{ mesh = { dp = 2.0, fsdp = 1, tp = 1 } }.q_segment_ids)
  end)
end)

describe("get_shardings axis checks", function()
  it("a configured batch axis missing from the mesh is an error naming it", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = 2, tp = 1 } } end,
      "get_shardings: axis 'fsdp' (from batch_axis_name) is not present in the mesh (available: dp, tp)")
  end)

  it("the heads axis is checked first", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = 2 } } end,
      "get_shardings: axis 'tp' (from qheads_axis_name) is not present in the mesh (available: dp)")
  end)

  it("the sequence axis is checked only with sequence_parallel", function()
    assert.has_no.errors(function() ids:get_shardings{ mesh = { dp = 2, fsdp = 1, tp = 1 } } end)
    assert_error(function() ids:get_shardings{ mesh = { dp = 2, fsdp = 1, tp = 1 }, sequence_parallel = true } end,
      "get_shardings: axis 'sp' (from sequence_axis_name) is not present in the mesh (available: dp, fsdp, tp)")
  end)

  it("kvheads_axis_name is not checked (the seed does not use it)", function()
    local r = ids:replace{ kvheads_axis_name = "nowhere" }
    assert.has_no.errors(function() r:get_shardings{ mesh = MESH } end)
  end)

  it("an empty mesh lists no axes", function()
    assert_error(function() ids:get_shardings{ mesh = {} } end,
      "get_shardings: axis 'tp' (from qheads_axis_name) is not present in the mesh (available: )")
  end)
end)

describe("get_shardings mesh sizes", function()
  it("zero is refused", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = 2, fsdp = 0, tp = 1 } } end,
      "bad argument #1 to 'get_shardings' (option 'mesh': size of axis 'fsdp' must be a positive integer, got 0)")
  end)

  it("negative is refused", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = -2, fsdp = 1, tp = 1 } } end,
      "bad argument #1 to 'get_shardings' (option 'mesh': size of axis 'dp' must be a positive integer, got -2)")
  end)

  it("non-integer is refused", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = 2, fsdp = 1.5, tp = 1 } } end,
      "bad argument #1 to 'get_shardings' (option 'mesh': size of axis 'fsdp' must be a positive integer, got 1.5)")
  end)

  it("NaN is refused and spelled NaN", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = 0 / 0, fsdp = 1, tp = 1 } } end,
      "bad argument #1 to 'get_shardings' (option 'mesh': size of axis 'dp' must be a positive integer, got NaN)")
  end)

  it("a boolean size is refused", function()
    assert_error(function() ids:get_shardings{ mesh = { dp = true, fsdp = 1, tp = 1 } } end,
      "bad argument #1 to 'get_shardings' (option 'mesh': size of axis 'dp' must be a positive integer, got true)")
  end)

  it("non-string axis names are refused", function()
    assert_error(function() ids:get_shardings{ mesh = { 2, dp = 1, fsdp = 1, tp = 1 } } end,
      "bad argument #1 to 'get_shardings' (option 'mesh': axis names must be strings)")
  end)

  it("the mesh is required", function()
    assert_error(function() ids:get_shardings{} end,
      "bad argument #1 to 'get_shardings' (option 'mesh': table of axis sizes expected, got nil)")
    assert_error(function() ids:get_shardings() end,
      "bad argument #1 to 'get_shardings' (option 'mesh': table of axis sizes expected, got nil)")
  end)
end)

describe("custom axis names", function()
  it("from_segments options name the axes", function()
    local c = maskinfo.from_segments({ { 0, 0, 1, 1 }, { 0, 0, 0, -1 } },
      { batch_axis_name = "data", qheads_axis_name = "model", sequence_axis_name = "seq" })
    local s = c:get_shardings{ mesh = { data = 2, model = 1, seq = 2 }, sequence_parallel = true }
    assert.are.same({ "data", "seq" }, s.q_segment_ids)
  end)

  it("from_attention_mask options name the axes of the mask spec", function()
    local c = maskinfo.from_attention_mask({ { { 1, 0 }, { 1, 1 } }, { { 1, 1 }, { 0, 1 } } },
      { batch_axis_name = "b", qheads_axis_name = "h", sequence_axis_name = "s" })
    local s = c:get_shardings{ mesh = { b = 2, h = 1, s = 2 }, sequence_parallel = true }
    assert.are.same({ "b", "h", "s", F }, s.attention_mask)
  end)

  it("replace{} renames axes, including a list for the sequence", function()
    local r = ids:replace{ batch_axis_name = "data", sequence_axis_name = { "s1", "s2" } }
    local s = r:get_shardings{ mesh = { data = 2, tp = 1, s1 = 2, s2 = 2 }, sequence_parallel = true }
    assert.are.same({ "data", { "s1", "s2" } }, s.q_segment_ids)
  end)

  it("a sequence axis list whose product does not divide the length is dropped", function()
    local r = ids:replace{ batch_axis_name = "data", sequence_axis_name = { "s1", "s2" } }
    local s = r:get_shardings{ mesh = { data = 2, tp = 1, s1 = 2, s2 = 4 }, sequence_parallel = true }
    assert.are.same({ "data", F }, s.q_segment_ids)
  end)

  it("an axis name of false is None: never sharded, never checked", function()
    local r = ids:replace{ batch_axis_name = false }
    local s = r:get_shardings{ mesh = { tp = 1 } }
    assert.are.same({}, s.q_segment_ids)
  end)

  it("renaming leaves the original's names in place", function()
    ids:replace{ batch_axis_name = "data" }
    assert.are.same({ { "dp", "fsdp" }, F }, ids:get_shardings{ mesh = MESH }.q_segment_ids)
  end)
end)
