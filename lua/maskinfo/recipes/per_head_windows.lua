-- Heads with windows of different widths in one layer (multi-scale local
-- attention): head h attends causally to its last windows[h] tokens.
local function ints(s)
  return require("maskinfo").int_list(s, { min = 1, what = "per_head_windows: windows" })
end

return {
  name = "per_head_windows",
  description = "per-head causal windows of 32, 64, 128, 256 and 512 tokens (one head each)",
  source = "Beltagy et al. 2020, Longformer (arXiv:2004.05150), Section 4.1: window sizes growing from 32 to 512 for character-level LM; here one width per head",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "windows", type = "string", default = "32,64,128,256,512", doc = "window of each head (counting the query), comma-separated" },
  },
  small = { len = 24, windows = "2,4,8" },
  build = function(mi, p)
    local w, heads, causal = {}, {}, mi.causal(p.len)
    for h, x in ipairs(ints(p.windows)) do w[h], heads[h] = { x - 1, 0 }, causal end
    return mi.stack_heads(heads):apply_sliding_window(#w == 1 and w[1] or w)
  end,
  examples = {
    { allowed = { { 0, 0, 10, 9 }, { 0, 1, 10, 7 }, { 0, 2, 10, 3 } }, masked = { { 0, 0, 10, 8 }, { 0, 1, 10, 6 }, { 0, 2, 10, 2 } } },
    { fn = function(_, h, q, k, p) return k <= q and q - k < ints(p.windows)[h + 1] end },
  },
}
