-- A right-padded batch of two sequences, as a HF tokenizer returns it.
return {
  description = "padded batch (HF attention_mask) + causal; batch 1 shown by --batch 1",
  default_len = 48,
  build = function(mi, n)
    local a, b = {}, {}
    for i = 1, n do a[i] = i <= n and 1 or 0; b[i] = i <= (n * 2) // 3 and 1 or 0 end
    return mi.dynamic_init{ attention_mask = { a, b } }:apply_causal()
  end,
}
