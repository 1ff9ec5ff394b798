--- Bench: renderers on a 1,048,576-token documents + causal + sliding-window
-- (4096) mask: render_png at 1024^2 with the default options (segment ids
-- labelled), without segments, plain, and plain at 4096^2; visualize with
-- 16384-token blocks.  Prints the median of 5 runs of each (ms, wall clock)
-- and the process's peak resident memory.  The mask is never expanded: the
-- renderers read block counts from the compact form.
local mi = require("maskinfo")
local median_ms = dofile((arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/lib/common.lua").median_ms

local N, W = 1048576, 4096
local m = mi.from_segments({ mi.util.documents(N, { 0.3, 0.3, 0.2, 0.2 }) })
    :apply_causal():apply_sliding_window({ W - 1, 0 })
local path = os.tmpname()

print(("render_1m (N=%d, 4 documents, window %d; medians of 5, ms; OMP_NUM_THREADS=%s)"):format(
  N, W, os.getenv("OMP_NUM_THREADS") or "unset"))
local jobs = {
  { "render_png 1024x1024, default options (segment ids labelled)", { width = 1024, height = 1024 } },
  { "render_png 1024x1024, show_segments = false", { width = 1024, height = 1024, show_segments = false } },
  { "render_png 1024x1024, plain = true", { width = 1024, height = 1024, plain = true } },
  { "render_png 4096x4096, plain = true", { width = 4096, height = 4096, plain = true } },
}
for _, j in ipairs(jobs) do
  print(("  %-62s %8.1f"):format(j[1], median_ms(function() m:render_png(path, j[2]) end)))
end
os.remove(path)
print(("  %-62s %8.1f"):format("visualize{block_size = 16384} (segment ids labelled)",
  median_ms(function() return m:visualize { block_size = 16384 } end)))

local rss
for line in io.lines("/proc/self/status") do
  rss = rss or line:match("^VmHWM:%s*(%d+)")
end
print(("  peak RSS of this process %.1f MB"):format(tonumber(rss) / 1024))
