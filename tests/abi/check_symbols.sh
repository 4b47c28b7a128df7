#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shared library exports exactly the committed symbol list, and only capv_* names.
# With DEBIAN_SYMBOLS (debian/libcapverify1.symbols) and UNSTABLE_DIR
# (include/capverify/unstable): the Debian symbols file names exactly the same symbols, and
# tags exactly the functions declared under UNSTABLE_DIR (optional), so the two lists cannot
# drift apart (docs/packaging.md, "The symbols file").
# After an intended API change, regenerate with: CAPV_ABI_UPDATE=1 ctest -R abi.symbols
# (the Debian file is edited by hand: each new symbol gets the release's version).
#   check_symbols.sh LIB LIST [DEBIAN_SYMBOLS UNSTABLE_DIR]
set -euo pipefail
lib=$1 list=$2 debsyms=${3:-} unstable=${4:-}
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^$' | sort -u)
if [ "${CAPV_ABI_UPDATE:-0}" = 1 ]; then
    echo "$actual" > "$list"
fi
bad=$(echo "$actual" | grep -v '^capv_' | grep -v '^CAPV_0$' || true)
if [ -n "$bad" ]; then
    echo "FAIL: exported symbols outside capv_*:"
    echo "$bad"
    exit 1
fi
if ! diff -u "$list" <(echo "$actual"); then
    echo "FAIL: exported symbols differ from $list (+ = new export, - = lost export)"
    exit 1
fi
echo "ABI: $(echo "$actual" | grep -c '^capv_') exported capv_* symbols match the list"
[ -n "$debsyms" ] || exit 0

# The Debian symbols file: its symbol lines are " [(tags)]name@CAPV_0 version".
deb_lines=$(grep '^ ' "$debsyms")
deb_names=$(sed -E 's/^ +(\([^)]*\))?//; s/@.*//' <<<"$deb_lines" | LC_ALL=C sort -u)
listed=$(LC_ALL=C sort -u "$list")
if ! diff -u <(echo "$listed") <(echo "$deb_names"); then
    echo "FAIL: $debsyms names other symbols than $list (+ = only in the Debian file," \
        "- = missing there: add it with the release's version, (optional) if unstable)"
    exit 1
fi
deb_optional=$(grep -E '^ +\(([^)]*\|)?optional(\|[^)]*)?\)' <<<"$deb_lines" |
    sed -E 's/^ +\([^)]*\)//; s/@.*//' | LC_ALL=C sort -u)
declared=$(perl -0777 -ne 's{/\*.*?\*/}{}gs; print "$1\n" while /CAPV_API\b[^;(]*?\b(capv_\w+)\s*\(/g' \
    "$unstable"/*.h | LC_ALL=C sort -u)
[ -n "$declared" ] || { echo "FAIL: no CAPV_API function found in $unstable/*.h"; exit 1; }
if ! diff -u <(echo "$declared") <(echo "$deb_optional"); then
    echo "FAIL: the (optional) symbols of $debsyms differ from the functions of $unstable/*.h" \
        "(+ = optional but stable, - = unstable but not optional)"
    exit 1
fi
echo "Debian symbols file: the same $(echo "$deb_names" | grep -c '^capv_') symbols," \
    "$(echo "$deb_optional" | wc -l) (optional) = the functions of $unstable/*.h"
