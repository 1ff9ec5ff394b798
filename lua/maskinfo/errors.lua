--- The error style of the maskinfo modules, one place for all of them.
--
-- Misuse raises, at level 0 (no `file:line:` prefix, like errors raised by
-- C functions): `bad argument #n to 'fname' (msg)` for one bad argument,
-- `fname: msg` otherwise.  The binding (`maskinfo.core`) raises misuse
-- itself and returns refusals (memory guard) and file failures as
-- `nil, message, status`, status a key of `core.status` ("ETOOBIG",
-- "EIO", ...).  `need` turns such a result into a raise, for the public
-- functions that return values; `returned` passes it on as
-- `nil, "fname: message", status`, for the ones that write files.
-- @module maskinfo.errors

local E = {}

--- Raise `bad argument #n to 'fname' (msg)`.
function E.argerr(fname, n, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 0)
end

--- Raise `fname: msg` for failures that are not about one argument.
function E.fail(fname, msg)
  error(("%s: %s"):format(fname, msg), 0)
end

--- v, or raise `fname: msg` when the binding refused (v is nil).
function E.need(fname, v, ...)
  if v == nil then E.fail(fname, (...)) end
  return v, ...
end

--- The binding's answer as the public one: the results when v is not nil,
-- else `nil, "fname: msg", status`.
function E.returned(fname, ...)
  local v, msg, status = ...
  if v == nil then return nil, ("%s: %s"):format(fname, msg), status end
  return ...
end

--- The type name of v, with the userdata's __name when it has one.
function E.typename(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and type(rawget(mt, "__name")) == "string" then return mt.__name end
  return type(v)
end

--- A value quoted in a message: strings and numbers as they are, any other
-- value by its type (never a table or function address).
function E.label(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return tostring(v) end
  return E.typename(v)
end

--- A value for a message: NaN spelled NaN, strings quoted, types otherwise.
function E.show(v)
  if type(v) == "number" then
    if v ~= v then return "NaN" end
    return tostring(v)
  end
  if type(v) == "string" then return "string" end
  return E.typename(v)
end

return E
