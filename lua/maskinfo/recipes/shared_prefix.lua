-- A shared prefix with several suffixes in one packed row (GRPO: one
-- prompt, a group of sampled completions): the prompt is causal, each
-- completion attends causally to the prompt and to itself, never to
-- another completion.  Built as a tree whose branches are the completions.
local function parents_of(p)
  local parents = {}
  for i = 0, p.len - 1 do parents[i + 1] = i - 1 end
  for s = 0, p.suffixes - 1 do
    local start = p.len + s * p.suffix_len
    for j = 0, p.suffix_len - 1 do
      parents[start + j + 1] = j == 0 and p.len - 1 or start + j - 1
    end
  end
  return parents
end

return {
  name = "shared_prefix",
  description = "shared prefix: one 512-token prompt, 64 completions of 1024 tokens, each seeing the prompt and itself",
  source = "Shao et al. 2024, DeepSeekMath GRPO (arXiv:2402.03300), Section 4.2: 64 sampled outputs per question, max length 1024",
  params = {
    { name = "len", type = "integer", default = 512, min = 0, max = 1 << 24, doc = "prefix (prompt) tokens" },
    { name = "suffixes", type = "integer", default = 64, min = 0, doc = "completions sharing the prefix" },
    { name = "suffix_len", type = "integer", default = 1024, min = 1, doc = "tokens per completion" },
  },
  small = { len = 6, suffixes = 3, suffix_len = 7 },
  build = function(mi, p)
    return mi.from_tree(parents_of(p))
  end,
  examples = {
    -- prompt 0-5; completions 6-12, 13-19 and 20-26
    { allowed = { { 0, 0, 5, 0 }, { 0, 0, 6, 5 }, { 0, 0, 20, 0 }, { 0, 0, 22, 20 } },
      masked = { { 0, 0, 13, 12 }, { 0, 0, 20, 19 }, { 0, 0, 0, 1 } } },
    { fn = function(_, _, q, k, p)
      if k > q then return false end
      if k < p.len then return true end
      return q >= p.len and (q - p.len) // p.suffix_len == (k - p.len) // p.suffix_len
    end },
  },
}
