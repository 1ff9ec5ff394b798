--- The gallery: docs/gallery.md and its pictures, generated from the recipe
-- library.  Every built-in recipe gets its description, its default
-- parameters, its source, the shape of each layer and one picture of every
-- layer, head and batch row at the defaults, and one at 128k tokens; then
-- a few figures beyond the recipes (every head of a 4-head mask, a decode
-- step at position 1,000,000, a diff of two windows).  `make gallery` runs
-- G.main; tests/gallery_spec.lua checks that the committed page is
-- G.page() (which builds the recipes at their defaults only: the 128k
-- pictures are drawn by G.main alone).
-- @module maskinfo.cli.gallery

local mi = require("maskinfo")
local R = require("maskinfo.recipes")

local G = {}

--- The pictures' directory, relative to the page.
G.DIR = "gallery"

-- Masks longer than this many tokens are drawn with aggregate = "any": the
-- default picture is at most 1024 pixels a side, so a pixel then covers
-- several cells, and "mean" would fade a thin window to nothing.
local ANY_ABOVE = 1024
-- The side of a square panel, in pixels.
local PANEL_SIDE = 512
-- Committed pictures: zlib level 9 with row filters, about half the
-- bytes of the fast default.
local PNG_LEVEL = 9
-- At most this many panels per picture (layers x heads x batch rows).
local MAX_PANELS = 16
-- The long pictures: this many tokens, at most this many panels.
G.LONG = 131072
local LONG_PANELS = 4

-- Recipes whose `len` is not the mask's length at 128k, or which cannot
-- take len = 131072 as it is: the params used instead, and why.
local LONG_PARAMS = {
  bd3lm = { params = { len = 65536 }, why = "`len` is L and the mask is 2L x 2L" },
  natten = { params = { len = 131072, width = 256 }, why = "`len` must be a multiple of `width`: a 512 x 256 image" },
}

-- A recipe built at its defaults: {name=, recipe=, params=, layers=}.
local function built(name)
  local r = assert(R.load(name))
  local p = assert(R.params(r, {}))
  local layers, err = R.build(r, p)
  if not layers then error(("gallery: recipe %s: %s"):format(name, err), 0) end
  return { name = name, recipe = r, params = p, layers = layers }
end

-- (batch, heads, queries, keys) of a mask.
local function dims(m)
  local B, Q, K = m:shape()
  return B, select(2, m:count()):shape()[2], Q, K
end

-- The panels of entry e: every layer, head and batch row, up to max
-- (MAX_PANELS).
local function panels(e, max)
  max = max or MAX_PANELS
  local list = {}
  for _, l in ipairs(e.layers) do
    local B, H = dims(l.mask)
    for b = 0, B - 1 do
      for h = 0, H - 1 do
        local t = {}
        if #e.layers > 1 then t[#t + 1] = l.name end
        if H > 1 then t[#t + 1] = ("head %d"):format(h) end
        if B > 1 then t[#t + 1] = ("batch %d"):format(b) end
        if #list < max then
          list[#list + 1] = { mask = l.mask, head = h, batch = b, title = table.concat(t, ", ") }
        end
      end
    end
  end
  return list
end

-- The longest axis of entry e's masks, and whether every mask is square.
local function longest(e)
  local n, square = 0, true
  for _, l in ipairs(e.layers) do
    local _, _, Q, K = dims(l.mask)
    n, square = math.max(n, Q, K), square and Q == K
  end
  return n, square
end

local function cell(s) return (tostring(s):gsub("|", "\\|")) end

local function param_str(p)
  local t = {}
  for k, v in pairs(p) do t[#t + 1] = ("`%s = %s`"):format(k, tostring(v)) end
  table.sort(t)
  return table.concat(t, ", ")
end

--- The params recipe r is drawn with at 128k tokens (over its defaults):
-- len = G.LONG, and a `lengths` list (batch rows, documents) scaled by the
-- same factor as len, so the rows keep their proportions instead of
-- turning into padding.
function G.long_params(r)
  local x = LONG_PARAMS[r.name]
  if x then return x.params end
  local p, dlen, lengths = { len = G.LONG }, nil, nil
  for _, s in ipairs(r.params) do
    if s.name == "len" then dlen = s.default end
    if s.name == "lengths" and s.type == "string" then lengths = s.default end
  end
  if dlen and lengths then
    local t = {}
    for v in lengths:gmatch("%d+") do t[#t + 1] = tostring(tonumber(v) * G.LONG // dlen) end
    p.lengths = table.concat(t, ",")
  end
  return p
end

local function shape_str(m) return ("(%d, %d, %d, %d)"):format(dims(m)) end

-- The page's section of entry e.
local function section(e)
  local r, out = e.recipe, {}
  local function add(s) out[#out + 1] = s end
  add("## " .. e.name)
  add("")
  add(r.description)
  add("")
  add(("![%s: every layer, head and batch row](%s/%s.png)"):format(e.name, G.DIR, e.name))
  add("")
  local lp = G.long_params(e.recipe)
  local x = LONG_PARAMS[e.name]
  add(("%s (%s, `aggregate = \"any\"`, at most %d panels)%s:"):format(x and "Long" or "At 128k tokens",
    param_str(lp), LONG_PANELS, x and "; " .. x.why or ""))
  add("")
  add(("![%s at 128k tokens](%s/%s-128k.png)"):format(e.name, G.DIR, e.name))
  add("")
  local n, total = #panels(e), 0
  for _, l in ipairs(e.layers) do
    local B, H = dims(l.mask)
    total = total + B * H
  end
  if n < total then
    add(("The picture shows the first %d of %d panels."):format(n, total))
    add("")
  end
  if longest(e) > ANY_ABOVE then
    add("Drawn with `aggregate = \"any\"`: a pixel is black when any cell it covers is allowed.")
    add("")
  end
  add("| parameter | default | meaning |")
  add("| --- | --- | --- |")
  for _, s in ipairs(r.params) do
    local ty = s.type == "enum" and table.concat(s.values, " \\| ") or s.type
    add(("| `%s` | `%s` | %s (%s) |"):format(s.name, cell(e.params[s.name]), cell(s.doc), ty))
  end
  add("")
  if #e.layers == 1 then
    add(("Mask (batch, heads, queries, keys): %s."):format(shape_str(e.layers[1].mask)))
  else
    add(("%d layers (batch, heads, queries, keys):"):format(#e.layers))
    add("")
    for _, l in ipairs(e.layers) do add(("- %s: %s"):format(cell(l.name), shape_str(l.mask))) end
  end
  add("")
  add("Source: " .. r.source)
  add("")
  return table.concat(out, "\n")
end

local HEAD = [[
# Gallery

<!-- Generated by `make gallery` (lua/maskinfo/cli/gallery.lua) from the recipe library; do not edit.
     tests/gallery_spec.lua checks that this page is what the generator writes. -->

Every built-in recipe (`lua/maskinfo/recipes/`, `maskinfo list`) at its real
default parameters: its description, its parameters, the shape of its masks,
where the defaults come from, and one picture of every layer, head and batch
row; then a picture at 128k tokens (a `lengths` list of batch rows or
documents scales with `len`). Black cells are allowed, white ones
masked, grey pixels partly allowed, hatched ones padding. With
`aggregate = "any"` a pixel is black when any cell it covers is, and a
feature thinner than 3 pixels (sinks, global tokens) is drawn 3 pixels
wide. [Beyond the recipes](#beyond-the-recipes): every head of a 4-head
mask, a decode step at position 1,000,000 and a diff of two windows.
[recipes.md](recipes.md) explains how to write a recipe;
`maskinfo render NAME out.png --layers all --heads all` draws one yourself
([cli.md](cli.md)).
]]

--- The entries of the page, one per built-in recipe, built at the defaults.
function G.entries()
  local t = {}
  for i, n in ipairs(R.list()) do t[i] = built(n) end
  return t
end

--- The text of docs/gallery.md.
function G.page(entries)
  entries = entries or G.entries()
  local links = {}
  for i, e in ipairs(entries) do links[i] = ("[%s](#%s)"):format(e.name, e.name) end
  local out = { HEAD, "Recipes: " .. table.concat(links, " · ") .. "\n" }
  for _, e in ipairs(entries) do out[#out + 1] = section(e) end
  out[#out + 1] = "## Beyond the recipes\n"
  for _, x in ipairs(G.EXTRAS) do
    out[#out + 1] = ("%s\n\n![%s](%s/%s.png)\n"):format(x.text, x.caption, G.DIR, x.name)
  end
  out[#out + 1] = ("The same figures as SVG: %s.\n"):format(table.concat((function()
    local t = {}
    for i, x in ipairs(G.EXTRAS) do t[i] = ("[%s.svg](%s/%s.svg)"):format(x.name, G.DIR, x.name) end
    return t
  end)(), ", "))
  return table.concat(out, "\n")
end

--- Render the picture of entry e to path (long: the 128k build, at most
-- LONG_PANELS panels); returns width, height (or nil, message, status).
function G.render(e, path, long)
  local list = panels(e, long and LONG_PANELS or MAX_PANELS)
  local masks, titles, heads, batches = {}, {}, {}, {}
  for i, pn in ipairs(list) do
    masks[i], titles[i], heads[i], batches[i] = pn.mask, pn.title, pn.head, pn.batch
  end
  local n, square = longest(e)
  local opts = { heads = heads, batches = batches,
    aggregate = n > ANY_ABOVE and "any" or "mean",
    figure_title = long and ("%s, %s tokens"):format(e.name, G.tokens_str(n)) or e.name, png_level = PNG_LEVEL }
  -- Panels PANEL_SIDE wide keep the files small and the grid compact;
  -- thin ones (a decode step, T5's cross-attention at 128k) and tall ones
  -- keep the renderer's default size, which keeps a short axis readable,
  -- and go one or two to a row.
  local wide_ok, thin, all_thin = true, false, true
  for _, pn in ipairs(list) do
    local _, _, Q, K = dims(pn.mask)
    local t = K >= 4 * Q
    thin, all_thin = thin or t, all_thin and t
    wide_ok = wide_ok and K >= Q and PANEL_SIDE * Q // K >= 48
  end
  if square then
    opts.width, opts.height = PANEL_SIDE, PANEL_SIDE
  elseif wide_ok then
    opts.width = PANEL_SIDE
  end
  -- at most 4 to a row, rows as even as they go (5 panels: 3 + 2)
  local most = (wide_ok or not thin) and 4 or all_thin and 1 or 2
  opts.columns = -(-#list // -(-#list // most))
  if #list > 1 then opts.titles = titles end
  return mi.render_grid(path, masks, opts)
end

--- "128k" for 131072 tokens, "1,024" below 10k.
function G.tokens_str(n)
  if n >= 10240 and n % 1024 == 0 then return ("%dk"):format(n // 1024) end
  local s = tostring(n):reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (s:gsub("^,", ""))
end

-- Figures beyond the recipes: {name=, text=, draw=function(path)}.
local function causal(n) return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal() end

local EXTRAS = {
  { name = "heads-4", caption = "every head of a 4-head mask",
    text = "`heads = \"all\"` of a 4-head mask (sliding windows of 64, 256 and 1024 tokens and a "
      .. "global head, 4096 tokens): one panel per head, one figure title, one legend.",
    draw = function(path)
      local c = causal(4096)
      local m = mi.stack_heads{ c:apply_sliding_window({ 63, 0 }), c:apply_sliding_window({ 255, 0 }),
        c:apply_sliding_window({ 1023, 0 }), c }
      return m:render(path, { heads = "all", columns = 2, width = 384, height = 384,
        title = "4 heads: windows of 64, 256, 1024 tokens and global", png_level = PNG_LEVEL })
    end },
  { name = "decode-1M", caption = "a decode step at position 1,000,000",
    text = "A decode step at position 1,000,000: `apply_sliding_window({4095, 0}, {mode = \"decode\", "
      .. "index = 1000000})` of a causal 1,000,001-token mask keeps one query row and the 4096 keys of its "
      .. "window; `q_offset` and `kv_offset` label them with their absolute positions.",
    draw = function(path)
      local K = 1000001
      local m = mi.causal(K):apply_sliding_window({ 4095, 0 }, { mode = "decode", index = K - 1 })
      local _, _, Ks = m:shape()
      return m:render(path, { q_offset = K - 1, kv_offset = K - Ks,
        title = "decode step at position 1,000,000 (window 4096)", png_level = PNG_LEVEL })
    end },
  { name = "diff-windows", caption = "a diff of two windows",
    text = "`render_diff` of a causal sliding window of 1024 tokens and a two-sided window of 768 "
      .. "(384 keys either side; 4096 tokens): cells allowed only in the first (orange), only in the "
      .. "second (purple) and in both (grey), with the counts.",
    draw = function(path)
      local c = causal(4096)
      local two = mi.from_segments({ mi.util.fill(4096, 0) }):apply_sliding_window({ 383, 384 })
      return mi.render_diff(path, c:apply_sliding_window({ 1023, 0 }), two,
        { title = "causal window 1024 vs two-sided window 768", width = 512, png_level = PNG_LEVEL })
    end },
}
G.EXTRAS = EXTRAS

-- Write text to path through a temporary file (never half a page).
local function write_atomic(path, text)
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  local ok, err = f:write(text)
  f:close()
  if not ok then
    os.remove(tmp)
    error(err, 0)
  end
  assert(os.rename(tmp, path))
end

--- Write the pictures to dir/NAME.png and the page to page_path.
function G.main(page_path, dir)
  local entries = G.entries()
  local function done(path, w, h)
    if not w then error(("gallery: %s: %s"):format(path, h), 0) end
    print(("wrote %s (%dx%d)"):format(path, w, h))
  end
  for _, e in ipairs(entries) do
    local path = ("%s/%s.png"):format(dir, e.name)
    done(path, G.render(e, path))
    local r = e.recipe
    local p = assert(R.params(r, G.long_params(r)))
    local layers, err = R.build(r, p)
    if not layers then error(("gallery: recipe %s at 128k: %s"):format(e.name, err), 0) end
    path = ("%s/%s-128k.png"):format(dir, e.name)
    done(path, G.render({ name = e.name, recipe = r, params = p, layers = layers }, path, true))
  end
  for _, x in ipairs(EXTRAS) do
    for _, ext in ipairs({ "png", "svg" }) do
      local path = ("%s/%s.%s"):format(dir, x.name, ext)
      done(path, x.draw(path))
    end
  end
  write_atomic(page_path, G.page(entries))
  print("wrote " .. page_path)
end

return G
