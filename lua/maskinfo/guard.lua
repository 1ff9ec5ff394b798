--- The memory guard: the byte limit of this Lua state, and the checks the
-- Lua layer makes before it asks for a dense result or builds a big table.
-- @module maskinfo.guard

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local O = require("maskinfo.object")

local G = {}

-- The core's default when the limit is 0 (MASKINFO_DEFAULT_MAX_BYTES).
local DEFAULT_LIMIT = core.default_max_bytes

--- The current dense allocation limit in bytes.
function G.get_memory_limit()
  local cur = core.get_max_bytes()
  return cur == 0 and DEFAULT_LIMIT or cur
end

--- Set the largest dense allocation (bytes) maskinfo may make; requests
-- above it fail before allocating.  bytes is an integer or a string spelt
-- as MASKINFO_MAX_BYTES is ("64M", "2GiB", ...).  0 restores the default
-- (MASKINFO_MAX_BYTES as read at load, else 12 GiB).  Returns the
-- previous limit.
function G.set_memory_limit(bytes)
  local b = type(bytes) == "string" and core.parse_bytes(bytes, "set_memory_limit", 1)
    or (type(bytes) == "number" and math.tointeger(bytes) or nil)
  if not b or b < 0 then E.argerr("set_memory_limit", 1, "non-negative integer byte count expected") end
  local prev = G.get_memory_limit()
  if b == 0 then b = core.env_max_bytes() end
  core.set_max_bytes(b)
  return prev
end

--- A byte count for people: "4.0 KiB".
function G.human(bytes)
  local units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" }
  local i = 1
  while bytes >= 1024 and i < #units do bytes, i = bytes / 1024, i + 1 end
  return ("%.1f %s"):format(bytes, units[i])
end

--- The refusal message for `what` needing `bytes`: "<what> needs 6.0 GiB:
-- over the memory guard (limit 12.0 GiB, see maskinfo.set_memory_limit)".
function G.over(what, bytes)
  return ("%s needs %s: over the memory guard (limit %s, see maskinfo.set_memory_limit)"):format(
    what, G.human(bytes), G.human(G.get_memory_limit()))
end

--- Refuse (raise as fname) `what` of `bytes` bytes when the guard would.
function G.check_bytes(fname, bytes, what)
  if not core.check_alloc(bytes * 1.0, 1) then E.fail(fname, G.over(what, bytes * 1.0)) end
end

--- Refuse (raise as fname) a C buffer or Array of n elements of sz bytes
-- (no Lua table is built for it, so no slot cost).
function G.guard_buffer(fname, n, sz, what)
  G.check_bytes(fname, n * 1.0 * sz, ("%s of %.0f elements"):format(what, n * 1.0))
end

-- What one element of a Lua table costs while it is built: a 16-byte slot,
-- twice over (the array part doubles as it grows, and the old part lives
-- on during the copy).
G.TABLE_SLOT_BYTES = 32

--- Refuse (raise as fname) a Lua table of n elements before it is built:
-- it is charged its slots (G.TABLE_SLOT_BYTES each) plus sz bytes per
-- element for the copy the call makes of it (an Array, a C buffer).
function G.guard(fname, n, sz, what)
  G.check_bytes(fname, n * 1.0 * (G.TABLE_SLOT_BYTES + sz), ("%s of %.0f elements"):format(what, n * 1.0))
end

--- Nil when the guard allows a dense result of mask m in dtype, else a
-- message that says how big it would be and the status; allocates nothing.
function G.dense_refusal(m, dtype)
  local B, H, Q, K = m:shape()
  local size = O.DTYPE_SIZE[dtype]
  -- a row costs work even when it holds no cells (K = 0)
  local ok, _, status = core.check_alloc(math.max(B * 1.0 * H * Q * K * size, B * 1.0 * H * Q), 1)
  if ok then return nil end
  return G.over(("a dense (%d, %d, %d, %d) %s array"):format(B, H, Q, K, dtype), B * 1.0 * H * Q * K * size), status
end

--- Refuse (raise as fname) a dense result of mask m in dtype the guard
-- would refuse, before anything is allocated.
function G.guard_dense(m, dtype, fname)
  local msg = G.dense_refusal(m, dtype)
  if msg then E.fail(fname, msg) end
end

--- The dense Array of mask m in dtype, guarded (raises as fname).
function G.to_array(m, dtype, fname)
  G.guard_dense(m, dtype, fname)
  return (E.need(fname, m:to_array(dtype)))
end

--- The additive bias of mask m in a float dtype, guarded (raises as fname).
function G.to_bias(m, dtype, fname)
  G.guard_dense(m, dtype, fname)
  return (E.need(fname, m:to_bias(dtype)))
end

return G
