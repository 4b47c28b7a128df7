#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shell completion (scripts/gen-completions.py): the installed bash completion completes
# commands, subcommands and options as `capverify --help` and each command's --help list
# them, and the zsh one parses; `capverify help COMMAND` and "did you mean" for a mistyped
# command.
#   completion.sh BUILD_DIR CAPVERIFY
set -uo pipefail
build=$1 cli=$2
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/usr" >/dev/null
bashc=$tmp/usr/share/bash-completion/completions/capverify
zshc=$tmp/usr/share/zsh/vendor-completions/_capverify
[ -f "$bashc" ] && ok "bash completion installed" || bad "bash completion installed"
[ -f "$zshc" ] && ok "zsh completion installed" || bad "zsh completion installed"

# complete WORDS...: what the bash completion offers for the last word (space-separated)
complete_words() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _capverify
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$bashc" "$@"
}
check_complete() { # check_complete WANT WORDS...
    local want=$1 got
    shift
    got=$(complete_words "$@")
    [ "$got" = "$want" ] && ok "complete '$*' -> $want" || bad "complete '$*'" "got '$got', want '$want'"
}
check_complete "verify version " capverify ver
check_complete "registry " capverify reg
check_complete "backup " capverify registry bac
check_complete "--trust --tsa-ca " capverify verify --t
check_complete "--daemon-config " capverify verify --dae
check_complete "export tip verify " capverify audit ""
check_complete "verify " capverify help verif
# every command of the table is offered, and every option a command's --help documents
cmds=$("$cli" --help | awk '/^commands:/ { s = 1; next } s && /^  [a-z]/ { print $1 } s && /^$/ { s = 0 }' | sort | tr '\n' ' ')
got=$(complete_words capverify "" | tr ' ' '\n' | grep -v '^help$' | grep . | sort | tr '\n' ' ')
[ "$got" = "$cmds" ] && ok "every command of capverify --help is completed" || bad "commands" "got '$got', want '$cmds'"
for c in verify registry token; do
    want=$("$cli" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
    got=$(complete_words capverify "$c" --)
    missing=""
    for o in $want; do [[ " $got " == *" $o "* ]] || missing+=" $o"; done
    [ -z "$missing" ] && ok "capverify $c: every documented option is completed" ||
        bad "capverify $c options" "missing$missing"
done
if command -v zsh >/dev/null; then
    zsh -n "$zshc" && ok "zsh completion parses" || bad "zsh -n"
else
    grep -q '^#compdef capverify' "$zshc" && ok "zsh completion declares #compdef (zsh not installed)" ||
        bad "zsh completion header"
fi

# ---- help and suggestions --------------------------------------------------------------------
[ "$("$cli" help verify 2>&1)" = "$("$cli" verify --help 2>&1)" ] &&
    ok "capverify help verify = capverify verify --help" || bad "help verify"
out=$("$cli" verfy 2>&1)
rc=$?
[ "$rc" = 3 ] && [[ $out == *"did you mean 'verify'?"* ]] && ok "a mistyped command: did you mean" ||
    bad "did you mean" "$rc: $out"
out=$("$cli" frobnicate 2>&1)
[[ $out != *"did you mean"* ]] && ok "no suggestion for an unrelated word" || bad "unrelated word" "$out"
[ "$fails" = 0 ] || exit 1
