-- maskinfo export (lua/maskinfo/cli/export.lua): every format from the
-- command line, read back (a safetensors reader written here from the
-- format's definition) and compared with the Lua API's result for the same
-- mask, the dense ones and JSON with the dense mask, torch's block rule for
-- flex; refusals (unknown format or extension, options of other formats,
-- over 1 GiB without --force, the memory guard, unwritable paths) with
-- their exit codes, leaving nothing half-written; and, where python3 has
-- NumPy, every file read from Python and checked against each library's own
-- rule (docs/cli.md gives the layouts).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local cjson = require("cjson")
local maskinfo = require("maskinfo")
local R = require("maskinfo.recipes")

local q = P.shell_quote

local tmp = P.mkdtemp()
teardown(function() P.sh("rm -rf " .. q(tmp)) end)

-- Run `maskinfo export ...` in a child, in the scratch folder (relative
-- outputs go there); returns stdout, stderr, exit code.
local function export(args, env)
  local words = { "lua5.4", q(P.ROOT .. "/scripts/maskinfo.lua"), "export" }
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  local o, e = os.tmpname(), os.tmpname()
  local _, rc = P.sh(("cd %s && env -u MASKINFO_DEBUG -u MASKINFO_MAX_BYTES %s LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s "
    .. ">%s 2>%s; echo $?"):format(q(tmp), env or "", q(P.LUA_PATH), q(P.LUA_CPATH), table.concat(words, " "), o, e))
  local out, err = P.read_file(o), P.read_file(e)
  os.remove(o)
  os.remove(e)
  return out, err, tonumber(rc)
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function entries(dir)
  local _, out = P.sh("ls -A " .. q(dir))
  return P.lines_of(out)
end

-- The layer li (default 1) of a built-in recipe with params p.
local function recipe_mask(name, p, li)
  local r = assert(R.load(name))
  return assert(R.build(r, assert(R.params(r, p))))[li or 1].mask
end

-- A safetensors file as {name = Array} and the header's names in file
-- order: 8-byte little-endian header length, JSON header, data buffer.
local DTYPES = { BOOL = "bool", U8 = "uint8", I32 = "int32", I64 = "int64", F16 = "float16", F32 = "float32",
  BF16 = "bfloat16" }
local function read_safetensors(path)
  local s = assert(P.read_file(path), path)
  local n = string.unpack("<I8", s)
  local text = s:sub(9, 8 + n)
  local head = cjson.decode(text)
  local out, order = {}, {}
  for name in text:gmatch('"([^"]+)":{') do
    if name ~= "__metadata__" then order[#order + 1] = name end
  end
  for k, v in pairs(head) do
    if k ~= "__metadata__" then
      local a, b = v.data_offsets[1], v.data_offsets[2]
      out[k] = maskinfo.Array.from_bytes(DTYPES[v.dtype], v.shape, s:sub(9 + n + a, 8 + n + b))
    end
  end
  return out, order
end

local function scalar(dtype, v) return maskinfo.Array.new(dtype, {}, { v }) end
local function pair(t) return maskinfo.Array.new("int32", { 2 }, { t[1], t[2] }) end

-- What docs/cli.md says each kernel format's file holds, from the Lua API
-- (o: block, tail, csr, causal, head, batch as the command line gives them).
local function expected(m, f, o)
  local e = {}
  local function put(t, names) for _, k in ipairs(names) do e[k] = t[k] end end
  if f == "flex" then
    local t = m:flex_block_mask{ block_size = o.block, tail = o.tail, format = o.csr and "csr" or "dense" }
    if o.csr then
      for _, k in ipairs({ "kv_runs", "full_kv_runs" }) do
        e[k .. "_ptr"], e[k .. "_lo"], e[k .. "_hi"] = t[k].ptr, t[k].lo, t[k].hi
      end
    else
      put(t, { "kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices", "q_num_blocks", "q_indices",
        "full_q_num_blocks", "full_q_indices" })
    end
    e.block_size, e.seq_lengths = pair(t.block_size), pair(t.seq_lengths)
    e.shape = maskinfo.Array.new("int32", { 4 }, t.shape)
    put(t.intervals, { "row_ptr", "starts", "ends" })
  elseif f == "flashmask" then
    e.startend_row_indices = m:flashmask{ causal = o.causal }
    e.causal = scalar("bool", o.causal ~= false)
  elseif f == "flashinfer" then
    put(m:flashinfer_mask{ head = o.head }, { "packed_custom_mask", "mask_indptr", "qo_indptr", "kv_indptr",
      "indices_q", "indices_k" })
  elseif f == "bsr" then
    local t = m:bsr{ block_size = o.block, batch = o.batch, head = o.head }
    put(t, { "indptr", "indices", "mask" })
    for _, k in ipairs({ "M", "N", "R", "C" }) do e[k] = scalar("int32", t[k]) end
  elseif f == "magi" then
    local t = m:attn_slices{ head = o.head }
    put(t, { "q_ranges", "k_ranges", "attn_type_map" })
    e.total_seqlen_q, e.total_seqlen_k = scalar("int64", t.total_seqlen_q), scalar("int64", t.total_seqlen_k)
  elseif f == "splash" then
    local t = m:splash_mask_info{ block_size = o.block, batch = o.batch }
    put(t, { "block_mask", "data_next", "mask_next", "partial_mask_blocks" })
    e.block_size = pair(t.block_size)
  elseif f == "varlen" then
    local t = m:varlen()
    put(t, { "cu_seqlens_q", "cu_seqlens_k", "seqlens_q", "seqlens_k", "indices_q", "indices_k" })
    e.max_seqlen_q, e.max_seqlen_k = scalar("int32", t.max_seqlen_q), scalar("int32", t.max_seqlen_k)
    e.causal = scalar("bool", t.causal == true)
    e.window_size = pair(t.window_size)
  end
  return e
end

local function assert_same_tables(want, got, what)
  for k in pairs(want) do assert.is_truthy(got[k], what .. ": missing " .. k) end
  for k, a in pairs(got) do
    assert.is_truthy(want[k], what .. ": unexpected " .. k)
    assert.are.equal(want[k]:dtype(), a:dtype(), what .. " " .. k)
    assert.are.same(want[k]:shape(), a:shape(), what .. " " .. k)
    assert.is_true(want[k] == a, what .. " " .. k)
  end
end

-- The command-line options of o.
local function argv_of(o)
  local t = {}
  if o.block then t[#t + 1], t[#t + 2] = "--block", ("%d,%d"):format(o.block[1], o.block[2]) end
  if o.tail then t[#t + 1], t[#t + 2] = "--tail", o.tail end
  if o.csr then t[#t + 1] = "--csr" end
  if o.causal ~= nil then t[#t + 1], t[#t + 2] = "--causal", tostring(o.causal) end
  if o.head then t[#t + 1], t[#t + 2] = "--heads", tostring(o.head) end
  if o.batch then t[#t + 1], t[#t + 2] = "--batch", tostring(o.batch) end
  return t
end

-- The recipes and options each kernel format is exported with: several
-- batch rows and heads, padding, ragged tails, both flex forms and tails.
local CASES = {
  { "causal", { len = 10 }, "flex", { block = { 4, 4 } } },
  { "causal", { len = 10 }, "flex", { block = { 4, 3 }, tail = "exact" } },
  { "sliding_window", { len = 12, window = 3 }, "flex", { block = { 4, 4 }, csr = true } },
  { "padded_batch", nil, "flex", { block = { 3, 5 } } },
  { "per_head_windows", { len = 12 }, "flex", { block = { 4, 4 } } },
  { "causal", { len = 9 }, "flashmask", {} },
  { "sliding_window", { len = 12, window = 3 }, "flashmask", { causal = true } },
  { "prefix_lm", { len = 12 }, "flashmask", { causal = false } },
  { "packed_documents", { len = 12, lengths = "5,3,4" }, "flashinfer", {} },
  { "per_head_windows", { len = 12 }, "flashinfer", { head = 1 } },
  { "padded_batch", nil, "flashinfer", {} },
  { "sliding_window", { len = 12, window = 3 }, "bsr", { block = { 4, 2 } } },
  { "per_head_windows", { len = 12 }, "bsr", { block = { 3, 3 }, head = 2 } },
  { "packed_documents", { len = 12, lengths = "5,3,4" }, "magi", {} },
  { "per_head_windows", { len = 12 }, "magi", { head = 0 } },
  { "causal", { len = 12 }, "splash", { block = { 4, 4 } } },
  { "sliding_window", { len = 12, window = 3 }, "splash", { block = { 3, 6 } } },
  { "packed_documents", { len = 12, lengths = "5,3,4" }, "varlen", {} },
  { "padded_batch", nil, "varlen", {} },
}

-- The recipe's small params, overridden by p, as --set arguments.
local function params_of(name, p)
  local r = assert(R.load(name))
  local all = {}
  for k, v in pairs(r.small or {}) do all[k] = v end
  for k, v in pairs(p or {}) do all[k] = v end
  local set = {}
  for k, v in pairs(all) do set[#set + 1], set[#set + 2] = "--set", k .. "=" .. tostring(v) end
  return all, set
end

local function case_argv(c, out)
  local p, set = params_of(c[1], c[2])
  local argv = { c[1], out, "--format", c[3] }
  for _, a in ipairs(set) do argv[#argv + 1] = a end
  for _, a in ipairs(argv_of(c[4])) do argv[#argv + 1] = a end
  return argv, recipe_mask(c[1], p)
end

describe("maskinfo export, kernel formats", function()
  for i, c in ipairs(CASES) do
    it(("%s %s %s: the file holds the Lua API's tables under the kernel's names"):format(c[3], c[1],
      table.concat(argv_of(c[4]), " ")), function()
      local out = ("%s/%s_%d.safetensors"):format(tmp, c[3], i)
      local argv, m = case_argv(c, out)
      local stdout, err, rc = export(argv)
      assert.are.equal(0, rc, err)
      assert.truthy(stdout:find("wrote " .. out, 1, true), stdout)
      local got = read_safetensors(out)
      assert_same_tables(expected(m, c[3], c[4]), got, c[3])
    end)
  end

  it("flex: the tables follow torch's rule on the dense mask (padded tail blocks are partial)", function()
    local out = tmp .. "/flex_torch.safetensors"
    local m = recipe_mask("sliding_window", { len = 10, window = 3 })
    local _, err, rc = export({ "sliding_window", out, "--format", "flex", "--block", "4,3", "--len", "10",
      "--window", "3" })
    assert.are.equal(0, rc, err)
    local t = read_safetensors(out)
    local cells = m:attention_mask():totable()[1][1]
    local Q, K, bq, bk = 10, 10, 4, 3
    for i = 0, (Q + bq - 1) // bq - 1 do
      local part, full = {}, {}
      for j = 0, (K + bk - 1) // bk - 1 do
        local n = 0
        for qq = i * bq, i * bq + bq - 1 do
          for kk = j * bk, j * bk + bk - 1 do
            if qq < Q and kk < K and cells[qq + 1][kk + 1] then n = n + 1 end
          end
        end
        if n == bq * bk then full[#full + 1] = j elseif n > 0 then part[#part + 1] = j end
      end
      local row = t.kv_indices:totable()[1][1][i + 1]
      local frow = t.full_kv_indices:totable()[1][1][i + 1]
      assert.are.equal(#part, t.kv_num_blocks:totable()[1][1][i + 1])
      assert.are.equal(#full, t.full_kv_num_blocks:totable()[1][1][i + 1])
      assert.are.same(part, { table.unpack(row, 1, #part) })
      assert.are.same(full, { table.unpack(frow, 1, #full) })
    end
  end)

  it("writes the tables in the documented order", function()
    local out = tmp .. "/order.safetensors"
    assert.are.equal(0, select(3, export({ "causal", out, "--format", "varlen", "--len", "6" })))
    local _, order = read_safetensors(out)
    assert.are.same({ "cu_seqlens_q", "cu_seqlens_k", "seqlens_q", "seqlens_k", "max_seqlen_q", "max_seqlen_k",
      "indices_q", "indices_k", "causal", "window_size" }, order)
  end)

  it("refuses varlen for a mask flash-attn's varlen cannot express (exit 1, no file)", function()
    local out = tmp .. "/prefix.safetensors"
    local _, err, rc = export({ "prefix_lm", out, "--format", "varlen", "--len", "6", "--set", "prefix=2" })
    assert.are.equal(1, rc)
    assert.is_truthy(err:find("maskinfo: varlen: the mask is not block-diagonal documents (+ causal, + window) as "
      .. "flash_attn_varlen_func computes them: batch 0 head 0 query 2 key 0 is allowed by the mask but not by the "
      .. "documents with window_size (-1, -1) (14 cells differ); use flex_block_mask or flashmask", 1, true), err)
    assert.is_false(P.exists(out))
  end)
end)

describe("maskinfo export, dense and JSON", function()
  it("npy and safetensors in every dtype equal the Lua API's dense mask", function()
    local m = recipe_mask("per_head_windows", { len = 9 })
    for _, dtype in ipairs({ "bool", "int32", "float32", "float16" }) do
      local npy = tmp .. "/d.npy"
      local _, err, rc = export({ "per_head_windows", npy, "--len", "9", "--dtype", dtype })
      assert.are.equal(0, rc, err)
      assert.is_true(maskinfo.load_npy(npy) == m:attention_mask(dtype), dtype)
    end
    -- --fields picks save_safetensors' fields; without the mask no 1 GiB rule
    local ids = tmp .. "/ids.safetensors"
    local _, ierr, irc = export({ "causal", ids, "--len", "100000", "--fields", "q_segment_ids,cu_seqlens_q" })
    assert.are.equal(0, irc, ierr)
    local big = recipe_mask("causal", { len = 100000 })
    assert_same_tables({ q_segment_ids = big:q_segment_ids(), cu_seqlens_q = big:cu_seqlens_q() },
      read_safetensors(ids), "--fields")
    local st = tmp .. "/d.safetensors"
    local _, err, rc = export({ "per_head_windows", st, "--len", "9", "--dtype", "bfloat16" })
    assert.are.equal(0, rc, err)
    assert.is_true(read_safetensors(st).attention_mask == m:attention_mask("bfloat16"))
  end)

  it("json carries the recipe, its parameters, the shape and every row's key intervals", function()
    local out = tmp .. "/m.json"
    local _, err, rc = export({ "padded_batch", out, "--set", "lengths=5,3" })
    assert.are.equal(0, rc, err)
    local m = recipe_mask("padded_batch", { lengths = "5,3" })
    local doc = cjson.decode(P.read_file(out))
    assert.are.equal("maskinfo.row_intervals", doc.format)
    assert.are.equal(1, doc.version)
    assert.are.equal("padded_batch", doc.recipe)
    assert.are.equal(1, doc.layer)
    local r = assert(R.load("padded_batch"))
    for k, v in pairs(assert(R.params(r, { lengths = "5,3" }))) do
      assert.are.same(v, doc.params[k], k)
    end
    local cells = m:attention_mask():totable()
    local B, H, Q, K = #cells, #cells[1], #cells[1][1], #cells[1][1][1]
    assert.are.same({ B, H, Q, K }, doc.shape)
    local empty = 0
    for b = 1, B do
      for h = 1, H do
        for qq = 1, Q do
          local row = doc.rows[b][h][qq]
          assert.are.equal("table", type(row))
          if #row == 0 then empty = empty + 1 end
          local want = {}
          for k = 1, K do want[k] = false end
          for _, iv in ipairs(row) do
            assert.is_true(iv[1] < iv[2], "a non-empty half-open interval")
            for k = iv[1] + 1, iv[2] do want[k] = true end
          end
          assert.are.same(cells[b][h][qq], want)
        end
      end
    end
    -- padding rows hold no key: they are written as [] (not {})
    assert.is_true(empty > 0)
    assert.truthy(P.read_file(out):find("[]", 1, true))
  end)
end)

describe("maskinfo export refuses", function()
  local usage = {
    { { "causal", "x.safetensors", "--format", "flexx" },
      "export: unknown format 'flexx' (accepted: npy, safetensors, flex, flashmask, flashinfer, bsr, magi, splash, "
        .. "varlen or json)" },
    { { "causal", "x.bin" }, "export: the output must end in .npy or .safetensors or .json, got 'x.bin'" },
    { { "causal", "x.npy", "--format", "flex" }, "export: --format flex writes a .safetensors file, the output is 'x.npy'" },
    { { "causal", "x.safetensors", "--format", "json" }, "export: --format json writes a .json file" },
    { { "causal", "x.npy", "--block", "4" }, "export: --block applies to bsr, flex or splash, not to --format npy" },
    { { "causal", "x.safetensors", "--format", "magi", "--csr" }, "export: --csr applies to flex, not to --format magi" },
    { { "causal", "x.safetensors", "--format", "flex", "--dtype", "int32" }, "--dtype applies to npy or safetensors" },
    { { "causal", "x.safetensors", "--format", "bsr", "--len", "8" }, "--format bsr needs --block N or R,C" },
    { { "causal", "x.safetensors", "--format", "splash", "--len", "10", "--block", "4" },
      "--block 4,4 must divide the mask's q_len 10 and kv_len 10 (splash's rule)" },
    { { "causal", "x.safetensors", "--format", "flex", "--block", "0" }, "--block must be N or Q,KV with positive" },
    { { "per_head_windows", "x.safetensors", "--format", "magi", "--len", "8" },
      "the mask has 5 heads and Magi's slices are shared by all heads: pick one with --heads H" },
    { { "per_head_windows", "x.safetensors", "--format", "magi", "--len", "8", "--heads", "5" },
      "--heads 5: the mask has 5 heads (0..4)" },
    { { "padded_batch", "x.safetensors", "--format", "splash", "--block", "1" },
      "pick one with --batch B" },
    { { "causal", "x.safetensors", "--fields", "q_segment_ids,ids" }, "--fields: unknown field 'ids' (accepted: "
      .. "attention_mask, q_segment_ids, kv_segment_ids, q_positions, kv_positions, cu_seqlens_q or cu_seqlens_kv)" },
    { { "causal", "x.npy", "--fields", "q_segment_ids" }, "export: --fields applies to safetensors, not to --format npy" },
    { { "causal", "x.safetensors", "--format", "flashmask", "--causal", "yes" },
      "argument for option '--causal' must be one of 'true', 'false'" },
  }
  for _, c in ipairs(usage) do
    it(table.concat(c[1], " ") .. " (exit 2, nothing written)", function()
      local before = #entries(tmp)
      local out, err, rc = export(c[1])
      assert.are.same({ 2, "" }, { rc, out })
      assert.truthy(err:find(c[2], 1, true), "expected '" .. c[2] .. "' in:\n" .. err)
      assert.are.equal(before, #entries(tmp))
    end)
  end

  it("a dense export over 1 GiB without --force, at once, with the size; --force passes on to the guard", function()
    local path = tmp .. "/big.npy"
    local out, err, rc = export({ "causal", path, "--len", "40000", "--dtype", "float32" })
    assert.are.same({ 1, "" }, { rc, out })
    assert.truthy(err:find("the dense (1, 1, 40000, 40000) float32 mask is 6.0 GiB, over 1 GiB: --force writes it",
      1, true), err)
    assert.is_false(P.exists(path))
    -- with --force the 1 GiB rule lets it through and the memory guard
    -- (set small here) is what refuses it
    out, err, rc = export({ "causal", path, "--len", "40000", "--dtype", "float32", "--force" },
      "MASKINFO_MAX_BYTES=1048576")
    assert.are.same({ 1, "" }, { rc, out })
    assert.truthy(err:find("over the memory guard", 1, true), err)
    assert.is_false(P.exists(path))
  end)

  it("JSON beyond the memory guard, with the size", function()
    local path = tmp .. "/big.json"
    local out, err, rc = export({ "causal", path, "--len", "20000" }, "MASKINFO_MAX_BYTES=1048576")
    assert.are.same({ 1, "" }, { rc, out })
    assert.truthy(err:find("the JSON rows of a (1, 1, 20000, 20000) mask needs 3.1 MiB: over the memory guard", 1,
      true), err)
    assert.is_false(P.exists(path))
  end)

  it("a mask the kernel cannot take, and an unwritable path, leave the old file untouched (exit 1)", function()
    local path = tmp .. "/keep.safetensors"
    write_file(path, "precious")
    local out, err, rc = export({ "bigbird", path, "--format", "flashmask" })
    assert.are.same({ 1, "" }, { rc, out })
    assert.truthy(err:find("^maskinfo: flashmask: FlashMask cannot express column"), err)
    assert.are.equal("precious", P.read_file(path))
    -- a folder where the file should go: the write fails at the rename
    local dir = tmp .. "/isdir.json"
    assert(P.sh("mkdir -p " .. q(dir .. "/inner")))
    local before = #entries(tmp)
    for _, c in ipairs({ { "causal", dir, "--len", "4" }, { "causal", "/nonexistent-dir/x.safetensors",
      "--format", "varlen", "--len", "4" } }) do
      out, err, rc = export(c)
      assert.are.same({ 1, "" }, { rc, out })
      assert.truthy(err:find("cannot write '" .. c[2] .. "'", 1, true), err)
    end
    assert.are.equal(before, #entries(tmp))
    assert.are.same({ "inner" }, entries(dir))
  end)
end)

---------------------------------------------------------------- a .npy mask

-- export's own handling of a .npy input, called as the command's main
-- calls it with a file (the recipe argument a .npy path, no recipe).
local EX = require("maskinfo.cli.export")

-- export's run as the command's main calls it for FILE.npy (no recipe),
-- in this process: true, exit code, printed lines; or false, the failure.
local function run_module(argv)
  local args = { recipe = argv[1], output = argv[2] }
  for i = 3, #argv, 2 do args[argv[i]:sub(3):gsub("-", "_")] = argv[i + 1] end
  local printed = {}
  local saved = _G.print
  _G.print = function(s) printed[#printed + 1] = s end
  local ok, res = pcall(EX.run, args, nil)
  _G.print = saved
  return ok, res, printed
end

describe("maskinfo export FILE.npy", function()
  it("recognises .npy inputs", function()
    assert.is_true(EX.is_file("a/b.npy"))
    assert.is_true(EX.is_file("B.NPY"))
    assert.is_false(EX.is_file("causal"))
    assert.is_false(EX.is_file("x.npy.lua"))
  end)

  it("exports a mask dumped by NumPy as from_npy reads it", function()
    local m0 = maskinfo.from_random(2, 6, 6, 0.5, 7)
    local src = tmp .. "/random.npy"
    assert(maskinfo.save_npy(src, m0:attention_mask()))
    local m = maskinfo.from_npy(src)
    local out = tmp .. "/random_flex.safetensors"
    local ok, res, printed = run_module({ src, out, "--format", "flex", "--block", "4" })
    assert.is_true(ok, tostring(res))
    assert.are.equal(0, res)
    assert.are.equal("wrote " .. out .. " (batch=2 q_len=6 kv_len=6)", printed[1])
    assert_same_tables(expected(m, "flex", { block = { 4, 4 } }), read_safetensors(out), "flex from .npy")
    local json = tmp .. "/random.json"
    assert.is_true((run_module({ src, json })))
    local doc = cjson.decode(P.read_file(json))
    assert.are.equal(src, doc.file)
    assert.is_nil(doc.recipe)
    assert.are.same({ 2, 1, 6, 6 }, doc.shape)
  end)

  it("a broken .npy is a runtime failure naming the file, a missing one a usage error", function()
    local bad = tmp .. "/bad.npy"
    write_file(bad, "not numpy")
    local ok, e = run_module({ bad, tmp .. "/o.json" })
    assert.is_false(ok)
    assert.are.same({ 1, true }, { e.code, e.msg:find("from_npy: '" .. bad .. "': not a .npy file", 1, true) ~= nil })
    ok, e = run_module({ tmp .. "/missing.npy", tmp .. "/o.json" })
    assert.is_false(ok)
    assert.are.equal(2, e.code, e.msg)
    assert.is_false(P.exists(tmp .. "/o.json"))
  end)
end)

-- The command line hands a .npy argument to export (cli/init.lua routes
-- it through export_cmd.is_file instead of loading it as a recipe).
describe("maskinfo export FILE.npy from the command line", function()
  it("writes a kernel format of a mask dumped from NumPy (exit 0), a broken file exits 1",
    function()
      local src = tmp .. "/cli_random.npy"
      assert(maskinfo.save_npy(src, maskinfo.from_random(1, 8, 8, 0.5, 3):attention_mask()))
      local out = tmp .. "/cli_random.safetensors"
      local _, err, rc = export({ src, out, "--format", "bsr", "--block", "4" })
      assert.are.equal(0, rc, err)
      assert_same_tables(expected(maskinfo.from_npy(src), "bsr", { block = { 4, 4 } }), read_safetensors(out), "bsr")
      write_file(tmp .. "/cli_bad.npy", "\147NUMPY\9\0")
      local stdout
      stdout, err, rc = export({ tmp .. "/cli_bad.npy", out })
      assert.are.same({ 1, "" }, { rc, stdout })
      assert.truthy(err:find("unsupported format version 9.0", 1, true), err)
    end)
end)

---------------------------------------------------------------- NumPy

-- Every file of the command read in NumPy (a safetensors reader in plain
-- NumPy, as docs/python.md shows) and checked against each library's rule.
local NUMPY_CHECK = [==[
import os, sys, json, numpy as np
d = sys.argv[1]
DT = {"BOOL": np.bool_, "U8": np.uint8, "I32": np.int32, "I64": np.int64, "F16": np.float16, "F32": np.float32}
def load(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        head = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], DT[v["dtype"]]).reshape(v["shape"])
            for k, v in head.items() if k != "__metadata__"}
mask = np.load(f"{d}/mask.npy")
B, H, Q, K = mask.shape
# FlexAttention: torch's _convert_mask_to_block_mask and _dense_to_ordered
t = load(f"{d}/flex.safetensors")
bq, bk = t["block_size"]
pad = np.zeros((B, H, -(-Q // bq) * bq, -(-K // bk) * bk), bool)
pad[:, :, :Q, :K] = mask
s = pad.reshape(B, H, pad.shape[2] // bq, bq, pad.shape[3] // bk, bk).transpose(0, 1, 2, 4, 3, 5).sum((-2, -1))
full, part = s == bq * bk, (s > 0) & (s < bq * bk)
for name, blocks in (("kv", part), ("full_kv", full)):
    num = blocks.sum(-1).astype(np.int32)
    idx = np.argsort(-blocks.astype(np.int32), axis=-1, kind="stable").astype(np.int32)
    assert (t[name + "_num_blocks"] == num).all() and (t[name + "_indices"] == idx).all(), name
rp, st, en = t["row_ptr"], t["starts"], t["ends"]
for r in range(B * H * Q):
    row = np.zeros(K, bool)
    for a, b in zip(st[rp[r]:rp[r + 1]], en[rp[r]:rp[r + 1]]): row[a:b] = True
    assert (row == mask.reshape(-1, K)[r]).all(), "flex intervals"
# python.md's mask_mod: one searchsorted over row * (K + 1) + end
key = np.repeat(np.arange(B * H * Q), np.diff(rp)) * (K + 1) + en.astype(np.int64)
st_pad = np.append(st, K + 1)
b_, h_, q_, k_ = np.indices(mask.shape)
r_ = (b_ * H + h_) * Q + q_
i_ = np.searchsorted(key, r_ * (K + 1) + k_, side="right")
assert (((i_ < rp[r_ + 1]) & (st_pad[i_] <= k_)) == mask).all(), "flex mask_mod"
# FlashMask: Paddle's flashmask_to_densemask (causal)
if os.path.exists(f"{d}/flashmask.safetensors"):  # absent for a dense random mask
    sri = load(f"{d}/flashmask.safetensors")["startend_row_indices"]
    m = np.ones((B, H, Q, K), bool)
    for b in range(B):
        for h in range(H):
            for j in range(K):
                v = sri[b, h, j]
                if sri.shape[-1] == 2: m[b, h, v[0]:v[1], j] = False
                else: m[b, h, v[0]:, j] = False
                m[b, h, :j, j] = False
    assert (m == mask).all(), "flashmask"
# FlashInfer: unpackbits(bitorder="little") per request; BSR blocks
t = load(f"{d}/flashinfer.safetensors")
qo, kv, mi = t["qo_indptr"], t["kv_indptr"], t["mask_indptr"]
ids, kv_ids = np.load(f"{d}/q_ids.npy"), np.load(f"{d}/kv_ids.npy")
assert (t["indices_q"] == np.nonzero(ids.flatten() >= 0)[0]).all(), "flashinfer indices_q"
assert (t["indices_k"] == np.nonzero(kv_ids.flatten() >= 0)[0]).all(), "flashinfer indices_k"
# the dropped rows and columns are the empty ones: nothing is lost
assert not mask[:, 0].reshape(B * Q, K)[np.setdiff1d(np.arange(B * Q), t["indices_q"])].any(), "flashinfer rows"
assert not mask[:, 0].transpose(0, 2, 1).reshape(B * K, Q)[np.setdiff1d(np.arange(B * K), t["indices_k"])].any()
for b in range(B):
    sub = mask[b, 0][np.ix_(ids[b] >= 0, kv_ids[b] >= 0)]
    assert sub.shape == (qo[b + 1] - qo[b], kv[b + 1] - kv[b]), "flashinfer lengths"
    bits = np.unpackbits(t["packed_custom_mask"][mi[b]:mi[b + 1]], bitorder="little")[:sub.size]
    assert (bits.reshape(sub.shape).astype(bool) == sub).all(), "flashinfer"
# python.md's plan(custom_mask=): the requests' cells flat; segment_packbits
# over plan()'s cell offsets gives the same bytes and byte offsets back
cells = np.diff(qo) * np.diff(kv)
seg = np.concatenate([[0], np.cumsum(cells)])
custom = np.concatenate([mask[b, 0][np.ix_(ids[b] >= 0, kv_ids[b] >= 0)].reshape(-1) for b in range(B)])
repacked = [np.packbits(custom[seg[b]:seg[b + 1]], bitorder="little") for b in range(B)]
assert (np.concatenate(repacked) == t["packed_custom_mask"]).all(), "flashinfer custom_mask"
assert list(np.concatenate([[0], np.cumsum([len(x) for x in repacked])])) == list(mi), "flashinfer mask_indptr"
t = load(f"{d}/bsr.safetensors")
R, C = int(t["R"]), int(t["C"])
assert (int(t["M"]), int(t["N"])) == (Q, K)
blocks = []
for i in range(Q // R):
    nz = [j for j in range(K // C) if mask[0, 0, i * R:(i + 1) * R, j * C:(j + 1) * C].any()]
    assert list(t["indices"][t["indptr"][i]:t["indptr"][i + 1]]) == nz, "bsr"
    blocks += [mask[0, 0, i * R:(i + 1) * R, j * C:(j + 1) * C] for j in nz]
# plan(mask=) per listed block, absent only when every listed block is full
if "mask" in t: assert (t["mask"] == np.array(blocks, bool).reshape(-1, R, C)).all(), "bsr mask"
else: assert all(b.all() for b in blocks), "bsr: partial blocks without mask"
# MagiAttention: from_ranges
t = load(f"{d}/magi.safetensors")
g = np.zeros((int(t["total_seqlen_q"]), int(t["total_seqlen_k"])), bool)
for (xs, xe), (ys, ye), ty in zip(t["q_ranges"], t["k_ranges"], t["attn_type_map"]):
    i, j = np.mgrid[xs:xe, ys:ye]
    g[xs:xe, ys:ye] = {0: np.ones_like(i, bool), 1: j <= i + (ye - xe), 2: j >= i + (ys - xs),
                       3: (j <= i + (ye - xe)) & (j >= i + (ys - xs))}[int(ty)]
for b in range(B):
    assert (g[b * Q:(b + 1) * Q, b * K:(b + 1) * K] == mask[b, 0]).all(), "magi"
# splash: _process_mask's block_mask, data_next, mask_next, partial blocks
t = load(f"{d}/splash.safetensors")
bq, bk = t["block_size"]
for i in range(Q // bq):
    for j in range(K // bk):
        c = mask[0, 0, i * bq:(i + 1) * bq, j * bk:(j + 1) * bk]
        assert t["block_mask"][0, i, j] == (2 if c.all() else 1 if c.any() else 0), "splash block_mask"
        if t["block_mask"][0, i, j] == 1:
            assert (t["partial_mask_blocks"][t["mask_next"][0, i, j]] == c).all(), "splash partial"
# varlen: flash-attn's unpad_input keeps the tokens with an id >= 0
if os.path.exists(f"{d}/varlen.safetensors"):     # absent for a dense random mask
    t = load(f"{d}/varlen.safetensors")
    assert (t["indices_q"] == np.nonzero(ids.flatten() >= 0)[0]).all(), "unpad_input"
    assert (t["indices_k"] == np.nonzero(kv_ids.flatten() >= 0)[0]).all(), "unpad_input k"
    cu, ck = t["cu_seqlens_q"], t["cu_seqlens_k"]
    assert cu[0] == 0 and cu[-1] == (ids >= 0).sum() and int(t["max_seqlen_q"]) == np.diff(cu).max(), "cu_seqlens"
    # flash_attn_varlen_func's mask: per document, bottom-right window
    left, right = (int(x) for x in t["window_size"])
    assert bool(t["causal"]) == (right == 0), "varlen causal"
    g = np.zeros((B * Q, B * K), bool)
    for n in range(len(cu) - 1):
        rq, rk = t["indices_q"][cu[n]:cu[n + 1]], t["indices_k"][ck[n]:ck[n + 1]]
        i, j = np.mgrid[0:len(rq), 0:len(rk)]
        diag = i + len(rk) - len(rq)
        g[np.ix_(rq, rk)] = ((left < 0) | (j >= diag - left)) & ((right < 0) | (j <= diag + right))
    for h in range(H):
        for b in range(B):
            assert (g[b * Q:(b + 1) * Q, b * K:(b + 1) * K] == mask[b, h]).all(), "varlen mask"
# JSON: the rows' intervals are the mask
doc = json.load(open(f"{d}/mask.json"))
assert doc["shape"] == [B, H, Q, K]
for b in range(B):
    for h in range(H):
        for r, row in enumerate(doc["rows"][b][h]):
            want = np.zeros(K, bool)
            for a, e in row: want[a:e] = True
            assert (want == mask[b, h, r]).all(), "json"
print("ok")
]==]

describe("the NumPy check of the command's files", function()
  local py = "/usr/bin/python3"
  local has_numpy = P.sh(py .. " -c 'import numpy'")
  local run = has_numpy and it or pending
  run("reads every format and finds each library's reference" ..
    (has_numpy and "" or " (skipped: /usr/bin/python3 cannot import numpy; apt-get install python3-numpy)"), function()
    -- one batch row, and three left-padded ones (bsr and splash take row 0)
    for _, c in ipairs({ { "sliding_window", { len = 12, window = 3 } },
      { "padded_batch", { len = 12, lengths = "12,7,3" }, { "--batch", "0" } } }) do
      local d = tmp .. "/numpy_" .. c[1]
      assert(P.sh("mkdir -p " .. q(d)))
      local _, sets = params_of(c[1], c[2])
      local m = recipe_mask(c[1], c[2])
      assert(maskinfo.save_npy(d .. "/q_ids.npy", m:q_segment_ids()))
      assert(maskinfo.save_npy(d .. "/kv_ids.npy", m:kv_segment_ids()))
      for _, f in ipairs({ { "mask.npy" }, { "mask.json" }, { "flex.safetensors", "--format", "flex", "--block", "5,3" },
        { "flashmask.safetensors", "--format", "flashmask" }, { "flashinfer.safetensors", "--format", "flashinfer" },
        { "bsr.safetensors", "--format", "bsr", "--block", "4,3", table.unpack(c[3] or {}) },
        { "magi.safetensors", "--format", "magi" },
        { "splash.safetensors", "--format", "splash", "--block", "3,4", table.unpack(c[3] or {}) },
        { "varlen.safetensors", "--format", "varlen" } }) do
        local argv = { c[1], d .. "/" .. f[1], table.unpack(sets) }
        for i = 2, #f do argv[#argv + 1] = f[i] end
        local _, err, rc = export(argv)
        assert.are.equal(0, rc, err)
      end
      local ok, out = P.sh(("%s -c %s %s"):format(py, q(NUMPY_CHECK), q(d)))
      assert.is_true(ok, out)
      assert.are.equal("ok\n", out)
    end
    -- random masks dumped as .npy (FlashMask and varlen cannot take them)
    for seed = 1, 3 do
      local d = ("%s/numpy_random%d"):format(tmp, seed)
      assert(P.sh("mkdir -p " .. q(d)))
      local src = d .. "/mask.npy"
      assert(maskinfo.save_npy(src, maskinfo.from_random(2, 12, 12, 0.3 * seed - 0.2, seed):attention_mask()))
      local m = maskinfo.from_npy(src)
      assert(maskinfo.save_npy(d .. "/q_ids.npy", m:q_segment_ids()))
      assert(maskinfo.save_npy(d .. "/kv_ids.npy", m:kv_segment_ids()))
      for _, f in ipairs({ { "mask.json" }, { "flex.safetensors", "--format", "flex", "--block", "5,3" },
        { "flashinfer.safetensors", "--format", "flashinfer" },
        { "bsr.safetensors", "--format", "bsr", "--block", "4,3", "--batch", "0" },
        { "magi.safetensors", "--format", "magi" },
        { "splash.safetensors", "--format", "splash", "--block", "3,4", "--batch", "0" } }) do
        local argv = { src, d .. "/" .. f[1] }
        for i = 2, #f do argv[#argv + 1] = f[i] end
        local ok, res = run_module(argv)
        assert.is_true(ok, tostring(ok or res.msg))
      end
      local ok, out = P.sh(("%s -c %s %s"):format(py, q(NUMPY_CHECK), q(d)))
      assert.is_true(ok, out)
      assert.are.equal("ok\n", out)
    end
  end)
end)
