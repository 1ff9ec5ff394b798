-- Figures through the Lua API: the format from the extension, the SVG's
-- text (titles, legends, counts, labels), heads, layers, diffs, zoom and
-- the default sizes.  Pixel agreement of SVG and PNG is in
-- core/tests/test_render_svg.c.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The text content of every <text> element, in order.
local function texts(svg)
  local t = {}
  for s in svg:gmatch("<text[^>]*>(.-)</text>") do t[#t + 1] = s end
  return t
end

local function has(list, s)
  for _, v in ipairs(list) do if v == s then return true end end
  return false
end

local function causal(n)
  return maskinfo.from_segments({ maskinfo.util.fill(n, 0) }):apply_causal()
end

describe("figures", function()
  local dir
  before_each(function()
    dir = P.mkdtemp()
  end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("picks the format from the extension and refuses unknown ones", function()
    local m = causal(8)
    assert.is_truthy(m:render(dir .. "/a.svg"))
    assert.are.equal("<?xml", slurp(dir .. "/a.svg"):sub(1, 5))
    assert.is_truthy(m:render(dir .. "/a.PNG"))
    assert.are.equal("\137PNG", slurp(dir .. "/a.PNG"):sub(1, 4))
    local ok, err = pcall(m.render, m, dir .. "/a.jpg")
    assert.is_false(ok)
    assert.is_truthy(err:find("unknown image format '.jpg'", 1, true), err)
    ok, err = pcall(m.render, m, dir .. "/noext")
    assert.is_false(ok)
    assert.is_truthy(err:find("(no extension)", 1, true), err)
    -- the writers with a fixed format refuse another format's extension
    for _, c in ipairs({ { m.render_png, "x.svg" }, { m.render_png, "z.jpg" }, { m.render_svg, "y.png" } }) do
      ok, err = pcall(c[1], m, dir .. "/" .. c[2])
      assert.is_false(ok)
      assert.is_truthy(err:find("names another format", 1, true), err)
    end
    ok, err = pcall(maskinfo.render_png_grid, dir .. "/g.svg", { m })
    assert.is_truthy(not ok and err:find("names another format", 1, true), err)
    assert.is_truthy(m:render_png(dir .. "/plain.tmp"))
    assert.are.equal("\137PNG", slurp(dir .. "/plain.tmp"):sub(1, 4))
    -- render_svg and render_png take the same options and give the same size
    local o = { scale = 4, title = "t", aggregate = "any", dpi = 150 }
    local w1, h1 = m:render_svg(dir .. "/b.svg", o)
    local w2, h2 = m:render_png(dir .. "/b.png", o)
    assert.are.same({ w1, h1 }, { w2, h2 })
  end)

  it("keeps UTF-8 titles, reads the y label upwards, and puts no id on one segment", function()
    local m = causal(16)
    local title = "± × → α é ≤ ≥ ∞"
    m:render(dir .. "/t.svg", { title = title, scale = 8 })
    local svg = slurp(dir .. "/t.svg")
    local t = texts(svg)
    assert.is_true(has(t, title))
    assert.is_truthy(svg:find('rotate%(%-90%)"[^>]*>query</text>'))
    -- one segment: no boundary id (the ids would be in the accent colour)
    assert.is_nil(svg:find("#dc281e", 1, true))
    local ok, err = pcall(m.render, m, dir .. "/x.svg", { title = "\255bad" })
    assert.is_false(ok)
    assert.is_truthy(err:find("not valid UTF-8", 1, true), err)
  end)

  it("wraps a long title instead of widening the figure", function()
    local m = causal(64)
    local w1 = m:render(dir .. "/a.svg")
    local w2, _ = m:render(dir .. "/b.svg", { title = ("a long title that goes on "):rep(12) })
    assert.are.equal(w1, w2)
    local lines = texts(slurp(dir .. "/b.svg"))
    local n = 0
    for _, s in ipairs(lines) do if s:find("long title", 1, true) then n = n + 1 end end
    assert.is_true(n >= 2)
    -- \n starts a new line
    m:render(dir .. "/c.svg", { title = "first\nsecond" })
    local t = texts(slurp(dir .. "/c.svg"))
    assert.is_true(has(t, "first") and has(t, "second"))
  end)

  it("shows a binary legend for exact masks and the colour bar only for fractional pixels", function()
    local m = causal(64)
    m:render(dir .. "/a.svg")
    local t = texts(slurp(dir .. "/a.svg"))
    assert.is_true(has(t, "allowed") and has(t, "masked"))
    assert.is_false(has(t, "100% allowed (fraction per pixel)"))
    m:render(dir .. "/b.svg", { width = 16 }) -- narrow: the caption wraps
    assert.is_true(has(texts(slurp(dir .. "/b.svg")), "allowed (fraction per pixel)"))
    maskinfo.causal(4096):render(dir .. "/b.svg")
    assert.is_true(has(texts(slurp(dir .. "/b.svg")), "100% allowed (fraction per pixel)"))
    m:render(dir .. "/c.svg", { width = 16, aggregate = "any" })
    assert.is_false(has(texts(slurp(dir .. "/c.svg")), "100% allowed (fraction per pixel)"))
    m:render(dir .. "/d.svg", { legend = false })
    assert.is_false(has(texts(slurp(dir .. "/d.svg")), "allowed"))
    -- padding is hatched and named in the legend
    local p = maskinfo.from_segments({ { 0, 0, 0, 1, 1, -1, -1, -1 } }):apply_causal()
    p:render(dir .. "/e.svg")
    local svg = slurp(dir .. "/e.svg")
    assert.is_truthy(svg:find('fill="url(#pad)"', 1, true))
    assert.is_true(has(texts(svg), "padding"))
    -- without the segment boundaries the padding stays hatched
    p:render(dir .. "/f.svg", { show_segments = false })
    svg = slurp(dir .. "/f.svg")
    assert.is_truthy(svg:find('fill="url(#pad)"', 1, true))
    assert.is_true(has(texts(svg), "padding"))
  end)

  it("draws every head as a panel under one figure title", function()
    local b = maskinfo.from_segments({ maskinfo.util.fill(32, 0) })
    local m = maskinfo.stack_heads({ b:apply_causal(), b:apply_sliding_window(2), b:apply_sliding_window(4),
      b:apply_sliding_window(8) })
    local w1 = m:render(dir .. "/one.svg")
    local w4 = m:render(dir .. "/all.svg", { heads = "all", title = "four heads" })
    assert.is_true(w4 > 3 * w1 * 0.9)
    local t = texts(slurp(dir .. "/all.svg"))
    for h = 0, 3 do assert.is_true(has(t, "head " .. h)) end
    assert.is_true(has(t, "four heads"))
    local n = 0
    for _, s in ipairs(t) do if s == "allowed" then n = n + 1 end end
    assert.are.equal(1, n) -- one shared legend
    local w2 = m:render(dir .. "/two.svg", { heads = { 1, 3 }, columns = 1 })
    assert.is_true(w2 < w4)
    assert.has_error(function() m:render(dir .. "/x.svg", { heads = { 4 } }) end)
  end)

  it("draws named layers as a grid", function()
    local c = causal(32)
    local w, h = maskinfo.render_layers(dir .. "/l.svg", { { name = "global", mask = c },
      { name = "local", mask = c:apply_sliding_window({ 7, 0 }) } }, { title = "two layers", columns = 2 })
    assert.is_true(w > h)
    local t = texts(slurp(dir .. "/l.svg"))
    assert.is_true(has(t, "global") and has(t, "local") and has(t, "two layers"))
  end)

  it("prints diff counts that match the masks", function()
    local c = causal(48)
    local a, b = c:apply_sliding_window({ 7, 0 }), c:apply_sliding_window({ 4, 0 })
    maskinfo.render_diff(dir .. "/d.svg", a, b)
    local t = texts(slurp(dir .. "/d.svg"))
    local both = (a & b):count()
    -- U+00A0 keeps each count with its name when the line wraps
    local line = ("only\u{a0}a:\u{a0}%d   only\u{a0}b:\u{a0}%d   both:\u{a0}%d\u{a0}cells"):format(a:count() - both, b:count() - both, both)
    assert.is_true(has(t, line), line)
    assert.is_true(has(t, "only a") and has(t, "only b") and has(t, "both"))
    -- large counts get thousands separators
    local function grouped(n) return (tostring(n):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")) end
    local full = maskinfo.from_segments({ maskinfo.util.fill(2048, 0) })
    a, b = causal(2048):apply_sliding_window({ 1023, 0 }), full:apply_sliding_window({ 383, 384 })
    maskinfo.render_diff(dir .. "/d.svg", a, b)
    both = (a & b):count()
    line = ("only\u{a0}a:\u{a0}%s   only\u{a0}b:\u{a0}%s   both:\u{a0}%s\u{a0}cells"):format(grouped(a:count() - both), grouped(b:count() - both),
      grouped(both))
    assert.is_truthy(line:find(",", 1, true))
    assert.is_true(has(texts(slurp(dir .. "/d.svg")), line), line)
  end)

  it("prints the kernel-block counts and sparsity, and names the block tints in the legend", function()
    local c = causal(64)
    c:render(dir .. "/b.svg", { block_size = 16 })
    local t = texts(slurp(dir .. "/b.svg"))
    assert.is_true(has(t, "blocks 16x16: 6 full, 4 partial, 6 empty"))
    assert.is_true(has(t, "sparsity 37.50%"))
    -- the legend names the tints
    assert.is_true(has(t, "full block") and has(t, "partial block"))
    c:render(dir .. "/n.svg")
    assert.is_false(has(texts(slurp(dir .. "/n.svg")), "full block"))
    assert.has_error(function() causal(100000):render(dir .. "/x.svg", { block_size = 1 }) end)
  end)

  it("zooms, offsets the labels and gives few rows a visible height", function()
    local c = causal(1000)
    local w, h = c:render(dir .. "/z.svg", { q_range = { 100, 110 }, kv_range = { 0, 200 }, plain = true, scale = 2 })
    assert.are.same({ 400, 20 }, { w, h })
    local d = maskinfo.from_segments({ maskinfo.util.fill(1, 0) }, { maskinfo.util.fill(64, 0) })
    d:render(dir .. "/d.svg", { q_offset = 1000000, kv_offset = 999937 })
    local t = texts(slurp(dir .. "/d.svg"))
    assert.is_true(has(t, "1000000"))
    local _, hp = d:render(dir .. "/p.svg", { plain = true })
    assert.are.equal(24, hp)
    assert.has_error(function() c:render(dir .. "/x.svg", { q_range = { 5, 5 } }) end)
  end)

  it("labels the first cell of every axis, and axes reaching 1M in M", function()
    local d = maskinfo.from_segments({ maskinfo.util.fill(1, 0) }, { maskinfo.util.fill(64, 0) })
    for _, off in ipairs({ 0, 5, 63, 999999 }) do
      d:render_svg(dir .. "/q.svg", { q_offset = off })
      assert.is_true(has(texts(slurp(dir .. "/q.svg")), tostring(off)), off)
    end
    local t = texts(slurp(dir .. "/q.svg"))
    assert.is_true(has(t, "0") and has(t, "60"))
    causal(64):render_svg(dir .. "/k.svg", { kv_range = { 7, 64 } })
    assert.is_true(has(texts(slurp(dir .. "/k.svg")), "7"))
    maskinfo.causal(1048576):render_svg(dir .. "/m.svg")
    t = texts(slurp(dir .. "/m.svg"))
    assert.is_true(has(t, "1M") and has(t, "0.2M"))
    assert.is_false(has(t, "1000k"))
    local d2 = maskinfo.from_segments({ maskinfo.util.fill(1, 0) }, { maskinfo.util.fill(4096, 0) })
    d2:render_svg(dir .. "/k.svg", { q_offset = 1000000, kv_offset = 995905 })
    t = texts(slurp(dir .. "/k.svg"))
    assert.is_true(has(t, "999k") and has(t, "1M") and has(t, "995905"))
    assert.is_false(has(t, "1000k"))
  end)

  it("titles a grid once, names a single plane of several, and names diff's arguments", function()
    local c = causal(8)
    maskinfo.render_grid(dir .. "/g.svg", { c, c }, { title = "T", titles = { "a", "b" } })
    local n = 0
    for _, s in ipairs(texts(slurp(dir .. "/g.svg"))) do if s == "T" then n = n + 1 end end
    assert.are.equal(1, n)
    local ok, err = pcall(maskinfo.render_grid, dir .. "/x.svg", { c, c }, { title = "T", figure_title = "F" })
    assert.is_false(ok)
    assert.is_truthy(err:find("title and figure_title", 1, true), err)
    local m = maskinfo.stack_heads({ c, c, c, c })
    m:render(dir .. "/h.svg", { head = 2, title = "T" })
    local t = texts(slurp(dir .. "/h.svg"))
    assert.is_true(has(t, "head 2") and has(t, "T"))
    ok, err = pcall(m.render, m, dir .. "/x.svg", { heads = "all", head = 1 })
    assert.is_false(ok)
    assert.is_truthy(err:find("head or heads", 1, true), err)
    ok, err = pcall(maskinfo.render_grid, dir .. "/x.svg", { m, m }, { heads = { 0, 1 }, head = 1 })
    assert.is_truthy(not ok and err:find("head or heads", 1, true), err)
    ok, err = pcall(maskinfo.render_diff, dir .. "/x.svg", nil, c)
    assert.is_truthy(not ok and err:find("#2", 1, true), err)
    ok, err = pcall(maskinfo.render_diff, dir .. "/x.svg", c, nil)
    assert.is_truthy(not ok and err:find("#3", 1, true), err)
  end)

  it("wraps the legend to the panels' width", function()
    for _, o in ipairs({ { width = 100, block_size = 16 }, { block_size = { 128, 64 } } }) do
      local c = maskinfo.causal(o.width and 64 or 8192)
      local w1, h1 = c:render_png(dir .. "/l.png", o)
      o.legend = false
      local w2, h2 = c:render_png(dir .. "/n.png", o)
      assert.are.equal(w2, w1)
      assert.is_true(h1 > h2)
    end
    local svg = (function()
      maskinfo.causal(4096):render_svg(dir .. "/r.svg", { width = 100 })
      return slurp(dir .. "/r.svg")
    end)()
    assert.is_true(has(texts(svg), "allowed (fraction per pixel)"))
  end)

  it("refuses a named font that does not load, with the reason", function()
    local c = causal(8)
    for font, why in pairs({ ["/nonexistent/x.ttf"] = "No such file or directory",
      ["/etc/passwd"] = "FreeType", [dir] = "Is a directory" }) do
      local ok, err = pcall(c.render, c, dir .. "/f.png", { font = font })
      assert.is_false(ok)
      assert.is_truthy(err:find("font: cannot load '" .. font .. "': " .. why, 1, true), err)
    end
    assert.is_false(io.open(dir .. "/f.png") ~= nil)
  end)

  it("breaks a long word in a title, caps titles and token labels, reads tabs and CRs", function()
    local c = causal(64)
    local w0 = c:render_png(dir .. "/a.png", { title = "short" })
    assert.are.equal(w0, c:render_png(dir .. "/b.png", { title = string.rep("abcdefghij", 15) .. " end" }))
    local ok, err = pcall(c.render, c, dir .. "/x.png", { title = string.rep("x", 1001) })
    assert.is_false(ok)
    assert.is_truthy(err:find("title: at most 1000 characters, got 1001", 1, true), err)
    ok, err = pcall(maskinfo.render_layers, dir .. "/x.png", { { name = string.rep("n", 2000), mask = c } })
    assert.is_truthy(not ok and err:find("name: at most 1000 characters", 1, true), err)
    local t8 = causal(2)
    ok, err = pcall(t8.render, t8, dir .. "/x.png", { tokens = { string.rep("t", 65), "b" } })
    assert.is_truthy(not ok and err:find("tokens: at most 64 characters", 1, true), err)
    assert.is_false(io.open(dir .. "/x.png") ~= nil)
    c:render_svg(dir .. "/t.svg", { title = "a\tb\r\nc\rd" })
    local t = texts(slurp(dir .. "/t.svg"))
    assert.is_true(has(t, "a b") and has(t, "c") and has(t, "d"))
  end)

  it("labels every k-th token rather than shrinking the type past reading", function()
    local c, t = causal(64), {}
    for i = 1, 64 do t[i] = "t" .. (i - 1) end
    c:render_svg(dir .. "/t.svg", { tokens = t })
    local svg = slurp(dir .. "/t.svg")
    local sizes, names = {}, texts(svg)
    for sz in svg:gmatch('font%-size="([%d.]+)"[^>]*>t%d+</text>') do sizes[#sizes + 1] = tonumber(sz) end
    assert.is_true(#sizes > 10 and #sizes < 64, #sizes)
    for _, sz in ipairs(sizes) do assert.is_true(sz >= 6, sz) end
    assert.is_true(has(names, "t0") and has(names, "t10") and not has(names, "t1"))
  end)

  it("names the band categories in the legend", function()
    local m = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 2, 2, 2, -1, -1 } }):apply_causal()
    m:render_svg(dir .. "/b.svg", { bands = true })
    local t = texts(slurp(dir .. "/b.svg"))
    assert.is_true(has(t, "band 0") and has(t, "band 1") and has(t, "band 2"))
    assert.is_true(has(t, "band: mixed or none"))
    assert.is_false(has(t, "band 3"))
    m:render_svg(dir .. "/n.svg")
    assert.is_false(has(texts(slurp(dir .. "/n.svg")), "band 0"))
  end)

  it("states the limits of dpi and font_scale", function()
    local c = causal(8)
    for k, v in pairs({ dpi = 1, font_scale = 1e9 }) do
      local ok, err = pcall(c.render, c, dir .. "/x.png", { [k] = v })
      assert.is_false(ok)
      assert.is_truthy(err:find(k .. ": a number from", 1, true), err)
    end
    assert.is_truthy(c:render(dir .. "/x.png", { dpi = 36, font_scale = 0.25 }))
  end)

  it("has default sizes monotonic in the number of tokens", function()
    local last = 0
    for _, n in ipairs({ 8, 100, 255, 256, 257, 511, 512, 513, 1000, 1024, 1025, 5000 }) do
      local w = causal(n):render(dir .. "/s.png", { plain = true })
      assert.is_true(w >= last, ("%d tokens: %d < %d"):format(n, w, last))
      last = w
    end
    assert.are.equal(1024, last)
  end)
end)
