--- The seed's text view (visualize).  The work is in
-- core/src/render_text.c; this file owns its options.  Figures (PNG, SVG)
-- are in maskinfo.figure.
-- Defines the visualize method (through maskinfo.object).
-- @module maskinfo.render

local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local R = require("maskinfo.arrays")

local argerr, need, check_int, opt_table = E.argerr, E.need, args.check_int, args.opt_table
local logical, plane_ids = O.logical, R.plane_ids

local P = {}
--- The public functions of this module (copied into `maskinfo`).
P.api = {}

local function index_opt(fname, n, v, what, size, dflt)
  if v == nil then v = dflt end
  v = check_int(fname, n, v, what)
  if v < 0 or v >= size then
    argerr(fname, n, ("%s index %d out of range [0, %d)"):format(what, v, size))
  end
  return v
end

local function positive(fname, n, v, what, dflt)
  if v == nil then return dflt end
  v = check_int(fname, n, v, what)
  if v < 1 then argerr(fname, n, ("%s must be >= 1, got %d"):format(what, v)) end
  return v
end

-- Shared with maskinfo.figure: the one checker of index and size options.
P.index_opt, P.positive = index_opt, positive

---------------------------------------------------------------- visualize

-- The ids of plane (batch, head) to label: stored ids, or (like the seed)
-- ids derived from the mask, per head when the mask has several heads.
local function label_ids(f, m, batch, head, fname)
  local q, kv = f.q_ids, f.kv_ids
  if not q or not kv then
    q, kv = need(fname, m:segment_ids(select(2, m:shape()) > 1))
  end
  return plane_ids(q, batch, head), plane_ids(kv, batch, head)
end

local VIS_OPTS = { block_size = true, batch = true, head = true, fit_in_screen = true, max_rows = true,
  return_str = true, max_cols = true, charset = true, show_segments = true }

--- The seed's block view as a string (visualize(return_str=True)).
-- @tparam[opt] table opts block_size (integer or {q, kv}), batch, head,
-- fit_in_screen, max_rows, max_cols, charset ("unicode"|"ascii"), show_segments
O.method("visualize", "call", function(_, f, fname, opts)
  opts = opt_table(fname, 1, opts, VIS_OPTS)
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  local bq, bk
  local bs = opts.block_size
  if bs == nil then
    bq, bk = 32, 32
  elseif type(bs) == "table" then
    if #bs ~= 2 then argerr(fname, 1, "block_size: integer or {q, kv} expected") end
    bq, bk = positive(fname, 1, bs[1], "block_size", 32), positive(fname, 1, bs[2], "block_size", 32)
  else
    bq = positive(fname, 1, bs, "block_size", 32)
    bk = bq
  end
  local batch = index_opt(fname, 1, opts.batch, "batch", B, 0)
  local head = index_opt(fname, 1, opts.head, "head", H, 0)
  local charset = args.check_option(fname, 1, opts.charset, "charset", { "unicode", "ascii" }, "unicode")
  local show = args.opt_bool(fname, 1, opts.show_segments, "show_segments", true)
  local t = {
    block_q = bq, block_kv = bk, batch = batch, head = head,
    fit_in_screen = args.opt_bool(fname, 1, opts.fit_in_screen, "fit_in_screen", true),
    max_rows = positive(fname, 1, opts.max_rows, "max_rows", 32),
    max_cols = positive(fname, 1, opts.max_cols, "max_cols", 64),
    ascii = charset == "ascii", show_segments = show,
  }
  local qi, ki
  if show then qi, ki = label_ids(f, m, batch, head, fname) end
  local s = need(fname, m:render_text(t, qi, ki, R.shape_str({ B, H, Q, K })))
  -- return_str = false prints it, as the seed's default does
  if not args.opt_bool(fname, 1, opts.return_str, "return_str", true) then
    print(s)
    return nil
  end
  return s
end)

return P
