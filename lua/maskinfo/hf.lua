--- Masks the way Hugging Face transformers builds them (masking_utils):
-- one mask per layer from a model's config.json, and packed documents
-- from position_ids.  The rules, cell by cell (q, kv are token indices):
--
--   full_attention     kv <= q
--   sliding_attention  kv <= q and kv > q - w   (w = sliding_window: the
--                      window counts the query itself, our {w-1, 0})
--   chunked_attention  kv <= q and (kv - lp) // c == (q - lp) // c, where
--                      c = attention_chunk_size and lp = the row's leading
--                      padding tokens (chunks start at the first real one)
--   padding            attention_mask masks keys only; query rows stay
--   packed documents   where position_ids do not go up by one a new
--                      document starts; only without an attention_mask
--   is_causal = false  full layers: every key; sliding: |q - kv| <= w;
--                      no packed documents (chunked layers stay causal)
--   use_bidirectional_attention   full: every key; sliding: |q - kv| < w
--
-- Layer kinds come from `layer_types`, or, without it, from the older
-- per-family fields (see layer_kinds).  docs/conventions.md compares
-- these conventions with flash-attn's, splash's and xFormers'.
-- @module maskinfo.hf

local E = require("maskinfo.errors")
local A = require("maskinfo.args")
local G = require("maskinfo.guard")
local K = require("maskinfo.constructors")

local H = {}
--- The public functions of this module (copied into `maskinfo`).
H.api = {}

--- The layer types HF's masking_utils builds masks for.
H.LAYER_TYPES = { "full_attention", "sliding_attention", "chunked_attention" }
local KNOWN = { full_attention = true, sliding_attention = true, chunked_attention = true }

local FNAME = "from_hf_config"

---------------------------------------------------------------- config

-- The config table of a path (JSON) or a table; the text config of a
-- multimodal model (HF's get_text_config).
local function read_config(src)
  local cfg = src
  if type(src) == "string" then
    local f, err = io.open(src, "rb")
    if not f then E.fail(FNAME, ("cannot read '%s': %s"):format(src, err)) end
    local text = f:read("a")
    f:close()
    -- required here: only reading a file needs lua-cjson
    local why
    cfg, why = require("cjson.safe").decode(text)
    if cfg == nil then E.fail(FNAME, ("'%s' is not JSON: %s"):format(src, why)) end
  end
  if type(cfg) ~= "table" then A.argerr(FNAME, 1, "config.json path or config table expected, got " .. E.typename(src)) end
  if type(cfg.text_config) == "table" then cfg = cfg.text_config end
  return cfg
end

-- A config field that must be a positive integer when the layers need it.
local function positive(cfg, key, why)
  local v = math.tointeger(cfg[key])
  if not v or v < 1 then
    E.fail(FNAME, ("%s needs %s, a positive integer (got %s)"):format(why, key, E.show(cfg[key])))
  end
  return v
end

-- null in JSON (cjson's null, a lightuserdata) reads as absent.
local function field(cfg, key)
  local v = cfg[key]
  if type(v) == "userdata" then return nil end
  return v
end

-- Per-layer kinds derived by the families whose configs predate layer_types.
local function derived_types(cfg, n)
  local mt = tostring(field(cfg, "model_type") or "")
  local t = {}
  local pattern = field(cfg, "sliding_window_pattern") or field(cfg, "_sliding_window_pattern")
  if mt == "gemma2" then
    -- Gemma 2 alternates, starting with a sliding layer.
    for i = 0, n - 1 do t[i + 1] = (i + 1) % 2 ~= 0 and "sliding_attention" or "full_attention" end
  elseif pattern ~= nil or mt == "gemma3" or mt == "gemma3_text" or mt == "cohere2" then
    -- Gemma 3 (default 6) and Cohere 2 (default 4): every pattern-th layer is global.
    local p = math.tointeger(pattern or (mt == "cohere2" and 4 or 6))
    if not p or p < 1 then E.fail(FNAME, "sliding_window_pattern must be a positive integer") end
    for i = 0, n - 1 do t[i + 1] = (i + 1) % p ~= 0 and "sliding_attention" or "full_attention" end
  elseif field(cfg, "use_sliding_window") ~= nil then
    -- Qwen2 and its kin: sliding from layer max_window_layers on, when enabled.
    local on = field(cfg, "use_sliding_window") == true and field(cfg, "sliding_window") ~= nil
    local from = math.tointeger(field(cfg, "max_window_layers") or 0) or 0
    for i = 0, n - 1 do t[i + 1] = (on and i >= from) and "sliding_attention" or "full_attention" end
  elseif mt == "llama4" or mt == "llama4_text" then
    -- Llama 4: chunked on the RoPE layers; every no_rope_layer_interval-th is global (NoPE).
    local nope = field(cfg, "no_rope_layers")
    local every = math.tointeger(field(cfg, "no_rope_layer_interval") or 4) or 4
    for i = 0, n - 1 do
      local rope = nope and nope[i + 1] or ((i + 1) % every ~= 0 and 1 or 0)
      t[i + 1] = (rope == 1 or rope == true) and "chunked_attention" or "full_attention"
    end
  else
    -- Mistral and the rest: one kind for every layer.
    local kind = field(cfg, "sliding_window") ~= nil and "sliding_attention"
      or field(cfg, "attention_chunk_size") ~= nil and "chunked_attention" or "full_attention"
    for i = 1, n do t[i] = kind end
  end
  return t
end

--- The layer descriptions of a config: a list (one per layer, in order) of
-- {type=, window=, chunk=, causal=, bidirectional=}.
-- @param cfg a config.json path or a config table
function H.api.hf_layers(cfg)
  cfg = read_config(cfg)
  local types = field(cfg, "layer_types")
  local n = math.tointeger(field(cfg, "num_hidden_layers"))
  if types ~= nil then
    if type(types) ~= "table" or #types == 0 then E.fail(FNAME, "layer_types must be a non-empty list") end
    if n and n ~= #types then
      E.fail(FNAME, ("layer_types has %d entries, num_hidden_layers is %d"):format(#types, n))
    end
  else
    if not n or n < 1 then E.fail(FNAME, "the config has neither layer_types nor num_hidden_layers") end
    types = derived_types(cfg, n)
  end
  local causal = field(cfg, "is_causal") ~= false
  local bidir = field(cfg, "use_bidirectional_attention") == true
  local layers = {}
  for i, ty in ipairs(types) do
    if not KNOWN[ty] then
      E.fail(FNAME, ("layer %d: layer type '%s' is not one of %s"):format(i - 1, tostring(ty), table.concat(H.LAYER_TYPES, ", ")))
    end
    local l = { type = ty, causal = causal, bidirectional = bidir }
    if ty == "sliding_attention" then l.window = positive(cfg, "sliding_window", "a sliding_attention layer") end
    if ty == "chunked_attention" then
      l.chunk = positive(cfg, "attention_chunk_size", "a chunked_attention layer")
      l.causal, l.bidirectional = true, false -- HF's chunked masks ignore both
    end
    layers[i] = l
  end
  return layers
end

---------------------------------------------------------------- inputs

-- Rows of a (B, L) input as Lua tables: a flat sequence is batch 1.
local function rows_of(arr)
  local s = arr:shape()
  if #s == 1 then arr = arr:reshape({ 1, s[1] }) end
  if #arr:shape() ~= 2 then return nil end
  return arr:totable()
end

-- Document ids of position rows: a new document where a position is not
-- the previous one plus one (HF's find_packed_sequence_indices).
local function packed_ids(rows)
  local ids = {}
  for b, row in ipairs(rows) do
    local t, d = {}, 0
    for i, p in ipairs(row) do
      if i > 1 and p - row[i - 1] ~= 1 then d = d + 1 end
      t[i] = d
    end
    ids[b] = t
  end
  return ids
end

--- Packed documents from HF position_ids: a new document starts wherever
-- a position does not go up by one.  Returns the documents' MaskInfo
-- (bidirectional inside each document: add apply_causal() for a decoder)
-- with the positions stored as given.
-- @param pos position ids (B, L) or a flat sequence (batch 1)
function H.api.from_position_ids(pos)
  local fname = "from_position_ids"
  local arr = A.ids_arg(fname, 1, pos, "position ids", { min = false })
  local rows = arr:totable()
  G.guard(fname, #rows * 1.0 * #(rows[1] or {}), 16, "document ids")
  return K.api.from_segments(packed_ids(rows), { q_positions = arr, kv_positions = arr })
end

-- Leading padding tokens of each row (HF: cumsum(mask) == 0).
local function leading_padding(valid)
  local lp = {}
  for b, row in ipairs(valid) do
    local n = 0
    while n < #row and not row[n + 1] do n = n + 1 end
    lp[b] = n
  end
  return lp
end

-- The inputs as B, L, document ids, ids of one document, key validity (or
-- nil) and leading padding.
local function inputs(opts)
  opts = A.opt_table(FNAME, 2, opts, { seq_len = true, attention_mask = true, position_ids = true })
  local valid, pos
  if opts.attention_mask ~= nil then
    valid = rows_of(A.mask_arg(FNAME, 2, opts.attention_mask, "attention_mask"))
    if not valid then A.argerr(FNAME, 2, "attention_mask: (batch, len) expected") end
  end
  if opts.position_ids ~= nil then
    pos = A.ids_arg(FNAME, 2, opts.position_ids, "position_ids", { min = false }):totable()
  end
  local len = opts.seq_len ~= nil and A.check_int(FNAME, 2, opts.seq_len, "seq_len", 1) or nil
  local B = 1
  for _, src in ipairs({ { valid, "attention_mask" }, { pos, "position_ids" } }) do
    local t, what = src[1], src[2]
    if t then
      local w = #t[1]
      if len and w ~= len then A.argerr(FNAME, 2, ("%s has %d columns, seq_len is %d"):format(what, w, len)) end
      len = w
      if #t ~= 1 and B ~= 1 and #t ~= B then
        A.argerr(FNAME, 2, ("position_ids have %d rows, attention_mask has %d"):format(#t, B))
      end
      B = math.max(B, #t)
    end
  end
  if not len then A.argerr(FNAME, 2, "seq_len (or an attention_mask or position_ids) is required") end
  G.guard(FNAME, B * 1.0 * len, 48, "per-token tables")
  local one = {}
  for b = 1, B do
    local t = {}
    for i = 1, len do t[i] = 0 end
    one[b] = t
  end
  local docs = one
  if pos and not valid then
    -- HF looks for packed documents only without an attention mask.
    docs = packed_ids(pos)
    for b = #docs + 1, B do docs[b] = docs[1] end
  end
  if valid and #valid == 1 and B > 1 then
    for b = 2, B do valid[b] = valid[1] end
  end
  local lp = valid and leading_padding(valid) or {}
  for b = 1, B do lp[b] = lp[b] or 0 end
  return B, len, docs, one, valid, lp
end

---------------------------------------------------------------- masks

-- Documents on both sides, padding (-1) on the key side only.
local function base_mask(docs, valid)
  local kv = docs
  if valid then
    kv = {}
    for b, row in ipairs(docs) do
      local t = {}
      for i, d in ipairs(row) do t[i] = valid[b][i] and d or -1 end
      kv[b] = t
    end
  end
  return K.api.from_segments(docs, kv)
end

-- Chunk ids with chunks starting at each row's first real token.
local function chunk_mask(B, len, c, lp)
  local rows = {}
  for b = 1, B do
    local t, first = {}, (0 - lp[b]) // c
    for i = 0, len - 1 do t[i + 1] = (i - lp[b]) // c - first end
    rows[b] = t
  end
  return K.api.from_segments(rows)
end

-- bases.docs: documents and padding; bases.plain: padding only (HF's
-- bidirectional masks, for is_causal = false, ignore position_ids).
local function layer_mask(l, bases, B, len, lp)
  local base = bases.docs
  if l.type == "chunked_attention" then
    local any_lp = false
    for b = 1, B do any_lp = any_lp or lp[b] ~= 0 end
    if not any_lp then return base:apply_chunked(l.chunk) end
    return (base & chunk_mask(B, len, l.chunk, lp)):apply_causal()
  end
  if not l.causal then
    base = bases.plain
    if l.type == "sliding_attention" then return base:apply_sliding_window({ l.window, l.window }) end
    return base
  end
  if l.bidirectional then
    if l.type == "sliding_attention" then return base:apply_sliding_window({ l.window - 1, l.window - 1 }) end
    return base
  end
  local m = base:apply_causal()
  if l.type == "sliding_attention" then m = m:apply_sliding_window({ l.window - 1, 0 }) end
  return m
end

local function same_kind(a, b)
  return a.type == b.type and a.window == b.window and a.chunk == b.chunk
    and a.causal == b.causal and a.bidirectional == b.bidirectional
end

--- One mask per layer, as HF transformers' masking_utils makes them for a
-- model's config.json.  Layers of the same kind share one MaskInfo.
-- @param cfg a config.json path or a config table (a multimodal config's
--   text_config is used)
-- @tparam table opts seq_len, attention_mask (B, L) of 1/0 (keys only),
--   position_ids (B, L) (packed documents, without attention_mask)
-- @return a list of MaskInfos (layer i at [i + 1]) and the list of layer
--   descriptions of hf_layers
function H.api.from_hf_config(cfg, opts)
  local layers = H.api.hf_layers(cfg)
  local B, len, docs, one, valid, lp = inputs(opts)
  local bases = { docs = base_mask(docs, valid) }
  bases.plain = docs == one and bases.docs or base_mask(one, valid)
  local masks, made = {}, {}
  for i, l in ipairs(layers) do
    for _, m in ipairs(made) do
      if same_kind(m[1], l) then masks[i] = m[2] break end
    end
    if not masks[i] then
      masks[i] = layer_mask(l, bases, B, len, lp)
      made[#made + 1] = { l, masks[i] }
    end
  end
  return masks, layers
end

return H
