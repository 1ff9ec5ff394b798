-- docs_coverage_spec.lua - the API reference and the code name the same
-- things: every public name has a heading in docs/api.md (the maskinfo
-- command's subcommands: in docs/cli.md if that file exists, else in
-- docs/api.md), and every name a heading documents exists.  A new function
-- cannot land undocumented, and a removed one cannot stay documented.
--
-- THE HEADING CONVENTION
--
-- A heading is a Markdown line `## ...` or `### ...` (any level) outside
-- fenced blocks.  The names it documents are its code spans, up to a `→`
-- (what follows `→` is the return value), in these forms:
--   `mi.NAME(...)`, `mi.NAME{...}`, `mi.NAME`    a field of require("maskinfo")
--   `mi.NS.NAME(...)`                            a field of a sub-table of it
--                                                (mi.Array.new, mi.util.fill)
--   `mi:NAME(...)`, `mi:NAME{...}`               a MaskInfo method
--   `a:NAME(...)`                                an Array method
--   `maskinfo NAME ...`                          a subcommand of the maskinfo command
-- (`maskinfo.NAME` is read as `mi.NAME`; `mi.NAME` may also be a MaskInfo's
-- public field, m.q_positions: require("maskinfo.object").PUBLIC_FIELDS.)
-- Other code spans (`#a`, `a == b`, `tostring(mi)`) are operators and
-- prose, not names.
--
-- THE PUBLIC NAMES
--
--   * every key of require("maskinfo"); a key whose value is a table is a
--     namespace: its keys are the names (mi.util.fill), not the table;
--   * every method of a MaskInfo: require("maskinfo.object").methods()
--     (its metatable's __index is a function that also reads fields);
--   * every method of an Array: the keys of the __index table of its
--     metatable (metamethods are operators: not names);
--   * every subcommand of the maskinfo command: the commands of the
--     argparse parser that lua/maskinfo/cli builds (require("maskinfo.cli").parser()).
-- Names that start with `_` are private, except `_VERSION`.  A name the docs
-- call internal is exempt (with everything under it, for a namespace) when
-- docs/api.md lists it in a marker, anywhere in the file:
--   <!-- doctest: internal mi.core a:gather -->

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local D = dofile(here .. "/helpers/doctest.lua")

local ROOT = P.ROOT
local API = "docs/api.md"
local CLI_DOC = P.exists(ROOT .. "/docs/cli.md") and "docs/cli.md" or API
local CLI_SRC = "lua/maskinfo/cli/init.lua"

local mi = require("maskinfo")
local object = require("maskinfo.object")

local function private(name)
  return name:sub(1, 1) == "_" and name ~= "_VERSION"
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do
    if type(k) == "string" then ks[#ks + 1] = k end
  end
  table.sort(ks)
  return ks
end

---------------------------------------------------------------- the code

-- The public names of the module table: "mi.NAME" and "mi.NS.NAME".
local function module_names()
  local names = {}
  for _, k in ipairs(sorted_keys(mi)) do
    if not private(k) then
      if type(mi[k]) == "table" then
        for _, k2 in ipairs(sorted_keys(mi[k])) do
          if not private(k2) then names[#names + 1] = "mi." .. k .. "." .. k2 end
        end
      else
        names[#names + 1] = "mi." .. k
      end
    end
  end
  return names
end

-- The methods of a userdata: the keys of its metatable's __index table.
local function method_table(what, obj)
  local mt = getmetatable(obj)
  assert(type(mt) == "table", what .. " has no readable metatable")
  assert(type(mt.__index) == "table",
    what .. "'s __index is a " .. type(mt.__index) .. ", not a table: its methods cannot be listed")
  return mt.__index
end

-- The MaskInfo methods, as a set.
local function maskinfo_methods()
  local set = {}
  for _, k in ipairs(object.methods()) do set[k] = true end
  assert(next(set), "require('maskinfo.object').methods() lists no method")
  return set
end
local function array_methods() return method_table("an Array", mi.Array.new("int32", { 1 })) end

local function prefixed(prefix, t)
  local names = {}
  for _, k in ipairs(sorted_keys(t)) do
    if not private(k) then names[#names + 1] = prefix .. k end
  end
  return names
end

-- The subcommands of the maskinfo command: those of the parser the CLI
-- builds (argparse keeps them in _commands, which maskinfo.cli reads too).
local function cli_commands()
  local cmds = {}
  for _, c in ipairs(require("maskinfo.cli").parser()._commands) do cmds[c._name] = true end
  return cmds
end

---------------------------------------------------------------- the docs

-- The names a heading's text documents.
local function heading_names(text)
  local names = {}
  local pos = 1
  while true do
    local a, b, span = text:find("`([^`]+)`", pos)
    if not a then break end
    if text:sub(pos, a - 1):find("→", 1, true) then break end
    local path = span:match("^mi%.([%a_][%w_%.]*)") or span:match("^maskinfo%.([%a_][%w_%.]*)")
    if path then
      names[#names + 1] = "mi." .. path:gsub("%.$", "")
    elseif span:match("^mi:([%a_][%w_]*)") then
      names[#names + 1] = "mi:" .. span:match("^mi:([%a_][%w_]*)")
    elseif span:match("^a:([%a_][%w_]*)") then
      names[#names + 1] = "a:" .. span:match("^a:([%a_][%w_]*)")
    elseif span:match("^maskinfo%s+([%a_][%w_%-]*)") then
      names[#names + 1] = "maskinfo " .. span:match("^maskinfo%s+([%a_][%w_%-]*)")
    end
    pos = b + 1
  end
  return names
end

-- name -> {file, line} for every name a heading of the file documents.
local function documented(file, into)
  into = into or {}
  local text = P.read_file(ROOT .. "/" .. file)
  if not text then return into end
  for _, l in ipairs(D.prose_lines(text)) do
    local title = l.text:match("^#+%s+(.*)$")
    if title then
      for _, n in ipairs(heading_names(title)) do
        if not into[n] then into[n] = { file = file, line = l.line } end
      end
    end
  end
  return into
end

local docs = documented(API)
if CLI_DOC ~= API then documented(CLI_DOC, docs) end
local internal, internal_at = D.internal_names(P.read_file(ROOT .. "/" .. API) or "")

local function is_internal(name)
  for n in pairs(internal) do
    if name == n or name:sub(1, #n + 1) == n .. "." then return true end
  end
  return false
end

---------------------------------------------------------------- checks

local HOW = "a heading (## or ###) with the name in a code span, e.g. ### `%s`;"
  .. " or, if it is not API, list it in <!-- doctest: internal NAME ... --> in " .. API

-- Fail with the public names that have no heading.
local function all_documented(kind, names, file, example)
  local missing, by_ns, ns_size = {}, {}, {}
  for _, n in ipairs(names) do
    local ns = n:match("^(mi%.[%w_]+)%.")
    if ns then ns_size[ns] = (ns_size[ns] or 0) + 1 end
    if not docs[n] and not is_internal(n) then
      missing[#missing + 1] = n
      if ns then by_ns[ns] = (by_ns[ns] or 0) + 1 end
    end
  end
  -- A whole namespace without any heading is one line, not one per name.
  local lines, said = {}, {}
  for _, n in ipairs(missing) do
    local ns = n:match("^(mi%.[%w_]+)%.")
    if ns and by_ns[ns] == ns_size[ns] and ns_size[ns] > 5 then
      if not said[ns] then
        said[ns] = true
        lines[#lines + 1] = ("  %s.* (all %d names of the namespace, e.g. %s)"):format(ns, ns_size[ns], n)
      end
    else
      lines[#lines + 1] = "  " .. n
    end
  end
  missing = lines
  if #missing > 0 then
    error(("%s: %d %s without a heading (each needs %s):\n%s"):format(file, #missing, kind,
      HOW:format(example), table.concat(missing, "\n")), 0)
  end
end

-- Whether a documented name ("mi.X.Y", "mi:M", "a:M", "maskinfo CMD") exists.
local function exists(n)
  if n:match("^mi%.") then
    -- `mi.q_positions`: a MaskInfo's public field (m.q_positions)
    if object.PUBLIC_FIELDS[n:sub(4)] then return true end
    local v = mi
    for part in n:sub(4):gmatch("[^.]+") do
      if type(v) ~= "table" then return false end
      v = v[part]
    end
    return v ~= nil
  elseif n:match("^mi:") then
    return maskinfo_methods()[n:sub(4)] ~= nil
  elseif n:match("^a:") then
    return array_methods()[n:sub(3)] ~= nil
  elseif n:match("^maskinfo ") then
    return cli_commands()[n:sub(10)] ~= nil
  end
  return false
end

describe("docs coverage:", function()
  it("every public field of require('maskinfo') has a heading in " .. API, function()
    all_documented("public module names", module_names(), API, "mi.NAME(args)")
  end)

  it("every MaskInfo method has a heading in " .. API, function()
    all_documented("MaskInfo methods", prefixed("mi:", maskinfo_methods()), API, "mi:NAME(args)")
  end)

  it("every Array method has a heading in " .. API, function()
    all_documented("Array methods", prefixed("a:", array_methods()), API, "a:NAME(args)")
  end)

  it("every subcommand of the maskinfo command has a heading in " .. CLI_DOC, function()
    local cmds = cli_commands()
    assert(next(cmds), "the parser of " .. CLI_SRC .. " has no commands: how does it list its subcommands now?")
    all_documented("maskinfo subcommands", prefixed("maskinfo ", cmds), CLI_DOC, "maskinfo NAME ARGS")
  end)

  it("every name documented in a heading, or as internal, exists", function()
    local what = { ["mi."] = "no such field in require('maskinfo')", ["mi:"] = "no such MaskInfo method",
      ["a:"] = "no such Array method", ["maskinfo "] = "no such subcommand in " .. CLI_SRC }
    local extra = {}
    local function check(n, where, how)
      if not exists(n) then
        local why = what[n:match("^mi[.:]") or n:match("^a:") or "maskinfo "]
        extra[#extra + 1] = ("%s: %s `%s`, but there is %s"):format(where, how, n, why)
      end
    end
    for n, at in pairs(docs) do check(n, at.file .. ":" .. at.line, "heading documents") end
    for n, line in pairs(internal_at) do check(n, API .. ":" .. line, "internal marker lists") end
    table.sort(extra)
    if #extra > 0 then
      error(("%d documented names do not exist (remove or rename the heading):\n%s")
        :format(#extra, table.concat(extra, "\n")), 0)
    end
  end)

  it("reads headings the documented way", function()
    assert.same({ "mi.Array.new" }, heading_names("`mi.Array.new(dtype, shape [, values])`"))
    assert.same({ "mi.mask_to_segment_ids" }, heading_names("`mi.mask_to_segment_ids(mask)` → `q_ids, kv_ids`"))
    assert.same({ "a:shape", "a:dtype", "a:size" }, heading_names("`a:shape()`, `a:dtype()`, `a:size()`, `#a`"))
    assert.same({ "mi.save_npy", "mi:save_npy" }, heading_names("`mi.save_npy(path, array)`, `mi:save_npy(path)`"))
    assert.same({ "mi:get_shardings" }, heading_names("`mi:get_shardings{mesh=}`"))
    assert.same({ "maskinfo show", "mi._VERSION" }, heading_names("`maskinfo show NAME [opts]` `maskinfo._VERSION`"))
    assert.same({}, heading_names("`tostring(mi)`, `a == b` and `maskinfo`"))
  end)

  it("tells names that exist from names that do not", function()
    for _, n in ipairs({ "mi.Array.new", "mi.from_segments", "mi:apply_causal", "a:reshape", "maskinfo list",
      "mi.q_positions" }) do
      assert.is_true(exists(n), n)
    end
    for _, n in ipairs({ "mi.nope", "mi.Array.nope", "mi.from_segments.x", "mi:nope", "a:nope", "maskinfo nope" }) do
      assert.is_false(exists(n), n)
    end
  end)
end)
