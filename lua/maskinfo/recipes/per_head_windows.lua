-- Per-head local windows of growing width (multi-scale heads, as in
-- Longformer's per-layer windows or MoA), causal.
return {
  description = "4 heads with causal windows n/16, n/8, n/4, n/2",
  default_len = 64,
  build = function(mi, n)
    local w = {}
    for h = 1, 4 do w[h] = { math.max(1, n // (2 ^ (5 - h))) - 1, 0 } end
    local one = mi.from_segments({ mi.util.fill(n, 0) }):apply_causal()
    local four = mi.stack_heads{ one, one, one, one }
    return four:apply_sliding_window(w)
  end,
}
