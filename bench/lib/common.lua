--- Shared by the benches: wall-clock medians.
--   local B = dofile((arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/lib/common.lua")
local B = {}

-- the binding's monotonic clock (maskinfo.core is not in the public module)
B.now = require("maskinfo.core").now

--- Median over reps (default 5) runs of f, in ms of wall-clock time.  A full
-- GC runs before each run, and whatever f returns is closed (<close>) right
-- after the timed span, so every run starts from freed memory, as a first
-- call would.
function B.median_ms(f, reps, setup)
  local t = {}
  for i = 1, reps or 5 do
    local input = setup and setup() -- made before the clock starts
    collectgarbage("collect")
    local t0 = B.now()
    do
      local v = f(input)
      local _ <close> = type(v) == "userdata" and v or nil
      t[i] = (B.now() - t0) * 1000
    end
  end
  table.sort(t)
  return t[(#t + 1) // 2]
end

return B
