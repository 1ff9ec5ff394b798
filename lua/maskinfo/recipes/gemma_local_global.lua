-- Gemma 2/3 interleave local (sliding window) and global (full causal) layers;
-- shown here as two heads of one mask: head 0 local, head 1 global.
return {
  description = "Gemma-style local/global layers as two heads (head 0 window n/8, head 1 causal)",
  default_len = 64,
  build = function(mi, n)
    local base = mi.from_segments({ mi.util.fill(n, 0) }):apply_causal()
    return mi.stack_heads{ base:apply_sliding_window({ math.max(1, n // 8) - 1, 0 }), base }
  end,
}
