-- maskinfo: attention masks in compact form (C11 core + Lua 5.4 module).
--
-- Offline install from a checkout:
--   luarocks make --lua-version=5.4 maskinfo-scm-1.rockspec
--   luarocks make --lua-version=5.4 --tree DIR --deps-mode=none maskinfo-scm-1.rockspec
--
-- The Makefile owns the compiler flags (-std=c11 -fopenmp, -Wl,-z,nodelete):
-- the builtin build type cannot pass them.  SKIP_DEPS=1 keeps the build from
-- running apt-get; the system packages are checked as external dependencies.
rockspec_format = "3.0"
package = "maskinfo"
version = "scm-1"

source = {
   url = "git+file://.",
}

description = {
   summary = "Attention masks in compact form, and the forms derived from them",
   detailed = [[
maskinfo holds an attention mask (segments, padding, causal, window, chunk and
length rules, or arbitrary bit-packed masks) in O(tokens) memory where it can,
and derives segment ids, cu_seqlens, positions, dense masks and biases on
demand.  A C11 core with OpenMP, exposed to Lua 5.4 as `require("maskinfo")`.
]],
   labels = { "attention", "mask", "transformer" },
}

supported_platforms = { "linux" }

dependencies = {
   "lua >= 5.4, < 5.5",
}

external_dependencies = {
   PNG = { header = "png.h", library = "png" },
}

build = {
   type = "make",
   build_target = "lib",
   build_variables = {
      CC = "$(CC)",
      CFLAGS = "$(CFLAGS)",
      LIBFLAG = "$(LIBFLAG)",
      LUA = "$(LUA)",
      LUA_INCDIR = "$(LUA_INCDIR)",
      SKIP_DEPS = "1",
   },
   install_target = "install",
   install_variables = {
      CC = "$(CC)",
      PREFIX = "$(PREFIX)",
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
      BINDIR = "$(BINDIR)",
      LUA_INCDIR = "$(LUA_INCDIR)",
      SKIP_DEPS = "1",
   },
}
