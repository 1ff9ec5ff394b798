-- T5, an encoder-decoder: the encoder attends bidirectionally, the
-- decoder causally to itself, and the decoder's cross-attention sees every
-- encoder token.  Three distinct attention layers of different shapes.
return {
  name = "t5",
  description = "T5 encoder (bidirectional), decoder (causal) and cross-attention (decoder to encoder)",
  source = "Raffel et al. 2020, T5 (arXiv:1910.10683), Section 3.1.2: pre-training inputs of 512 tokens, span-corruption targets of 114 tokens",
  params = {
    { name = "len", type = "integer", default = 512, min = 1, max = 1 << 31, doc = "encoder (input) tokens" },
    { name = "target_len", type = "integer", default = 114, min = 1, max = 1 << 31, doc = "decoder (target) tokens" },
  },
  small = { len = 20, target_len = 8 },
  build = function(mi, p)
    return {
      { name = ("encoder self-attention (%d x %d, bidirectional)"):format(p.len, p.len), mask = mi.full(p.len) },
      { name = ("decoder self-attention (%d x %d, causal)"):format(p.target_len, p.target_len), mask = mi.causal(p.target_len) },
      { name = ("decoder cross-attention (%d x %d)"):format(p.target_len, p.len), mask = mi.full(p.target_len, p.len) },
    }
  end,
  examples = {
    { layer = 1, fn = function() return true end },
    { layer = 2, fn = function(_, _, q, k) return k <= q end },
    { layer = 3, allowed = { { 0, 0, 0, 19 }, { 0, 0, 7, 0 } } },
    { layer = 3, fn = function() return true end },
  },
}
