-- LongNet's dilated attention: the sequence is cut into segments; in a
-- segment of length w with dilation r only every r-th token takes part,
-- and those attend to each other (causally, for a language model).  The
-- (w, r) pairs are mixed across heads: head j uses segment w * 2^j, the
-- j-th dilation, and offset j mod r, so that together the heads cover
-- every token.
local parsed = {} -- the examples ask for every cell
local function ints(s, what)
  parsed[s] = parsed[s] or require("maskinfo").int_list(s, { min = 1, what = "dilated: " .. what })
  return parsed[s]
end

-- Segment id of token i for head j (-1: the token sits this head out).
local function head_id(i, w, r, j)
  return (i % w) % r == j % r and i // w or -1
end

return {
  name = "dilated",
  description = "LongNet dilated attention: one head per (segment, dilation) pair, causal",
  source = "Ding et al. 2023, LongNet (arXiv:2307.02486), Section 4.1: segment lengths w = {2048, 4096, 8192, 16384, 32768}, dilations r = {1, 2, 4, 6, 12}",
  params = {
    { name = "len", type = "integer", default = 32768, min = 1, max = 1 << 22, doc = "sequence length in tokens" },
    { name = "segment", type = "integer", default = 2048, min = 1, doc = "segment length of head 0; head j uses segment * 2^j" },
    { name = "dilations", type = "string", default = "1,2,4,6,12", doc = "dilation of each head, comma-separated" },
  },
  small = { len = 64, segment = 8 },
  build = function(mi, p)
    local heads = {}
    for j, r in ipairs(ints(p.dilations, "dilations")) do
      local w, ids = p.segment << (j - 1), {}
      for i = 0, p.len - 1 do ids[i + 1] = head_id(i, w, r, j - 1) end
      heads[j] = mi.from_segments({ ids }):apply_causal()
    end
    return mi.stack_heads(heads)
  end,
  examples = {
    { allowed = { { 0, 0, 7, 0 }, { 0, 1, 15, 1 }, { 0, 2, 10, 2 }, { 0, 4, 52, 4 } },
      masked = { { 0, 0, 8, 7 }, { 0, 1, 15, 0 }, { 0, 2, 10, 3 }, { 0, 4, 63, 3 } } },
    { fn = function(_, h, q, k, p)
      local r = ints(p.dilations, "dilations")[h + 1]
      local w = p.segment << h
      local id = head_id(q, w, r, h)
      return k <= q and id >= 0 and id == head_id(k, w, r, h)
    end },
  },
}
