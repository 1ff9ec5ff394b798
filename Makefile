# maskinfo - GNU make build.
#
#   make              build build/libmaskinfo.a and build/maskinfo/core.so
#   make run          build, then run scripts/maskinfo.lua (ARGS="..." passes arguments)
#   make test         build, run every C test, the busted specs and luacheck; the
#                     last line is "N passed, N failed" summed over all suites
#   make bench        run bench/*.lua, if any
#   make sanitize     rebuild with ASan/UBSan/LSan and run the C tests and
#                     the busted specs, leak detection on (SANITIZE_BUSTED=0:
#                     the C tests only)
#   make oomtest      the public Lua API with Lua's allocations failing one by
#                     one, under ASan/LSan (core/oom): 0 crashes, 0 leaks
#   make fuzz         build the libFuzzer targets core/fuzz/fuzz_*.c with clang
#                     and run each for FUZZ_TIME seconds (default 60) from its
#                     corpus core/fuzz/corpus/<target>
#   make install      copy the Lua modules (lua/maskinfo/**) to $(LUADIR), core.so
#                     to $(LIBDIR)/maskinfo and the maskinfo command to $(BINDIR)
#   make uninstall    remove all of that again, and the directories install created
#   make fixtures     regenerate tests/fixtures ($(PYTHON) tests/gen/generate.py;
#                     needs python3-numpy; a maintainer tool, not part of make test)
#   make deps         install the missing Debian packages (scripts/deps.sh)
#   make version      print the version (MASKINFO_VERSION_STRING in maskinfo.h)
#   make clean        remove build/
#
# Only `run` and `test` first run scripts/deps.sh, which apt-get installs any
# missing Debian package (SKIP_DEPS=1 skips that); `make`, `make install` and
# `make bench` never do.  Knobs: V=1 shows commands, WERROR=1 turns warnings
# into errors, BUILD=dir moves the build directory, CFLAGS (default -O2), CC,
# LDFLAGS, PREFIX (/usr/local), DESTDIR, NO_CTESTS=1 / NO_BUSTED=1 /
# NO_LUACHECK=1 skip a kind of suite.  LuaRocks (maskinfo-scm-1.rockspec,
# `luarocks make --lua-version=5.4 ...`) passes CFLAGS, LIBFLAG, LUA_INCDIR,
# PNG_INCDIR, PNG_LIBDIR, LUADIR, LIBDIR and BINDIR.

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
PNG_INCDIR ?=
PNG_LIBDIR ?=
LUACHECK   ?= luacheck
# Debian's NumPy (python3-numpy) belongs to /usr/bin/python3, not to a python3
# that a version manager put first on PATH.
PYTHON     ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
# install records what it created here (files and new directories), so that
# uninstall removes exactly that; empty: no record (luarocks keeps its own).
INSTALL_MANIFEST ?= $(LIBDIR)/maskinfo/.install-manifest
VERSION     = $(shell awk -F'"' '/define MASKINFO_VERSION_STRING/ { print $$2 }' core/include/maskinfo.h)

# The house flags; CFLAGS only adds to them, so luarocks' "-O2 -fPIC" cannot
# drop -std=c11 or -fopenmp.
WARN_FLAGS  = -Wall -Wextra -Wshadow -Wstrict-prototypes $(if $(filter 1,$(WERROR)),-Werror)
BASE_CFLAGS = -std=c11 $(WARN_FLAGS) -fPIC -fopenmp -MMD -MP

# Recursive (=) on purpose: pkg-config may only exist once `deps` has run,
# and these are expanded when the recipes run, after it.  PNG_INCDIR and
# PNG_LIBDIR (set by luarocks from external_dependencies) win over pkg-config.
PNG_CFLAGS = $(if $(PNG_INCDIR),-I$(PNG_INCDIR),$(shell $(PKG_CONFIG) --cflags libpng 2>/dev/null))
PNG_LIBS   = $(if $(PNG_LIBDIR),-L$(PNG_LIBDIR) -lpng,$(or $(shell $(PKG_CONFIG) --libs libpng 2>/dev/null),-lpng))
# FreeType (text in figures): pkg-config freetype2, Debian's paths otherwise.
FT_CFLAGS  = $(or $(shell $(PKG_CONFIG) --cflags freetype2 2>/dev/null),-I/usr/include/freetype2)
FT_LIBS    = $(or $(shell $(PKG_CONFIG) --libs freetype2 2>/dev/null),-lfreetype)
LUA_CFLAGS = $(if $(LUA_INCDIR),-I$(LUA_INCDIR),$(or $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null),-I/usr/include/lua5.4))

# core/ has no Lua: its include path never contains the Lua headers.
CORE_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(CPPFLAGS) -Icore/include -Icore/src $(PNG_CFLAGS) $(FT_CFLAGS)
LUAB_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(CPPFLAGS) -Icore/include $(LUA_CFLAGS) $(PNG_CFLAGS)
LINK_LIBS   = $(PNG_LIBS) $(FT_LIBS) -fopenmp -lm

# Passed on to scripts/run_tests.sh when given (make test BUSTED_ARGS=tests/x_spec.lua).
export BUSTED_ARGS NO_CTESTS NO_BUSTED NO_LUACHECK TEST_TIMEOUT LUACHECK

# ---------------------------------------------------------------- files
CORE_SRC  := $(sort $(wildcard core/src/*.c))
CORE_OBJ  := $(patsubst core/src/%.c,$(BUILD)/obj/core/%.o,$(CORE_SRC))
TEST_SRC  := $(sort $(wildcard core/tests/test_*.c))
TEST_BIN  := $(patsubst core/tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
# Every .lua under lua/maskinfo, at any depth, found when make runs: a new
# module or subdirectory needs no edit here.
rwildcard  = $(foreach d,$(wildcard $(1:=/*)),$(call rwildcard,$(d),$(2)) $(filter $(subst *,%,$(2)),$(d)))
LUA_MODS  := $(sort $(call rwildcard,lua/maskinfo,*.lua))
BIND_SRC  := $(sort $(wildcard lua/*.c))
BIND_OBJ  := $(patsubst lua/%.c,$(BUILD)/obj/lua/%.o,$(BIND_SRC))
STATIC    := $(BUILD)/libmaskinfo.a
MODULE    := $(BUILD)/maskinfo/core.so
BENCHES   := $(sort $(wildcard bench/*.lua))

# Lua finds the modules in the tree (lua/) and the C module in $(BUILD).
ABS_BUILD := $(abspath $(BUILD))
LUA_ENV    = LUA_PATH_5_4='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' \
             LUA_CPATH_5_4='$(ABS_BUILD)/?.so;;'

# Only these goals install missing Debian packages first; everything that
# compiles waits for that check (order-only).  `make`, `make install` and
# `make bench` never call apt-get.
DEPS_GOALS := run test check
DEPS_FIRST := $(if $(filter 1,$(SKIP_DEPS)),,$(if $(filter $(DEPS_GOALS),$(MAKECMDGOALS)),deps))

ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-6s %s\n'
endif

# ---------------------------------------------------------------- targets
.PHONY: all lib deps tests test check sanitize oomtest fuzz run bench install uninstall fixtures version clean help

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
	@$(if $(filter 1,$(NO_CTESTS)),:,$(MAKE) --no-print-directory -k SKIP_DEPS=1 tests || true)
	@$(LUA_ENV) LUA='$(LUA)' BUSTED='$(BUSTED)' scripts/run_tests.sh $(TEST_BIN)

check: test

# Sanitizers: the core and every C test rebuilt with AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer in $(BUILD)/sanitize, then
# run; any report fails the run.  The busted specs run too (SANITIZE_BUSTED=0
# skips them), leak detection on, against the sanitized core.so in a Lua
# interpreter with ASan linked in (core/oom/luahost.c), so that the
# programs the specs start are not sanitized themselves.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SANITIZE_BUSTED ?= 1
SAN_LUA := $(BUILD)/sanitize/luahost
LUA_LIBS = $(or $(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null),-llua5.4)
$(SAN_LUA): core/oom/luahost.c | $(DEPS_FIRST)
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(WARN_FLAGS) $(SAN_FLAGS) $(LUA_CFLAGS) -o $@ $< -fsanitize=address,undefined $(LUA_LIBS) -lm

# The specs' child processes (plain lua5.4: the CLI, doc examples) load the
# regular module from $(BUILD), so it is built first.
sanitize: $(DEPS_FIRST) lib
	@$(MAKE) --no-print-directory SKIP_DEPS=1 BUILD='$(BUILD)/sanitize' \
	    CFLAGS='$(SAN_FLAGS)' LDFLAGS='-fsanitize=address,undefined' lib tests
	@$(MAKE) --no-print-directory SKIP_DEPS=1 '$(SAN_LUA)'
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    NO_BUSTED=$(if $(filter 1,$(SANITIZE_BUSTED)),,1) NO_LUACHECK=1 \
	    LUA_PATH_5_4='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' \
	    LUA_CPATH_5_4='$(abspath $(BUILD)/sanitize)/?.so;;' \
	    LUA='$(SAN_LUA)' BUSTED='$(BUSTED)' scripts/run_tests.sh $(patsubst $(BUILD)/%,$(BUILD)/sanitize/%,$(TEST_BIN))

# The allocation-failure test: one host program (core + binding + Lua,
# ASan/LSan) runs core/oom/cases.lua; see core/oom/oomhost.c.
OOM_BIN := $(BUILD)/oom/oomhost
$(OOM_BIN): core/oom/oomhost.c $(CORE_SRC) $(BIND_SRC) $(wildcard core/src/*.h lua/*.h) core/include/maskinfo.h | $(DEPS_FIRST)
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(WARN_FLAGS) -fopenmp $(SAN_FLAGS) -Icore/include -Icore/src $(LUA_CFLAGS) $(PNG_CFLAGS) $(FT_CFLAGS) \
	    -o $@ core/oom/oomhost.c $(CORE_SRC) $(BIND_SRC) -fsanitize=address,undefined \
	    $(LUA_LIBS) $(LINK_LIBS)

oomtest: $(OOM_BIN)
	@ASAN_OPTIONS=detect_leaks=1 $(OOM_BIN) core/oom/cases.lua

# Fuzzing: every core/fuzz/fuzz_<name>.c is a libFuzzer target, built with
# clang (Debian clang) with ASan/UBSan into $(BUILD)/fuzz/fuzz_<name>, and
# run for FUZZ_TIME seconds on a copy of its committed seed corpus
# core/fuzz/corpus/<name> (new inputs go to $(BUILD)/fuzz/corpus/<name>).
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_SRC   := $(sort $(wildcard core/fuzz/fuzz_*.c))
FUZZ_BIN   := $(patsubst core/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS  = -std=c11 -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
              -Icore/include -Icore/src -Icore/tests $(PNG_CFLAGS) $(FT_CFLAGS)

$(BUILD)/fuzz/fuzz_%: core/fuzz/fuzz_%.c $(CORE_SRC) $(wildcard core/src/*.h core/tests/*.h core/fuzz/*.h) core/include/maskinfo.h | $(DEPS_FIRST)
	$(say) CLANG $@
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(CORE_SRC) $(PNG_LIBS) $(FT_LIBS) -lm

fuzz: $(FUZZ_BIN)
	@for bin in $(FUZZ_BIN); do \
	    name=$${bin##*/fuzz_}; seeds=core/fuzz/corpus/$$name; work='$(BUILD)'/fuzz/corpus/$$name; \
	    log='$(BUILD)'/fuzz/fuzz_$$name.log; mkdir -p "$$work"; \
	    OMP_NUM_THREADS=1 "$$bin" -max_total_time=$(FUZZ_TIME) -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix='$(BUILD)'/fuzz/fuzz_$$name- "$$work" $$( [ -d "$$seeds" ] && echo "$$seeds" ) >"$$log" 2>&1; \
	    rc=$$?; runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' "$$log"); \
	    if [ "$$rc" -ne 0 ]; then \
	        grep -E 'ERROR|SUMMARY|runtime error|^fuzz_|Test unit written' "$$log" | head -n 20; \
	        echo "fuzz_$$name: FAILED after $${runs:-?} runs (log $$log)"; exit 1; \
	    fi; \
	    echo "fuzz_$$name: $$runs runs in $(FUZZ_TIME) s, no finding"; \
	done

run: all
	@if [ -f scripts/maskinfo.lua ]; then \
	    $(LUA_ENV) $(LUA) scripts/maskinfo.lua $(or $(ARGS),demo); \
	else \
	    echo "maskinfo: built $(MODULE); scripts/maskinfo.lua is not written yet, nothing to run."; \
	fi

# bench/targets.lua times writing fresh memory with bench/tools/floor.c
# (built here, installed nowhere) and the seed's NumPy algorithms with
# $(PYTHON) when it imports numpy.
bench: all
	@mkdir -p '$(BUILD)/bench'
	$(Q)$(CC) -std=c11 $(WARN_FLAGS) $(CFLAGS) -o '$(BUILD)/bench/floor' bench/tools/floor.c
	@$(if $(BENCHES),set -e; $(foreach b,$(BENCHES),echo "== $(b)"; MASKINFO_FLOOR='$(ABS_BUILD)/bench/floor' PYTHON='$(PYTHON)' $(LUA_ENV) $(LUA) $(b) $(ARGS);),echo "no benchmarks yet (bench/*.lua)")

# install copies each file with its mode and creates the directories it needs;
# every file and every directory it had to create go into $(INSTALL_MANIFEST)
# (paths without DESTDIR; merged with an earlier record).  uninstall removes
# the recorded files and those this checkout would install, then the recorded
# directories and maskinfo's own ones, deepest first and only when empty:
# a directory that existed before install ($(PREFIX)/bin, share/lua/5.4, ...)
# is never recorded, so never removed.
install: lib
	@set -e; dest='$(DESTDIR)'; manifest='$(INSTALL_MANIFEST)'; \
	rec=$$(mktemp "$${TMPDIR:-/tmp}/maskinfo-install.XXXXXX"); trap 'rm -f "$$rec"' EXIT; \
	mkdirs() { \
	    d=$$1; \
	    while [ "$$d" != / ] && [ "$$d" != . ] && [ ! -d "$$dest$$d" ]; do \
	        printf 'd %s\n' "$$d" >> "$$rec"; d=$$(dirname "$$d"); \
	    done; \
	    mkdir -p "$$dest$$1"; \
	}; \
	put() { \
	    mkdirs "$$(dirname "$$3")"; \
	    $(if $(Q),printf '  %-6s %s\n' INSTALL "$$dest$$3",echo install -m "$$1" "$$2" "$$dest$$3"); \
	    install -m "$$1" "$$2" "$$dest$$3"; \
	    printf 'f %s\n' "$$3" >> "$$rec"; \
	}; \
	$(foreach m,$(LUA_MODS),put 644 '$(m)' '$(LUADIR)/$(patsubst lua/%,%,$(m))';) \
	put 755 '$(MODULE)' '$(LIBDIR)/maskinfo/core.so'; \
	put 755 scripts/maskinfo.lua '$(BINDIR)/maskinfo'; \
	if [ -n "$$manifest" ]; then \
	    mkdirs "$$(dirname "$$manifest")"; \
	    if [ -f "$$dest$$manifest" ]; then cat "$$dest$$manifest" >> "$$rec"; fi; \
	    LC_ALL=C sort -u "$$rec" > "$$dest$$manifest.tmp"; \
	    mv -f "$$dest$$manifest.tmp" "$$dest$$manifest"; \
	fi

uninstall:
	@set -e; dest='$(DESTDIR)'; manifest='$(INSTALL_MANIFEST)'; \
	dirs=$$(mktemp "$${TMPDIR:-/tmp}/maskinfo-uninstall.XXXXXX"); trap 'rm -f "$$dirs"' EXIT; \
	rmf() { \
	    if [ -e "$$1" ] || [ -L "$$1" ]; then \
	        $(if $(Q),printf '  %-6s %s\n' RM "$$1",echo rm -f "$$1"); rm -f "$$1"; \
	    fi; \
	}; \
	if [ -n "$$manifest" ] && [ -f "$$dest$$manifest" ]; then \
	    while IFS= read -r line; do \
	        case $$line in \
	            "f "*) rmf "$$dest$${line#f }" ;; \
	            "d "*) printf '%s\n' "$${line#d }" >> "$$dirs" ;; \
	        esac; \
	    done < "$$dest$$manifest"; \
	    rmf "$$dest$$manifest"; \
	fi; \
	$(foreach m,$(LUA_MODS),rmf '$(DESTDIR)$(LUADIR)/$(patsubst lua/%,%,$(m))';) \
	rmf '$(DESTDIR)$(LIBDIR)/maskinfo/core.so'; \
	rmf '$(DESTDIR)$(BINDIR)/maskinfo'; \
	printf '%s\n' '$(LIBDIR)/maskinfo' >> "$$dirs"; \
	for d in $(foreach d,$(sort $(patsubst lua/%/,%,$(dir $(LUA_MODS)))),'$(d)'); do \
	    while :; do \
	        printf '%s/%s\n' '$(LUADIR)' "$$d" >> "$$dirs"; \
	        case $$d in */*) d=$${d%/*} ;; *) break ;; esac; \
	    done; \
	done; \
	LC_ALL=C sort -r -u "$$dirs" | \
	    while IFS= read -r d; do \
	        if [ -n "$$d" ] && [ -d "$$dest$$d" ] && rmdir "$$dest$$d" 2>/dev/null; then \
	            $(if $(Q),printf '  %-6s %s\n' RMDIR "$$dest$$d",echo rmdir "$$dest$$d"); \
	        fi; \
	    done

# tests/fixtures is generated by tests/gen/generate.py (a NumPy port of the
# reference); it rewrites the files byte for byte, so `git diff --exit-code
# tests/fixtures` afterwards shows whether the checked-in fixtures are current.
fixtures:
	@if [ ! -f tests/gen/generate.py ]; then \
	    echo "make fixtures: tests/gen/generate.py does not exist in this checkout; nothing can regenerate tests/fixtures" >&2; \
	    exit 1; \
	fi
	@if ! '$(PYTHON)' -c 'import numpy' 2>/dev/null; then \
	    echo "make fixtures: $(PYTHON) cannot import numpy; install it with: apt-get install python3-numpy (or set PYTHON=...)" >&2; \
	    exit 1; \
	fi
	'$(PYTHON)' tests/gen/generate.py

# docs/gallery.md and docs/gallery/NAME.png, generated from the recipe
# library by lua/maskinfo/cli/gallery.lua (tests/gallery_spec.lua checks the
# committed page is current).
.PHONY: gallery
gallery: lib
	@rm -f docs/gallery/*.png
	@mkdir -p docs/gallery
	$(Q)$(LUA_ENV) $(LUA) -e 'require("maskinfo.cli.gallery").main("docs/gallery.md", "docs/gallery")'

version:
	@echo '$(VERSION)'

clean:
	rm -rf '$(BUILD)'

help:
	@echo 'maskinfo $(VERSION)'
	@awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' Makefile

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(TEST_BIN:=.d)
