--- The maskinfo command: its argument parser (lua-argparse) and main().
--
-- Parsing runs in two steps.  A first pass finds the subcommand and, for
-- the commands that take a recipe, the recipe's name or path; the recipe
-- is loaded and its declared parameters become options of that command
-- (`--window 4096`, besides `--set window=4096`).  Then argparse parses
-- the whole line, refusing unknown options and extra arguments.
-- @module maskinfo.cli

local argparse = require("argparse")
local mi = require("maskinfo")
local CE = require("maskinfo.cli.errors")
local commands = require("maskinfo.cli.commands")
local model = require("maskinfo.cli.model")
local render_cmd = require("maskinfo.cli.render")
local export_cmd = require("maskinfo.cli.export")

local C = {}

-- The subcommands that take a recipe whose parameters become options.
local RECIPE_COMMANDS = { show = true, info = true, render = true, export = true }

-- Options that take no value, per subcommand (for the first pass); every
-- other option takes one value.
local FLAGS = { show = { ["--ascii"] = true }, render = render_cmd.FLAGS, export = export_cmd.FLAGS }

-- Option names of each subcommand, so that a recipe parameter of the same
-- name is left to --set.
local taken = {}

local function opt(cmd, spec, desc, argname)
  local o = cmd:option(spec, desc)
  if argname then o:argname(argname) end
  for name in spec:gmatch("%-%-[%w_-]+") do taken[cmd._name][name] = true end
  return o
end

local function flag(cmd, spec, desc)
  for name in spec:gmatch("%-%-[%w_-]+") do taken[cmd._name][name] = true end
  return cmd:flag(spec, desc)
end

local function command(p, name, desc, epilog)
  local c = p:command(name, desc)
  if epilog then c:epilog(epilog) end
  taken[name] = { ["--help"] = true }
  return c
end

local RECIPE_HELP = "A built-in recipe name (maskinfo list), a NAME.lua found on MASKINFO_RECIPE_PATH, or a path to a recipe file."
local PARAM_EPILOG = "Recipe parameters: --set NAME=VALUE, or --NAME VALUE for the parameters the recipe declares "
  .. "(maskinfo show RECIPE --help lists them)."

local function recipe_args(c)
  c:argument("recipe", RECIPE_HELP)
  opt(c, "--set", "Set a recipe parameter (repeatable).", "<name=value>"):count("*")
end

local function picture_args(c)
  opt(c, "--batch", "Batch row to show (default 0).", "<b>")
  opt(c, "--heads", "Heads to show: a number, a list (0,2) or all (default 0).", "<heads>")
  opt(c, "--layers", "Layers to show: a number (1-based), a list (1,3) or all (default 1).", "<layers>")
end

--- The argparse parser, with the options of recipe r (if any) on the
-- subcommand cmd_name.
function C.parser(r, cmd_name)
  local p = argparse("maskinfo", "Attention-mask recipes: list, check, show, render and export them, and the "
    .. "masks of a model's config.json.")
  p:epilog("Exit status: 0 success, 1 runtime failure, 2 usage error.  "
    .. "'maskinfo help COMMAND' or 'maskinfo COMMAND --help' describes a command.  Reference: docs/cli.md.")
  p:help_max_width(88)
  p:command_target("command")
  p:require_command(false)
  p:flag("--version", "Print the version and exit."):action(function()
    print("maskinfo " .. mi._VERSION)
    os.exit(0)
  end)

  command(p, "list", "List the built-in recipes with their descriptions.")
  local show = command(p, "show", "Print a recipe's mask as text (the seed's visualize).", PARAM_EPILOG)
  recipe_args(show)
  picture_args(show)
  opt(show, "--block", "Cells per character block (default 1).", "<n>")
  flag(show, "--ascii", "Plain ASCII instead of block characters.")
  local info = command(p, "info", "Print shape, allowed cells, density, empty rows and baked-in rules of each layer.",
    PARAM_EPILOG)
  recipe_args(info)
  opt(info, "--layers", "Layers to describe: a number, a list or all (default all).", "<layers>")
  local render = command(p, "render", "Render a recipe to a PNG or SVG (by the extension).", PARAM_EPILOG)
  recipe_args(render)
  render_cmd.add_command(render, opt, flag)
  local export = command(p, "export", "Write a recipe's layer, or a mask in a .npy file, for another program: the "
    .. "dense mask, one kernel's tables (--format) or the row intervals as JSON.", PARAM_EPILOG)
  recipe_args(export)
  export_cmd.add_command(export, opt, flag)
  local check = command(p, "check", "Check a recipe: parameters, defaults, its examples, and a brute-force dense "
    .. "comparison at its small size.")
  check:argument("recipe", RECIPE_HELP)
  local new = command(p, "new", "Write a new recipe file with parameters and examples that pass check.")
  new:argument("name", "The recipe's name (letters, digits, _).")
  opt(new, "-o --output", "The file to write (default NAME.lua).", "<file>")
  flag(new, "--force", "Overwrite an existing file.")
  local gallery = command(p, "gallery", "Render every built-in recipe (every layer and head) to DIR/NAME.png, and "
    .. "their first panels to DIR/grid.png.")
  gallery:argument("dir", "Output directory (default build/gallery)."):args("?")
  opt(gallery, "--scale", "Pixels per cell.", "<s>")
  opt(gallery, "--colormap", "grey, viridis or magma.", "<name>"):choices({ "grey", "viridis", "magma" })
  flag(gallery, "--small", "Build each recipe at its small size instead of its defaults.")
  local demo = command(p, "demo", "The seed's examples as text, then the gallery at small sizes in DIR.")
  demo:argument("dir", "Output directory (default build/gallery)."):args("?")
  model.add_command(command(p, "model", "Per-layer masks of a Hugging Face config.json, built as transformers' "
    .. "masking_utils does: a table of every layer, and a picture of the distinct ones."), opt)
  local completion = command(p, "completion", "Print a shell completion script (bash, zsh or fish).")
  completion:argument("shell", "The shell."):choices({ "bash", "zsh", "fish" })
  local help = command(p, "help", "Show the help of a command.")
  help:argument("topic", "A command."):args("?")

  if r and cmd_name then
    local c
    for _, x in ipairs(p._commands) do
      if x._name == cmd_name then c = x end
    end
    for _, spec in ipairs(r.params) do
      local name = "--" .. spec.name
      if not taken[cmd_name][name] then
        local range = spec.type == "enum" and table.concat(spec.values, "|") or spec.type
        c:option(name, ("Recipe parameter: %s (%s, default %s)."):format(spec.doc, range, tostring(spec.default)))
          :argname("<" .. spec.name .. ">"):target("param_" .. spec.name)
      end
    end
  end
  -- A usage error from argparse raises ours (exit 2) instead of exiting 1.
  p.error = function(self, msg) CE.usage(msg, self ~= p and self._name or nil) end
  return p
end

-- First pass: the subcommand and, for a recipe command, the recipe
-- argument (or nil).
local function prescan(argv)
  local i, cmd = 1, nil
  while i <= #argv do
    if argv[i] == "--" then return nil end
    if argv[i]:sub(1, 1) ~= "-" then
      cmd = argv[i]
      break
    end
    i = i + 1
  end
  if not RECIPE_COMMANDS[cmd] then return cmd, nil end
  local flags = FLAGS[cmd] or {}
  i = i + 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then return cmd, argv[i + 1] end
    if a:sub(1, 2) == "--" then
      if not a:find("=", 1, true) and not flags[a] and a ~= "--help" then i = i + 1 end
    elseif a:sub(1, 1) ~= "-" or a == "-" then
      return cmd, a
    end
    i = i + 1
  end
  return cmd, nil
end

local function wants_help(argv)
  for _, a in ipairs(argv) do
    if a == "--" then return false end
    if a == "-h" or a == "--help" then return true end
  end
  return false
end

-- "--opt -1" as "--opt=-1": argparse would read a value starting with '-'
-- as an option ("unknown option '-1'") instead of handing it to the check
-- that says what the option accepts.
local function join_negative(argv)
  local out = {}
  local i = 1
  while i <= #argv do
    local a, b = argv[i], argv[i + 1]
    if a == "--" then
      table.move(argv, i, #argv, #out + 1, out)
      break
    end
    if b and a:match("^%-%-[%w-]+$") and b:match("^%-%d") then
      out[#out + 1] = a .. "=" .. b
      i = i + 2
    else
      out[#out + 1] = a
      i = i + 1
    end
  end
  return out
end

local function run(argv)
  argv = join_negative(argv)
  local cmd, rname = prescan(argv)
  local r
  if rname and not (cmd == "export" and export_cmd.is_file(rname)) then
    local err, status
    r, err, status = require("maskinfo.recipes").load(rname)
    if not r and not wants_help(argv) then
      if status == "EIO" then CE.usage(err, cmd) end
      CE.runtime(err)
    end
  end
  local p = C.parser(r, cmd)
  local args = p:parse(argv)
  if not args.command then
    io.write(p:get_help(), "\n")
    return CE.EXIT_OK
  end
  if args.command == "help" then
    if not args.topic then
      io.write(p:get_help(), "\n")
      return CE.EXIT_OK
    end
    for _, c in ipairs(p._commands) do
      if c._name == args.topic then
        io.write(c:get_help(), "\n")
        return CE.EXIT_OK
      end
    end
    CE.usage(("no command '%s' (see maskinfo --help)"):format(args.topic))
  end
  if args.command == "completion" then
    io.write(p["get_" .. args.shell .. "_complete"](p))
    return CE.EXIT_OK
  end
  if args.command == "model" then return model.run(args) end
  if args.command == "render" then return render_cmd.run(args, r) end
  if args.command == "gallery" then return render_cmd.gallery(args) end
  if args.command == "demo" then return render_cmd.demo(args) end
  if args.command == "export" then return export_cmd.run(args, r) end
  return commands[args.command](args, r)
end

--- Run the command line argv (a list of strings); returns the exit code.
-- Messages go to stderr as "maskinfo: message".
function C.main(argv)
  local ok, res = xpcall(run, function(e)
    if CE.is_failure(e) then return e end
    return { msg = tostring(e), code = CE.EXIT_RUNTIME, trace = debug.traceback() }
  end, argv)
  -- an error inside the handler (out of memory) arrives as it is
  if not ok and type(res) ~= "table" then res = { msg = tostring(res), code = CE.EXIT_RUNTIME } end
  io.stdout:flush()
  if ok then return res or CE.EXIT_OK end
  io.stderr:write("maskinfo: ", res.msg, "\n")
  if res.code == CE.EXIT_USAGE then
    io.stderr:write(("Try 'maskinfo %s--help'.\n"):format(res.cmd and (res.cmd .. " ") or ""))
  end
  if res.trace and os.getenv("MASKINFO_DEBUG") == "1" then io.stderr:write(res.trace, "\n") end
  return res.code
end

return C
