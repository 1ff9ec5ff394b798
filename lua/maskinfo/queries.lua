--- Queries on the compact mask: allowed, count, density, empty_rows,
-- key_ranges, block_counts, diff and equals.  None expands the mask.
-- Defines methods only (through maskinfo.object).
-- @module maskinfo.queries

local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")

local argerr, need = E.argerr, E.need
local check_int, opt_table = args.check_int, args.opt_table
local method, logical = O.method, O.logical

-- The first `want` of the 0-based indices (b, h, q, kv), each checked
-- against m's shape (a missing one is an error like any other).
local function plane_index(fname, m, want, ...)
  local size, what = { m:shape() }, { "batch", "head", "query", "key" }
  local out = { ... }
  for n = 1, want do
    local v = check_int(fname, n, out[n], what[n])
    if v < 0 or v >= size[n] then
      argerr(fname, n, ("%s %d out of range [0, %d)"):format(what[n], v, size[n]))
    end
    out[n] = v
  end
  return table.unpack(out, 1, want)
end

--- Whether query q may attend to key kv (0-based).
method("allowed", nil, function(_, f, fname, b, h, q, kv)
  local m = logical(f, fname)
  return (need(fname, m:get(plane_index(fname, m, 4, b, h, q, kv))))
end)

--- The number of allowed cells, and a (batch, heads) int64 Array of
-- exact counts per head (a head of a 1M-token mask exceeds int32).
method("count", nil, function(_, f, fname)
  return need(fname, logical(f, fname):count())
end)

--- Allowed cells over all cells (0 for an empty shape).
method("density", nil, function(_, f, fname)
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  local total = need(fname, m:count())
  local cells = B * H * Q * K
  return cells == 0 and 0.0 or total / cells
end)

--- Query rows that attend to nothing (the NaN-softmax trap): their
-- number, and a (batch, heads, q_len) bool Array marking them.
method("empty_rows", nil, function(_, f, fname)
  return need(fname, logical(f, fname):empty_rows())
end)

--- The allowed keys of one query row as half-open ranges: a flat
-- sequence {lo1, hi1, lo2, hi2, ...} (0-based, sorted, disjoint).
method("key_ranges", nil, function(_, f, fname, b, h, q)
  local m = logical(f, fname)
  return need(fname, m:row(plane_index(fname, m, 3, b, h, q)))
end)

--- Allowed cells per block of one (batch, head) plane: an int64 Array of
-- shape (ceil(q_len / bq), ceil(kv_len / bk)); tail blocks are smaller.
-- A block is full when its count equals its area, empty when 0 (the
-- classification FlexAttention's block tables and splash's block masks use).
-- @tparam[opt] table opts block_size (integer or {q, kv}, default 128), batch, head
method("block_counts", nil, function(_, f, fname, opts)
  local m = logical(f, fname)
  opts = opt_table(fname, 1, opts, { block_size = true, batch = true, head = true })
  local bs = opts.block_size == nil and 128 or opts.block_size
  local bq, bk
  if type(bs) == "table" then bq, bk = bs[1], bs[2] else bq, bk = bs, bs end
  bq, bk = check_int(fname, 1, bq, "block_size", 1), check_int(fname, 1, bk, "block_size", 1)
  local B, H = m:shape()
  local function opt_index(v, what, size) -- options live in argument #1
    v = check_int(fname, 1, v, what)
    if v < 0 or v >= size then argerr(fname, 1, ("%s %d out of range [0, %d)"):format(what, v, size)) end
    return v
  end
  local b, h = opt_index(opts.batch or 0, "batch", B), opt_index(opts.head or 0, "head", H)
  local _, _, Q, K = m:shape()
  -- the two edge tables, then the (rows x cols) int64 counts: refused
  -- before either is built
  local nr, nc = (Q + bq - 1) // bq, (K + bk - 1) // bk
  G.guard(fname, nr + nc + 2, 8, "block edges")
  G.check_bytes(fname, nr * 1.0 * nc * 8, ("block counts of %d x %d blocks"):format(nr, nc))
  local function edges(n, step)
    local e = { 0 }
    for i = step, n - 1, step do e[#e + 1] = i end
    if n > 0 then e[#e + 1] = n end
    return e
  end
  return (need(fname, m:grid_counts(b, h, edges(Q, bq), edges(K, bk))))
end)

--- Number of cells where self and other differ, and the first one as
-- {b, h, q, kv} (nil when equal).  Shapes must agree (heads may broadcast).
method("diff", nil, function(_, f, fname, other)
  local m, o = logical(f, fname), O.other_mask(fname, 1, other)
  local differ = O.shapes_differ(m, o, true)
  if differ then argerr(fname, 1, differ) end
  return need(fname, m:diff(o))
end)

--- True when self and other allow exactly the same cells.
method("equals", nil, function(_, f, fname, other)
  local m, o = logical(f, fname), O.other_mask(fname, 1, other)
  if O.shapes_differ(m, o, false) then return false end
  return need(fname, m:diff(o)) == 0
end)

return {}
