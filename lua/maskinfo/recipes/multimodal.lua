-- A vision-language model with interleaved images (Gemma 3): text is
-- causal; the tokens of one image attend to each other bidirectionally,
-- but never to a later image.  HF's 0/1 token_type_ids would make all
-- images one group, so the image runs are numbered first (image_runs).

-- 0/1 token types: `images` images of `image_tokens` tokens, with equal
-- stretches of text before, between and after them.
local function token_types(p)
  local text = (p.len - p.images * p.image_tokens) // (p.images + 1)
  local types = {}
  for t = 1, p.len do types[t] = 0 end
  for i = 0, p.images - 1 do
    local start = text + i * (text + p.image_tokens)
    for t = start, start + p.image_tokens - 1 do types[t + 1] = 1 end
  end
  return types
end

return {
  name = "multimodal",
  description = "Gemma 3 interleaved images: causal text, each 256-token image bidirectional within itself",
  source = "google/gemma-3-4b-it config.json: mm_tokens_per_image = 256; HF Gemma 3 token_type_ids_mask_function (bidirectional inside one image)",
  params = {
    { name = "len", type = "integer", default = 2048, min = 1, max = 1 << 24, doc = "sequence length in tokens" },
    { name = "images", type = "integer", default = 3, min = 0, doc = "images in the sequence" },
    { name = "image_tokens", type = "integer", default = 256, min = 1, doc = "tokens per image (mm_tokens_per_image)" },
  },
  small = { len = 40, images = 2, image_tokens = 8 },
  build = function(mi, p)
    assert(p.images * p.image_tokens <= p.len,
      ("multimodal: %d images of %d tokens do not fit in %d tokens"):format(p.images, p.image_tokens, p.len))
    return mi.causal(p.len):apply_token_type_ids(mi.image_runs(token_types(p)))
  end,
  examples = {
    -- text 0-7, image 1 at 8-15, text 16-23, image 2 at 24-31, text 32-39
    { allowed = { { 0, 0, 8, 15 }, { 0, 0, 24, 31 }, { 0, 0, 24, 15 }, { 0, 0, 39, 0 } },
      masked = { { 0, 0, 7, 8 }, { 0, 0, 15, 16 }, { 0, 0, 8, 24 }, { 0, 0, 16, 17 } } },
    { fn = function(_, _, q, k, p)
      local types = token_types(p)
      local function run(t) -- the image number of token t (0 for text)
        if types[t + 1] == 0 then return 0 end
        local text = (p.len - p.images * p.image_tokens) // (p.images + 1)
        return (t - text) // (text + p.image_tokens) + 1
      end
      return k <= q or (run(q) > 0 and run(q) == run(k))
    end },
  },
}
