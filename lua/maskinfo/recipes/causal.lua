-- Decoder-only language model (GPT, Llama): every token sees itself and the past.
return {
  description = "causal decoder (GPT, Llama): k <= q",
  default_len = 64,
  build = function(mi, n)
    return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal()
  end,
}
