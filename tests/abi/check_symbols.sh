#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shared library exports exactly the committed symbol list, and only capv_* names.
# After an intended API change, regenerate with: CAPV_ABI_UPDATE=1 ctest -R abi.symbols
set -euo pipefail
lib=$1 list=$2
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
