#!/usr/bin/env lua5.4
--- maskinfo: attention-mask recipes on the command line (lua/maskinfo/cli;
-- `maskinfo --help`, docs/cli.md).
if not package.searchpath("argparse", package.path) then
  -- A LUA_PATH without ";;" drops Lua's default directories, where the
  -- system's lua-argparse lives: look there too, after everything else.
  package.path = package.path .. ";/usr/local/share/lua/5.4/?.lua;/usr/share/lua/5.4/?.lua"
end
os.exit(require("maskinfo.cli").main(arg))
