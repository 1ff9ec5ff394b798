-- Llama 4: chunked attention (chunks of 8192, causal inside a chunk) on
-- three layers out of four; every 4th layer is global causal attention
-- without RoPE (no_rope_layer_interval = 4).
return {
  name = "llama4",
  description = "Llama 4: chunked layers (8192) with every 4th layer global",
  source = "meta-llama/Llama-4-Scout-17B-16E config.json: attention_chunk_size = 8192; HF Llama4TextConfig no_rope_layer_interval = 4 (layers 3, 7, ... are global, NoPE)",
  params = {
    { name = "len", type = "integer", default = 32768, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "chunk", type = "integer", default = 8192, min = 1, doc = "attention_chunk_size" },
    { name = "interval", type = "integer", default = 4, min = 1, doc = "every interval-th layer is global" },
  },
  small = { len = 40, chunk = 12 },
  build = function(mi, p)
    local causal = mi.causal(p.len)
    local g = p.interval
    if g == 1 then return { { name = "every layer (global)", mask = causal } } end
    return {
      { name = ("layers 0-%d, %d-%d, ... (chunked, chunk %d)"):format(g - 2, g, 2 * g - 2, p.chunk), mask = causal:apply_chunked(p.chunk, { keep_positions = true }) },
      { name = ("layers %d, %d, ... (global, no RoPE)"):format(g - 1, 2 * g - 1), mask = causal },
    }
  end,
  examples = {
    { layer = 1, allowed = { { 0, 0, 13, 12 } }, masked = { { 0, 0, 12, 11 } } },
    { layer = 1, fn = function(_, _, q, k, p) return k <= q and q // p.chunk == k // p.chunk end },
    { layer = 2, fn = function(_, _, q, k) return k <= q end },
  },
}
