-- Document masking for pre-training: documents packed into one sequence,
-- each attending causally to itself only.
local function ints(s)
  return require("maskinfo").int_list(s, { min = 0, what = "packed_documents: lengths" })
end

return {
  name = "packed_documents",
  description = "packed documents: causal attention within each document of an 8192-token sequence",
  source = "Llama 3 (Grattafiori et al. 2024, arXiv:2407.21783), Section 3.2: sequences of 8192 tokens with a mask that stops attention between documents",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "sequence length in tokens (the rest after the documents is padding)" },
    { name = "lengths", type = "string", default = "2048,1024,3072,512,1536", doc = "document lengths, comma-separated" },
  },
  small = { len = 64, lengths = "20,12,24,6" },
  build = function(mi, p)
    return mi.from_lengths(ints(p.lengths), { pad_to = p.len }):apply_causal()
  end,
  examples = {
    { allowed = { { 0, 0, 19, 0 }, { 0, 0, 31, 20 } }, masked = { { 0, 0, 20, 19 }, { 0, 0, 63, 63 }, { 0, 0, 62, 61 } } },
    { fn = function(_, _, q, k, p)
      local doc_of, start = {}, 0
      for d, len in ipairs(ints(p.lengths)) do
        for t = start, start + len - 1 do doc_of[t] = d end
        start = start + len
      end
      return k <= q and doc_of[q] ~= nil and doc_of[q] == doc_of[k]
    end },
  },
}
