#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# BLAKE3 of `capverify hash --alg blake3` must equal b3sum's on generated inputs of many
# sizes (0 B to 1 MiB), covering chunk (1 KiB) and SIMD-batch boundaries.
set -euo pipefail
cli=$1
command -v b3sum >/dev/null || { echo "b3sum not installed (scripts/install-deps.sh)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

sizes="0 1 2 63 64 65 127 128 1023 1024 1025 2047 2048 2049 3072 4095 4096 4097 8191 8192 8193
16383 16384 16385 31744 65535 65536 65537 131072 262143 524288 1000000 1048575 1048576"
files=()
for n in $sizes; do
    head -c "$n" /dev/urandom > "$dir/in_$n"
    files+=("$dir/in_$n")
done

ours=$("$cli" hash --alg blake3 "${files[@]}" | sed 's/^0x//')
theirs=$(b3sum "${files[@]}")
if [ "$ours" != "$theirs" ]; then
    diff <(echo "$ours") <(echo "$theirs") || true
    echo "FAIL: BLAKE3 differs from b3sum"
    exit 1
fi
# stdin path too
a=$("$cli" hash --alg blake3 - < "$dir/in_1000000" | cut -d' ' -f1)
b=$(b3sum --no-names < "$dir/in_1000000")
[ "$a" = "0x$b" ] || { echo "FAIL: stdin digest differs"; exit 1; }
echo "b3sum cross-check: $(echo "$sizes" | wc -w) sizes match"
