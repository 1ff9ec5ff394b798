--- A naive dense reference for the mask-shaping ops, in plain Lua.
--
-- A reference state is a table
--   { B=, H=, Q=, K=, m = m[b][h][q][k] (1-based booleans),
--     q_ids, kv_ids   = stored segment ids ({[b][j]}, values as in the seed) or nil,
--     q_pos, kv_pos   = positions given by the user ({[b][j]}) or nil,
--     flags = { causal=, sliding_window=, chunked=, token_type_ids= } }
-- Every op returns a new state and leaves its argument alone.  Each op follows
-- the seed's definition (ejkernel MaskInfo.apply_*)
-- cell by cell, including how segment ids and positions are sliced.
-- Coordinates in arguments are 0-based like the API; tables are 1-based.

local R = {}

local function copy2(t)
  if t == nil then return nil end
  local o = {}
  for i, row in ipairs(t) do
    local r = {}
    for j, v in ipairs(row) do r[j] = v end
    o[i] = r
  end
  return o
end

local function new_mask(B, H, Q, K, fn)
  local m = {}
  for b = 1, B do
    m[b] = {}
    for h = 1, H do
      m[b][h] = {}
      for q = 1, Q do
        local row = {}
        for k = 1, K do row[k] = fn(b - 1, h - 1, q - 1, k - 1) and true or false end
        m[b][h][q] = row
      end
    end
  end
  return m
end
R.new_mask = new_mask

--- A random (B, H, Q, K) mask: each cell allowed with probability p.  Draws
-- math.random() once per cell in row-major order, so a seeded spec gets the
-- same masks as before.  random_mask(1, B, Q, K, p)[1] is a (B, Q, K) mask.
function R.random_mask(B, H, Q, K, p)
  return new_mask(B, H, Q, K, function() return math.random() < p end)
end

local function state(B, H, Q, K, m, extra)
  local s = { B = B, H = H, Q = Q, K = K, m = m,
    flags = { causal = false, sliding_window = false, chunked = false, token_type_ids = false } }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

-- A new state like s (ids, positions and flags copied) with mask m and shape.
local function derive(s, H, Q, K, m)
  local t = state(s.B, H, Q, K, m, {
    q_ids = copy2(s.q_ids), kv_ids = copy2(s.kv_ids), q_pos = copy2(s.q_pos), kv_pos = copy2(s.kv_pos) })
  for k, v in pairs(s.flags) do t.flags[k] = v end
  return t
end

local function cell(s, b, h, q, k)
  -- heads broadcast when the state has one head
  local hh = s.H == 1 and 1 or h
  return s.m[b][hh][q][k]
end
R.cell = cell

local function per_batch(v, B, dflt)
  if v == nil then v = dflt end
  if type(v) == "table" then return v end
  local t = {}
  for b = 1, B do t[b] = v end
  return t
end

local function clip(x, lo, hi)
  if x < lo then return lo end
  if x > hi then return hi end
  return x
end

local function flat_rows(ids)
  -- a flat sequence means batch 1
  if type(ids[1]) ~= "table" then return { ids } end
  return ids
end

---------------------------------------------------------------- constructors

--- from_segments(q [, kv]): pair allowed iff ids equal and >= 0.
function R.from_segments(q, kv)
  q = copy2(flat_rows(q))
  kv = kv and copy2(flat_rows(kv)) or copy2(q)
  local B, Q, K = #q, #q[1], #kv[1]
  local m = new_mask(B, 1, Q, K, function(b, _, i, j)
    local a, c = q[b + 1][i + 1], kv[b + 1][j + 1]
    return a >= 0 and a == c
  end)
  return state(B, 1, Q, K, m, { q_ids = q, kv_ids = kv })
end

--- A mask with no stored ids (from_random, from_function, ...): m[b][h][q][k].
function R.from_mask(m)
  local B, H, Q, K = #m, #m[1], #m[1][1], #m[1][1][1]
  local c = new_mask(B, H, Q, K, function(b, h, q, k) return m[b + 1][h + 1][q + 1][k + 1] end)
  return state(B, H, Q, K, c)
end

--- from_attention_mask on a 4-D mask: the mask is stored as is, ids are
-- padding style (0 where the row / column has any allowed cell over all heads).
function R.from_attention_mask4(m)
  local s = R.from_mask(m)
  local qi, ki = {}, {}
  for b = 1, s.B do
    qi[b], ki[b] = {}, {}
    for q = 1, s.Q do
      local any = false
      for h = 1, s.H do for k = 1, s.K do any = any or s.m[b][h][q][k] end end
      qi[b][q] = any and 0 or -1
    end
    for k = 1, s.K do
      local any = false
      for h = 1, s.H do for q = 1, s.Q do any = any or s.m[b][h][q][k] end end
      ki[b][k] = any and 0 or -1
    end
  end
  s.q_ids, s.kv_ids = qi, ki
  return s
end

--- Attach user positions (as from_segments' q_positions / kv_positions).
function R.with_positions(s, qp, kp)
  local t = derive(s, s.H, s.Q, s.K, s.m)
  t.q_pos = qp and copy2(flat_rows(qp)) or nil
  t.kv_pos = kp and copy2(flat_rows(kp)) or nil
  return t
end

---------------------------------------------------------------- derived views

-- Ids of one 2-D (Q, K) plane: rows (columns) with equal patterns share an
-- id numbered by first appearance; empty rows (columns) get -1.
local function plane_ids(Q, K, get)
  local qi, seen, n = {}, {}, 0
  for q = 1, Q do
    local key, any = {}, false
    for k = 1, K do
      local v = get(q, k)
      key[k] = v and "1" or "0"
      any = any or v
    end
    if not any then
      qi[q] = -1
    else
      local ks = table.concat(key)
      if seen[ks] == nil then seen[ks] = n; n = n + 1 end
      qi[q] = seen[ks]
    end
  end
  return qi
end

--- The seed's mask_to_segment_ids on head 0 (per_head = false).
function R.mask_to_segment_ids(s)
  local q, kv = {}, {}
  for b = 1, s.B do
    local p = s.m[b][1]
    q[b] = plane_ids(s.Q, s.K, function(i, j) return p[i][j] end)
    kv[b] = plane_ids(s.K, s.Q, function(j, i) return p[i][j] end)
  end
  return q, kv
end

--- Stored ids, or ids derived from the mask (get_or_compute_segment_ids).
function R.segment_ids(s)
  if s.q_ids and s.kv_ids then return s.q_ids, s.kv_ids end
  return R.mask_to_segment_ids(s)
end

--- Positions restarting at every change of id and after padding.
function R.positions(ids, pad)
  local out = {}
  for b, row in ipairs(ids) do
    local o, prev, cnt = {}, nil, 0
    for j, v in ipairs(row) do
      if v < 0 then
        o[j] = pad
        prev = nil
      else
        if v ~= prev then cnt = 0 else cnt = cnt + 1 end
        o[j] = cnt
        prev = v
      end
    end
    out[b] = o
  end
  return out
end

--- get_or_compute_positions: given positions, else computed from the ids.
function R.get_positions(s)
  local q, kv = R.segment_ids(s)
  return s.q_pos or R.positions(q, -1), s.kv_pos or R.positions(kv, 2147483647)
end

---------------------------------------------------------------- ops

local function and_rule(s, rule)
  local m = new_mask(s.B, s.H, s.Q, s.K, function(b, h, q, k)
    return s.m[b + 1][h + 1][q + 1][k + 1] and rule(b, h, q, k)
  end)
  return derive(s, s.H, s.Q, s.K, m)
end

--- apply_causal(offset): k <= q + offset[b].
function R.causal(s, offset)
  local off = per_batch(offset, s.B, 0)
  local t = and_rule(s, function(b, _, q, k) return k <= q + off[b + 1] end)
  t.flags.causal = true
  return t
end

-- Slice a (B, L) table per batch row: out[b] = ids[b][start[b] .. start[b] + len - 1].
local function slice_rows(ids, starts, len)
  if ids == nil then return nil end
  local out = {}
  for b, row in ipairs(ids) do
    local o = {}
    for j = 1, len do o[j] = row[starts[b] + j] end
    out[b] = o
  end
  return out
end
R.slice_rows = slice_rows

-- Slice the mask: rows [qs[b], qs[b] + ql), columns [ks[b], ks[b] + kl).
local function slice_mask(s, qs, ql, ks, kl)
  return new_mask(s.B, s.H, ql, kl, function(b, h, q, k)
    return s.m[b + 1][h + 1][qs[b + 1] + q + 1][ks[b + 1] + k + 1]
  end)
end

--- apply_sliding_window(window, {offset=, mode=, index=}).
-- window: integer, {left, right}, or (per-head, default mode only) a list of
-- integers / {left, right} pairs with one entry per head.
function R.sliding_window(s, window, opts)
  opts = opts or {}
  local off = per_batch(opts.offset, s.B, 0)
  local is_int = type(window) == "number"
  local Ls, Rs
  if is_int then
    Ls, Rs = { window }, { window }
  elseif type(window[1]) == "table" or #window ~= 2 then
    Ls, Rs = {}, {}
    for h, x in ipairs(window) do
      if type(x) == "table" then Ls[h], Rs[h] = x[1], x[2] else Ls[h], Rs[h] = x, x end
    end
  else
    Ls, Rs = { window[1] }, { window[2] }
  end
  local H = s.H
  if #Ls > 1 then H = #Ls end
  local m = new_mask(s.B, H, s.Q, s.K, function(b, h, q, k)
    local l = Ls[#Ls == 1 and 1 or h + 1]
    local r = Rs[#Rs == 1 and 1 or h + 1]
    local row = off[b + 1] + q
    return cell(s, b + 1, h + 1, q + 1, k + 1) and k >= row - l and k <= row + r
  end)
  local masked = derive(s, H, s.Q, s.K, m)
  masked.flags.sliding_window = true
  local mode = opts.mode or "default"
  if mode == "default" then return masked end
  local left, right = Ls[1], Rs[1]
  local K, Q = s.K, s.Q
  if mode == "decode" then
    local idx = per_batch(opts.index, s.B)
    local width = math.min(left + right + 1, K)
    local qs, ks = {}, {}
    for b = 1, s.B do
      local i = clip(idx[b], 0, Q - 1)
      qs[b] = i
      ks[b] = clip(i - left, 0, math.max(K - width, 0))
    end
    local t = derive(masked, H, 1, width, slice_mask(masked, qs, 1, ks, width))
    t.q_ids = slice_rows(masked.q_ids, qs, 1)
    t.kv_ids = slice_rows(masked.kv_ids, ks, width)
    t.q_pos = slice_rows(masked.q_pos, qs, 1)
    t.kv_pos = slice_rows(masked.kv_pos, ks, width)
    return t
  end
  assert(mode == "prefill", "unknown mode " .. tostring(mode))
  local width = is_int and math.min(left, K) or math.min(left + right + 1, K)
  local start = math.max(K - width, 0)
  local qs, ks = {}, {}
  for b = 1, s.B do qs[b], ks[b] = 0, start end
  local t = derive(masked, H, Q, width, slice_mask(masked, qs, Q, ks, width))
  t.kv_ids = slice_rows(masked.kv_ids, ks, width)
  t.kv_pos = slice_rows(masked.kv_pos, ks, width)
  return t
end

--- apply_chunked(c, offset): same chunk (raw indices) and k <= q + offset;
-- ids become chunk index + 1, -1 where the current id is < 0.
function R.chunked(s, c, offset)
  local off = per_batch(offset, s.B, 0)
  local q_cur, kv_cur = R.segment_ids(s)
  local t = and_rule(s, function(b, _, q, k) return q // c == k // c and k <= q + off[b + 1] end)
  local function ids(cur)
    local out = {}
    for b, row in ipairs(cur) do
      local o = {}
      for j, v in ipairs(row) do o[j] = v < 0 and -1 or (j - 1) // c + 1 end
      out[b] = o
    end
    return out
  end
  t.q_ids, t.kv_ids = ids(q_cur), ids(kv_cur)
  t.flags.chunked = true
  return t
end

--- apply_token_type_ids(types, {kv_token_type_ids=, combine=, zero_policy=, update_segment_ids=}).
function R.token_type_ids(s, types, opts)
  opts = opts or {}
  local qt = copy2(flat_rows(types))
  local kt = opts.kv_token_type_ids and copy2(flat_rows(opts.kv_token_type_ids)) or qt
  local combine = opts.combine or "union"
  local policy = opts.zero_policy or "q"
  local function eq(b, q, k)
    local a, c = qt[b + 1][q + 1], kt[b + 1][k + 1]
    local v = a == c
    if policy == "q" or policy == "both" then v = v and a ~= 0 end
    if policy == "kv" or policy == "both" then v = v and c ~= 0 end
    return v
  end
  local t
  if combine == "replace" then
    t = derive(s, 1, s.Q, s.K, new_mask(s.B, 1, s.Q, s.K, function(b, _, q, k) return eq(b, q, k) end))
  else
    t = derive(s, s.H, s.Q, s.K, new_mask(s.B, s.H, s.Q, s.K, function(b, h, q, k)
      local base = s.m[b + 1][h + 1][q + 1][k + 1]
      if combine == "union" then return base or eq(b, q, k) end
      return base and eq(b, q, k)
    end))
  end
  local update = opts.update_segment_ids
  if update == nil then update = combine ~= "union" end
  if update then
    local function z(ids)
      local out = copy2(ids)
      for _, row in ipairs(out) do
        for j, v in ipairs(row) do if v == 0 then row[j] = -1 end end
      end
      return out
    end
    t.q_ids, t.kv_ids = z(qt), z(kt)
  end
  t.flags.token_type_ids = true
  return t
end

--- apply_kv_lengths(lens, {q_len=, sliding_window=}).
function R.kv_lengths(s, lens, opts)
  local L = per_batch(lens, s.B)
  local ql = opts.q_len
  local Q, K = s.Q, s.K
  local masked = and_rule(s, function(b, _, _, k) return k < L[b + 1] end)
  local qs, ks = {}, {}
  for b = 1, s.B do
    qs[b] = clip(L[b] - ql, 0, math.max(Q - ql, 0))
    ks[b] = 0
  end
  local width = K
  if opts.sliding_window ~= nil then
    width = math.min(opts.sliding_window, K)
    for b = 1, s.B do ks[b] = clip(L[b] - width, 0, math.max(K - width, 0)) end
  end
  local t = derive(masked, s.H, ql, width, slice_mask(masked, qs, ql, ks, width))
  t.q_ids = slice_rows(masked.q_ids, qs, ql)
  if opts.sliding_window ~= nil then t.kv_ids = slice_rows(masked.kv_ids, ks, width) end
  -- provided positions are not sliced (the seed's replace keeps them)
  return t
end

---------------------------------------------------------------- algebra

local function binary(a, b, f)
  assert(a.B == b.B and a.Q == b.Q and a.K == b.K, "shapes differ")
  local H = math.max(a.H, b.H)
  local m = new_mask(a.B, H, a.Q, a.K, function(bb, h, q, k)
    return f(cell(a, bb + 1, h + 1, q + 1, k + 1), cell(b, bb + 1, h + 1, q + 1, k + 1))
  end)
  return state(a.B, H, a.Q, a.K, m)
end

function R.band(a, b) return binary(a, b, function(x, y) return x and y end) end
function R.bor(a, b) return binary(a, b, function(x, y) return x or y end) end
function R.sub(a, b) return binary(a, b, function(x, y) return x and not y end) end
function R.bnot(a)
  return state(a.B, a.H, a.Q, a.K, new_mask(a.B, a.H, a.Q, a.K, function(b, h, q, k)
    return not a.m[b + 1][h + 1][q + 1][k + 1]
  end))
end

---------------------------------------------------------------- queries

function R.count(s)
  local total, per = 0, {}
  for b = 1, s.B do
    per[b] = {}
    for h = 1, s.H do
      local n = 0
      for q = 1, s.Q do for k = 1, s.K do if s.m[b][h][q][k] then n = n + 1 end end end
      per[b][h] = n
      total = total + n
    end
  end
  return total, per
end

function R.empty_rows(s)
  local n, flags = 0, {}
  for b = 1, s.B do
    flags[b] = {}
    for h = 1, s.H do
      flags[b][h] = {}
      for q = 1, s.Q do
        local any = false
        for k = 1, s.K do any = any or s.m[b][h][q][k] end
        flags[b][h][q] = not any
        if not any then n = n + 1 end
      end
    end
  end
  return n, flags
end

--- Number of differing cells (heads broadcast) and the first one, 0-based.
function R.diff(a, b)
  local H = math.max(a.H, b.H)
  local n, first = 0, nil
  for bb = 1, a.B do
    for h = 1, H do
      for q = 1, a.Q do
        for k = 1, a.K do
          if cell(a, bb, h, q, k) ~= cell(b, bb, h, q, k) then
            n = n + 1
            first = first or { bb - 1, h - 1, q - 1, k - 1 }
          end
        end
      end
    end
  end
  return n, first
end

---------------------------------------------------------------- comparison helpers

--- Compare a nested (B, H, Q, K) table from the API with the state's mask.
-- Returns true, or false and a message naming the first differing cell.
function R.compare_mask(t, s)
  if #t ~= s.B then return false, ("batch: got %d, want %d"):format(#t, s.B) end
  for b = 1, s.B do
    if #t[b] ~= s.H then return false, ("heads: got %d, want %d"):format(#t[b], s.H) end
    for h = 1, s.H do
      if #t[b][h] ~= s.Q then return false, ("q_len: got %d, want %d"):format(#t[b][h], s.Q) end
      for q = 1, s.Q do
        local row, want = t[b][h][q], s.m[b][h][q]
        if #row ~= s.K then return false, ("kv_len: got %d, want %d"):format(#row, s.K) end
        for k = 1, s.K do
          if row[k] ~= want[k] then
            return false, ("cell (b=%d, h=%d, q=%d, kv=%d): got %s, want %s"):format(
              b - 1, h - 1, q - 1, k - 1, tostring(row[k]), tostring(want[k]))
          end
        end
      end
    end
  end
  return true
end

--- The reference state of a MaskInfo's stored (B, H, Q, K) mask.
function R.of(mi) return R.from_mask(mi:attention_mask():totable()) end

--- A busted assertion: mi's mask equals the state's, else it fails with
-- "ctx: <first differing cell>".
function R.assert_mask(mi, s, ctx)
  local ok, msg = R.compare_mask(mi:attention_mask():totable(), s)
  require("luassert")(ok, (ctx or "") .. ": " .. tostring(msg))
end

--- Compare two nested integer tables (e.g. segment ids).
function R.compare_rows(got, want, what)
  what = what or "ids"
  if #got ~= #want then return false, ("%s: %d rows, want %d"):format(what, #got, #want) end
  for b = 1, #want do
    if #got[b] ~= #want[b] then
      return false, ("%s row %d: length %d, want %d"):format(what, b - 1, #got[b], #want[b])
    end
    for j = 1, #want[b] do
      if got[b][j] ~= want[b][j] then
        return false, ("%s[%d][%d]: got %s, want %s"):format(what, b - 1, j - 1, tostring(got[b][j]), tostring(want[b][j]))
      end
    end
  end
  return true
end

function R.mask_string(s, b, h)
  local lines = {}
  for q = 1, s.Q do
    local r = {}
    for k = 1, s.K do r[k] = s.m[b or 1][h or 1][q][k] and "1" or "." end
    lines[q] = table.concat(r)
  end
  return table.concat(lines, "\n")
end

R.copy2 = copy2
R.flat_rows = flat_rows
R.per_batch = per_batch
R.clip = clip

return R
