-- Llama 4 local layers: causal attention inside fixed chunks (8192 at full scale).
return {
  description = "Llama 4 chunked attention: causal within chunks of n/4",
  default_len = 64,
  build = function(mi, n)
    return mi.from_segments({ mi.util.fill(n, 0) }):apply_chunked(math.max(1, n // 4))
  end,
}
