-- The C/Lua boundary contract and the package layout: misuse raises,
-- refusals and file failures come back as nil, message, status (a name from
-- core.status); the MaskInfo metatable belongs to maskinfo.object; the
-- version matches the core's.
local maskinfo = require("maskinfo")
local core = require("maskinfo.core")
local object = require("maskinfo.object")
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local E = dofile(here .. "helpers/errors.lua")

describe("version", function()
  it("maskinfo._VERSION is the core library's version", function()
    assert.are.equal("string", type(core.version))
    assert.are.equal(core.version, maskinfo._VERSION)
    assert.are.equal("0.2.0", maskinfo._VERSION)
  end)
end)

describe("core.status", function()
  it("maps every status name to itself, with no numbers", function()
    for _, name in ipairs({ "OK", "ENOMEM", "EINVAL", "ESHAPE", "EOVERFLOW", "ETOOBIG", "EIO", "EPNG", "EDTYPE",
      "EIMAGE" }) do
      assert.are.equal(name, core.status[name])
    end
    for k, v in pairs(core.status) do
      assert.are.equal("string", type(k))
      assert.are.equal(k, v)
    end
  end)

  it("the dtype table comes from the core, in its order", function()
    assert.are.same({ "bool", "int32", "float32", "float16", "bfloat16", "int64", "uint8" }, core.dtypes)
    assert.are.same({ bool = 1, int32 = 4, float32 = 4, float16 = 2, bfloat16 = 2, int64 = 8, uint8 = 1 },
      core.dtype_size)
    assert.are.same({ "bool", "int32", "float32", "float16", "bfloat16" }, object.MASK_DTYPES)
    assert.are.same({ "float32", "float16", "bfloat16" }, object.FLOAT_DTYPES)
  end)
end)

describe("the binding's error contract", function()
  after_each(function() maskinfo.set_memory_limit(0) end)

  it("returns a guard refusal as nil, message, status", function()
    maskinfo.set_memory_limit(1000)
    local a, msg, st = core.array("bool", { 100, 100 })
    assert.is_nil(a)
    assert.are.equal("an array of 10000 bool elements needs 9.8 KiB: over the memory guard "
      .. "(limit 1000.0 B, see maskinfo.set_memory_limit)", msg)
    assert.are.equal(core.status.ETOOBIG, st)
    assert.are.same({ nil, "the request needs 2.0 KiB: over the memory guard (limit 1000.0 B, see maskinfo.set_memory_limit)",
      "ETOOBIG" }, { core.check_alloc(2000, 1) })
  end)

  it("raises on misuse, naming the function", function()
    local q = maskinfo.Array.new("int32", { 1, 2 })
    local kv = maskinfo.Array.new("int32", { 2, 2 })
    E.raises("bad argument #2 to 'segments' (batch sizes differ (1 and 2))", function() core.segments(q, kv) end)
    E.raises("bad argument #1 to 'astype' (invalid dtype 'int8' (expected bool, int32, float32, float16, "
      .. "bfloat16, int64 or uint8))", function() q:astype("int8") end)
  end)

  it("file failures name the path and the OS reason", function()
    local a = maskinfo.Array.from({ 1 })
    assert.are.same({ nil, "cannot write '/nonexistent-dir/x.npy': No such file or directory", "EIO" },
      { core.write_npy(a, "/nonexistent-dir/x.npy") })
  end)
end)

describe("the public writers", function()
  after_each(function() maskinfo.set_memory_limit(0) end)
  local m = maskinfo.from_segments({ maskinfo.util.fill(64, 0) }):apply_causal()

  it("return nil, message, status for a file failure", function()
    for _, call in ipairs({
      function() return m:save_npy("/nonexistent-dir/x.npy") end,
      function() return m:save_safetensors("/nonexistent-dir/x.safetensors") end,
      function() return maskinfo.save_safetensors("/nonexistent-dir/x.safetensors", { a = m:q_segment_ids() }) end,
      function() return m:render_png("/nonexistent-dir/x.png") end,
      function() return maskinfo.render_png_grid("/nonexistent-dir/x.png", { m, m }) end,
    }) do
      local ok, msg, st = call()
      assert.is_nil(ok)
      assert.is_truthy(msg:find(": cannot write '/nonexistent-dir/x.", 1, true), msg)
      assert.is_truthy(msg:find("No such file or directory", 1, true), msg)
      assert.are.equal("EIO", st)
    end
  end)

  it("return a guard refusal of the dense mask instead of raising", function()
    maskinfo.set_memory_limit(1000)
    local ok, msg, st = m:save_npy("/tmp/maskinfo-never.npy")
    assert.is_nil(ok)
    assert.are.equal("save_npy: a dense (1, 1, 64, 64) bool array needs 4.0 KiB: over the memory guard "
      .. "(limit 1000.0 B, see maskinfo.set_memory_limit)", msg)
    assert.are.equal("ETOOBIG", st)
    ok, msg, st = m:save_safetensors("/tmp/maskinfo-never.safetensors")
    assert.is_nil(ok)
    assert.is_truthy(msg:find("save_safetensors: a dense (1, 1, 64, 64) bool array", 1, true), msg)
    assert.are.equal("ETOOBIG", st)
  end)

  it("still raise on misuse", function()
    E.raises("bad argument #1 to 'save_npy' (path: non-empty string expected, got '')",
      function() m:save_npy("") end)
  end)

  it("return exactly the results on success", function()
    local path = os.tmpname()
    assert.are.same({ true }, { maskinfo.save_npy(path, maskinfo.Array.from({ 1 })) })
    assert.are.equal(2, select("#", m:render_png(path, { scale = 1, plain = true })))
    os.remove(path)
  end)
end)

describe("the object model", function()
  it("owns the MaskInfo metatable", function()
    local m = maskinfo.from_segments({ 0, 0 })
    assert.are.equal("userdata", type(m))
    assert.is_true(object.is_maskinfo(m))
    assert.is_false(object.is_maskinfo(maskinfo.Array.from({ 1 })))
    assert.are.equal("MaskInfo", getmetatable(m).__name)
  end)

  it("no Lua module hands out internals", function()
    local dir = here .. "../lua/maskinfo/"
    local p = io.popen("ls " .. dir)
    for name in p:lines() do
      if name:match("%.lua$") then
        local f = assert(io.open(dir .. name))
        local src = f:read("a")
        f:close()
        assert.is_nil(src:find("_internal", 1, true), name)
      end
    end
    p:close()
    assert.is_nil(maskinfo._internal)
  end)
end)
