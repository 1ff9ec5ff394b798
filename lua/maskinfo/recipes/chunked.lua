-- Llama 4's local layers: causal attention inside fixed chunks of 8192
-- tokens (HF's chunked_attention layers; llama4.lua has the whole model).
return {
  name = "chunked",
  description = "Llama 4 chunked attention layer: causal within chunks of 8192 tokens",
  source = "Llama 4 Scout config.json: attention_chunk_size = 8192 (HF Llama4TextConfig)",
  params = {
    { name = "len", type = "integer", default = 32768, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "chunk", type = "integer", default = 8192, min = 1, doc = "chunk size (attention_chunk_size)" },
  },
  small = { len = 40, chunk = 16 },
  build = function(mi, p)
    -- RoPE positions stay the sequence's, not restarted per chunk
    return mi.causal(p.len):apply_chunked(p.chunk, { keep_positions = true })
  end,
  examples = {
    { allowed = { { 0, 0, 20, 16 }, { 0, 0, 15, 0 } }, masked = { { 0, 0, 16, 15 }, { 0, 0, 20, 21 } } },
    { fn = function(_, _, q, k, p) return k <= q and q // p.chunk == k // p.chunk end },
  },
}
