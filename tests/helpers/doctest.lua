--- doctest.lua - run the fenced examples of Markdown files and compare their
-- output with the block that follows them (used by tests/docs_spec.lua).
--
--   local D = dofile(here .. "/helpers/doctest.lua")
--   local ctx = D.install(root)           -- once per run: make install into a temp tree
--   local examples, problems = D.collect(path, "docs/api.md")
--   local r = D.run(examples[i], ctx)     -- r.ok, r.message
--   D.cleanup(ctx)
--
-- WHAT RUNS
--
-- * A ```lua block is an example.  It is written to `blk.lua` in a fresh
--   temporary directory, after the file's prelude (below), and run there as
--   `lua5.4 blk.lua` against the INSTALLED module (the temp tree; the
--   checkout's lua/ and build/ are not on the path; Lua's default directories
--   come after it, for the system's lua-cjson and lua-argparse).  Its stdout is its
--   output; errors are caught by the examples themselves (`print(pcall(...))`
--   prints `false<TAB>message`).  An uncaught error, or a non-zero exit
--   status, fails the example, with its stderr shown.
--   Expected output is, whichever the example has (not both):
--     - the ```text block that follows it (only blank lines in between), or
--     - its own comment lines that start with `-->` (decisions.md's style):
--         print(x)
--         --> Array(shape=(1,), dtype=int32, values=[0])
--   A lua block with neither must still run without error.
-- * A ```sh (or bash, shell) block is run with `sh -e` in a fresh temporary
--   directory, with the installed `maskinfo` first on PATH, when one of its
--   commands calls `maskinfo` (a command, or a pipeline / && / ; part, whose
--   first word is `maskinfo`).  Its output is stdout and stderr together,
--   then `[exit status N]` when N is not 0; it is compared with the ```text
--   block that follows, if any, else it must exit 0.  A sh block that calls
--   no `maskinfo` cannot run here and must be marked `skip`.
-- * A ```text block that is not an output block and whose first line starts
--   with `$ ` is a transcript: each `$ command` line is run (in one fresh
--   directory for the whole block, the same way as a sh block) and must be
--   followed by exactly its output, and `[exit status N]` when N is not 0.
--   The same `skip` rule as for sh applies.
-- * Other blocks (text that is not a transcript, c, python, ...) are prose.
--
-- THE PRELUDE
--
--   Every lua example starts with the prelude, which docs/api.md states in
--   its Conventions section (D.DEFAULT_PRELUDE is that text, used by any file
--   that does not mark its own).  The prelude's lines come first, so line
--   numbers in error messages are those of `blk.lua` = prelude + example
--   (docs/api.md's "blk.lua:14" relies on that).
--
-- MARKERS
--
--   An HTML comment on a line of its own, `<!-- doctest: KEYWORD ARGS -->`,
--   applies to the next fenced block; only blank lines and other markers may
--   stand between them.  Markers are invisible in rendered Markdown.
--     <!-- doctest: skip REASON -->     the block (and its output block) is
--                                       not run; REASON is required and is
--                                       shown as busted's pending message.
--     <!-- doctest: continue -->        this lua example continues the
--                                       previous lua example of the same file:
--                                       both run as one script (chains may be
--                                       longer); only this one's output is
--                                       compared.  Line numbers then count
--                                       the previous examples too.
--     <!-- doctest: prelude -->         this lua block is the file's prelude
--                                       for the examples after it (it is also
--                                       run alone and must not fail).
--     <!-- doctest: setup CODE -->      hidden code run before the example:
--                                       for a lua example, Lua on a line of
--                                       its own after the prelude (e.g.
--                                       `local n = 64`); for a sh example,
--                                       a shell line run first (e.g.
--                                       `ln -s "$MASKINFO_SRC/tests" tests`).
--     <!-- doctest: epilogue LUA -->    hidden Lua run after the example, e.g.
--                                       to print a file the example wrote.
--     <!-- doctest: run COMMAND -->     the next ```text block is the output
--                                       of the shell COMMAND (run like a sh
--                                       block).
--     <!-- doctest: file NAME -->       the next block (lua or prose) is not
--                                       run: its text is the file NAME (no
--                                       "/"), written into the directory of
--                                       every later example of the same
--                                       Markdown file (a recipe the prose
--                                       then checks and renders, say).
--     <!-- doctest: internal NAME... --> (anywhere; read by
--                                       docs_coverage_spec.lua, not here) the
--                                       API names that are documented as
--                                       internal and need no heading.
--   A marker cannot contain `-->`, and is one line long.
--
-- NORMALISATION (applied to expected and got alike, never by hand)
--
--   1. `\r\n` becomes `\n`; trailing spaces and tabs of each line and
--      trailing blank lines are dropped.
--   2. got only: the example's temporary directory is written `<tmp>` and
--      the install tree `<install>` (with and without symlinks resolved).
--   3. addresses `0x` + hex digits become `0x...`.
--   4. durations (a number followed by s, ms, us, µs or ns) become `<time>`.
--
-- FAILURES name the example (FILE:LINE of its opening fence), the expected
-- block (FILE:LINE), and show a diff: `-` lines are expected, `+` lines
-- got, hunks headed by the FILE:LINE of the expected line.
--
-- Environment: the examples inherit the environment (MASKINFO_MAX_BYTES,
-- MASKINFO_DEBUG, OMP_NUM_THREADS, ...) except LUA_PATH*, LUA_CPATH*,
-- LUA_INIT* and make's variables.  MASKINFO_SRC is set to the checkout's
-- root, for examples that read its files (tests/data/hf/*.json): a hidden
-- `setup` links them into the example's directory, so that the example as
-- shown reads `tests/data/...` as it would from a checkout.
-- MASKINFO_KEEP_TMP=1 keeps the temporary directory (its path is printed).

local D = {}

D.DEFAULT_PRELUDE = [[
local mi = require("maskinfo")
-- rows(a): print an Array's innermost rows, booleans as 1/0
local function rows(a)
  local function walk(t)
    if type(t[1]) == "table" then for _, s in ipairs(t) do walk(s) end return end
    local out = {}
    for i, v in ipairs(t) do out[i] = v == true and "1" or v == false and "0" or tostring(v) end
    print(table.concat(out, " "))
  end
  walk(a:totable())
end
]]

-- Markers that apply to the next fenced block, and those that stand alone.
local BLOCK_MARKERS = { skip = true, continue = true, prelude = true, setup = true, epilogue = true, run = true,
  file = true }
local FREE_MARKERS = { internal = true }
-- Which kinds of block each block marker fits.
local MARKER_FITS = {
  skip = { lua = true, sh = true, transcript = true, run = true, prose = true },
  continue = { lua = true },
  prelude = { lua = true },
  setup = { lua = true, sh = true },
  epilogue = { lua = true },
  run = { run = true },
  file = { lua = true, prose = true },
}
local NEEDS_ARG = { skip = "a reason", setup = "code", epilogue = "Lua code", run = "a command", internal = "names",
  file = "a file name" }
local SH_LANGS = { sh = true, bash = true, shell = true }

local SPLIT = "@@doctest-continue@@"
local LUA = "lua5.4"
local TIMEOUT = "timeout -k 5 300"

-- Files, quoting and shell calls come from proc.lua, next to this file.
local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/helpers"
local P = dofile(HERE .. "/proc.lua")
local q, read_file, sh = P.shell_quote, P.read_file, P.sh

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function chomp(s) return (s:gsub("%s+$", "")) end

local function split_lines(s)
  local t = {}
  if s == "" then return t end
  for l in (s .. "\n"):gmatch("(.-)\n") do t[#t + 1] = l end
  if t[#t] == "" and s:sub(-1) == "\n" then t[#t] = nil end
  return t
end
D.split_lines = split_lines

---------------------------------------------------------------- parsing

--- Parse a marker line: keyword, argument; or nil, error; or nil when the
-- line is not a doctest comment at all.
local function parse_marker(line)
  if not line:find("<!%-%-%s*doctest") then return nil end
  local kw, arg = line:match("^%s*<!%-%-%s*doctest:%s*([%w_-]+)%s*(.-)%s*%-%->%s*$")
  if not kw then
    return nil, "malformed doctest marker (expected a line of its own: <!-- doctest: KEYWORD ARGS -->)"
  end
  if not BLOCK_MARKERS[kw] and not FREE_MARKERS[kw] then
    return nil, ("unknown doctest marker '%s' (known: continue, epilogue, file, internal, prelude, run, setup, skip)"):format(kw)
  end
  if NEEDS_ARG[kw] and arg == "" then
    return nil, ("doctest marker '%s' needs %s"):format(kw, NEEDS_ARG[kw])
  end
  if not NEEDS_ARG[kw] and arg ~= "" then
    return nil, ("doctest marker '%s' takes no argument, got '%s'"):format(kw, arg)
  end
  if kw == "file" and not arg:match("^[%w_.-]+$") then
    return nil, ("doctest marker 'file' needs a plain file name (letters, digits, _ . -), got '%s'"):format(arg)
  end
  return kw, arg
end

-- The fenced blocks of a Markdown text, in order, with the markers before
-- each one: {lang=, line=, close=, body=, indent=, markers={{kw, arg, line}}}.
local function fenced_blocks(text, name, problems)
  local lines = split_lines(text:gsub("\r\n", "\n"))
  local blocks, pending, i = {}, {}, 1
  local function problem(ln, msg) problems[#problems + 1] = ("%s:%d: %s"):format(name, ln, msg) end
  while i <= #lines do
    local l = lines[i]
    local indent, fence, info = l:match("^( *)(```+)%s*(.-)%s*$")
    if not fence then indent, fence, info = l:match("^( *)(~~~+)%s*(.-)%s*$") end
    if fence and #indent <= 3 then
      local lang = info:match("^([%w_+%-]*)") or ""
      local body, j = {}, i + 1
      while j <= #lines do
        local c = lines[j]:match("^ *(" .. fence:sub(1, 1):gsub("%p", "%%%0") .. "+)%s*$")
        if c and #c >= #fence then break end
        body[#body + 1] = lines[j]:gsub("^" .. (" "):rep(#indent), "")
        j = j + 1
      end
      if j > #lines then problem(i, "fenced block is not closed") end
      blocks[#blocks + 1] = { lang = lang:lower(), line = i, close = j, body = table.concat(body, "\n"),
        nbody = #body, markers = pending, lines = lines }
      pending = {}
      i = j + 1
    else
      local kw, arg = parse_marker(l)
      if kw and not FREE_MARKERS[kw] then
        pending[#pending + 1] = { kw = kw, arg = arg, line = i }
      elseif not kw and arg then
        problem(i, arg)
      elseif l:match("%S") and #pending > 0 then
        problem(pending[1].line, ("doctest marker '%s' is not followed by a fenced block (line %d comes first)")
          :format(pending[1].kw, i))
        pending = {}
      end
      i = i + 1
    end
  end
  for _, m in ipairs(pending) do
    problem(m.line, ("doctest marker '%s' is not followed by a fenced block"):format(m.kw))
  end
  return blocks, lines
end

-- Only blank lines between the end of block a and the start of block b.
local function adjacent(lines, a, b)
  if #b.markers > 0 then return false end
  for k = a.close + 1, b.line - 1 do
    if lines[k]:match("%S") then return false end
  end
  return true
end

-- The commands of a shell text, split at newlines, ;, &&, || and |; true if
-- one of them starts with the word maskinfo.
local function calls_maskinfo(script)
  for part in (script .. "\n"):gsub("&&", "\n"):gsub("||", "\n"):gsub("[;|]", "\n"):gmatch("([^\n]*)\n") do
    local first = part:match("^%s*([^%s]+)")
    if first then
      -- Skip leading VAR=value assignments.
      local rest = part
      while first and first:match("^[%w_]+=") do
        rest = rest:gsub("^%s*[^%s]+", "", 1)
        first = rest:match("^%s*([^%s]+)")
      end
      if first == "maskinfo" then return true end
    end
  end
  return false
end
D.calls_maskinfo = calls_maskinfo

local function marker_of(block, kw)
  for _, m in ipairs(block.markers) do
    if m.kw == kw then return m end
  end
end

--- The examples of one Markdown file.  path is read; name is how the file is
-- called in messages (e.g. "docs/api.md").  Returns the list of examples and
-- the list of problems (malformed or misplaced markers), each "FILE:LINE: ...".
-- An example: {name=, file=, line=, kind="lua"|"sh"|"transcript"|"run",
-- code=, code_line=, expect={line=, text=} or nil, skip=REASON or nil,
-- prelude=, setup=, epilogue=, prev=example or nil, command=}.
function D.collect(path, name)
  name = name or path
  local text = assert(read_file(path), "cannot read " .. path)
  local problems = {}
  local blocks = fenced_blocks(text, name, problems)
  local examples = {}
  local prelude = D.DEFAULT_PRELUDE
  local last_lua
  local used = {}
  local files = {} -- {name, text} of the `file` blocks so far
  for bi, b in ipairs(blocks) do
    if not used[bi] then
      local kind
      if b.lang == "lua" then
        kind = "lua"
      elseif SH_LANGS[b.lang] then
        kind = "sh"
      elseif b.lang == "text" and marker_of(b, "run") then
        kind = "run"
      elseif b.lang == "text" and b.body:match("^%$ ") then
        kind = "transcript"
      else
        kind = "prose"
      end
      for _, m in ipairs(b.markers) do
        if not MARKER_FITS[m.kw][kind] then
          problems[#problems + 1] = ("%s:%d: doctest marker '%s' does not fit the %s block at line %d")
            :format(name, m.line, m.kw, kind == "prose" and (b.lang ~= "" and b.lang or "plain") or kind, b.line)
        end
      end
      local as_file = marker_of(b, "file")
      if as_file then
        files = { table.unpack(files) }
        files[#files + 1] = { as_file.arg, b.body .. "\n" }
        kind = "file"
      end
      local ex = { file = name, line = b.line, kind = kind, code = b.body, code_line = b.line + 1,
        markers = b.markers, files = files }
      -- The output block: the next block, if it is text and adjacent.
      local nb = blocks[bi + 1]
      if (kind == "lua" or kind == "sh") and nb and nb.lang == "text" and adjacent(b.lines, b, nb) then
        ex.expect = { line = nb.line, text = nb.body }
        used[bi + 1] = true
      end
      if kind == "run" or kind == "transcript" then
        ex.expect = { line = b.line, text = b.body }
      end
      local skip = marker_of(b, "skip")
      if skip then ex.skip = skip.arg end
      if kind == "lua" then
        local inline = {}
        for l in (b.body .. "\n"):gmatch("(.-)\n") do
          local o = l:match("^%s*%-%->%s?(.*)$")
          if o then inline[#inline + 1] = o end
        end
        if #inline > 0 then
          if ex.expect then
            problems[#problems + 1] = ("%s:%d: lua example has both --> output lines and a text block at line %d; keep one")
              :format(name, b.line, ex.expect.line)
          else
            ex.expect = { line = b.line, text = table.concat(inline, "\n"), inline = true }
          end
        end
        ex.prelude = prelude
        ex.setup = marker_of(b, "setup") and marker_of(b, "setup").arg
        ex.epilogue = marker_of(b, "epilogue") and marker_of(b, "epilogue").arg
        if marker_of(b, "continue") then
          if not last_lua then
            problems[#problems + 1] = ("%s:%d: doctest marker 'continue' but there is no earlier lua example in %s")
              :format(name, marker_of(b, "continue").line, name)
          else
            ex.prev = last_lua
          end
        end
        if marker_of(b, "prelude") then
          ex.is_prelude = true
          ex.prelude = ""
          prelude = b.body .. "\n"
        end
        if not ex.skip then last_lua = ex end
      elseif kind == "run" then
        ex.command = marker_of(b, "run").arg
      elseif kind == "sh" then
        ex.setup = marker_of(b, "setup") and marker_of(b, "setup").arg
      end
      if kind ~= "prose" and kind ~= "file" then
        ex.name = ("%s:%d %s example"):format(name, b.line, kind)
        examples[#examples + 1] = ex
      end
    end
  end
  return examples, problems
end

---------------------------------------------------------------- install

-- Variables through which the outer make / shell could steer the inner build
-- or make the examples load the checkout instead of the installed tree.
D.CLEAN_ENV = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES"
  .. " -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4"

--- Install the checkout at root (make install, reusing its build/) into a
-- fresh temporary tree.  Returns a context for D.run, or nil and the log.
function D.install(root)
  local ok, out = sh("mktemp -d \"${TMPDIR:-/tmp}/maskinfo-doctest.XXXXXX\"")
  if not ok then return nil, out end
  local dir = chomp(out)
  local real = chomp(select(2, sh("cd " .. q(dir) .. " && pwd -P")))
  local stage = dir .. "/install"
  local ctx = { dir = dir, real = real, stage = stage, n = 0 }
  ctx.lua_dir = stage .. "/share/lua/5.4"
  ctx.lib_dir = stage .. "/lib/lua/5.4"
  ctx.bin_dir = stage .. "/bin"
  ok, out = sh("cd " .. q(root) .. " && " .. D.CLEAN_ENV .. " make --no-print-directory install"
    .. " LUADIR=" .. q(ctx.lua_dir) .. " LIBDIR=" .. q(ctx.lib_dir) .. " BINDIR=" .. q(ctx.bin_dir)
    .. " INSTALL_MANIFEST=")
  if not ok then
    D.cleanup(ctx)
    return nil, "make install into " .. stage .. " failed:\n" .. out
  end
  ctx.env = D.CLEAN_ENV
    .. " LUA_PATH_5_4=" .. q(ctx.lua_dir .. "/?.lua;" .. ctx.lua_dir .. "/?/init.lua;;")
    .. " LUA_CPATH_5_4=" .. q(ctx.lib_dir .. "/?.so;;")
    .. " PATH=" .. q(ctx.bin_dir) .. ":\"$PATH\""
    .. " MASKINFO_SRC=" .. q(root)
  return ctx
end

--- Remove the temporary tree (kept with MASKINFO_KEEP_TMP=1).
function D.cleanup(ctx)
  if not ctx or not ctx.dir then return end
  if os.getenv("MASKINFO_KEEP_TMP") == "1" then
    io.stderr:write("doctest: kept ", ctx.dir, "\n")
    return
  end
  sh("rm -rf " .. q(ctx.dir))
  ctx.dir = nil
end

-- A fresh directory for one example, with the `file` blocks before it.
local function fresh_dir(ctx, ex)
  ctx.n = ctx.n + 1
  local d = ("%s/ex%03d"):format(ctx.dir, ctx.n)
  assert(sh("mkdir -p " .. q(d)))
  for _, f in ipairs(ex.files or {}) do write_file(d .. "/" .. f[1], f[2]) end
  return d, ("%s/ex%03d"):format(ctx.real, ctx.n)
end

---------------------------------------------------------------- normalising

local function plain_gsub(s, from, to)
  if from == "" then return s end
  local out, i = {}, 1
  while true do
    local a, b = s:find(from, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = to
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

--- The normalisation rules (see the header).  paths: list of {path, label}
-- replaced in got only (nil for expected text).
function D.normalise(s, paths)
  s = s:gsub("\r\n", "\n")
  if paths then
    for _, p in ipairs(paths) do s = plain_gsub(s, p[1], p[2]) end
    -- Lua shortens long file names in messages to "...tail".
    s = s:gsub("%.%.%.[^%s]-doctest%.%w+/install/", "<install>/")
  end
  s = s:gsub("0x%x+", "0x...")
  s = s:gsub("%f[%w.]%d+%.?%d*%s?[mµun]?s%f[^%wµ]", "<time>")
  local lines = {}
  for _, l in ipairs(split_lines(s)) do lines[#lines + 1] = (l:gsub("[ \t]+$", "")) end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  return lines
end

---------------------------------------------------------------- diff

--- A unified-ish diff (tests/helpers/linediff.lua): D.diff(expected, got,
-- where [, context]), where(i) naming expected line i; "" when equal.
D.diff = dofile(HERE .. "/linediff.lua").diff

---------------------------------------------------------------- running

-- Build the script of a lua example (with its chain of `continue`s).
local function lua_script(ex)
  local chain = {}
  local e = ex
  while e do
    table.insert(chain, 1, e)
    e = e.prev
  end
  local parts = { chain[1].prelude }
  for k, c in ipairs(chain) do
    if k > 1 then parts[#parts + 1] = ("io.write(%q)\n"):format("\n" .. SPLIT .. "\n") end
    if c.setup then parts[#parts + 1] = c.setup .. "\n" end
    parts[#parts + 1] = c.code .. "\n"
    if c.epilogue then parts[#parts + 1] = c.epilogue .. "\n" end
  end
  return table.concat(parts), #chain > 1
end

local function status_line(code)
  if code == 0 then return "" end
  return ("[exit status %d]\n"):format(code)
end

-- Run cmd in dir with the context's environment; returns exit code, stdout,
-- stderr (stderr merged into stdout when merge).
local function run_in(ctx, dir, cmd, merge)
  local out, err = dir .. "/.doctest-out", dir .. "/.doctest-err"
  local full = ("cd %s && %s %s %s >%s %s"):format(q(dir), ctx.env, TIMEOUT, cmd, q(out),
    merge and "2>&1" or ("2>" .. q(err)))
  local ok, how, code = os.execute(full)
  if how == "signal" then code = 128 + code elseif ok then code = 0 end
  local o, e = read_file(out) or "", read_file(err) or ""
  os.remove(out)
  os.remove(err)
  return code, o, e
end

local function indent(s, pre)
  pre = pre or "    "
  local t = {}
  for _, l in ipairs(split_lines(s)) do t[#t + 1] = pre .. l end
  return table.concat(t, "\n")
end

local function compare(ex, got, paths, what)
  local exp_lines = D.normalise(ex.expect.text, nil)
  local got_lines = D.normalise(got, paths)
  local same = #exp_lines == #got_lines
  if same then
    for k = 1, #exp_lines do
      if exp_lines[k] ~= got_lines[k] then same = false break end
    end
  end
  if same then return true end
  local base = ex.expect.line
  local where
  if ex.expect.inline then
    where = function() return ("%s:%d (the --> lines)"):format(ex.file, base) end
  else
    where = function(i) return ("%s:%d"):format(ex.file, base + i) end
  end
  local first
  for k = 1, math.max(#exp_lines, #got_lines) do
    if exp_lines[k] ~= got_lines[k] then first = k break end
  end
  local hint = ""
  if #got_lines == 0 then
    hint = "\nhint: the example printed nothing; if the block shows something else than its output"
      .. " (a file it wrote, say), print that with <!-- doctest: epilogue LUA -->"
  end
  local msg = {
    ("%s:%d: the %s example's %s differs from %s"):format(ex.file, ex.line, ex.kind, what,
      ex.expect.inline and "its --> lines"
        or (ex.kind == "lua" or ex.kind == "sh") and ("the text block at %s:%d"):format(ex.file, base)
        or "the block"),
    ("first difference: %s (expected line %d of %d, got %d lines)"):format(
      ex.expect.inline and ex.file .. ":" .. ex.line or where(first), first, #exp_lines, #got_lines),
    ("--- expected (%s:%d)"):format(ex.file, base),
    "+++ got",
    D.diff(exp_lines, got_lines, where) .. hint,
  }
  return false, table.concat(msg, "\n")
end

local function nil_global_hint(stderr)
  local g = stderr:match("global '([%w_]+)'")
  if g then
    return ("\nhint: '%s' is not defined here; if this example relies on an earlier one, mark it"
      .. " <!-- doctest: continue -->"):format(g)
  end
  return ""
end

local function run_lua(ex, ctx)
  local dir, real = fresh_dir(ctx, ex)
  local script, chained = lua_script(ex)
  write_file(dir .. "/blk.lua", script)
  local code, out, err = run_in(ctx, dir, LUA .. " blk.lua", false)
  local paths = { { dir, "<tmp>" }, { real, "<tmp>" }, { ctx.stage, "<install>" },
    { ctx.real .. "/install", "<install>" } }
  if chained then
    local at = 1
    while true do
      local a, b = out:find(SPLIT .. "\n", at, true)
      if not a then break end
      out = out:sub(b + 1)
      at = 1
    end
  end
  if code ~= 0 then
    local e = table.concat(D.normalise(err, paths), "\n")
    return false, ("%s:%d: the lua example failed (exit status %d)%s:\n%s%s\nits stdout was:\n%s"):format(
      ex.file, ex.line, code, chained and " (run after the examples it continues)" or "",
      indent(e), nil_global_hint(e), indent(table.concat(D.normalise(out, paths), "\n")))
  end
  if not ex.expect then return true end
  return compare(ex, out, paths, "output")
end

local SKIP_HINT = "\nhint: blocks that cannot run here are marked <!-- doctest: skip REASON --> on the line before"

local function run_sh(ex, ctx)
  if not calls_maskinfo(ex.code) then
    return false, ("%s:%d: this sh block does not call maskinfo, so it cannot run here%s"):format(ex.file, ex.line, SKIP_HINT)
  end
  local dir, real = fresh_dir(ctx, ex)
  write_file(dir .. "/.doctest.sh", (ex.setup and ex.setup .. "\n" or "") .. ex.code .. "\n")
  local code, out = run_in(ctx, dir, "sh -e .doctest.sh", true)
  local paths = { { dir, "<tmp>" }, { real, "<tmp>" }, { ctx.stage, "<install>" } }
  if not ex.expect then
    if code ~= 0 then
      return false, ("%s:%d: the sh example failed (exit status %d):\n%s"):format(ex.file, ex.line, code,
        indent(table.concat(D.normalise(out, paths), "\n")))
    end
    return true
  end
  return compare(ex, out .. status_line(code), paths, "output")
end

local function run_transcript(ex, ctx)
  local cmds = {}
  for l in (ex.code .. "\n"):gmatch("(.-)\n") do
    local c = l:match("^%$ (.*)$")
    if c then cmds[#cmds + 1] = c end
  end
  for _, c in ipairs(cmds) do
    if not calls_maskinfo(c) then
      return false, ("%s:%d: the transcript command '$ %s' does not call maskinfo, so it cannot run here%s")
        :format(ex.file, ex.line, c, SKIP_HINT)
    end
  end
  local dir, real = fresh_dir(ctx, ex)
  local paths = { { dir, "<tmp>" }, { real, "<tmp>" }, { ctx.stage, "<install>" } }
  local got = {}
  for _, c in ipairs(cmds) do
    write_file(dir .. "/.doctest.sh", c .. "\n")
    local code, out = run_in(ctx, dir, "sh .doctest.sh", true)
    got[#got + 1] = "$ " .. c .. "\n" .. out
    if out ~= "" and out:sub(-1) ~= "\n" then got[#got + 1] = "\n" end
    got[#got + 1] = status_line(code)
    os.remove(dir .. "/.doctest.sh")
  end
  -- The expected text starts at the fence's next line.
  local e = { file = ex.file, line = ex.line, kind = ex.kind, expect = { line = ex.line, text = ex.expect.text } }
  return compare(e, table.concat(got), paths, "transcript")
end

local function run_command(ex, ctx)
  local dir, real = fresh_dir(ctx, ex)
  write_file(dir .. "/.doctest.sh", ex.command .. "\n")
  local code, out = run_in(ctx, dir, "sh -e .doctest.sh", true)
  local paths = { { dir, "<tmp>" }, { real, "<tmp>" }, { ctx.stage, "<install>" } }
  return compare(ex, out .. status_line(code), paths, "output of `" .. ex.command .. "`")
end

--- Run one example.  Returns ok, message (message explains a failure).
function D.run(ex, ctx)
  assert(ctx and ctx.env, "D.run needs the context from D.install")
  if ex.skip then return true, "skipped: " .. ex.skip end
  if ex.kind == "lua" then return run_lua(ex, ctx) end
  if ex.kind == "sh" then return run_sh(ex, ctx) end
  if ex.kind == "transcript" then return run_transcript(ex, ctx) end
  if ex.kind == "run" then return run_command(ex, ctx) end
  return true
end

--- The `internal` markers of a Markdown text: a set of names, and for each
-- name the line it is on.
function D.internal_names(text)
  local names, at = {}, {}
  local ln = 0
  for l in (text:gsub("\r\n", "\n") .. "\n"):gmatch("(.-)\n") do
    ln = ln + 1
    local kw, arg = parse_marker(l)
    if kw == "internal" then
      for n in arg:gmatch("%S+") do
        names[n] = true
        at[n] = ln
      end
    end
  end
  return names, at
end

--- The lines of a Markdown text outside fenced blocks, as {line=, text=}.
function D.prose_lines(text)
  local out, fence = {}, nil
  local ln = 0
  for l in (text:gsub("\r\n", "\n") .. "\n"):gmatch("(.-)\n") do
    ln = ln + 1
    local f = l:match("^ *(```+)") or l:match("^ *(~~~+)")
    if fence then
      if f and f:sub(1, 1) == fence:sub(1, 1) and #f >= #fence and l:match("^ *[`~]+%s*$") then fence = nil end
    elseif f then
      fence = f
    else
      out[#out + 1] = { line = ln, text = l }
    end
  end
  return out
end

return D
