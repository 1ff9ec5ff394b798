-- The stored fields of a MaskInfo agree with its mask after every step
-- (issue 8): random chains of up to 6 steps (ops, constructors, replace,
-- materialize, to_dtype, the algebra) over random inputs.  After each step:
--   * segment ids are (B, Q) / (B, K), or (B, H', Q) / (B, H', K) per head;
--   * stored positions are (B, Q) / (B, K), and the positions getter agrees;
--   * stored cu_seqlens hold B (start, end) pairs that fit the lengths and
--     cover exactly the valid tokens of the ids they came with; derived ones
--     match the ids;
--   * save_safetensors writes only fields that agree in batch and length.
-- Steps that raise must raise a maskinfo error (never a Lua error), and the
-- chain goes on from the previous object.
local maskinfo = require("maskinfo")

local rnd = math.random

---------------------------------------------------------------- random inputs

local function ids_row(L, pad)
  local row, id, j = {}, rnd(0, 2), 1
  while j <= L do
    for _ = 1, rnd(1, 4) do
      if j > L then break end
      row[j] = (pad and rnd(5) == 1) and -1 or id
      j = j + 1
    end
    id = id + rnd(0, 2)
  end
  return row
end

local function ids(B, L)
  local t = {}
  for b = 1, B do t[b] = ids_row(L, rnd(2) == 1) end
  return t
end

local function ints(B, L, lo, hi)
  local t = {}
  for b = 1, B do
    t[b] = {}
    for j = 1, L do t[b][j] = rnd(lo, hi) end
  end
  return t
end

local function bools(dims)
  local function build(d)
    local t = {}
    for i = 1, dims[d] do
      if d == #dims then t[i] = rnd(3) ~= 1 else t[i] = build(d + 1) end
    end
    return t
  end
  return build(1)
end

local function per_batch(B, lo, hi)
  if rnd(2) == 1 then return rnd(lo, hi) end
  local t = {}
  for b = 1, B do t[b] = rnd(lo, hi) end
  return t
end

-- A random constructor call: the object and a description.
local function gen_ctor()
  local B, Q = rnd(1, 3), rnd(1, 9)
  local K = rnd(2) == 1 and Q or rnd(1, 9)
  local kind = rnd(9)
  if kind <= 2 then
    local opts = rnd(2) == 1 and { q_positions = ints(B, Q, 0, 40) } or nil
    return maskinfo.from_segments(ids(B, Q), nil, opts), "from_segments(self)"
  elseif kind == 3 then
    -- a batch-1 side broadcasts
    local qb, kb = B, B
    if rnd(2) == 1 then qb = 1 else kb = 1 end
    local opts = rnd(2) == 1 and { kv_positions = ints(math.max(qb, kb), K, 0, 40) } or nil
    return maskinfo.from_segments(ids(qb, Q), ids(kb, K), opts), "from_segments(cross, broadcast)"
  elseif kind == 4 then
    return maskinfo.from_segments(bools({ B, Q }), bools({ B, K }), { is_attn_mask = true }), "from_segments(is_attn_mask)"
  elseif kind == 5 then
    local dims = ({ { B, Q }, { B, Q, K }, { B, rnd(1, 2), Q, K } })[rnd(3)]
    return maskinfo.from_attention_mask(bools(dims)), "from_attention_mask(" .. #dims .. "-D)"
  elseif kind == 6 then
    local cu, ck = {}, {}
    for b = 1, B do
      local s = rnd(0, Q)
      cu[2 * b - 1], cu[2 * b] = s, rnd(s, Q)
      s = rnd(0, K)
      ck[2 * b - 1], ck[2 * b] = s, rnd(s, K)
    end
    return maskinfo.from_cu_seqlens(cu, { max_q_len = Q, cu_seqlens_kv = ck, max_kv_len = K }), "from_cu_seqlens"
  elseif kind == 7 then
    return maskinfo.from_random(B, Q, K, rnd() * 0.8, rnd(0, 99)), "from_random"
  elseif kind == 8 then
    return maskinfo.dynamic_init({ attention_mask = bools({ B, Q }) }), "dynamic_init"
  end
  local H = rnd(1, 2)
  return maskinfo.from_function({ batch_size = B, num_heads = H, q_len = Q, kv_len = K,
    fn = function(_, h, q, k) return (q + k + h) % 3 ~= 0 end }), "from_function"
end

-- A random step on m (B, H, Q, K): the new object and a description.
local function gen_step(m)
  local B, H, Q, K = table.unpack(m:attention_mask():shape())
  local r = rnd(14)
  if r == 1 then
    return m:apply_causal(per_batch(B, -2, 2)), "apply_causal"
  elseif r == 2 then
    local modes = { "default", "decode", "prefill" }
    local mode = modes[rnd(3)]
    local w = rnd(2) == 1 and rnd(0, 4) or { rnd(0, 4), rnd(0, 4) }
    if mode == "prefill" and w == 0 then w = 1 end
    return m:apply_sliding_window(w, { mode = mode, index = per_batch(B, -1, Q + 1) }),
      "apply_sliding_window(" .. mode .. ")"
  elseif r == 3 then
    if rnd(2) == 1 then return m:apply_chunked(rnd(1, 4), { keep_positions = true }), "apply_chunked(keep_positions)" end
    return m:apply_chunked(rnd(1, 4), per_batch(B, 0, 2)), "apply_chunked"
  elseif r == 4 then
    local opts = { combine = ({ "union", "intersect", "replace" })[rnd(3)] }
    if Q ~= K or rnd(2) == 1 then opts.kv_token_type_ids = ints(B, K, 0, 2) end
    return m:apply_token_type_ids(ints(B, Q, 0, 2), opts), "apply_token_type_ids(" .. opts.combine .. ")"
  elseif r <= 6 then
    local opts = { q_len = rnd(0, Q) }
    if rnd(2) == 1 then opts.sliding_window = rnd(1, K + 1) end
    if rnd(2) == 1 then opts.end_index = per_batch(B, 0, Q + 1) end
    return m:apply_kv_lengths(per_batch(B, 0, K + 1), opts), "apply_kv_lengths"
  elseif r == 7 then
    return m:materialize_attention_mask(rnd(2) == 1 and "float32" or nil), "materialize_attention_mask"
  elseif r == 8 then
    return m:materialize_segment_ids(H > 1 and rnd(2) == 1), "materialize_segment_ids"
  elseif r == 9 then
    return m:to_dtype(({ "bool", "int32", "bfloat16" })[rnd(3)]), "to_dtype"
  elseif r == 10 then
    local t = ({
      { q_positions = ints(B, Q, 0, 30) },
      { kv_positions = ints(B, K, 0, 30), causal_mask_baked_in = true },
      { q_positions = false, cu_seqlens_q = false, batch_axis_name = "dp" },
      { q_segment_ids = ids(B, Q), kv_segment_ids = ids(B, K) },
      { attention_mask = bools({ B, H, Q, K }) },
    })[rnd(5)]
    return m:replace(t), "replace"
  elseif r == 11 then
    return m & m:apply_causal(), "m & causal"
  elseif r == 12 then
    return m | maskinfo.from_random(B, Q, K, 0.7, rnd(0, 99)), "m | random"
  elseif r == 13 then
    return m - m:apply_sliding_window(1), "m - window"
  end
  return ~m, "~m"
end

---------------------------------------------------------------- checks

local function shape_str(s) return "(" .. table.concat(s, ", ") .. ")" end

local function fail(ctx, msg, ...) error(ctx .. ": " .. msg:format(...), 0) end

local function check_ids(ctx, what, a, B, L)
  local s = a:shape()
  if not ((#s == 2 or #s == 3) and s[1] == B and s[#s] == L) then
    fail(ctx, "%s has shape %s, the mask has batch %d and length %d", what, shape_str(s), B, L)
  end
end

local function check_positions(ctx, what, a, B, L, stored)
  if a == nil then return end
  local s = a:shape()
  local ok = s[1] == B and s[#s] == L and (#s == 2 or (not stored and #s == 3))
  if not ok then fail(ctx, "%s has shape %s, want (%d, %d)", what, shape_str(s), B, L) end
end

-- Valid tokens per row of 2-D ids (or head 0 of 3-D ids) as {first, last+1}
-- when they are one contiguous run, else false.
local function run_of(rows)
  local out = {}
  for b, row in ipairs(rows) do
    if type(row[1]) == "table" then row = row[1] end
    local s, e, ok = nil, nil, true
    for j, v in ipairs(row) do
      if v >= 0 then
        if e and e < j - 1 then ok = false end
        s, e = s or j - 1, j
      end
    end
    out[b] = ok and { s or 0, e or 0 } or false
  end
  return out
end

local function check_cu(ctx, what, cu, ids_a, B, L, stored)
  local v = cu:flat()
  if stored then
    if #v ~= 2 * B then fail(ctx, "stored %s has %d entries, want %d (B pairs)", what, #v, 2 * B) end
    local runs = run_of(ids_a:totable())
    for b = 1, B do
      local s, e = v[2 * b - 1], v[2 * b]
      if not (0 <= s and s <= e and e <= L) then fail(ctx, "%s pair %d is [%d, %d), length %d", what, b, s, e, L) end
      local run = runs[b]
      if not run or (e > s and (run[1] ~= s or run[2] ~= e)) or (e == s and run[2] ~= run[1]) then
        fail(ctx, "%s pair %d is [%d, %d), the ids' valid tokens differ", what, b, s, e)
      end
    end
  elseif #v == 2 * B then -- start/end pairs from the mask
    for b = 1, B do
      if not (0 <= v[2 * b - 1] and v[2 * b - 1] <= v[2 * b] and v[2 * b] <= L) then
        fail(ctx, "%s pair %d does not fit length %d", what, b, L)
      end
    end
  end
end

-- The shapes in a safetensors file's header, by tensor name.
local function header_shapes(path)
  local fh = assert(io.open(path, "rb"))
  local raw = fh:read(8)
  local n = string.unpack("<I8", raw)
  local json = fh:read(n)
  fh:close()
  local out = {}
  for name, body in json:gmatch('"([%w_]+)":(%b{})') do
    local dims = body:match('"shape":%[([%d,]*)%]')
    if dims then
      local s = {}
      for d in dims:gmatch("%d+") do s[#s + 1] = tonumber(d) end
      out[name] = s
    end
  end
  return out
end

local TMP = os.tmpname()

local function check_file(ctx, m, B, H, Q, K)
  local ok, msg = m:save_safetensors(TMP)
  if not ok then fail(ctx, "save_safetensors failed: %s", tostring(msg)) end
  local s = header_shapes(TMP)
  local function want(name, ...)
    local w = { ... }
    local got = s[name]
    if not got then fail(ctx, "the file has no %s", name) end
    local okk = got[1] == w[1] and got[#got] == w[#w]
    if #w == 4 then okk = okk and got[2] == w[2] and got[3] == w[3] end
    if not okk then fail(ctx, "the file's %s is %s, want %s", name, shape_str(got), shape_str(w)) end
  end
  want("attention_mask", B, H, Q, K)
  want("q_segment_ids", B, Q)
  want("kv_segment_ids", B, K)
  want("q_positions", B, Q)
  want("kv_positions", B, K)
end

local function check(ctx, m, with_file)
  local B, H, Q, K = table.unpack(m:attention_mask():shape())
  local b2, q2, k2 = m:shape()
  if b2 ~= B or q2 ~= Q or k2 ~= K then
    fail(ctx, "shape() is (%s, %s, %s), the mask (%d, %d, %d, %d)", tostring(b2), tostring(q2), tostring(k2), B, H, Q, K)
  end
  local qi, ki = m:q_segment_ids(), m:kv_segment_ids()
  check_ids(ctx, "q_segment_ids", qi, B, Q)
  check_ids(ctx, "kv_segment_ids", ki, B, K)
  local gq, gk = m:get_or_compute_segment_ids()
  check_ids(ctx, "get_or_compute_segment_ids q", gq, B, Q)
  check_ids(ctx, "get_or_compute_segment_ids kv", gk, B, K)
  check_positions(ctx, "stored q_positions", m.q_positions, B, Q, true)
  check_positions(ctx, "stored kv_positions", m.kv_positions, B, K, true)
  local qp, kp = m:get_or_compute_positions()
  check_positions(ctx, "q positions", qp, B, Q, false)
  check_positions(ctx, "kv positions", kp, B, K, false)
  local shown = tostring(m)
  check_cu(ctx, "cu_seqlens_q", m:cu_seqlens_q(), qi, B, Q, shown:find("cu_seqlens_q.shape", 1, true) ~= nil)
  check_cu(ctx, "cu_seqlens_kv", m:cu_seqlens_kv(), ki, B, K, shown:find("cu_seqlens_kv.shape", 1, true) ~= nil)
  if with_file then check_file(ctx, m, B, H, Q, K) end
end

-- A maskinfo error: "bad argument #n to 'f' (...)" or "f: ..." without a
-- file:line prefix.
local function is_maskinfo_error(e)
  return type(e) == "string" and not e:find("^[^ ]*%.lua:%d+:") and
    (e:find("^bad argument #%d+ to '") ~= nil or e:find("^[%w_.]+: ") ~= nil)
end

describe("stored fields agree with the mask after every step", function()
  after_each(function() os.remove(TMP) end)

  for seed = 1, 6 do
    it(("30 random chains of up to 6 steps (seed %d)"):format(seed), function()
      math.randomseed(800 + seed)
      local steps, refused = 0, 0
      for chain = 1, 30 do
        local m, desc = gen_ctor()
        local ctx = ("seed %d chain %d: %s"):format(seed, chain, desc)
        check(ctx, m, true)
        for _ = 1, rnd(1, 6) do
          local ok, nm, d = pcall(gen_step, m)
          if ok then
            ctx = ctx .. " -> " .. d
            m = nm
            steps = steps + 1
            check(ctx, m, rnd(3) == 1)
          else
            assert(is_maskinfo_error(nm), ctx .. ": a step raised a non-maskinfo error: " .. tostring(nm))
            refused = refused + 1
          end
        end
        check(ctx, m, true)
      end
      -- the generator must mostly make valid steps, or the test proves little
      assert(steps > 4 * refused, ("%d steps ran, %d were refused"):format(steps, refused))
    end)
  end
end)
