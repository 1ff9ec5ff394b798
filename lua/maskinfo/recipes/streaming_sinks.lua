-- StreamingLLM: a few attention-sink tokens stay visible, plus a causal window.
return {
  description = "StreamingLLM: 4 sink tokens + causal window of n/4",
  default_len = 64,
  build = function(mi, n)
    local w, sinks = math.max(1, n // 4), math.min(4, n)
    return mi.from_rows{ q_len = n, fn = function(_, _, q)
      local lo = math.max(0, q - w + 1)
      if lo <= sinks then return { 0, q + 1 } end
      return { 0, sinks, lo, q + 1 }
    end }
  end,
}
