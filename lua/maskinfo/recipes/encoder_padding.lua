-- A padded batch through a BERT encoder: attention is bidirectional and
-- the padding mask applies to the keys only (HF's [B, 1, 1, K] mask), so a
-- padding query still attends to its row's real tokens.
local function ints(s)
  return require("maskinfo").int_list(s, { min = 0, what = "encoder_padding: lengths" })
end

return {
  name = "encoder_padding",
  description = "BERT encoder on a right-padded batch of 512 tokens: bidirectional, padding keys masked",
  source = "bert-base-uncased config.json: max_position_embeddings = 512 (Devlin et al. 2019, arXiv:1810.04805); HF BERT's extended attention mask masks keys only",
  params = {
    { name = "len", type = "integer", default = 512, min = 1, max = 1 << 31, doc = "padded length in tokens" },
    { name = "lengths", type = "string", default = "512,384,128", doc = "real tokens of each batch row, comma-separated" },
  },
  small = { len = 16, lengths = "16,11,4" },
  build = function(mi, p)
    local rows = {}
    for b, l in ipairs(ints(p.lengths)) do
      assert(l <= p.len, ("encoder_padding: row %d has %d tokens, more than len (%d)"):format(b - 1, l, p.len))
      rows[b] = { l }
    end
    local keys = mi.from_lengths(rows, { pad_to = p.len }):q_segment_ids()
    return mi.from_segments(mi.full(p.len, { batch = #rows }):q_segment_ids(), keys)
  end,
  examples = {
    { allowed = { { 0, 0, 0, 15 }, { 1, 0, 15, 10 }, { 2, 0, 3, 0 } }, masked = { { 1, 0, 0, 11 }, { 2, 0, 15, 4 } } },
    { fn = function(b, _, _, k, p) return k < ints(p.lengths)[b + 1] end },
  },
}
