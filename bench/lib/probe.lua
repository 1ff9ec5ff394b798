--- Child process of bench/targets.lua: jobs whose answer is a property of a
-- whole process (peak RSS) or of its OpenMP team size (OMP_NUM_THREADS is
-- read when libgomp loads).  Prints "key value" lines.
--   lua5.4 bench/lib/probe.lua omp N REPS     count() times (ms): p50, p90
--   lua5.4 bench/lib/probe.lua biases         40 unclosed f32 biases at 4096^2
--   lua5.4 bench/lib/probe.lua pipeline       the 1M-token pipeline, 5 runs
local mi = require("maskinfo")

local now = require("maskinfo.core").now

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

local function docs(n)
  return mi.util.documents(n, { 0.3, 0.3, 0.2, 0.2 })
end

local mode = arg[1]
if mode == "omp" then
  local n, reps = tonumber(arg[2]), tonumber(arg[3])
  local ids = docs(n)
  local chain = mi.from_segments({ ids }):apply_causal():apply_sliding_window({ n // 8 - 1, 0 })
  -- an `or` has no closed form: every row is evaluated (the parallel path)
  local rows = chain | mi.from_segments({ ids }):apply_chunked(n // 16)
  -- a fixed order, and a few untimed calls first, so that neither kind is
  -- timed on caches the other one left cold
  for _, job in ipairs({ { "closed", chain }, { "rows", rows } }) do
    local name, m = job[1], job[2]
    for _ = 1, 5 do m:count() end
    local t = {}
    for i = 1, reps do
      local t0 = now()
      m:count()
      t[i] = (now() - t0) * 1000
    end
    table.sort(t)
    print(("%s %.4f %.4f"):format(name, t[(reps + 1) // 2], t[math.ceil(reps * 0.9)]))
  end
elseif mode == "biases" then
  local m = mi.from_segments({ mi.util.fill(4096, 0) }):apply_causal()
  local t0 = now()
  for _ = 1, 40 do
    local b = m:create_bias("float32") -- not closed: left to the collector
    assert(b)
  end
  print(("time %.1f"):format((now() - t0) * 1000))
  print(("rss %.1f"):format(peak_rss_mb()))
elseif mode == "pipeline" then
  local N, path, t = 1048576, os.tmpname(), {}
  for i = 1, 5 do
    local t0 = now()
    local m = mi.from_segments({ docs(N) }):apply_causal():apply_sliding_window({ 4095, 0 })
    m:get_or_compute_qkv_cu_seqlens()
    m:get_or_compute_positions()
    m:visualize { block_size = 16384 }
    m:render_png(path, { width = 1024, height = 1024 })
    t[i] = (now() - t0) * 1000
  end
  os.remove(path)
  table.sort(t)
  print(("time %.1f"):format(t[3]))
  print(("rss %.1f"):format(peak_rss_mb()))
else
  error("probe: unknown mode " .. tostring(mode))
end
