-- BERT-style encoder: bidirectional attention among real tokens, padding masked.
return {
  description = "bidirectional encoder with padding (BERT)",
  default_len = 48,
  build = function(mi, n)
    local m = {}
    for i = 1, n do m[i] = i <= (n * 3) // 4 end
    return mi.from_attention_mask({ m })
  end,
}
