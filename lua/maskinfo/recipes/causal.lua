-- A decoder-only language model: every token sees itself and the past.
return {
  name = "causal",
  description = "causal decoder (GPT, Llama): query q sees keys k <= q",
  source = "Llama 3 8B config.json: max_position_embeddings = 8192 (Grattafiori et al. 2024, arXiv:2407.21783)",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
  },
  small = { len = 16 },
  build = function(mi, p)
    return mi.causal(p.len)
  end,
  examples = {
    { allowed = { { 0, 0, 5, 0 }, { 0, 0, 5, 5 }, { 0, 0, 15, 15 } }, masked = { { 0, 0, 5, 6 }, { 0, 0, 0, 15 } } },
    { params = { len = 9 }, fn = function(_, _, q, k) return k <= q end },
  },
}
