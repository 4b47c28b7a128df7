#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The man pages (docs/man): capverify(1), libcapverify(3) and the generated capverifyd(8) pass
# `mandoc -Tlint` at warning level and render in groff without a warning (lintian's
# groff-message), are installed by `cmake --install`, capverify(1) has a
# section for every command of `capverify --help` (their options: man_options.py, the test
# doc.man_options), and capverifyd(8) has one entry per configuration key of the daemon's
# reference (docs/configuration.md).
#   man.sh BUILD_DIR SOURCE_DIR CAPVERIFY_CLI
set -uo pipefail
build=$1 src=$2 cli=$3
source "$src/tests/tools/missing.sh"
command -v mandoc >/dev/null || capv_missing "mandoc (Debian mandoc)"
command -v man >/dev/null || capv_missing "man (Debian man-db)"
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/usr" >/dev/null
for page in man1/capverify.1 man3/libcapverify.3 man8/capverifyd.8; do
    f=$(find "$tmp/usr" -path "*/$page" | head -1)
    if [ -z "$f" ]; then
        bad "$page installed"
        continue
    fi
    ok "$page installed"
    if out=$(mandoc -Tlint -Wwarning "$f" 2>&1) && [ -z "$out" ]; then
        ok "mandoc -Tlint -Wwarning $page"
    else
        bad "mandoc -Tlint -Wwarning $page" "$out"
    fi
    mandoc -Tutf8 "$f" >/dev/null 2>&1 && ok "mandoc renders $page" || bad "mandoc renders $page"
    # what lintian's groff-message check runs (deb.package): every line can be broken
    out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" \
        2>&1 >/dev/null)
    [ -z "$out" ] && ok "groff renders $page without warnings" ||
        bad "groff renders $page without warnings" "$out"
done
page1=$(find "$tmp/usr" -name capverify.1 | head -1)
missing=""
for c in $("$cli" --help 2>&1 | awk '/^commands:/ { s = 1; next } s && /^  [a-z]/ { print $1 } s && /^$/ { s = 0 }'); do
    grep -q "^\.Ss $c\b" "$page1" || missing+=" $c"
done
[ -z "$missing" ] && ok "capverify(1) has a section for every command of capverify --help" ||
    bad "commands missing from capverify(1)" "$missing"
page8=$(find "$tmp/usr" -name capverifyd.8 | head -1)
want=$("$build/capverifyd/capverifyd" --print-config-reference | grep -c '^| `[a-z_0-9]*\.[a-z_0-9.]*` |')
got=$(grep -c '^\.It Cm [a-z_]*\.[a-z_0-9.]* Ar' "$page8")
[ "$want" = "$got" ] && [ "$got" -gt 0 ] && ok "capverifyd(8) has the $got keys of docs/configuration.md" ||
    bad "capverifyd(8) keys" "$got, the configuration reference has $want"
[ "$fails" = 0 ] || exit 1
