--- Bench: a 1,048,576-token documents + causal + sliding-window chain.
-- Builds the chain, counts it (checked against the closed form) and renders
-- it to a 1024x1024 PNG; prints the median of 5 runs of each step and the
-- peak resident memory.  Wall-clock time comes from the core's monotonic
-- clock (os.clock() is CPU time, summed over OpenMP threads).
local mi = require("maskinfo")

local wall = require("maskinfo.core").now

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local N, W = 1048576, 4096
local lens, ids, pos, d = {}, {}, 0, 0
while pos < N do
  local L = math.min(N - pos, 65536 + (d * 7919) % 65536)
  for i = 1, L do ids[pos + i] = d end
  lens[#lens + 1], pos, d = L, pos + L, d + 1
end
local expect = 0
for _, L in ipairs(lens) do
  expect = expect + (L <= W and L * (L + 1) // 2 or W * (W + 1) // 2 + (L - W) * W)
end

local t_build, t_count, t_png = {}, {}, {}
local path = os.tmpname()
for _ = 1, 5 do
  local t0 = wall()
  local m = mi.from_segments({ ids }):apply_causal():apply_sliding_window({ W - 1, 0 })
  local t1 = wall()
  local n = m:count()
  local t2 = wall()
  assert(n == expect, ("count %d, closed form %d"):format(n, expect))
  m:render_png(path, { width = 1024, height = 1024, plain = true })
  local t3 = wall()
  t_build[#t_build + 1], t_count[#t_count + 1], t_png[#t_png + 1] = t1 - t0, t2 - t1, t3 - t2
end
os.remove(path)
local rss
for line in io.lines("/proc/self/status") do
  rss = rss or line:match("^VmHWM:%s*(%d+)")
end
print(("chain_1m: N=%d docs=%d window=%d allowed=%d"):format(N, #lens, W, expect))
print(("  build chain     median %7.1f ms (from_segments + apply_causal + apply_sliding_window)"):format(median(t_build) * 1000))
print(("  count           median %7.1f ms"):format(median(t_count) * 1000))
print(("  build + count   median %7.1f ms  (target < 1000 ms)"):format((median(t_build) + median(t_count)) * 1000))
print(("  render 1024^2   median %7.1f ms"):format(median(t_png) * 1000))
print(("  peak RSS        %7.1f MB  (target < 300 MB; a dense bool mask would need %.0f GiB)"):format(
  tonumber(rss) / 1024, N * 1.0 * N / 2 ^ 30))
