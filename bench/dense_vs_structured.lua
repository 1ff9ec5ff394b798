--- Bench: the same masks done structured and dense, in one run.
-- Prints medians of 5 runs and their ratios.  The dense jobs are the ones
-- the seed does for every mask (ANCHORS.md: 8k causal bool mask 170 ms in
-- NumPy, mask_to_segment_ids at 2k 785 ms).
local mi = require("maskinfo")
local median_ms = dofile((arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/lib/common.lua").median_ms

local function docs(n)
  return mi.util.documents(n, { 0.3, 0.3, 0.2, 0.2 })
end

print("dense_vs_structured (medians of 5, ms)")
for _, n in ipairs({ 4096, 8192 }) do
  local ids = docs(n)
  local m = mi.from_segments({ ids }):apply_causal():apply_sliding_window({ 1023, 0 })
  local s = median_ms(function() m:count() end)
  local d = median_ms(function() m:attention_mask() end)
  print(("  N=%5d docs+causal+window: count %8.2f   dense bool mask %8.2f   ratio %6.1fx"):format(n, s, d, d / s))
end

do
  local r = mi.from_random(1, 8192, 8192, 0.5, 7)
  local rc = mi.from_random(1, 8192, 8192, 0.5, 7):apply_causal()
  print(("  N= 8192 random (bit rows):   count %8.2f   random & causal count %8.2f"):format(
    median_ms(function() r:count() end), median_ms(function() rc:count() end)))
end

do
  local r = mi.from_random(1, 2048, 2048, 0.5, 3)
  print(("  N= 2048 segment ids of a random mask: %8.2f   (ANCHORS: seed in NumPy 785 ms)"):format(
    -- replace{} makes a fresh object (caches are per object), sharing the mask
    median_ms(function() r:replace {}:get_or_compute_segment_ids() end)))
end

do
  local n = 1048576
  local m = mi.from_segments({ docs(n) }):apply_causal():apply_sliding_window({ 4095, 0 })
  print(("  N=1048576 visualize block 16384: %8.2f   render_png 1024x1024 plain: %8.2f"):format(
    median_ms(function() m:visualize { block_size = 16384 } end),
    median_ms(function() m:render_png("/tmp/maskinfo-bench.png", { width = 1024, height = 1024, plain = true }) end)))
  os.remove("/tmp/maskinfo-bench.png")
end
