--- Renderers: the seed's text view (visualize) and PNG heatmaps.  The work
-- is in core/src/render_text.c and core/src/render_png.c.  This file is the
-- one owner of the renderer options: it checks each option and gives it
-- its default once, then hands the binding plain values; the image size
-- follows from scale or width/height in the core alone.
-- Defines the visualize and render_png methods (through maskinfo.object)
-- and the module function render_png_grid.
-- @module maskinfo.render

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local R = require("maskinfo.arrays")

local argerr, need, check_int, opt_table = E.argerr, E.need, args.check_int, args.opt_table
local logical, plane_ids = O.logical, R.plane_ids
local status = core.status

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

---------------------------------------------------------------- PNG

-- The core's limit per image side (MASKINFO_MAX_IMAGE_SIDE): an explicit
-- size past it is refused here, naming the option; sizes the core derives
-- are checked by the core (EIMAGE).
local MAX_SIDE = core.max_image_side

local PNG_OPTS = { batch = true, head = true, scale = true, width = true, height = true, title = true,
  colormap = true, plain = true, show_segments = true, grid = true }

-- The decoded options of one panel (every field set, see lua/render.c) and
-- its mask, from the options table opts of argument n.
local function png_opts(fname, n, f, opts, allowed)
  opts = opt_table(fname, n, opts, allowed or PNG_OPTS)
  local m = logical(f, fname)
  local B, H, Q, K = m:shape()
  if Q == 0 or K == 0 then
    E.fail(fname, ("cannot draw an empty mask (q_len=%d, kv_len=%d)"):format(Q, K))
  end
  local t = {
    batch = index_opt(fname, n, opts.batch, "batch", B, 0),
    head = index_opt(fname, n, opts.head, "head", H, 0),
    plain = args.opt_bool(fname, n, opts.plain, "plain", false),
    scale = 0, width = 0, height = 0,
  }
  if opts.title ~= nil then
    if type(opts.title) ~= "string" then argerr(fname, n, "title: string expected, got " .. type(opts.title)) end
    if opts.title:find("\0", 1, true) then argerr(fname, n, "title: contains a NUL byte") end
    t.title = opts.title
  end
  if opts.scale ~= nil and (opts.width ~= nil or opts.height ~= nil) then
    argerr(fname, n, "give scale or width/height, not both")
  end
  if opts.scale ~= nil then
    t.scale = positive(fname, n, opts.scale, "scale")
    if math.max(Q, K) > MAX_SIDE // t.scale then
      argerr(fname, n, ("scale %d makes the heatmap %.0f pixels wide (at most %d)"):format(
        t.scale, t.scale * 1.0 * math.max(Q, K), MAX_SIDE))
    end
  elseif opts.width ~= nil or opts.height ~= nil then
    -- one side given: the core derives the other from the aspect ratio
    t.width = positive(fname, n, opts.width, "width", 0)
    t.height = positive(fname, n, opts.height, "height", 0)
    for _, k in ipairs({ "width", "height" }) do
      if t[k] > MAX_SIDE then argerr(fname, n, ("%s must be <= %d, got %d"):format(k, MAX_SIDE, t[k])) end
    end
  else -- the default: 512 pixels for small masks, about 1024 on the long side otherwise
    local big = math.max(Q, K)
    if big <= 256 then
      t.scale = math.max(1, 512 // big)
    else
      t.width = math.max(1, math.min(K, 1024 * K // big))
      t.height = math.max(1, math.min(Q, 1024 * Q // big))
    end
  end
  t.colormap = args.check_option(fname, n, opts.colormap, "colormap", { "grey", "viridis", "magma" }, "grey")
  t.show_segments = args.opt_bool(fname, n, opts.show_segments, "show_segments", true)
  local grid = args.opt_bool(fname, n, opts.grid, "grid", nil)
  t.grid = grid == nil and "auto" or (grid and "on" or "off")
  if t.show_segments and not t.plain and f.q_ids and f.kv_ids then
    t.q_ids, t.kv_ids = plane_ids(f.q_ids, t.batch, t.head), plane_ids(f.kv_ids, t.batch, t.head)
  end
  return m, t
end

-- The renderers' answer: width, height, or nil, message, status for a
-- refusal or a file failure.  A guard refusal says how big the image may be.
local function written(fname, ...)
  local w, _, st = ...
  if w == nil and st == status.ETOOBIG then
    return E.returned(fname, nil, ("the image is too large: at most %d pixels a side (margins included) "
      .. "and within the memory guard (%.3g GiB, see maskinfo.set_memory_limit)"):format(
      MAX_SIDE, G.get_memory_limit() / 2 ^ 30), st)
  end
  return E.returned(fname, ...)
end

--- Write a PNG heatmap of one (batch, head) plane.
-- @tparam string path written atomically (temp file + rename)
-- @tparam[opt] table opts scale | width/height, batch, head, title, colormap
-- ("grey"|"viridis"|"magma"), plain, show_segments, grid
-- @return width, height; or nil, message, status (a refusal or a file failure)
O.method("render_png", nil, function(_, f, fname, path, opts)
  path = args.path_arg(fname, 1, path)
  local m, t = png_opts(fname, 2, f, opts)
  return written(fname, m:render_png(path, t))
end)

--- Several masks side by side in one PNG.
-- @tparam table list MaskInfos
-- @tparam[opt] table opts titles, columns, heads, batches, and the render_png options
-- @return width, height; or nil, message, status (a refusal or a file failure)
function P.api.render_png_grid(path, list, opts)
  local fname = "render_png_grid"
  path = args.path_arg(fname, 1, path)
  if type(list) ~= "table" or #list == 0 then argerr(fname, 2, "non-empty list of MaskInfo expected") end
  local allowed = { titles = true, columns = true, heads = true, batches = true }
  for k in pairs(PNG_OPTS) do allowed[k] = true end
  opts = opt_table(fname, 3, opts, allowed)
  local columns = opts.columns == nil and 0 or check_int(fname, 3, opts.columns, "columns", 1)
  for _, k in ipairs({ "titles", "heads", "batches" }) do
    if opts[k] ~= nil and (type(opts[k]) ~= "table" or #opts[k] ~= #list) then
      argerr(fname, 3, ("%s: a list with one entry per mask (%d) expected"):format(k, #list))
    end
  end
  local masks, popts = {}, {}
  for i, mi in ipairs(list) do
    if not O.is_maskinfo(mi) then
      argerr(fname, 2, ("element %d: MaskInfo expected, got %s"):format(i, type(mi)))
    end
    local po = {}
    for k, v in pairs(opts) do if PNG_OPTS[k] then po[k] = v end end
    if opts.titles then po.title = opts.titles[i] end
    -- per-panel head / batch: the heads of one per-head mask side by side
    if opts.heads then po.head = opts.heads[i] end
    if opts.batches then po.batch = opts.batches[i] end
    masks[i], popts[i] = png_opts(fname, 3, O.fields(mi, fname), po)
  end
  return written(fname, core.render_png_grid(path, masks, popts, columns))
end

return P
