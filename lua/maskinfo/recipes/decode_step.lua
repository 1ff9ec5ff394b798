-- One decode step with a KV cache: the newest query sees a window of the cache.
return {
  description = "decode step: query at position n-1, sliding window n/4 over the KV cache",
  default_len = 64,
  build = function(mi, n)
    local w = math.max(1, n // 4)
    return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal()
      :apply_sliding_window({ w - 1, 0 }, { mode = "decode", index = n - 1 })
  end,
}
