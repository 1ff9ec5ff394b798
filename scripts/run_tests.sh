#!/usr/bin/env bash
# run_tests.sh - run every test suite and print one total line.
#
#   scripts/run_tests.sh [C test binaries...]
#
# Runs each C test binary, then busted (pinned to Lua 5.4, configured by
# .busted), then luacheck over lua scripts tests bench (configured by
# .luacheckrc; one suite: 1 passed if clean, 1 failed with the warnings
# shown otherwise).  Suite output stays visible; each suite's own summary is
# replaced by a short tagged line so that the last line of the run,
#
#   N passed, N failed
#
# is the only one of that form.  C tests end with that line themselves;
# busted's "N successes / N failures / N errors / N pending" is parsed and
# errors count as failures (pending ones are listed, not counted).  A suite
# that crashes, or exits without its summary line, counts as one failure.
# The exit status is 0 only if nothing failed.
#
# Environment: LUA (default lua5.4), BUSTED (default: busted on PATH),
# BUSTED_ARGS (extra arguments, e.g. a spec file or --filter=...),
# LUACHECK (default luacheck), LUACHECK_PATHS (default "lua scripts tests
# bench"), NO_BUSTED=1 / NO_CTESTS=1 / NO_LUACHECK=1 to skip a kind of suite,
# TEST_TIMEOUT (seconds per suite, default 1200; a suite that hits it counts
# as crashed).
set -uo pipefail

LUA=${LUA:-lua5.4}
BUSTED=${BUSTED:-$(command -v busted || echo /usr/bin/busted)}
BUSTED_ARGS=${BUSTED_ARGS:-}
TEST_TIMEOUT=${TEST_TIMEOUT:-1200}
LUACHECK=${LUACHECK:-luacheck}
LUACHECK_PATHS=${LUACHECK_PATHS:-lua scripts tests bench}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

total_pass=0
total_fail=0
failed_suites=()
log=$(mktemp "${TMPDIR:-/tmp}/maskinfo-tests.XXXXXX")
trap 'rm -f "$log"' EXIT

# Describe how a process ended, from its exit status.
describe_status() {
    local rc=$1
    if [ "$rc" -eq 124 ]; then
        echo "timed out after ${TEST_TIMEOUT}s"
    elif [ "$rc" -gt 128 ]; then
        local sig
        sig=$(kill -l "$((rc - 128))" 2>/dev/null || echo "?")
        echo "killed by signal $((rc - 128)) (SIG$sig)"
    else
        echo "exit status $rc"
    fi
}

# Run one C test binary; its output streams through, minus its summary line.
run_c_test() {
    local bin=$1 name rc line p f
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        echo "  [$name] NOT BUILT: see the compiler errors above"
        total_fail=$((total_fail + 1))
        failed_suites+=("$name")
        return
    fi
    # The braces keep bash's own "Segmentation fault" notice out of the way;
    # the CRASHED line below says the same with the suite's name.
    { timeout -k 10 "$TEST_TIMEOUT" "$bin" >"$log" 2>&1; } 2>/dev/null
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$log" | sed "s|^|  [$name] |"
    if [ -z "$line" ]; then
        echo "  [$name] CRASHED: no summary line, $(describe_status "$rc")"
        total_fail=$((total_fail + 1))
        failed_suites+=("$name")
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed}
    total_pass=$((total_pass + p))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # Claims success but exited non-zero (e.g. crashed in cleanup).
        f=1
        echo "  [$name] FAILED: $(describe_status "$rc") after reporting no failure"
    fi
    total_fail=$((total_fail + f))
    if [ "$f" -gt 0 ]; then
        failed_suites+=("$name")
        printf '%-28s %d checks, %d FAILED\n' "$name" "$((p + f))" "$f"
    else
        printf '%-28s %d checks ok\n' "$name" "$p"
    fi
}

run_busted() {
    local rc line s f e pending
    echo "busted (Lua 5.4):"
    # shellcheck disable=SC2086  # BUSTED_ARGS is a word list on purpose
    # busted prints one progress character per test on a single line; with
    # thousands of tests that line says nothing the summary does not, so a
    # long one is dropped from the screen (the details of failures follow it).
    { timeout -k 10 "$TEST_TIMEOUT" "$LUA" "$BUSTED" --ignore-lua -o plainTerminal $BUSTED_ARGS 2>&1 |
        tee "$log" | awk '!(length($0) > 120 && $0 ~ /^[-+*.]+$/)'
      rc=${PIPESTATUS[0]}; } 2>/dev/null
    # A run cut short may leave a line of progress dots unterminated.
    if [ -s "$log" ] && [ -n "$(tail -c 1 "$log")" ]; then echo; fi
    # Strip colour codes before looking for the summary.
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" |
           grep -E '^[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' | tail -n 1)
    if [ -z "$line" ]; then
        echo "busted CRASHED: no summary line, $(describe_status "$rc")"
        total_fail=$((total_fail + 1))
        failed_suites+=(busted)
        return
    fi
    read -r s _ _ f _ _ e _ _ pending _ <<<"$line"
    total_pass=$((total_pass + s))
    f=$((f + e))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "busted FAILED: $(describe_status "$rc") after reporting no failure"
    fi
    total_fail=$((total_fail + f))
    if [ "$f" -gt 0 ]; then failed_suites+=(busted); fi
}

# luacheck exits 0 when clean, 1 with warnings, 2 with syntax errors and
# 3 or more when it could not run; its "Total: ..." line says which.
run_luacheck() {
    local rc line
    if ! command -v "$LUACHECK" >/dev/null 2>&1; then
        echo "luacheck                     NOT RUN: '$LUACHECK' not found (Debian package lua-check; NO_LUACHECK=1 skips)"
        total_fail=$((total_fail + 1))
        failed_suites+=(luacheck)
        return
    fi
    # shellcheck disable=SC2086  # LUACHECK_PATHS is a word list on purpose
    { (cd "$root" && timeout -k 10 "$TEST_TIMEOUT" "$LUACHECK" --no-color --codes -q $LUACHECK_PATHS) >"$log" 2>&1; } 2>/dev/null
    rc=$?
    line=$(grep -E '^Total: ' "$log" | tail -n 1)
    grep -vE '^Total: |^$' "$log" | sed 's|^|  [luacheck] |'
    if [ "$rc" -eq 0 ] && [ -n "$line" ]; then
        total_pass=$((total_pass + 1))
        printf '%-28s %s\n' luacheck "clean (${line#Total: })"
        return
    fi
    total_fail=$((total_fail + 1))
    failed_suites+=(luacheck)
    if [ -n "$line" ] && [ "$rc" -le 2 ]; then
        printf '%-28s %s\n' luacheck "FAILED: ${line#Total: }"
    else
        echo "luacheck CRASHED: no total line, $(describe_status "$rc")"
    fi
}

if [ "${NO_CTESTS:-0}" != 1 ]; then
    if [ "$#" -gt 0 ]; then echo "C tests:"; fi
    for bin in "$@"; do
        run_c_test "$bin"
    done
fi

if [ "${NO_BUSTED:-0}" != 1 ]; then
    run_busted
fi

if [ "${NO_LUACHECK:-0}" != 1 ]; then
    run_luacheck
fi

if [ "${#failed_suites[@]}" -gt 0 ]; then
    echo "failing suites: ${failed_suites[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
