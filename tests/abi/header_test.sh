#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every public header compiles alone (and twice in a row: its include guard), under strict
# warnings, as C99 or as C++11: include/capverify.h, include/capverify/*.h,
# include/capverify/unstable/*.h and the generated capverify/version.h. A header that uses a
# type or macro it does not include fails here. Then header_test.c, which uses the umbrella
# header. Run by ctest as header.c99 and header.cxx (docs/abi.md).
#   header_test.sh c99|cxx COMPILER SOURCE_INCLUDE_DIR BINARY_INCLUDE_DIR HEADER_TEST_C
set -euo pipefail
mode=$1 cc=$2 inc=$3 bininc=$4 umbrella_test=$5
case $mode in
c99) flags=(-std=c99 -x c) ;;
cxx) flags=(-std=c++11 -x c++) ;;
*) echo "usage: $0 c99|cxx COMPILER SOURCE_INCLUDE_DIR BINARY_INCLUDE_DIR HEADER_TEST_C" >&2; exit 2 ;;
esac
flags+=(-Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$inc" -I"$bininc")

headers=()
for h in "$inc"/capverify.h "$inc"/capverify/*.h "$inc"/capverify/unstable/*.h \
    "$bininc"/capverify/version.h; do
    [ -f "$h" ] || { echo "FAIL: no header $h"; exit 1; }
    case $h in
    "$inc"/*) headers+=("${h#"$inc"/}") ;;
    *) headers+=("${h#"$bininc"/}") ;;
    esac
done
failed=0
for h in "${headers[@]}"; do
    if ! out=$(printf '#include <%s>\n#include <%s>\n' "$h" "$h" | "$cc" "${flags[@]}" - 2>&1); then
        echo "FAIL: <$h> does not compile alone ($mode):"
        echo "$out"
        failed=1
    fi
done
if ! out=$("$cc" "${flags[@]}" "$umbrella_test" 2>&1); then
    echo "FAIL: $umbrella_test ($mode):"
    echo "$out"
    failed=1
fi
[ "$failed" = 0 ] || exit 1
echo "ok: ${#headers[@]} public headers compile alone, and $(basename "$umbrella_test") ($mode)"
