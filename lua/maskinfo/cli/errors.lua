--- The two kinds of failure of the maskinfo command and their exit codes:
-- usage errors (the command line is wrong: 2) and runtime failures (the
-- command could not do its job: 1).  They are raised as tables and turned
-- into "maskinfo: message" on stderr by maskinfo.cli.main.
-- @module maskinfo.cli.errors

local CE = {}

CE.EXIT_OK, CE.EXIT_RUNTIME, CE.EXIT_USAGE = 0, 1, 2

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.msg end

--- Raise a usage error; cmd (optional) names the subcommand for the hint.
function CE.usage(msg, cmd)
  error(setmetatable({ msg = msg, code = CE.EXIT_USAGE, cmd = cmd }, Failure), 0)
end

--- Raise a runtime failure.
function CE.runtime(msg)
  error(setmetatable({ msg = msg, code = CE.EXIT_RUNTIME }, Failure), 0)
end

--- True when e was raised by usage or runtime.
function CE.is_failure(e)
  return getmetatable(e) == Failure
end

--- v, or a runtime failure with msg when v is nil (the writers' and the
-- loader's `nil, message` convention).
function CE.need(v, msg, ...)
  if v == nil then CE.runtime(msg) end
  return v, msg, ...
end

return CE
