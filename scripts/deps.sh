#!/usr/bin/env bash
# deps.sh - make sure the Debian packages maskinfo needs are installed.
#
# Checks each package with dpkg-query and apt-get installs only the missing
# ones (apt-get update runs first, and only then).  Silent when everything is
# present.  Runs apt-get directly as root, through sudo otherwise.
#
# A stamp (build/.deps-ok) newer than dpkg's database and naming the same
# package list skips the check, so repeated `make test` calls cost nothing;
# any package install or removal touches the database, and a change to the
# list below, invalidate the stamp.  Called by `make run`, `make test` and
# .ci/run only: `make`, `make install` and `make bench` never install.
#
#   scripts/deps.sh            check, install what is missing
#   scripts/deps.sh --check    only report; exit 1 if something is missing
#   scripts/deps.sh --force    ignore the stamp
#   MASKINFO_SKIP_DEPS=1       skip everything (a system you manage yourself)
set -euo pipefail

# lua-check: luacheck, a suite of make test.  lua-argparse: the maskinfo
# command's parser; lua-cjson: mi.from_hf_config.  python3-numpy: the NumPy
# checks of the kernel formats in make test (also make fixtures).
# libfreetype-dev, fonts-dejavu-core: figure text.  libxml2-utils,
# librsvg2-bin: the SVG checks (xmllint, rsvg-convert) in make test.
PACKAGES=(lua5.4 liblua5.4-dev lua-busted lua-check lua-argparse lua-cjson libpng-dev libfreetype-dev fonts-dejavu-core luarocks gcc libgomp1 make pkg-config python3-numpy libxml2-utils librsvg2-bin)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stamp="${MASKINFO_DEPS_STAMP:-$here/build/.deps-ok}"
dpkg_db=/var/lib/dpkg/status

check_only=0
force=0
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        --force) force=1 ;;
        -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
        *) echo "deps.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

if [ "${MASKINFO_SKIP_DEPS:-0}" = 1 ]; then
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian system (no dpkg-query); cannot check packages." >&2
    echo "deps.sh: make sure the equivalents of these are installed: ${PACKAGES[*]}" >&2
    exit 0
fi

if [ "$force" = 0 ] && [ "$check_only" = 0 ] && [ -f "$stamp" ] && [ "$stamp" -nt "$dpkg_db" ] &&
   [ "$(cat "$stamp" 2>/dev/null)" = "${PACKAGES[*]}" ]; then
    exit 0
fi

missing_packages() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        if [ "$status" != installed ]; then
            printf '%s\n' "$p"
        fi
    done
}

mapfile -t missing < <(missing_packages)

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$check_only" = 1 ]; then
        echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
        exit 1
    fi
    if [ "$(id -u)" = 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
        echo "deps.sh: not root and no sudo; run as root:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "deps.sh: installing missing Debian packages: ${missing[*]}"
    apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "deps.sh: still missing after apt-get install: ${missing[*]}" >&2
        exit 1
    fi
    echo "deps.sh: done"
fi

if [ "$check_only" = 0 ]; then
    mkdir -p "$(dirname "$stamp")"
    printf '%s\n' "${PACKAGES[*]}" > "$stamp"
fi
