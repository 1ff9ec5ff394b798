-- The same results for any OpenMP thread count: a set of computations that
-- go through every parallel loop (row evaluation, bit rows, counts, grid
-- counts, hashed segment ids, validity, dense fills, random masks, PNG
-- colouring) run in child processes with 1, 2 and 3 threads; their printed
-- digests must agree byte for byte.  Sizes are above the one-thread cutoffs.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")

local SNIPPET = [[
local mi = require("maskinfo")
local function digest(a)
  -- FNV-1a over the flat values
  local h = 2166136261
  for _, v in ipairs(a:flat()) do
    local x = tostring(v)
    for i = 1, #x do h = ((h ~ x:byte(i)) * 16777619) & 0xffffffff end
  end
  return ("%08x"):format(h)
end
local n = 2048
local docs = mi.from_segments({ mi.util.documents(n, { 0.3, 0.3, 0.4 }) })
local chain = docs:apply_causal():apply_sliding_window({ 300, 0 })
local rnd = mi.from_random(2, 300, 400, 0.5, 42)
local mixed = (rnd & mi.from_random(2, 300, 400, 0.3, 7)) | ~mi.from_random(2, 300, 400, 0.9, 9)
local out = {}
local function add(k, v) out[#out + 1] = k .. "=" .. tostring(v) end
add("chain.count", (chain:count()))
add("rnd.count", (rnd:count()))
add("mixed.count", (mixed:count()))
local q, kv = rnd:get_or_compute_segment_ids()
add("rnd.q_ids", digest(q)); add("rnd.kv_ids", digest(kv))
local q2, kv2 = (~~chain):get_or_compute_segment_ids(true) -- ids derived from rows
add("chain.derived_ids", digest(q2) .. digest(kv2))
local cq, ckv = rnd:get_or_compute_qkv_cu_seqlens()
add("rnd.cu", digest(cq) .. digest(ckv))
add("chain.blocks", digest(chain:block_counts { block_size = 100 }))
add("mixed.dense", digest(mixed:attention_mask()))
add("chain.bias", digest(docs:apply_causal():apply_sliding_window({ 300, 0 }):apply_kv_lengths(1500, { q_len = 300 }):create_bias("float16")))
local ne, flags = mixed:empty_rows()
add("mixed.empty", ne .. digest(flags))
add("diff", (chain:diff(docs:apply_causal())))
add("vis", #chain:visualize { block_size = 64 } .. "")
local path = os.tmpname()
chain:render_png(path, { width = 512, height = 512 })
local f = io.open(path, "rb"); local png = f:read("a"); f:close(); os.remove(path)
local h = 0
for i = 1, #png do h = (h * 31 + png:byte(i)) & 0xffffffff end
add("png", ("%08x:%d"):format(h, #png))
print(table.concat(out, "\n"))
]]

local function run(threads)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(SNIPPET)
  f:close()
  local _, out = P.sh(("cd %s && OMP_NUM_THREADS=%d LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 %s"):format(
    P.shell_quote(P.ROOT), threads, P.shell_quote(P.LUA_PATH), P.shell_quote(P.LUA_CPATH), P.shell_quote(path)))
  os.remove(path)
  return out
end

describe("results do not depend on the thread count", function()
  it("1, 2 and 3 threads give identical digests", function()
    local one = run(1)
    assert.is_truthy(one:match("chain%.count=%d+"), one)
    assert.is_truthy(one:match("png=%x+:%d+"), one)
    for _, t in ipairs({ 2, 3 }) do
      local other = run(t)
      assert.are.equal(one, other, ("OMP_NUM_THREADS=%d differs"):format(t))
    end
  end)
end)
