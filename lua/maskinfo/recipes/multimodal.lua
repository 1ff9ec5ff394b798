-- Vision-language model (Gemma 3, PaliGemma 2 style): text is causal, each image's
-- tokens attend to each other bidirectionally (token types 1, 2 mark images).
return {
  description = "multimodal: causal text, bidirectional image blocks (token types)",
  default_len = 64,
  build = function(mi, n)
    local types = {}
    for i = 1, n do
      local x = (i - 1) / n
      types[i] = (x >= 0.1 and x < 0.35) and 1 or ((x >= 0.55 and x < 0.75) and 2 or 0)
    end
    return mi.from_segments({ mi.util.fill(n, 0) }):apply_causal():apply_token_type_ids({ types })
  end,
}
