-- Mistral 7B: causal attention limited to the last W tokens (W = 4096 at full scale).
return {
  description = "Mistral-style sliding window: causal, last n/4 tokens",
  default_len = 64,
  build = function(mi, n)
    return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal():apply_sliding_window({ math.max(1, n // 4) - 1, 0 })
  end,
}
