-- BigBird (ITC): attention between blocks.  The first and last blocks are
-- global (they see and are seen by every block); every other query block
-- sees its own block and its two neighbours (a window of 3 blocks) and
-- `random` other blocks drawn from the middle blocks, as HF's
-- bigbird_block_rand_mask draws them (but with a seeded generator of our
-- own, not NumPy's).
local function lcg(seed)
  local s = seed
  return function(n)
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (s >> 33) % n
  end
end

-- The random key blocks of every query block: rand[qb] = {kb, ...}
-- (remembered, as the examples ask for every cell).
local drawn = {}
local function random_blocks(nb, r, seed)
  local key = ("%d/%d/%d"):format(nb, r, seed)
  if drawn[key] then return drawn[key] end
  local draw, rand = lcg(seed), {}
  for qb = 1, nb - 2 do
    local pool = {}
    for kb = 1, nb - 2 do
      if math.abs(kb - qb) > 1 then pool[#pool + 1] = kb end
    end
    local pick = {}
    for i = 1, math.min(r, #pool) do -- a partial Fisher-Yates shuffle
      local j = i + draw(#pool - i + 1)
      pool[i], pool[j] = pool[j], pool[i]
      pick[i] = pool[i]
    end
    rand[qb] = pick
  end
  drawn[key] = rand
  return rand
end

local function allowed_block(nb, rand, qb, kb)
  if qb == 0 or qb == nb - 1 or kb == 0 or kb == nb - 1 or math.abs(qb - kb) <= 1 then return true end
  for _, x in ipairs(rand[qb]) do
    if x == kb then return true end
  end
  return false
end

return {
  name = "bigbird",
  description = "BigBird ITC: blocks of 64; window of 3 blocks, 2 global blocks (first, last), 3 random blocks",
  source = "google/bigbird-roberta-base config.json: block_size = 64, num_random_blocks = 3, max_position_embeddings = 4096 (Zaheer et al. 2020, arXiv:2007.14062)",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, max = 1 << 24, doc = "sequence length in tokens" },
    { name = "block", type = "integer", default = 64, min = 1, doc = "block size (block_size)" },
    { name = "random", type = "integer", default = 3, min = 0, doc = "random key blocks per query block (num_random_blocks)" },
    { name = "seed", type = "integer", default = 0, min = 0, doc = "seed of the random blocks" },
  },
  small = { len = 64, block = 4 },
  build = function(mi, p)
    local n, bs = p.len, p.block
    local nb = (n + bs - 1) // bs
    local rand = random_blocks(nb, p.random, p.seed)
    -- a row's key blocks: the global first and last, the window of 3 and
    -- the random ones, as merged intervals (a global query block sees all)
    return mi.from_rows{ q_len = n, fn = function(_, _, q)
      local qb = q // bs
      if qb == 0 or qb == nb - 1 then return { 0, n } end
      local ks = { 0, nb - 1, qb - 1, qb, qb + 1 }
      for _, kb in ipairs(rand[qb]) do ks[#ks + 1] = kb end
      table.sort(ks)
      local r = {}
      for i, kb in ipairs(ks) do
        if kb ~= ks[i - 1] then
          local lo, hi = kb * bs, math.min(n, (kb + 1) * bs)
          if r[#r] == lo then r[#r] = hi else r[#r + 1], r[#r + 2] = lo, hi end
        end
      end
      return r
    end }
  end,
  examples = {
    { allowed = { { 0, 0, 0, 63 }, { 0, 0, 30, 0 }, { 0, 0, 30, 63 }, { 0, 0, 30, 25 }, { 0, 0, 30, 35 } },
      masked = { { 0, 0, 30, 12 }, { 0, 0, 30, 44 } } }, -- query block 7 drew blocks 1, 5 and 9 (seed 0)
    { fn = function(_, _, q, k, p)
      local nb = (p.len + p.block - 1) // p.block
      return allowed_block(nb, random_blocks(nb, p.random, p.seed), q // p.block, k // p.block)
    end },
    { params = { random = 0 }, fn = function(_, _, q, k, p)
      local qb, kb, last = q // p.block, k // p.block, (p.len - 1) // p.block
      return qb == 0 or qb == last or kb == 0 or kb == last or math.abs(qb - kb) <= 1
    end },
  },
}
