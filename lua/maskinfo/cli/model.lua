--- maskinfo model CONFIG.json --len N: the per-layer masks of a Hugging
-- Face config (maskinfo.hf), as a table of every layer and a picture of
-- the distinct ones.
-- @module maskinfo.cli.model

local mi = require("maskinfo")
local core = require("maskinfo.core")
local G = require("maskinfo.guard")
local CE = require("maskinfo.cli.errors")

local M = {}

--- Add the model subcommand's arguments to the argparse command c (opt is
-- the parser's option helper).
function M.add_command(c, opt)
  c:argument("config", "A model's config.json.")
  opt(c, "--len", "Sequence length in tokens (required).", "<n>")
  opt(c, "--left-pad", "Leading padding tokens (an attention_mask of zeros then ones).", "<n>")
  opt(c, "--documents", "Packed documents: their lengths, summing to --len (position_ids that restart).", "<l,l,...>")
  opt(c, "--block", "Block size of the block-sparsity column (default 128).", "<n>")
  opt(c, "--render", "Also render the distinct layers as one grid to this PNG.", "<out.png>")
  opt(c, "--scale", "Pixels per cell of the picture.", "<s>")
end

local function int_opt(args, key, name, min)
  local s = args[key]
  if s == nil then return nil end
  local v = math.tointeger(tonumber(s))
  if v == nil or v < min then CE.usage(("--%s must be an integer >= %d, got '%s'"):format(name, min, s), "model") end
  return v
end

-- The HF inputs of the command line: seq_len, attention_mask, position_ids.
local function inputs(args, len)
  local opts = { seq_len = len }
  local lp = int_opt(args, "left_pad", "left-pad", 0)
  if lp then
    if lp > len then CE.usage(("--left-pad %d is more than --len %d"):format(lp, len), "model") end
    local am = {}
    for i = 1, len do am[i] = i > lp and 1 or 0 end
    opts.attention_mask = { am }
  end
  if args.documents then
    local pos, total = {}, 0
    for x in (args.documents .. ","):gmatch("([^,]*),") do
      local n = math.tointeger(tonumber(x))
      if not n or n < 1 then CE.usage(("--documents: lengths must be positive integers, got '%s'"):format(x), "model") end
      for i = 0, n - 1 do pos[total + i + 1] = i end
      total = total + n
      if total > len then break end
    end
    if total ~= len then CE.usage(("--documents add up to %d, --len is %d"):format(total, len), "model") end
    opts.position_ids = { pos }
  end
  return opts
end

local function kind_str(l)
  local s = l.type:gsub("_attention$", "")
  if not l.causal then s = s .. " (bidir)" elseif l.bidirectional then s = s .. " (bidir)" end
  return s
end

local function param_str(l)
  if l.window then return "window " .. l.window end
  if l.chunk then return "chunk " .. l.chunk end
  return "-"
end

-- Allowed cells, density, share of causal FLOPs and block sparsity of m.
local function stats(m, block)
  local B, Q, K = m:shape()
  local total = m:count()
  local causal = B * (Q * (Q + 1) // 2)
  local t = m:flex_block_mask{ block_size = block }
  local nonempty = 0
  for _, key in ipairs({ "kv_num_blocks", "full_kv_num_blocks" }) do
    for _, v in ipairs(t[key]:flat()) do nonempty = nonempty + v end
  end
  local qb, kb = (Q + block - 1) // block, (K + block - 1) // block
  local blocks = B * qb * kb
  return { allowed = total, density = m:density(), flops = total / causal,
    sparsity = blocks > 0 and 1 - nonempty / blocks or 0 }
end

--- maskinfo model CONFIG --len N
function M.run(args)
  local len = int_opt(args, "len", "len", 1)
  if not len then CE.usage("--len N is required", "model") end
  local ok, err = core.check_alloc(len * 1.0, 4)
  if not ok then
    CE.runtime(("--len %d: its int32 ids alone need %s: %s (limit %s)"):format(len, G.human(len * 4.0), err,
      G.human(G.get_memory_limit())))
  end
  local block = int_opt(args, "block", "block", 1) or 128
  local f = io.open(args.config, "rb")
  if not f then CE.usage(("cannot read '%s'"):format(args.config), "model") end
  f:close()
  local opts = inputs(args, len)
  local masks, layers = mi.from_hf_config(args.config, opts)
  print(("config:  %s (%d layers)"):format(args.config, #layers))
  print(("tokens:  %d%s%s"):format(len, opts.attention_mask and (", left padding " .. args.left_pad) or "",
    opts.position_ids and (", documents " .. args.documents) or ""))
  print(("%-5s  %-17s  %-12s  %15s  %8s  %12s  %s"):format("layer", "kind", "window/chunk", "allowed cells",
    "density", "causal FLOPs", ("empty blocks (%d)"):format(block)))
  local cache, distinct = {}, {}
  for i, l in ipairs(layers) do
    local m = masks[i]
    if not cache[m] then
      cache[m] = stats(m, block)
      distinct[#distinct + 1] = { mask = m, layer = l, first = i - 1, n = 0 }
      cache[m].entry = distinct[#distinct]
    end
    local s = cache[m]
    s.entry.n = s.entry.n + 1
    print(("%-5d  %-17s  %-12s  %15d  %8.4f  %11.1f%%  %.4f"):format(i - 1, kind_str(l), param_str(l), s.allowed,
      s.density, 100 * s.flops, s.sparsity))
  end
  print(("%d distinct layer masks"):format(#distinct))
  if args.render then
    local list, titles = {}, {}
    for i, d in ipairs(distinct) do
      list[i] = d.mask
      titles[i] = ("%s %s (%d layers, first %d)"):format(kind_str(d.layer), param_str(d.layer), d.n, d.first)
    end
    local scale = args.scale and tonumber(args.scale)
    if args.scale and not (scale and scale > 0) then CE.usage("--scale must be a positive number", "model") end
    local w, h = CE.need(mi.render_png_grid(args.render, list, { titles = titles, columns = math.min(#list, 4),
      scale = scale }))
    print(("wrote %s (%dx%d)"):format(args.render, w, h))
  end
  return CE.EXIT_OK
end

return M
