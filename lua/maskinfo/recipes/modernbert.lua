-- ModernBERT: a bidirectional encoder whose layers alternate global
-- attention (every 3rd layer, starting with layer 0) with local attention
-- in a window of 128 tokens (64 on each side).
return {
  name = "modernbert",
  description = "ModernBERT: global layer every 3rd, local layers with a window of 128 (64 each side), bidirectional",
  source = "answerdotai/ModernBERT-base config.json: global_attn_every_n_layers = 3, local_attention = 128, max_position_embeddings = 8192 (Warner et al. 2024, arXiv:2412.13663)",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 128, min = 0, doc = "local_attention: |q - k| <= window / 2" },
    { name = "every", type = "integer", default = 3, min = 1, doc = "global_attn_every_n_layers" },
  },
  small = { len = 32, window = 8 },
  build = function(mi, p)
    local full = mi.full(p.len)
    if p.every == 1 then return { { name = "every layer (global)", mask = full } } end
    return {
      { name = ("layers 0, %d, %d, ... (global)"):format(p.every, 2 * p.every), mask = full },
      { name = ("other layers (local, window %d)"):format(p.window), mask = full:apply_sliding_window(p.window // 2) },
    }
  end,
  examples = {
    { layer = 1, fn = function() return true end },
    { layer = 2, fn = function(_, _, q, k, p) return math.abs(q - k) <= p.window // 2 end },
    { layer = 2, allowed = { { 0, 0, 10, 14 }, { 0, 0, 10, 6 } }, masked = { { 0, 0, 10, 15 }, { 0, 0, 10, 5 } } },
  },
}
