-- The Sparse Transformer's strided pattern, as two heads: head 0 attends
-- to the previous `stride` tokens, head 1 to every stride-th token before
-- (the same column of a 2-D layout of rows of `stride`).
local function stride_ids(n, l)
  local ids = {}
  for i = 0, n - 1 do ids[i + 1] = i % l end
  return ids
end

return {
  name = "sparse_transformer",
  description = "Sparse Transformer strided attention: head 0 local (last 128), head 1 strided (every 128th)",
  source = "Child et al. 2019, Generating Long Sequences with Sparse Transformers (arXiv:1904.10509), Section 4.2: strided pattern with stride l close to sqrt(n): l = 128 for n = 16384",
  params = {
    { name = "len", type = "integer", default = 16384, min = 1, max = 1 << 24, doc = "sequence length in tokens" },
    { name = "stride", type = "integer", default = 128, min = 1, doc = "stride l (about sqrt(len))" },
  },
  small = { len = 36, stride = 6 },
  build = function(mi, p)
    local causal = mi.causal(p.len)
    local local_head = causal:apply_sliding_window({ p.stride - 1, 0 })
    local strided = mi.from_segments({ stride_ids(p.len, p.stride) }):apply_causal()
    return mi.stack_heads({ local_head, strided })
  end,
  examples = {
    { allowed = { { 0, 0, 20, 15 }, { 0, 1, 20, 2 }, { 0, 1, 20, 14 } }, masked = { { 0, 0, 20, 14 }, { 0, 1, 20, 15 }, { 0, 1, 20, 26 } } },
    { fn = function(_, h, q, k, p)
      if h == 0 then return k <= q and q - k < p.stride end
      return k <= q and (q - k) % p.stride == 0
    end },
  },
}
