-- install_spec.lua - the rockspec installs maskinfo offline into a fresh tree,
-- and a plain Lua 5.4 loads it from there (not from the checkout).
--
-- The checkout is copied (without build/ and .git) to a temporary directory
-- first, so the install build never touches the build/ that `make test` uses.
-- Set MASKINFO_KEEP_TMP=1 to keep the temporary directory for inspection.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")

local ROCKSPEC = "maskinfo-scm-1.rockspec"

-- q quotes for /bin/sh; sh runs a shell command and returns ok, combined output.
local q, sh, read_file, exists = P.shell_quote, P.sh, P.read_file, P.exists

-- Strip the variables through which the outer `make test` (or the user's
-- shell) could steer the inner build or the inner Lua: MAKEFLAGS carries
-- command-line variables such as BUILD=..., LUA_PATH* would let Lua find the
-- checkout instead of the tree.
local CLEAN_ENV = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES"
  .. " -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4"
  .. " -u MASKINFO_DEBUG -u LUAROCKS_CONFIG"

describe("luarocks install (" .. ROCKSPEC .. ")", function()
  local root, tmp, src, tree
  local built, build_log, luarocks

  setup(function()
    local ok, out = sh("pwd")
    assert(ok, out)
    root = out:gsub("%s+$", "")
    assert(exists(root .. "/" .. ROCKSPEC), "run from the repository root")
    ok, out = sh("mktemp -d \"${TMPDIR:-/tmp}/maskinfo-install.XXXXXX\"")
    assert(ok, out)
    tmp = out:gsub("%s+$", "")
    src, tree = tmp .. "/src", tmp .. "/tree"
    ok, out = sh("mkdir -p " .. q(src) .. " && tar -C " .. q(root)
      .. " --exclude=./build --exclude=./.git -cf - . | tar -C " .. q(src) .. " -xf -")
    assert(ok, "copying the checkout failed:\n" .. out)
    -- A private HOME keeps the user's ~/.luarocks configuration out of it.
    luarocks = CLEAN_ENV .. " HOME=" .. q(tmp .. "/home") .. " luarocks --lua-version=5.4"
    -- MAKEFLAGS=-j2 goes inside the env call, after CLEAN_ENV's -u MAKEFLAGS.
    built, build_log = sh("cd " .. q(src) .. " && "
      .. luarocks:gsub(" HOME=", " MAKEFLAGS=-j2 HOME=", 1)
      .. " make --tree " .. q(tree) .. " --deps-mode=none " .. ROCKSPEC)
  end)

  teardown(function()
    if tmp and os.getenv("MASKINFO_KEEP_TMP") ~= "1" then
      sh("rm -rf " .. q(tmp))
    end
  end)

  local function lua_dir() return tree .. "/share/lua/5.4" end
  local function lib_dir() return tree .. "/lib/lua/5.4" end

  -- Run Lua 5.4 outside the checkout with paths pointing only into the tree.
  local function lua_in_tree(code)
    local prelude = ("package.path = %q; package.cpath = %q; "):format(
      lua_dir() .. "/?.lua;" .. lua_dir() .. "/?/init.lua", lib_dir() .. "/?.so")
    return sh("cd " .. q(tmp) .. " && " .. CLEAN_ENV .. " lua5.4 -e " .. q(prelude .. code))
  end

  it("builds and installs offline with luarocks make", function()
    assert.is_true(built, "luarocks make failed:\n" .. tostring(build_log))
  end)

  it("installs every Lua module and the C module into the tree", function()
    assert.is_true(built, "luarocks make failed")
    local _, list = sh("cd " .. q(root) .. " && find lua/maskinfo -name '*.lua' 2>/dev/null | sort")
    local n = 0
    for rel in list:gmatch("[^\n]+") do
      local installed = lua_dir() .. "/" .. rel:gsub("^lua/", "")
      assert.is_true(exists(installed), "not installed: " .. installed)
      assert.equal(read_file(root .. "/" .. rel), read_file(installed), "differs: " .. rel)
      n = n + 1
    end
    assert.is_true(n >= 1, "no lua/maskinfo/*.lua in the checkout")
    assert.is_true(exists(lua_dir() .. "/maskinfo/init.lua"), "maskinfo/init.lua not installed")
    assert.is_true(exists(lib_dir() .. "/maskinfo/core.so"), "maskinfo/core.so not installed")
  end)

  it("registers the rock in the tree", function()
    assert.is_true(built, "luarocks make failed")
    local ok, out = sh(luarocks .. " --tree " .. q(tree) .. " list --porcelain")
    assert.is_true(ok, out)
    assert.truthy(out:find("maskinfo\tscm%-1\tinstalled"), out)
  end)

  it("requires maskinfo from the tree, and a call works", function()
    assert.is_true(built, "luarocks make failed")
    local ok, out = lua_in_tree([[
      local m = require("maskinfo")
      print("lua=" .. tostring(package.searchpath("maskinfo", package.path)))
      print("core=" .. tostring(package.searchpath("maskinfo.core", package.cpath)))
      print("loaded_core=" .. tostring(package.loaded["maskinfo.core"] ~= nil))
      print("debug=" .. tostring(m.get_debug_mode()))
    ]])
    assert.is_true(ok, "lua5.4 failed or crashed at exit:\n" .. out)
    assert.equal(lua_dir() .. "/maskinfo/init.lua", out:match("lua=([^\n]*)"))
    assert.equal(lib_dir() .. "/maskinfo/core.so", out:match("core=([^\n]*)"))
    assert.equal("true", out:match("loaded_core=([^\n]*)"))
    assert.equal("false", out:match("debug=([^\n]*)"))
  end)

  it("exports only luaopen_maskinfo_core from core.so", function()
    assert.is_true(built, "luarocks make failed")
    local ok, out = sh("nm -D --defined-only " .. q(lib_dir() .. "/maskinfo/core.so"))
    assert.is_true(ok, out)
    local exported = {}
    for name in out:gmatch("%S+ %u ([%w_]*maskinfo[%w_]*)") do
      exported[#exported + 1] = name
    end
    assert.same({ "luaopen_maskinfo_core" }, exported)
  end)

  it("uninstalls cleanly with luarocks remove", function()
    assert.is_true(built, "luarocks make failed")
    local ok, out = sh(luarocks .. " --tree " .. q(tree) .. " remove maskinfo")
    assert.is_true(ok, out)
    assert.is_false(exists(lua_dir() .. "/maskinfo/init.lua"), "init.lua left behind")
    assert.is_false(exists(lib_dir() .. "/maskinfo/core.so"), "core.so left behind")
  end)
end)
