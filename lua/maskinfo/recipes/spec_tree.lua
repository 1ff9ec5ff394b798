-- Speculative decoding with a candidate tree (Medusa): the root is the
-- next token of the model's own head; each level adds the top-k guesses
-- of the next Medusa head as children of every node of the level before.
-- All candidates are checked in one forward pass: a node attends to the
-- KV cache and to its own ancestors only (tree attention, from the parent
-- indices).

-- Parent indices (0-based, -1 for the root) of the Cartesian top-k tree.
local function parents_of(branching)
  local parents, level = { -1 }, { 0 }
  for x in branching:gmatch("[^,]+") do
    local k = math.tointeger(tonumber(x))
    assert(k and k >= 1, ("spec_tree: branching '%s' must be positive integers"):format(branching))
    local next_level = {}
    for _, node in ipairs(level) do
      for _ = 1, k do
        parents[#parents + 1] = node
        next_level[#next_level + 1] = #parents - 1
      end
    end
    level = next_level
  end
  return parents
end

return {
  name = "spec_tree",
  description = "speculative-decoding tree (Medusa): top-2 x top-3 candidates after the KV cache, tree attention",
  source = "Cai et al. 2024, Medusa (arXiv:2401.10774), Section 2.1.2 and Figure 2: tree attention over the top-2 predictions of head 1 and the top-3 of head 2",
  params = {
    { name = "len", type = "integer", default = 256, min = 0, max = 1 << 31, doc = "tokens already in the KV cache (the verified prefix)" },
    { name = "branching", type = "string", default = "2,3", doc = "top-k of each Medusa head, comma-separated" },
  },
  small = { len = 4 },
  build = function(mi, p)
    return mi.from_tree(parents_of(p.branching), { prefix = p.len })
  end,
  examples = {
    -- nodes: 0 root; 1, 2 its children; 3-5 under 1; 6-8 under 2; keys are 4 + node
    { allowed = { { 0, 0, 0, 3 }, { 0, 0, 5, 4 }, { 0, 0, 5, 5 }, { 0, 0, 5, 9 }, { 0, 0, 8, 6 } },
      masked = { { 0, 0, 5, 6 }, { 0, 0, 5, 8 }, { 0, 0, 1, 6 }, { 0, 0, 8, 5 } } },
    { fn = function(_, _, q, k, p)
      if k < p.len then return true end
      local parents, j = parents_of(p.branching), q
      while j >= 0 and j ~= k - p.len do j = parents[j + 1] end
      return j >= 0
    end },
  },
}
