-- Prefix LM (T5 prefix-LM, PaliGemma): the prefix attends bidirectionally,
-- the suffix is causal.
return {
  description = "prefix LM: bidirectional prefix (first n/3 tokens), causal suffix",
  default_len = 48,
  build = function(mi, n)
    local types = {}
    for i = 1, n do types[i] = i <= n // 3 and 1 or 0 end
    return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal():apply_token_type_ids({ types })
  end,
}
