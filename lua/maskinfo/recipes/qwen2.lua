-- Qwen2 with use_sliding_window: the first max_window_layers layers use
-- full causal attention, the layers after them a sliding window (HF:
-- layer i slides when i >= max_window_layers).
return {
  name = "qwen2",
  description = "Qwen2 (use_sliding_window): full layers 0-27, sliding-window layers 28-31 (4096)",
  source = "HF Qwen2Config defaults: num_hidden_layers = 32, max_window_layers = 28, sliding_window = 4096, max_position_embeddings = 32768 (use_sliding_window = true)",
  params = {
    { name = "len", type = "integer", default = 32768, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 4096, min = 1, doc = "sliding_window, counting the query" },
    { name = "layers", type = "integer", default = 32, min = 1, doc = "num_hidden_layers" },
    { name = "max_window_layers", type = "integer", default = 28, min = 0, doc = "layers below this index use full attention" },
  },
  small = { len = 32, window = 8 },
  build = function(mi, p)
    local causal = mi.causal(p.len)
    local full_n = math.min(p.max_window_layers, p.layers)
    local out = {}
    if full_n > 0 then out[#out + 1] = { name = ("layers 0-%d (full)"):format(full_n - 1), mask = causal } end
    if full_n < p.layers then
      out[#out + 1] = { name = ("layers %d-%d (sliding, window %d)"):format(full_n, p.layers - 1, p.window),
        mask = causal:apply_sliding_window({ p.window - 1, 0 }) }
    end
    return out
  end,
  examples = {
    { layer = 1, fn = function(_, _, q, k) return k <= q end },
    { layer = 2, fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
    { layer = 1, params = { max_window_layers = 0 }, fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
  },
}
