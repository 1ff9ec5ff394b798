--- maskinfo render, gallery and demo: recipes' layers and heads drawn to pictures.
-- @module maskinfo.cli.render

local mi = require("maskinfo")
local CE = require("maskinfo.cli.errors")
local R = require("maskinfo.recipes")
local cmd = require("maskinfo.cli.commands")

local M = {}

--- Options of the render command that take no value (for the CLI's first pass).
M.FLAGS = { ["--plain"] = true }

--- Declare the render command's arguments on the argparse command c.
-- opt(c, spec, desc, argname) and flag(c, spec, desc) record the names taken.
function M.add_command(c, opt, flag)
  c:argument("output", "The PNG file to write.")
  opt(c, "--batch", "Batch row to show (default 0).", "<b>")
  opt(c, "--heads", "Heads to show: a number, a list (0,2) or all (default 0).", "<heads>")
  opt(c, "--layers", "Layers to show: a number (1-based), a list (1,3) or all (default 1).", "<layers>")
  opt(c, "--title", "Title of the picture (default: recipe: description).", "<text>")
  opt(c, "--scale", "Pixels per cell (default: fit 512 pixels).", "<s>")
  opt(c, "--width", "Width of the mask area in pixels.", "<w>")
  opt(c, "--height", "Height of the mask area in pixels.", "<h>")
  opt(c, "--colormap", "grey, viridis or magma.", "<name>"):choices({ "grey", "viridis", "magma" })
  opt(c, "--columns", "Panels per row when several are rendered (default 4).", "<n>")
  flag(c, "--plain", "No title, axes or legend.")
end

local function png_opts(args)
  return { colormap = args.colormap, plain = args.plain or nil, scale = cmd.num_opt(args, "scale"),
    width = cmd.int_opt(args, "width", 1), height = cmd.int_opt(args, "height", 1) }
end

-- Render panels {mask=, head=, title=} to path: one picture, or a grid.
local function render_panels(path, list, opts, columns)
  if #list == 1 then
    opts.head, opts.title = list[1].head, opts.title or list[1].title
    return CE.need(list[1].mask:render_png(path, opts))
  end
  local masks, titles, heads, batches = {}, {}, {}, {}
  for i, pn in ipairs(list) do
    masks[i], titles[i], heads[i], batches[i] = pn.mask, pn.title, pn.head, opts.batch or 0
  end
  local g = { titles = titles, heads = heads, batches = batches, columns = math.min(columns or 4, #list) }
  for _, k in ipairs({ "colormap", "plain", "scale", "width", "height" }) do g[k] = opts[k] end
  return CE.need(mi.render_png_grid(path, masks, g))
end

--- maskinfo render RECIPE OUT.png
function M.run(args, r)
  local layers = cmd.build(args, r)
  local ps, note = cmd.panels(args, layers, false)
  local opts = png_opts(args)
  opts.batch = cmd.int_opt(args, "batch", 0)
  local list = {}
  for i, pn in ipairs(ps) do
    local l = layers[pn.layer]
    local title
    if #ps == 1 then
      title = args.title or (r.name .. ": " .. r.description)
    else
      title = (args.title and (args.title .. ": ") or "") .. ("%s, head %d"):format(l.name, pn.head)
    end
    list[i] = { mask = l.mask, head = pn.head, title = title }
  end
  local w, h = render_panels(args.output, list, opts, cmd.int_opt(args, "columns", 1))
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
      for h = 0, cmd.heads_of(l.mask) - 1 do
        list[#list + 1] = { mask = l.mask, head = h,
          title = #layers == 1 and cmd.heads_of(l.mask) == 1 and n or ("%s: %s, head %d"):format(n, l.name, h) }
      end
    end
    local path = dir .. "/" .. n .. ".png"
    local w, h = render_panels(path, list, { colormap = opts.colormap, scale = opts.scale }, 4)
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
