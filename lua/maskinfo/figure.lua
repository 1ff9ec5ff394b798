--- Figures: PNG and SVG heatmaps of masks, their heads, layers and diffs.
-- The work is in core/src/layout.c (layout), annotate.c, render_png.c and
-- render_svg.c.  This file is the one owner of the figure options: it
-- checks each option and gives it its default once (the default image
-- size included), then hands the binding plain values.
-- Defines the render, render_png and render_svg methods (through
-- maskinfo.object) and the module functions render_png_grid, render_grid,
-- render_layers and render_diff.
-- @module maskinfo.figure

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")
local RN = require("maskinfo.render")

local argerr, check_int, opt_table = E.argerr, args.check_int, args.opt_table
local positive = RN.positive
local logical, plane_ids = O.logical, R.plane_ids
local status = core.status

local F = {}
--- The public functions of this module (copied into `maskinfo`).
F.api = {}

-- The core's limit per image side (MASKINFO_MAX_IMAGE_SIDE): an explicit
-- size past it is refused here, naming the option; sizes the core derives
-- are checked by the core (EIMAGE).
local MAX_SIDE = core.max_image_side
-- Default heatmap: the long side is the number of tokens clamped to
-- [512, 1024] pixels (monotonic in tokens); a short axis gets at least
-- MIN_CELL pixels per token up to MIN_SHORT, so a decode step is a band.
local SIDE_MIN, SIDE_MAX, MIN_CELL, MIN_SHORT = 512, 1024, 24, 192
local MAX_BLOCKS = 4096 -- kernel blocks per axis of an overlay (layout.c)

local PANEL_OPTS = { batch = true, head = true, scale = true, width = true, height = true, title = true,
  colormap = true, plain = true, show_segments = true, grid = true, aggregate = true, q_range = true,
  kv_range = true, q_offset = true, kv_offset = true, bands = true, tokens = true, block_size = true }
local FIG_OPTS = { dpi = true, font_scale = true, font = true, legend = true, png_level = true }

local function merged(...)
  local t = {}
  for _, s in ipairs({ ... }) do for k in pairs(s) do t[k] = true end end
  return t
end

-- Longest title (title, titles, layer names) and token label, in
-- characters: a longer one is refused rather than laid out for a minute
-- into a picture nobody reads.
local MAX_TITLE, MAX_TOKEN = 1000, 64

local function text_arg(fname, n, v, what, max)
  if type(v) ~= "string" then argerr(fname, n, ("%s: string expected, got %s"):format(what, type(v))) end
  if v:find("\0", 1, true) then argerr(fname, n, what .. ": contains a NUL byte") end
  local len = utf8.len(v)
  if not len then argerr(fname, n, what .. ": not valid UTF-8") end
  if max and len > max then
    argerr(fname, n, ("%s: at most %d characters, got %d"):format(what, max, len))
  end
  return v
end

-- A title: tabs read as spaces, CR LF and CR as line breaks.
local function title_arg(fname, n, v, what)
  v = text_arg(fname, n, v, what, MAX_TITLE)
  return (v:gsub("\r\n?", "\n"):gsub("\t", " "))
end

local function index_opt(fname, n, v, what, size)
  return RN.index_opt(fname, n, v, what, size, 0)
end

local function range_opt(fname, n, v, what, len)
  if v == nil then return nil, 0, len end
  if type(v) ~= "table" or #v ~= 2 then argerr(fname, n, what .. ": {first, last + 1} expected") end
  local lo, hi = check_int(fname, n, v[1], what), check_int(fname, n, v[2], what)
  if lo < 0 or hi <= lo or hi > len then
    argerr(fname, n, ("%s: {%d, %d} is not a non-empty part of [0, %d)"):format(what, lo, hi, len))
  end
  return { lo, hi }, lo, hi - lo
end

-- {q = x, kv = y}, or x for both axes when they have the same length.
local function per_axis(fname, n, v, what, Q, K)
  if type(v) == "table" and (v.q ~= nil or v.kv ~= nil) then return v.q, v.kv end
  if Q ~= K then argerr(fname, n, what .. ": the axes differ in length; give {q = ..., kv = ...}") end
  return v, v
end

local function labels_opt(fname, n, v, what, len)
  if v == nil then return nil end
  if type(v) ~= "table" or #v ~= len then argerr(fname, n, ("%s: a list of %d strings expected"):format(what, len)) end
  for i = 1, len do text_arg(fname, n, v[i], what, MAX_TOKEN) end
  return v
end

local function bands_opt(fname, n, v, what, len)
  if v == nil then return nil end
  if core.is_array(v) then return v end
  local a = args.ids_arg(fname, n, v, what, { flat = true, min = -1 })
  if a:size() ~= len then argerr(fname, n, ("%s: %d entries expected, got %d"):format(what, len, a:size())) end
  return a
end

-- The default heatmap size of Qs x Ks shown cells (see SIDE_MIN above).
local function default_size(Qs, Ks)
  local long = math.max(Qs, Ks)
  local side = math.min(SIDE_MAX, math.max(SIDE_MIN, long))
  local w = math.max(1, (side * Ks + long // 2) // long, math.min(Ks * MIN_CELL, MIN_SHORT))
  local h = math.max(1, (side * Qs + long // 2) // long, math.min(Qs * MIN_CELL, MIN_SHORT))
  return w, h
end

-- The decoded options of one panel (every field set, see lua/render.c) and
-- its mask, from the options table opts of argument n.
local function panel_opts(fname, n, f, opts)
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  if Q == 0 or K == 0 then
    E.fail(fname, ("cannot draw an empty mask (q_len=%d, kv_len=%d)"):format(Q, K))
  end
  local t = {
    batch = index_opt(fname, n, opts.batch, "batch", B),
    head = index_opt(fname, n, opts.head, "head", H),
    plain = args.opt_bool(fname, n, opts.plain, "plain", false),
    scale = 0, width = 0, height = 0, block_q = 0, block_kv = 0,
  }
  local qlo, klo, Qs, Ks
  t.q_range, qlo, Qs = range_opt(fname, n, opts.q_range, "q_range", Q)
  t.kv_range, klo, Ks = range_opt(fname, n, opts.kv_range, "kv_range", K)
  t.q_offset = check_int(fname, n, opts.q_offset == nil and 0 or opts.q_offset, "q_offset", 0)
  t.kv_offset = check_int(fname, n, opts.kv_offset == nil and 0 or opts.kv_offset, "kv_offset", 0)
  if opts.title ~= nil then t.title = title_arg(fname, n, opts.title, "title") end
  if opts.scale ~= nil and (opts.width ~= nil or opts.height ~= nil) then
    argerr(fname, n, "give scale or width/height, not both")
  end
  if opts.scale ~= nil then
    t.scale = positive(fname, n, opts.scale, "scale")
    if math.max(Qs, Ks) > MAX_SIDE // t.scale then
      argerr(fname, n, ("scale %d makes the heatmap %.0f pixels wide (at most %d)"):format(
        t.scale, t.scale * 1.0 * math.max(Qs, Ks), MAX_SIDE))
    end
  elseif opts.width ~= nil or opts.height ~= nil then
    -- both given: both honoured; one given: the core derives the other
    t.width = positive(fname, n, opts.width, "width", 0)
    t.height = positive(fname, n, opts.height, "height", 0)
    for _, k in ipairs({ "width", "height" }) do
      if t[k] > MAX_SIDE then argerr(fname, n, ("%s must be <= %d, got %d"):format(k, MAX_SIDE, t[k])) end
    end
  else
    t.width, t.height = default_size(Qs, Ks)
  end
  t.colormap = args.check_option(fname, n, opts.colormap, "colormap", { "grey", "viridis", "magma" }, "grey")
  t.aggregate = args.check_option(fname, n, opts.aggregate, "aggregate", { "mean", "any", "all" }, "mean")
  t.show_segments = args.opt_bool(fname, n, opts.show_segments, "show_segments", true)
  local grid = args.opt_bool(fname, n, opts.grid, "grid", nil)
  t.grid = grid == nil and "auto" or (grid and "on" or "off")
  -- the ids also mark padding, hatched with or without the boundaries
  if not t.plain and f.q_ids and f.kv_ids then
    t.q_ids, t.kv_ids = plane_ids(f.q_ids, t.batch, t.head), plane_ids(f.kv_ids, t.batch, t.head)
  end
  if opts.bands == true then
    local q, kv = f.q_ids, f.kv_ids
    if not q or not kv then q, kv = E.need(fname, m:segment_ids(H > 1)) end
    t.q_bands, t.kv_bands = plane_ids(q, t.batch, t.head), plane_ids(kv, t.batch, t.head)
  elseif opts.bands ~= nil and opts.bands ~= false then
    local q, kv = per_axis(fname, n, opts.bands, "bands", Q, K)
    t.q_bands, t.kv_bands = bands_opt(fname, n, q, "bands", Q), bands_opt(fname, n, kv, "bands", K)
  end
  if opts.tokens ~= nil then
    local q, kv = per_axis(fname, n, opts.tokens, "tokens", Q, K)
    t.q_labels, t.kv_labels = labels_opt(fname, n, q, "tokens", Q), labels_opt(fname, n, kv, "tokens", K)
  end
  if opts.block_size ~= nil then
    local bs = opts.block_size
    if type(bs) == "table" then
      if #bs ~= 2 then argerr(fname, n, "block_size: integer or {q, kv} expected") end
      t.block_q, t.block_kv = positive(fname, n, bs[1], "block_size"), positive(fname, n, bs[2], "block_size")
    else
      t.block_q = positive(fname, n, bs, "block_size")
      t.block_kv = t.block_q
    end
    if -(-Qs // t.block_q) > MAX_BLOCKS or -(-Ks // t.block_kv) > MAX_BLOCKS then
      argerr(fname, n, ("block_size: at most %d blocks per axis can be drawn"):format(MAX_BLOCKS))
    end
  end
  return m, t, qlo, klo
end

-- dpi and font_scale: below the minimum the 7-pt ticks fall under ~4
-- pixels and the text is gone; the maximum is the core's.
local TYPE_LIMITS = { dpi = { 36, 10000 }, font_scale = { 0.25, 100 } }

local function fig_opts(fname, n, opts, format, title)
  local t = { format = format, legend = args.opt_bool(fname, n, opts.legend, "legend", true), dpi = 0, font_scale = 0 }
  for k, lim in pairs(TYPE_LIMITS) do
    local v = opts[k]
    if v ~= nil then
      if type(v) ~= "number" or v ~= v or v < lim[1] or v > lim[2] then
        argerr(fname, n, ("%s: a number from %g to %g expected, got %s"):format(k, lim[1], lim[2], tostring(v)))
      end
      t[k] = v
    end
  end
  -- a font the caller names must load; only the default's absence falls back
  local font, what = opts.font, "font"
  if font == nil and (os.getenv("MASKINFO_FONT") or "") ~= "" then font, what = os.getenv("MASKINFO_FONT"), "MASKINFO_FONT" end
  if font ~= nil then
    t.font = text_arg(fname, n, font, what)
    local ok, why = core.font_check(t.font)
    if not ok then argerr(fname, n, ("%s: cannot load '%s': %s"):format(what, t.font, why)) end
  end
  if opts.png_level ~= nil then
    t.png_level = check_int(fname, n, opts.png_level, "png_level")
    if t.png_level < 1 or t.png_level > 9 then
      argerr(fname, n, ("png_level: 1 to 9 expected, got %d"):format(t.png_level))
    end
  end
  if title ~= nil then t.title = title_arg(fname, n, title, "title") end
  return t
end

local FORMATS = { png = "png", svg = "svg" }

--- The image format named by a path's extension ("png" or "svg").
function F.format_of(fname, n, path)
  local ext = path:match("%.([%w]+)$")
  local fmt = ext and FORMATS[ext:lower()]
  if not fmt then
    argerr(fname, n, ("path: unknown image format %s (expected .png or .svg)"):format(
      ext and "'." .. ext .. "'" or "(no extension)"))
  end
  return fmt
end

-- Extensions of image formats the renderers do not write.
local OTHER = { jpg = true, jpeg = true, gif = true, webp = true, bmp = true, tif = true, tiff = true,
  pdf = true, eps = true, ps = true }

-- The path of a writer with a fixed format (render_png, render_svg, ...):
-- an extension naming another image format is refused; no extension, or
-- one that names no image format (x.tmp), is written as asked.
local function fixed_format(fname, n, path, format)
  local ext = path:match("%.([%w]+)$")
  ext = ext and ext:lower()
  if ext and ext ~= format and (FORMATS[ext] or OTHER[ext]) then
    argerr(fname, n, ("path: '.%s' names another format than this writer's %s"
      .. " (render picks the format from the extension)"):format(ext, format:upper()))
  end
  return path
end

-- The renderers' answer: width, height, or nil, message, status for a
-- refusal or a file failure.  A guard refusal says how big the image may be.
local function written(fname, ...)
  local w, msg, st = ...
  if w == nil then
    -- the binding names itself "render"; the caller's name replaces it
    if type(msg) == "string" then msg = msg:gsub("^render: ", "") end
    if st == status.ETOOBIG or st == status.EIMAGE then
      msg = ("the image is too large: at most %d pixels a side (margins included) "
        .. "and within the memory guard (%.3g GiB, see maskinfo.set_memory_limit)"):format(
        MAX_SIDE, G.get_memory_limit() / 2 ^ 30)
    end
    return E.returned(fname, nil, msg, st)
  end
  return E.returned(fname, ...)
end

local function draw(fname, path, masks, popts, columns, fig)
  return written(fname, core.render_figure(path, masks, popts, columns, fig))
end

local function heads_list(fname, n, v, H)
  if v == "all" then
    local t = {}
    for h = 0, H - 1 do t[#t + 1] = h end
    return t
  end
  if type(v) ~= "table" or #v == 0 then argerr(fname, n, "heads: \"all\" or a list of head indices expected") end
  for i, h in ipairs(v) do index_opt(fname, n, h, ("heads[%d]"):format(i), H) end
  return v
end

local ONE_OPTS = merged(PANEL_OPTS, FIG_OPTS, { heads = true, columns = true })

-- One mask: one panel, or one per head (opts.heads); the title is the
-- panel's, or the figure's when there are several panels.
local function render_one(fname, f, path, opts, format)
  opts = opt_table(fname, 2, opts, ONE_OPTS)
  if opts.heads == nil then
    local m, t = panel_opts(fname, 2, f, opts)
    local B, H = m:shape()
    if (B > 1 or H > 1) and not t.plain then
      -- one plane of several: the panel says which, under the caller's title
      local name = {}
      if B > 1 then name[#name + 1] = ("batch %d"):format(t.batch) end
      if H > 1 then name[#name + 1] = ("head %d"):format(t.head) end
      t.title = table.concat(name, ", ")
      return draw(fname, path, { m }, { t }, 1, fig_opts(fname, 2, opts, format, opts.title))
    end
    return draw(fname, path, { m }, { t }, 1, fig_opts(fname, 2, opts, format))
  end
  if opts.head ~= nil then argerr(fname, 2, "give head or heads, not both") end
  local H = select(2, logical(f, fname):shape())
  local heads = heads_list(fname, 2, opts.heads, H)
  local masks, popts = {}, {}
  for i, h in ipairs(heads) do
    local po = {}
    for k, v in pairs(opts) do if PANEL_OPTS[k] then po[k] = v end end
    po.head, po.title = h, ("head %d"):format(h)
    masks[i], popts[i] = panel_opts(fname, 2, f, po)
  end
  local columns = opts.columns == nil and 0 or check_int(fname, 2, opts.columns, "columns", 1)
  return draw(fname, path, masks, popts, columns, fig_opts(fname, 2, opts, format, opts.title))
end

--- Write a figure of one mask; the format follows the extension (.png or .svg).
-- @tparam string path written atomically (temp file + rename)
-- @tparam[opt] table opts see docs/api.md (Renderers)
-- @return width, height; or nil, message, status (a refusal or a file failure)
O.method("render", nil, function(_, f, fname, path, opts)
  path = args.path_arg(fname, 1, path)
  return render_one(fname, f, path, opts, F.format_of(fname, 1, path))
end)

--- Write a PNG figure of one mask (the render options).
O.method("render_png", nil, function(_, f, fname, path, opts)
  return render_one(fname, f, fixed_format(fname, 1, args.path_arg(fname, 1, path), "png"), opts, "png")
end)

--- Write an SVG figure of one mask (the render options).
O.method("render_svg", nil, function(_, f, fname, path, opts)
  return render_one(fname, f, fixed_format(fname, 1, args.path_arg(fname, 1, path), "svg"), opts, "svg")
end)

local GRID_OPTS = merged(PANEL_OPTS, FIG_OPTS, { titles = true, columns = true, heads = true, batches = true,
  figure_title = true })

local function grid(fname, path, list, opts, format)
  if type(list) ~= "table" or #list == 0 then argerr(fname, 2, "non-empty list of MaskInfo expected") end
  opts = opt_table(fname, 3, opts, GRID_OPTS)
  local columns = opts.columns == nil and 0 or check_int(fname, 3, opts.columns, "columns", 1)
  for _, k in ipairs({ "titles", "heads", "batches" }) do
    if opts[k] ~= nil and (type(opts[k]) ~= "table" or #opts[k] ~= #list) then
      argerr(fname, 3, ("%s: a list with one entry per mask (%d) expected"):format(k, #list))
    end
  end
  -- title names the figure (as with heads and render_layers); titles the panels
  if opts.heads ~= nil and opts.head ~= nil then argerr(fname, 3, "give head or heads, not both") end
  if opts.batches ~= nil and opts.batch ~= nil then argerr(fname, 3, "give batch or batches, not both") end
  if opts.title ~= nil and opts.figure_title ~= nil then
    argerr(fname, 3, "title and figure_title both name the figure: give one (panel titles go in titles)")
  end
  local masks, popts = {}, {}
  for i, mi in ipairs(list) do
    if not O.is_maskinfo(mi) then argerr(fname, 2, ("element %d: MaskInfo expected, got %s"):format(i, type(mi))) end
    local po = {}
    for k, v in pairs(opts) do if PANEL_OPTS[k] and k ~= "title" then po[k] = v end end
    if opts.titles then po.title = opts.titles[i] end
    if opts.heads then po.head = opts.heads[i] end
    if opts.batches then po.batch = opts.batches[i] end
    masks[i], popts[i] = panel_opts(fname, 3, O.fields(mi, fname), po)
  end
  local title = opts.figure_title
  if title == nil then title = opts.title end
  return draw(fname, path, masks, popts, columns, fig_opts(fname, 3, opts, format, title))
end

--- Several masks side by side in one PNG.
-- @tparam table list MaskInfos
-- @tparam[opt] table opts titles, columns, heads, batches, figure_title and the render options
function F.api.render_png_grid(path, list, opts)
  path = fixed_format("render_png_grid", 1, args.path_arg("render_png_grid", 1, path), "png")
  return grid("render_png_grid", path, list, opts, "png")
end

--- Several masks side by side; the format follows the extension.
function F.api.render_grid(path, list, opts)
  path = args.path_arg("render_grid", 1, path)
  return grid("render_grid", path, list, opts, F.format_of("render_grid", 1, path))
end

--- Named layers ({ {name = ..., mask = ...}, ... }) as a grid, titled by name.
function F.api.render_layers(path, layers, opts)
  local fname = "render_layers"
  path = args.path_arg(fname, 1, path)
  if type(layers) ~= "table" or #layers == 0 then argerr(fname, 2, "non-empty list of {name =, mask =} expected") end
  local list, titles = {}, {}
  for i, l in ipairs(layers) do
    if type(l) ~= "table" or not O.is_maskinfo(l.mask) then
      argerr(fname, 2, ("layer %d: {name = string, mask = MaskInfo} expected"):format(i))
    end
    list[i], titles[i] = l.mask, l.name == nil and ("layer %d"):format(i - 1) or title_arg(fname, 2, l.name, "name")
  end
  local o = {}
  for k, v in pairs(opt_table(fname, 3, opts, merged(PANEL_OPTS, FIG_OPTS, { columns = true }))) do o[k] = v end
  o.titles, o.figure_title, o.title = titles, o.title, nil
  return grid(fname, path, list, o, F.format_of(fname, 1, path))
end

--- A diff image: cells allowed only in a, only in b, and in both, with counts.
function F.api.render_diff(path, a, b, opts)
  local fname = "render_diff"
  path = args.path_arg(fname, 1, path)
  if not O.is_maskinfo(a) then argerr(fname, 2, "MaskInfo expected, got " .. type(a)) end
  if not O.is_maskinfo(b) then argerr(fname, 3, "MaskInfo expected, got " .. type(b)) end
  opts = opt_table(fname, 4, opts, merged(PANEL_OPTS, FIG_OPTS))
  local m, t = panel_opts(fname, 4, O.fields(a, fname), opts)
  local mb = logical(O.fields(b, fname), fname)
  local s1, s2 = { m:shape() }, { mb:shape() }
  for i = 1, 4 do
    if s1[i] ~= s2[i] then
      argerr(fname, 3, ("shape (%s) differs from a's (%s)"):format(table.concat(s2, ", "), table.concat(s1, ", ")))
    end
  end
  t.diff = mb
  return draw(fname, path, { m }, { t }, 1, fig_opts(fname, 4, opts, F.format_of(fname, 1, path)))
end

return F
