-- Dilated sliding window (LongNet-style sparse pattern): every second key in a
-- causal window twice as wide.
return {
  description = "dilated causal window: every 2nd key within the last n/2",
  default_len = 64,
  build = function(mi, n)
    local w = math.max(2, n // 2)
    return mi.from_rows{ q_len = n, fn = function(_, _, q)
      local r = {}
      for k = q, math.max(0, q - w + 1), -2 do r[#r + 1] = k; r[#r + 1] = k + 1 end
      return r
    end }
  end,
}
