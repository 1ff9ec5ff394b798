--- maskinfo export: a recipe's mask written for another program.
-- @module maskinfo.cli.export

local CE = require("maskinfo.cli.errors")
local cmd = require("maskinfo.cli.commands")

local M = {}

--- Options of the export command that take no value (for the CLI's first pass).
M.FLAGS = {}

--- Declare the export command's arguments on the argparse command c.
function M.add_command(c, opt)
  c:argument("output", "OUT.npy or OUT.safetensors.")
  opt(c, "--layers", "The layer to write (1-based; needed when the recipe has several).", "<layer>")
  opt(c, "--dtype", "bool, int32, float32, float16 or bfloat16 (default bool).", "<dtype>")
end

--- maskinfo export RECIPE OUT.npy|OUT.safetensors
function M.run(args, r)
  local out = args.output
  local kind = out:match("%.npy$") and "npy" or out:match("%.safetensors$") and "safetensors"
  if not kind then CE.usage("export: the output must end in .npy or .safetensors", "export") end
  local layers = cmd.build(args, r)
  local li = 1
  if args.layers then
    local ls = cmd.selection(args, "layers", 1, #layers, nil, "layers")
    if #ls ~= 1 then CE.usage("export writes one layer: give one number to --layers", "export") end
    li = ls[1]
  elseif #layers > 1 then
    CE.usage(("recipe %s has %d layers: pick one with --layers N"):format(r.name, #layers), "export")
  end
  local m = layers[li].mask
  local opts = { dtype = args.dtype }
  if kind == "npy" then CE.need(m:save_npy(out, opts)) else CE.need(m:save_safetensors(out, opts)) end
  local B, Q, K = m:shape()
  print(("wrote %s (batch=%d q_len=%d kv_len=%d)"):format(out, B, Q, K))
  return CE.EXIT_OK
end

return M
