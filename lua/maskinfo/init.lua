--- maskinfo: attention masks for transformers, compact at a million tokens.
--
-- The Lua face of the C core.  A MaskInfo is an immutable userdata: every
-- method that makes a MaskInfo returns a new one.  Its fields mirror the
-- seed's dataclass (ejkernel's MaskInfo): a stored attention mask (kept as a
-- compact `maskinfo.core` Mask, never expanded unless asked for), segment
-- ids, cu_seqlens, positions, the baked-in flags and the sharding axis names.
--
-- Coordinates are 0-based; returned tables are ordinary sequences.
-- @module maskinfo

local core = require("maskinfo.core")
local args = require("maskinfo.args")

local argerr, opt_table, check_int = args.argerr, args.opt_table, args.check_int
local check_dtype, ids_arg, mask_arg = args.check_dtype, args.ids_arg, args.mask_arg
local per_batch = args.per_batch
local fail, opt_bool, new_array, guard = args.fail, args.opt_bool, args.new_array, args.guard

local M = {}
local methods = {}
local meta = {}

local INT32_MAX = 2147483647

---------------------------------------------------------------- debug mode

local debug_mode = os.getenv("MASKINFO_DEBUG") == "1"

--- Turn tracing of calls on or off (prints like the seed's EJKERNEL_MASK_DEBUG).
-- @tparam boolean enabled
function M.set_debug_mode(enabled)
  if type(enabled) ~= "boolean" then
    argerr("set_debug_mode", 1, "boolean expected, got " .. type(enabled))
  end
  debug_mode = enabled
  print(enabled and "[MaskInfo Debug] Debug mode enabled" or "[MaskInfo Debug] Debug mode disabled")
end

--- Whether tracing is on.
function M.get_debug_mode()
  return debug_mode
end

local function trace(owner, name)
  if debug_mode then
    if owner then
      print(("[MaskInfo Debug] Calling %s.%s()"):format(owner, name))
    else
      print(("[MaskInfo Debug] Calling %s()"):format(name))
    end
  end
end

local function trace_property(name)
  if debug_mode then print("[MaskInfo Debug] Property access: " .. name) end
end

---------------------------------------------------------------- array helpers

local function map_array(a, dtype, fn)
  local flat = a:flat()
  local out = {}
  for i = 1, #flat do out[i] = fn(flat[i]) end
  return new_array("maskinfo", dtype, a:shape(), out)
end

-- Values along the last axis of a (B, ..., L) array: out[b, ..., j] =
-- a[b, ..., start[b] + j] for j < len.
local function slice_last(a, starts, len)
  local s = a:shape()
  local L, B = s[#s], s[1]
  local inner = 1
  for i = 2, #s - 1 do inner = inner * s[i] end
  local st, n = {}, 0
  for b = 0, B - 1 do
    for r = 0, inner - 1 do
      n = n + 1
      st[n] = (b * inner + r) * L + starts[b + 1]
    end
  end
  local ns = {}
  for i = 1, #s - 1 do ns[i] = s[i] end
  ns[#s] = len
  return a:gather(st, len, ns)
end

-- Row `batch` (and `head` for 3-D ids) of an ids array, as a 1-D int32 array.
local function plane_ids(a, batch, head)
  local s = a:shape()
  local L = s[#s]
  local start = #s == 3 and (batch * s[2] + head) * L or batch * L
  return a:gather({ start }, L, { L })
end

-- Head 0 of 3-D ids, as the seed does with ids[:, 0, :].
local function head0(a)
  local s = a:shape()
  if #s ~= 3 then return a end
  local B, H, L = s[1], s[2], s[3]
  local st = {}
  for b = 0, B - 1 do st[b + 1] = b * H * L end
  return a:gather(st, L, { B, L })
end

local function shape_str(s)
  if #s == 1 then return "(" .. s[1] .. ",)" end
  return "(" .. table.concat(s, ", ") .. ")"
end

---------------------------------------------------------------- memory guard

local DEFAULT_LIMIT = 12 * 1024 * 1024 * 1024

--- Set the largest dense allocation (bytes) maskinfo may make; requests
-- above it fail before allocating.  0 restores the default (12 GiB, or
-- MASKINFO_MAX_BYTES from the environment).  Returns the previous limit.
function M.set_memory_limit(bytes)
  local b = math.tointeger(bytes)
  if not b or b < 0 then argerr("set_memory_limit", 1, "non-negative integer byte count expected") end
  local prev = M.get_memory_limit()
  if b == 0 then b = tonumber(os.getenv("MASKINFO_MAX_BYTES") or "") or 0 end
  core.set_max_bytes(b)
  return prev
end

--- The current dense allocation limit in bytes.
function M.get_memory_limit()
  local cur = core.get_max_bytes()
  return cur == 0 and DEFAULT_LIMIT or cur
end

---------------------------------------------------------------- objects

local FLAG_KEYS = { "causal", "sliding_window", "chunked", "token_type_ids" }
local AXIS_KEYS = { "batch_axis_name", "qheads_axis_name", "kvheads_axis_name", "sequence_axis_name" }
local DEFAULT_AXES = {
  batch_axis_name = { "dp", "fsdp" },
  qheads_axis_name = "tp",
  kvheads_axis_name = "tp",
  sequence_axis_name = "sp",
}

local function new(f)
  return core.wrap(f)
end

local function fields(self, fname)
  return core.fields(self, fname)
end

-- A shallow copy of the fields with the derived caches dropped.
local function copy_fields(f)
  local g = {}
  for k, v in pairs(f) do
    if k:sub(1, 6) ~= "cache_" then g[k] = v end
  end
  return g
end

-- The logical mask: the stored one, or the one the segment ids imply.
local function logical(f, fname)
  if f.mask then return f.mask end
  if f.cache_seg_mask then return f.cache_seg_mask end
  if f.q_ids and f.kv_ids then
    local m, err = core.segments(f.q_ids, f.kv_ids)
    if not m then fail(fname, err) end
    f.cache_seg_mask = m
    return m
  end
  fail(fname, "MaskInfo is empty (no attention mask and no segment ids)")
end

-- Stored ids, or ids derived from the mask (the seed's mask_to_segment_ids).
local function seg_ids(f, per_head, fname)
  if f.q_ids and f.kv_ids then return f.q_ids, f.kv_ids end
  local key = per_head and "cache_ids_ph" or "cache_ids"
  if not f[key] then
    local q, kv = logical(f, fname):segment_ids(per_head)
    if not q then fail(fname, kv) end
    f[key] = { q, kv }
  end
  return f[key][1], f[key][2]
end

-- A new MaskInfo like f with fields replaced.  A change of the mask or the
-- segment ids drops the cu_seqlens unless new ones are given (the seed's
-- replace rule).
local function derive(f, changes)
  local g = copy_fields(f)
  local rep = false
  for k, v in pairs(changes) do
    if v == args.NONE then
      g[k] = nil
    else
      g[k] = v
    end
    if k == "mask" or k == "q_ids" or k == "kv_ids" then rep = true end
  end
  if rep and changes.cu_q == nil and changes.cu_kv == nil then
    g.cu_q, g.cu_kv = nil, nil
  end
  return new(g)
end

local function base_fields(opts, fname, argn)
  local f = { mask_dtype = "bool" }
  for _, k in ipairs(FLAG_KEYS) do f[k] = false end
  for _, k in ipairs(AXIS_KEYS) do
    local v = opts[k]
    if v == nil then
      v = DEFAULT_AXES[k]
    else
      v = args.axis_name(fname, argn, k, v)
    end
    f[k] = v
  end
  if opts.q_positions ~= nil then f.q_pos = ids_arg(fname, argn, opts.q_positions, "q_positions", { min = false }) end
  if opts.kv_positions ~= nil then f.kv_pos = ids_arg(fname, argn, opts.kv_positions, "kv_positions", { min = false }) end
  return f
end

-- Stored positions must have the shape of the ids (or the mask's B, Q, K).
local function check_positions(f, fname, argn)
  local B, Q, K
  if f.q_ids then local s = f.q_ids:shape() B, Q = s[1], s[#s] end
  if f.kv_ids then local s = f.kv_ids:shape() K = s[#s] end
  if f.mask then
    local mb, _, mq, mk = f.mask:shape()
    B, Q, K = B or mb, Q or mq, K or mk
  end
  local function chk(a, L, what)
    if not a or not B then return end
    local s = a:shape()
    if #s ~= 2 or s[1] ~= B or s[2] ~= L then
      argerr(fname, argn, ("option '%s': shape (%d, %d) expected, got %s"):format(
        what, B, L, "(" .. table.concat(s, ", ") .. ")"))
    end
  end
  chk(f.q_pos, Q, "q_positions")
  chk(f.kv_pos, K, "kv_positions")
end

-- A stored mask and stored ids must describe the same B, Q and K.
local function check_consistent(f, fname, argn)
  if not f.mask then return end
  local B, _, Q, K = f.mask:shape()
  local function chk(a, L, what)
    if not a then return end
    local s = a:shape()
    if s[1] ~= B or s[#s] ~= L then
      argerr(fname, argn, ("attention_mask has shape (%d, %d, %d, %d) but %s has (%s)"):format(
        B, select(2, f.mask:shape()), Q, K, what, table.concat(s, ", ")))
    end
  end
  chk(f.q_ids, Q, "q_segment_ids")
  chk(f.kv_ids, K, "kv_segment_ids")
end

local CTOR_OPTS = {
  q_positions = true, kv_positions = true, batch_axis_name = true,
  qheads_axis_name = true, kvheads_axis_name = true, sequence_axis_name = true,
}

local function with(base, extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

---------------------------------------------------------------- module conversions

-- Split (ids [, kv] [, opts]) where the second argument may be the options.
-- Returns kv, opts and the argument number the options came in.
local function split_kv_opts(kv, opts)
  if opts == nil and type(kv) == "table" and not core.is_array(kv) and kv[1] == nil and next(kv) ~= nil then
    return nil, kv, 2
  end
  return kv, opts, 3
end

local function valid_of(ids, dtype)
  return map_array(ids, dtype, function(x) return x > -1 and 1 or 0 end)
end

local function four_d(a, fname)
  local s = a:shape()
  if #s == 2 then return a:reshape({ 1, 1, s[1], s[2] }), 2 end
  if #s == 3 then return a:reshape({ s[1], 1, s[2], s[3] }), 3 end
  if #s == 4 then return a, 4 end
  argerr(fname, 1, ("2-D, 3-D or 4-D mask expected, got %d-D"):format(#s))
end

local function dense_mask(a, fname)
  local m, err = core.dense(a)
  if not m then fail(fname, err) end
  return m
end

--- Segment ids of a mask: rows (columns) with identical patterns share an id
-- numbered by first appearance; empty rows (columns) get -1.
-- @param mask 2-D (Q, K), 3-D (B, Q, K) or 4-D (B, H, Q, K)
-- @tparam[opt=false] boolean per_head for 4-D masks, ids per head
-- @return q_ids, kv_ids (int32 Arrays)
function M.mask_to_segment_ids(mask, per_head)
  trace(nil, "mask_to_segment_ids")
  local fname = "mask_to_segment_ids"
  local a = mask_arg(fname, 1, mask, "mask")
  local m4, nd = four_d(a, fname)
  per_head = opt_bool(fname, 2, per_head, nil, false)
  local q, kv = dense_mask(m4, fname):segment_ids(per_head and nd == 4)
  if not q then fail(fname, kv) end
  if nd == 2 then
    q = q:reshape({ q:shape()[2] })
    kv = kv:reshape({ kv:shape()[2] })
  end
  return q, kv
end

local function seg_mask(q, kv, fname)
  local m, err = core.segments(q, kv)
  if not m then fail(fname, err) end
  return m
end

local DTYPE_SIZE = { bool = 1, int32 = 4, float32 = 4, float16 = 2, bfloat16 = 2, int64 = 8, uint8 = 1 }

local function human(bytes)
  local units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" }
  local i = 1
  while bytes >= 1024 and i < #units do bytes, i = bytes / 1024, i + 1 end
  return ("%.1f %s"):format(bytes, units[i])
end

-- Refuse a dense result the guard would refuse, with a message that says
-- how big it would be, before anything is allocated.
local function guard_dense(m, dtype, fname)
  local B, H, Q, K = m:shape()
  local cells = B * H * Q * K
  -- a row costs work even when it holds no cells (K = 0)
  local ok, err = core.check_alloc(math.max(B * 1.0 * H * Q * K * DTYPE_SIZE[dtype], B * 1.0 * H * Q), 1)
  if not ok then
    fail(fname, ("a dense (%d, %d, %d, %d) %s array needs %s: %s (limit %s, see maskinfo.set_memory_limit)"):format(
      B, H, Q, K, dtype, human(cells * 1.0 * DTYPE_SIZE[dtype]), err, human(M.get_memory_limit())))
  end
end

local function to_array(m, dtype, fname)
  guard_dense(m, dtype, fname)
  local a, err = m:to_array(dtype)
  if not a then fail(fname, err) end
  return a
end

--- Attention mask from segment ids: same id attends, -1 pads.
-- @param q segment ids (B, Q) or a flat sequence
-- @param[opt] kv key segment ids (B, K); default q
-- @tparam[opt] table opts `dtype`, `return_separate_masks`
-- @return mask (B, 1, Q, K), or q_mask, kv_mask, mask
function M.segment_ids_to_mask(q, kv, opts)
  trace(nil, "segment_ids_to_mask")
  local fname = "segment_ids_to_mask"
  local on
  kv, opts, on = split_kv_opts(kv, opts)
  opts = opt_table(fname, on, opts, { dtype = true, return_separate_masks = true })
  local dtype = check_dtype(fname, on, opts.dtype, "bool")
  local separate = opt_bool(fname, on, opts.return_separate_masks, "return_separate_masks", false)
  local qa = ids_arg(fname, 1, q, "segment ids")
  local ka = kv ~= nil and ids_arg(fname, 2, kv, "kv segment ids") or qa
  args.same_batch(fname, 2, qa, ka)
  local mask = to_array(seg_mask(qa, ka, fname), dtype, fname)
  if separate then
    return valid_of(qa, dtype), valid_of(ka, dtype), mask
  end
  return mask
end

--- Query mask, key mask and attention mask from segment ids.
function M.segment_ids_to_qkv_masks(q, kv, dtype)
  trace(nil, "segment_ids_to_qkv_masks")
  local fname = "segment_ids_to_qkv_masks"
  local dn = 3
  if dtype == nil and type(kv) == "string" then kv, dtype, dn = nil, kv, 2 end
  dtype = check_dtype(fname, dn, dtype, "bool")
  local qa = ids_arg(fname, 1, q, "segment ids")
  local ka = kv ~= nil and ids_arg(fname, 2, kv, "kv segment ids") or qa
  args.same_batch(fname, 2, qa, ka)
  local mask = to_array(seg_mask(qa, ka, fname), dtype, fname)
  return valid_of(qa, dtype), valid_of(ka, dtype), mask
end

-- Interleaved [start, end) of the first and last valid token per row.
local function start_end(valid)
  local s = valid:shape()
  local B, L = s[1], s[2]
  local flat, out = valid:flat(), {}
  for b = 0, B - 1 do
    local first, last = nil, nil
    for j = 0, L - 1 do
      if flat[b * L + j + 1] then
        if not first then first = j end
        last = j
      end
    end
    out[2 * b + 1] = first or 0
    out[2 * b + 2] = first and last + 1 or 0
  end
  return new_array("maskinfo", "int32", { 2 * B }, out)
end

local function bool2d(fname, n, v, what)
  local a = mask_arg(fname, n, v, what)
  local s = a:shape()
  if #s == 1 then a = a:reshape({ 1, s[1] }) s = a:shape() end
  if #s ~= 2 then argerr(fname, n, ("%s: 2-D (batch, len) mask expected, got %d-D"):format(what, #s)) end
  return a
end

--- Start/end pairs of the valid tokens per batch row.
-- @return cu_q, cu_kv (int32, 2*batch entries)
function M.qkv_masks_to_cu_seqlens(q_mask, kv_mask)
  trace(nil, "qkv_masks_to_cu_seqlens")
  local fname = "qkv_masks_to_cu_seqlens"
  local qa = bool2d(fname, 1, q_mask, "q_mask")
  local ka = kv_mask ~= nil and bool2d(fname, 2, kv_mask, "kv_mask") or qa
  args.same_batch(fname, 2, qa, ka)
  return start_end(qa), start_end(ka)
end

-- Every (start, end) pair must satisfy 0 <= start <= end <= max_len.
local function check_pairs(fname, n, flat, max_len, what)
  for i = 1, #flat, 2 do
    local s, e = flat[i], flat[i + 1]
    if not (0 <= s and s <= e and e <= max_len) then
      argerr(fname, n, ("%s pair %d is [%d, %d): expected 0 <= start <= end <= %d"):format(
        what, (i - 1) // 2, s, e, max_len))
    end
  end
end

local function cu_arg(fname, n, cu, max_len, what)
  local a = ids_arg(fname, n, cu, what, { min = false, flat = true })
  local flat = a:flat()
  if #flat % 2 ~= 0 then
    argerr(fname, n, ("%s must have even length (batch*2), got %d"):format(what, #flat))
  end
  if max_len then check_pairs(fname, n, flat, max_len, what) end
  return a, flat
end

local function cu_to_valid(flat, max_len, dtype, fname)
  local B = #flat // 2
  guard(fname, B * 1.0 * max_len, 8, "a padding mask")
  local out = {}
  for b = 0, B - 1 do
    local s, e = flat[2 * b + 1], flat[2 * b + 2]
    for j = 0, max_len - 1 do
      out[b * max_len + j + 1] = (j >= s and j < e) and 1 or 0
    end
  end
  return new_array(fname, dtype, { B, max_len }, out)
end

--- Mask of the tokens inside each [start, end) pair.
function M.cu_seqlens_to_mask(cu, max_len, dtype)
  trace(nil, "cu_seqlens_to_mask")
  local fname = "cu_seqlens_to_mask"
  max_len = check_int(fname, 2, max_len, "max_len", 0)
  dtype = check_dtype(fname, 3, dtype, "bool")
  local _, flat = cu_arg(fname, 1, cu, max_len, "cu_seqlens")
  return cu_to_valid(flat, max_len, dtype, fname)
end

local CU_OPTS = { max_q_len = true, cu_seqlens_kv = true, max_kv_len = true, dtype = true }

local function cu_masks(fname, cu_q, opts)
  opts = opt_table(fname, 2, opts, CU_OPTS)
  if opts.max_q_len == nil then argerr(fname, 2, "option 'max_q_len' is required") end
  local max_q = check_int(fname, 2, opts.max_q_len, "max_q_len", 0)
  local max_kv = opts.max_kv_len == nil and max_q or check_int(fname, 2, opts.max_kv_len, "max_kv_len", 0)
  local dtype = check_dtype(fname, 2, opts.dtype, "bool")
  local qa, qf = cu_arg(fname, 1, cu_q, max_q, "cu_seqlens_q")
  local ka, kf = qa, nil
  if opts.cu_seqlens_kv ~= nil then
    ka, kf = cu_arg(fname, 2, opts.cu_seqlens_kv, max_kv, "cu_seqlens_kv")
  else -- the keys reuse the query pairs: they must also fit max_kv_len
    kf = qf
    check_pairs(fname, 1, qf, max_kv, "cu_seqlens_q")
  end
  if #qf ~= #kf then
    argerr(fname, 2, ("batch sizes differ: %d query rows and %d key rows"):format(#qf // 2, #kf // 2))
  end
  return cu_to_valid(qf, max_q, dtype, fname), cu_to_valid(kf, max_kv, dtype, fname), qa, ka, max_q, max_kv
end

--- Padding masks from (start, end) pairs.
function M.qkv_cu_seqlens_to_qkv_masks(cu_q, opts)
  trace(nil, "qkv_cu_seqlens_to_qkv_masks")
  local q, kv = cu_masks("qkv_cu_seqlens_to_qkv_masks", cu_q, opts)
  return q, kv
end

local function outer_mask(qvalid, kvvalid, fname)
  local qs, ks = qvalid:shape(), kvvalid:shape()
  if qs[1] ~= ks[1] then
    argerr(fname, 2, ("batch sizes differ: %d query rows and %d key rows"):format(qs[1], ks[1]))
  end
  local qi = map_array(qvalid, "int32", function(x) return (x and x ~= 0) and 0 or -1 end)
  local ki = map_array(kvvalid, "int32", function(x) return (x and x ~= 0) and 0 or -1 end)
  return seg_mask(qi, ki, fname), qi, ki
end

--- The outer-product attention mask (B, 1, Q, K) of (start, end) pairs.
function M.qkv_cu_seqlens_to_attention_mask(cu_q, opts)
  trace(nil, "qkv_cu_seqlens_to_attention_mask")
  local fname = "qkv_cu_seqlens_to_attention_mask"
  local dtype = check_dtype(fname, 2, type(opts) == "table" and opts.dtype or nil, "bool")
  local q, kv = cu_masks(fname, cu_q, opts)
  return to_array(outer_mask(q, kv, fname), dtype, fname)
end

--- Start/end pairs of the tokens that take part in any attention edge.
-- @tparam[opt] table opts `reduce_heads` = "any" | "all" | "first" (4-D masks)
function M.attention_mask_to_qkv_cu_seqlens(mask, opts)
  trace(nil, "attention_mask_to_qkv_cu_seqlens")
  local fname = "attention_mask_to_qkv_cu_seqlens"
  opts = opt_table(fname, 2, opts, { reduce_heads = true })
  local mode = args.check_option(fname, 2, opts.reduce_heads, "reduce_heads", { "any", "all", "first" }, "any")
  local a = mask_arg(fname, 1, mask, "attention_mask")
  local s = a:shape()
  if #s == 2 then
    local se = start_end(a) -- a padding mask: the same pairs for q and kv
    return se, se
  end
  local m4 = four_d(a, fname)
  local qv, kv = dense_mask(m4, fname):validity(mode)
  if not qv then fail(fname, kv) end
  return start_end(qv), start_end(kv)
end

--- A chunked causal mask (q_len, kv_len): same chunk and k <= q + offset.
function M.create_chunked_attention_mask(chunk_size, q_len, kv_len, offset, dtype)
  trace(nil, "create_chunked_attention_mask")
  local fname = "create_chunked_attention_mask"
  chunk_size = check_int(fname, 1, chunk_size, "chunk_size")
  if chunk_size <= 0 then
    argerr(fname, 1, ("chunk_size must be a positive integer, got %d"):format(chunk_size))
  end
  q_len = check_int(fname, 2, q_len, "q_len", 0)
  kv_len = kv_len == nil and q_len or check_int(fname, 3, kv_len, "kv_len", 0)
  offset = offset == nil and 0 or check_int(fname, 4, offset, "offset")
  dtype = check_dtype(fname, 5, dtype, "bool")
  local m, err = core.chunked(1, q_len, kv_len, chunk_size, offset)
  if not m then fail(fname, err) end
  return to_array(m, dtype, fname):reshape({ q_len, kv_len })
end

local SHARDING_KEYS = { "attention_mask", "q_segment_ids", "kv_segment_ids", "cu_seqlens_q",
  "cu_seqlens_kv", "q_positions", "kv_positions" }

--- A MaskSharding with every spec None (false).
function M.get_empty_sharding()
  local t = {}
  for _, k in ipairs(SHARDING_KEYS) do t[k] = false end
  return t
end

---------------------------------------------------------------- constructors

--- MaskInfo from segment ids (the mask is implied, never stored).
-- @param q query segment ids (B, Q): >= 0 segment, -1 padding
-- @param[opt] kv key segment ids (B, K), default q
-- @tparam[opt] table opts is_attn_mask, q_positions, kv_positions, axis names
function M.from_segments(q, kv, opts)
  trace("type", "from_segments")
  local fname = "from_segments"
  local on
  kv, opts, on = split_kv_opts(kv, opts)
  opts = opt_table(fname, on, opts, with(CTOR_OPTS, { is_attn_mask = true }))
  local f = base_fields(opts, fname, on)
  if opt_bool(fname, on, opts.is_attn_mask, "is_attn_mask", false) then
    local qa = bool2d(fname, 1, q, "padding mask")
    local ka = kv ~= nil and bool2d(fname, 2, kv, "kv padding mask") or qa
    local m, qi, ki = outer_mask(qa, ka, fname)
    f.mask, f.q_ids, f.kv_ids = m, qi, ki
  else
    f.q_ids = ids_arg(fname, 1, q, "segment ids")
    f.kv_ids = kv ~= nil and ids_arg(fname, 2, kv, "kv segment ids") or f.q_ids
    args.same_batch(fname, 2, f.q_ids, f.kv_ids)
  end
  check_positions(f, fname, on)
  return new(f)
end

--- MaskInfo from an attention mask (2-D padding, 3-D or 4-D pairwise).
-- @tparam[opt] table opts mask_is_valid (default true), positions, axis names
function M.from_attention_mask(mask, opts)
  trace("type", "from_attention_mask")
  local fname = "from_attention_mask"
  opts = opt_table(fname, 2, opts, with(CTOR_OPTS, { mask_is_valid = true }))
  local f = base_fields(opts, fname, 2)
  local a = mask_arg(fname, 1, mask, "attention_mask")
  if not opt_bool(fname, 2, opts.mask_is_valid, "mask_is_valid", true) then
    a = map_array(a, "bool", function(x) return x and 0 or 1 end)
  end
  local s = a:shape()
  if #s == 2 then
    f.mask, f.q_ids, f.kv_ids = outer_mask(a, a, fname)
    check_positions(f, fname, 2)
    return new(f)
  end
  local m4 = four_d(a, fname)
  local m = dense_mask(m4, fname)
  local qv, kv = m:validity("any")
  if not qv then fail(fname, kv) end
  f.mask = m
  f.q_ids = map_array(qv, "int32", function(x) return x and 0 or -1 end)
  f.kv_ids = map_array(kv, "int32", function(x) return x and 0 or -1 end)
  check_positions(f, fname, 2)
  return new(f)
end

--- Padding-style MaskInfo from (start, end) pairs per batch row.
-- @tparam table opts max_q_len (required), cu_seqlens_kv, max_kv_len, positions, axis names
function M.from_cu_seqlens(cu_q, opts)
  trace("type", "from_cu_seqlens")
  local fname = "from_cu_seqlens"
  if opts == nil then argerr(fname, 2, "options table with max_q_len expected") end
  opts = opt_table(fname, 2, opts, with(CTOR_OPTS, { max_q_len = true, cu_seqlens_kv = true, max_kv_len = true }))
  local cu_opts = { max_q_len = opts.max_q_len, cu_seqlens_kv = opts.cu_seqlens_kv, max_kv_len = opts.max_kv_len }
  local qv, kv, qa, ka = cu_masks(fname, cu_q, cu_opts)
  local f = base_fields(opts, fname, 2)
  f.q_ids = map_array(qv, "int32", function(x) return x and 0 or -1 end)
  f.kv_ids = map_array(kv, "int32", function(x) return x and 0 or -1 end)
  f.cu_q, f.cu_kv = qa, ka
  check_positions(f, fname, 2)
  return new(f)
end

--- A random mask: each cell allowed with probability 1 - sparsity.
-- Deterministic for a seed, whatever the thread count.
function M.from_random(batch_size, q_len, kv_len, sparsity, seed, opts)
  trace("type", "from_random")
  local fname = "from_random"
  batch_size = check_int(fname, 1, batch_size, "batch_size", 0)
  q_len = check_int(fname, 2, q_len, "q_len", 0)
  kv_len = kv_len == nil and q_len or check_int(fname, 3, kv_len, "kv_len", 0)
  if sparsity == nil then sparsity = 0.5 end
  if type(sparsity) ~= "number" or sparsity ~= sparsity or sparsity < 0 or sparsity > 1 then
    argerr(fname, 4, (type(sparsity) == "number" and "sparsity in [0, 1] expected, got " or
      "sparsity: number in [0, 1] expected, got ") .. args.show(sparsity))
  end
  seed = seed == nil and 0 or check_int(fname, 5, seed, "seed")
  opts = opt_table(fname, 6, opts, CTOR_OPTS)
  local f = base_fields(opts, fname, 6)
  local bytes = batch_size * 1.0 * q_len * ((kv_len + 63) // 64) * 8
  if not core.check_alloc(math.max(bytes, batch_size * 1.0 * q_len), 1) then
    fail(fname, ("a random (%d, 1, %d, %d) mask needs %s of bits: over the memory guard (limit %s)"):format(
      batch_size, q_len, kv_len, human(bytes), human(M.get_memory_limit())))
  end
  local m, err = core.random(batch_size, 1, q_len, kv_len, 1.0 - sparsity, seed)
  if not m then fail(fname, err) end
  f.mask = m
  check_positions(f, fname, 6)
  return new(f)
end

--- MaskInfo from what a model has at hand.
-- @tparam table t mask_info | attention_mask | input_ids | batch_size and seq_len
function M.dynamic_init(t)
  trace("type", "dynamic_init")
  local fname = "dynamic_init"
  t = opt_table(fname, 1, t, { mask_info = true, input_ids = true, inputs_embeds = true,
    attention_mask = true, batch_size = true, seq_len = true })
  if t.mask_info ~= nil then
    fields(t.mask_info, fname)
    return t.mask_info
  end
  local am = t.attention_mask
  if am == nil then
    local B, L
    if t.input_ids ~= nil then
      local ids = ids_arg(fname, 1, t.input_ids, "input_ids", { min = false })
      B, L = ids:shape()[1], ids:shape()[2]
    elseif t.inputs_embeds ~= nil then
      local e = mask_arg(fname, 1, t.inputs_embeds, "inputs_embeds", "float")
      local s = e:shape()
      if #s ~= 3 then argerr(fname, 1, "inputs_embeds: 3-D (batch, len, dim) expected") end
      B, L = s[1], s[2]
    elseif t.batch_size ~= nil and t.seq_len ~= nil then
      B = check_int(fname, 1, t.batch_size, "batch_size", 0)
      L = check_int(fname, 1, t.seq_len, "seq_len", 0)
    else
      argerr(fname, 1, "one of mask_info, attention_mask, input_ids, inputs_embeds, or batch_size and seq_len expected")
    end
    guard(fname, B * 1.0 * L, 8, "an all-ones padding mask")
    local ones = {}
    for i = 1, B * L do ones[i] = 1 end
    return M.from_segments(new_array(fname, "bool", { B, L }, ones), { is_attn_mask = true })
  end
  local a = core.is_array(am) and am or mask_arg(fname, 1, am, "attention_mask", "float")
  if a:dtype() ~= "bool" then
    a = map_array(a, "bool", function(x) return x == 1 and 1 or 0 end)
  end
  if #a:shape() == 2 then
    return M.from_segments(a, { is_attn_mask = true })
  end
  return M.from_attention_mask(a)
end

---------------------------------------------------------------- masks and ids

--- The attention mask (B, H, Q, K): stored, or implied by the segment ids.
-- @tparam[opt] string dtype default: the stored mask's dtype, else "bool"
function methods.attention_mask(self, dtype)
  local f = fields(self, "attention_mask")
  trace_property("attention_mask")
  dtype = check_dtype("attention_mask", 1, dtype, f.mask and f.mask_dtype or "bool")
  return to_array(logical(f, "attention_mask"), dtype, "attention_mask")
end

--- The attention mask in dtype (default bool).
function methods.get_or_compute_attention_mask(self, dtype)
  local f = fields(self, "get_or_compute_attention_mask")
  trace("MaskInfo", "get_or_compute_attention_mask")
  dtype = check_dtype("get_or_compute_attention_mask", 1, dtype, "bool")
  return to_array(logical(f, "get_or_compute_attention_mask"), dtype, "get_or_compute_attention_mask")
end

--- Query segment ids: stored, or derived from the mask.
function methods.q_segment_ids(self)
  local f = fields(self, "q_segment_ids")
  trace_property("q_segment_ids")
  return f.q_ids or (seg_ids(f, false, "q_segment_ids"))
end

--- Key segment ids: stored, or derived from the mask.
function methods.kv_segment_ids(self)
  local f = fields(self, "kv_segment_ids")
  trace_property("kv_segment_ids")
  if f.kv_ids then return f.kv_ids end
  local _, kv = seg_ids(f, false, "kv_segment_ids")
  return kv
end

--- Segment ids, derived from the mask if none are stored.
-- @tparam[opt=false] boolean per_head
function methods.get_or_compute_segment_ids(self, per_head)
  local f = fields(self, "get_or_compute_segment_ids")
  trace("MaskInfo", "get_or_compute_segment_ids")
  per_head = opt_bool("get_or_compute_segment_ids", 1, per_head, nil, false)
  return seg_ids(f, per_head, "get_or_compute_segment_ids")
end

--- A MaskInfo whose attention mask is stored (in dtype).
function methods.materialize_attention_mask(self, dtype)
  local f = fields(self, "materialize_attention_mask")
  trace("MaskInfo", "materialize_attention_mask")
  dtype = check_dtype("materialize_attention_mask", 1, dtype, "bool")
  if f.mask and f.mask_dtype == dtype then return new(copy_fields(f)) end
  return derive(f, { mask = logical(f, "materialize_attention_mask"), mask_dtype = dtype })
end

--- A MaskInfo whose segment ids are stored.
function methods.materialize_segment_ids(self, per_head)
  local f = fields(self, "materialize_segment_ids")
  trace("MaskInfo", "materialize_segment_ids")
  if f.q_ids and f.kv_ids then return new(copy_fields(f)) end
  per_head = opt_bool("materialize_segment_ids", 1, per_head, nil, false)
  local q, kv = seg_ids(f, per_head, "materialize_segment_ids")
  return derive(f, { q_ids = q, kv_ids = kv })
end

--- Query mask, key mask and the mask the segment ids imply.
function methods.get_qkv_masks(self, dtype)
  local f = fields(self, "get_qkv_masks")
  trace("MaskInfo", "get_qkv_masks")
  dtype = check_dtype("get_qkv_masks", 1, dtype, "bool")
  local q, kv = seg_ids(f, false, "get_qkv_masks")
  local mask = to_array(seg_mask(q, kv, "get_qkv_masks"), dtype, "get_qkv_masks")
  return valid_of(q, dtype), valid_of(kv, dtype), mask
end

--- A MaskInfo whose stored attention mask has dtype.
function methods.to_dtype(self, dtype)
  local f = fields(self, "to_dtype")
  trace("MaskInfo", "to_dtype")
  dtype = check_dtype("to_dtype", 1, dtype)
  local m = logical(f, "to_dtype")
  if dtype == "bool" then
    -- the seed caches the computed mask on the object, then returns it
    local g = copy_fields(f)
    if not g.mask then g.mask, g.mask_dtype = m, "bool" end
    return new(g)
  end
  return derive(f, { mask = m, mask_dtype = dtype })
end

---------------------------------------------------------------- lengths and positions

-- FlashAttention-style cumulative lengths over all segments of the batch.
local function fa_cu_seqlens(ids, max_segments, fname)
  guard(fname, max_segments, 8, "cumulative lengths")
  local counts = {}
  for i = 0, max_segments - 1 do counts[i] = 0 end
  for _, v in ipairs(ids:flat()) do
    if v >= 0 then
      if v >= max_segments then
        fail(fname, ("segment id %d is >= max_segments (%d)"):format(v, max_segments))
      end
      counts[v] = counts[v] + 1
    end
  end
  local out, acc = { 0 }, 0
  for i = 0, max_segments - 1 do
    acc = acc + counts[i]
    out[i + 2] = acc
  end
  return new_array(fname, "int32", { max_segments + 1 }, out)
end

local function qkv_cu(f, max_segments, fname)
  if f.cu_q and f.cu_kv then return f.cu_q, f.cu_kv end
  if f.cu_q then return f.cu_q, f.cu_q end
  if f.cu_kv then return f.cu_kv, f.cu_kv end
  if f.q_ids and f.kv_ids then
    return fa_cu_seqlens(head0(f.q_ids), max_segments, fname), fa_cu_seqlens(head0(f.kv_ids), max_segments, fname)
  end
  local qv, kv = logical(f, fname):validity("any")
  if not qv then fail(fname, kv) end
  return start_end(qv), start_end(kv)
end

--- cu_seqlens in the seed's two formats: stored pairs, FlashAttention-style
-- cumulative lengths from segment ids, or start/end pairs from the mask.
-- @tparam[opt] table opts max_segments (default 128)
function methods.get_or_compute_qkv_cu_seqlens(self, opts)
  local fname = "get_or_compute_qkv_cu_seqlens"
  local f = fields(self, fname)
  trace("MaskInfo", fname)
  opts = opt_table(fname, 1, opts, { max_segments = true, out_dtype = true })
  local ms = opts.max_segments == nil and 128 or check_int(fname, 1, opts.max_segments, "max_segments", 0)
  local q, kv = qkv_cu(f, ms, fname)
  if opts.out_dtype ~= nil then
    local dt = check_dtype(fname, 1, opts.out_dtype)
    return q:astype(dt), kv:astype(dt)
  end
  return q, kv
end

--- Query cu_seqlens (see get_or_compute_qkv_cu_seqlens).
function methods.cu_seqlens_q(self)
  local f = fields(self, "cu_seqlens_q")
  trace_property("cu_seqlens_q")
  return (qkv_cu(f, 128, "cu_seqlens_q"))
end

--- Key cu_seqlens (see get_or_compute_qkv_cu_seqlens).
function methods.cu_seqlens_kv(self)
  local f = fields(self, "cu_seqlens_kv")
  trace_property("cu_seqlens_kv")
  local _, kv = qkv_cu(f, 128, "cu_seqlens_kv")
  return kv
end

local function lens(ids)
  if not ids then return nil end
  local a = head0(ids)
  local flat = a:flat()
  local mx = -1
  for i = 1, #flat do if flat[i] > mx then mx = flat[i] end end
  if mx > 0 then
    guard("q_lens", mx + 1.0, 8, "per-segment lengths")
    local c = {}
    for i = 0, mx do c[i + 1] = 0 end
    for i = 1, #flat do
      local v = flat[i]
      if v >= 0 then c[v + 1] = c[v + 1] + 1 end
    end
    return new_array("q_lens", "int32", { mx + 1 }, c)
  end
  local s = a:shape()
  local B, L = s[1], s[2]
  local c = {}
  for b = 0, B - 1 do
    local n = 0
    for j = 1, L do if flat[b * L + j] >= 0 then n = n + 1 end end
    c[b + 1] = n
  end
  return new_array("q_lens", "int32", { B }, c)
end

--- Per-segment query lengths (packed), or per-batch valid counts; nil when
-- no segment ids are stored.
function methods.q_lens(self)
  local f = fields(self, "q_lens")
  trace_property("q_lens")
  return lens(f.q_ids)
end

--- Per-segment key lengths, like q_lens.
function methods.kv_lens(self)
  local f = fields(self, "kv_lens")
  trace_property("kv_lens")
  return lens(f.kv_ids)
end

--- 1 for valid query tokens, 0 for padding (int32, the shape of the ids).
function methods.q_attention_mask(self)
  local f = fields(self, "q_attention_mask")
  local q = f.q_ids or seg_ids(f, false, "q_attention_mask")
  return map_array(q, "int32", function(x) return x == -1 and 0 or 1 end)
end

--- Positions restarting at each query segment; padding gets -1.
function methods.q_position_ids(self)
  local f = fields(self, "q_position_ids")
  local q = f.q_ids or seg_ids(f, false, "q_position_ids")
  return core.positions(q, -1, "q_position_ids")
end

--- Query and key positions: stored, or restarting per segment (padding:
-- -1 for queries, int32 max for keys).
function methods.get_or_compute_positions(self)
  local f = fields(self, "get_or_compute_positions")
  trace("MaskInfo", "get_or_compute_positions")
  local qp, kp = f.q_pos, f.kv_pos
  if qp and kp then return qp, kp end
  local q, kv = seg_ids(f, false, "get_or_compute_positions")
  return qp or core.positions(q, -1, "get_or_compute_positions"),
    kp or core.positions(kv, INT32_MAX, "get_or_compute_positions")
end

---------------------------------------------------------------- flags and predicates

local function max_id(ids)
  local _, hi = head0(ids):minmax()
  return hi
end

--- True when the stored segment ids hold more than one sequence (max id > 0).
function methods.is_multi_sequence(self)
  local f = fields(self, "is_multi_sequence")
  trace_property("is_multi_sequence")
  local ids = f.q_ids or f.kv_ids
  if not ids then return false end
  local hi = max_id(ids)
  return hi ~= nil and hi > 0
end

--- True when queries and keys are the same sequence.
function methods.is_self_attention(self)
  local f = fields(self, "is_self_attention")
  if f.q_ids and f.kv_ids then return f.q_ids == f.kv_ids end
  if f.mask then
    local _, _, Q, K = f.mask:shape()
    return Q == K
  end
  if f.cu_q and f.cu_kv then return f.cu_q == f.cu_kv end
  return false
end

--- The four baked-in flags.
function methods.baked_in_masks(self)
  local f = fields(self, "baked_in_masks")
  return { causal = f.causal, sliding_window = f.sliding_window, chunked = f.chunked,
    token_type_ids = f.token_type_ids }
end

--- Additive bias (float32): 0 where allowed, the lowest finite value elsewhere.
function methods.bias(self)
  local f = fields(self, "bias")
  trace_property("bias")
  guard_dense(logical(f, "bias"), "float32", "bias")
  local b, err = logical(f, "bias"):to_bias("float32")
  if not b then fail("bias", err) end
  return b
end

--- Additive bias in a float dtype (default float32).
function methods.create_bias(self, dtype)
  local fname = "create_bias"
  local f = fields(self, fname)
  trace("MaskInfo", fname)
  if dtype ~= nil and dtype ~= "float32" and dtype ~= "float16" and dtype ~= "bfloat16" then
    argerr(fname, 1, ("float dtype expected (float32, float16 or bfloat16), got %s"):format(
      type(dtype) == "string" and dtype or args.typename(dtype)))
  end
  dtype = dtype or "float32"
  guard_dense(logical(f, fname), dtype, fname)
  local b, err = logical(f, fname):to_bias(dtype)
  if not b then fail(fname, err) end
  return b
end

---------------------------------------------------------------- shape

local function batch_size(f)
  if f.q_ids then return f.q_ids:shape()[1] end
  if f.mask then return (f.mask:shape()) end
  if f.cu_q then return #f.cu_q - 1 end
  if f.cu_kv then return #f.cu_kv - 1 end
  return nil
end

local function q_len(f)
  if f.q_ids then local s = f.q_ids:shape() return s[#s] end
  if f.mask then local _, _, Q = f.mask:shape() return Q end
  return nil
end

local function kv_len(f)
  if f.kv_ids then local s = f.kv_ids:shape() return s[#s] end
  if f.mask then local _, _, _, K = f.mask:shape() return K end
  return nil
end

--- Batch size.
function methods.batch_size(self) trace_property("batch_size") return batch_size(fields(self, "batch_size")) end
--- Query length.
function methods.q_len(self) trace_property("q_len") return q_len(fields(self, "q_len")) end
--- Key length.
function methods.kv_len(self) trace_property("kv_len") return kv_len(fields(self, "kv_len")) end
--- batch_size, q_len, kv_len (three results).
function methods.shape(self)
  local f = fields(self, "shape")
  trace_property("shape")
  return batch_size(f), q_len(f), kv_len(f)
end

---------------------------------------------------------------- sharding

local sharding = require("maskinfo.sharding")

--- Partition specs for every field, corrected for the mesh.
-- @tparam table opts mesh = {axis = size, ...}, sequence_parallel
function methods.get_shardings(self, opts)
  local fname = "get_shardings"
  local f = fields(self, fname)
  trace("MaskInfo", fname)
  opts = opt_table(fname, 1, opts, { mesh = true, sequence_parallel = true })
  local mesh = sharding.check_mesh(fname, opts.mesh)
  local sp = opt_bool(fname, 1, opts.sequence_parallel, "sequence_parallel", false)
  local stored = {
    mask = f.mask and { f.mask:shape() } or nil,
    q_ids = f.q_ids and f.q_ids:shape(), kv_ids = f.kv_ids and f.kv_ids:shape(),
    q_pos = f.q_pos and f.q_pos:shape(), kv_pos = f.kv_pos and f.kv_pos:shape(),
  }
  return sharding.shardings(fname, f, stored, mesh, sp)
end

---------------------------------------------------------------- replace / repr

local REPLACE_KEYS = {
  attention_mask = "mask", q_segment_ids = "q_ids", kv_segment_ids = "kv_ids",
  cu_seqlens_q = "cu_q", cu_seqlens_kv = "cu_kv", q_positions = "q_pos", kv_positions = "kv_pos",
  causal_mask_baked_in = "causal", sliding_window_baked_in = "sliding_window",
  chunked_mask_baked_in = "chunked", token_type_ids_baked_in = "token_type_ids",
  batch_axis_name = "batch_axis_name", qheads_axis_name = "qheads_axis_name",
  kvheads_axis_name = "kvheads_axis_name", sequence_axis_name = "sequence_axis_name",
}

--- A copy with fields replaced (the seed's replace).  A new mask or new
-- segment ids drop the cu_seqlens unless new ones are given.  `false` clears
-- positions and cu_seqlens.
function methods.replace(self, t)
  local fname = "replace"
  local f = fields(self, fname)
  trace("MaskInfo", fname)
  t = opt_table(fname, 1, t, REPLACE_KEYS)
  local ch = {}
  for k, v in pairs(t) do
    local key = REPLACE_KEYS[k]
    if key == "mask" then
      -- an Array keeps its dtype (the seed stores what it is given);
      -- nested tables are bool; either way non-zero cells are allowed
      local a = core.is_array(v) and v or mask_arg(fname, 1, v, k)
      if core.is_array(v) then mask_arg(fname, 1, v, k) end -- refuses NaN
      ch.mask = dense_mask((four_d(a, fname)), fname)
      ch.mask_dtype = a:dtype()
    elseif key == "q_ids" or key == "kv_ids" then
      ch[key] = ids_arg(fname, 1, v, k, { allow3 = true })
    elseif key == "cu_q" or key == "cu_kv" or key == "q_pos" or key == "kv_pos" then
      if v == false then
        ch[key] = args.NONE
      elseif key == "cu_q" or key == "cu_kv" then
        local len = key == "cu_q" and q_len(f) or kv_len(f)
        ch[key] = cu_arg(fname, 1, v, len, k)
      else
        ch[key] = ids_arg(fname, 1, v, k, { min = false })
      end
    elseif key == "causal" or key == "sliding_window" or key == "chunked" or key == "token_type_ids" then
      if type(v) ~= "boolean" then argerr(fname, 1, ("option '%s': boolean expected, got %s"):format(k, type(v))) end
      ch[key] = v
    else
      ch[key] = args.axis_name(fname, 1, k, v)
      if ch[key] == false then ch[key] = args.NONE end
    end
  end
  local out = derive(f, ch)
  local g = fields(out, fname)
  if ch.mask or ch.q_ids or ch.kv_ids then
    check_consistent(g, fname, 1)
    if g.q_ids and g.kv_ids then args.same_batch(fname, 1, g.q_ids, g.kv_ids) end
  end
  if (ch.q_pos and ch.q_pos ~= args.NONE) or (ch.kv_pos and ch.kv_pos ~= args.NONE) then
    check_positions({ q_ids = g.q_ids, kv_ids = g.kv_ids, mask = g.mask,
      q_pos = ch.q_pos ~= args.NONE and ch.q_pos or nil, kv_pos = ch.kv_pos ~= args.NONE and ch.kv_pos or nil },
      fname, 1)
  end
  return out
end

local function py_bool(b) return b and "True" or "False" end

--- tostring(mi): the seed's __repr__ (stored fields only), e.g.
-- `MaskInfo(q_segment_ids.shape=(1, 5), kv_segment_ids.shape=(1, 5), self_attn=True)`.
function meta.__tostring(self)
  if not core.is_open(self) then return "MaskInfo(closed)" end
  local f = fields(self, "__tostring")
  local items = {}
  if f.mask then items[#items + 1] = "attention_mask.shape=" .. shape_str({ f.mask:shape() }) end
  if f.q_ids then items[#items + 1] = "q_segment_ids.shape=" .. shape_str(f.q_ids:shape()) end
  if f.kv_ids then items[#items + 1] = "kv_segment_ids.shape=" .. shape_str(f.kv_ids:shape()) end
  if f.cu_q then items[#items + 1] = "cu_seqlens_q.shape=" .. shape_str(f.cu_q:shape()) end
  if f.cu_kv then items[#items + 1] = "cu_seqlens_kv.shape=" .. shape_str(f.cu_kv:shape()) end
  items[#items + 1] = "self_attn=" .. py_bool(methods.is_self_attention(self))
  local baked = {}
  for _, k in ipairs(FLAG_KEYS) do
    if f[k] then baked[#baked + 1] = "'" .. k .. "'" end
  end
  if #baked > 0 then items[#items + 1] = "baked_in=[" .. table.concat(baked, ", ") .. "]" end
  return "MaskInfo(" .. table.concat(items, ", ") .. ")"
end

-- What ops.lua and render.lua need from here.
M._internal = {
  core = core, fields = fields, new = new, derive = derive, logical = logical, seg_ids = seg_ids,
  slice_last = slice_last, plane_ids = plane_ids, map_array = map_array, shape_str = shape_str,
  trace = trace, FLAG_KEYS = FLAG_KEYS, methods = methods, meta = meta, M = M, to_array = to_array,
}

require("maskinfo.ops")(M._internal)
require("maskinfo.render")(M._internal)
require("maskinfo.export")(M._internal)

core.set_maskinfo_methods(methods, meta)

--- A new Array.
-- @tparam string dtype bool, int32, float32, float16 or bfloat16
-- @tparam table shape dimensions (non-negative integers)
-- @tparam[opt] table values flat values in row-major order (zeros if nil)
-- Array dtypes: the five mask dtypes, and int64 / uint8 (counts, classes).
local ARRAY_DTYPES = { bool = true, int32 = true, float32 = true, float16 = true, bfloat16 = true,
  int64 = true, uint8 = true }

local function array_dtype(fname, n, v)
  if not ARRAY_DTYPES[v] then
    argerr(fname, n, ("invalid dtype '%s' (expected bool, int32, float32, float16, bfloat16, int64 or uint8)"):format(
      tostring(v)))
  end
  return v
end

local function array_new(dtype, shape, values)
  local fname = "Array.new"
  dtype = array_dtype(fname, 1, dtype)
  if type(shape) ~= "table" then argerr(fname, 2, "shape: table expected, got " .. args.typename(shape)) end
  local n = 1
  for i, d in ipairs(shape) do
    local di = math.tointeger(d)
    if di == nil or di < 0 then
      argerr(fname, 2, ("shape[%d]: non-negative integer expected, got %s"):format(i, args.show(d)))
    end
    n = n * 1.0 * di
  end
  if #shape > 8 then argerr(fname, 2, "at most 8 dimensions") end
  guard(fname, n, DTYPE_SIZE[dtype], "an array")
  n = math.tointeger(n)
  if values ~= nil then
    if type(values) ~= "table" then argerr(fname, 3, "values: table expected, got " .. args.typename(values)) end
    if #values ~= n then argerr(fname, 3, ("%d values expected, got %d"):format(n, #values)) end
    for i = 1, n do
      local v = values[i]
      local ok
      if dtype == "bool" then
        ok = type(v) == "boolean" or (type(v) == "number" and v == v)
      elseif dtype == "int32" then
        local iv = math.tointeger(v)
        ok = iv ~= nil and iv >= -2147483648 and iv <= 2147483647
      elseif dtype == "uint8" then
        local iv = math.tointeger(v)
        ok = iv ~= nil and iv >= 0 and iv <= 255
      elseif dtype == "int64" then
        ok = math.tointeger(v) ~= nil
      else
        ok = type(v) == "number"
      end
      if not ok then
        local want = { bool = "boolean or number", int32 = "int32 integer", uint8 = "integer in [0, 255]",
          int64 = "integer" }
        argerr(fname, 3, ("values[%d]: %s expected, got %s"):format(i, want[dtype] or "number", args.show(v)))
      end
    end
  end
  return new_array(fname, dtype, shape, values)
end

--- An Array from a nested table (or an Array), in dtype (default: int32
-- for integers, bool for booleans, float32 otherwise).
local function array_from(t, dtype)
  local fname = "Array.from"
  if dtype ~= nil then dtype = array_dtype(fname, 2, dtype) end
  if core.is_array(t) then -- a copy, in its own dtype unless one is asked for
    return dtype and t:astype(dtype) or t:astype(t:dtype())
  end
  local probe = t
  while type(probe) == "table" and not core.is_array(probe) do probe = probe[1] end
  local kind = dtype == "bool" and "bool" or ((dtype == "int32" or dtype == "int64" or dtype == "uint8") and "int"
    or "float")
  if dtype == nil then
    kind = type(probe) == "boolean" and "bool" or (math.type(probe) == "integer" and "int" or "float")
  end
  local a, err = core.from_nested(t, kind)
  if not a then argerr(fname, 1, err) end
  if dtype and a:dtype() ~= dtype then a = a:astype(dtype) end
  return a
end

M.Array = { new = array_new, from = array_from }
M.util = require("maskinfo.util")
M.recipes = require("maskinfo.recipes")
M.core = core
return M
