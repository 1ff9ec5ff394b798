-- Shared helpers for the conformance specs: load generated fixtures, build MaskInfos from
-- fixture descriptions through the public Lua API, and compare results with clear messages.
--
-- Fixture arrays are {shape=, dtype=, values=}; `false` stands for the seed's None where an
-- array is expected. Coordinates in messages are 0-based (the seed's), Lua paths 1-based.
local M = {}
local is_seq
M.MISSING = "conformance: missing API: "

local here = debug.getinfo(1, "S").source:match("^@(.*)/helpers/[^/]*$") or "tests"
M.tests_dir = here
-- MASKINFO_CONFORMANCE_DIR points the specs at other generated fixtures (big local campaigns).
M.fixtures_dir = os.getenv("MASKINFO_CONFORMANCE_DIR") or (here .. "/fixtures/conformance")

-- Loads a generated fixture file and expands every case (see M.expand).
function M.load(name)
  local path = M.fixtures_dir .. "/" .. name
  local chunk, err = loadfile(path)
  if not chunk then error("cannot load fixture " .. path .. ": " .. tostring(err)) end
  local cases = chunk()
  for _, case in ipairs(cases) do M.expand(case) end
  return cases
end

-- ------------------------------------------------------------------ derived fields
-- The generator (tests/gen/generate.py, rules in tests/gen/derive.py) stores only what the
-- replay cannot rebuild. M.expand rebuilds the rest in place:
--   * bool arrays store each innermost row as a string of 0/1;
--   * a 1-D array with fewer values than its shape repeats its last value (cu_seqlens tails);
--   * an expected field written `true` is derived from the fields it depends on.
-- The generator writes `true` only after checking that these rules give the seed's answer.
local DTYPE_MIN = { float32 = -3.4028234663852886e+38, float16 = -65504.0, bfloat16 = -3.3895313892515355e+38 }
M.DTYPE_MIN = DTYPE_MIN

local function is_array(t)
  return type(t) == "table" and t.shape ~= nil and t.dtype ~= nil and t.values ~= nil
end

local function decode_bits(v)
  if type(v) == "string" then
    local row = {}
    for i = 1, #v do row[i] = v:byte(i) == 49 end
    return row
  end
  for i = 1, #v do v[i] = decode_bits(v[i]) end
  return v
end

function M.expand_array(a)
  if a.dtype == "bool" then a.values = decode_bits(a.values) end
  local vals = a.values
  if #a.shape == 1 and #vals > 0 and #vals < a.shape[1] then
    local last = vals[#vals]
    for i = #vals + 1, a.shape[1] do vals[i] = last end
  end
  return a
end

local function expand_arrays(t)
  if is_array(t) then return M.expand_array(t) end
  if type(t) == "table" then
    for _, v in pairs(t) do expand_arrays(v) end
  end
  return t
end

local function allowed(v) return v == true or (type(v) == "number" and v ~= 0) end

local function map_values(v, fn)
  if type(v) ~= "table" then return fn(v) end
  local out = {}
  for i = 1, #v do out[i] = map_values(v[i], fn) end
  return out
end

local function copy_shape(s)
  return { table.unpack(s) }
end

-- A 0/1 array in `dtype` (bool, int32 or a float) from the truth of `a`'s cells.
local function cast(a, dtype)
  local yes, no = true, false
  if dtype == "int32" then yes, no = 1, 0 elseif dtype ~= "bool" then yes, no = 1.0, 0.0 end
  return { shape = copy_shape(a.shape), dtype = dtype,
    values = map_values(a.values, function(v) if allowed(v) then return yes end return no end) }
end
M.cast = cast

-- The seed's create_bias: 0 where allowed, the dtype's lowest finite value elsewhere.
local function bias(a, dtype)
  local low = DTYPE_MIN[dtype]
  return { shape = copy_shape(a.shape), dtype = dtype,
    values = map_values(a.values, function(v) if allowed(v) then return 0.0 end return low end) }
end
M.bias = bias

-- The seed's segment_ids_to_qkv_masks for 2-D ids.
local function qkv_masks(seg, dtype)
  local q, kv = seg.q, seg.kv
  local valid = function(v) return v > -1 end
  local attn = {}
  for b = 1, q.shape[1] do
    local rows = {}
    for i = 1, q.shape[2] do
      local a, row = q.values[b][i], {}
      for j = 1, kv.shape[2] do
        local c = kv.values[b][j]
        row[j] = a == c and a > -1
      end
      rows[i] = row
    end
    attn[b] = { rows }
  end
  local function as(vals, shape)
    return cast({ shape = shape, values = vals }, dtype)
  end
  return {
    q = as(map_values(q.values, valid), q.shape),
    kv = as(map_values(kv.values, valid), kv.shape),
    attn = as(attn, { q.shape[1], 1, q.shape[2], kv.shape[2] }),
  }
end

-- get_or_compute_qkv_cu_seqlens{max_segments = ms} from the default (128-segment) answer.
local function cut(cu, ms)
  if #cu.shape == 1 and cu.shape[1] == 129 and ms ~= 128 then
    local vals = {}
    for i = 1, ms + 1 do vals[i] = cu.values[i] end
    return { shape = { ms + 1 }, dtype = cu.dtype, values = vals }
  end
  return cu
end

function M.expand(case)
  expand_arrays(case.expect)
  local e = case.expect
  if type(e) ~= "table" or is_seq(e) then return case end
  if e.cu_seqlens_kv == true then e.cu_seqlens_kv = e.cu_seqlens_q end
  if e.kv_segment_ids == true then e.kv_segment_ids = e.q_segment_ids end
  if e.segment_ids == true then e.segment_ids = { q = e.q_segment_ids, kv = e.kv_segment_ids } end
  if e.q_attention_mask == true then
    local ids = e.q_segment_ids
    e.q_attention_mask = { shape = copy_shape(ids.shape), dtype = "int32",
      values = map_values(ids.values, function(v) if v == -1 then return 0 end return 1 end) }
  end
  if type(e.positions) == "table" and e.positions.q == true then e.positions.q = e.q_position_ids end
  if e.cu_ms == true then
    e.cu_ms = { q = cut(e.cu_seqlens_q, e.cu_ms_max_segments), kv = cut(e.cu_seqlens_kv, e.cu_ms_max_segments) }
  end
  if e.gocam == true then e.gocam = cast(e.attention_mask, e.gocam_dtype) end
  if e.bias == true then e.bias = bias(e.attention_mask, "float32") end
  if e.create_bias == true then e.create_bias = bias(e.attention_mask, e.create_bias_dtype) end
  if e.qkv_masks == true then e.qkv_masks = qkv_masks(e.segment_ids, e.qkv_masks_dtype) end
  return case
end

-- The header of a generated file names the sha256 of the body below it: true when the body
-- still has it (or when sha256sum is not installed: nil and a reason).
function M.checksum_ok(path)
  local f = io.open(path, "rb")
  if not f then return false, "cannot open " .. path end
  local text = f:read("a")
  f:close()
  local want, rest = text:match("\n%-%- sha256%(body%): (%x+)\n()")
  if not want then return false, path .. ": no sha256(body) line in the header" end
  local p = io.popen("command -v sha256sum >/dev/null 2>&1 && echo yes")
  local have = p and p:read("a") or ""
  if p then p:close() end
  if not have:find("yes", 1, true) then return nil, "sha256sum is not installed" end
  local tmp = os.tmpname()
  local out = assert(io.open(tmp, "wb"))
  out:write(text:sub(rest))
  out:close()
  p = assert(io.popen("sha256sum < '" .. tmp .. "'"))
  local got = (p:read("a") or ""):match("^(%x+)")
  p:close()
  os.remove(tmp)
  if got ~= want then
    return false, string.format("%s: body sha256 %s, header says %s (edited by hand? regenerate)", path,
      tostring(got), want)
  end
  return true
end

-- ------------------------------------------------------------------ short Lua-like repr
function is_seq(t)
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end

function M.repr(v, limit)
  limit = limit or 160
  local out, len = {}, 0
  local function put(s)
    if len <= limit then out[#out + 1] = s; len = len + #s end
  end
  local function go(x)
    local tx = type(x)
    if tx == "string" then put(string.format("%q", x))
    elseif tx ~= "table" then put(tostring(x))
    elseif is_seq(x) then
      put("{")
      for i = 1, #x do if i > 1 then put(",") end; go(x[i]) end
      put("}")
    else
      put("{")
      local keys = {}
      for k in pairs(x) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for i, k in ipairs(keys) do
        if i > 1 then put(", ") end
        put(tostring(k) .. "="); go(x[k])
      end
      put("}")
    end
  end
  go(v)
  local s = table.concat(out)
  if len > limit then s = s:sub(1, limit) .. "..." end
  return s
end

local function call_repr(name, args, n)
  local parts = {}
  for i = 1, (n or #args) do parts[#parts + 1] = M.repr(args[i], 120) end
  return name .. "(" .. table.concat(parts, ", ") .. ")"
end
M.call_repr = call_repr

local describe_ctor_plain
function M.describe_ctor(c)
  local s = describe_ctor_plain(c)
  if c.replace ~= nil then s = s .. "\n      :" .. call_repr("replace", { c.replace }, 1) end
  return s
end

function describe_ctor_plain(c)
  if c.kind == "from_segments" then
    local args, n = { c.q }, 1
    if c.kv ~= nil or c.opts ~= nil then args[2] = c.kv; n = 2 end
    if c.opts ~= nil then args[3] = c.opts; n = 3 end
    return call_repr("maskinfo.from_segments", args, n)
  elseif c.kind == "from_attention_mask" then
    return call_repr("maskinfo.from_attention_mask", { c.mask, c.opts }, c.opts and 2 or 1)
  elseif c.kind == "from_cu_seqlens" then
    return call_repr("maskinfo.from_cu_seqlens", { c.cu_q, c.opts }, 2)
  elseif c.kind == "dynamic_init" then
    return call_repr("maskinfo.dynamic_init", { c.opts }, 1)
  elseif c.kind == "from_random" then
    return call_repr("maskinfo.from_random", c.args, #c.args)
  end
  return "?" .. tostring(c.kind)
end

function M.describe_chain(case)
  local s = M.describe_ctor(case.ctor)
  for _, op in ipairs(case.ops or {}) do
    s = s .. "\n      :" .. call_repr(op.op, op.args, op.n)
  end
  return s
end

-- ------------------------------------------------------------------ building
local build_ctor_plain
function M.build_ctor(maskinfo, c)
  local mi = build_ctor_plain(maskinfo, c)
  if c.replace ~= nil then mi = mi:replace(c.replace) end
  return mi
end

function build_ctor_plain(maskinfo, c)
  if c.kind == "from_segments" then
    if c.opts ~= nil then return maskinfo.from_segments(c.q, c.kv, c.opts) end
    if c.kv ~= nil then return maskinfo.from_segments(c.q, c.kv) end
    return maskinfo.from_segments(c.q)
  elseif c.kind == "from_attention_mask" then
    if c.opts ~= nil then return maskinfo.from_attention_mask(c.mask, c.opts) end
    return maskinfo.from_attention_mask(c.mask)
  elseif c.kind == "from_cu_seqlens" then
    return maskinfo.from_cu_seqlens(c.cu_q, c.opts)
  elseif c.kind == "dynamic_init" then
    return maskinfo.dynamic_init(c.opts)
  elseif c.kind == "from_random" then
    return maskinfo.from_random(table.unpack(c.args))
  end
  error("unknown ctor kind " .. tostring(c.kind))
end

function M.apply_op(mi, op)
  local f = mi[op.op]
  if f == nil then error(M.MISSING .. "MaskInfo has no method '" .. op.op .. "'", 0) end
  return f(mi, table.unpack(op.args, 1, op.n))
end

function M.build_case(maskinfo, case)
  local mi = M.build_ctor(maskinfo, case.ctor)
  for _, op in ipairs(case.ops or {}) do
    mi = M.apply_op(mi, op)
  end
  return mi
end

-- A lazily built object shared by the `it`s of one case; a build error fails each query
-- with the build error (not with a confusing nil index).
function M.lazy(maskinfo, case)
  local built, ok, res = false, nil, nil
  return function()
    if not built then
      built = true
      ok, res = pcall(M.build_case, maskinfo, case)
    end
    if not ok then error("building the case failed: " .. tostring(res), 0) end
    return res
  end
end

-- ------------------------------------------------------------------ comparison
local function fmt_coord(path)
  local c = {}
  for i, v in ipairs(path) do c[i] = tostring(v - 1) end
  return "[" .. table.concat(c, ",") .. "]"
end

local function cmp_values(a, e, dtype, path, depth, ndim)
  if depth == ndim then
    if dtype == "bool" then
      if type(a) ~= "boolean" then
        return false, string.format("value at %s: expected boolean %s, got %s %s", fmt_coord(path),
          tostring(e), type(a), tostring(a))
      end
      if a ~= e then
        return false, string.format("value at %s: expected %s, got %s", fmt_coord(path), tostring(e), tostring(a))
      end
      return true
    end
    if type(a) ~= "number" or a ~= e then
      return false, string.format("value at %s: expected %s, got %s", fmt_coord(path), tostring(e), tostring(a))
    end
    return true
  end
  if type(a) ~= "table" then
    return false, string.format("at %s: expected a nested table (depth %d), got %s", fmt_coord(path), depth,
      type(a))
  end
  if #a ~= #e then
    return false, string.format("at %s: expected %d entries, got %d", fmt_coord(path), #e, #a)
  end
  for i = 1, #e do
    path[depth + 1] = i
    local ok, msg = cmp_values(a[i], e[i], dtype, path, depth + 1, ndim)
    path[depth + 1] = nil
    if not ok then return false, msg end
  end
  return true
end

-- Reads shape/dtype/values from an Array userdata (or a plain fixture-style table).
function M.plain(a)
  if type(a) == "table" and a.shape and a.dtype and a.values ~= nil then return a end
  local ok, shape = pcall(function() return a:shape() end)
  if not ok then error("not an Array (shape() failed: " .. tostring(shape) .. "): " .. M.repr(a), 0) end
  return { shape = shape, dtype = a:dtype(), values = a:totable() }
end

local function short_values(v)
  return M.repr(v, 300)
end

-- Compare an actual Array (or nil) with an expected fixture array (or false = None).
function M.check_array(actual, expected, what)
  if expected == false then
    if actual ~= nil then
      return false, what .. ": expected nil (the seed returns None), got " .. M.repr(actual)
    end
    return true
  end
  if actual == nil then return false, what .. ": expected an array, got nil" end
  local ok, p = pcall(M.plain, actual)
  if not ok then return false, what .. ": " .. tostring(p) end
  local es, as = expected.shape, p.shape
  if #es ~= #as then
    return false, string.format("%s: shape: expected %s, got %s", what, M.repr(es), M.repr(as))
  end
  for i = 1, #es do
    if es[i] ~= as[i] then
      return false, string.format("%s: shape: expected %s, got %s", what, M.repr(es), M.repr(as))
    end
  end
  if expected.dtype ~= p.dtype then
    return false, string.format("%s: dtype: expected %s, got %s", what, expected.dtype, tostring(p.dtype))
  end
  local okv, msg = cmp_values(p.values, expected.values, expected.dtype, {}, 0, #es)
  if not okv then
    return false, string.format("%s: %s\n        expected values %s\n        actual values   %s", what, msg,
      short_values(expected.values), short_values(p.values))
  end
  return true
end

-- Plain deep equality for results that are ordinary Lua tables (specs, flags).
function M.deep_equal(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(b) do
    if not M.deep_equal(a[k], v) then return false end
  end
  for k in pairs(a) do
    if b[k] == nil then return false end
  end
  return true
end

-- Raise a test failure naming the case (through luassert when present, so busted counts it as
-- a failure rather than an error).
local ok_la, luassert = pcall(require, "luassert")
function M.fail(ctx, msg)
  local text = ctx .. "\n  " .. msg
  if ok_la and luassert then luassert(false, text) end
  error(text, 0)
end

function M.assert_array(ctx, actual, expected, what)
  local ok, msg = M.check_array(actual, expected, what)
  if not ok then M.fail(ctx, msg) end
end

function M.assert_equal(ctx, actual, expected, what)
  if not M.deep_equal(actual, expected) then
    M.fail(ctx, string.format("%s: expected %s, got %s", what, M.repr(expected, 400), M.repr(actual, 400)))
  end
end

local SHARDING_KEYS = { "attention_mask", "q_segment_ids", "kv_segment_ids", "cu_seqlens_q", "cu_seqlens_kv",
  "q_positions", "kv_positions" }
M.SHARDING_KEYS = SHARDING_KEYS

function M.assert_sharding(ctx, actual, expected, what)
  if type(actual) ~= "table" then
    M.fail(ctx, what .. ": expected a table keyed like MaskSharding, got " .. M.repr(actual))
  end
  for _, k in ipairs(SHARDING_KEYS) do
    local e, a = expected[k], actual[k]
    if a == nil then a = "<nil>" end
    if not M.deep_equal(a, e) then
      M.fail(ctx, string.format("%s.%s: expected %s, got %s", what, k, M.repr(e), M.repr(a)))
    end
  end
end

-- Collect multiple results of a call into a sequence with its count.
function M.pack(...)
  return { n = select("#", ...), ... }
end

-- ------------------------------------------------------------------ object cases
local FLAG_KEYS = { "causal", "sliding_window", "chunked", "token_type_ids" }

-- Defines one `it` per recorded query of an object case (constructor + op chain).
-- `it` is busted's, passed in by the spec. A query the seed raises on is listed in
-- expect.errors[key] and must raise here too; a query not recorded for a case is skipped.
function M.object_case(it, maskinfo, file, case)
  local get = M.lazy(maskinfo, case)
  local e = case.expect
  local errs = e.errors or {}
  local ctx = string.format("[%s %s]\n    %s", file, case.name, M.describe_chain(case))
  local function q(key, label, fn)
    if errs[key] then
      it(case.name .. ": " .. label .. " raises", function()
        local mi = get()
        local ok = pcall(fn, mi)
        if ok then M.fail(ctx, label .. ": the seed raises (" .. errs[key] .. "), but this returned") end
      end)
    elseif e[key] ~= nil then
      it(case.name .. ": " .. label, function() fn(get()) end)
    end
  end
  local function dq(s) return string.format("%q", s) end

  q("tostring", "tostring", function(mi)
    M.assert_equal(ctx, tostring(mi), e.tostring, "tostring(mi)")
  end)
  q("shape", "shape, batch_size, q_len, kv_len", function(mi)
    M.assert_equal(ctx, { mi:shape() }, e.shape, "{mi:shape()}")
    M.assert_equal(ctx, { mi:batch_size(), mi:q_len(), mi:kv_len() }, e.shape,
      "{mi:batch_size(), mi:q_len(), mi:kv_len()}")
  end)
  q("baked_in_masks", "baked_in_masks", function(mi)
    local b = mi:baked_in_masks()
    local got = {}
    if type(b) == "table" then for _, k in ipairs(FLAG_KEYS) do got[k] = b[k] end else got = b end
    M.assert_equal(ctx, got, e.baked_in_masks, "mi:baked_in_masks()")
  end)
  q("is_self_attention", "is_self_attention", function(mi)
    M.assert_equal(ctx, mi:is_self_attention(), e.is_self_attention, "mi:is_self_attention()")
  end)
  q("is_multi_sequence", "is_multi_sequence", function(mi)
    M.assert_equal(ctx, mi:is_multi_sequence(), e.is_multi_sequence, "mi:is_multi_sequence()")
  end)
  q("attention_mask", "attention_mask()", function(mi)
    M.assert_array(ctx, mi:attention_mask(), e.attention_mask, "mi:attention_mask()")
  end)
  local gd = e.gocam_dtype
  q("gocam", "get_or_compute_attention_mask(" .. gd .. ")", function(mi)
    M.assert_array(ctx, mi:get_or_compute_attention_mask(gd), e.gocam,
      "mi:get_or_compute_attention_mask(" .. dq(gd) .. ")")
  end)
  q("gocam", "attention_mask(" .. gd .. ")", function(mi)
    M.assert_array(ctx, mi:attention_mask(gd), e.gocam, "mi:attention_mask(" .. dq(gd) .. ")")
  end)
  q("q_segment_ids", "q_segment_ids", function(mi)
    M.assert_array(ctx, mi:q_segment_ids(), e.q_segment_ids, "mi:q_segment_ids()")
  end)
  q("kv_segment_ids", "kv_segment_ids", function(mi)
    M.assert_array(ctx, mi:kv_segment_ids(), e.kv_segment_ids, "mi:kv_segment_ids()")
  end)
  local ph = e.segment_ids_per_head
  local ph_label = "mi:get_or_compute_segment_ids(" .. (ph == nil and "" or tostring(ph)) .. ")"
  q("segment_ids", "get_or_compute_segment_ids", function(mi)
    local r
    if ph == nil then r = M.pack(mi:get_or_compute_segment_ids()) else r = M.pack(mi:get_or_compute_segment_ids(ph)) end
    M.assert_array(ctx, r[1], e.segment_ids.q, ph_label .. " [1]")
    M.assert_array(ctx, r[2], e.segment_ids.kv, ph_label .. " [2]")
  end)
  q("q_lens", "q_lens", function(mi)
    M.assert_array(ctx, mi:q_lens(), e.q_lens, "mi:q_lens()")
  end)
  q("kv_lens", "kv_lens", function(mi)
    M.assert_array(ctx, mi:kv_lens(), e.kv_lens, "mi:kv_lens()")
  end)
  q("q_attention_mask", "q_attention_mask", function(mi)
    M.assert_array(ctx, mi:q_attention_mask(), e.q_attention_mask, "mi:q_attention_mask()")
  end)
  q("q_position_ids", "q_position_ids", function(mi)
    M.assert_array(ctx, mi:q_position_ids(), e.q_position_ids, "mi:q_position_ids()")
  end)
  q("positions", "get_or_compute_positions", function(mi)
    local r = M.pack(mi:get_or_compute_positions())
    M.assert_array(ctx, r[1], e.positions.q, "mi:get_or_compute_positions() [1]")
    M.assert_array(ctx, r[2], e.positions.kv, "mi:get_or_compute_positions() [2]")
  end)
  q("cu_seqlens_q", "cu_seqlens_q", function(mi)
    M.assert_array(ctx, mi:cu_seqlens_q(), e.cu_seqlens_q, "mi:cu_seqlens_q()")
  end)
  q("cu_seqlens_kv", "cu_seqlens_kv", function(mi)
    M.assert_array(ctx, mi:cu_seqlens_kv(), e.cu_seqlens_kv, "mi:cu_seqlens_kv()")
  end)
  local ms = e.cu_ms_max_segments
  local ms_label = "mi:get_or_compute_qkv_cu_seqlens{max_segments=" .. tostring(ms) .. "}"
  q("cu_ms", "get_or_compute_qkv_cu_seqlens{max_segments=" .. tostring(ms) .. "}", function(mi)
    local r = M.pack(mi:get_or_compute_qkv_cu_seqlens { max_segments = ms })
    M.assert_array(ctx, r[1], e.cu_ms.q, ms_label .. " [1]")
    M.assert_array(ctx, r[2], e.cu_ms.kv, ms_label .. " [2]")
  end)
  local qd = e.qkv_masks_dtype
  q("qkv_masks", "get_qkv_masks(" .. tostring(qd) .. ")", function(mi)
    local r = M.pack(mi:get_qkv_masks(qd))
    local label = "mi:get_qkv_masks(" .. dq(qd) .. ")"
    M.assert_array(ctx, r[1], e.qkv_masks.q, label .. " [1] q_mask")
    M.assert_array(ctx, r[2], e.qkv_masks.kv, label .. " [2] kv_mask")
    M.assert_array(ctx, r[3], e.qkv_masks.attn, label .. " [3] attention_mask")
  end)
  q("bias", "bias()", function(mi)
    M.assert_array(ctx, mi:bias(), e.bias, "mi:bias()")
  end)
  local bd = e.create_bias_dtype
  q("create_bias", "create_bias(" .. tostring(bd) .. ")", function(mi)
    M.assert_array(ctx, mi:create_bias(bd), e.create_bias, "mi:create_bias(" .. dq(bd) .. ")")
  end)
  for i, sh in ipairs(e.shardings or {}) do
    local args = { mesh = sh.mesh, sequence_parallel = sh.sequence_parallel }
    local label = "mi:get_shardings" .. M.repr(args)
    if sh.error then
      it(case.name .. ": get_shardings #" .. i .. " raises", function()
        local mi = get()
        local ok, res = pcall(mi.get_shardings, mi, args)
        if ok then M.fail(ctx, label .. ": the seed raises (" .. sh.error .. "), got " .. M.repr(res)) end
      end)
    else
      it(case.name .. ": get_shardings #" .. i, function()
        M.assert_sharding(ctx, get():get_shardings(args), sh.result, label)
      end)
    end
  end
  -- maskinfo objects are immutable: queries with a dtype or max_segments must not change what
  -- later queries answer (the seed caches them; the issue overrides that).
  it(case.name .. ": earlier queries do not change later answers", function()
    local mi = get()
    pcall(mi.get_or_compute_attention_mask, mi, gd)
    pcall(mi.attention_mask, mi, gd)
    pcall(mi.get_or_compute_qkv_cu_seqlens, mi, { max_segments = ms })
    pcall(mi.get_or_compute_positions, mi)
    pcall(mi.get_or_compute_segment_ids, mi, true)
    pcall(mi.get_qkv_masks, mi, qd)
    pcall(mi.create_bias, mi, bd)
    if e.tostring then M.assert_equal(ctx, tostring(mi), e.tostring, "tostring(mi) after other queries") end
    if e.attention_mask then
      M.assert_array(ctx, mi:attention_mask(), e.attention_mask, "mi:attention_mask() after other queries")
    end
    if e.q_segment_ids then
      M.assert_array(ctx, mi:q_segment_ids(), e.q_segment_ids, "mi:q_segment_ids() after other queries")
    end
    if e.cu_seqlens_q then
      M.assert_array(ctx, mi:cu_seqlens_q(), e.cu_seqlens_q, "mi:cu_seqlens_q() after other queries")
    end
    local sh = (e.shardings or {})[1]
    if sh and sh.result then
      local args = { mesh = sh.mesh, sequence_parallel = sh.sequence_parallel }
      M.assert_sharding(ctx, mi:get_shardings(args), sh.result,
        "mi:get_shardings" .. M.repr(args) .. " after other queries")
    end
  end)
end

-- Defines one `it` for a module-function case.
function M.function_case(it, maskinfo, file, case)
  local call = M.call_repr("maskinfo." .. case.fn, case.args, case.n)
  local ctx = string.format("[%s %s]\n    %s", file, case.name, call)
  it(case.name .. ": " .. case.fn, function()
    local f = maskinfo[case.fn]
    if f == nil then M.fail(ctx, "maskinfo." .. case.fn .. " does not exist") end
    local r = M.pack(f(table.unpack(case.args, 1, case.n)))
    for i, ex in ipairs(case.expect) do
      M.assert_array(ctx, r[i], ex, "result [" .. i .. "]")
    end
    if r[#case.expect + 1] ~= nil then
      M.fail(ctx, string.format("expected %d result(s), got an extra one: %s", #case.expect,
        M.repr(r[#case.expect + 1])))
    end
  end)
end

-- Defines one `it` for a case where the seed raises.
function M.error_case(it, maskinfo, file, case)
  local ctx
  if case.kind == "fn" then
    ctx = M.call_repr("maskinfo." .. case.fn, case.args, case.n)
  else
    ctx = M.describe_chain(case)
    if case.query then ctx = ctx .. "\n      :" .. M.call_repr(case.query.name, case.query.args) end
  end
  ctx = string.format("[%s %s] (seed: %s)\n    %s", file, case.name, case.why or "raises", ctx)
  it(case.name .. " raises", function()
    local ok, res
    if case.kind == "fn" then
      local f = maskinfo[case.fn]
      if f == nil then M.fail(ctx, "maskinfo." .. case.fn .. " does not exist") end
      ok, res = pcall(f, table.unpack(case.args, 1, case.n))
    elseif case.kind == "ctor" then
      ok, res = pcall(M.build_ctor, maskinfo, case.ctor)
    else
      local mi = M.build_ctor(maskinfo, case.ctor)
      local ops = case.ops or {}
      ok, res = pcall(function()
        local cur = mi
        for _, op in ipairs(ops) do cur = M.apply_op(cur, op) end
        if case.query then
          local f = cur[case.query.name]
          if f == nil then error(M.MISSING .. "MaskInfo has no method " .. case.query.name, 0) end
          return f(cur, table.unpack(case.query.args))
        end
        return cur
      end)
    end
    if ok then M.fail(ctx, "expected an error, got " .. M.repr(res)) end
    if type(res) ~= "string" or #res == 0 then
      M.fail(ctx, "expected a Lua error with a message, got " .. M.repr(res))
    end
    if res:find(M.MISSING, 1, true) then M.fail(ctx, res) end
    if res:find("attempt to", 1, true) then
      M.fail(ctx, "raised, but with a Lua runtime error instead of a checked argument error: " .. res)
    end
  end)
end

-- ------------------------------------------------------------------ Array inputs
-- "Every input may also be a maskinfo Array": these turn the nested-table array inputs of a
-- case into Arrays (maskinfo.Array.new(dtype, shape, flat)), bool for booleans, int32 otherwise.
local function array_shape(t)
  local shape, cur = {}, t
  while type(cur) == "table" do
    if #cur == 0 then return nil end
    shape[#shape + 1] = #cur
    cur = cur[1]
  end
  if type(cur) ~= "number" and type(cur) ~= "boolean" then return nil end
  return shape
end

local function flatten(t, out, any_bool)
  for i = 1, #t do
    local v = t[i]
    if type(v) == "table" then flatten(v, out, any_bool) else
      out[#out + 1] = v
      if type(v) == "boolean" then any_bool[1] = true end
    end
  end
  return out
end

function M.to_array(maskinfo, v)
  if type(v) ~= "table" or not is_seq(v) then return v end
  local shape = array_shape(v)
  if not shape then return v end
  local any_bool = { false }
  local flat = flatten(v, {}, any_bool)
  return maskinfo.Array.new(any_bool[1] and "bool" or "int32", shape, flat)
end

local ARRAY_OPTS = { q_positions = true, kv_positions = true, cu_seqlens_kv = true, attention_mask = true,
  input_ids = true, kv_token_type_ids = true, q_segment_ids = true, kv_segment_ids = true, cu_seqlens_q = true }

local function arrayify_opts(maskinfo, o)
  if type(o) ~= "table" or is_seq(o) then return o end
  local r = {}
  for k, v in pairs(o) do r[k] = ARRAY_OPTS[k] and M.to_array(maskinfo, v) or v end
  return r
end

-- A copy of an object case whose constructor and token-type / kv-length inputs are Arrays.
function M.arrayify_object_case(maskinfo, case)
  local c = {}
  for k, v in pairs(case.ctor) do c[k] = v end
  for _, k in ipairs({ "q", "kv", "mask", "cu_q" }) do
    if c[k] ~= nil then c[k] = M.to_array(maskinfo, c[k]) end
  end
  c.opts = arrayify_opts(maskinfo, c.opts)
  c.replace = arrayify_opts(maskinfo, c.replace)
  local ops = {}
  for i, op in ipairs(case.ops or {}) do
    local args = {}
    for j = 1, op.n do args[j] = op.args[j] end
    if op.op == "apply_token_type_ids" or op.op == "apply_kv_lengths" then
      args[1] = M.to_array(maskinfo, args[1])
      args[2] = arrayify_opts(maskinfo, args[2])
    elseif op.op == "replace" then
      args[1] = arrayify_opts(maskinfo, args[1])
    end
    ops[i] = { op = op.op, n = op.n, args = args }
  end
  return { name = case.name, ctor = c, ops = ops, expect = case.expect }
end

-- A copy of a module-function case whose array arguments (and array options) are Arrays.
function M.arrayify_function_case(maskinfo, case)
  local args = {}
  for j = 1, case.n do
    local v = case.args[j]
    if type(v) == "table" and not is_seq(v) then args[j] = arrayify_opts(maskinfo, v)
    else args[j] = M.to_array(maskinfo, v) end
  end
  return { name = case.name, fn = case.fn, n = case.n, args = args, expect = case.expect }
end

-- Fewer queries per case for the Array-input replay: the main observables only.
function M.object_case_core(it, maskinfo, file, case)
  local get = M.lazy(maskinfo, case)
  local e = case.expect
  local ctx = string.format("[%s %s, Array inputs]\n    %s", file, case.name, M.describe_chain(case))
  it(case.name .. ": Array inputs give the same MaskInfo", function()
    local mi = get()
    if e.tostring then M.assert_equal(ctx, tostring(mi), e.tostring, "tostring(mi)") end
    if e.attention_mask then M.assert_array(ctx, mi:attention_mask(), e.attention_mask, "mi:attention_mask()") end
    if e.q_segment_ids then M.assert_array(ctx, mi:q_segment_ids(), e.q_segment_ids, "mi:q_segment_ids()") end
    if e.kv_segment_ids then M.assert_array(ctx, mi:kv_segment_ids(), e.kv_segment_ids, "mi:kv_segment_ids()") end
    if e.cu_seqlens_q then M.assert_array(ctx, mi:cu_seqlens_q(), e.cu_seqlens_q, "mi:cu_seqlens_q()") end
    if e.positions then
      local r = M.pack(mi:get_or_compute_positions())
      M.assert_array(ctx, r[1], e.positions.q, "mi:get_or_compute_positions() [1]")
      M.assert_array(ctx, r[2], e.positions.kv, "mi:get_or_compute_positions() [2]")
    end
    local sh = (e.shardings or {})[1]
    if sh and sh.result then
      local args = { mesh = sh.mesh, sequence_parallel = sh.sequence_parallel }
      M.assert_sharding(ctx, mi:get_shardings(args), sh.result, "mi:get_shardings" .. M.repr(args))
    end
  end)
end

return M
