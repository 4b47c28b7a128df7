#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds every examples/*.c against the
# installed library through pkg-config only, then runs each.
set -euo pipefail
build=$1 examples=$2 sanitize=${3:-}
extra=()
[ -n "$sanitize" ] && extra=(-fsanitize="$sanitize")
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name libcapverify.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --cflags libcapverify)
libs=$(pkg-config --libs libcapverify)
libdir=$(pkg-config --variable=libdir libcapverify)
n=0
for src in "$examples"/*.c; do
    exe=$prefix/$(basename "$src" .c)
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror "${extra[@]}" $cflags "$src" -o "$exe" $libs -Wl,-rpath,"$libdir"
    "$exe" "$examples/README.md" > "$prefix/out.txt"
    echo "$(basename "$src"): $(head -1 "$prefix/out.txt")"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no examples found"; exit 1; }
echo "$n example(s) built against the installed library"
