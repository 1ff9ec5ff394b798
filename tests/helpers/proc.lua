--- Files and child processes for the busted specs: the repository root, shell
-- quoting, running a shell command or a Lua snippet in a child lua5.4 that
-- loads this checkout's modules (lua/ and build/), and small file helpers.
--
--   local P = dofile(here .. "/helpers/proc.lua")
local P = {}

-- The checkout: this file is <root>/tests/helpers/proc.lua.  busted usually
-- names it relative to the working directory, which then is the root.
local function repo_root()
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/tests/helpers/[^/]*$")
  local p = io.popen("pwd")
  local cwd = p:read("l")
  p:close()
  if not dir or dir == "." then return cwd end
  if dir:sub(1, 1) ~= "/" then return cwd .. "/" .. dir end
  return dir
end
P.ROOT = repo_root()

--- Quote for /bin/sh.
function P.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- LUA_PATH_5_4 and LUA_CPATH_5_4 values that find this checkout's modules.
P.LUA_PATH = P.ROOT .. "/lua/?.lua;" .. P.ROOT .. "/lua/?/init.lua;;"
P.LUA_CPATH = P.ROOT .. "/build/?.so;;"

--- Run a shell command; returns ok, its stdout and stderr together.
function P.sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out
end

--- Run a Lua snippet in a child lua5.4 in the root, with this checkout's
-- modules and without MASKINFO_DEBUG / MASKINFO_MAX_BYTES from the outside;
-- returns stdout and stderr together.
--   env  "NAME=value ..." set for the child (optional)
--   kb   limit the child's address space to kb KiB (ulimit -v), so that an
--        unguarded huge allocation ends in "not enough memory" instead of
--        taking the machine's memory (optional)
function P.run_lua(code, env, kb)
  -- AddressSanitizer (make sanitize) reserves terabytes of address space
  -- and cannot run under ulimit -v: the guard is still what is tested.
  if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then kb = nil end
  local cmd = ("cd '%s' && %senv -u MASKINFO_DEBUG -u MASKINFO_MAX_BYTES %s LUA_PATH_5_4='%s' LUA_CPATH_5_4='%s' lua5.4 -e %q 2>&1")
    :format(P.ROOT, kb and ("ulimit -v %d && "):format(kb) or "", env or "", P.LUA_PATH, P.LUA_CPATH, code)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

--- A new empty directory (mktemp -d: made atomically, mode 0700); the
-- caller removes it.
function P.mkdtemp()
  local p = assert(io.popen("mktemp -d"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

--- The non-empty lines of s.
function P.lines_of(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

--- The whole file, or nil when it cannot be opened.
function P.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function P.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

return P
