-- Flamingo's gated cross-attention: each text token attends only to the
-- visual tokens of the image that immediately precedes it (the last
-- <image> tag at or before it); text before the first image attends to no
-- image.  Each image is 64 visual tokens from the Perceiver Resampler.
-- Queries are text tokens, keys are visual tokens.

-- The image a text token sees (-1: none): image i's tag sits at token
-- i * gap + gap // 4, gap = len // images.
local function image_of(t, p)
  local gap = math.max(1, p.len // p.images)
  local i = math.min((t - gap // 4) // gap, p.images - 1)
  return (t - gap // 4) < 0 and -1 or i
end

return {
  name = "flamingo",
  description = "Flamingo cross-attention: text tokens see the 64 visual tokens of the preceding image only",
  source = "Alayrac et al. 2022, Flamingo (arXiv:2204.14198), Sections 2.1 and 2.3: Perceiver Resampler with 64 latents per image; M3W sequences of up to 5 images and 256 text tokens",
  params = {
    { name = "len", type = "integer", default = 256, min = 1, max = 1 << 24, doc = "text tokens (the queries)" },
    { name = "images", type = "integer", default = 5, min = 1, doc = "images in the sequence" },
    { name = "latents", type = "integer", default = 64, min = 1, doc = "visual tokens per image (Perceiver Resampler latents)" },
  },
  small = { len = 20, images = 3, latents = 4 },
  build = function(mi, p)
    local q, kv = {}, {}
    for t = 0, p.len - 1 do q[t + 1] = image_of(t, p) end
    for v = 0, p.images * p.latents - 1 do kv[v + 1] = v // p.latents end
    return mi.from_segments({ q }, { kv })
  end,
  examples = {
    -- gap 6: the tags sit at tokens 1, 7 and 13
    { allowed = { { 0, 0, 1, 0 }, { 0, 0, 6, 3 }, { 0, 0, 7, 4 }, { 0, 0, 19, 11 } },
      masked = { { 0, 0, 0, 0 }, { 0, 0, 6, 4 }, { 0, 0, 7, 3 }, { 0, 0, 19, 7 } } },
    { fn = function(_, _, q, k, p) local i = image_of(q, p) return i >= 0 and k // p.latents == i end },
  },
}
