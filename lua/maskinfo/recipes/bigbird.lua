-- BigBird: window + global tokens + a few fixed pseudo-random key blocks per
-- query block.
return {
  description = "BigBird: block window + global block + 2 random blocks per query block",
  default_len = 64,
  build = function(mi, n)
    local blk = math.max(1, n // 16)
    local nb = (n + blk - 1) // blk
    return mi.from_rows{ q_len = n, fn = function(_, _, q)
      local qb = q // blk
      local r = { 0, math.min(n, blk) }
      r[#r + 1] = math.max(0, (qb - 1) * blk); r[#r + 1] = math.min(n, (qb + 2) * blk)
      for j = 1, 2 do
        local b = (qb * 7 + j * 13) % nb
        r[#r + 1] = b * blk; r[#r + 1] = math.min(n, (b + 1) * blk)
      end
      if qb == 0 then return { 0, n } end
      return r
    end }
  end,
}
