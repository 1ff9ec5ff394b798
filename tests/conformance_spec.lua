-- Conformance with the seed (ejkernel's types/mask.py) on randomized cases: module functions,
-- constructors (with every observable of the built MaskInfo), and the cases where the seed raises.
-- Fixtures are generated from a NumPy port of the seed; see tests/fixtures/conformance/.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local C = dofile(here .. "/helpers/conformance.lua")
local maskinfo = require("maskinfo")

describe("conformance: fixture files", function()
  -- Each generated file names the sha256 of its body: a hand edit shows up here.
  local files = {}
  for _, f in ipairs({ "constructors", "module_functions", "ops", "chains", "replace", "edge", "long", "errors" }) do
    files[#files + 1] = C.fixtures_dir .. "/" .. f .. ".lua"
  end
  local vdir = C.tests_dir .. "/fixtures/visualize"
  files[#files + 1] = vdir .. "/index.lua"
  for _, name in ipairs(dofile(vdir .. "/index.lua")) do files[#files + 1] = vdir .. "/" .. name .. ".lua" end
  for _, path in ipairs(files) do
    it("untouched since generated: " .. path:match("[^/]+/[^/]+$"), function()
      local ok, why = C.checksum_ok(path)
      if ok == nil then pending(why) return end
      assert(ok, why)
    end)
  end
end)

describe("conformance: module functions", function()
  for _, case in ipairs(C.load("module_functions.lua")) do
    C.function_case(it, maskinfo, "module_functions.lua", case)
  end

  it("get_empty_sharding: every spec is None (false)", function()
    local s = maskinfo.get_empty_sharding()
    local expected = {}
    for _, k in ipairs(C.SHARDING_KEYS) do expected[k] = false end
    C.assert_sharding("[get_empty_sharding]", s, expected, "maskinfo.get_empty_sharding()")
  end)
end)

describe("conformance: constructors", function()
  it("dynamic_init{mask_info=mi} returns mi itself (the seed returns mask_info as is)", function()
    local mi = maskinfo.from_segments({ { 0, 0, 1, -1 } }):apply_causal()
    local got = maskinfo.dynamic_init { mask_info = mi, input_ids = { { 1, 2 } } }
    assert(rawequal(got, mi), "expected the same MaskInfo back, got " .. tostring(got))
  end)

  for _, case in ipairs(C.load("constructors.lua")) do
    C.object_case(it, maskinfo, "constructors.lua", case)
  end
end)

describe("conformance: where the seed raises", function()
  for _, case in ipairs(C.load("errors.lua")) do
    C.error_case(it, maskinfo, "errors.lua", case)
  end
end)

-- The same cases with their array inputs given as maskinfo Arrays ("every input may also be a
-- maskinfo Array"): results must not depend on the input form.
describe("conformance: Array inputs", function()
  for _, case in ipairs(C.load("module_functions.lua")) do
    C.function_case(it, maskinfo, "module_functions.lua (Array inputs)", C.arrayify_function_case(maskinfo, case))
  end
  for _, file in ipairs({ "constructors.lua", "ops.lua", "chains.lua", "replace.lua" }) do
    for _, case in ipairs(C.load(file)) do
      C.object_case_core(it, maskinfo, file, C.arrayify_object_case(maskinfo, case))
    end
  end
end)
