# maskinfo - GNU make build.
#
#   make            build build/libmaskinfo.a and build/maskinfo/core.so
#   make run        build, then run scripts/maskinfo.lua (ARGS="..." passes arguments)
#   make test       build, run every C test and the busted specs; the last line
#                   is "N passed, N failed" summed over all suites
#   make bench      run bench/*.lua, if any
#   make sanitize   rebuild with ASan/UBSan/LSan and run the C tests
#                   (SANITIZE_BUSTED=1: the busted specs too)
#   make install    copy the Lua modules to $(LUADIR) and core.so to $(LIBDIR)
#   make clean      remove build/
#
# `all`, `test` and `run` first run scripts/deps.sh, which apt-get installs any
# missing Debian package (SKIP_DEPS=1 skips that).  Knobs: V=1 shows commands,
# WERROR=1 turns warnings into errors, BUILD=dir moves the build directory,
# CFLAGS (default -O2), CC, LDFLAGS.  luarocks passes CFLAGS, LIBFLAG,
# LUA_INCDIR, LUADIR and LIBDIR (see maskinfo-scm-1.rockspec).

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:

# ---------------------------------------------------------------- settings
BUILD      ?= build
CFLAGS     ?= -O2
LIBFLAG    ?= -shared
LUA        ?= lua5.4
BUSTED     ?= $(or $(shell command -v busted 2>/dev/null),/usr/bin/busted)
PKG_CONFIG ?= pkg-config
AR         ?= ar
PREFIX     ?= /usr/local
LUA_VERSION = 5.4
LUADIR     ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LIBDIR     ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
BINDIR     ?= $(PREFIX)/bin
LUA_INCDIR ?=

# The house flags; CFLAGS only adds to them, so luarocks' "-O2 -fPIC" cannot
# drop -std=c11 or -fopenmp.
WARN_FLAGS  = -Wall -Wextra -Wshadow -Wstrict-prototypes $(if $(filter 1,$(WERROR)),-Werror)
BASE_CFLAGS = -std=c11 $(WARN_FLAGS) -fPIC -fopenmp -MMD -MP

# Recursive (=) on purpose: pkg-config may only exist once `deps` has run,
# and these are expanded when the recipes run, after it.
PNG_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpng 2>/dev/null)
PNG_LIBS   = $(or $(shell $(PKG_CONFIG) --libs libpng 2>/dev/null),-lpng)
LUA_CFLAGS = $(if $(LUA_INCDIR),-I$(LUA_INCDIR),$(or $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null),-I/usr/include/lua5.4))

# core/ has no Lua: its include path never contains the Lua headers.
CORE_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(CPPFLAGS) -Icore/include -Icore/src $(PNG_CFLAGS)
LUAB_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(CPPFLAGS) -Icore/include $(LUA_CFLAGS) $(PNG_CFLAGS)
LINK_LIBS   = $(PNG_LIBS) -fopenmp -lm

# Passed on to scripts/run_tests.sh when given (make test BUSTED_ARGS=tests/x_spec.lua).
export BUSTED_ARGS NO_CTESTS NO_BUSTED TEST_TIMEOUT

# ---------------------------------------------------------------- files
CORE_SRC  := $(sort $(wildcard core/src/*.c))
CORE_OBJ  := $(patsubst core/src/%.c,$(BUILD)/obj/core/%.o,$(CORE_SRC))
TEST_SRC  := $(sort $(wildcard core/tests/test_*.c))
TEST_BIN  := $(patsubst core/tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
LUA_MODS  := $(sort $(wildcard lua/maskinfo/*.lua lua/maskinfo/*/*.lua))
BIND_SRC  := $(sort $(wildcard lua/*.c))
BIND_OBJ  := $(patsubst lua/%.c,$(BUILD)/obj/lua/%.o,$(BIND_SRC))
STATIC    := $(BUILD)/libmaskinfo.a
MODULE    := $(BUILD)/maskinfo/core.so
BENCHES   := $(sort $(wildcard bench/*.lua))

# Lua finds the modules in the tree (lua/) and the C module in $(BUILD).
ABS_BUILD := $(abspath $(BUILD))
LUA_ENV    = LUA_PATH_5_4='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' \
             LUA_CPATH_5_4='$(ABS_BUILD)/?.so;;'

# Everything that compiles waits for the dependency check (order-only).
DEPS_FIRST := $(if $(filter 1,$(SKIP_DEPS)),,deps)

ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-6s %s\n'
endif

# ---------------------------------------------------------------- targets
.PHONY: all lib deps tests test check sanitize run bench install uninstall clean help

all: $(DEPS_FIRST) lib

lib: $(STATIC) $(MODULE)

deps:
	$(Q)MASKINFO_DEPS_STAMP='$(BUILD)/.deps-ok' scripts/deps.sh

$(BUILD)/obj/core/%.o: core/src/%.c | $(DEPS_FIRST)
	$(say) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(CORE_CFLAGS) -c -o $@ $<

$(BUILD)/obj/lua/%.o: lua/%.c | $(DEPS_FIRST)
	$(say) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(LUAB_CFLAGS) -c -o $@ $<

$(STATIC): $(CORE_OBJ)
	$(say) AR $@
	@mkdir -p $(@D)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

# nodelete: libgomp's threads outlive dlclose() at interpreter exit otherwise.
# exclude-libs: only luaopen_maskinfo_core is exported, not the core symbols.
# A module may leave Lua's symbols undefined but no maskinfo_ one: that would
# only fail at require() time, so it fails the build here instead.
$(MODULE): $(BIND_OBJ) $(STATIC)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIBFLAG) -o $@ $(BIND_OBJ) $(STATIC) $(LDFLAGS) $(LINK_LIBS) \
	    -Wl,-z,nodelete -Wl,--exclude-libs,ALL
	@undef=$$(nm -u $@ | awk '$$2 ~ /^maskinfo_/ { printf " %s", $$2 }'); \
	if [ -n "$$undef" ]; then \
	    echo "$@: undefined core symbols (not in core/src/*.c):$$undef" >&2; \
	    rm -f $@; exit 1; \
	fi

# The old binary goes first, so a test that no longer builds cannot run stale.
$(BUILD)/tests/test_%: core/tests/test_%.c $(STATIC) | $(DEPS_FIRST)
	$(say) CC $<
	@mkdir -p $(@D)
	@rm -f $@
	$(Q)$(CC) $(CORE_CFLAGS) -o $@ $< $(STATIC) $(LDFLAGS) $(LINK_LIBS)

tests: $(TEST_BIN)
	@:

# A C test that fails to build is reported as a failed suite (by run_tests.sh)
# instead of stopping the run: the other suites still report.
test: all
	@$(MAKE) --no-print-directory -k SKIP_DEPS=1 tests || true
	@$(LUA_ENV) LUA='$(LUA)' BUSTED='$(BUSTED)' scripts/run_tests.sh $(TEST_BIN)

check: test

# Sanitizers: the core and every C test rebuilt with AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer in $(BUILD)/sanitize, then
# run; any report fails the run.  SANITIZE_BUSTED=1 also runs the busted
# specs against a sanitized core.so (libasan preloaded into lua5.4; leaks of
# the interpreter itself are not checked there).
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
sanitize: $(DEPS_FIRST)
	@$(MAKE) --no-print-directory SKIP_DEPS=1 BUILD='$(BUILD)/sanitize' \
	    CFLAGS='$(SAN_FLAGS)' LDFLAGS='-fsanitize=address,undefined' lib tests
	@ASAN_OPTIONS=detect_leaks=$(if $(filter 1,$(SANITIZE_BUSTED)),0,1) UBSAN_OPTIONS=print_stacktrace=1 \
	    NO_BUSTED=$(if $(filter 1,$(SANITIZE_BUSTED)),,1) \
	    LUA_PATH_5_4='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' \
	    LUA_CPATH_5_4='$(abspath $(BUILD)/sanitize)/?.so;;' \
	    LD_PRELOAD='$(if $(filter 1,$(SANITIZE_BUSTED)),$(shell $(CC) -print-file-name=libasan.so))' \
	    LUA='$(LUA)' BUSTED='$(BUSTED)' scripts/run_tests.sh $(patsubst $(BUILD)/%,$(BUILD)/sanitize/%,$(TEST_BIN))

run: all
	@if [ -f scripts/maskinfo.lua ]; then \
	    $(LUA_ENV) $(LUA) scripts/maskinfo.lua $(ARGS); \
	else \
	    echo "maskinfo: built $(MODULE); scripts/maskinfo.lua is not written yet, nothing to run."; \
	fi

bench: all
	@$(if $(BENCHES),set -e; $(foreach b,$(BENCHES),echo "== $(b)"; $(LUA_ENV) $(LUA) $(b) $(ARGS);),echo "no benchmarks yet (bench/*.lua)")

install: lib
	install -d '$(DESTDIR)$(LUADIR)/maskinfo' '$(DESTDIR)$(LIBDIR)/maskinfo'
	$(foreach m,$(LUA_MODS),install -D -m 644 '$(m)' '$(DESTDIR)$(LUADIR)/$(patsubst lua/%,%,$(m))';)
	install -m 755 '$(MODULE)' '$(DESTDIR)$(LIBDIR)/maskinfo/core.so'
	install -D -m 755 scripts/maskinfo.lua '$(DESTDIR)$(BINDIR)/maskinfo'

uninstall:
	rm -f $(foreach m,$(LUA_MODS),'$(DESTDIR)$(LUADIR)/$(patsubst lua/%,%,$(m))') \
	    '$(DESTDIR)$(LIBDIR)/maskinfo/core.so'
	-rmdir '$(DESTDIR)$(LUADIR)/maskinfo' '$(DESTDIR)$(LIBDIR)/maskinfo' 2>/dev/null

clean:
	rm -rf '$(BUILD)'

help:
	@sed -n '2,15p' Makefile | sed 's/^# \{0,1\}//'

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(TEST_BIN:=.d)
