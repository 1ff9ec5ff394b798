-- gpt-oss: sliding-window layers with a window of 128 tokens alternate
-- with full causal layers, starting with a sliding one.  (Its learned
-- attention sinks are per-head logits, not a mask.)
return {
  name = "gpt_oss",
  description = "gpt-oss: sliding-window layers (128) alternating with full causal layers",
  source = "openai/gpt-oss-20b config.json: sliding_window = 128, layer_types alternate sliding_attention / full_attention, initial_context_length = 4096",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 128, min = 1, doc = "sliding_window, counting the query" },
  },
  small = { len = 24, window = 5 },
  build = function(mi, p)
    local causal = mi.causal(p.len)
    return {
      { name = ("layers 0, 2, 4, ... (sliding, window %d)"):format(p.window), mask = causal:apply_sliding_window({ p.window - 1, 0 }) },
      { name = "layers 1, 3, 5, ... (full)", mask = causal },
    }
  end,
  examples = {
    { layer = 1, fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
    { layer = 2, fn = function(_, _, q, k) return k <= q end },
  },
}
