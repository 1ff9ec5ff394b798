--- maskinfo render, gallery and demo: recipes' layers and heads drawn to pictures.
-- @module maskinfo.cli.render

local mi = require("maskinfo")
local CE = require("maskinfo.cli.errors")
local R = require("maskinfo.recipes")
local cmd = require("maskinfo.cli.commands")

local M = {}

--- Options of the render command that take no value (for the CLI's first pass).
M.FLAGS = { ["--plain"] = true, ["--bands"] = true, ["--no-colorbar"] = true, ["--no-segments"] = true }

-- The picture formats, by extension (the library's figure.format_of says
-- the same; checked here first so a wrong name is a usage error before
-- anything is built).
local FORMATS = { png = "png", svg = "svg" }

--- Declare the render command's arguments on the argparse command c.
-- opt(c, spec, desc, argname) and flag(c, spec, desc) record the names taken.
function M.add_command(c, opt, flag)
  c:argument("output", "The picture to write: OUT.png or OUT.svg (the extension picks the format).")
  opt(c, "--batch", "Batch row to show (default 0).", "<b>")
  opt(c, "--heads", "Heads to show: a number, a list (0,2) or all (default 0).", "<heads>")
  opt(c, "--layers", "Layers to show: a number (1-based), a list (1,3) or all (default 1).", "<layers>")
  opt(c, "--title", "Title of the picture (default: the recipe's name); \\n breaks the line.", "<text>")
  opt(c, "--scale", "Pixels per cell (default: 512-1024 pixels a side).", "<s>")
  opt(c, "--width", "Width of the mask area in pixels.", "<w>")
  opt(c, "--height", "Height of the mask area in pixels.", "<h>")
  opt(c, "--colormap", "grey, viridis or magma.", "<name>"):choices({ "grey", "viridis", "magma" })
  opt(c, "--aggregate", "A pixel of several cells: mean (the allowed fraction, default), any (drawn if any "
    .. "cell is allowed; thin features at least 3 pixels) or all.", "<how>"):choices({ "mean", "any", "all" })
  opt(c, "--columns", "Panels per row when several are rendered (default: at most 4, rows as even as they go).", "<n>")
  opt(c, "--font-scale", "Multiply every text size (default 1).", "<f>")
  opt(c, "--dpi", "Size the text in points at this many pixels per inch (default: the heatmap spans "
    .. "2.7 inches).", "<dpi>")
  opt(c, "--q-range", "Show queries LO..HI-1 only (LO:HI, half-open).", "<lo:hi>")
  opt(c, "--kv-range", "Show keys LO..HI-1 only (LO:HI, half-open).", "<lo:hi>")
  opt(c, "--q-offset", "Add N to the query labels (absolute positions of a decode or prefill mask).", "<n>")
  opt(c, "--kv-offset", "Add N to the key labels.", "<n>")
  opt(c, "--block-overlay", "Draw kernel blocks of N (or Q,KV) cells: full, partial, empty, and the block "
    .. "sparsity.", "<n>")
  opt(c, "--tokens", "Token labels, comma-separated, one per token of both axes (small square masks).", "<a,b,...>")
  opt(c, "--diff", "Draw the difference to another mask: [RECIPE][:NAME=VALUE,...]; an empty RECIPE is this "
    .. "one, and this command line's parameters apply to it unless overridden.", "<spec>")
  flag(c, "--bands", "Segment bands along both axes.")
  flag(c, "--no-segments", "No segment boundaries or ids (padding stays hatched).")
  flag(c, "--no-colorbar", "No legend or colour bar.")
  flag(c, "--plain", "No title, axes or legend.")
end

local function usage(msg) CE.usage(msg, "render") end

local function format_of(path)
  local ext = path:match("%.([%w]+)$")
  local fmt = ext and FORMATS[ext:lower()]
  if not fmt then
    usage(("%s: unknown image format %s (expected .png or .svg)"):format(path,
      ext and "'." .. ext .. "'" or "(no extension)"))
  end
  return fmt
end

-- {lo, hi} from "LO:HI" or "LO,HI" (nil when absent).
local function range_opt(args, name)
  local s = args[name]
  if s == nil then return nil end
  local a, b = s:match("^%s*(%d+)%s*[:,]%s*(%d+)%s*$")
  a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
  if not a or not b or b <= a then usage(("--%s must be LO:HI with LO < HI, got '%s'"):format(cmd.flag_name(name), s)) end
  return { a, b }
end

local function block_opt(args)
  local s = args.block_overlay
  if s == nil then return nil end
  local q, kv = s:match("^(%d+),(%d+)$")
  if q then
    q, kv = math.tointeger(tonumber(q)), math.tointeger(tonumber(kv))
    if q >= 1 and kv >= 1 then return { q, kv } end
  end
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then usage(("--block-overlay must be N or Q,KV (positive integers), got '%s'"):format(s)) end
  return n
end

local function tokens_opt(args)
  if args.tokens == nil then return nil end
  local t = {}
  for x in (args.tokens .. ","):gmatch("([^,]*),") do t[#t + 1] = x end
  return t
end

-- The figure options of the command line (the library checks them).
local function fig_opts(args)
  return { colormap = args.colormap, plain = args.plain or nil, scale = cmd.num_opt(args, "scale"),
    width = cmd.int_opt(args, "width", 1), height = cmd.int_opt(args, "height", 1),
    aggregate = args.aggregate, font_scale = cmd.num_opt(args, "font_scale"), dpi = cmd.num_opt(args, "dpi"),
    q_range = range_opt(args, "q_range"), kv_range = range_opt(args, "kv_range"),
    q_offset = cmd.int_opt(args, "q_offset", 0), kv_offset = cmd.int_opt(args, "kv_offset", 0),
    block_size = block_opt(args), tokens = tokens_opt(args), bands = args.bands or nil,
    show_segments = not args.no_segments, legend = not args.no_colorbar }
end

-- The command-line flag of each library option a message may start with.
local FLAG_OF = { scale = "--scale", width = "--width", height = "--height", q_range = "--q-range",
  kv_range = "--kv-range", q_offset = "--q-offset", kv_offset = "--kv-offset", dpi = "--dpi",
  font_scale = "--font-scale", block_size = "--block-overlay", tokens = "--tokens", bands = "--bands",
  colormap = "--colormap", aggregate = "--aggregate", title = "--title", batch = "--batch", head = "--heads" }

-- Call a library renderer; its argument errors come from this command
-- line, so they are usage errors (the function's name is dropped and the
-- option named by its flag).
local function drawn(fn, ...)
  local ok, w, h, st = pcall(fn, ...)
  if not ok then
    if CE.is_failure(w) then error(w, 0) end
    local msg = tostring(w)
    msg = msg:match("^bad argument #%d+ to '[^']*' %((.*)%)$") or msg
    usage((msg:gsub("^([%a_]+)", FLAG_OF)))
  end
  return CE.need(w, h, st)
end

-- Render panels {mask=, head=, title=} to path in format fmt: one
-- picture, or a grid under the figure title.
local function render_panels(path, fmt, list, opts, columns, title)
  if #list == 1 then
    opts.head, opts.title = list[1].head, title
    local m = list[1].mask
    return drawn(fmt == "svg" and m.render_svg or m.render_png, m, path, opts)
  end
  local masks, titles, heads = {}, {}, {}
  for i, pn in ipairs(list) do masks[i], titles[i], heads[i] = pn.mask, pn.title, pn.head end
  -- default: at most 4 to a row, rows as even as they go (5 panels: 3 + 2)
  local g = { titles = titles, heads = heads, columns = columns or -(-#list // -(-#list // 4)), figure_title = title }
  for k, v in pairs(opts) do
    if k == "batch" then
      g.batches = {}
      for i = 1, #list do g.batches[i] = v end
    else
      g[k] = v
    end
  end
  return drawn(fmt == "svg" and mi.render_grid or mi.render_png_grid, path, masks, g)
end

-- The mask and title of --diff SPEC against recipe r at params p.
local function diff_target(spec, r, p, pick)
  local name, sets = spec:match("^([^:]*):?(.*)$")
  local r2 = r
  if name ~= "" and name ~= r.name then
    local err, st
    r2, err, st = R.load(name)
    if not r2 then
      if st == "EIO" then usage("--diff: " .. err) end
      CE.runtime("--diff: " .. err)
    end
  end
  local over, changed = {}, {}
  for _, s in ipairs(r2.params) do
    if p[s.name] ~= nil then over[s.name] = p[s.name] end
  end
  for kv in sets:gmatch("[^,]+") do
    local k, v = kv:match("^%s*([%w_]+)=(.*)$")
    if not k then usage(("--diff %s: NAME=VALUE expected, got '%s'"):format(spec, kv)) end
    over[k], changed[#changed + 1] = v, k
  end
  local p2, err = R.params(r2, over)
  if not p2 then usage("--diff: " .. err) end
  local layers = CE.need(R.build(r2, p2))
  local l = layers[math.min(pick.layer, #layers)]
  local a, b = {}, {}
  for i, k in ipairs(changed) do a[i], b[i] = ("%s=%s"):format(k, tostring(p[k])), ("%s=%s"):format(k, tostring(p2[k])) end
  local title
  if r2 == r then
    title = ("%s: %s vs %s"):format(r.name, table.concat(a, ", "), table.concat(b, ", "))
  else
    title = ("%s vs %s%s"):format(r.name, r2.name, #b > 0 and " (" .. table.concat(b, ", ") .. ")" or "")
  end
  return l.mask, title
end

-- Panel titles: the layer's name when layers differ, the head when heads do.
local function panel_title(l, pn, many_layers, many_heads)
  local t = {}
  if many_layers then t[#t + 1] = l.name end
  if many_heads then t[#t + 1] = ("head %d"):format(pn.head) end
  return table.concat(t, ", ")
end

--- maskinfo render RECIPE OUT.png|OUT.svg
function M.run(args, r)
  local fmt = format_of(args.output)
  local opts = fig_opts(args)
  opts.batch = cmd.int_opt(args, "batch", 0)
  local layers, p = cmd.build(args, r)
  local ps, note = cmd.panels(args, layers, false)
  -- a literal \n in --title breaks the line (shells pass it as two characters)
  local title = args.title and args.title:gsub("\\n", "\n") or r.name
  local w, h
  if args.diff then
    if #ps > 1 then usage("--diff draws one layer and head: pick them with --layers N --heads H") end
    local mb, dtitle = diff_target(args.diff, r, p, ps[1])
    opts.head, opts.title = ps[1].head, args.title and title or dtitle
    w, h = drawn(mi.render_diff, args.output, layers[ps[1].layer].mask, mb, opts)
  else
    local list, seen_l, seen_h = {}, {}, {}
    for _, pn in ipairs(ps) do seen_l[pn.layer], seen_h[pn.head] = true, true end
    local many_l, many_h = next(seen_l, next(seen_l)) ~= nil, next(seen_h, next(seen_h)) ~= nil
    for i, pn in ipairs(ps) do
      local l = layers[pn.layer]
      list[i] = { mask = l.mask, head = pn.head, title = panel_title(l, pn, many_l, many_h) }
    end
    w, h = render_panels(args.output, fmt, list, opts, cmd.int_opt(args, "columns", 1), title)
  end
  print(("wrote %s (%dx%d)"):format(args.output, w, h))
  if note then print(note) end
  return CE.EXIT_OK
end

---------------------------------------------------------------- gallery, demo

local function mkdir(dir)
  -- single-quote the directory for the shell (a quote inside becomes '\'')
  if not os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") then
    CE.runtime(("cannot create directory '%s'"):format(dir))
  end
end

local function gallery(dir, small, opts)
  mkdir(dir)
  local firsts, titles = {}, {}
  for _, n in ipairs(R.list()) do
    local r = CE.need(R.load(n))
    local p = CE.need(R.params(r, small and r.small or {}))
    local layers = CE.need(R.build(r, p))
    local list = {}
    for _, l in ipairs(layers) do
      local H = cmd.heads_of(l.mask) -- a count of the mask: once per layer
      for h = 0, H - 1 do
        list[#list + 1] = { mask = l.mask, head = h,
          title = #layers == 1 and H == 1 and n or ("%s, head %d"):format(l.name, h) }
      end
    end
    local path = dir .. "/" .. n .. ".png"
    local w, h = render_panels(path, "png", list, { colormap = opts.colormap, scale = opts.scale }, nil, n)
    print(("wrote %s (%dx%d)"):format(path, w, h))
    firsts[#firsts + 1], titles[#titles + 1] = layers[1].mask, n
  end
  local path = dir .. "/grid.png"
  local w, h = CE.need(mi.render_png_grid(path, firsts, { titles = titles, columns = 5 }))
  print(("wrote %s (%dx%d)"):format(path, w, h))
end

--- maskinfo gallery [DIR]
function M.gallery(args)
  gallery(args.dir or "build/gallery", args.small, { colormap = args.colormap, scale = cmd.num_opt(args, "scale") })
  return CE.EXIT_OK
end

--- maskinfo demo [DIR]: the seed's docstring examples, then the gallery.
function M.demo(args)
  local examples = {
    { "MaskInfo.from_segments({{1, 1, 2, 2, -1}})", mi.from_segments({ { 1, 1, 2, 2, -1 } }) },
    { "...:apply_causal()", mi.from_segments({ { 1, 1, 2, 2, -1 } }):apply_causal() },
    { "from_segments({{1,1,1,1,1,1}}):apply_sliding_window({3, 1})",
      mi.from_segments({ { 1, 1, 1, 1, 1, 1 } }):apply_sliding_window({ 3, 1 }) },
    { "from_attention_mask({{{1,1,0},{1,1,0},{0,0,1}}})",
      mi.from_attention_mask({ { { 1, 1, 0 }, { 1, 1, 0 }, { 0, 0, 1 } } }) },
    { "create_chunked_attention_mask(4, 8) via from_segments + apply_chunked(4)",
      mi.from_segments({ mi.util.fill(8, 0) }):apply_chunked(4) },
  }
  for _, e in ipairs(examples) do
    print("== " .. e[1])
    print(tostring(e[2]))
    io.write(e[2]:visualize{ block_size = 1 })
    print()
  end
  gallery(args.dir or "build/gallery", true, {})
  return CE.EXIT_OK
end

return M
