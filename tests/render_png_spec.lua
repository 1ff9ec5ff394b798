-- PNG heatmaps through the Lua API: sizes read back from the PNG header,
-- clear errors for bad input, and failures that leave no file behind.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")

-- Width, height and colour type from the IHDR chunk (bytes 17-24 and 26).
local function png_header(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local head = f:read(33)
  f:close()
  if not head or #head < 33 or head:sub(1, 8) ~= "\137PNG\r\n\26\n" or head:sub(13, 16) ~= "IHDR" then
    return nil
  end
  local w, h = string.unpack(">I4I4", head, 17)
  return { width = w, height = h, colour_type = head:byte(26) }
end

local slurp, exists = P.read_file, P.exists

local function listdir(dir)
  local names = {}
  local p = io.popen("ls -A '" .. dir .. "'")
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

local function causal(n)
  local ids = {}
  for i = 1, n do ids[i] = 0 end
  return maskinfo.from_segments({ ids }):apply_causal()
end

describe("render_png", function()
  local dir

  before_each(function()
    dir = P.mkdtemp()
  end)

  after_each(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("writes one pixel per cell for plain scale=1", function()
    local m = causal(8)
    local path = dir .. "/c.png"
    local w, h = m:render_png(path, { scale = 1, plain = true })
    assert.are.equal(8, w)
    assert.are.equal(8, h)
    local hd = png_header(path)
    assert.is_not_nil(hd)
    assert.are.equal(8, hd.width)
    assert.are.equal(8, hd.height)
    assert.are.equal(0, hd.colour_type) -- grey ramp: 8-bit greyscale
    assert.are.same({ "c.png" }, listdir(dir))
  end)

  it("scales cells and buckets to a target size", function()
    local m = causal(8)
    local path = dir .. "/s.png"
    local w, h = m:render_png(path, { scale = 3, plain = true, colormap = "viridis" })
    assert.are.same({ 24, 24 }, { w, h })
    local hd = png_header(path)
    assert.are.same({ 24, 24, 2 }, { hd.width, hd.height, hd.colour_type })
    w, h = m:render_png(path, { width = 4, height = 4, plain = true })
    assert.are.same({ 4, 4 }, { w, h })
    hd = png_header(path)
    assert.are.same({ 4, 4 }, { hd.width, hd.height })
    -- width and height together are both honoured
    w, h = m:render_png(path, { width = 20, height = 30, plain = true })
    assert.are.same({ 20, 30 }, { w, h })
    hd = png_header(path)
    assert.are.same({ 20, 30 }, { hd.width, hd.height })
  end)

  it("decorations surround the heatmap and the title adds height", function()
    local m = causal(8)
    local a, b = dir .. "/a.png", dir .. "/b.png"
    local w1, h1 = m:render_png(a, { scale = 4, colormap = "magma" })
    local w2, h2 = m:render_png(b, { scale = 4, colormap = "magma", title = "causal 8x8" })
    assert.is_true(w1 > 32 and h1 > 32)
    assert.is_true(h2 >= h1 + 16)
    assert.is_true(w2 >= w1)
    local hd = png_header(b)
    assert.are.same({ w2, h2 }, { hd.width, hd.height })
  end)

  it("puts panels side by side", function()
    local m = causal(8)
    local path = dir .. "/g.png"
    local w, h = maskinfo.render_png_grid(path, { m, m, m }, { scale = 1, plain = true, columns = 2 })
    assert.are.same({ 20, 20 }, { w, h })
    local hd = png_header(path)
    assert.are.same({ 20, 20 }, { hd.width, hd.height })
    w, h = maskinfo.render_png_grid(path, { m, m, m }, { scale = 1, plain = true })
    assert.are.same({ 32, 8 }, { w, h })
    local sw, sh = m:render_png(dir .. "/one.png", { scale = 4, title = "a", legend = false })
    w, h = maskinfo.render_png_grid(path, { m, m }, { scale = 4, titles = { "a", "b" }, legend = false })
    assert.are.equal(sh, h)
    assert.is_true(w > 2 * 32 and w >= sw)
    -- one shared legend, wrapped to the panels' width: never taller than one panel's
    local _, sl = m:render_png(dir .. "/one.png", { scale = 4, title = "a" })
    local _, gl = maskinfo.render_png_grid(path, { m, m }, { scale = 4, titles = { "a", "b" } })
    assert.is_true(gl > h and gl <= sl)
  end)

  it("renders a 1,048,576-token structured mask at 1024 x 1024", function()
    local n = 1048576
    local m = causal(n):apply_sliding_window({ 4096, 0 })
    local path = dir .. "/big.png"
    local w, h = m:render_png(path, { width = 1024, height = 1024, plain = true })
    assert.are.same({ 1024, 1024 }, { w, h })
    local hd = png_header(path)
    assert.are.same({ 1024, 1024 }, { hd.width, hd.height })
  end)

  describe("errors", function()
    local function fails(pattern, fn, ...)
      local ok, err = pcall(fn, ...)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(pattern, 1, true), "error was: " .. tostring(err))
    end

    it("name the bad option and leave no file", function()
      local m = causal(8)
      local path = dir .. "/x.png"
      fails("colormap must be one of 'grey', 'viridis', 'magma', got 'jet'", m.render_png, m, path, { colormap = "jet" })
      fails("head index 1 out of range [0, 1)", m.render_png, m, path, { head = 1 })
      fails("batch index 2 out of range [0, 1)", m.render_png, m, path, { batch = 2 })
      fails("unknown option 'colour'", m.render_png, m, path, { colour = "grey" })
      fails("scale must be >= 1, got 0", m.render_png, m, path, { scale = 0 })
      fails("scale must be >= 1, got -2", m.render_png, m, path, { scale = -2 })
      fails("width must be >= 1, got 0", m.render_png, m, path, { width = 0, height = 10 })
      fails("height must be >= 1, got -1", m.render_png, m, path, { width = 10, height = -1 })
      fails("render_png", m.render_png, m, path, { scale = 10000000 })
      fails("render_png_grid", maskinfo.render_png_grid, path, {}, { scale = 1 })
      fails("head index 3 out of range", maskinfo.render_png_grid, path, { m, m }, { head = 3 })
      assert.is_false(exists(path))
      assert.are.same({}, listdir(dir))
    end)

    it("report unwritable paths and keep existing files intact", function()
      local m = causal(8)
      local missing = dir .. "/no/such/dir/x.png"
      -- a file failure is returned, not raised: nil, message (path and OS reason), status
      local w, msg, st = m:render_png(missing, { scale = 1 })
      assert.is_nil(w)
      assert.are.equal("render_png: cannot write '" .. missing .. "': No such file or directory", msg)
      assert.are.equal("EIO", st)
      assert.are.equal(require("maskinfo.core").status.EIO, st)
      assert.is_false(exists(missing))
      -- the target is a directory: the rename fails after the PNG was written
      local sub = dir .. "/sub"
      assert.is_true(os.execute("mkdir '" .. sub .. "'") == true)
      w, msg, st = m:render_png(sub, { scale = 1 })
      assert.is_nil(w)
      assert.is_truthy(msg:find("render_png: cannot write '" .. sub .. "'", 1, true), msg)
      assert.are.equal("EIO", st)
      assert.are.same({}, listdir(sub))
      -- an existing file survives failed renders byte for byte
      local keep = dir .. "/keep.png"
      m:render_png(keep, { scale = 2, plain = true })
      local before = slurp(keep)
      fails("head index", m.render_png, m, keep, { head = 4 })
      fails("colormap", m.render_png, m, keep, { colormap = "rainbow" })
      fails("render_png", m.render_png, m, keep, { scale = 10000000 })
      fails("render_png_grid", maskinfo.render_png_grid, keep, { m, m }, { columns = -1 })
      assert.are.equal(before, slurp(keep))
      assert.are.same({ "keep.png", "sub" }, listdir(dir)) -- no temporary files
      fails("path", m.render_png, m, "", { scale = 1 })
    end)
  end)
end)

describe("render_png_grid per-panel heads and batches", function()
  it("shows the heads of one per-head mask side by side; each panel differs", function()
    local base = maskinfo.from_segments({ maskinfo.util.fill(8, 0) })
    local m = maskinfo.stack_heads { base:apply_causal(), base }
    local dir = P.mkdtemp()
    local grid = dir .. "/heads.png"
    local w, h = maskinfo.render_png_grid(grid, { m, m }, { heads = { 0, 1 }, scale = 1, plain = true })
    local hd = png_header(grid)
    assert.are.same({ w, h }, { hd.width, hd.height })
    -- the same panels as separate plain renders, placed side by side
    local a, b = dir .. "/a.png", dir .. "/b.png"
    m:render_png(a, { head = 0, scale = 1, plain = true })
    m:render_png(b, { head = 1, scale = 1, plain = true })
    assert.are_not.equal(slurp(a), slurp(b))
    assert.is_true(w >= 16 and h >= 8)
    os.execute("rm -rf " .. P.shell_quote(dir))
  end)

  it("wants one entry per mask", function()
    local m = maskinfo.from_segments({ { 0, 0 } })
    local ok, err = pcall(maskinfo.render_png_grid, "/tmp/x.png", { m, m }, { heads = { 0 } })
    assert.is_false(ok)
    assert.are.equal("bad argument #3 to 'render_png_grid' (heads: a list with one entry per mask (2) expected)", err)
  end)
end)

describe("render_png oversized requests", function()
  local m = maskinfo.from_segments({ maskinfo.util.fill(64, 0) }):apply_causal()

  it("names the side that is too large", function()
    local ok, err = pcall(m.render_png, m, "/tmp/maskinfo-never.png", { width = 10000000, height = 10 })
    assert.is_false(ok)
    assert.are.equal("bad argument #2 to 'render_png' (width must be <= 1000000, got 10000000)", err)
    ok, err = pcall(m.render_png, m, "/tmp/maskinfo-never.png", { scale = 100000 })
    assert.is_false(ok)
    assert.are.equal("bad argument #2 to 'render_png' (scale 100000 makes the heatmap 6400000 pixels wide "
      .. "(at most 1000000))", err)
  end)

  it("returns a guard refusal as an image that is too large, and writes nothing", function()
    local w, err, st = m:render_png("/tmp/maskinfo-never.png", { width = 1000000, height = 1000000 })
    assert.is_nil(w)
    assert.is_truthy(err:find("render_png: the image is too large", 1, true), err)
    assert.are.equal("ETOOBIG", st)
    assert.is_false(P.exists("/tmp/maskinfo-never.png"))
    -- a side past the limit once the panels are laid out: refused the same way
    w, err, st = maskinfo.render_png_grid("/tmp/maskinfo-never.png", { m, m, m }, { width = 900000, height = 8,
      plain = true })
    assert.is_nil(w)
    assert.is_truthy(err:find("render_png_grid: the image is too large", 1, true), err)
    assert.are.equal("EIMAGE", st)
    assert.is_false(P.exists("/tmp/maskinfo-never.png"))
  end)

  it("derives a missing side in the core alone (300 x 1000 mask, height 100 -> width 333)", function()
    local wide = maskinfo.from_segments({ maskinfo.util.fill(300, 0) }, { maskinfo.util.fill(1000, 0) })
    local path = os.tmpname()
    local w, h = wide:render_png(path, { height = 100, plain = true })
    assert.are.same({ 333, 100 }, { w, h })
    os.remove(path)
  end)
end)

describe("render counts of segment-id masks", function()
  -- (segments and causal) planes are counted from a per-id table (grid.c),
  -- not row by row: the counts equal those of the same mask as a predicate
  it("equal the row-by-row counts for strided, padded and per-head ids", function()
    local function ids(n, f)
      local t = {}
      for i = 0, n - 1 do t[i + 1] = f(i) end
      return t
    end
    for _, case in ipairs({ { 36, 7, 1 }, { 100, 3, 7 }, { 257, 5, 16 }, { 300, 1000, 13 } }) do
      local n, per, bs = case[1], case[2], case[3]
      local idv = ids(n, function(i) return i % per end)
      idv[5] = -1
      local s = maskinfo.stack_heads({ maskinfo.causal(n), maskinfo.from_segments({ idv }):apply_causal() })
      local f = maskinfo.from_function({ batch_size = 1, num_heads = 2, q_len = n, kv_len = n, fn = function(_, h, q, k)
        if h == 0 then return k <= q end
        return k <= q and idv[q + 1] >= 0 and idv[q + 1] == idv[k + 1]
      end })
      for _, b in ipairs({ bs, { bs, bs + 2 }, { 1, n } }) do
        assert.are.same(f:block_counts({ block_size = b, head = 1 }):totable(),
          s:block_counts({ block_size = b, head = 1 }):totable())
      end
    end
  end)
end)
