-- Conformance of the mask-shaping ops and op chains with the seed on randomized cases.
-- Each case replays a constructor and a chain of apply_* / materialize / to_dtype calls through the
-- Lua API and checks every observable against the seed (fresh-object semantics).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local C = dofile(here .. "/helpers/conformance.lua")
local maskinfo = require("maskinfo")

for _, file in ipairs({ "ops.lua", "chains.lua", "edge.lua", "replace.lua", "long.lua" }) do
  describe("conformance: " .. file, function()
    for _, case in ipairs(C.load(file)) do
      C.object_case(it, maskinfo, file, case)
    end
  end)
end
