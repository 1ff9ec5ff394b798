-- Exports: .npy and safetensors files read back byte by byte, block classes
-- and FlexAttention block tables against a naive reference.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local R = dofile(here .. "/helpers/dense_ref.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

local tmpdir = P.mkdtemp

-- The header dict and the data of a .npy file.
local function read_npy(path)
  local s = assert(P.read_file(path))
  assert.are.equal("\147NUMPY\1\0", s:sub(1, 8))
  local hlen = string.unpack("<I2", s, 9)
  assert.are.equal(0, (10 + hlen) % 64, "header padded to 64 bytes")
  local header = s:sub(11, 10 + hlen)
  return header, s:sub(11 + hlen)
end

-- The JSON header text and the data of a safetensors file.
local function read_safetensors(path)
  local s = assert(P.read_file(path))
  local n = string.unpack("<I8", s, 1)
  assert.are.equal(0, (8 + n) % 8, "data 8-byte aligned")
  return s:sub(9, 8 + n), s:sub(9 + n)
end

describe("save_npy", function()
  it("writes the dense mask with NumPy's header and C-order bytes", function()
    local d = tmpdir()
    local mi = maskinfo.from_segments({ { 0, 0, 1 } }):apply_causal()
    assert.is_true(mi:save_npy(d .. "/m.npy"))
    local header, data = read_npy(d .. "/m.npy")
    assert.are.equal("{'descr': '|b1', 'fortran_order': False, 'shape': (1, 1, 3, 3), }",
      header:gsub("%s+$", ""))
    assert.are.equal("\1\0\0\1\1\0\0\0\1", data)
    os.execute("rm -rf " .. P.shell_quote(d))
  end)

  it("writes Arrays of int32, int64, float32 and float16", function()
    local d = tmpdir()
    maskinfo.save_npy(d .. "/i.npy", maskinfo.Array.from({ 1, -2, 3 }))
    local header, data = read_npy(d .. "/i.npy")
    assert.is_truthy(header:find("'descr': '<i4'", 1, true))
    assert.is_truthy(header:find("'shape': (3,)", 1, true))
    assert.are.equal(string.pack("<i4i4i4", 1, -2, 3), data)
    local _, per = maskinfo.from_segments({ { 0, 0 } }):count()
    maskinfo.save_npy(d .. "/c.npy", per)
    header, data = read_npy(d .. "/c.npy")
    assert.is_truthy(header:find("'descr': '<i8'", 1, true))
    assert.are.equal(string.pack("<i8", 4), data)
    maskinfo.save_npy(d .. "/f.npy", maskinfo.Array.from({ 0.5, 2 }, "float32"))
    _, data = read_npy(d .. "/f.npy")
    assert.are.equal(string.pack("<ff", 0.5, 2), data)
    maskinfo.save_npy(d .. "/h.npy", maskinfo.Array.from({ 1 }, "float16"))
    header, data = read_npy(d .. "/h.npy")
    assert.is_truthy(header:find("'descr': '<f2'", 1, true))
    assert.are.equal("\0\60", data) -- 1.0 is 0x3C00
    os.execute("rm -rf " .. P.shell_quote(d))
  end)

  it("refuses bfloat16, bad paths and non-Arrays, leaving no file", function()
    local d = tmpdir()
    E.assert_error(function() maskinfo.save_npy(d .. "/b.npy", maskinfo.Array.from({ 1 }, "bfloat16")) end,
      "bad argument #2 to 'save_npy' (bfloat16 has no NumPy dtype (use save_safetensors))")
    E.assert_error(function() maskinfo.save_npy(d .. "/x.npy", { 1, 2 }) end,
      "bad argument #2 to 'save_npy' (array: Array expected, got table)")
    local ok, err, st = maskinfo.save_npy(d .. "/missing/x.npy", maskinfo.Array.from({ 1 }))
    assert.is_nil(ok)
    assert.are.equal("save_npy: cannot write '" .. d .. "/missing/x.npy': No such file or directory", err)
    assert.are.equal("EIO", st)
    local p = io.popen("ls -A " .. P.shell_quote(d))
    local listing = p:read("a")
    p:close()
    assert.are.equal("", listing)
    os.execute("rm -rf " .. P.shell_quote(d))
  end)
end)

describe("save_safetensors", function()
  it("writes named Arrays with their dtypes, shapes and offsets", function()
    local d = tmpdir()
    maskinfo.save_safetensors(d .. "/t.safetensors", {
      { "ids", maskinfo.Array.from({ { 0, 1 } }) },
      { "mask", maskinfo.Array.from({ true, false, true }) },
    })
    local header, data = read_safetensors(d .. "/t.safetensors")
    assert.is_truthy(header:find('"ids":{"dtype":"I32","shape":[1,2],"data_offsets":[0,8]}', 1, true), header)
    assert.is_truthy(header:find('"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[8,11]}', 1, true), header)
    assert.is_true(header:find('"ids"', 1, true) < header:find('"mask"', 1, true))
    assert.are.equal(string.pack("<i4i4", 0, 1) .. "\1\0\1", data)
    os.execute("rm -rf " .. P.shell_quote(d))
  end)

  it("mi:save_safetensors writes the mask, ids, positions and cu_seqlens", function()
    local d = tmpdir()
    local mi = maskinfo.from_segments({ { 0, 0, 1, -1 } }):apply_causal()
    mi:save_safetensors(d .. "/m.safetensors")
    local header = read_safetensors(d .. "/m.safetensors")
    for _, k in ipairs({ "attention_mask", "q_segment_ids", "kv_segment_ids", "q_positions", "kv_positions",
      "cu_seqlens_q", "cu_seqlens_kv" }) do
      assert.is_truthy(header:find('"' .. k .. '"', 1, true), k)
    end
    assert.is_truthy(header:find('"attention_mask":{"dtype":"BOOL","shape":[1,1,4,4]', 1, true))
    mi:save_safetensors(d .. "/b.safetensors", { dtype = "bfloat16", fields = { "attention_mask" } })
    header = read_safetensors(d .. "/b.safetensors")
    assert.is_truthy(header:find('"attention_mask":{"dtype":"BF16"', 1, true))
    assert.is_falsy(header:find('"q_segment_ids"', 1, true))
    os.execute("rm -rf " .. P.shell_quote(d))
  end)

  it("refuses duplicate and unknown names", function()
    local a = maskinfo.Array.from({ 1 })
    E.assert_error(function() maskinfo.save_safetensors("/tmp/x.safetensors", { { "a", a }, { "a", a } }) end,
      "bad argument #2 to 'save_safetensors' (duplicate tensor name 'a')")
    E.assert_error(function()
      maskinfo.from_segments({ { 0 } }):save_safetensors("/tmp/x.safetensors", { fields = { "nope" } })
    end, "bad argument #2 to 'save_safetensors' (fields: unknown field 'nope' (expected attention_mask, "
      .. "q_segment_ids, kv_segment_ids, q_positions, kv_positions, cu_seqlens_q, cu_seqlens_kv))")
  end)
end)

-- Naive classes of plane (b, h) of a (B, H, Q, K) boolean table.  padded
-- is torch's _convert_mask_to_block_mask: the mask is padded with False to
-- whole blocks, a block is full when its sum is bq * bk.
local function naive_classes(cells, b, h, Q, K, bq, bk, padded)
  local out = {}
  for i = 1, (Q + bq - 1) // bq do
    out[i] = {}
    for j = 1, (K + bk - 1) // bk do
      local n, area = 0, 0
      for q = (i - 1) * bq, math.min(i * bq, Q) - 1 do
        for k = (j - 1) * bk, math.min(j * bk, K) - 1 do
          area = area + 1
          if cells[b + 1][h + 1][q + 1][k + 1] then n = n + 1 end
        end
      end
      if padded then area = bq * bk end
      out[i][j] = n == 0 and 0 or (n == area and 2 or 1)
    end
  end
  return out
end

-- torch's _dense_to_ordered for one row: count, then the wanted columns
-- ascending followed by the others ascending (0-based).
local function ordered(row, want)
  local idx, rest = {}, {}
  for j, v in ipairs(row) do
    if v == want then idx[#idx + 1] = j - 1 else rest[#rest + 1] = j - 1 end
  end
  local n = #idx
  for _, j in ipairs(rest) do idx[#idx + 1] = j end
  return n, idx
end

describe("block_classes and flex_block_mask", function()
  it("classify blocks like a naive count, on random masks with uneven tails", function()
    math.randomseed(21)
    for _ = 1, 12 do
      local B, H, Q, K = math.random(1, 2), math.random(1, 2), math.random(1, 13), math.random(1, 13)
      local bq, bk = math.random(1, 5), math.random(1, 5)
      local cells = R.random_mask(B, H, Q, K, 0.6)
      local mi = maskinfo.from_attention_mask(cells)
      local c = mi:block_classes { block_size = { bq, bk } }
      assert.are.equal("uint8", c:dtype())
      local t = c:totable()
      for b = 0, B - 1 do
        for h = 0, H - 1 do
          assert.are.same(naive_classes(cells, b, h, Q, K, bq, bk), t[b + 1][h + 1])
        end
      end
    end
  end)

  it("give torch's BlockMask tables, kv side and q side, ragged tails included", function()
    math.randomseed(22)
    for trial = 1, 16 do
      local Q, K = math.random(2, 12), math.random(2, 12)
      -- dense enough that ragged tail blocks are often fully allowed
      local cells = R.random_mask(1, 1, Q, K, trial % 2 == 0 and 0.5 or 0.95)
      local mi = maskinfo.from_attention_mask(cells)
      local exact = trial % 4 == 3
      local t = mi:flex_block_mask { block_size = { 3, 2 }, tail = exact and "exact" or nil }
      local cls = naive_classes(cells, 0, 0, Q, K, 3, 2, not exact)
      assert.are.same({ 3, 2 }, t.block_size)
      assert.are.same({ Q, K }, t.seq_lengths)
      local kvn, kvi = t.kv_num_blocks:totable()[1][1], t.kv_indices:totable()[1][1]
      local fn, fi = t.full_kv_num_blocks:totable()[1][1], t.full_kv_indices:totable()[1][1]
      for i, row in ipairs(cls) do
        local n, idx = ordered(row, 1)
        assert.are.equal(n, kvn[i])
        assert.are.same(idx, kvi[i])
        n, idx = ordered(row, 2)
        assert.are.equal(n, fn[i])
        assert.are.same(idx, fi[i])
      end
      -- q side: the same on the transposed classes
      local qn, qi = t.q_num_blocks:totable()[1][1], t.q_indices:totable()[1][1]
      for j = 1, #cls[1] do
        local col = {}
        for i = 1, #cls do col[i] = cls[i][j] end
        local n, idx = ordered(col, 1)
        assert.are.equal(n, qn[j])
        assert.are.same(idx, qi[j])
      end
      assert.are.equal("int32", t.kv_indices:dtype())
    end
  end)

  it("work at 1M tokens without expanding the mask", function()
    local n = 1048576
    local mi = maskinfo.from_segments({ maskinfo.util.fill(n, 0) }):apply_causal():apply_sliding_window({ 4095, 0 })
    local c = mi:block_classes { block_size = 65536 }
    local t = c:totable()[1][1]
    assert.are.equal(16, #t)
    assert.are.equal(1, t[1][1])   -- the diagonal block is partial
    assert.are.equal(1, t[2][1])   -- the window reaches back into the previous block
    assert.are.equal(0, t[3][1])   -- and no further
    assert.are.equal(0, t[1][2])   -- nothing above the diagonal
  end)

  it("equal torch's create_block_mask on the issue's 100 x 100 example", function()
    local mi = maskinfo.from_segments({ maskinfo.util.fill(100, 0) })
    local t = mi:flex_block_mask { block_size = 64 }
    assert.are.same({ 1, 2 }, t.kv_num_blocks:flat())
    assert.are.same({ 1, 0 }, t.full_kv_num_blocks:flat())
    t = mi:flex_block_mask { block_size = 64, tail = "exact" }
    assert.are.same({ 0, 0 }, t.kv_num_blocks:flat())
    assert.are.same({ 2, 2 }, t.full_kv_num_blocks:flat())
  end)

  it("give the same blocks as runs (format csr), and every row's intervals", function()
    math.randomseed(23)
    for trial = 1, 16 do
      local B, H, Q, K = math.random(1, 2), math.random(1, 2), math.random(1, 11), math.random(1, 11)
      local bq, bk = math.random(1, 4), math.random(1, 4)
      local cells = R.random_mask(B, H, Q, K, trial % 2 == 0 and 0.5 or 0.9)
      local mi = maskinfo.from_attention_mask(cells)
      local exact = trial % 3 == 0
      local t = mi:flex_block_mask { block_size = { bq, bk }, format = "csr", tail = exact and "exact" or nil }
      local Rb = (Q + bq - 1) // bq
      assert.are.same({ B, H, Rb, (K + bk - 1) // bk }, t.shape)
      for _, side in ipairs({ { t.kv_runs, 1 }, { t.full_kv_runs, 2 } }) do
        local ptr, lo, hi = side[1].ptr:flat(), side[1].lo:flat(), side[1].hi:flat()
        for b = 0, B - 1 do
          for h = 0, H - 1 do
            local cls = naive_classes(cells, b, h, Q, K, bq, bk, not exact)
            for i = 1, Rb do
              local r = (b * H + h) * Rb + i
              local got = {}
              for j = ptr[r] + 1, ptr[r + 1] do
                for c = lo[j], hi[j] - 1 do got[c + 1] = true end
              end
              for c = 1, #cls[i] do
                assert.are.equal(cls[i][c] == side[2], got[c] == true)
              end
            end
          end
        end
      end
      -- intervals: row r = (b*H + h)*Q + q holds exactly the allowed keys
      local rp, st, en = t.intervals.row_ptr:flat(), t.intervals.starts:flat(), t.intervals.ends:flat()
      for b = 1, B do
        for h = 1, H do
          for q = 1, Q do
            local r = ((b - 1) * H + h - 1) * Q + q
            local row = {}
            for k = 1, K do row[k] = false end
            for j = rp[r] + 1, rp[r + 1] do
              for k = st[j], en[j] - 1 do row[k + 1] = true end
            end
            assert.are.same(cells[b][h][q], row)
          end
        end
      end
    end
  end)

  it("refuse block 32 at 1M tokens at once with the size, and give it as runs", function()
    local n = 1048576
    local mi = maskinfo.from_segments({ maskinfo.util.fill(n, 0) }):apply_causal()
    local t0 = require("maskinfo.core").now()
    local ok, err = pcall(mi.flex_block_mask, mi, { block_size = 32 })
    assert.is_false(ok)
    assert.is_true(require("maskinfo.core").now() - t0 < 1)
    assert.are.equal("flex_block_mask: the dense tables (1, 1, 32768, 32768) at block {32, 32} need 17.0 GiB, "
      .. "over the memory limit (limit " .. require("maskinfo.guard").human(maskinfo.get_memory_limit())
      .. ", see maskinfo.set_memory_limit); format = \"csr\" keeps them small", err)
    local t = mi:flex_block_mask { block_size = 32, format = "csr", intervals = false }
    assert.are.equal(32768, t.kv_runs.lo:size())      -- the diagonal blocks, one run per row
    assert.are.equal(32767, t.full_kv_runs.lo:size()) -- everything left of them
    assert.is_nil(t.intervals)
  end)

  it("refuses a block size below 1", function()
    E.assert_error(function() maskinfo.from_segments({ { 0 } }):block_classes { block_size = 0 } end,
      "bad argument #1 to 'block_classes' (block_size must be >= 1, got 0)")
  end)
end)

describe("export targets and names", function()
  it("follows a symbolic link, refuses directories, honours the umask for new files", function()
    local d = tmpdir()
    local a = maskinfo.Array.from({ 1, 2, 3 })
    assert(io.open(d .. "/real.npy", "w")):close()
    os.execute(("ln -s real.npy %s"):format(P.shell_quote(d .. "/link.npy")))
    os.execute("mkdir " .. P.shell_quote(d .. "/adir.npy"))
    assert.is_true(maskinfo.save_npy(d .. "/link.npy", a))
    local ok, out = P.sh("test -L " .. P.shell_quote(d .. "/link.npy") .. " && echo link")
    assert.is_true(ok)
    assert.are.equal("link\n", out)
    local header = read_npy(d .. "/real.npy")
    assert.is_truthy(header:find("'shape': (3,)", 1, true))
    local good, err, st = maskinfo.save_npy(d .. "/adir.npy", a)
    assert.is_nil(good)
    assert.is_truthy(err:find("save_npy: cannot write '" .. d .. "/adir.npy'", 1, true))
    assert.are.equal("EIO", st)
    -- a new file is created like any other: 0666 less the umask
    local _, mode = P.sh(("cd %s && umask 027 && LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 -e %s && stat -c %%a new.npy")
      :format(P.shell_quote(d), P.shell_quote(P.LUA_PATH), P.shell_quote(P.LUA_CPATH),
        P.shell_quote('require("maskinfo").save_npy("new.npy", require("maskinfo").Array.from({1}))')))
    assert.are.equal("640\n", mode)
    os.execute("rm -rf " .. P.shell_quote(d))
  end)

  it("refuses safetensors names the format cannot hold", function()
    local a = maskinfo.Array.from({ 1 })
    E.assert_error(function() maskinfo.save_safetensors("/tmp/x.safetensors", { { "__metadata__", a } }) end,
      "bad argument #2 to 'save_safetensors' ('__metadata__' is reserved by the format)")
    E.assert_error(function() maskinfo.save_safetensors("/tmp/x.safetensors", { { "a\0b", a } }) end,
      "bad argument #2 to 'save_safetensors' (tensor names must not contain NUL bytes)")
    E.assert_error(function() maskinfo.save_safetensors("/tmp/x.safetensors", { { "\255", a } }) end,
      "bad argument #2 to 'save_safetensors' (tensor names must be valid UTF-8)")
    E.assert_error(function() maskinfo.save_safetensors("/tmp/x.safetensors", { { "a", a }, b = a }) end,
      "bad argument #2 to 'save_safetensors' (a list of {name, Array} pairs or a table of name = Array, not both)")
  end)
end)
