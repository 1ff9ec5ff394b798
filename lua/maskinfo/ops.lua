--- Mask-shaping ops (the seed's apply_*), the mask algebra, per-head masks,
-- custom predicates and queries.  Installed into the MaskInfo methods by
-- maskinfo/init.lua.
--
-- Every op ANDs (or ORs) a small rule node into the compact mask; slices
-- (decode, prefill, kv lengths) are views.  Nothing here expands a mask.
-- @module maskinfo.ops

local args = require("maskinfo.args")

local argerr, fail, check_int, opt_table = args.argerr, args.fail, args.check_int, args.opt_table

return function(I)
  local core, methods, meta, M = I.core, I.methods, I.meta, I.M
  local fields, derive, logical, seg_ids = I.fields, I.derive, I.logical, I.seg_ids
  local slice_last, map_array, trace = I.slice_last, I.map_array, I.trace

  local function dims(f, fname)
    local B, H, Q, K = logical(f, fname):shape()
    return B, H, Q, K
  end

  local function ok(fname, m, err)
    if not m then fail(fname, err) end
    return m
  end

  local function band(fname, a, b)
    return ok(fname, a:and_(b))
  end

  -- Per-batch integer parameter: an integer or a sequence of B integers.
  local function per_batch(fname, n, v, what, B, dflt)
    if v == nil then v = dflt end
    return args.per_batch(fname, n, v, what, B)
  end

  --- Causal masking: key k is allowed for query q iff k <= q + offset.
  -- @param[opt=0] offset an integer or one per batch row
  function methods.apply_causal(self, offset)
    local fname = "apply_causal"
    local f = fields(self, fname)
    trace("MaskInfo", fname)
    local B, _, Q, K = dims(f, fname)
    local off = per_batch(fname, 1, offset, "offset", B, 0)
    local rule = ok(fname, core.causal(B, Q, K, off))
    return derive(f, { mask = band(fname, logical(f, fname), rule), mask_dtype = "bool", causal = true })
  end

  -- Window as left and right (integers, or per-head lists).
  local function window_arg(fname, w)
    local function nonneg(v, what)
      local iv = math.tointeger(v)
      if iv == nil then
        argerr(fname, 1, ("%s: integer expected, got %s"):format(what,
          type(v) == "number" and tostring(v) or type(v)))
      end
      if iv < 0 then argerr(fname, 1, ("window must be non-negative, got %d"):format(iv)) end
      return iv
    end
    if type(w) == "number" then
      local v = nonneg(w, "window")
      return { v }, { v }, true
    end
    if type(w) ~= "table" then
      argerr(fname, 1, "window: integer, {left, right} or a list of per-head windows expected, got " .. type(w))
    end
    local nkeys = 0
    for _ in pairs(w) do nkeys = nkeys + 1 end
    if nkeys ~= #w then argerr(fname, 1, "window: a sequence without holes expected") end
    if type(w[1]) == "table" or (#w ~= 2 and #w >= 1) then
      -- one window per head: each an integer or {left, right}
      local L, R = {}, {}
      for h, x in ipairs(w) do
        if type(x) == "table" then
          if #x ~= 2 then argerr(fname, 1, ("window for head %d: {left, right} expected"):format(h - 1)) end
          L[h], R[h] = nonneg(x[1], "left window"), nonneg(x[2], "right window")
        else
          L[h] = nonneg(x, "window")
          R[h] = L[h]
        end
      end
      if #L == 0 then argerr(fname, 1, "window: empty list") end
      return L, R, false
    end
    if #w ~= 2 then argerr(fname, 1, "window: {left, right} expected") end
    return { nonneg(w[1], "left window") }, { nonneg(w[2], "right window") }, false
  end

  --- Sliding-window masking around each query (plus offset).
  -- @param window an integer (symmetric), {left, right}, or per-head windows
  -- @tparam[opt] table opts offset, mode ("default", "decode", "prefill"), index
  function methods.apply_sliding_window(self, window, opts)
    local fname = "apply_sliding_window"
    local f = fields(self, fname)
    trace("MaskInfo", fname)
    local L, R, is_int = window_arg(fname, window)
    opts = opt_table(fname, 2, opts, { offset = true, mode = true, index = true })
    local mode = args.check_option(fname, 2, opts.mode, "mode", { "default", "decode", "prefill" }, "default")
    if mode == "decode" and opts.index == nil then
      argerr(fname, 2, "index is required when mode is 'decode'")
    end
    local B, H, Q, K = dims(f, fname)
    local off = per_batch(fname, 2, opts.offset, "offset", B, 0)
    if #L > 1 and H ~= 1 and #L ~= H then
      argerr(fname, 1, ("%d per-head windows for a mask with %d heads"):format(#L, H))
    end
    local rule = ok(fname, core.window(B, Q, K, #L == 1 and L[1] or L, #R == 1 and R[1] or R, off))
    local masked = band(fname, logical(f, fname), rule)
    if mode == "default" then
      return derive(f, { mask = masked, mask_dtype = "bool", sliding_window = true })
    end
    if #L > 1 then argerr(fname, 1, "per-head windows are not supported with mode '" .. mode .. "'") end
    -- clamp so that left + right + 1 cannot wrap around for huge windows
    local left, right = math.min(L[1], K + Q), math.min(R[1], K + Q)
    if mode == "decode" then
      if Q == 0 then fail(fname, "mode 'decode' needs a mask with at least one query") end
      local idx = per_batch(fname, 2, opts.index, "index", B)
      local width = math.min(left + right + 1, K)
      local qs, ks = {}, {}
      for b = 1, B do
        local i = math.max(0, math.min(idx[b], Q - 1))
        qs[b] = i
        ks[b] = math.max(0, math.min(i - left, math.max(K - width, 0)))
      end
      local view = ok(fname, masked:slice(qs, math.min(1, Q), ks, width))
      local ch = { mask = view, mask_dtype = "bool", sliding_window = true }
      if f.q_ids then ch.q_ids = slice_last(f.q_ids, qs, 1) end
      if f.kv_ids then ch.kv_ids = slice_last(f.kv_ids, ks, width) end
      if f.q_pos then ch.q_pos = slice_last(f.q_pos, qs, 1) end
      if f.kv_pos then ch.kv_pos = slice_last(f.kv_pos, ks, width) end
      return derive(f, ch)
    end
    -- prefill: keep the last width keys
    local width = is_int and math.min(left, K) or math.min(left + right + 1, K)
    local start = math.max(K - width, 0)
    local ks = {}
    for b = 1, B do ks[b] = start end
    local view = ok(fname, masked:slice(0, Q, ks, width))
    local ch = { mask = view, mask_dtype = "bool", sliding_window = true }
    if f.kv_ids then ch.kv_ids = slice_last(f.kv_ids, ks, width) end
    if f.kv_pos then ch.kv_pos = slice_last(f.kv_pos, ks, width) end
    return derive(f, ch)
  end

  --- Chunked causal attention; segment ids become chunk index + 1 (padding
  -- stays -1).
  function methods.apply_chunked(self, chunk_size, offset)
    local fname = "apply_chunked"
    local f = fields(self, fname)
    trace("MaskInfo", fname)
    local chunk = check_int(fname, 1, chunk_size, "chunk_size")
    if chunk <= 0 then argerr(fname, 1, ("chunk_size must be a positive integer, got %d"):format(chunk)) end
    local B, _, Q, K = dims(f, fname)
    local off = per_batch(fname, 2, offset, "offset", B, 0)
    local rule = ok(fname, core.chunked(B, Q, K, chunk, off))
    local q, kv = seg_ids(f, false, fname)
    local function chunk_ids(ids)
      local s = ids:shape()
      local L = s[#s]
      local flat, out = ids:flat(), {}
      for i = 1, #flat do
        out[i] = flat[i] < 0 and -1 or ((i - 1) % L) // chunk + 1
      end
      return args.new_array(fname, "int32", s, out)
    end
    return derive(f, { mask = band(fname, logical(f, fname), rule), mask_dtype = "bool",
      q_ids = chunk_ids(q), kv_ids = chunk_ids(kv), chunked = true })
  end

  local POLICY = { q = { 1, 2 }, kv = { 2, 1 }, both = { 1, 1 }, none = { 2, 2 } }

  --- Token-type masking: q and kv tokens of equal type attend.
  -- @param types (B, Q) token types (or a flat sequence)
  -- @tparam[opt] table opts kv_token_type_ids, combine, zero_policy, update_segment_ids
  function methods.apply_token_type_ids(self, types, opts)
    local fname = "apply_token_type_ids"
    local f = fields(self, fname)
    trace("MaskInfo", fname)
    opts = opt_table(fname, 2, opts, { kv_token_type_ids = true, combine = true, zero_policy = true,
      update_segment_ids = true })
    local combine = args.check_option(fname, 2, opts.combine, "combine", { "union", "intersect", "replace" }, "union")
    local policy = args.check_option(fname, 2, opts.zero_policy, "zero_policy", { "q", "kv", "both", "none" }, "q")
    local qt = args.ids_arg(fname, 1, types, "token_type_ids", { min = false })
    local kt = opts.kv_token_type_ids ~= nil and
      args.ids_arg(fname, 2, opts.kv_token_type_ids, "kv_token_type_ids", { min = false }) or qt
    local B, _, Q, K = dims(f, fname)
    local qs, ks = qt:shape(), kt:shape()
    if qs[1] ~= ks[1] then
      argerr(fname, 2, ("batch sizes differ: %d query rows and %d key rows of token types"):format(qs[1], ks[1]))
    end
    if qs[1] ~= B then
      argerr(fname, 1, ("token types have %d batch rows, the mask has %d"):format(qs[1], B))
    end
    if qs[2] ~= Q then argerr(fname, 1, ("token types have length %d, the mask has %d queries"):format(qs[2], Q)) end
    if ks[2] ~= K then argerr(fname, 2, ("kv token types have length %d, the mask has %d keys"):format(ks[2], K)) end
    local p = POLICY[policy]
    local eq = ok(fname, core.segments(qt, kt, p[1], p[2]))
    local new_mask
    if combine == "union" then
      new_mask = ok(fname, logical(f, fname):or_(eq))
    elseif combine == "intersect" then
      new_mask = band(fname, logical(f, fname), eq)
    else
      new_mask = eq
    end
    local update = args.opt_bool(fname, 2, opts.update_segment_ids, "update_segment_ids", combine ~= "union")
    local ch = { mask = new_mask, mask_dtype = "bool", token_type_ids = true }
    if update then
      -- the types become segment ids, which must be >= -1
      for _, t in ipairs({ qt, kt }) do
        local lo = t:minmax()
        if lo and lo < -1 then
          argerr(fname, 1, ("token types must be >= -1 when they become segment ids, got %d"):format(lo))
        end
      end
      local function zero_pad(x) return x == 0 and -1 or x end
      ch.q_ids = map_array(qt, "int32", zero_pad)
      ch.kv_ids = map_array(kt, "int32", zero_pad)
    end
    return derive(f, ch)
  end

  --- Mask keys at or beyond each row's length and keep the last q_len
  -- queries (and optionally the last sliding_window keys).
  -- @param kv_lengths an integer or one per batch row
  -- @tparam table opts q_len (required), sliding_window
  function methods.apply_kv_lengths(self, kv_lengths, opts)
    local fname = "apply_kv_lengths"
    local f = fields(self, fname)
    trace("MaskInfo", fname)
    opts = opt_table(fname, 2, opts, { q_len = true, sliding_window = true })
    if opts.q_len == nil then argerr(fname, 2, "q_len must be provided") end
    local q_len = check_int(fname, 2, opts.q_len, "q_len", 0)
    local B, _, Q, K = dims(f, fname)
    local lens = per_batch(fname, 1, kv_lengths, "kv_lengths", B)
    for b = 1, B do
      if lens[b] < 0 then argerr(fname, 1, ("kv_lengths must be >= 0, got %d"):format(lens[b])) end
    end
    if q_len > Q then
      argerr(fname, 2, ("q_len (%d) exceeds the mask's query length (%d)"):format(q_len, Q))
    end
    local attn = band(fname, logical(f, fname), ok(fname, core.key_range(B, Q, K, 0, lens)))
    local qs = {}
    for b = 1, B do qs[b] = math.max(0, math.min(lens[b] - q_len, math.max(Q - q_len, 0))) end
    local ch = { mask_dtype = "bool" }
    if f.q_ids then ch.q_ids = slice_last(f.q_ids, qs, q_len) end
    local ks, width = nil, K
    if opts.sliding_window ~= nil then
      local sw = check_int(fname, 2, opts.sliding_window, "sliding_window", 0)
      width = math.min(sw, K)
      ks = {}
      for b = 1, B do ks[b] = math.max(0, math.min(lens[b] - width, math.max(K - width, 0))) end
      if f.kv_ids then ch.kv_ids = slice_last(f.kv_ids, ks, width) end
    end
    ch.mask = ok(fname, attn:slice(qs, q_len, ks or 0, width))
    return derive(f, ch)
  end

  ---------------------------------------------------------------- algebra

  local function operands(fname, a, b)
    if not core.is_maskinfo(a) then argerr(fname, 1, "MaskInfo expected, got " .. type(a)) end
    if not core.is_maskinfo(b) then argerr(fname, 2, "MaskInfo expected, got " .. type(b)) end
    local fa, fb = fields(a, fname), fields(b, fname)
    local ma, mb = logical(fa, fname), logical(fb, fname)
    local B1, H1, Q1, K1 = ma:shape()
    local B2, H2, Q2, K2 = mb:shape()
    if B1 ~= B2 or Q1 ~= Q2 or K1 ~= K2 or (H1 ~= H2 and H1 ~= 1 and H2 ~= 1) then
      argerr(fname, 2, ("shapes differ: (%d, %d, %d, %d) and (%d, %d, %d, %d)"):format(
        B1, H1, Q1, K1, B2, H2, Q2, K2))
    end
    return fa, fb, ma, mb
  end

  -- The result of a binary op keeps the segment ids (and positions) only
  -- when both operands store the same ones; the flags are OR-ed.
  local function combined(fa, fb, mask)
    local ch = { mask = mask, mask_dtype = "bool" }
    local same_ids = fa.q_ids and fb.q_ids and fa.kv_ids and fb.kv_ids and
      fa.q_ids == fb.q_ids and fa.kv_ids == fb.kv_ids
    if not same_ids then
      ch.q_ids, ch.kv_ids = args.NONE, args.NONE
    end
    for _, k in ipairs(I.FLAG_KEYS) do ch[k] = fa[k] or fb[k] end
    return derive(fa, ch)
  end

  --- a & b: cells allowed in both.  Shapes agree (heads may broadcast);
  -- segment ids are kept only when both store the same ones; flags OR-ed.
  function meta.__band(a, b)
    local fa, fb, ma, mb = operands("__band", a, b)
    return combined(fa, fb, ok("__band", ma:and_(mb)))
  end

  --- a | b: cells allowed in either (same rules as &).
  function meta.__bor(a, b)
    local fa, fb, ma, mb = operands("__bor", a, b)
    return combined(fa, fb, ok("__bor", ma:or_(mb)))
  end

  local function minus(fname, a, b)
    local fa, fb, ma, mb = operands(fname, a, b)
    return combined(fa, fb, ok(fname, ma:andnot(mb)))
  end

  --- a - b: cells allowed in a and not in b (same rules as &).
  function meta.__sub(a, b) return minus("__sub", a, b) end

  --- ~a: the complement; drops segment ids and clears the flags.
  function meta.__bnot(a)
    local f = fields(a, "__bnot")
    local ch = { mask = ok("__bnot", logical(f, "__bnot"):not_()), mask_dtype = "bool",
      q_ids = args.NONE, kv_ids = args.NONE }
    for _, k in ipairs(I.FLAG_KEYS) do ch[k] = false end
    return derive(f, ch)
  end

  --- Cells allowed in self and not in other.
  function methods.minus(self, other) return minus("minus", self, other) end

  ---------------------------------------------------------------- per-head and custom masks

  --- One head per MaskInfo (splash's MultiHeadMask).
  -- @tparam table list MaskInfos with one head each and equal shapes
  function M.stack_heads(list)
    local fname = "stack_heads"
    if type(list) ~= "table" or #list == 0 then
      argerr(fname, 1, "non-empty list of MaskInfo expected")
    end
    local masks, f1 = {}, nil
    for i, mi in ipairs(list) do
      if not core.is_maskinfo(mi) then argerr(fname, 1, ("element %d: MaskInfo expected, got %s"):format(i, type(mi))) end
      local f = fields(mi, fname)
      f1 = f1 or f
      local m = logical(f, fname)
      local B, H, Q, K = m:shape()
      local B1, _, Q1, K1 = logical(f1, fname):shape()
      if H ~= 1 then argerr(fname, 1, ("element %d has %d heads, expected 1"):format(i, H)) end
      if B ~= B1 or Q ~= Q1 or K ~= K1 then
        argerr(fname, 1, ("element %d has shape (%d, %d, %d), expected (%d, %d, %d)"):format(i, B, Q, K, B1, Q1, K1))
      end
      masks[i] = m
    end
    local m = ok(fname, core.stack_heads(masks))
    local ch = { mask = m, mask_dtype = "bool" }
    for _, k in ipairs(I.FLAG_KEYS) do
      for _, mi in ipairs(list) do
        if fields(mi, fname)[k] then ch[k] = true end
      end
    end
    for i = 2, #list do
      local f = fields(list[i], fname)
      if not (f.q_ids and f1.q_ids and f.q_ids == f1.q_ids and f.kv_ids == f1.kv_ids) then
        ch.q_ids, ch.kv_ids = args.NONE, args.NONE
        break
      end
    end
    return derive(f1, ch)
  end

  local SHAPE_OPTS = { batch_size = true, num_heads = true, q_len = true, kv_len = true, fn = true }

  local function shape_opts(fname, t)
    t = opt_table(fname, 1, t, SHAPE_OPTS)
    if type(t.fn) ~= "function" then argerr(fname, 1, "option 'fn': function expected, got " .. type(t.fn)) end
    local B = t.batch_size == nil and 1 or check_int(fname, 1, t.batch_size, "batch_size", 0)
    local H = t.num_heads == nil and 1 or check_int(fname, 1, t.num_heads, "num_heads", 1)
    if t.q_len == nil then argerr(fname, 1, "option 'q_len' is required") end
    local Q = check_int(fname, 1, t.q_len, "q_len", 0)
    local K = t.kv_len == nil and Q or check_int(fname, 1, t.kv_len, "kv_len", 0)
    local okc, err = core.check_alloc(B * 1.0 * H * Q, 24)
    if not okc then fail(fname, err) end
    return B, H, Q, K, t.fn
  end

  local function from_intervals(fname, B, H, Q, K, offs, iv)
    local m = ok(fname, core.intervals(B, H, Q, K, offs, iv))
    local f = { mask = m, mask_dtype = "bool", causal = false, sliding_window = false, chunked = false,
      token_type_ids = false, batch_axis_name = { "dp", "fsdp" }, qheads_axis_name = "tp",
      kvheads_axis_name = "tp", sequence_axis_name = "sp" }
    return I.new(f)
  end

  --- A mask from a predicate fn(b, h, q, kv) -> boolean (0-based).
  function M.from_function(t)
    local fname = "from_function"
    local B, H, Q, K, fn = shape_opts(fname, t)
    local okc, err = core.check_alloc(B * 1.0 * H * Q * K, 1)
    if not okc then fail(fname, err) end
    local offs, iv, n = { 0 }, {}, 0
    for b = 0, B - 1 do
      for h = 0, H - 1 do
        for q = 0, Q - 1 do
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
              iv[n + 1], iv[n + 2], n = run, k, n + 2
              run = nil
            end
          end
          if run then iv[n + 1], iv[n + 2], n = run, K, n + 2 end
          offs[#offs + 1] = n // 2
        end
      end
    end
    return from_intervals(fname, B, H, Q, K, offs, iv)
  end

  --- A mask from allowed key ranges per row: fn(b, h, q) returns a flat list
  -- {lo1, hi1, lo2, hi2, ...} of half-open ranges [lo, hi), 0-based.
  function M.from_rows(t)
    local fname = "from_rows"
    local B, H, Q, K, fn = shape_opts(fname, t)
    local offs, iv, n = { 0 }, {}, 0
    for b = 0, B - 1 do
      for h = 0, H - 1 do
        for q = 0, Q - 1 do
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
            local lo, hi = math.tointeger(r[i]), math.tointeger(r[i + 1])
            if not lo or not hi or lo < 0 or hi < lo or hi > K then
              fail(fname, ("range %s..%s at (b=%d, h=%d, q=%d) is not 0 <= lo <= hi <= %d"):format(
                tostring(r[i]), tostring(r[i + 1]), b, h, q, K))
            end
            iv[n + 1], iv[n + 2], n = lo, hi, n + 2
          end
          offs[#offs + 1] = n // 2
        end
      end
    end
    return from_intervals(fname, B, H, Q, K, offs, iv)
  end

  ---------------------------------------------------------------- queries

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
  function methods.allowed(self, b, h, q, kv)
    local fname = "allowed"
    local m = logical(fields(self, fname), fname)
    local v, err = m:get(plane_index(fname, m, 4, b, h, q, kv))
    if v == nil then fail(fname, err) end
    return v
  end

  --- The number of allowed cells, and a (batch, heads) int64 Array of
  -- exact counts per head (a head of a 1M-token mask exceeds int32).
  function methods.count(self)
    local fname = "count"
    local f = fields(self, fname)
    local total, per = logical(f, fname):count()
    if not total then fail(fname, per) end
    return total, per
  end

  --- Allowed cells over all cells (0 for an empty shape).
  function methods.density(self)
    local fname = "density"
    local f = fields(self, fname)
    local m = logical(f, fname)
    local B, H, Q, K = m:shape()
    local total = m:count()
    local cells = B * H * Q * K
    return cells == 0 and 0.0 or total / cells
  end

  --- Query rows that attend to nothing (the NaN-softmax trap): their
  -- number, and a (batch, heads, q_len) bool Array marking them.
  function methods.empty_rows(self)
    local fname = "empty_rows"
    local f = fields(self, fname)
    local n, flags = logical(f, fname):empty_rows()
    if not n then fail(fname, flags) end
    return n, flags
  end

  local function other_mask(fname, other)
    if not core.is_maskinfo(other) then argerr(fname, 1, "MaskInfo expected, got " .. type(other)) end
    return logical(fields(other, fname), fname)
  end


  --- The allowed keys of one query row as half-open ranges: a flat
  -- sequence {lo1, hi1, lo2, hi2, ...} (0-based, sorted, disjoint).
  function methods.key_ranges(self, b, h, q)
    local fname = "key_ranges"
    local m = logical(fields(self, fname), fname)
    return ok(fname, m:row(plane_index(fname, m, 3, b, h, q)))
  end

  --- Allowed cells per block of one (batch, head) plane: an int64 Array of
  -- shape (ceil(q_len / bq), ceil(kv_len / bk)); tail blocks are smaller.
  -- A block is full when its count equals its area, empty when 0 (the
  -- classification FlexAttention's block tables and splash's block masks use).
  -- @tparam[opt] table opts block_size (integer or {q, kv}, default 128), batch, head
  function methods.block_counts(self, opts)
    local fname = "block_counts"
    local m = logical(fields(self, fname), fname)
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
    local function edges(n, step)
      local e = { 0 }
      for i = step, n - 1, step do e[#e + 1] = i end
      if n > 0 then e[#e + 1] = n end
      return e
    end
    return ok(fname, m:grid_counts(b, h, edges(Q, bq), edges(K, bk)))
  end

  --- Number of cells where self and other differ, and the first one as
  -- {b, h, q, kv} (nil when equal).  Shapes must agree (heads may broadcast).
  function methods.diff(self, other)
    local fname = "diff"
    local m = logical(fields(self, fname), fname)
    local o = other_mask(fname, other)
    local B1, H1, Q1, K1 = m:shape()
    local B2, H2, Q2, K2 = o:shape()
    if B1 ~= B2 or Q1 ~= Q2 or K1 ~= K2 or (H1 ~= H2 and H1 ~= 1 and H2 ~= 1) then
      argerr(fname, 1, ("shapes differ: (%d, %d, %d, %d) and (%d, %d, %d, %d)"):format(
        B1, H1, Q1, K1, B2, H2, Q2, K2))
    end
    local n, first = m:diff(o)
    if not n then fail(fname, first) end
    return n, first
  end

  --- True when self and other allow exactly the same cells.
  function methods.equals(self, other)
    local fname = "equals"
    local m = logical(fields(self, fname), fname)
    local o = other_mask(fname, other)
    local B1, H1, Q1, K1 = m:shape()
    local B2, H2, Q2, K2 = o:shape()
    if B1 ~= B2 or H1 ~= H2 or Q1 ~= Q2 or K1 ~= K2 then return false end
    local n = m:diff(o)
    return n == 0
  end
end
