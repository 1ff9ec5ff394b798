-- Neighbourhood attention (NATTEN) on an image grid: each pixel attends to
-- the kernel x kernel pixels around it; at the borders the window shifts
-- to stay inside the image (it is not cut), so every query sees
-- kernel^2 keys.  Tokens are pixels in row-major order.
local function start(i, size, kernel)
  return math.max(0, math.min(i - kernel // 2, size - kernel))
end

return {
  name = "natten",
  description = "NATTEN 2-D neighbourhood attention: 7 x 7 windows on a 56 x 56 feature map",
  source = "Hassani et al. 2023, Neighborhood Attention Transformer (arXiv:2204.07143): kernel size 7; NAT stage 1 works on 56 x 56 tokens of a 224 x 224 image",
  params = {
    { name = "len", type = "integer", default = 3136, min = 1, max = 1 << 24, doc = "pixels (tokens): height * width" },
    { name = "width", type = "integer", default = 56, min = 1, doc = "image width in tokens; height = len / width" },
    { name = "kernel", type = "integer", default = 7, min = 1, doc = "neighbourhood size (odd)" },
  },
  small = { len = 48, width = 8, kernel = 3 },
  build = function(mi, p)
    local W, k = p.width, p.kernel
    local H = p.len // W
    assert(H * W == p.len, ("natten: len (%d) must be a multiple of width (%d)"):format(p.len, W))
    assert(k <= H and k <= W, ("natten: kernel %d does not fit a %d x %d image"):format(k, H, W))
    return mi.from_rows{ q_len = p.len, fn = function(_, _, q)
      local si, sj, r = start(q // W, H, k), start(q % W, W, k), {}
      for row = si, si + k - 1 do
        r[#r + 1], r[#r + 2] = row * W + sj, row * W + sj + k
      end
      return r
    end }
  end,
  examples = {
    -- pixel (2, 3) = token 19 sees rows 1-3, columns 2-4; pixel (0, 0) sees rows 0-2, columns 0-2
    { allowed = { { 0, 0, 19, 10 }, { 0, 0, 19, 28 }, { 0, 0, 0, 18 } }, masked = { { 0, 0, 19, 9 }, { 0, 0, 19, 29 }, { 0, 0, 0, 3 } } },
    { fn = function(_, _, q, key, p)
      local W, H, k = p.width, p.len // p.width, p.kernel
      local qi, qj, ki, kj = q // W, q % W, key // W, key % W
      local si, sj = start(qi, H, k), start(qj, W, k)
      return ki >= si and ki < si + k and kj >= sj and kj < sj + k
    end },
  },
}
