#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks built ELF files for the hardening of cmake/CapvHardening.cmake, with readelf:
#   executables: ET_DYN with the PIE flag (position-independent, randomised)
#   all:         GNU_RELRO, BIND_NOW (-z now), a non-executable stack,
#                __stack_chk_fail imported (-fstack-protector-strong),
#                and with --fortify: some __*_chk function imported (_FORTIFY_SOURCE)
# Usage: scripts/check-hardening.sh [--fortify] ELF... [--link-only ELF...]
#   --link-only: the files after it are only checked for PIE, RELRO, BIND_NOW and the stack
#   (tiny shims without a buffer on the stack or a fortifiable call).
# Run by ctest as build.hardening on the programs, the library and test programs.
set -euo pipefail

fortify=0
if [ "${1:-}" = --fortify ]; then
    fortify=1
    shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--fortify] ELF... [--link-only ELF...]" >&2; exit 2; }

failed=0
link_only=0
for f in "$@"; do
    [ -n "$f" ] || continue # an empty argument: ctest's rendering of an unset generator option
    if [ "$f" = --link-only ]; then
        link_only=1
        continue
    fi
    bad=()
    header=$(readelf -hW "$f")
    segments=$(readelf -lW "$f")
    dynamic=$(readelf -dW "$f")
    dynsyms=$(readelf --dyn-syms -W "$f")
    kind=library
    if grep -q 'INTERP' <<<"$segments"; then
        kind=executable
        grep -Eq 'Type:[[:space:]]+DYN' <<<"$header" || bad+=("not PIE (ELF type is not DYN)")
        grep -Eq 'FLAGS_1.*\bPIE\b' <<<"$dynamic" || bad+=("no PIE in FLAGS_1")
    fi
    grep -q 'GNU_RELRO' <<<"$segments" || bad+=("no GNU_RELRO segment (-z relro)")
    grep -Eq '\(BIND_NOW\)|\(FLAGS\).*\bNOW\b|\(FLAGS_1\).*\bNOW\b' <<<"$dynamic" ||
        bad+=("no BIND_NOW (-z now)")
    if grep -Eq 'GNU_STACK.*RWE' <<<"$segments"; then
        bad+=("executable stack")
    fi
    chk=$(grep -Eo 'UND[[:space:]]+__[a-z0-9_]+_chk\b' <<<"$dynsyms" | awk '{print $2}' |
        grep -v '^__stack_chk_fail$' | sort -u | tr '\n' ' ' || true)
    checked="PIE/RELRO/BIND_NOW/NX stack"
    [ "$kind" = library ] && checked="RELRO/BIND_NOW/NX stack"
    if [ "$link_only" = 0 ]; then
        grep -Eq 'UND[[:space:]]+__stack_chk_fail\b' <<<"$dynsyms" ||
            bad+=("no __stack_chk_fail import (-fstack-protector-strong)")
        if [ "$fortify" = 1 ] && [ -z "$chk" ]; then
            bad+=("no __*_chk import (-D_FORTIFY_SOURCE)")
        fi
        checked+="/stack protector"
    fi
    if [ "${#bad[@]}" -gt 0 ]; then
        failed=1
        echo "FAIL: $f ($kind):"
        printf '  - %s\n' "${bad[@]}"
    else
        echo "ok: $(basename "$f") ($kind): $checked${chk:+, fortified: $chk}"
    fi
done
exit "$failed"
