--- Error assertions for the busted specs.
--
-- The API's error texts are compared on the raw message.  luassert's has_error
-- strips a "file:line: " prefix, which would hide a position prefix the API
-- must not add, so every exact check here also looks at what pcall returns.
--
--   local E = dofile(here .. "/helpers/errors.lua")
local assert = require("luassert")

local E = {}

--- The raw error message of fn(...), or nil when it does not raise.
function E.errmsg(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then return nil end
  return tostring(err)
end

--- fn must raise exactly `text` (no position prefix); checked both through
-- luassert's has_error and on the raw message.
function E.assert_error(fn, text)
  assert.has_error(fn, text)
  assert.are.equal(text, E.errmsg(fn))
end

--- fn must raise a message containing every plain substring in `parts`;
-- returns the message.
function E.assert_error_has(fn, parts)
  local msg = E.errmsg(fn)
  assert(msg, "expected an error, got none")
  for _, p in ipairs(parts) do
    assert(msg:find(p, 1, true), ("error %q does not mention %q"):format(msg, p))
  end
  return msg
end

--- f() must raise exactly `msg`: the error value itself, through pcall only.
function E.raises(msg, f)
  local ok, e = pcall(f)
  assert(not ok, "no error raised; expected: " .. msg)
  assert.are.equal(msg, e)
end

return E
