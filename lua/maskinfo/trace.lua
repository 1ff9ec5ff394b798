--- Debug tracing (the seed's EJKERNEL_MASK_DEBUG prints), and the wrapper
-- that gives a module function its trace line.
-- @module maskinfo.trace

local E = require("maskinfo.errors")

local T = {}

local enabled = os.getenv("MASKINFO_DEBUG") == "1"

local function say(line)
  if enabled then print("[MaskInfo Debug] " .. line) end
end

--- Trace a call: `Calling owner.name()`, or `Calling name()` without owner.
function T.call(owner, name)
  if enabled then say(owner and ("Calling %s.%s()"):format(owner, name) or ("Calling %s()"):format(name)) end
end

--- Trace a property access (the seed's @property getters).
function T.property(name)
  if enabled then say("Property access: " .. name) end
end

--- fn wrapped for the public module: traces `Calling owner.name()` (owner
-- "type" for constructors, nil for module functions) and calls
-- fn(name, ...), name being the function's name in error messages.
function T.func(owner, name, fn)
  return function(...)
    T.call(owner, name)
    return fn(name, ...)
  end
end

--- Turn tracing of calls on or off (prints like the seed's EJKERNEL_MASK_DEBUG).
-- @tparam boolean on
function T.set_debug_mode(on)
  if type(on) ~= "boolean" then
    E.argerr("set_debug_mode", 1, "boolean expected, got " .. type(on))
  end
  enabled = on
  print(on and "[MaskInfo Debug] Debug mode enabled" or "[MaskInfo Debug] Debug mode disabled")
end

--- Whether tracing is on.
function T.get_debug_mode()
  return enabled
end

return T
