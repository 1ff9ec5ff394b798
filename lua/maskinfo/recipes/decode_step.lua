-- One decode step of a batch against a static, padded KV cache: row b
-- holds lengths[b] tokens in a cache of len slots; its new query (at
-- position lengths[b] - 1, already written to the cache) sees the filled
-- slots only.
local function ints(s)
  return require("maskinfo").int_list(s, { min = 1, what = "decode_step: lengths" })
end

return {
  name = "decode_step",
  description = "decode step: one query per row against a padded 4096-slot KV cache",
  source = "HF transformers StaticCache (max_cache_len slots, padding masked per row); Llama 2 context 4096 (Touvron et al. 2023, arXiv:2307.09288)",
  params = {
    { name = "len", type = "integer", default = 4096, min = 1, max = 1 << 31, doc = "KV cache slots (max_cache_len)" },
    { name = "lengths", type = "string", default = "4096,3000,1500,700", doc = "filled slots of each batch row, comma-separated" },
  },
  small = { len = 24, lengths = "24,17,9,1" },
  build = function(mi, p)
    local lens, rows, q, pos = ints(p.lengths), {}, {}, {}
    for b, l in ipairs(lens) do
      assert(l <= p.len, ("decode_step: row %d holds %d tokens, more than len (%d)"):format(b - 1, l, p.len))
      rows[b], q[b], pos[b] = { l }, { 0 }, { l - 1 }
    end
    local kv = mi.from_lengths(rows, { pad_to = p.len }):q_segment_ids()
    return mi.from_segments(q, kv, { q_positions = pos })
  end,
  examples = {
    { allowed = { { 0, 0, 0, 23 }, { 1, 0, 0, 16 }, { 3, 0, 0, 0 } }, masked = { { 1, 0, 0, 17 }, { 3, 0, 0, 1 } } },
    { fn = function(b, _, _, k, p) return k < ints(p.lengths)[b + 1] end },
  },
}
