-- Mistral 7B: causal attention to the last `window` tokens (the window
-- counts the query itself, as HF's sliding_window does).
return {
  name = "sliding_window",
  description = "Mistral 7B sliding window: causal, the last 4096 tokens (the query included)",
  source = "Mistral 7B config.json: sliding_window = 4096; context_len 8192 (Jiang et al. 2023, arXiv:2310.06825, Table 1)",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 4096, min = 1, doc = "window, counting the query itself (HF's sliding_window)" },
  },
  small = { len = 32, window = 8 },
  build = function(mi, p)
    return mi.causal(p.len):apply_sliding_window({ p.window - 1, 0 })
  end,
  examples = {
    { allowed = { { 0, 0, 20, 13 }, { 0, 0, 20, 20 } }, masked = { { 0, 0, 20, 12 }, { 0, 0, 20, 21 } } },
    { fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
    { params = { window = 1 }, fn = function(_, _, q, k) return q == k end },
  },
}
