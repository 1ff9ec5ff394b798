--- Bench: the jobs the project's ANCHORS notes measured for peer tools, done by
-- maskinfo, so docs/performance.md can give ratios for the same job.
-- Prints the median of 5 runs of each (ms, wall clock).  Every result is
-- released (<close>) outside the timed span, and a full GC runs before each
-- run, so every run allocates fresh memory, as a first call would.
local mi = require("maskinfo")
local median_ms = dofile((arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/lib/common.lua").median_ms

print(("anchors (medians of 5, ms; OMP_NUM_THREADS=%s)"):format(os.getenv("OMP_NUM_THREADS") or "unset"))

do -- ANCHORS: the seed's algorithms in NumPy, 8k causal bool mask 170 ms, float32 bias 776 ms
  local m = mi.from_segments({ mi.util.fill(8192, 0) }):apply_causal()
  print(("  8192^2 causal: attention_mask() bool %8.1f   (ANCHORS, seed in NumPy: 170)"):format(
    median_ms(function() return m:attention_mask() end)))
  print(("  8192^2 causal: create_bias('float32') %7.1f   (ANCHORS, seed in NumPy: 776)"):format(
    median_ms(function() return m:create_bias("float32") end)))
end

do -- ANCHORS: mask_to_segment_ids at 2k, 785 ms (seed's pairwise algorithm in NumPy)
  local a <close> = mi.from_random(1, 2048, 2048, 0.5, 1):attention_mask():reshape({ 2048, 2048 })
  print(("  2048^2 random: mask_to_segment_ids(dense bool Array) %7.1f   (ANCHORS, seed in NumPy: 785)"):format(
    median_ms(function() return mi.mask_to_segment_ids(a) end)))
end

do -- ANCHORS: per-row interval prototype, full block-class matrix (8192^2 blocks) 52-63 ms
  local N, W = 1048576, 4096
  local m = mi.from_segments({ mi.util.documents(N, { 0.3, 0.3, 0.2, 0.2 }) })
      :apply_causal():apply_sliding_window({ W - 1, 0 })
  local nb = N // 128
  print(("  N=1048576 docs+causal+window 4096: block_counts{block_size=128} (%dx%d int64) %7.1f"
    .. "   (ANCHORS, interval prototype, block classes: 52-63)"):format(nb, nb,
    median_ms(function() return m:block_counts { block_size = 128 } end)))
  print(("  N=1048576 same mask: block_classes{block_size=128} (%dx%d uint8) %7.1f"
    .. "   (ANCHORS, interval prototype, block classes: 52-63)"):format(nb, nb,
    median_ms(function() return m:block_classes { block_size = 128 } end)))
  print(("  N=1048576 same mask: flex_block_mask{block_size=128} (8 int32 tables) %7.1f"):format(
    median_ms(function() m:flex_block_mask { block_size = 128 } end)))
  -- the same pass over every row with a small output: what the rows cost
  print(("  N=1048576 same mask: block_counts{block_size=1024} (1024x1024 int64) %7.1f"):format(
    median_ms(function() return m:block_counts { block_size = 1024 } end)))
end
