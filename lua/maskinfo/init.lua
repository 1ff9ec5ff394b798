--- maskinfo: attention masks for transformers, compact at a million tokens.
--
-- The Lua face of the C core.  A MaskInfo is an immutable userdata: every
-- method that makes a MaskInfo returns a new one.  Its fields mirror the
-- seed's dataclass (ejkernel's MaskInfo): a stored attention mask (kept as a
-- compact `maskinfo.core` Mask, never expanded unless asked for), segment
-- ids, cu_seqlens, positions, the baked-in flags and the sharding axis names.
--
-- This file only assembles the public module.  The object model is in
-- maskinfo/object.lua; each concern's module defines its MaskInfo methods
-- through it and lists its module functions in its `api` table:
--
--   conversions   the seed's module functions (segment ids <-> masks ...)
--   constructors  from_segments, from_attention_mask, from_cu_seqlens, ...
--   getters       masks, ids, cu_seqlens, lengths, positions
--   properties    flags, predicates, biases, shape, replace, tostring
--   ops           apply_causal, apply_sliding_window, ...
--   algebra       & | - ~, minus, stack_heads
--   custom        from_function, from_rows
--   queries       allowed, count, density, empty_rows, diff, ...
--   sharding      get_shardings, get_empty_sharding
--   render        visualize
--   figure        render, render_png, render_svg, render_png_grid, render_grid,
--                 render_layers, render_diff
--   export        save_npy, save_safetensors, block_classes, flex_block_mask
--   guard, trace, arrays   the memory limit, debug tracing, Array
--
-- Coordinates are 0-based; returned tables are ordinary sequences.
-- @module maskinfo

local T = require("maskinfo.trace")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")

local M = {}

--- The package version; equals the core library's (maskinfo_version()).
M._VERSION = "0.2.0"

for _, name in ipairs({ "conversions", "constructors", "getters", "properties", "ops", "algebra", "custom",
  "queries", "sharding", "render", "figure", "export", "kernels", "npy", "builders", "hf" }) do
  local mod = require("maskinfo." .. name)
  for k, fn in pairs(mod.api or {}) do
    assert(M[k] == nil, "two modules export " .. k)
    M[k] = fn
  end
end

M.set_debug_mode, M.get_debug_mode = T.set_debug_mode, T.get_debug_mode
M.set_memory_limit, M.get_memory_limit = G.set_memory_limit, G.get_memory_limit
M.Array = R.Array
M.util = require("maskinfo.util")
M.recipes = require("maskinfo.recipes")
-- The C binding (require("maskinfo.core")) is not part of the module: its
-- functions check less than the public ones.
return M
