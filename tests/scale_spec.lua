-- A 1,048,576-token mask: packed documents of different lengths (plus trailing
-- padding) with causal and sliding-window rules.  Counts are checked against
-- closed forms, and the masks must stay structured (never N^2 cells).  No
-- timing assertions; the whole file runs in about a second.
local maskinfo = require("maskinfo")
local object = require("maskinfo.object")

local N = 1048576
local W = 4095 -- left window; right window 0
local PAD = 1000
local LENS = { 1, 7, 100, 4095, 4096, 4097, 10000, 65536, 300000, 2 }

-- Flat ids: documents cycling through LENS with non-contiguous ids, the last
-- PAD tokens padding.  Also returns the document lengths.
local function build_ids()
  local ids, docs, j, d = {}, {}, 1, 0
  while j <= N - PAD do
    local n = math.min(LENS[d % #LENS + 1], N - PAD - j + 1)
    for _ = 1, n do
      ids[j] = 3 * d + 2
      j = j + 1
    end
    docs[#docs + 1] = n
    d = d + 1
  end
  for k = N - PAD + 1, N do ids[k] = -1 end
  return ids, docs
end

-- Allowed cells of one document of length n under causal + window (left w, right 0).
local function causal_window(n, w)
  if n <= w + 1 then return n * (n + 1) // 2 end
  return (w + 1) * (w + 2) // 2 + (n - w - 1) * (w + 1)
end

-- sum_{i=0}^{n-1} min(i, w)
local function sum_min(n, w)
  if n <= w + 1 then return n * (n - 1) // 2 end
  return w * (w + 1) // 2 + (n - w - 1) * w
end

local ids, docs = build_ids()
local base, chain

local function setup()
  if not base then
    base = maskinfo.from_segments(ids)
    chain = base:apply_causal():apply_sliding_window({ W, 0 })
  end
end

-- Position of 0-based token j inside its document, capped at W + 1.
local function pos_in_doc(j)
  local p = 0
  while p <= W and j - p - 1 >= 0 and ids[j - p] == ids[j + 1] do p = p + 1 end
  return p
end

local function stored(mi) return object.fields(mi, "scale_spec").mask end

describe("1M-token documents + causal + sliding window", function()
  it("the chain has shape (1, 1, N, N) and keeps the ids", function()
    setup()
    assert.are.same({ 1, 1, N, N }, { stored(chain):shape() })
    local B, Q, K = chain:shape()
    assert.are.same({ 1, N, N }, { B, Q, K })
    assert.are.same({ causal = true, sliding_window = true, chunked = false, token_type_ids = false },
      chain:baked_in_masks())
  end)

  it("count() equals the closed form sum over documents", function()
    setup()
    local want = 0
    for _, n in ipairs(docs) do want = want + causal_window(n, W) end
    local total, per = chain:count()
    assert.are.equal("integer", math.type(total))
    assert.are.equal(want, total)
    assert.are.same({ 1, 1 }, per:shape())
    local p = per:flat()[1]
    assert.are.equal("int64", per:dtype())
    assert.are.equal("integer", math.type(p))
    assert.are.equal(want, p) -- exact: per-head counts are int64
  end)

  it("the mask stays structured: not dense, O(tokens) bytes", function()
    setup()
    local m = stored(chain)
    assert.is_false(m:is_dense())
    assert.is_true(m:bytes() < 100 * N, "mask bytes " .. m:bytes())
  end)

  it("causal alone counts sum n(n+1)/2; a symmetric window alone counts n + 2*sum min(i, w)", function()
    setup()
    local wc, ww = 0, 0
    for _, n in ipairs(docs) do
      wc = wc + n * (n + 1) // 2
      ww = ww + n + 2 * sum_min(n, W)
    end
    assert.are.equal(wc, (base:apply_causal():count()))
    assert.are.equal(ww, (base:apply_sliding_window(W):count()))
  end)

  it("the documents alone count sum n^2 (no expansion)", function()
    setup()
    local want = 0
    for _, n in ipairs(docs) do want = want + n * n end
    assert.are.equal(want, (base:count()))
  end)

  it("causal & window via the algebra equals the chain and stays structured", function()
    setup()
    local x = base:apply_causal() & base:apply_sliding_window({ W, 0 })
    assert.is_false(stored(x):is_dense())
    assert.is_true(x:equals(chain))
    assert.are.equal(0, (x:diff(chain)))
  end)

  it("window {W, 0} alone equals causal + window (right 0 implies causal)", function()
    setup()
    assert.is_true(base:apply_sliding_window({ W, 0 }):equals(chain))
  end)

  it("empty_rows() counts exactly the padding rows", function()
    setup()
    local n, flags = chain:empty_rows()
    assert.are.equal(PAD, n)
    assert.are.same({ 1, 1, N }, flags:shape())
  end)

  it("allowed() at far positions agrees with the rule", function()
    setup()
    -- document 8 (65536 tokens) starts after the first 7 documents
    local start = 0
    for i = 1, 7 do start = start + docs[i] end
    local q = start + 5000
    assert.is_true(chain:allowed(0, 0, q, q))
    assert.is_true(chain:allowed(0, 0, q, q - W))
    assert.is_false(chain:allowed(0, 0, q, q - W - 1))
    assert.is_false(chain:allowed(0, 0, q, q + 1))
    assert.is_false(chain:allowed(0, 0, start + 3, start - 1)) -- previous document
    assert.is_false(chain:allowed(0, 0, N - 1, N - 1)) -- padding
  end)

  it("apply_chunked(4096) counts the causal triangles of chunk-and-document runs", function()
    setup()
    local want, run, prev_id, prev_chunk = 0, 0, nil, nil
    for j = 1, N do
      local id, ch = ids[j], (j - 1) // 4096
      if id >= 0 and id == prev_id and ch == prev_chunk then
        run = run + 1
      else
        want = want + run * (run + 1) // 2
        run = id >= 0 and 1 or 0
      end
      prev_id, prev_chunk = id, ch
    end
    want = want + run * (run + 1) // 2
    local mi = base:apply_chunked(4096)
    assert.are.equal(want, (mi:count()))
    assert.is_false(stored(mi):is_dense())
  end)

  it("decode at a late index slices one row of width 2W+1 with the closed-form count", function()
    setup()
    local idx = N - PAD - 10
    local dec = chain:apply_sliding_window(W, { mode = "decode", index = idx })
    assert.are.same({ 1, 1, 1, 2 * W + 1 }, dec:attention_mask():shape())
    assert.are.equal(math.min(pos_in_doc(idx), W) + 1, (dec:count()))
  end)

  it("apply_kv_lengths on the chain keeps the last rows and counts them", function()
    setup()
    local mi = chain:apply_kv_lengths(N - PAD, { q_len = 8 })
    assert.are.same({ 1, 1, 8, N }, { stored(mi):shape() })
    -- rows N-PAD-8 .. N-PAD-1: the last 8 valid tokens
    local want = 0
    for j = N - PAD - 8, N - PAD - 1 do want = want + math.min(pos_in_doc(j), W) + 1 end
    assert.are.equal(want, (mi:count()))
  end)
end)
