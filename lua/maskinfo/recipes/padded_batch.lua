-- A left-padded batch for generation, as HF tokenizers pad decoder-only
-- models: causal attention to the row's real tokens; positions count from
-- the first real token (HF: cumsum(attention_mask) - 1, padding at 1).
-- Padding queries see nothing.
local function ints(s)
  return require("maskinfo").int_list(s, { min = 0, what = "padded_batch: lengths" })
end

return {
  name = "padded_batch",
  description = "left-padded batch for generation: causal, padding keys masked, positions from the first real token",
  source = "HF transformers generation with padding_side = 'left' (decoder-only models); Llama 2 context 4096 (Touvron et al. 2023, arXiv:2307.09288)",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, max = 1 << 24, doc = "padded length in tokens" },
    { name = "lengths", type = "string", default = "4096,3000,1200", doc = "real tokens of each batch row, comma-separated" },
  },
  small = { len = 16, lengths = "16,11,4" },
  build = function(mi, p)
    local q, kv, pos = {}, {}, {}
    for b, l in ipairs(ints(p.lengths)) do
      assert(l <= p.len, ("padded_batch: row %d has %d tokens, more than len (%d)"):format(b - 1, l, p.len))
      local pad = p.len - l
      q[b], kv[b], pos[b] = {}, {}, {}
      for t = 1, p.len do
        q[b][t], kv[b][t], pos[b][t] = 0, t > pad and 0 or -1, t > pad and t - 1 - pad or 1
      end
    end
    return mi.from_segments(q, kv, { q_positions = pos, kv_positions = pos }):apply_causal()
  end,
  examples = {
    { allowed = { { 0, 0, 15, 0 }, { 1, 0, 15, 5 }, { 2, 0, 12, 12 } }, masked = { { 1, 0, 15, 4 }, { 2, 0, 11, 11 }, { 2, 0, 12, 13 } } },
    { fn = function(b, _, q, k, p) return k <= q and k >= p.len - ints(p.lengths)[b + 1] end },
  },
}
