-- Gemma 3: five local layers (sliding window 1024) for each global layer
-- (sliding_window_pattern = 6: layer i is global when (i + 1) % 6 == 0).
return {
  name = "gemma3",
  description = "Gemma 3: 5 sliding-window layers (1024) per global causal layer",
  source = "google/gemma-3-4b-it config.json (text_config): sliding_window = 1024, sliding_window_pattern = 6 (Gemma Team 2025, arXiv:2503.19786)",
  params = {
    { name = "len", type = "integer", default = 32768, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 1024, min = 1, doc = "sliding window of the local layers, counting the query" },
    { name = "pattern", type = "integer", default = 6, min = 1, doc = "sliding_window_pattern: every pattern-th layer is global" },
  },
  small = { len = 40, window = 6 },
  build = function(mi, p)
    local causal = mi.causal(p.len)
    local g = p.pattern
    if g == 1 then return { { name = "every layer (global)", mask = causal } } end
    return {
      { name = ("layers 0-%d, %d-%d, ... (sliding, window %d)"):format(g - 2, g, 2 * g - 2, p.window),
        mask = causal:apply_sliding_window({ p.window - 1, 0 }) },
      { name = ("layers %d, %d, ... (global)"):format(g - 1, 2 * g - 1), mask = causal },
    }
  end,
  examples = {
    { layer = 1, fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
    { layer = 1, allowed = { { 0, 0, 30, 25 } }, masked = { { 0, 0, 30, 24 } } },
    { layer = 2, fn = function(_, _, q, k) return k <= q end },
  },
}
