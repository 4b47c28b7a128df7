#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The API reference's rule (docs/building.md, "API reference"): Doxygen, run with the build's
# own generated Doxyfile and docs/api/doxygen_check.py exactly as the build runs them, passes
# on the public headers and fails when a copy of them gains an undocumented function, struct
# field or enumerator, or a header without a @file comment. ctest: lint.doxygen.
#   doxygen_undocumented.sh BUILD_DIR SOURCE_DIR DOXYGEN PYTHON3
set -uo pipefail
build=$1 src=$2 doxygen=$3 python=$4
if [ ! -x "$doxygen" ]; then
    source "$src/tests/tools/missing.sh"
    capv_missing "doxygen (Debian doxygen)"
fi
doxyfile=$build/docs/api/Doxyfile
[ -f "$doxyfile" ] || { echo "FAIL: $doxyfile is missing (configure the build first)"; exit 1; }
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# headers CASE: a copy of the public headers (version.h as the build generated it)
headers() {
    local inc=$tmp/$1/include
    mkdir -p "$inc/capverify/unstable" "$tmp/$1/out"
    cp "$src/include/capverify.h" "$inc/"
    cp "$src"/include/capverify/*.h "$build/include/capverify/version.h" "$inc/capverify/"
    cp "$src"/include/capverify/unstable/*.h "$inc/capverify/unstable/"
}
# run CASE: doxygen with the build's Doxyfile on the case's headers, then the XML check;
# output in $tmp/CASE/log
run() {
    local dir=$tmp/$1 files
    mapfile -t files < <(find "$dir/include" -name '*.h' | sort)
    {
        echo "@INCLUDE = $doxyfile"
        echo "OUTPUT_DIRECTORY = \"$dir/out\""
        printf 'INPUT = "%s/docs/api/mainpage.md"' "$src"
        printf ' "%s"' "${files[@]}"
        echo
        echo "STRIP_FROM_PATH = \"$dir/include\""
        echo "STRIP_FROM_INC_PATH = \"$dir/include\""
        echo "INCLUDE_PATH = \"$dir/include\""
    } >"$dir/Doxyfile"
    (cd "$dir/out" && "$doxygen" "$dir/Doxyfile") >"$dir/log" 2>&1 &&
        "$python" "$src/docs/api/doxygen_check.py" "$dir/out/xml" "${files[@]}" >>"$dir/log" 2>&1
}
# must_fail CASE WHAT PATTERN: the run fails and its output matches PATTERN
must_fail() {
    if run "$1"; then
        bad "$2 fails the build" "doxygen and the check passed"
    elif grep -Eq "$3" "$tmp/$1/log"; then
        ok "$2 fails the build ($(grep -Em1 "$3" "$tmp/$1/log" | sed "s|$tmp/$1/include/||"))"
    else
        bad "$2 fails the build" "it failed, but not naming it: $(head -c 600 "$tmp/$1/log")"
    fi
}

headers real
if run real; then
    ok "the public headers are fully documented"
else
    bad "the public headers are fully documented" "$(head -c 2000 "$tmp/real/log")"
fi

headers function
cat >"$tmp/function/include/capverify/probe.h" <<'H'
/** @file
 * A public header with one undocumented function. */
#include "common.h"
/** Documented. */
CAPV_API int capv_probe_documented(void);
CAPV_API int capv_probe_undocumented(void);
H
must_fail function "an undocumented function" 'capv_probe_undocumented.*not documented'

headers field
cat >"$tmp/field/include/capverify/probe.h" <<'H'
/** @file
 * A public header with a struct with one undocumented field. */
/** A documented struct. */
typedef struct capv_probe {
    unsigned int version; /**< documented */
    int undocumented_field;
} capv_probe;
H
must_fail field "an undocumented struct field" 'undocumented_field.*not documented'

headers enumerator
cat >"$tmp/enumerator/include/capverify/probe.h" <<'H'
/** @file
 * A public header with an enum with one undocumented enumerator. */
/** A documented enum. */
typedef enum capv_probe_kind {
    CAPV_PROBE_DOCUMENTED = 0, /**< documented */
    CAPV_PROBE_UNDOCUMENTED = 1
} capv_probe_kind;
H
must_fail enumerator "an undocumented enumerator" 'CAPV_PROBE_UNDOCUMENTED.*not documented'

headers nofile
cat >"$tmp/nofile/include/capverify/probe.h" <<'H'
/* A public header without a @file comment: Doxygen alone would say nothing about it. */
int capv_probe_undocumented(void);
H
must_fail nofile "a header without @file" 'probe\.h:1: .*@file'

[ "$fails" -eq 0 ] && echo "lint.doxygen: all passed" || echo "lint.doxygen: $fails failed"
[ "$fails" -eq 0 ]
