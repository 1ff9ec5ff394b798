--- maskinfo export: a recipe's mask (or a .npy mask) written for another
-- program: the dense mask (.npy, safetensors), one kernel's tables (one
-- safetensors file per format, the tables under the kernel's names) or the
-- row intervals as JSON.  docs/cli.md gives each file's layout.
-- @module maskinfo.cli.export

local mi = require("maskinfo")
local CE = require("maskinfo.cli.errors")
local cmd = require("maskinfo.cli.commands")
local G = require("maskinfo.guard")
local core = require("maskinfo.core")

local M = {}

--- The formats, in the order the messages list them.
M.FORMATS = { "npy", "safetensors", "flex", "flashmask", "flashinfer", "bsr", "magi", "splash", "varlen", "json" }

-- The formats written as one safetensors file of tables.
local KERNELS = { "flex", "flashmask", "flashinfer", "bsr", "magi", "splash", "varlen" }

-- The file each format writes; the kernel formats are safetensors files.
local EXT = { npy = ".npy", json = ".json" }
local function ext_of(format) return EXT[format] or ".safetensors" end

-- The format an extension gives when --format is absent.
local GUESS = { [".npy"] = "npy", [".safetensors"] = "safetensors", [".json"] = "json" }

-- The options that apply to some formats only, and those formats.
local APPLIES = {
  dtype = { npy = true, safetensors = true },
  fields = { safetensors = true },
  block = { flex = true, bsr = true, splash = true },
  tail = { flex = true }, csr = { flex = true }, no_intervals = { flex = true },
  causal = { flashmask = true },
  heads = { flashinfer = true, bsr = true, magi = true },
  batch = { bsr = true, splash = true },
}

--- The fields of a safetensors export (m:save_safetensors), in its order.
M.FIELDS = { "attention_mask", "q_segment_ids", "kv_segment_ids", "q_positions", "kv_positions", "cu_seqlens_q",
  "cu_seqlens_kv" }

--- Dense exports larger than this need --force (1 GiB).
M.FORCE_BYTES = 1 << 30

--- Options of the export command that take no value (for the CLI's first pass).
M.FLAGS = { ["--force"] = true, ["--csr"] = true, ["--no-intervals"] = true }

--- Declare the export command's arguments on the argparse command c.
function M.add_command(c, opt, flag)
  c:argument("output", "The file to write: OUT.npy, OUT.safetensors or OUT.json.")
  opt(c, "--format", "npy, safetensors, flex, flashmask, flashinfer, bsr, magi, splash, varlen or json "
    .. "(default: from the output's extension).", "<format>")
  opt(c, "--layers", "The layer to write (1-based; needed when the recipe has several).", "<layer>")
  opt(c, "--dtype", "npy, safetensors: bool, int32, float32, float16 or bfloat16 (default bool).", "<dtype>")
    :choices({ "bool", "int32", "float32", "float16", "bfloat16" })
  opt(c, "--fields", "safetensors: the fields to write, comma-separated (default all: " .. table.concat(M.FIELDS, ", ")
    .. ").", "<list>")
  opt(c, "--block", "flex, splash (default 128), bsr (required): block size N or Q,KV.", "<n>")
  opt(c, "--tail", "flex: torch (default; a ragged tail block is never full) or exact.", "<rule>")
    :choices({ "torch", "exact" })
  flag(c, "--csr", "flex: the compressed tables (runs of block columns) instead of torch's.")
  flag(c, "--no-intervals", "flex: leave out the row intervals (row_ptr, starts, ends).")
  opt(c, "--causal", "flashmask: true (default; the kernel masks above the diagonal) or false.", "<bool>")
    :choices({ "true", "false" })
  opt(c, "--heads", "flashinfer, bsr, magi: the head to write (needed when the mask has several).", "<h>")
  opt(c, "--batch", "bsr, splash: the batch row to write (needed when the mask has several).", "<b>")
  flag(c, "--force", "Write a dense export larger than 1 GiB.")
end

--- True when the RECIPE argument names a .npy file (a mask dumped from
-- PyTorch or JAX) rather than a recipe.
function M.is_file(name)
  return type(name) == "string" and name:lower():match("%.npy$") ~= nil
end

local function usage(msg) CE.usage(msg, "export") end

local function list(t)
  if #t == 1 then return t[1] end
  return table.concat(t, ", ", 1, #t - 1) .. " or " .. t[#t]
end

-- The format: --format, else the output's extension; the extension must be
-- the format's file type.
local function format_of(args)
  local out = args.output
  local ext = out:lower():match("(%.[%w]+)$")
  local f = args.format
  if f == nil then
    f = ext and GUESS[ext]
    if not f then
      usage(("export: the output must end in .npy or .safetensors or .json, got '%s' (the kernel formats %s "
        .. "write a .safetensors file named with --format)"):format(out, list(KERNELS)))
    end
    return f
  end
  local known = false
  for _, x in ipairs(M.FORMATS) do known = known or x == f end
  if not known then usage(("export: unknown format '%s' (accepted: %s)"):format(f, list(M.FORMATS))) end
  if ext ~= ext_of(f) then
    usage(("export: --format %s writes a %s file, the output is '%s'"):format(f, ext_of(f), out))
  end
  return f
end

local OPTION_NAME = { no_intervals = "--no-intervals" }

-- Refuse the options that do not apply to the format.
local function check_applies(args, f)
  local keys = {}
  for k in pairs(APPLIES) do keys[#keys + 1] = k end
  table.sort(keys) -- the same option is named whatever the table's order
  for _, k in ipairs(keys) do
    local fs = APPLIES[k]
    if args[k] ~= nil and args[k] ~= false and not fs[f] then
      local names = {}
      for x in pairs(fs) do names[#names + 1] = x end
      table.sort(names)
      usage(("export: %s applies to %s, not to --format %s"):format(OPTION_NAME[k] or ("--" .. k),
        list(names), f))
    end
  end
end

-- --block N or Q,KV: an integer or {q, kv}, nil when absent.
local function block_opt(args)
  local s = args.block
  if s == nil then return nil end
  local a, b = s:match("^(%d+),(%d+)$")
  if not a then a = s:match("^%d+$") and s end
  local q, kv = math.tointeger(tonumber(a)), math.tointeger(tonumber(b or a))
  if not q or q < 1 or kv < 1 then usage(("--block must be N or Q,KV with positive integers, got '%s'"):format(s)) end
  return { q, kv }
end

-- --fields a,b: a list of known field names, nil when absent.
local function fields_opt(args)
  if args.fields == nil then return nil end
  local known, t = {}, {}
  for _, k in ipairs(M.FIELDS) do known[k] = true end
  for k in (args.fields .. ","):gmatch("([^,]*),") do
    if not known[k] then usage(("--fields: unknown field '%s' (accepted: %s)"):format(k, list(M.FIELDS))) end
    t[#t + 1] = k
  end
  return t
end

-- The index option --name (--heads, --batch) as an integer in [0, count).
local function index_opt(args, name, count, what)
  local v = cmd.int_opt(args, name, 0)
  if v ~= nil and v >= count then
    usage(("--%s %d: the mask has %d %s (0..%d)"):format(name, v, count, what, count - 1))
  end
  return v
end

-- The mask to export, a description of its source for JSON, and its name.
local function source(args, r)
  if r == nil then
    local ok, m, msg, status = pcall(mi.from_npy, args.recipe)
    if not ok then CE.runtime(tostring(m)) end
    -- a missing file is a usage error, as a missing recipe is
    if not m then (status == "EIO" and usage or CE.runtime)(msg) end
    if args.layers and args.layers ~= "1" then usage("a .npy file holds one layer: --layers must be 1") end
    return m, { file = args.recipe }
  end
  local layers, p = cmd.build(args, r)
  local li = 1
  if args.layers then
    local ls = cmd.selection(args, "layers", 1, #layers, nil, "layers")
    if #ls ~= 1 then usage("export writes one layer: give one number to --layers") end
    li = ls[1]
  elseif #layers > 1 then
    usage(("recipe %s has %d layers: pick one with --layers N"):format(r.name, #layers))
  end
  return layers[li].mask, { recipe = r.name, params = p, layer = li, layer_name = layers[li].name }
end

-- The mask's (B, H, Q, K) (a MaskInfo's shape() leaves out the heads).
local function dims(m)
  local B, Q, K = m:shape()
  return B, cmd.heads_of(m), Q, K
end

local DTYPE_SIZE = { bool = 1, int32 = 4, float32 = 4, float16 = 2, bfloat16 = 2 }

-- Refuse a dense export over 1 GiB without --force, before it is built.
local function check_force(args, m)
  local B, H, Q, K = dims(m)
  local dtype = args.dtype or "bool"
  local bytes = B * 1.0 * H * Q * K * DTYPE_SIZE[dtype]
  if bytes > M.FORCE_BYTES and not args.force then
    CE.runtime(("export: the dense (%d, %d, %d, %d) %s mask is %s, over 1 GiB: --force writes it"):format(
      B, H, Q, K, dtype, G.human(bytes)))
  end
end

local function scalar(dtype, v) return mi.Array.new(dtype, {}, { v }) end
local function pair(a, b) return mi.Array.new("int32", { 2 }, { a, b }) end

--- The named tables of a kernel format, as they are written: a list of
-- {name, Array} pairs (the safetensors file keeps that order).
-- @tparam MaskInfo m the mask
-- @tparam string f a kernel format (flex, flashmask, flashinfer, bsr, magi, splash, varlen)
-- @tparam table o the options: block ({q, kv}), tail, csr, intervals, causal, head, batch
function M.tables(m, f, o)
  local t
  local out = {}
  local function add(name, a) out[#out + 1] = { name, a } end
  if f == "flex" then
    t = m:flex_block_mask{ block_size = o.block, tail = o.tail, format = o.csr and "csr" or "dense",
      intervals = o.intervals }
    if o.csr then
      for _, k in ipairs({ "kv_runs", "full_kv_runs" }) do
        for _, x in ipairs({ "ptr", "lo", "hi" }) do add(k .. "_" .. x, t[k][x]) end
      end
    else
      for _, k in ipairs({ "kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices", "q_num_blocks",
        "q_indices", "full_q_num_blocks", "full_q_indices" }) do add(k, t[k]) end
    end
    add("block_size", pair(t.block_size[1], t.block_size[2]))
    add("seq_lengths", pair(t.seq_lengths[1], t.seq_lengths[2]))
    add("shape", mi.Array.new("int32", { 4 }, t.shape))
    if t.intervals then
      for _, k in ipairs({ "row_ptr", "starts", "ends" }) do add(k, t.intervals[k]) end
    end
  elseif f == "flashmask" then
    add("startend_row_indices", m:flashmask{ causal = o.causal })
    add("causal", scalar("bool", o.causal ~= false))
  elseif f == "flashinfer" then
    t = m:flashinfer_mask{ head = o.head }
    for _, k in ipairs({ "packed_custom_mask", "mask_indptr", "qo_indptr", "kv_indptr", "indices_q", "indices_k" }) do
      add(k, t[k])
    end
  elseif f == "bsr" then
    t = m:bsr{ block_size = o.block, batch = o.batch, head = o.head }
    add("indptr", t.indptr)
    add("indices", t.indices)
    if t.mask then add("mask", t.mask) end
    for _, k in ipairs({ "M", "N", "R", "C" }) do add(k, scalar("int32", t[k])) end
  elseif f == "magi" then
    t = m:attn_slices{ head = o.head }
    for _, k in ipairs({ "q_ranges", "k_ranges", "attn_type_map" }) do add(k, t[k]) end
    add("total_seqlen_q", scalar("int64", t.total_seqlen_q))
    add("total_seqlen_k", scalar("int64", t.total_seqlen_k))
  elseif f == "splash" then
    t = m:splash_mask_info{ block_size = o.block, batch = o.batch }
    for _, k in ipairs({ "block_mask", "data_next", "mask_next", "partial_mask_blocks" }) do
      if t[k] then add(k, t[k]) end
    end
    add("block_size", pair(t.block_size[1], t.block_size[2]))
  elseif f == "varlen" then
    t = m:varlen()
    for _, k in ipairs({ "cu_seqlens_q", "cu_seqlens_k", "seqlens_q", "seqlens_k" }) do add(k, t[k]) end
    add("max_seqlen_q", scalar("int32", t.max_seqlen_q))
    add("max_seqlen_k", scalar("int32", t.max_seqlen_k))
    for _, k in ipairs({ "indices_q", "indices_k" }) do add(k, t[k]) end
    add("causal", scalar("bool", t.causal == true))
    add("window_size", pair(t.window_size[1], t.window_size[2]))
  end
  return out
end

-- The kernel options from the command line, checked against the mask.
local function kernel_opts(args, f, m)
  local B, H, Q, K = dims(m)
  local o = { block = block_opt(args), tail = args.tail, csr = args.csr or nil,
    intervals = not args.no_intervals, causal = args.causal ~= "false",
    head = index_opt(args, "heads", H, "heads"), batch = index_opt(args, "batch", B, "batch rows") }
  if f == "bsr" and not o.block then usage("--format bsr needs --block N or R,C (the block size)") end
  local bq, bk = table.unpack(o.block or { 128, 128 })
  if (f == "bsr" or f == "splash") and (Q % bq ~= 0 or K % bk ~= 0) then
    usage(("--block %d,%d must divide the mask's q_len %d and kv_len %d (%s's rule)"):format(bq, bk, Q, K, f))
  end
  local why = { flashinfer = "FlashInfer's custom mask is shared by all heads", bsr = "the BSR layout has one matrix",
    magi = "Magi's slices are shared by all heads", splash = "splash's mask has no batch axis" }
  if o.head == nil and H > 1 and APPLIES.heads[f] then
    usage(("the mask has %d heads and %s: pick one with --heads H"):format(H, why[f]))
  end
  if o.batch == nil and B > 1 and APPLIES.batch[f] then
    usage(("the mask has %d batch rows and %s: pick one with --batch B"):format(B, why[f]))
  end
  return o
end

-- A kernel method's failure (a guard refusal, a mask FlashMask cannot
-- express) is a runtime failure with its message.
local function kernel_tables(m, f, o)
  local ok, res = pcall(M.tables, m, f, o)
  if not ok then CE.runtime(tostring(res)) end
  return res
end

---------------------------------------------------------------- JSON

-- Bytes the JSON document costs while it is built: per row its table
-- (slot + header) and per interval a pair table, plus the text, twice.
local ROW_BYTES, INTERVAL_BYTES = 160, 256

--- The JSON document of mask m (see docs/cli.md, "JSON"): the source, the
-- shape and every row's allowed key intervals, or nil and the guard's
-- message when building it would pass the memory limit.
-- @tparam MaskInfo m the mask
-- @tparam table src {recipe=, params=, layer=, layer_name=} or {file=}
function M.json(m, src)
  local cjson = require("cjson").new()
  local B, H, Q, K = dims(m)
  local rows = B * H * Q
  -- the row tables alone, before the intervals are read
  if not core.check_alloc(rows * 1.0 * ROW_BYTES, 1) then
    return nil, G.over(("the JSON rows of a (%d, %d, %d, %d) mask"):format(B, H, Q, K), rows * 1.0 * ROW_BYTES)
  end
  -- the intervals of flex_block_mask's csr form at one block per plane
  local ok, t = pcall(m.flex_block_mask, m, { block_size = { math.max(Q, 1), math.max(K, 1) }, format = "csr" })
  if not ok then return nil, tostring(t) end
  local row_ptr, starts, ends = t.intervals.row_ptr, t.intervals.starts, t.intervals.ends
  local n = starts:size()
  local bytes = rows * 1.0 * ROW_BYTES + n * 1.0 * INTERVAL_BYTES
  if not core.check_alloc(bytes, 1) then
    return nil, G.over(("the JSON rows of a (%d, %d, %d, %d) mask with %d intervals"):format(B, H, Q, K, n), bytes)
  end
  local ptr, st, en = row_ptr:flat(), starts:flat(), ends:flat()
  local out, r = {}, 0
  for b = 1, B do
    local planes = {}
    for h = 1, H do
      local plane = {}
      for q = 1, Q do
        local row = {}
        for i = ptr[r + 1] + 1, ptr[r + 2] do row[#row + 1] = { st[i], en[i] } end
        plane[q], r = row, r + 1
      end
      planes[h] = plane
    end
    out[b] = planes
  end
  -- lua-cjson 2.1 writes an empty table as {}: the rows hold only numbers
  -- and brackets, so the empty rows (and planes) are turned into [] there
  local rows_text = cjson.encode(out):gsub("{}", "[]")
  -- the keys in a fixed order (params sorted), so equal masks give equal files
  local parts = {}
  local function put(k, v) if v ~= nil then parts[#parts + 1] = cjson.encode(k) .. ":" .. v end end
  put("format", '"maskinfo.row_intervals"')
  put("version", "1")
  put("recipe", src.recipe and cjson.encode(src.recipe))
  put("file", src.file and cjson.encode(src.file))
  put("layer", src.layer and tostring(src.layer))
  put("layer_name", src.layer_name and cjson.encode(src.layer_name))
  local names, params = {}, {}
  for k in pairs(src.params or {}) do names[#names + 1] = k end
  table.sort(names)
  for i, k in ipairs(names) do params[i] = cjson.encode(k) .. ":" .. cjson.encode(src.params[k]) end
  put("params", "{" .. table.concat(params, ",") .. "}")
  put("shape", cjson.encode({ B, H, Q, K }))
  put("rows", rows_text)
  return "{" .. table.concat(parts, ",") .. "}\n"
end

---------------------------------------------------------------- run

--- maskinfo export RECIPE|FILE.npy OUT [--format F]
function M.run(args, r)
  local out = args.output
  local f = format_of(args)
  check_applies(args, f)
  local m, src = source(args, r)
  local B, Q, K = m:shape()
  if f == "npy" or f == "safetensors" then
    local opts = { dtype = args.dtype, fields = fields_opt(args) }
    local dense = opts.fields == nil
    for _, k in ipairs(opts.fields or {}) do dense = dense or k == "attention_mask" end
    if dense then check_force(args, m) end
    if f == "npy" then CE.need(m:save_npy(out, opts)) else CE.need(m:save_safetensors(out, opts)) end
  elseif f == "json" then
    local text = CE.need(M.json(m, src))
    CE.need(core.write_bytes(out, text))
  else
    CE.need(mi.save_safetensors(out, kernel_tables(m, f, kernel_opts(args, f, m))))
  end
  print(("wrote %s (batch=%d q_len=%d kv_len=%d)"):format(out, B, Q, K))
  return CE.EXIT_OK
end

return M
