-- Longformer: a symmetric local window plus global tokens that attend to
-- everything and are attended by everything ([CLS] for classification,
-- the question for QA).
return {
  name = "longformer",
  description = "Longformer: window 512 (256 each side) + global tokens, bidirectional",
  source = "allenai/longformer-base-4096 config.json: attention_window = 512, max_position_embeddings = 4098 (Beltagy et al. 2020, arXiv:2004.05150)",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, max = 1 << 31, doc = "sequence length in tokens" },
    { name = "window", type = "integer", default = 512, min = 0, doc = "attention_window: window / 2 keys on each side (even)" },
    { name = "globals", type = "integer", default = 1, min = 0, doc = "leading tokens with global attention ([CLS], or the question)" },
  },
  small = { len = 40, window = 8, globals = 2 },
  build = function(mi, p)
    assert(p.window % 2 == 0, "longformer: window must be even (HF's attention_window), got " .. p.window)
    local n, g = p.len, math.min(p.globals, p.len)
    local all = mi.full(n):q_segment_ids()
    local glob = mi.from_lengths({ g }, { pad_to = n }):q_segment_ids()
    local rows = mi.from_segments(glob, all) -- global queries see every key
    local cols = mi.from_segments(all, glob) -- every query sees the global keys
    return mi.full(n):apply_sliding_window(p.window // 2) | rows | cols
  end,
  examples = {
    { allowed = { { 0, 0, 20, 16 }, { 0, 0, 20, 24 }, { 0, 0, 1, 39 }, { 0, 0, 39, 0 } }, masked = { { 0, 0, 20, 15 }, { 0, 0, 20, 25 }, { 0, 0, 39, 2 } } },
    { fn = function(_, _, q, k, p) return math.abs(q - k) <= p.window // 2 or q < p.globals or k < p.globals end },
  },
}
