#!/usr/bin/env lua5.4
--- maskinfo: list, show, inspect and render attention-mask recipes.
--
--   maskinfo                       the demo: the seed's example masks as text,
--                                  and every recipe rendered to build/gallery/
--   maskinfo list                  recipes with a line each
--   maskinfo show NAME [opts]      the seed's text view of a recipe
--   maskinfo info NAME [opts]      shape, counts, density, memory
--   maskinfo render NAME OUT.png [opts]
--   maskinfo export NAME OUT.npy|OUT.safetensors [--dtype D]
--                                  the dense mask (.npy), or the mask, ids,
--                                  positions and cu_seqlens (.safetensors)
--   maskinfo gallery DIR [opts]    every recipe to DIR/NAME.png and DIR/grid.png
--
-- Options: --len N (tokens), --block N, --ascii, --batch B, --head H,
-- --scale S, --width W, --height H, --colormap grey|viridis|magma, --plain.

local mi = require("maskinfo")

local recipes = require("maskinfo.recipes")

local function die(msg)
  io.stderr:write("maskinfo: ", msg, "\n")
  os.exit(2)
end

local function recipe_names()
  return recipes.names
end

local function load_recipe(name)
  local r, err = recipes.get(name)
  if not r then die(err) end
  return r
end

local function parse_opts(argv, first)
  local o, rest = {}, {}
  local i = first
  while i <= #argv do
    local a = argv[i]
    local key = a:match("^%-%-([%w_]+)$")
    if key == "ascii" or key == "plain" then
      o[key] = true
    elseif key then
      local v = argv[i + 1]
      if v == nil then die("--" .. key .. " needs a value") end
      o[key] = tonumber(v) or v
      i = i + 1
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return o, rest
end

local function build(name, o)
  local r = load_recipe(name)
  local n = o.len or r.default_len or 64
  if math.type(n) ~= "integer" or n < 1 then die("--len must be a positive integer") end
  return r.build(mi, n), r
end

-- The writers return nil, message, status on a refusal or a file failure.
local function written(ok, msg, ...)
  if ok == nil then die(msg) end
  return ok, msg, ...
end

local function png_opts(o, title)
  local t = { batch = o.batch, head = o.head, colormap = o.colormap, plain = o.plain, title = title }
  if o.scale then t.scale = o.scale end
  if o.width then t.width = o.width end
  if o.height then t.height = o.height end
  return t
end

local commands = {}

function commands.list()
  for _, n in ipairs(recipe_names()) do
    local r = load_recipe(n)
    print(("%-20s %s"):format(n, r.description or ""))
  end
end

function commands.show(argv)
  local o, rest = parse_opts(argv, 2)
  local m = build(rest[1], o)
  io.write(m:visualize{ block_size = o.block or 1, batch = o.batch, head = o.head,
    charset = o.ascii and "ascii" or "unicode" })
end

function commands.info(argv)
  local o, rest = parse_opts(argv, 2)
  local m, r = build(rest[1], o)
  local B, Q, K = m:shape()
  local total, per = m:count()
  local nempty = m:empty_rows()
  print(tostring(m))
  print(("recipe:      %s"):format(r.description or rest[1]))
  print(("shape:       batch=%d q_len=%d kv_len=%d heads=%d"):format(B, Q, K, per:shape()[2]))
  print(("allowed:     %d cells (density %.4f)"):format(total, m:density()))
  print(("empty rows:  %d"):format(nempty))
  local baked = {}
  for k, v in pairs(m:baked_in_masks()) do if v then baked[#baked + 1] = k end end
  table.sort(baked)
  print(("baked in:    %s"):format(#baked > 0 and table.concat(baked, ", ") or "-"))
end

function commands.render(argv)
  local o, rest = parse_opts(argv, 2)
  if not rest[2] then die("usage: maskinfo render NAME OUT.png [options]") end
  local m, r = build(rest[1], o)
  local w, h = written(m:render_png(rest[2], png_opts(o, rest[1] .. ": " .. (r.description or ""))))
  print(("wrote %s (%dx%d)"):format(rest[2], w, h))
end

function commands.export(argv)
  local o, rest = parse_opts(argv, 2)
  local out = rest[2]
  if not out then die("usage: maskinfo export NAME OUT.npy|OUT.safetensors [options]") end
  local m = build(rest[1], o)
  if out:match("%.npy$") then
    written(m:save_npy(out, { dtype = o.dtype }))
  elseif out:match("%.safetensors$") then
    written(m:save_safetensors(out, { dtype = o.dtype }))
  else
    die("export: the output must end in .npy or .safetensors")
  end
  local B, Q, K = m:shape()
  print(("wrote %s (batch=%d q_len=%d kv_len=%d)"):format(out, B, Q, K))
end

local function gallery(dir, o)
  -- single-quote the directory for the shell (a quote inside becomes '\'')
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  local masks, titles = {}, {}
  for _, n in ipairs(recipe_names()) do
    local m = build(n, o)
    local path = dir .. "/" .. n .. ".png"
    local w, h = written(m:render_png(path, png_opts(o, n)))
    print(("wrote %s (%dx%d)"):format(path, w, h))
    masks[#masks + 1], titles[#titles + 1] = m, n
  end
  local path = dir .. "/grid.png"
  local w, h = written(mi.render_png_grid(path, masks, { titles = titles, columns = 5, scale = o.scale or 3,
    colormap = o.colormap }))
  print(("wrote %s (%dx%d)"):format(path, w, h))
end

function commands.gallery(argv)
  local o, rest = parse_opts(argv, 2)
  gallery(rest[1] or "build/gallery", o)
end

-- The seed's docstring examples, shown the way its visualize prints them.
function commands.demo()
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
  gallery("build/gallery", {})
end

local cmd = arg[1] or "demo"
if not commands[cmd] then
  die(("unknown command '%s' (expected list, show, info, render, export, gallery or demo)"):format(cmd))
end
local ok, err = pcall(commands[cmd], arg)
if not ok then die(tostring(err)) end
