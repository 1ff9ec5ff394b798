--- Custom masks: from_function (a predicate per cell) and from_rows (key
-- ranges per row), built as row intervals, never as a dense array.
-- @module maskinfo.custom

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")

local argerr, fail, need = E.argerr, E.fail, E.need
local check_int, opt_table = args.check_int, args.opt_table

local U = {}
--- The public functions of this module (copied into `maskinfo`).
U.api = {}

local SHAPE_OPTS = { batch_size = true, num_heads = true, q_len = true, kv_len = true, fn = true }

local function shape_opts(fname, t)
  t = opt_table(fname, 1, t, SHAPE_OPTS)
  if type(t.fn) ~= "function" then argerr(fname, 1, "option 'fn': function expected, got " .. type(t.fn)) end
  local B = t.batch_size == nil and 1 or check_int(fname, 1, t.batch_size, "batch_size", 0)
  local H = t.num_heads == nil and 1 or check_int(fname, 1, t.num_heads, "num_heads", 1)
  if t.q_len == nil then argerr(fname, 1, "option 'q_len' is required") end
  local Q = check_int(fname, 1, t.q_len, "q_len", 0)
  local K = t.kv_len == nil and Q or check_int(fname, 1, t.kv_len, "kv_len", 0)
  -- the row offsets and at least one interval per row; a (B, H) plane
  -- costs a row even when Q is 0, so huge empty shapes are refused too
  G.check_bytes(fname, B * 1.0 * H * math.max(Q, 1) * 24, ("the row table of (%d, %d, %d) rows"):format(B, H, Q))
  return B, H, Q, K, t.fn
end

-- A MaskInfo whose mask holds, for every row (b, h, q), the half-open key
-- ranges add_row(b, h, q, add) passes to add(lo, hi).
local function from_row_ranges(fname, B, H, Q, K, add_row)
  local offs, iv, n = { 0 }, {}, 0
  local function add(lo, hi) iv[n + 1], iv[n + 2], n = lo, hi, n + 2 end
  for b = 0, B - 1 do
    for h = 0, H - 1 do
      for q = 0, Q - 1 do
        add_row(b, h, q, add)
        offs[#offs + 1] = n // 2
      end
    end
  end
  local f = O.default_fields()
  f.mask = need(fname, core.intervals(B, H, Q, K, offs, iv))
  return O.new(f)
end

--- A mask from a predicate fn(b, h, q, kv) -> boolean (0-based).
function U.api.from_function(t)
  local fname = "from_function"
  local B, H, Q, K, fn = shape_opts(fname, t)
  -- fn runs once per cell: as many cells as a dense bool mask has bytes
  G.check_bytes(fname, B * 1.0 * H * math.max(Q, 1) * math.max(K, 1),
    ("calling fn on every cell of a (%d, %d, %d, %d) mask"):format(B, H, Q, K))
  return from_row_ranges(fname, B, H, Q, K, function(b, h, q, add)
    local run = nil
    for k = 0, K - 1 do
      local good, v = pcall(fn, b, h, q, k)
      if not good then
        fail(fname, ("fn raised an error at (b=%d, h=%d, q=%d, kv=%d): %s"):format(b, h, q, k, tostring(v)))
      end
      if type(v) ~= "boolean" then
        fail(fname, ("fn must return a boolean, got %s at (b=%d, h=%d, q=%d, kv=%d)"):format(type(v), b, h, q, k))
      end
      if v and not run then
        run = k
      elseif not v and run then
        add(run, k)
        run = nil
      end
    end
    if run then add(run, K) end
  end)
end

--- A mask from allowed key ranges per row: fn(b, h, q) returns a flat list
-- {lo1, hi1, lo2, hi2, ...} of half-open ranges [lo, hi), 0-based.
function U.api.from_rows(t)
  local fname = "from_rows"
  local B, H, Q, K, fn = shape_opts(fname, t)
  return from_row_ranges(fname, B, H, Q, K, function(b, h, q, add)
    local good, r = pcall(fn, b, h, q)
    if not good then
      fail(fname, ("fn raised an error at (b=%d, h=%d, q=%d): %s"):format(b, h, q, tostring(r)))
    end
    if type(r) ~= "table" then
      fail(fname, ("fn must return a table of ranges, got %s at (b=%d, h=%d, q=%d)"):format(type(r), b, h, q))
    end
    if #r % 2 ~= 0 then
      fail(fname, ("fn returned an odd number of bounds at (b=%d, h=%d, q=%d)"):format(b, h, q))
    end
    for i = 1, #r, 2 do
      local lo, hi = args.int_of(r[i]), args.int_of(r[i + 1])
      if not lo or not hi or lo < 0 or hi < lo or hi > K then
        fail(fname, ("range %s..%s at (b=%d, h=%d, q=%d) is not 0 <= lo <= hi <= %d"):format(
          tostring(r[i]), tostring(r[i + 1]), b, h, q, K))
      end
      add(lo, hi)
    end
  end)
end

return U
