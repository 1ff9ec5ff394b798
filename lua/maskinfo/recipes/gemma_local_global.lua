-- Gemma 2: local (sliding window 4096) and global layers alternate,
-- starting with a local one (HF derives layer_types this way when a
-- config has none).  The two distinct layers are returned.
return {
  name = "gemma_local_global",
  description = "Gemma 2: sliding-window layers (4096) alternating with global causal layers",
  source = "google/gemma-2-9b config.json: sliding_window = 4096, max_position_embeddings = 8192, 42 layers; even layers slide (HF Gemma2Config layer_types)",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 4096, min = 1, doc = "sliding window of the local layers, counting the query" },
  },
  small = { len = 32, window = 8 },
  build = function(mi, p)
    local causal = mi.causal(p.len)
    return {
      { name = ("layers 0, 2, 4, ... (sliding, window %d)"):format(p.window), mask = causal:apply_sliding_window({ p.window - 1, 0 }) },
      { name = "layers 1, 3, 5, ... (global)", mask = causal },
    }
  end,
  examples = {
    { layer = 1, allowed = { { 0, 0, 20, 13 } }, masked = { { 0, 0, 20, 12 }, { 0, 0, 20, 21 } } },
    { layer = 1, fn = function(_, _, q, k, p) return k <= q and q - k < p.window end },
    { layer = 2, allowed = { { 0, 0, 20, 0 } }, masked = { { 0, 0, 20, 21 } } },
    { layer = 2, fn = function(_, _, q, k) return k <= q end },
  },
}
