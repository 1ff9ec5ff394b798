-- Longformer / BigBird-ITC: a symmetric local window plus global tokens that
-- attend to and are attended by everything.
return {
  description = "Longformer: local window n/8 each side + 2 global tokens",
  default_len = 64,
  build = function(mi, n)
    local w, g = math.max(1, n // 8), math.min(2, n)
    return mi.from_rows{ q_len = n, fn = function(_, _, q)
      if q < g then return { 0, n } end
      return { 0, g, math.max(g, q - w), math.min(n, q + w + 1) }
    end }
  end,
}
