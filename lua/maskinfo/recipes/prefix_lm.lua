-- PaliGemma's prefix-LM: the image tokens and the prompt (the prefix)
-- attend to each other bidirectionally; the suffix (the answer) is causal
-- and sees the whole prefix.
return {
  name = "prefix_lm",
  description = "PaliGemma prefix-LM: bidirectional prefix (256 image tokens + prompt), causal suffix",
  source = "Beyer et al. 2024, PaliGemma (arXiv:2407.07726), Section 3.2: full attention on image + prefix, autoregressive suffix; 256 image tokens at 224 px",
  params = {
    { name = "len", type = "integer", default = 512, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "prefix", type = "integer", default = 320, min = 0, doc = "prefix tokens: 256 image tokens + the prompt" },
  },
  small = { len = 24, prefix = 10 },
  build = function(mi, p)
    assert(p.prefix <= p.len, ("prefix_lm: prefix (%d) is longer than len (%d)"):format(p.prefix, p.len))
    return mi.causal(p.len) | mi.from_lengths({ p.prefix }, { pad_to = p.len })
  end,
  examples = {
    { allowed = { { 0, 0, 2, 9 }, { 0, 0, 15, 3 }, { 0, 0, 15, 15 } }, masked = { { 0, 0, 2, 10 }, { 0, 0, 15, 16 } } },
    { fn = function(_, _, q, k, p) return k <= q or (q < p.prefix and k < p.prefix) end },
  },
}
