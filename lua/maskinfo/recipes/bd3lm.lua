-- Block diffusion (BD3-LM) training: the noisy sequence x_t and the clean
-- x_0 are concatenated (2 * len tokens).  A noisy block attends to itself
-- (block-diagonal) and to the clean blocks before it (offset
-- block-causal); a clean block attends to itself and the clean blocks
-- before it (block-causal).

-- The paper's block_diff_mask (the flex-attention mask_mod), n = len.
local function block_diff(q, k, n, bs)
  local q0, k0 = q >= n, k >= n
  local bq = q0 and (q - n) // bs or q // bs
  local bk = k0 and (k - n) // bs or k // bs
  return (bq == bk and q0 == k0) or (bq > bk and k0 and not q0) or (bq >= bk and k0 and q0)
end

return {
  name = "bd3lm",
  description = "BD3-LM block diffusion training mask over [x_t, x_0]: 1024 tokens in blocks of 16",
  source = "Arriola et al. 2025, Block Diffusion (arXiv:2503.09573), Section 3 and Appendix: OpenWebText context 1024, block sizes 4, 8 and 16; block_diff_mask",
  params = {
    { name = "len", type = "integer", default = 1024, min = 1, max = 1 << 20, doc = "sequence length L (the mask is 2L x 2L)" },
    { name = "block", type = "integer", default = 16, min = 1, doc = "block size L'" },
  },
  small = { len = 16, block = 4 },
  build = function(mi, p)
    local n, bs = p.len, p.block
    return mi.from_rows{ q_len = 2 * n, fn = function(_, _, q)
      if q < n then -- noisy: clean blocks before mine, then my own noisy block
        local b = q // bs
        return { n, n + b * bs, b * bs, math.min(n, (b + 1) * bs) }
      end
      local b = (q - n) // bs -- clean: clean blocks up to and including mine
      return { n, math.min(2 * n, n + (b + 1) * bs) }
    end }
  end,
  examples = {
    { allowed = { { 0, 0, 5, 4 }, { 0, 0, 5, 7 }, { 0, 0, 5, 16 }, { 0, 0, 5, 19 }, { 0, 0, 20, 23 } },
      masked = { { 0, 0, 5, 3 }, { 0, 0, 5, 8 }, { 0, 0, 5, 20 }, { 0, 0, 20, 24 }, { 0, 0, 20, 4 } } },
    { fn = function(_, _, q, k, p) return block_diff(q, k, p.len, p.block) end },
  },
}
