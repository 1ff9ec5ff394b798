-- maskinfo: attention masks in compact form (C11 core + Lua 5.4 module).
--
-- Offline install from a checkout (run from its root), with the Lua
-- dependencies from Debian (lua-argparse, lua-cjson: scripts/deps.sh):
--   luarocks make --lua-version=5.4 --deps-mode=none maskinfo-scm-1.rockspec
--   luarocks make --lua-version=5.4 --tree DIR --deps-mode=none maskinfo-scm-1.rockspec
-- (Debian's packages are not in a luarocks manifest: without
-- --deps-mode=none luarocks would try to download argparse and lua-cjson.)
-- Offline test run (the busted specs; needs Debian's lua-busted):
--   luarocks test --lua-version=5.4 maskinfo-scm-1.rockspec
--
-- maskinfo-<version>-1.rockspec is the same file for a release (version and
-- source tag differ); keep the two in step (tests/install_spec.lua checks).
--
-- The Makefile owns the compiler flags (-std=c11 -fopenmp, -Wl,-z,nodelete):
-- the builtin build type cannot pass them, so a C compiler with OpenMP
-- (gcc and libgomp) is needed besides libpng.  SKIP_DEPS=1 keeps the build
-- from running apt-get; the system packages are checked as external
-- dependencies.  INSTALL_MANIFEST="" because luarocks keeps its own record.
rockspec_format = "3.0"
package = "maskinfo"
version = "0.2.0-1"

source = {
   url = "git+https://github.com/maskinfo/maskinfo.git",
   tag = "v0.2.0",
}

description = {
   summary = "Attention masks in compact form, and the forms derived from them",
   detailed = [[
maskinfo holds an attention mask (segments, padding, causal, window, chunk and
length rules, or arbitrary bit-packed masks) in O(tokens) memory where it can,
and derives segment ids, cu_seqlens, positions, dense masks and biases on
demand.  A C11 core with OpenMP, exposed to Lua 5.4 as `require("maskinfo")`,
with a `maskinfo` command for a library of recipes.
]],
   homepage = "https://github.com/maskinfo/maskinfo",
   issues_url = "https://github.com/maskinfo/maskinfo/issues",
   license = "MIT",
   labels = { "attention", "mask", "transformer" },
}

supported_platforms = { "linux" }

dependencies = {
   "lua >= 5.4, < 5.5",
   "argparse >= 0.7",
   "lua-cjson >= 2.1",
}

external_dependencies = {
   PNG = { header = "png.h", library = "png" },
   -- the Makefile finds FreeType's include folder through pkg-config
   FREETYPE = { header = "freetype2/ft2build.h", library = "freetype" },
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
      PNG_INCDIR = "$(PNG_INCDIR)",
      PNG_LIBDIR = "$(PNG_LIBDIR)",
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
      PNG_INCDIR = "$(PNG_INCDIR)",
      PNG_LIBDIR = "$(PNG_LIBDIR)",
      INSTALL_MANIFEST = "",
      SKIP_DEPS = "1",
   },
   copy_directories = { "docs" },
}

-- Runs in the checkout, offline: build, then the busted specs (C tests and
-- luacheck are make test's; extra arguments reach make, e.g.
-- `luarocks test --lua-version=5.4 maskinfo-scm-1.rockspec -- NO_CTESTS=0`).
-- busted is not a test_dependency: luarocks would fetch it from the network;
-- the Debian package lua-busted provides it.
test = {
   type = "command",
   command = "make --no-print-directory SKIP_DEPS=1 NO_CTESTS=1 NO_LUACHECK=1 test",
}
