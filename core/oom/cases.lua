-- The calls `make oomtest` runs with Lua's allocations failing one by one
-- (core/oom/oomhost.c).  Each case builds what it uses; `mi` is maskinfo.
local tmp = os.getenv("TMPDIR") or "/tmp"
local npy = tmp .. "/maskinfo-oomtest.npy"
local st = tmp .. "/maskinfo-oomtest.safetensors"
return {
  { "from_segments+causal", [[local m = mi.from_segments({{0, 0, 1, 1, -1}}):apply_causal(); m:count()]] },
  { "algebra", [[local a = mi.from_segments({{0, 0, 1, 1}}); local b = a:apply_causal();
    local c = (a & b) | ~a; c = c - b; c:count(); c:density()]] },
  { "sliding_window+chunked", [[local m = mi.from_segments({{0, 0, 0, 1, 1, 1}}):apply_sliding_window({1, 0}):apply_chunked(2); m:count()]] },
  { "attention_mask", [[local m = mi.from_segments({{0, 0, 1}}):apply_causal(); m:attention_mask(); m:attention_mask("float32")]] },
  { "segment_ids", [[local m = mi.from_attention_mask({{1, 1, 0}}); m:q_segment_ids(); m:kv_segment_ids(); m:get_or_compute_segment_ids(true)]] },
  { "positions+cu_seqlens", [[local m = mi.from_segments({{0, 0, 1, -1}}); m:get_or_compute_positions(); m:get_or_compute_qkv_cu_seqlens{max_segments = 4}]] },
  { "tostring", [[local m = mi.from_segments({{0, 1}}); tostring(m); tostring(m:q_segment_ids())]] },
  { "Array", [[local a = mi.Array.new("int32", {2, 3}, {1, 2, 3, 4, 5, 6}); a:totable(); a:flat(); a:astype("float32");
    local b = mi.Array.from({{true, false}, {false, true}}); b:shape(); tostring(b); local c = mi.Array.new("int64", {1}, {math.maxinteger}); c:totable()]] },
  { "from_function", [[local m = mi.from_function{q_len = 4, kv_len = 4, fn = function(b, h, q, k) return k <= q end}; m:count()]] },
  { "from_random", [[local m = mi.from_random(1, 8, 8, 0.5, 3); m:count(); m:empty_rows()]] },
  { "stack_heads", [[local a = mi.from_segments({{0, 0, 1}}); local m = mi.stack_heads({a, a:apply_causal()}); m:count()]] },
  { "block_classes", [[local m = mi.from_segments({{0, 0, 0, 1, 1, 1, 1, 1}}):apply_causal(); m:block_classes{block_size = 2}]] },
  { "block_counts", [[local m = mi.from_segments({{0, 0, 1, 1}}):apply_causal(); m:block_counts{block_size = 2}]] },
  { "save_npy", ([[local m = mi.from_segments({{0, 0, 1}}); m:save_npy(%q)]]):format(npy) },
  { "save_safetensors", ([[local m = mi.from_segments({{0, 0, 1}}); m:save_safetensors(%q)]]):format(st) },
  { "deep chain", [[local m = mi.from_segments({{0, 0, 1, 1}}); local c = m:apply_causal();
    for i = 1, 20 do m = m | c:apply_sliding_window({i % 3, 0}) end; m:count()]] },
  { "visualize", [[local m = mi.from_segments({{0, 0, 1, 1, -1}}):apply_causal(); m:visualize{block_size = 1}]] },
  { "flex_block_mask", [[local m = mi.from_segments({{0, 0, 0, 1, 1, 1}}):apply_causal(); m:flex_block_mask{block_size = 2}]] },
  { "kernel formats", [[local m = mi.from_segments({{0, 0, 0, 1, 1, 1, -1, -1}}):apply_causal();
    m:flashmask(); m:varlen(); m:attn_slices(); m:bsr{block_size = {2, 2}}; m:flashinfer_mask();
    m:splash_mask_info{block_size = 2}; m:flex_block_mask{block_size = 2, format = "csr"}]] },
  { "dense", [[local m = mi.from_attention_mask({{{{1, 0}, {1, 1}}}}); (m & m:apply_causal()):count()]] },
}
