-- load_npy, from_npy and Array.from_bytes: round trips for every dtype,
-- format versions 1.0 to 3.0, either byte order, and twenty kinds of
-- broken file, each refused with its reason.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local dir
setup(function()
  dir = P.mkdtemp()
end)
teardown(function() os.execute("rm -rf " .. P.shell_quote(dir)) end)

local function write(name, bytes)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

-- A .npy file: magic, version, header length, the dict padded to 64 bytes.
local function npy(dict, data, major)
  major = major or 1
  local lsz = major == 1 and 2 or 4
  local pad = (64 - (6 + 2 + lsz + #dict + 1) % 64) % 64
  local header = dict .. (" "):rep(pad) .. "\n"
  local len = major == 1 and string.pack("<I2", #header) or string.pack("<I4", #header)
  return "\147NUMPY" .. string.char(major, 0) .. len .. header .. (data or "")
end

local function dict(descr, shape, fortran)
  return ("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }"):format(descr, fortran or "False", shape)
end

describe("load_npy", function()
  it("reads back what save_npy wrote, for every dtype", function()
    local samples = { -- shape, values
      bool = { { 2, 2 }, { true, false, false, true } },
      uint8 = { { 3 }, { 0, 7, 255 } },
      int32 = { { 2, 2 }, { -2147483648, 0, 5, 2147483647 } },
      int64 = { { 3 }, { math.mininteger, -1, math.maxinteger } },
      float16 = { { 3 }, { 0.5, -2, 65504 } },
      float32 = { { 1, 3 }, { 1.5, -0.25, 3e38 } },
    }
    for dtype, sv in pairs(samples) do
      local a = maskinfo.Array.new(dtype, sv[1], sv[2])
      local path = dir .. "/rt_" .. dtype .. ".npy"
      assert.is_true(maskinfo.save_npy(path, a))
      local b = maskinfo.load_npy(path)
      assert.are.equal(dtype, b:dtype())
      assert.are.same(a:shape(), b:shape())
      assert.is_true(a == b, dtype)
    end
    -- an empty array and a 0-d one
    local e = maskinfo.Array.new("int32", { 0, 3 })
    maskinfo.save_npy(dir .. "/e.npy", e)
    assert.is_true(maskinfo.load_npy(dir .. "/e.npy") == e)
  end)

  it("reads versions 2.0 and 3.0, big-endian data and float64 (as float32)", function()
    local data = string.pack("<i4<i4<i4", 1, -2, 3)
    for major = 1, 3 do
      local a = maskinfo.load_npy(write("v" .. major .. ".npy", npy(dict("<i4", "(3,)"), data, major)))
      assert.are.same({ 1, -2, 3 }, a:flat())
    end
    local be = maskinfo.load_npy(write("be.npy", npy(dict(">i8", "(2,)"), string.pack(">i8>i8", 5, -6))))
    assert.are.equal("int64", be:dtype())
    assert.are.same({ 5, -6 }, be:flat())
    local f8 = maskinfo.load_npy(write("f8.npy", npy(dict("<f8", "(1, 3)"), string.pack("<ddd", 0.5, 1, 0.1))))
    assert.are.equal("float32", f8:dtype())
    assert.are.same({ 1, 3 }, f8:shape())
    local v = f8:flat()
    assert.are.equal(0.5, v[1])
    assert.are.equal(string.unpack("<f", string.pack("<f", 0.1)), v[3]) -- the nearest float32
    local b = maskinfo.load_npy(write("b.npy", npy(dict("|b1", "(3,)"), "\0\1\7")))
    assert.are.same({ false, true, true }, b:flat())
  end)

  -- Each broken file and the reason its error must give.
  local good = dict("<i4", "(2,)")
  local two = string.pack("<i4<i4", 1, 2)
  local BROKEN = {
    { "empty file", "", "empty file" },
    { "bad magic", "PK\3\4 not numpy at all", "not a .npy file" },
    { "short magic", "\147NUM", "not a .npy file" },
    { "version 4.0", "\147NUMPY\4\0" .. string.pack("<I4", 0), "unsupported format version 4.0" },
    { "no header length", "\147NUMPY\1\0", "truncated header (no header length)" },
    { "header past the end", "\147NUMPY\1\0" .. string.pack("<I2", 200) .. "{'descr'", "truncated header" },
    { "not a dict", npy("['descr', '<i4']", two), "not a Python dict" },
    { "no descr", npy("{'fortran_order': False, 'shape': (2,), }", two), "no 'descr' key" },
    { "no fortran_order", npy("{'descr': '<i4', 'shape': (2,), }", two), "no 'fortran_order' key" },
    { "no shape", npy("{'descr': '<i4', 'fortran_order': False, }", two), "no 'shape' key" },
    { "Fortran order", npy(dict("<i4", "(2,)", "True"), two), "Fortran-order arrays cannot be read" },
    { "object array", npy(dict("|O", "(2,)"), two), "object arrays ('|O') cannot be read" },
    { "complex dtype", npy(dict("<c8", "(1,)"), two), "unsupported dtype '<c8'" },
    { "structured dtype", npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }", two),
      "structured dtypes" },
    { "negative dimension", npy(dict("<i4", "(-2,)"), two), "negative dimension in 'shape'" },
    { "non-integer dimension", npy(dict("<i4", "(2.5,)"), two), "non-integer in 'shape'" },
    { "truncated data", npy(good, string.pack("<i4", 1)), "truncated data: the shape needs 8 bytes, 4 present" },
    { "trailing data", npy(good, two .. "xx"), "shape/size mismatch: the shape needs 8 bytes, 10 present" },
    { "too many dimensions", npy(dict("<i4", "(1, 1, 1, 1, 1, 1, 1, 1, 2)"), two), "more than 8 dimensions" },
    { "unexpected key", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two),
      "unexpected key 'x'" },
    { "repeated key", npy("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", two),
      "key 'descr' twice" },
    { "dict not closed", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), ", two), "dict not closed" },
    { "bad fortran_order", npy(dict("<i4", "(2,)", "Maybe"), two), "'fortran_order' is not True or False" },
    { "unterminated descr", npy("{'descr': '<i4, 'fortran_order': False, 'shape': (2,), }", two),
      "unsupported dtype '<i4, '" },
    { "NUL in header", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\0", two), "NUL byte" },
    { "shape overflow", npy(dict("<i4", "(99999999999, 99999999999)"), two), "shape too large" },
  }

  it("refuses twenty-odd kinds of broken file, saying which", function()
    assert.is_true(#BROKEN >= 20)
    for i, case in ipairs(BROKEN) do
      local path = write(("broken%02d.npy"):format(i), case[2])
      local ok, err = pcall(maskinfo.load_npy, path)
      assert.is_false(ok, case[1])
      assert.is_truthy(err:find("load_npy: '" .. path .. "': ", 1, true), case[1] .. ": " .. err)
      assert.is_truthy(err:find(case[3], 1, true), case[1] .. ": " .. err)
      -- the same bytes from memory give the same reason (the fuzzing entry)
      local a, msg = require("maskinfo.core").parse_npy(case[2])
      assert.is_nil(a)
      assert.is_truthy(msg:find(case[3], 1, true), case[1] .. " (memory): " .. msg)
    end
  end)

  it("returns nil, message, status for files it cannot read and arrays the guard refuses", function()
    local a, err, st = maskinfo.load_npy(dir .. "/missing.npy")
    assert.is_nil(a)
    assert.are.equal("load_npy: cannot read '" .. dir .. "/missing.npy': No such file or directory", err)
    assert.are.equal("EIO", st)
    a, err, st = maskinfo.load_npy(dir)
    assert.is_nil(a)
    assert.are.equal("load_npy: cannot read '" .. dir .. "': Is a directory", err)
    assert.are.equal("EIO", st)
    local path = write("big.npy", npy(dict("<i4", "(1000,)"), ("\0"):rep(4000)))
    local prev = maskinfo.set_memory_limit(1000)
    a, err, st = maskinfo.load_npy(path)
    maskinfo.set_memory_limit(prev)
    assert.is_nil(a)
    assert.are.equal("ETOOBIG", st)
    assert.is_truthy(err:find("1000 elements", 1, true), err)
    E.assert_error(function() maskinfo.load_npy("") end, "bad argument #1 to 'load_npy' (path: non-empty string expected, got '')")
  end)
end)

describe("from_npy and Array.from_bytes", function()
  it("from_npy is from_attention_mask of the file", function()
    local mi = maskinfo.from_segments({ { 0, 0, 1, 1, -1 } }):apply_causal()
    local path = dir .. "/m.npy"
    mi:save_npy(path, { dtype = "float32" })
    local back = maskinfo.from_npy(path)
    assert.is_true(back:equals(mi))
    assert.is_true(tostring(back) == tostring(maskinfo.from_attention_mask(maskinfo.load_npy(path))))
    local none, err, st = maskinfo.from_npy(dir .. "/nope.npy")
    assert.is_nil(none)
    assert.is_truthy(err:find("from_npy: cannot read", 1, true))
    assert.are.equal("EIO", st)
  end)

  it("Array.from_bytes takes raw little-endian bytes and checks their count", function()
    local a = maskinfo.Array.from_bytes("int64", { 2 }, string.pack("<i8<i8", -3, 4))
    assert.are.same({ -3, 4 }, a:flat())
    assert.are.same({ true, false }, maskinfo.Array.from_bytes("bool", { 2 }, "\9\0"):flat())
    E.assert_error(function() maskinfo.Array.from_bytes("int32", { 3 }, "abcd") end,
      "bad argument #3 to 'Array.from_bytes' (12 bytes expected for shape (3,) of int32, got 4)")
    E.assert_error(function() maskinfo.Array.from_bytes("int32", { -1 }, "") end,
      "bad argument #2 to 'Array.from_bytes' (shape[1]: non-negative integer expected, got -1)")
  end)
end)
