--- The recipe subcommands of the maskinfo command: list, show, info,
-- check and new (render, gallery, demo and export have modules of their
-- own), and the argument helpers they share.  Each command takes the parsed
-- arguments (and the loaded recipe, for the recipe commands) and returns
-- the exit code; failures raise through maskinfo.cli.errors.
-- @module maskinfo.cli.commands

local R = require("maskinfo.recipes")
local CE = require("maskinfo.cli.errors")

local M = {}

---------------------------------------------------------------- arguments

--- The option as typed: argparse's target font_scale is --font-scale.
function M.flag_name(name)
  return (name:gsub("_", "-"))
end

--- The integer option --name (nil when absent), >= min.
function M.int_opt(args, name, min)
  local s = args[name]
  if s == nil then return nil end
  local v = math.tointeger(tonumber(s))
  if v == nil or v < (min or 0) then
    CE.usage(("--%s must be an integer >= %d, got '%s'"):format(M.flag_name(name), min or 0, s), args.command)
  end
  return v
end

--- The positive number option --name (nil when absent).
function M.num_opt(args, name)
  local s = args[name]
  if s == nil then return nil end
  local v = tonumber(s)
  if v == nil or v <= 0 then CE.usage(("--%s must be a positive number, got '%s'"):format(M.flag_name(name), s), args.command) end
  return v
end

-- The recipe's params from --set NAME=VALUE and the declared --NAME options.
local function params_of(args, r)
  local over = {}
  for _, spec in ipairs(r.params) do
    local v = args["param_" .. spec.name]
    if v ~= nil then over[spec.name] = v end
  end
  for _, s in ipairs(args.set or {}) do
    local k, v = s:match("^([%w_]+)=(.*)$")
    if not k then CE.usage(("--set expects NAME=VALUE, got '%s'"):format(s), args.command) end
    over[k] = v
  end
  local p, err = R.params(r, over)
  if not p then CE.usage(err, args.command) end
  return p
end

--- Layers of recipe r at the command line's params.
function M.build(args, r)
  local p = params_of(args, r)
  return CE.need(R.build(r, p)), p
end

--- A selection "all", "N" or "N,M,..." of numbers in [lo, hi] (dflt when absent).
function M.selection(args, name, lo, hi, dflt, what)
  local s = args[name]
  if s == nil then return dflt end
  local t = {}
  if s == "all" then
    for i = lo, hi do t[#t + 1] = i end
    return t
  end
  for x in (s .. ","):gmatch("([^,]*),") do
    local v = math.tointeger(tonumber(x))
    if v == nil or v < lo or v > hi then
      CE.usage(("--%s %s: %s must be all or numbers in %d..%d"):format(M.flag_name(name), s, what, lo, hi), args.command)
    end
    t[#t + 1] = v
  end
  return t
end

--- The number of heads of mask m.
function M.heads_of(m)
  return select(2, m:count()):shape()[2]
end

--- The (layer, head) panels the command line selects, and a note when some
-- are left out (nil when none are).
function M.panels(args, layers, default_all_layers)
  local all = {}
  for i = 1, #layers do all[i] = i end
  local ls = M.selection(args, "layers", 1, #layers, default_all_layers and all or { 1 }, "layers")
  local out, hidden = {}, {}
  for _, li in ipairs(ls) do
    local H = M.heads_of(layers[li].mask)
    for _, h in ipairs(M.selection(args, "heads", 0, H - 1, { 0 }, ("heads (layer %d has %d)"):format(li, H))) do
      out[#out + 1] = { layer = li, head = h }
    end
    if args.heads == nil and H > 1 then hidden[#hidden + 1] = ("head 0 of %d"):format(H) end
  end
  if args.layers == nil and #ls < #layers then table.insert(hidden, 1, ("layer 1 of %d"):format(#layers)) end
  local note
  if #hidden > 0 then
    note = ("note: %s shown; --layers all and --heads all show every one"):format(table.concat(hidden, ", "))
  end
  return out, note
end

local function param_line(r, p)
  local t = {}
  for i, spec in ipairs(r.params) do t[i] = spec.name .. "=" .. tostring(p[spec.name]) end
  return table.concat(t, " ")
end

---------------------------------------------------------------- list

--- maskinfo list
function M.list()
  for _, n in ipairs(R.list()) do
    local r = CE.need(R.load(n))
    print(("%-20s %s"):format(n, r.description))
  end
  return CE.EXIT_OK
end

---------------------------------------------------------------- show, info

--- maskinfo show RECIPE
function M.show(args, r)
  local layers = M.build(args, r)
  local ps, note = M.panels(args, layers, false)
  local block = M.int_opt(args, "block", 1) or 1
  local batch = M.int_opt(args, "batch", 0) or 0
  for _, pn in ipairs(ps) do
    local l = layers[pn.layer]
    if #ps > 1 then print(("== layer %d (%s), head %d"):format(pn.layer, l.name, pn.head)) end
    io.write(l.mask:visualize{ block_size = block, batch = batch, head = pn.head,
      charset = args.ascii and "ascii" or "unicode" })
  end
  if note then print(note) end
  return CE.EXIT_OK
end

--- maskinfo info RECIPE
function M.info(args, r)
  local layers, p = M.build(args, r)
  local ls = M.selection(args, "layers", 1, #layers, nil, "layers")
  if not ls then
    ls = {}
    for i = 1, #layers do ls[i] = i end
  end
  print(("recipe:      %s: %s"):format(r.name, r.description))
  print(("source:      %s"):format(r.source))
  print(("params:      %s"):format(param_line(r, p)))
  for _, li in ipairs(ls) do
    local m = layers[li].mask
    local B, Q, K = m:shape()
    local total = m:count()
    local baked = {}
    for k, v in pairs(m:baked_in_masks()) do if v then baked[#baked + 1] = k end end
    table.sort(baked)
    print(("layer:       %d of %d (%s)"):format(li, #layers, layers[li].name))
    print(("mask:        %s"):format(tostring(m)))
    print(("shape:       batch=%d q_len=%d kv_len=%d heads=%d"):format(B, Q, K, M.heads_of(m)))
    print(("allowed:     %d cells (density %.4f)"):format(total, m:density()))
    print(("empty rows:  %d"):format((m:empty_rows())))
    print(("baked in:    %s"):format(#baked > 0 and table.concat(baked, ", ") or "-"))
  end
  return CE.EXIT_OK
end

---------------------------------------------------------------- check, new

--- maskinfo check RECIPE
function M.check(args)
  local r, err, status = R.load(args.recipe)
  if not r then
    if status == "EIO" then CE.usage(err, "check") end
    CE.runtime(err)
  end
  local ok, report = R.check(r)
  for _, l in ipairs(report) do print(l) end
  local failed = 0
  for _, l in ipairs(report) do
    if l:match("^FAIL") then failed = failed + 1 end
  end
  if ok then
    print(("recipe %s: all %d checks passed"):format(r.name, #report))
    return CE.EXIT_OK
  end
  CE.runtime(("recipe %s: %d of %d checks failed"):format(r.name, failed, #report))
end

--- maskinfo new NAME
function M.new(args)
  local name = args.name
  if not name:match("^[%a_][%w_]*$") then
    CE.usage(("recipe name '%s': letters, digits and _, not starting with a digit"):format(name), "new")
  end
  local path = args.output or (name .. ".lua")
  local base = path:match("([^/]*)%.lua$")
  if base ~= name then
    CE.usage(("the file must be called %s.lua (a recipe's name is its file name), got %s"):format(name, path), "new")
  end
  local f = io.open(path, "rb")
  if f then
    f:close()
    if not args.force then CE.runtime(("%s exists (--force overwrites it)"):format(path)) end
  end
  -- temp file + rename: never a half-written recipe
  local tmp = path .. ".tmp"
  local out, err = io.open(tmp, "wb")
  if not out then CE.runtime(("cannot write '%s': %s"):format(path, err)) end
  local ok, werr = out:write(R.skeleton(name))
  local closed, cerr = out:close()
  if not (ok and closed) then
    os.remove(tmp)
    CE.runtime(("cannot write '%s': %s"):format(path, tostring(werr or cerr)))
  end
  local moved, merr = os.rename(tmp, path)
  if not moved then
    os.remove(tmp)
    CE.runtime(("cannot write '%s': %s"):format(path, merr))
  end
  print(("wrote %s; check it with: maskinfo check %s"):format(path, path))
  return CE.EXIT_OK
end


return M
