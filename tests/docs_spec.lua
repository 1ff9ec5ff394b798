-- docs_spec.lua - the docs cannot drift: every fenced example in README.md
-- and docs/*.md runs against the INSTALLED module (make install into a
-- temporary tree, once per run) and its output must be the block after it.
-- How blocks are read, the markers (<!-- doctest: ... -->), the prelude and
-- the normalisation rules are described at the top of tests/helpers/doctest.lua.
--
-- The second part checks the runner itself on tests/fixtures/docs/*.md:
-- a one-character drift fails and names the file, the line and the diff.
--
-- MASKINFO_KEEP_TMP=1 keeps the temporary directory for inspection.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local D = dofile(here .. "/helpers/doctest.lua")

local ROOT = P.ROOT

-- README.md and docs/*.md, as names relative to the root, sorted.
local function doc_files()
  local files = { "README.md" }
  local ok, out = P.sh("cd " .. P.shell_quote(ROOT) .. " && ls docs/*.md 2>/dev/null | LC_ALL=C sort")
  assert(ok, out)
  for name in out:gmatch("[^\n]+") do files[#files + 1] = name end
  return files
end

local ctx, install_err

local function need_ctx()
  if not ctx then
    error("installing maskinfo for the doc tests failed:\n" .. tostring(install_err), 0)
  end
  return ctx
end

-- msg contains the plain text needle.
local function has(msg, needle)
  assert(msg:find(needle, 1, true), ("message lacks %q:\n%s"):format(needle, msg))
end

-- Run one example; a failure raises the runner's message as it is.
local function check(ex)
  local ok, msg = D.run(ex, need_ctx())
  if not ok then error(msg, 0) end
end

describe("docs:", function()
  setup(function()
    ctx, install_err = D.install(ROOT)
  end)

  teardown(function()
    D.cleanup(ctx)
  end)

  for _, name in ipairs(doc_files()) do
    local examples, problems = D.collect(ROOT .. "/" .. name, name)

    it(name .. " has well-formed doctest markers", function()
      if #problems > 0 then error(table.concat(problems, "\n"), 0) end
    end)

    for _, ex in ipairs(examples) do
      if ex.skip then
        pending(ex.name .. " (doctest: skip " .. ex.skip .. ")")
      else
        it(ex.name, function() check(ex) end)
      end
    end
  end

  ------------------------------------------------------------ the runner

  describe("the runner on tests/fixtures/docs/sample.md", function()
    local FIX = ROOT .. "/tests/fixtures/docs/"
    local examples, problems = D.collect(FIX .. "sample.md", "sample.md")
    local text = P.read_file(FIX .. "sample.md")
    local lines = D.split_lines(text)

    -- The example whose code contains needle.
    local function case(needle)
      for _, ex in ipairs(examples) do
        if ex.code:find(needle, 1, true) or (ex.command or ""):find(needle, 1, true) then return ex end
      end
      error("no example with " .. needle .. " in sample.md")
    end
    local function line_of(needle, from)
      for k = from or 1, #lines do
        if lines[k]:find(needle, 1, true) then return k end
      end
      error("no line with " .. needle .. " in sample.md")
    end
    local function run(needle)
      return D.run(case(needle), need_ctx())
    end
    local function passes(needle)
      local ok, msg = run(needle)
      assert(ok, "expected " .. needle .. " to pass, got:\n" .. tostring(msg))
    end
    local function fails(needle)
      local ok, msg = run(needle)
      assert(not ok, "expected " .. needle .. " to fail")
      return msg
    end

    it("finds every block, with no marker problems", function()
      assert.same({}, problems)
      local kinds = {}
      for _, ex in ipairs(examples) do kinds[#kinds + 1] = ex.kind end
      assert.same({ "lua", "lua", "lua", "lua", "lua", "lua", "lua", "lua", "lua", "lua", "lua", "lua",
        "lua", "lua", "sh", "sh", "sh", "transcript", "transcript", "run" }, kinds)
    end)

    it("passes an example whose output is its text block", function()
      passes("case: pass")
      assert.equal(line_of("case: pass") - 1, case("case: pass").line)
    end)

    it("fails a one-character drift, naming file, line and the diff", function()
      local msg = fails("case: drift")
      local fence = line_of("case: drift") - 1
      local expected_fence = line_of("```text", fence)
      local bad = line_of("5\tArray", fence)
      has(msg, ("sample.md:%d: the lua example's output differs from the text block at sample.md:%d")
        :format(fence, expected_fence))
      has(msg, ("first difference: sample.md:%d"):format(bad))
      has(msg, "\n-5\tArray(shape=(1, 1), dtype=int64, values=[4])\n+4\tArray")
      -- Context lines around it, and only the one hunk.
      has(msg, "\n 3\n")
      has(msg, "\n 0.44444444444444")
      local _, hunks = msg:gsub("\n@@ ", "")
      assert.equal(1, hunks)
    end)

    it("runs a lua block without an output block, which must not fail", function()
      passes("case: no-output-block")
      local msg = fails("case: raises")
      has(msg, ("sample.md:%d: the lua example failed (exit status 1)")
        :format(case("case: raises").line))
      -- Line numbers count the prelude (11 lines) then the example.
      has(msg, "blk.lua:14: boom 1")
    end)

    it("runs a continued example after the one it continues, comparing only its own output", function()
      passes("case: chain-a")
      passes("case: chain-b")
      assert.equal(case("case: chain-a"), case("case: chain-b").prev)
    end)

    it("hints at the continue marker when a name is undefined", function()
      local msg = fails("case: unmarked-dependency")
      has(msg, "global 'chained_value'")
      has(msg, "<!-- doctest: continue -->")
    end)

    it("compares --> lines as the expected output", function()
      passes("case: inline-pass")
      local msg = fails("case: inline-drift")
      has(msg, "differs from its --> lines")
      has(msg, "\n-8\n+7")
    end)

    it("skips a block marked skip, with its reason", function()
      local ex = case("case: skipped")
      assert.equal("needs a GPU", ex.skip)
      assert.is_true((D.run(ex, need_ctx())))
    end)

    it("runs setup before and epilogue after the example", function()
      passes("case: setup-epilogue")
    end)

    it("normalises addresses, the temporary and install paths, durations and trailing blanks", function()
      passes("case: normalised")
    end)

    it("gives every example a fresh directory", function()
      passes("case: hermetic-a")
      passes("case: hermetic-b")
    end)

    it("writes a file block into later examples' directories, and does not run it", function()
      for _, ex in ipairs(examples) do
        assert.is_nil(ex.code:find("case: file-block", 1, true), "the file block became an example")
      end
      local ex = case("maskinfo info ./tiny.lua | head -3")
      assert.equal("tiny.lua", ex.files[1][1])
      assert.truthy(ex.files[1][2]:find('name = "tiny"', 1, true))
      assert.same({}, case("case: pass").files)
    end)

    it("runs a sh setup line first, with MASKINFO_SRC set to the checkout", function()
      passes("maskinfo model tests/data/hf/gemma-2-9b.json")
      assert.equal('ln -s "$MASKINFO_SRC/tests" tests', case("maskinfo model tests/data/hf").setup)
    end)

    it("runs sh blocks that call maskinfo, and asks for a skip marker otherwise", function()
      passes("maskinfo info ./tiny.lua | head -3")
      local msg = fails("no maskinfo here")
      has(msg, ("sample.md:%d: this sh block does not call maskinfo")
        :format(case("no maskinfo here").line))
      has(msg, "<!-- doctest: skip REASON -->")
    end)

    it("runs transcripts command by command, with stderr and the exit status", function()
      passes("$ maskinfo show nope")
      local msg = fails("$ maskinfo info ./tiny.lua --len 3")
      has(msg, "transcript differs")
      has(msg, ("first difference: sample.md:%d"):format(line_of("[exit status 1]")))
      has(msg, "\n-[exit status 1]")
    end)

    it("compares a text block marked run with the command's output", function()
      passes("grep '^params'")
    end)

    it("tells which shell calls are maskinfo calls", function()
      assert.is_true(D.calls_maskinfo("maskinfo list | head -3"))
      assert.is_true(D.calls_maskinfo("cd x && MASKINFO_DEBUG=1 maskinfo show causal"))
      assert.is_false(D.calls_maskinfo("luarocks make maskinfo-scm-1.rockspec"))
      assert.is_false(D.calls_maskinfo("make run ARGS=\"show maskinfo\""))
    end)
  end)

  it("the runner reports malformed and misplaced markers with their lines", function()
    local _, problems = D.collect(ROOT .. "/tests/fixtures/docs/bad_markers.md", "bad_markers.md")
    local all = table.concat(problems, "\n")
    has(all, "bad_markers.md:3: unknown doctest marker 'frobnicate'")
    has(all, "bad_markers.md:8: doctest marker 'skip' needs a reason")
    has(all, "bad_markers.md:13: doctest marker 'continue' is not followed by a fenced block")
    has(all, "bad_markers.md:20: doctest marker 'continue' does not fit the sh block at line 21")
    has(all, "bad_markers.md:25: doctest marker 'continue' takes no argument")
    has(all, "bad_markers.md:35: doctest marker 'run' is not followed by a fenced block")
    has(all, "bad_markers.md:30: doctest marker 'file' needs a plain file name")
    assert.equal(7, #problems, all)
  end)

  it("the diff marks expected lines with - and got lines with +, headed by FILE:LINE", function()
    local d = D.diff({ "a", "b", "c" }, { "a", "B", "c" }, function(i) return "f.md:" .. (10 + i) end)
    assert.equal("@@ f.md:11 @@\n a\n-b\n+B\n c", d)
    assert.equal("", D.diff({ "x" }, { "x" }, tostring))
    assert.truthy(D.diff({ "a b" }, { "a\tb" }, tostring):find("tabs versus spaces", 1, true))
  end)
end)
