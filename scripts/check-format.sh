#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks that the project's own C sources are formatted as the committed .clang-format says
# (clang-format 14, Debian 12's). ctest: lint.format.
#   scripts/check-format.sh          list the files that differ, with a short diff of each
#   scripts/check-format.sh --fix    reformat them in place (clang-format -i)
# Files: the *.c/*.h known to git (tracked, or new and not ignored) under libcapverify,
# include, capverifyd, capverify-cli, tests, bench and examples; third-party directories
# (third_party/, vendor/, external/) are never checked.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fix=0
[ "${1:-}" = --fix ] && fix=1

cf=""
for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then
        cf=$c
        break
    fi
done
if [ -z "$cf" ]; then
    echo "FAIL: clang-format-14 not found (scripts/install-deps.sh installs it)"
    exit 1
fi
version=$("$cf" --version)
case $version in
*"version 14."*) ;;
*)
    # Another major version formats differently: the check would report noise.
    echo "FAIL: $cf is '$version'; the committed .clang-format is checked with clang-format 14"
    exit 1
    ;;
esac

dirs=(libcapverify include capverifyd capverify-cli tests bench examples)
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${dirs[@]}" |
        grep -E '\.(c|h)$' | grep -Ev '(^|/)(third_party|vendor|external)/' | sort -u)
else
    mapfile -t files < <(find "${dirs[@]}" -type f -name '*.[ch]' |
        grep -Ev '(^|/)(third_party|vendor|external|node_modules)/' | sort)
fi
existing=()
for f in "${files[@]}"; do
    [ -f "$f" ] && existing+=("$f")
done
files=("${existing[@]}")

if [ "$fix" = 1 ]; then
    "$cf" -i --style=file "${files[@]}"
    echo "format: reformatted ${#files[@]} files with $cf"
    exit 0
fi

bad=()
for f in "${files[@]}"; do
    if ! "$cf" --dry-run -Werror --ferror-limit=1 --style=file "$f" >/dev/null 2>&1; then
        bad+=("$f")
    fi
done

if [ "${#bad[@]}" -eq 0 ]; then
    echo "format: ${#files[@]} files match .clang-format"
    exit 0
fi
shown=0
for f in "${bad[@]}"; do
    if [ "$shown" -lt 5 ]; then
        echo "--- $f (first lines of the change)"
        "$cf" --style=file "$f" | diff -u "$f" - | sed -n '3,22p' || true
        shown=$((shown + 1))
    fi
done
echo
echo "FAIL: ${#bad[@]} of ${#files[@]} files differ from .clang-format:"
printf '  %s\n' "${bad[@]}"
echo "Reformat with: scripts/check-format.sh --fix"
exit 1
