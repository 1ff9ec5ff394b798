-- Chunked prefill: a long prompt enters the KV cache a chunk at a time;
-- at step j the chunk's queries attend causally to everything before them
-- (the queries are the last keys).  One layer per step.
return {
  name = "chunked_prefill",
  description = "chunked prefill: an 8192-token prompt in chunks of 2048, one mask per step",
  source = "Agrawal et al. 2024, Sarathi-Serve (arXiv:2403.02310): chunked prefills under a token budget of 2048",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "prompt tokens" },
    { name = "chunk", type = "integer", default = 2048, min = 1, doc = "tokens per chunk (the token budget)" },
  },
  small = { len = 20, chunk = 8 },
  build = function(mi, p)
    local steps = (p.len + p.chunk - 1) // p.chunk
    assert(steps <= 64, ("chunked_prefill: %d steps; at most 64 (use a larger chunk)"):format(steps))
    local out = {}
    for j = 0, steps - 1 do
      local lo, hi = j * p.chunk, math.min(p.len, (j + 1) * p.chunk)
      out[j + 1] = { name = ("step %d: queries %d-%d, keys 0-%d"):format(j + 1, lo, hi - 1, hi - 1),
        mask = mi.causal(hi - lo, { kv_len = hi }) }
    end
    return out
  end,
  examples = {
    { layer = 1, fn = function(_, _, q, k) return k <= q end },
    { layer = 2, allowed = { { 0, 0, 0, 8 }, { 0, 0, 0, 0 }, { 0, 0, 7, 15 } }, masked = { { 0, 0, 0, 9 } } },
    { layer = 2, fn = function(_, _, q, k) return k <= q + 8 end },
    { layer = 3, fn = function(_, _, q, k) return k <= q + 16 end }, -- the last chunk has 4 queries
  },
}
