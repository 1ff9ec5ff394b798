-- install_spec.lua - the rockspec installs maskinfo offline into a fresh tree,
-- and a plain Lua 5.4 loads it from there (not from the checkout); the
-- rockspecs lint and agree with each other, the core's version and the
-- CHANGELOG; `make install` / `make uninstall` make a clean round trip.
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

  it("copies docs/ into the rock, and no install manifest into the tree", function()
    assert.is_true(built, "luarocks make failed")
    local rock = tree .. "/lib/luarocks/rocks-5.4/maskinfo/scm-1"
    assert.equal(read_file(root .. "/docs/api.md"), read_file(rock .. "/docs/api.md"),
      "docs/api.md not in " .. rock .. "/docs")
    local _, found = sh("find " .. q(tree) .. " -name '.install-manifest'")
    assert.equal("", found)
  end)

  -- make install / make uninstall in the copy (its build/ is the one
  -- luarocks made, so nothing compiles again).  `find` lists what is left.
  local function make_in_src(args)
    return sh("cd " .. q(src) .. " && " .. CLEAN_ENV .. " make --no-print-directory " .. args)
  end
  local function find_all(dir)
    local _, out = sh("cd " .. q(dir) .. " && find . -mindepth 1 | LC_ALL=C sort")
    return out
  end

  it("make install then make uninstall with DESTDIR leaves nothing behind", function()
    assert.is_true(built, "luarocks make failed")
    -- A module in a new subdirectory: found at run time, no Makefile edit.
    local extra = src .. "/lua/maskinfo/zz_probe/deep/probe.lua"
    assert(sh("mkdir -p " .. q(extra:match("^(.*)/")) .. " && echo 'return 42' > " .. q(extra)))
    local stage = tmp .. "/stage"
    local dest = "DESTDIR=" .. q(stage) .. " PREFIX=/opt/mi"
    local ok, out = make_in_src("install " .. dest)
    assert.is_true(ok, out)
    ok, out = make_in_src("install " .. dest) -- twice: the record is merged
    assert.is_true(ok, out)
    local s_lua, s_lib = stage .. "/opt/mi/share/lua/5.4", stage .. "/opt/mi/lib/lua/5.4"
    local _, list = sh("cd " .. q(src) .. " && find lua/maskinfo -name '*.lua' | sort")
    local n = 0
    for rel in list:gmatch("[^\n]+") do
      assert.equal(read_file(src .. "/" .. rel), read_file(s_lua .. "/" .. rel:gsub("^lua/", "")),
        "not installed: " .. rel)
      n = n + 1
    end
    assert.is_true(n >= 2)
    assert.is_true(exists(s_lua .. "/maskinfo/zz_probe/deep/probe.lua"))
    assert.is_true(exists(s_lib .. "/maskinfo/core.so"), "core.so not installed")
    assert.equal(read_file(src .. "/scripts/maskinfo.lua"), read_file(stage .. "/opt/mi/bin/maskinfo"))
    assert.is_true((sh("test -x " .. q(stage .. "/opt/mi/bin/maskinfo"))), "bin/maskinfo is not executable")
    -- The installed command runs from the staged modules alone.
    ok, out = sh("cd " .. q(tmp) .. " && " .. CLEAN_ENV
      .. " LUA_PATH_5_4=" .. q(s_lua .. "/?.lua;" .. s_lua .. "/?/init.lua")
      .. " LUA_CPATH_5_4=" .. q(s_lib .. "/?.so") .. " " .. q(stage .. "/opt/mi/bin/maskinfo") .. " list")
    assert.is_true(ok, out)
    assert.truthy(out:find("causal", 1, true), out)

    ok, out = make_in_src("uninstall " .. dest)
    assert.is_true(ok, out)
    assert.equal("", find_all(stage), "left behind by make uninstall")
    assert(sh("rm -rf " .. q(src .. "/lua/maskinfo/zz_probe")))
  end)

  it("make uninstall keeps directories that existed before and foreign files", function()
    assert.is_true(built, "luarocks make failed")
    local prefix = tmp .. "/prefix"
    assert(sh("mkdir -p " .. q(prefix .. "/bin") .. " " .. q(prefix .. "/share/lua/5.4")
      .. " && echo x > " .. q(prefix .. "/bin/other")))
    local ok, out = make_in_src("install PREFIX=" .. q(prefix))
    assert.is_true(ok, out)
    assert.is_true(exists(prefix .. "/lib/lua/5.4/maskinfo/core.so"))
    assert.is_true(exists(prefix .. "/share/lua/5.4/maskinfo/recipes/init.lua"))
    ok, out = make_in_src("uninstall PREFIX=" .. q(prefix))
    assert.is_true(ok, out)
    -- bin/ and share/lua/5.4 were there before; lib/ was created by install.
    assert.equal("./bin\n./bin/other\n./share\n./share/lua\n./share/lua/5.4\n", find_all(prefix))
  end)

  it("uninstalls cleanly with luarocks remove", function()
    assert.is_true(built, "luarocks make failed")
    local ok, out = sh(luarocks .. " --tree " .. q(tree) .. " remove maskinfo")
    assert.is_true(ok, out)
    assert.is_false(exists(lua_dir() .. "/maskinfo/init.lua"), "init.lua left behind")
    assert.is_false(exists(lib_dir() .. "/maskinfo/core.so"), "core.so left behind")
  end)
end)

-- The rockspecs themselves: no build needed.
describe("rockspecs", function()
  local root = P.ROOT

  -- The rockspec as a table (rockspecs are plain Lua assignments).
  local function load_rockspec(path)
    local env = {}
    local chunk = assert(loadfile(path, "t", env))
    chunk()
    return env
  end

  local function versioned()
    local _, out = sh("cd " .. q(root) .. " && ls maskinfo-*-*.rockspec | grep -v scm")
    local names = {}
    for name in out:gmatch("[^\n]+") do names[#names + 1] = name end
    return names
  end

  it("pass luarocks lint", function()
    local names = versioned()
    names[#names + 1] = ROCKSPEC
    for _, name in ipairs(names) do
      local ok, out = sh("cd " .. q(root) .. " && " .. CLEAN_ENV .. " HOME=/nonexistent luarocks --lua-version=5.4 lint " .. q(name))
      assert.is_true(ok, name .. ": " .. out)
    end
  end)

  it("a versioned rockspec matches the core's version and the CHANGELOG", function()
    local names = versioned()
    assert.is_true(#names >= 1, "no maskinfo-<version>-<rev>.rockspec")
    local header = read_file(root .. "/core/include/maskinfo.h")
    local core_version = header:match('#define MASKINFO_VERSION_STRING "([^"]+)"')
    assert.is_string(core_version)
    local changelog = read_file(root .. "/CHANGELOG.md") or ""
    local found = false
    for _, name in ipairs(names) do
      local rs = load_rockspec(root .. "/" .. name)
      local v = rs.version:match("^(.-)%-%d+$")
      assert.equal(name, ("maskinfo-%s.rockspec"):format(rs.version))
      assert.equal("v" .. v, rs.source.tag, name .. ": source tag")
      assert.truthy(changelog:find("## [" .. v .. "]", 1, true), "CHANGELOG.md has no ## [" .. v .. "]")
      if v == core_version then found = true end
    end
    assert.is_true(found, "no rockspec for MASKINFO_VERSION_STRING " .. core_version)
    -- The Lua module's _VERSION, where it is declared, says the same.
    local init = read_file(root .. "/lua/maskinfo/init.lua") or ""
    local lua_version = init:match('_VERSION%s*=%s*"([^"]+)"')
    if lua_version then assert.equal(core_version, lua_version) end
  end)

  it("versioned and scm rockspecs differ only in version and source", function()
    local scm = load_rockspec(root .. "/" .. ROCKSPEC)
    for _, name in ipairs(versioned()) do
      local rs = load_rockspec(root .. "/" .. name)
      assert.equal(scm.source.url, rs.source.url, name)
      rs.version, rs.source, scm.version, scm.source = nil, nil, nil, nil
      assert.same(scm, rs, name)
      scm = load_rockspec(root .. "/" .. ROCKSPEC)
    end
  end)

  it("declare the license, homepage, docs/ and an offline test command", function()
    local rs = load_rockspec(root .. "/" .. ROCKSPEC)
    assert.equal("MIT", rs.description.license)
    assert.truthy(read_file(root .. "/LICENSE"):find("MIT License", 1, true))
    assert.is_string(rs.description.homepage)
    assert.same({ "docs" }, rs.build.copy_directories)
    assert.equal("command", rs.test.type)
    assert.equal("$(PNG_INCDIR)", rs.build.build_variables.PNG_INCDIR)
    assert.equal("$(PNG_LIBDIR)", rs.build.build_variables.PNG_LIBDIR)
  end)
end)
