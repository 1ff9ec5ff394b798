--- Sharding specs for a MaskInfo's fields (the seed's get_shardings).
--
-- A spec is a sequence with one entry per dimension: an axis name, a list
-- of names (sharded over their product), or `false` (None: replicated).
-- `{}` is the fully replicated spec.  A field with no spec is `false`.
-- Defines the get_shardings method (through maskinfo.object) and the
-- module function get_empty_sharding.
-- @module maskinfo.sharding

local E = require("maskinfo.errors")
local O = require("maskinfo.object")
local args = require("maskinfo.args")

local S = {}
--- The public functions of this module (copied into `maskinfo`).
S.api = {}

--- Mesh sizes by axis name; sizes must be positive integers.
function S.check_mesh(fname, mesh)
  if type(mesh) ~= "table" then
    E.argerr(fname, 1, "option 'mesh': table of axis sizes expected, got " .. type(mesh))
  end
  local out = {}
  for k, v in pairs(mesh) do
    if type(k) ~= "string" then
      E.argerr(fname, 1, "option 'mesh': axis names must be strings")
    end
    local iv = args.int_of(v)
    if not iv or iv <= 0 then
      E.argerr(fname, 1, ("option 'mesh': size of axis '%s' must be a positive integer, got %s"):format(k,
        type(v) == "boolean" and tostring(v) or E.show(v)))
    end
    out[k] = iv
  end
  return out
end

local function names_of(entry)
  if type(entry) == "string" then return { entry } end
  return entry
end

--- The seed's get_corrected_named_sharding rule: pad or cut the spec to the
-- array's rank; an entry naming an axis absent from the mesh, or whose axes'
-- product does not divide the dimension, becomes None; all None -> {}.
function S.correct(shape, spec, mesh)
  local out, any = {}, false
  for i = 1, #shape do
    local e = spec[i]
    if e == nil or e == false then
      out[i] = false
    else
      local prod, ok = 1.0, true -- float: huge sizes must not wrap
      for _, n in ipairs(names_of(e)) do
        if mesh[n] == nil then ok = false break end
        prod = prod * mesh[n]
      end
      if ok and prod > 0 and shape[i] % prod == 0 then
        if type(e) == "table" then
          local c = {}
          for j, n in ipairs(e) do c[j] = n end
          out[i] = c
        else
          out[i] = e
        end
        any = true
      else
        out[i] = false
      end
    end
  end
  if not any then return {} end
  return out
end

local function check_names(fname, v, label, mesh)
  if v == false or v == nil then return end
  for _, n in ipairs(names_of(v)) do
    if mesh[n] == nil then
      local avail = {}
      for k in pairs(mesh) do avail[#avail + 1] = k end
      table.sort(avail)
      E.fail(fname, ("axis '%s' (from %s) is not present in the mesh (available: %s)"):format(
        n, label, table.concat(avail, ", ")))
    end
  end
end

-- JAX refuses a spec that uses one mesh axis for two dimensions
-- (DuplicateSpecError in NamedSharding): raise a clear error instead.
local FIELD_AXES = { "batch_axis_name", "qheads_axis_name", "sequence_axis_name" }

local function check_unique(fname, field, spec, f)
  local seen = {}
  for dim, e in ipairs(spec) do
    if e then
      for _, n in ipairs(names_of(e)) do
        if seen[n] then
          local users = {}
          for _, k in ipairs(FIELD_AXES) do
            for _, m in ipairs(names_of(f[k] or {})) do
              if m == n then users[#users + 1] = k end
            end
          end
          E.fail(fname, ("mesh axis '%s' would shard dimensions %d and %d of %s (named by %s); " ..
            "JAX refuses a spec that uses one axis twice: give those axis names different mesh axes"):format(
            n, seen[n] - 1, dim - 1, field, table.concat(users, " and ")))
        end
        seen[n] = dim
      end
    end
  end
  return spec
end

--- The MaskSharding table for fields f with stored shapes.
function S.shardings(fname, f, stored, mesh, sequence_parallel)
  local batch, heads = f.batch_axis_name, f.qheads_axis_name
  local seq = sequence_parallel and f.sequence_axis_name or false
  check_names(fname, heads, "qheads_axis_name", mesh)
  check_names(fname, batch, "batch_axis_name", mesh)
  check_names(fname, seq, "sequence_axis_name", mesh)
  local t = {
    attention_mask = false, q_segment_ids = false, kv_segment_ids = false,
    cu_seqlens_q = false, cu_seqlens_kv = false, q_positions = false, kv_positions = false,
  }
  local function spec(field, shape, want)
    if shape then t[field] = check_unique(fname, field, S.correct(shape, want, mesh), f) end
  end
  local two = { batch, seq }
  spec("attention_mask", stored.mask, { batch, heads, seq, false })
  spec("q_segment_ids", stored.q_ids, two)
  spec("kv_segment_ids", stored.kv_ids, two)
  spec("q_positions", stored.q_pos, two)
  spec("kv_positions", stored.kv_pos, two)
  return t
end

--- Partition specs for every field, corrected for the mesh.
-- @tparam table opts mesh = {axis = size, ...}, sequence_parallel
O.method("get_shardings", "call", function(_, f, fname, opts)
  opts = args.opt_table(fname, 1, opts, { mesh = true, sequence_parallel = true })
  local mesh = S.check_mesh(fname, opts.mesh)
  local sp = args.opt_bool(fname, 1, opts.sequence_parallel, "sequence_parallel", false)
  local stored = {
    mask = f.mask and { f.mask:shape() } or nil,
    q_ids = f.q_ids and f.q_ids:shape(), kv_ids = f.kv_ids and f.kv_ids:shape(),
    q_pos = f.q_pos and f.q_pos:shape(), kv_pos = f.kv_pos and f.kv_pos:shape(),
  }
  return S.shardings(fname, f, stored, mesh, sp)
end)

local SHARDING_KEYS = { "attention_mask", "q_segment_ids", "kv_segment_ids", "cu_seqlens_q",
  "cu_seqlens_kv", "q_positions", "kv_positions" }

--- A MaskSharding with every spec None (false).
function S.api.get_empty_sharding()
  local t = {}
  for _, k in ipairs(SHARDING_KEYS) do t[k] = false end
  return t
end

return S
