-- Kernel formats against dense references written from each library's own
-- rules: Paddle's flashmask_to_densemask, NumPy's unpackbits(bitorder=
-- "little") for FlashInfer, Magi's from_ranges, JAX splash's _process_mask
-- and flash-attn's unpad_input; random masks and the recipes.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local R = dofile(here .. "/helpers/dense_ref.lua")
local E = dofile(here .. "/helpers/errors.lua")
local maskinfo = require("maskinfo")

-- The dense cells [b][h][q][k] (1-based) of a MaskInfo.
local function cells_of(mi)
  return mi:attention_mask("bool"):totable()
end

local function shape_of(cells)
  return #cells, #cells[1], #cells[1][1], #cells[1][1][1]
end

-- Small masks of every kind: random ones (with empty rows and columns) and
-- the structured recipes at small sizes.

-- Every layer of a built-in recipe at its small size (plus overrides).
local function recipe_layers(name, overrides)
  local RC = maskinfo.recipes
  local r = assert(RC.load(name))
  local want = {}
  for k, v in pairs(r.small or {}) do want[k] = v end
  for k, v in pairs(overrides or {}) do want[k] = v end
  return assert(RC.build(r, assert(RC.params(r, want))))
end

local function cases(seed, n)
  math.randomseed(seed)
  local out = {}
  for i = 1, n do
    local B, H, Q = math.random(1, 2), math.random(1, 2), math.random(1, 9)
    local p = ({ 0.15, 0.5, 0.9 })[i % 3 + 1]
    out[#out + 1] = { name = "random " .. i, mi = maskinfo.from_attention_mask(R.random_mask(B, H, Q, Q, p)) }
  end
  -- the recipes at 12 tokens where their parameters allow it, else at
  -- their small size when that stays small (the references are dense)
  for _, name in ipairs(maskinfo.recipes.list()) do
    local ok, layers = pcall(recipe_layers, name, { len = 12 })
    if not ok then layers = recipe_layers(name) end
    for _, layer in ipairs(layers) do
      local _, Q, K = layer.mask:shape() -- (batch, q_len, kv_len)
      if Q * K <= 24 * 24 then
        out[#out + 1] = { name = name .. " " .. layer.name, mi = layer.mask, recipe = true }
      end
    end
  end
  return out
end

---------------------------------------------------------------- FlashMask

-- Paddle's flashmask_to_densemask for one key column j (0-based) with
-- values v: the set of masked rows (0-based), Python slices clipped.
local function masked_rows(v, j, Q, causal)
  local masked = {}
  local function mask(lo, hi)
    for q = math.max(lo, 0), math.min(hi, Q) - 1 do masked[q] = true end
  end
  local has_end = (causal and #v == 2) or (not causal and #v == 4)
  if has_end then mask(v[1], v[2]) else mask(v[1], Q) end
  if causal then
    mask(0, j)
  elseif has_end then
    mask(v[3], v[4])
  else
    mask(0, v[2])
  end
  return masked
end

-- The dense [b][h][q][k] allowed cells of startend_row_indices sri[b][h][k][n].
local function flashmask_to_dense(sri, Q, causal)
  local out = {}
  for b, hs in ipairs(sri) do
    out[b] = {}
    for h, cols in ipairs(hs) do
      local m = {}
      for q = 1, Q do m[q] = {} end
      for j0, v in ipairs(cols) do
        local masked = masked_rows(v, j0 - 1, Q, causal)
        for q = 1, Q do m[q][j0] = not masked[q - 1] end
      end
      out[b][h] = m
    end
  end
  return out
end

-- Do values v express column j0 of plane (b, h)?
local function column_ok(cells, b, h, j0, Q, causal, v)
  local masked = masked_rows(v, j0 - 1, Q, causal)
  for q = 1, Q do
    if cells[b][h][q][j0] == (masked[q - 1] or false) then return false end
  end
  return true
end

-- Does some assignment of n values (each in [0, Q]) express column j0?
local function expressible(cells, b, h, j0, Q, causal, n)
  local v = {}
  local function try(i)
    if i > n then return column_ok(cells, b, h, j0, Q, causal, v) end
    for x = 0, Q do
      v[i] = x
      if try(i + 1) then return true end
    end
    return false
  end
  return try(1)
end

describe("flashmask", function()
  for _, causal in ipairs({ true, false }) do
    it(("is Paddle's flashmask_to_densemask of the mask, smallest form first (causal=%s)"):format(causal), function()
      local tried, refused = 0, 0
      for _, c in ipairs(cases(causal and 31 or 32, 40)) do
        local cells = cells_of(c.mi)
        local B, H, Q, K = shape_of(cells)
        if not causal or Q == K then
          tried = tried + 1
          local ok, sri = pcall(c.mi.flashmask, c.mi, { causal = causal })
          if ok then
            assert.are.equal("int32", sri:dtype())
            local t = sri:totable()
            assert.are.same(cells, flashmask_to_dense(t, Q, causal), c.name)
            local n = sri:shape()[4]
            local small = causal and 1 or 2
            assert.is_true(n == small or n == 2 * small, c.name)
            if n == 2 * small then -- some column needs the larger form
              local needs = false
              for b = 1, B do
                for h = 1, H do
                  for j = 1, K do
                    needs = needs or not expressible(cells, b, h, j, Q, causal, small)
                  end
                end
              end
              assert.is_true(needs, c.name .. ": the smaller form would do")
            end
          else
            refused = refused + 1
            local col, b, h = sri:match("column (%d+) %(batch (%d+), head (%d+)%)")
            assert.is_truthy(col, sri)
            col, b, h = tonumber(col) + 1, tonumber(b) + 1, tonumber(h) + 1
            assert.is_false(expressible(cells, b, h, col, Q, causal, causal and 2 or 4), c.name)
            assert.is_true(expressible(cells, b, h, col - 1 >= 1 and col - 1 or col, Q, causal, causal and 2 or 4)
              or col == 1, c.name .. ": an earlier column is not the first")
          end
        end
      end
      assert.is_true(tried > 20 and refused > 0 and refused < tried)
    end)
  end

  it("gives the one-value form for causal documents and refuses causal with Q != K", function()
    local mi = maskinfo.from_segments({ { 0, 0, 0, 1, 1, -1 } }):apply_causal()
    assert.are.same({ 3, 3, 3, 5, 5, 5 }, mi:flashmask():flat())
    E.assert_error(function() maskinfo.from_segments({ { 0, 0 } }, { { 0, 0, 0 } }):flashmask() end,
      "flashmask: causal FlashMask needs as many queries as keys, got 2 and 3")
  end)

  it("names the first column it cannot express and why", function()
    local mi = maskinfo.from_attention_mask({ { true, true }, { false, true }, { true, true } })
    E.assert_error(function() mi:flashmask() end, "flashmask: FlashMask cannot express column 1 (batch 0, head 0): "
      .. "row 0 is allowed above the diagonal, which causal FlashMask always masks")
  end)
end)

---------------------------------------------------------------- FlashInfer

-- NumPy's unpackbits(bitorder="little") of one byte string slice.
local function unpack_little(bytes, from_byte, nbits)
  local out = {}
  for i = 0, nbits - 1 do
    local byte = bytes[from_byte + i // 8 + 1]
    out[i + 1] = (byte >> (i % 8)) & 1 == 1
  end
  return out
end

describe("flashinfer_mask and bsr", function()
  it("pack each request's kept cells little-endian from a byte boundary", function()
    for _, c in ipairs(cases(41, 25)) do
      local cells = cells_of(c.mi)
      local B, H = shape_of(cells)
      local q, kv = c.mi:q_segment_ids(), c.mi:kv_segment_ids()
      local qt, kt = q:totable(), kv:totable()
      for h = 1, H do
        local t = c.mi:flashinfer_mask { head = H > 1 and h - 1 or nil }
        local bytes, mp = t.packed_custom_mask:flat(), t.mask_indptr:flat()
        local qp, kp = t.qo_indptr:flat(), t.kv_indptr:flat()
        local iq, ik = t.indices_q:flat(), t.indices_k:flat()
        local _, _, Q, K = shape_of(cells)
        for b = 1, B do
          local qk, kk = {}, {}
          for i, v in ipairs(qt[b]) do if v >= 0 then qk[#qk + 1] = i end end
          for i, v in ipairs(kt[b]) do if v >= 0 then kk[#kk + 1] = i end end
          -- the gather indices of the kept tokens; a dropped one is empty
          for n, i in ipairs(qk) do assert.are.equal((b - 1) * Q + i - 1, iq[qp[b] + n]) end
          for n, i in ipairs(kk) do assert.are.equal((b - 1) * K + i - 1, ik[kp[b] + n]) end
          for i, v in ipairs(qt[b]) do
            if v < 0 then for k = 1, K do assert.is_false(cells[b][h][i][k], c.name) end end
          end
          for k, v in ipairs(kt[b]) do
            if v < 0 then for i = 1, Q do assert.is_false(cells[b][h][i][k], c.name) end end
          end
          assert.are.equal(#qk, qp[b + 1] - qp[b])
          assert.are.equal(#kk, kp[b + 1] - kp[b])
          assert.are.equal((#qk * #kk + 7) // 8, mp[b + 1] - mp[b], c.name)
          local bits = unpack_little(bytes, mp[b], #qk * #kk)
          local want = {}
          for _, qi in ipairs(qk) do
            for _, ki in ipairs(kk) do want[#want + 1] = cells[b][h][qi][ki] end
          end
          assert.are.same(want, bits, c.name)
        end
      end
    end
  end)

  it("list BSR blocks holding any allowed cell, and refuse blocks that do not divide", function()
    for _, c in ipairs(cases(42, 20)) do
      local cells = cells_of(c.mi)
      local _, _, Q, K = shape_of(cells)
      local br = Q % 3 == 0 and 3 or 1
      local bc = K % 2 == 0 and 2 or 1
      local t = c.mi:bsr { block_size = { br, bc }, batch = 0, head = 0 }
      local indptr, indices = t.indptr:flat(), t.indices:flat()
      local at, blocks, partial = 0, {}, false
      for i = 0, Q // br - 1 do
        assert.are.equal(at, indptr[i + 1])
        for j = 0, K // bc - 1 do
          local any, all, block = false, true, {}
          for q = i * br + 1, (i + 1) * br do
            block[#block + 1] = {}
            for k = j * bc + 1, (j + 1) * bc do
              local v = cells[1][1][q][k]
              any, all = any or v, all and v
              table.insert(block[#block], v)
            end
          end
          if any then
            at = at + 1
            assert.are.equal(j, indices[at], c.name)
            blocks[at], partial = block, partial or not all
          end
        end
      end
      assert.are.equal(at, indptr[#indptr])
      -- plan(mask=): the listed blocks' cells, only when one is partial
      assert.are.equal(not partial, t.full, c.name)
      if partial then
        assert.are.same({ at, br, bc }, t.mask:shape())
        assert.are.same(blocks, t.mask:totable(), c.name)
      else
        assert.is_nil(t.mask)
      end
    end
    local mi = maskinfo.from_segments({ { 0, 0, 0 } })
    E.assert_error(function() mi:bsr { block_size = 2 } end,
      "bad argument #1 to 'bsr' (block_size {2, 2} must divide the mask's (3, 3))")
  end)

  it("ask for a head when the mask has several", function()
    local mi = maskinfo.stack_heads { maskinfo.from_segments({ { 0, 0 } }), maskinfo.from_segments({ { 0, 1 } }) }
    E.assert_error(function() mi:flashinfer_mask() end, "bad argument #1 to 'flashinfer_mask' (head: the mask has 2 "
      .. "heads; FlashInfer's custom mask is shared by all heads (pass head=))")
  end)

  it("refuse a packed mask over the memory limit or past FlashInfer's int32 indptr, with its size", function()
    -- the size counts the int64 gather indices (indices_q, indices_k) too
    local one = maskinfo.from_segments({ maskinfo.util.fill(1 << 20, 0) })
    E.assert_error(function() one:flashinfer_mask() end,
      "flashinfer_mask: needs 131096.0 MiB (137464119320 bytes), over the memory limit (limit 12.0 GiB, see "
      .. "maskinfo.set_memory_limit)")
    -- 2^17 tokens: 2 GiB of bits, under the limit but past int32 offsets
    local wide = maskinfo.from_segments({ maskinfo.util.fill(1 << 17, 0) })
    E.assert_error(function() wide:flashinfer_mask() end, "flashinfer_mask: the packed mask is 2147483648 bytes over "
      .. "131072 query and 131072 key tokens, past the int32 indptr FlashInfer takes (2^31 - 1)")
    -- bsr counts its blocks a run at a time, then refuses past int32 indices
    local causal = one:apply_causal()
    E.assert_error(function() causal:bsr { block_size = 16 } end,
      "bsr: 2147516416 blocks, past the int32 indptr FlashInfer takes (2^31 - 1)")
    -- the partial blocks' cells are guarded as a whole
    local small = maskinfo.from_segments({ maskinfo.util.fill(1 << 14, 0) }):apply_causal()
    assert.is_true(small:bsr { block_size = 4096 }.full == false)
    local before = maskinfo.get_memory_limit()
    maskinfo.set_memory_limit(64 << 20)
    local err = E.errmsg(function() small:bsr { block_size = 4 } end)
    maskinfo.set_memory_limit(before)
    assert.are.equal("bsr: needs 128.0 MiB (134250496 bytes), over the memory limit (limit 64.0 MiB, see "
      .. "maskinfo.set_memory_limit)", err)
  end)
end)

---------------------------------------------------------------- MagiAttention

-- Magi's from_ranges over the flattened batch; rectangles must not overlap.
local function magi_dense(t, TQ, TK)
  local d = {}
  for q = 1, TQ do
    d[q] = {}
    for k = 1, TK do d[q][k] = false end
  end
  local qr, kr, ty = t.q_ranges:totable(), t.k_ranges:totable(), t.attn_type_map:flat()
  for s = 1, #ty do
    local xs, xe, ys, ye = qr[s][1], qr[s][2], kr[s][1], kr[s][2]
    for i = xs, xe - 1 do -- from_ranges: the rectangle holds no filled cell yet
      for j = ys, ye - 1 do assert.is_false(d[i + 1][j + 1], "slice rectangles overlap filled cells") end
    end
    for i = xs, xe - 1 do
      for j = ys, ye - 1 do
        local ok = ty[s] == 0
          or (ty[s] == 1 and j <= i + (ye - xe))
          or (ty[s] == 2 and j >= i + (ys - xs))
          or (ty[s] == 3 and j <= i + (ye - xe) and j >= i + (ys - xs))
        if ok then d[i + 1][j + 1] = true end
      end
    end
  end
  return d
end

describe("attn_slices", function()
  it("is exact under Magi's from_ranges, over the flattened batch", function()
    for _, c in ipairs(cases(51, 30)) do
      local cells = cells_of(c.mi)
      local B, H, Q, K = shape_of(cells)
      for h = 1, H do
        local t = c.mi:attn_slices { head = H > 1 and h - 1 or nil }
        assert.are.equal(B * Q, t.total_seqlen_q)
        local want = {}
        for b = 1, B do
          for q = 1, Q do
            local row = {}
            for bb = 1, B do
              for k = 1, K do row[#row + 1] = bb == b and cells[b][h][q][k] end
            end
            want[#want + 1] = row
          end
        end
        assert.are.same(want, magi_dense(t, B * Q, B * K), c.name)
      end
    end
  end)

  it("is minimal for the structured patterns", function()
    local n = 64
    local causal = maskinfo.from_segments({ maskinfo.util.fill(n, 0) }):apply_causal()
    local t = causal:attn_slices()
    assert.are.same({ 1 }, t.attn_type_map:flat())
    t = causal:apply_sliding_window({ 7, 0 }):attn_slices() -- CAUSAL then BICAUSAL
    assert.are.same({ 1, 3 }, t.attn_type_map:flat())
    local docs = maskinfo.from_segments({ { 0, 0, 0, 1, 1, 2, 2, 2, 2 } }):apply_causal():attn_slices()
    assert.are.same({ 1, 1, 1 }, docs.attn_type_map:flat())
    assert.are.same({ { 0, 3 }, { 3, 5 }, { 5, 9 } }, docs.q_ranges:totable())
    local full = maskinfo.from_segments({ { 0, 0, 1, 1, 1 } }):attn_slices()
    assert.are.same({ 0, 0 }, full.attn_type_map:flat())
    local prefix = recipe_layers("prefix_lm")[1].mask:attn_slices()
    assert.are.same({ 0, 1 }, prefix.attn_type_map:flat())
  end)
end)

---------------------------------------------------------------- splash

-- A literal port of splash's _process_mask (is_dkv False, one shard, no
-- grid shrinking) over a [H][Q][K] mask.
local function process_mask(mask, bq, bk)
  local H, Q, K = #mask, #mask[1], #mask[1][1]
  local Qb, Kb = Q // bq, K // bk
  local function chunk(h, qi, kj) -- the block as a string of 0/1, and any/all
    local s, any, all = {}, false, true
    for q = qi * bq + 1, (qi + 1) * bq do
      for k = kj * bk + 1, (kj + 1) * bk do
        local v = mask[h][q][k]
        s[#s + 1] = v and "1" or "0"
        any, all = any or v, all and v
      end
    end
    return table.concat(s), any, all
  end
  -- unique masks by content, in head order
  local key_of, uniq = {}, {}
  for h = 1, H do
    local parts = {}
    for qi = 0, Qb - 1 do
      for kj = 0, Kb - 1 do parts[#parts + 1] = (chunk(h, qi, kj)) end
    end
    local key = table.concat(parts, "|")
    if not key_of[key] then
      uniq[#uniq + 1] = h
      key_of[key] = #uniq
    end
  end
  local multi = #uniq > 1
  local Hm = multi and H or 1
  local block_mask, pid, ids = {}, {}, {}
  local npart = 0
  for h = 1, Hm do
    local src = multi and h or uniq[1]
    for qi = 0, Qb - 1 do
      for kj = 0, Kb - 1 do
        local s, any, all = chunk(src, qi, kj)
        local idx = ((h - 1) * Qb + qi) * Kb + kj + 1
        block_mask[idx] = any and (all and 2 or 1) or 0
        if any and not all then
          if not pid[s] then
            pid[s] = npart
            npart = npart + 1
          end
          ids[idx] = pid[s]
        end
      end
    end
  end
  -- data_next / mask_next: the loop of _get_mask_info_for_shard
  local n = Hm * Qb * Kb
  local data_coords, mask_coords = {}, {}
  for i = 1, n do
    if block_mask[i] > 0 then data_coords[#data_coords + 1] = i end
    if block_mask[i] == 1 then mask_coords[#mask_coords + 1] = i end
  end
  local data_next, mask_next = {}, npart > 0 and {} or nil
  -- Python's iterator: advance when idx passes the current coordinate;
  -- once exhausted, stay on the first coordinate
  local function walker(coords)
    local at, done = 1, false
    return function(i)
      if i > coords[done and 1 or at] then
        if not done and at < #coords then at = at + 1 else done = true end
      end
      return coords[done and 1 or at]
    end
  end
  local dnext = #data_coords > 0 and walker(data_coords)
  local mnext = mask_next and walker(mask_coords)
  for i = 1, n do
    data_next[i] = dnext and (dnext(i) - 1) % Kb or 0
    if mnext then mask_next[i] = ids[mnext(i)] end
  end
  local blocks = {}
  for s, id in pairs(pid) do blocks[id + 1] = s end
  return { block_mask = block_mask, data_next = data_next, mask_next = mask_next, blocks = blocks, Hm = Hm }
end

describe("splash_mask_info", function()
  it("gives _process_mask's forward tables", function()
    math.randomseed(61)
    local tried = 0
    for _, c in ipairs(cases(62, 30)) do
      local cells = cells_of(c.mi)
      local B, _, Q, K = shape_of(cells)
      for _, bs in ipairs({ { 1, 1 }, { 2, 3 }, { 3, 2 }, { 4, 4 } }) do
        if Q % bs[1] == 0 and K % bs[2] == 0 then
          tried = tried + 1
          local b = math.random(1, B)
          local ref = process_mask(cells[b], bs[1], bs[2])
          local t = c.mi:splash_mask_info { block_size = bs, batch = B > 1 and b - 1 or nil }
          assert.are.same({ ref.Hm, Q // bs[1], K // bs[2] }, t.block_mask:shape(), c.name)
          assert.are.same(ref.block_mask, t.block_mask:flat(), c.name)
          assert.are.same(ref.data_next, t.data_next:flat(), c.name)
          assert.are.same(ref.mask_next, t.mask_next and t.mask_next:flat(), c.name)
          local got = {}
          if t.partial_mask_blocks then
            local flat = t.partial_mask_blocks:flat()
            local per = bs[1] * bs[2]
            for p = 1, #flat // per do
              local s = {}
              for i = 1, per do s[i] = flat[(p - 1) * per + i] and "1" or "0" end
              got[p] = table.concat(s)
            end
          end
          assert.are.same(ref.blocks, got, c.name)
        end
      end
    end
    assert.is_true(tried > 40)
  end)

  it("refuses block sizes that do not divide the lengths, as splash does", function()
    local mi = maskinfo.from_segments({ maskinfo.util.fill(10, 0) })
    E.assert_error(function() mi:splash_mask_info { block_size = 4 } end,
      "bad argument #1 to 'splash_mask_info' (block_size 4 should divide q_len 10 (splash's rule))")
  end)
end)

---------------------------------------------------------------- varlen

describe("varlen", function()
  it("gives the packed boundaries of the flattened batch, not the seed's padded form", function()
    local v = maskinfo.from_segments({ { 0, 0, 1 }, { 0, 1, 1 } }):varlen()
    assert.are.same({ 0, 2, 3, 4, 6 }, v.cu_seqlens_q:flat())
    assert.are.same({ 0, 2, 3, 4, 6 }, v.cu_seqlens_k:flat())
    assert.are.same({ 2, 1, 1, 2 }, v.seqlens_q:flat())
    assert.are.equal(2, v.max_seqlen_q)
    assert.are.same({ 0, 1, 2, 3, 4, 5 }, v.indices_q:flat())
  end)

  it("drops padding like unpad_input and pairs query and key documents", function()
    math.randomseed(71)
    for _ = 1, 30 do
      local B, L = math.random(1, 3), math.random(1, 10)
      local ids = {}
      for b = 1, B do
        ids[b] = {}
        local cur = math.random(0, 1) - 1
        for i = 1, L do
          if math.random() < 0.3 then cur = cur + 1 end
          ids[b][i] = math.random() < 0.2 and -1 or cur
        end
      end
      local ok, v = pcall(function() return maskinfo.from_segments(ids):varlen() end)
      -- reference: runs of equal ids among the kept tokens of each row
      local cu, idx, docs, mx, repeated = { 0 }, {}, 0, 0, false
      for b = 1, B do
        local seen, last = {}, nil
        for i = 1, L do
          local x = ids[b][i]
          if x >= 0 then
            if x ~= last then
              if seen[x] then repeated = true end
              seen[x] = true
              docs = docs + 1
              cu[docs + 1] = cu[docs]
            end
            last = x
            cu[docs + 1] = cu[docs + 1] + 1
            idx[#idx + 1] = (b - 1) * L + i - 1
          end
        end
      end
      for d = 1, docs do mx = math.max(mx, cu[d + 1] - cu[d]) end
      if repeated then
        assert.is_false(ok)
        assert.is_truthy(v:find("comes back at token", 1, true), v)
      else
        assert.is_true(ok, v)
        assert.are.same(cu, v.cu_seqlens_q:flat())
        assert.are.same(idx, v.indices_q:flat())
        assert.are.equal(mx, v.max_seqlen_q)
      end
    end
  end)

  -- flash_attn_varlen_func's mask from the documents of q and kv ids:
  -- query i of a (lq, lk) document sees local keys j with
  -- i + lk - lq - left <= j <= i + lk - lq + right (-1 unbounded)
  local function flash_dense(q, kv, left, right)
    local out = {}
    for b = 1, #q do
      local function docs(ids)
        local d, last = {}, nil
        for t, x in ipairs(ids) do
          if x >= 0 then
            if x ~= last then d[#d + 1] = {} end
            last = x
            table.insert(d[#d], t)
          end
        end
        return d
      end
      local dq, dk = docs(q[b]), docs(kv[b])
      local plane = {}
      for i = 1, #q[b] do
        plane[i] = {}
        for j = 1, #kv[b] do plane[i][j] = false end
      end
      for d = 1, #dq do
        local lq, lk = #dq[d], #dk[d]
        for i = 0, lq - 1 do
          for j = 0, lk - 1 do
            local diag = i + lk - lq
            if (left < 0 or j >= diag - left) and (right < 0 or j <= diag + right) then
              plane[dq[d][i + 1]][dk[d][j + 1]] = true
            end
          end
        end
      end
      out[b] = { plane }
    end
    return out
  end

  it("returns the window only when the mask is exactly flash-attn's documents + window", function()
    math.randomseed(73)
    local checked, refused = 0, 0
    for _ = 1, 60 do
      local B, n = math.random(1, 2), math.random(1, 3)
      local q, kv = {}, {}
      for b = 1, B do
        q[b], kv[b] = {}, {}
        for d = 0, n - 1 do
          for _ = 1, math.random(1, 4) do q[b][#q[b] + 1] = d end
          for _ = 1, math.random(1, 4) do kv[b][#kv[b] + 1] = d end
          if math.random() < 0.3 then kv[b][#kv[b] + 1] = -1 end
        end
      end
      local Q, K = 0, 0
      for b = 1, B do Q, K = math.max(Q, #q[b]), math.max(K, #kv[b]) end
      for b = 1, B do
        while #q[b] < Q do q[b][#q[b] + 1] = -1 end
        while #kv[b] < K do kv[b][#kv[b] + 1] = -1 end
      end
      local left, right = math.random(-1, 3), math.random(-1, 2)
      local cells = flash_dense(q, kv, left, right)
      local base = maskinfo.from_segments(q, kv)
      local v = base:replace { attention_mask = cells }:varlen()
      assert.are.same(cells, flash_dense(q, kv, v.window_size[1], v.window_size[2]))
      assert.are.equal(v.window_size[2] == 0, v.causal)
      checked = checked + 1
      -- one flipped cell: refused, naming the mask's fault, unless the
      -- result is another window (then that window must reproduce it)
      local b, i, j = math.random(1, B), math.random(1, Q), math.random(1, K)
      cells[b][1][i][j] = not cells[b][1][i][j]
      local ok, err = pcall(function() return base:replace { attention_mask = cells }:varlen() end)
      if ok then
        assert.are.same(cells, flash_dense(q, kv, err.window_size[1], err.window_size[2]))
      else
        assert.is_truthy(err:find("varlen: the mask is not block-diagonal documents (+ causal, + window) as "
          .. "flash_attn_varlen_func computes them: batch ", 1, true), err)
        refused = refused + 1
      end
    end
    assert.are.equal(60, checked)
    assert.is_true(refused > 40, refused)
  end)

  it("reads causal and window_size off structured masks and refuses what varlen cannot express", function()
    local docs = maskinfo.from_segments({ { 0, 0, 0, 0, 0, 1, 1, 1 } })
    local v = docs:varlen()
    assert.are.same({ false, -1, -1 }, { v.causal, v.window_size[1], v.window_size[2] })
    v = docs:apply_causal():varlen()
    assert.are.same({ true, -1, 0 }, { v.causal, v.window_size[1], v.window_size[2] })
    v = docs:apply_causal():apply_sliding_window({ 2, 0 }):varlen()
    assert.are.same({ true, 2, 0 }, { v.causal, v.window_size[1], v.window_size[2] })
    v = docs:apply_sliding_window({ 1, 2 }):varlen()
    assert.are.same({ false, 1, 2 }, { v.causal, v.window_size[1], v.window_size[2] })
    E.assert_error(function() (maskinfo.full(4) - maskinfo.causal(4)):varlen() end,
      "varlen: the mask is not block-diagonal documents (+ causal, + window) as flash_attn_varlen_func computes "
      .. "them: batch 0 head 0 query 0 key 0 is masked by the mask but not by the documents with window_size "
      .. "(-1, -1) (10 cells differ); use flex_block_mask or flashmask")
    E.assert_error(function() maskinfo.stack_heads { maskinfo.causal(4), maskinfo.full(4) }:varlen() end,
      "varlen: the mask is not block-diagonal documents (+ causal, + window) as flash_attn_varlen_func computes "
      .. "them: batch 0 head 1 query 0 key 1 is allowed by the mask but not by the documents with window_size "
      .. "(-1, 0) (6 cells differ); use flex_block_mask or flashmask")
    -- a global causal offset is not flash-attn's per-document bottom-right
    local cross = maskinfo.from_segments({ { 0, 0, 1, 1 } }, { { 0, 0, 0, 1, 1, 1 } }):apply_causal()
    assert.has_error(function() cross:varlen() end)
  end)

  it("refuses key documents that do not pair with the query ones", function()
    E.assert_error(function() maskinfo.from_segments({ { 0, 0, 1 } }, { { 0, 0, 0 } }):varlen() end,
      "varlen: 2 query documents but 1 key documents; varlen pairs them one to one")
  end)
end)

---------------------------------------------------------------- NumPy

-- The NumPy check of every format, each against its library's rule in
-- NumPy, reads the files `maskinfo export` writes: tests/cli_export_spec.lua.
