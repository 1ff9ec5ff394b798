--- Renderers: the seed's text view (visualize) and PNG heatmaps.
-- Installed into the MaskInfo methods by maskinfo/init.lua.  The work is in
-- core/src/render_text.c and core/src/render_png.c; this file checks the
-- options and picks the segment ids to label.
-- @module maskinfo.render

local args = require("maskinfo.args")

local argerr, fail, check_int, opt_table = args.argerr, args.fail, args.check_int, args.opt_table

return function(I)
  local core, methods, M = I.core, I.methods, I.M
  local fields, logical, plane_ids = I.fields, I.logical, I.plane_ids

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

  -- The ids of plane (batch, head) to label: stored ids, or (like the seed)
  -- ids derived from the mask, per head when the mask has several heads.
  local function label_ids(f, m, batch, head, fname)
    local H = select(2, m:shape())
    local q, kv = f.q_ids, f.kv_ids
    local dq, dkv
    if not q or not kv then
      local per_head = H > 1
      dq, dkv = m:segment_ids(per_head)
      if not dq then fail(fname, dkv) end
    end
    return plane_ids(q or dq, batch, head), plane_ids(kv or dkv, batch, head)
  end

  local VIS_OPTS = { block_size = true, batch = true, head = true, fit_in_screen = true, max_rows = true,
    return_str = true,
    max_cols = true, charset = true, show_segments = true }

  --- The seed's block view as a string (visualize(return_str=True)).
  -- @tparam[opt] table opts block_size (integer or {q, kv}), batch, head,
  -- fit_in_screen, max_rows, max_cols, charset ("unicode"|"ascii"), show_segments
  function methods.visualize(self, opts)
    local fname = "visualize"
    local f = fields(self, fname)
    I.trace("MaskInfo", fname)
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
    local fit = args.opt_bool(fname, 1, opts.fit_in_screen, "fit_in_screen", true)
    local t = {
      block_q = bq, block_kv = bk, batch = batch, head = head, fit_in_screen = fit and true or false,
      max_rows = positive(fname, 1, opts.max_rows, "max_rows", 32),
      max_cols = positive(fname, 1, opts.max_cols, "max_cols", 64),
      ascii = charset == "ascii", show_segments = show and true or false,
    }
    local qi, ki
    if show then qi, ki = label_ids(f, m, batch, head, fname) end
    local s, err = m:render_text(t, qi, ki, I.shape_str({ B, H, Q, K }))
    if not s then fail(fname, err) end
    -- return_str = false prints it, as the seed's default does
    if not args.opt_bool(fname, 1, opts.return_str, "return_str", true) then
      print(s)
      return nil
    end
    return s
  end

  local PNG_OPTS = { batch = true, head = true, scale = true, width = true, height = true, title = true,
    colormap = true, plain = true, show_segments = true, grid = true }

  local function png_opts(fname, n, f, opts, allowed)
    opts = opt_table(fname, n, opts, allowed or PNG_OPTS)
    local m = logical(f, fname)
    local B, H, Q, K = m:shape()
    if Q == 0 or K == 0 then
      fail(fname, ("cannot draw an empty mask (q_len=%d, kv_len=%d)"):format(Q, K))
    end
    if opts.title ~= nil and type(opts.title) == "string" and opts.title:find("\0", 1, true) then
      argerr(fname, n, "title: contains a NUL byte")
    end
    local t = {
      batch = index_opt(fname, n, opts.batch, "batch", B, 0),
      head = index_opt(fname, n, opts.head, "head", H, 0),
      plain = args.opt_bool(fname, n, opts.plain, "plain", false),
      grid = opts.grid,
    }
    if opts.scale ~= nil and (opts.width ~= nil or opts.height ~= nil) then
      argerr(fname, n, "give scale or width/height, not both")
    end
    if opts.scale ~= nil then
      t.scale = positive(fname, n, opts.scale, "scale")
    elseif opts.width ~= nil or opts.height ~= nil then
      t.width = positive(fname, n, opts.width, "width", nil)
      t.height = positive(fname, n, opts.height, "height", nil)
      -- one side given: keep the mask's aspect ratio
      if not t.width then t.width = math.max(1, (t.height * K + Q - 1) // math.max(Q, 1)) end
      if not t.height then t.height = math.max(1, (t.width * Q + K - 1) // math.max(K, 1)) end
    else
      local big = math.max(Q, K)
      if big <= 256 then
        t.scale = math.max(1, 512 // math.max(big, 1))
      else
        t.width = math.max(1, math.min(K, 1024 * K // big))
        t.height = math.max(1, math.min(Q, 1024 * Q // big))
      end
    end
    -- libpng's limit is a million pixels a side (MAX_SIDE); say so before
    -- the core refuses
    local MAX_SIDE = 1000000
    if t.scale and math.max(Q, K) > MAX_SIDE // t.scale then
      argerr(fname, n, ("scale %d makes the heatmap %.0f pixels wide (at most %d)"):format(
        t.scale, t.scale * 1.0 * math.max(Q, K), MAX_SIDE))
    end
    for _, k in ipairs({ "width", "height" }) do
      if t[k] and t[k] > MAX_SIDE then
        argerr(fname, n, ("%s must be <= %d, got %d"):format(k, MAX_SIDE, t[k]))
      end
    end
    if opts.title ~= nil then
      if type(opts.title) ~= "string" then argerr(fname, n, "title: string expected, got " .. type(opts.title)) end
      t.title = opts.title
    end
    t.colormap = args.check_option(fname, n, opts.colormap, "colormap", { "grey", "viridis", "magma" }, "grey")
    local show = args.opt_bool(fname, n, opts.show_segments, "show_segments", true)
    t.show_segments = show
    if opts.grid ~= nil then t.grid = args.opt_bool(fname, n, opts.grid, "grid", nil) end
    local qi, ki
    if show and not t.plain and f.q_ids and f.kv_ids then
      qi, ki = plane_ids(f.q_ids, t.batch, t.head), plane_ids(f.kv_ids, t.batch, t.head)
    end
    return m, t, qi, ki
  end

  -- Only file and encoder failures (MASKINFO_EIO = 6, MASKINFO_EPNG = 7)
  -- are about the path; a guard refusal is not.
  local function write_error(path, msg, code)
    if code == 6 or code == 7 then
      return ("cannot write '%s': %s"):format(path, msg)
    end
    if code == 5 then -- MASKINFO_ETOOBIG: a side past 1000000 pixels, or the memory guard
      return ("the image is too large: at most 1000000 pixels a side (margins included) and "
        .. "within the memory guard (%.3g GiB, see maskinfo.set_memory_limit)"):format(M.get_memory_limit() / 2 ^ 30)
    end
    return msg
  end

  local path_arg = args.path_arg

  --- Write a PNG heatmap of one (batch, head) plane; returns width, height.
  -- @tparam string path written atomically (temp file + rename)
  -- @tparam[opt] table opts scale | width/height, batch, head, title, colormap
  -- ("grey"|"viridis"|"magma"), plain, show_segments, grid
  function methods.render_png(self, path, opts)
    local fname = "render_png"
    local f = fields(self, fname)
    path = path_arg(fname, 1, path)
    local m, t, qi, ki = png_opts(fname, 2, f, opts)
    local w, h, code = m:render_png(path, t, qi, ki)
    if not w then fail(fname, write_error(path, h, code)) end
    return w, h
  end

  --- Several masks side by side in one PNG; returns width, height.
  -- @tparam table list MaskInfos
  -- @tparam[opt] table opts titles, columns, and the render_png options
  function M.render_png_grid(path, list, opts)
    local fname = "render_png_grid"
    path = path_arg(fname, 1, path)
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
      if not core.is_maskinfo(mi) then
        argerr(fname, 2, ("element %d: MaskInfo expected, got %s"):format(i, type(mi)))
      end
      local po = {}
      for k, v in pairs(opts) do if PNG_OPTS[k] then po[k] = v end end
      if opts.titles then po.title = opts.titles[i] end
      -- per-panel head / batch: the heads of one per-head mask side by side
      if opts.heads then po.head = opts.heads[i] end
      if opts.batches then po.batch = opts.batches[i] end
      local m, t, qi, ki = png_opts(fname, 3, fields(mi, fname), po)
      t.q_ids, t.kv_ids = qi, ki
      masks[i], popts[i] = m, t
    end
    local w, h, code = core.render_png_grid(path, masks, popts, columns)
    if not w then fail(fname, write_error(path, h, code)) end
    return w, h
  end
end
