-- StreamingLLM: the first tokens stay visible as attention sinks, next to
-- a causal window of recent tokens (a KV cache of sinks + window).
return {
  name = "streaming_sinks",
  description = "StreamingLLM: 4 attention-sink tokens + a causal window of 1020 (a 1024-token cache)",
  source = "Xiao et al. 2024, Efficient Streaming Language Models with Attention Sinks (arXiv:2309.17453), Table 1: 4 sinks + 1020 recent tokens",
  params = {
    { name = "len", type = "integer", default = 8192, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "sinks", type = "integer", default = 4, min = 0, doc = "initial tokens every query keeps (attention sinks)" },
    { name = "window", type = "integer", default = 1020, min = 1, doc = "recent tokens, counting the query itself" },
  },
  small = { len = 48, sinks = 4, window = 12 },
  build = function(mi, p)
    local n = p.len
    local recent = mi.causal(n):apply_sliding_window({ p.window - 1, 0 })
    -- every query sees keys k < sinks: query ids all 0, key ids 0 on the sinks
    local sinks = mi.from_segments(mi.full(n):q_segment_ids(),
      mi.from_lengths({ math.min(p.sinks, n) }, { pad_to = n }):q_segment_ids())
    return mi.causal(n) & (recent | sinks)
  end,
  examples = {
    { allowed = { { 0, 0, 40, 0 }, { 0, 0, 40, 3 }, { 0, 0, 40, 29 } }, masked = { { 0, 0, 40, 4 }, { 0, 0, 40, 28 }, { 0, 0, 2, 3 } } },
    { fn = function(_, _, q, k, p) return k <= q and (k < p.sinks or q - k < p.window) end },
  },
}
