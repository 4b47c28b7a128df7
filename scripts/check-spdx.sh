#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks that every source file of the project names its license with an SPDX line
# ("SPDX-License-Identifier: Apache-2.0", LICENSE) in its first three lines. ctest: lint.spdx.
#   scripts/check-spdx.sh           list the files without it
#   scripts/check-spdx.sh --fix     add the line (as a comment of the file's kind; after a #! line
#                                   or a Dockerfile's syntax directive, which must stay first)
# Files: those known to git (tracked, or new and not ignored) that are C, C++, shell, Python,
# JavaScript, Lua, CMake or Dockerfiles; test vectors, generated and third-party files are not.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fix=0
[ "${1:-}" = --fix ] && fix=1
line='SPDX-License-Identifier: Apache-2.0'

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t all < <(git ls-files --cached --others --exclude-standard | sort -u)
else
    mapfile -t all < <(find . -type f -not -path './.git/*' -not -path '*/node_modules/*' |
        sed 's|^\./||' | sort)
fi

# kind FILE: the comment style of a source file, or nothing for other files
kind() {
    case $1 in
    tests/vectors/* | tests/fuzz/corpus/* | */node_modules/* | third_party/* | vendor/*) return ;;
    *.c | *.h | *.h.in | *.cc | *.cpp | *.js | *.mjs | *.css) echo c ;;
    *.sh | *.py | *.cmake | *.cmake.in | */CMakeLists.txt | CMakeLists.txt | Dockerfile | */Dockerfile | *.yml.tpl) echo hash ;;
    *.lua) echo lua ;;
    *)
        # scripts without an extension: a #! line makes them shell or Python
        [ -f "$1" ] && head -c 2 "$1" 2>/dev/null | grep -q '^#!' && echo hash
        ;;
    esac
}

missing=0
for f in "${all[@]}"; do
    [ -f "$f" ] || continue
    k=$(kind "$f" || true)
    [ -n "$k" ] || continue
    if head -n 3 "$f" | grep -qF "$line"; then
        continue
    fi
    if [ "$fix" = 1 ]; then
        case $k in
        c) comment="/* $line */" ;;
        hash) comment="# $line" ;;
        lua) comment="-- $line" ;;
        esac
        if head -n 1 "$f" | grep -Eq '^(#!|# syntax=)'; then # stays the first line
            { head -n 1 "$f"; echo "$comment"; tail -n +2 "$f"; } >"$f.spdx-tmp"
        else
            { echo "$comment"; cat "$f"; } >"$f.spdx-tmp"
        fi
        chmod --reference="$f" "$f.spdx-tmp"
        mv "$f.spdx-tmp" "$f"
        echo "added: $f"
    else
        echo "missing SPDX line: $f"
        missing=$((missing + 1))
    fi
done
if [ "$missing" -gt 0 ]; then
    echo "FAIL: $missing source file(s) without '$line' (scripts/check-spdx.sh --fix adds it)"
    exit 1
fi
echo "every source file carries '$line'"
