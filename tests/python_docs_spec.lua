-- docs/python.md: its Lua block writes the files, then every python block
-- runs under python3 with NumPy against them, preceded by the page's
-- "every snippet starts with" block.  The snippets assert what the prose
-- says; a failing assert or a missing file fails here with the block's line.
local P = dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests") .. "/helpers/proc.lua")

local PAGE = P.ROOT .. "/docs/python.md"
local PYTHON = "/usr/bin/python3"

-- The fenced blocks of the page: {lang=, line=, text=}.
local function blocks(path)
  local out, cur = {}, nil
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    if cur then
      if line:match("^```%s*$") then out[#out + 1], cur = cur, nil
      else cur.text[#cur.text + 1] = line end
    else
      local lang = line:match("^```(%w+)")
      if lang then cur = { lang = lang, line = n, text = {} } end
    end
  end
  return out
end

local function has_numpy()
  return P.sh(PYTHON .. " -c 'import numpy' >/dev/null 2>&1")
end

describe("docs/python.md", function()
  local bs = blocks(PAGE)
  local lua_blocks, py = {}, {}
  for _, b in ipairs(bs) do
    if b.lang == "lua" then lua_blocks[#lua_blocks + 1] = b elseif b.lang == "python" then py[#py + 1] = b end
  end

  it("has one Lua block writing the files and a python block per format", function()
    assert.are.equal(1, #lua_blocks)
    assert.is_true(#py >= 7, #py .. " python blocks")
  end)

  if not has_numpy() then
    pending("python3 with NumPy is not installed (Debian python3-numpy): the snippets were not run")
    return
  end

  it("every python snippet runs against the files the Lua block writes", function()
    local dir = P.mkdtemp()
    local lua_file = dir .. "/files.lua"
    local f = assert(io.open(lua_file, "w"))
    f:write(table.concat(lua_blocks[1].text, "\n"), "\n")
    f:close()
    local ok = P.sh(("cd %s && LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 files.lua >/dev/null 2>&1"):format(
      P.shell_quote(dir), P.shell_quote(P.LUA_PATH), P.shell_quote(P.LUA_CPATH)))
    assert.is_true(ok, "docs/python.md:" .. lua_blocks[1].line .. ": the Lua block failed")
    local prelude = table.concat(py[1].text, "\n") .. "\n"
    for i = 2, #py do
      local script = dir .. "/snippet" .. i .. ".py"
      f = assert(io.open(script, "w"))
      f:write(prelude, table.concat(py[i].text, "\n"), "\n")
      f:close()
      local out = dir .. "/snippet" .. i .. ".out"
      local good = P.sh(("cd %s && %s %s >%s 2>&1"):format(P.shell_quote(dir), PYTHON, P.shell_quote(script),
        P.shell_quote(out)))
      assert.is_true(good, ("docs/python.md:%d: the python snippet failed:\n%s"):format(py[i].line,
        P.read_file(out) or ""))
    end
    P.sh("rm -rf " .. P.shell_quote(dir))
  end)
end)
