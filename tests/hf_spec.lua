-- Masks from a model's config.json (mi.from_hf_config, mi.hf_layers) and packed
-- documents from position_ids (mi.from_position_ids), compared cell for cell with a
-- dense reference written here from HF transformers' masking_utils rules:
--   causal kv <= q; sliding window w: kv > q - w; chunked: (kv - lp) // c == (q - lp) // c
--   with lp the row's leading padding; padding masks keys only; packed documents where
--   position_ids do not go up by one (only without an attention_mask); is_causal = false:
--   full -> every key, sliding -> |q - kv| <= w, no packing; use_bidirectional_attention:
--   full -> every key, sliding -> |q - kv| < w.
-- The configs are tests/data/hf/*.json (published values, see its README.md).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local maskinfo = require("maskinfo")
local cjson = require("cjson")

local DATA = P.ROOT .. "/tests/data/hf/"

local function config(name)
  return cjson.decode(P.read_file(DATA .. name .. ".json"))
end

---------------------------------------------------------------- the reference

-- Layer types as HF derives them (configuration_*.py), written out per family.
local function ref_layer_types(cfg)
  local c = cfg.text_config or cfg
  if c.layer_types then return c.layer_types end
  local n, t = c.num_hidden_layers, {}
  for i = 0, n - 1 do
    local ty
    if c.model_type == "gemma2" then
      ty = (i + 1) % 2 == 1 and "sliding_attention" or "full_attention"
    elseif c.model_type == "gemma3_text" or c.model_type == "cohere2" then
      local pat = c.sliding_window_pattern or (c.model_type == "cohere2" and 4 or 6)
      ty = (i + 1) % pat ~= 0 and "sliding_attention" or "full_attention"
    elseif c.model_type == "qwen2" then
      ty = (c.use_sliding_window and i >= c.max_window_layers) and "sliding_attention" or "full_attention"
    elseif c.model_type == "llama4_text" then
      ty = (i + 1) % 4 ~= 0 and "chunked_attention" or "full_attention"
    elseif c.sliding_window then
      ty = "sliding_attention"
    else
      ty = "full_attention"
    end
    t[i + 1] = ty
  end
  return t
end

-- The reference predicate of one layer type: fn(b, q, kv) -> allowed.
local function ref_layer(cfg, ty, inp)
  local c = cfg.text_config or cfg
  local w, chunk = c.sliding_window, c.attention_chunk_size
  local causal = c.is_causal ~= false
  local bidir = c.use_bidirectional_attention == true
  local am, pos = inp.attention_mask, inp.position_ids
  local lp, docs = {}, nil
  for b = 1, inp.B do
    lp[b] = 0
    if am then
      local s = 0
      for i = 1, #am[b] do
        s = s + am[b][i]
        if s == 0 then lp[b] = lp[b] + 1 end
      end
    end
  end
  if pos and not am then
    docs = {}
    for b = 1, inp.B do
      local row = pos[b] or pos[1]
      local d, prev, ids = 0, row[1] - 1, {}
      for i = 1, #row do
        if row[i] - prev ~= 1 then d = d + 1 end
        prev = row[i]
        ids[i] = d
      end
      docs[b] = ids
    end
  end
  return function(b, q, kv)
    local pad = not am or am[b + 1][kv + 1] == 1
    local packed = not docs or docs[b + 1][q + 1] == docs[b + 1][kv + 1]
    if ty == "chunked_attention" then
      return pad and packed and kv <= q and (kv - lp[b + 1]) // chunk == (q - lp[b + 1]) // chunk
    end
    if not causal then
      if ty == "sliding_attention" then return pad and math.abs(q - kv) <= w end
      return pad
    end
    if bidir then
      if ty == "sliding_attention" then return pad and packed and math.abs(q - kv) < w end
      return pad and packed
    end
    local ok = pad and packed and kv <= q
    if ty == "sliding_attention" then ok = ok and kv > q - w end
    return ok
  end
end

-- Compare every layer's mask with the reference; distinct masks once.
local function check_config(cfg, inp, opts)
  local masks, layers = maskinfo.from_hf_config(cfg, opts)
  local types = ref_layer_types(cfg)
  assert.are.equal(#types, #masks)
  local seen = {}
  for i, m in ipairs(masks) do
    assert.are.equal(types[i], layers[i].type, "layer " .. (i - 1))
    if not seen[m] then
      seen[m] = true
      local B, Q, K = m:shape()
      assert.are.same({ inp.B, inp.len, inp.len }, { B, Q, K })
      local pred = ref_layer(cfg, types[i], inp)
      local dense = m:attention_mask():totable()
      for b = 0, B - 1 do
        for q = 0, Q - 1 do
          for kv = 0, K - 1 do
            local want = pred(b, q, kv)
            if dense[b + 1][1][q + 1][kv + 1] ~= want then
              error(("layer %d (%s): cell (b=%d, q=%d, kv=%d) is %s, HF's rules say %s"):format(
                i - 1, types[i], b, q, kv, tostring(not want), tostring(want)), 0)
            end
          end
        end
      end
    end
  end
  return masks, layers
end

local function range(a, b)
  local t = {}
  for i = a, b do t[#t + 1] = i end
  return t
end

local function concat(...)
  local t = {}
  for _, x in ipairs({ ... }) do
    for _, v in ipairs(x) do t[#t + 1] = v end
  end
  return t
end

local function ones_after(zeros, n)
  local t = {}
  for i = 1, n do t[i] = i > zeros and 1 or 0 end
  return t
end

local LEN = 40
local left = { ones_after(7, LEN), ones_after(0, LEN), ones_after(13, LEN) }
local right = { concat(ones_after(0, 30), { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }) }
local packed = { concat(range(0, 9), range(0, 14), range(0, 14)) }
local packed2 = { concat(range(0, 19), range(0, 19)), concat(range(5, 24), range(0, 4), range(0, 14)) }

local CASES = {
  { "no padding", { B = 1, len = LEN }, { seq_len = LEN } },
  { "left padding", { B = 3, len = LEN, attention_mask = left }, { attention_mask = left } },
  { "right padding", { B = 1, len = LEN, attention_mask = right }, { attention_mask = right, seq_len = LEN } },
  { "packed position_ids", { B = 1, len = LEN, position_ids = packed }, { position_ids = packed } },
  { "packed position_ids, 2 rows", { B = 2, len = LEN, position_ids = packed2 }, { position_ids = packed2 } },
  { "position_ids with an attention_mask (no packing, as HF)",
    { B = 1, len = LEN, attention_mask = { right[1] }, position_ids = packed },
    { attention_mask = right, position_ids = packed } },
}

local FILES = { "mistral-7b-v0.1", "phi-3-mini-4k-instruct", "gemma-2-9b", "gemma-3-4b-it",
  "c4ai-command-r7b-12-2024", "qwen2.5-7b-instruct", "llama-4-scout-17b-16e", "gpt-oss-20b", "embeddinggemma-300m" }

-- The same config with windows and chunks small enough to bite at LEN tokens.
local function scaled(cfg)
  local c = cjson.decode(cjson.encode(cfg))
  local t = c.text_config or c
  if t.sliding_window then t.sliding_window = 5 end
  if t.attention_chunk_size then t.attention_chunk_size = 6 end
  return c
end

---------------------------------------------------------------- specs

describe("hf_layers", function()
  it("reads the layer kinds of every shipped config as HF derives them", function()
    for _, f in ipairs(FILES) do
      local layers = maskinfo.hf_layers(DATA .. f .. ".json")
      local want = ref_layer_types(config(f))
      local got = {}
      for i, l in ipairs(layers) do got[i] = l.type end
      assert.are.same(want, got, f)
    end
  end)

  it("carries the window and the chunk of each layer", function()
    local l = maskinfo.hf_layers(DATA .. "gemma-3-4b-it.json")
    assert.are.equal(34, #l)
    assert.are.same({ type = "sliding_attention", window = 1024, causal = true, bidirectional = false }, l[1])
    assert.are.same({ type = "full_attention", causal = true, bidirectional = false }, l[6])
    l = maskinfo.hf_layers(DATA .. "llama-4-scout-17b-16e.json")
    assert.are.same({ 8192, nil }, { l[1].chunk, l[4].chunk })
    assert.are.same({ "chunked_attention", "full_attention" }, { l[3].type, l[4].type })
  end)

  it("derives the older per-family fields", function()
    local function kinds(cfg)
      local t = {}
      for i, l in ipairs(maskinfo.hf_layers(cfg)) do t[i] = l.type:sub(1, 1) end
      return table.concat(t)
    end
    assert.are.equal("sfsfs", kinds({ model_type = "gemma2", num_hidden_layers = 5, sliding_window = 8 }))
    assert.are.equal("ssfssf", kinds({ model_type = "gemma3_text", num_hidden_layers = 6, sliding_window = 8, sliding_window_pattern = 3 }))
    assert.are.equal("ffffss", kinds({ model_type = "qwen2", num_hidden_layers = 6, sliding_window = 8,
      use_sliding_window = true, max_window_layers = 4 }))
    assert.are.equal("ffffff", kinds({ model_type = "qwen2", num_hidden_layers = 6, sliding_window = 8,
      use_sliding_window = false, max_window_layers = 4 }))
    assert.are.equal("cfcfcf", kinds({ model_type = "llama4_text", num_hidden_layers = 6, attention_chunk_size = 8,
      no_rope_layer_interval = 2 }))
    assert.are.equal("fcc", kinds({ model_type = "llama4_text", num_hidden_layers = 3, attention_chunk_size = 8,
      no_rope_layers = { 0, 1, 1 } }))
    assert.are.equal("ccc", kinds({ model_type = "x", num_hidden_layers = 3, attention_chunk_size = 8 }))
    assert.are.equal("fff", kinds({ model_type = "llama", num_hidden_layers = 3 }))
    assert.are.equal("sf", kinds({ num_hidden_layers = 2, sliding_window = 4, layer_types = { "sliding_attention", "full_attention" } }))
  end)

  it("refuses configs it cannot read, naming the field", function()
    local cases = {
      { {}, "from_hf_config: the config has neither layer_types nor num_hidden_layers" },
      { { num_hidden_layers = 2, layer_types = { "full_attention" } }, "from_hf_config: layer_types has 1 entries, num_hidden_layers is 2" },
      { { layer_types = { "linear_attention" } }, "from_hf_config: layer 0: layer type 'linear_attention' is not one of full_attention, sliding_attention, chunked_attention" },
      { { layer_types = { "sliding_attention" } }, "from_hf_config: a sliding_attention layer needs sliding_window, a positive integer (got nil)" },
      { { model_type = "llama4", num_hidden_layers = 2 }, "from_hf_config: a chunked_attention layer needs attention_chunk_size, a positive integer (got nil)" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(maskinfo.hf_layers, c[1])
      assert.is_false(ok)
      assert.are.equal(c[2], err)
    end
    local ok, err = pcall(maskinfo.hf_layers, DATA .. "nope.json")
    assert.is_false(ok)
    assert.truthy(err:find("^from_hf_config: cannot read '.*nope.json'"), err)
    local bad = os.tmpname()
    local f = assert(io.open(bad, "w"))
    f:write("{ not json")
    f:close()
    ok, err = pcall(maskinfo.hf_layers, bad)
    os.remove(bad)
    assert.is_false(ok)
    assert.truthy(err:find("is not JSON", 1, true), err)
    ok, err = pcall(maskinfo.hf_layers, 42)
    assert.is_false(ok)
    assert.are.equal("bad argument #1 to 'from_hf_config' (config.json path or config table expected, got number)", err)
  end)
end)

describe("from_hf_config matches HF's masks cell for cell", function()
  for _, f in ipairs(FILES) do
    it(f .. " (published values), every input layout", function()
      local cfg = config(f)
      for _, c in ipairs(CASES) do
        local ok, err = pcall(check_config, cfg, c[2], c[3])
        assert(ok, f .. ", " .. c[1] .. ": " .. tostring(err))
      end
    end)
    it(f .. " with window 5 and chunk 6, every input layout", function()
      local cfg = scaled(config(f))
      for _, c in ipairs(CASES) do
        local ok, err = pcall(check_config, cfg, c[2], c[3])
        assert(ok, f .. ", " .. c[1] .. ": " .. tostring(err))
      end
    end)
  end

  it("is_causal = false: bidirectional full and |q - kv| <= w sliding layers, no packing", function()
    local cfg = { num_hidden_layers = 3, is_causal = false, sliding_window = 3,
      layer_types = { "full_attention", "sliding_attention", "chunked_attention" }, attention_chunk_size = 4 }
    for _, c in ipairs(CASES) do
      local ok, err = pcall(check_config, cfg, c[2], c[3])
      assert(ok, c[1] .. ": " .. tostring(err))
    end
  end)

  it("chunks start at each row's first real token under left padding", function()
    local masks = maskinfo.from_hf_config({ model_type = "llama4_text", num_hidden_layers = 1, attention_chunk_size = 3 },
      { attention_mask = { { 0, 0, 1, 1, 1, 1, 1 } } })
    -- tokens 2..4 are the first chunk, 5..6 the second
    assert.is_true(masks[1]:allowed(0, 0, 4, 2))
    assert.is_false(masks[1]:allowed(0, 0, 5, 4))
    assert.is_true(masks[1]:allowed(0, 0, 6, 5))
  end)

  it("layers of one kind share one MaskInfo", function()
    local masks = maskinfo.from_hf_config(DATA .. "gemma-2-9b.json", { seq_len = 8 })
    assert.are.equal(42, #masks)
    assert.are.equal(masks[1], masks[3])
    assert.are.equal(masks[2], masks[42])
    assert.are_not.equal(masks[1], masks[2])
  end)

  it("refuses inputs that disagree", function()
    local cfg = DATA .. "mistral-7b-v0.1.json"
    local cases = {
      { {}, "bad argument #2 to 'from_hf_config' (seq_len (or an attention_mask or position_ids) is required)" },
      { { seq_len = 4, attention_mask = { { 1, 1, 1 } } }, "bad argument #2 to 'from_hf_config' (attention_mask has 3 columns, seq_len is 4)" },
      { { attention_mask = { { 1, 1 }, { 1, 1 } }, position_ids = { { 0, 1 }, { 0, 1 }, { 0, 1 } } },
        "bad argument #2 to 'from_hf_config' (position_ids have 3 rows, attention_mask has 2)" },
      { { seq_len = 0 }, "bad argument #2 to 'from_hf_config' (seq_len must be >= 1, got 0)" },
      { { len = 3 }, "bad argument #2 to 'from_hf_config' (unknown option 'len' (expected one of: attention_mask, position_ids, seq_len))" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(maskinfo.from_hf_config, cfg, c[1])
      assert.is_false(ok)
      assert.are.equal(c[2], err)
    end
  end)

  it("refuses a length over the memory guard before building tables", function()
    local ok, err = pcall(maskinfo.from_hf_config, DATA .. "mistral-7b-v0.1.json", { seq_len = 99999999999 })
    assert.is_false(ok)
    assert.are.equal("from_hf_config: per-token tables of 99999999999 elements needs 7.3 TiB: "
      .. "over the memory guard (limit 12.0 GiB, see maskinfo.set_memory_limit)", err)
  end)
end)

describe("from_position_ids", function()
  it("starts a document where the position does not go up by one, as HF does", function()
    local m = maskinfo.from_position_ids({ 0, 1, 2, 0, 1, 5, 6, 6 })
    assert.are.same({ { 0, 0, 0, 1, 1, 2, 2, 3 } }, m:q_segment_ids():totable())
    local qp = m:get_or_compute_positions()
    assert.are.same({ { 0, 1, 2, 0, 1, 5, 6, 6 } }, qp:totable())
  end)

  it("takes batches, and a row that never resets is one document", function()
    local m = maskinfo.from_position_ids({ { 3, 4, 5, 6 }, { 0, 1, 0, 1 } })
    assert.are.same({ { 0, 0, 0, 0 }, { 0, 0, 1, 1 } }, m:q_segment_ids():totable())
  end)

  it("with apply_causal equals HF's packed full-attention mask", function()
    local pos = packed
    local m = maskinfo.from_position_ids(pos):apply_causal()
    local hf = maskinfo.from_hf_config({ num_hidden_layers = 1 }, { position_ids = pos })
    assert.is_true(m:equals(hf[1]))
  end)

  it("refuses what is not integer positions", function()
    local ok, err = pcall(maskinfo.from_position_ids, { 0, 1.5 })
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'from_position_ids'", 1, true), err)
  end)
end)
