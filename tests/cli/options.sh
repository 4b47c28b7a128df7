#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The command line's conventions (getopt_long, capverify-cli/cli.h): `--opt=value` and
# `--opt value`, options after the operands, `--` ends the options, unique prefixes of long
# options, and clear usage errors (exit 3) for an unknown option, a missing value and a value
# given to a flag. Then every option that a command's --help documents is known to the parser
# of that command (or of one of its subcommands): help and parser cannot drift apart. And an
# input file of exactly its limit is read; help that cannot be written is an I/O error; the
# S3 settings of the registry commands refuse what they do not take.
#   options.sh CAPVERIFY
set -uo pipefail
cli=$(realpath "$1")
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset CAPV_REGISTRY_PATH CAPV_BACKUP_S3_URL
printf 'hello\n' >file
printf 'dash\n' >./-dash

# same NAME CMD1 -- CMD2: the same output and exit code, which is not a usage error's
same() {
    local name=$1 a b ra rb
    shift
    local -a one=()
    while [ "$1" != "--" ]; do one+=("$1"); shift; done
    shift
    a=$("$cli" "${one[@]}" 2>&1)
    ra=$?
    b=$("$cli" "$@" 2>&1)
    rb=$?
    if [ "$ra" -eq 3 ] || [ "$rb" -eq 3 ]; then
        bad "$name" "usage error: '$a' / '$b'"
    elif [ "$a" = "$b" ] && [ "$ra" = "$rb" ]; then
        ok "$name"
    else
        bad "$name" "'$a' (exit $ra) vs '$b' (exit $rb)"
    fi
}
# usage NAME PATTERN ARGS...: exit 3 and PATTERN on stderr
usage() {
    local name=$1 pattern=$2 err rc
    shift 2
    err=$("$cli" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -eq 3 ] && grep -q -- "$pattern" <<<"$err"; then
        ok "$name"
    else
        bad "$name" "exit $rc, stderr '$err'"
    fi
}

same "--opt=value is --opt value" hash --alg=sha256 file -- hash --alg sha256 file
same "options may follow the operands" hash file --alg sha256 -- hash --alg sha256 file
same "a unique prefix of a long option" hash --al sha256 file -- hash --alg sha256 file
out=$("$cli" hash -- -dash 2>&1)
[[ $out == *"  -dash" ]] && ok "-- ends the options (a file named -dash)" || bad "--" "$out"
same "verify --trust=DIR" verify --json --trust="$tmp" file -- verify --json --trust "$tmp" file
"$cli" registry init --db reg.db >/dev/null
same "registry --db=FILE --limit=N" registry list --db=reg.db --limit=5 -- registry list --db reg.db --limit 5
same "registry's common options anywhere" registry list --limit=5 --db=reg.db --json -- \
    registry list --json --db reg.db --limit 5

usage "unknown option" "unknown option '--nope'" hash --nope file
usage "unknown option of a subcommand" "unknown option '--trust'" registry list --trust x
usage "missing value" "option '--trust' needs a value" verify file --trust
usage "a value for a flag" "option '--json' takes no value" hash --json=yes file
usage "bad number" "--leeway needs a non-negative integer" token verify --leeway=soon T
usage "too many operands" "unexpected argument 'b'" registry show a b --db reg.db
usage "unknown short option" "unknown option '-z'" verify -z file

# Every documented option is known to its command's parser: given without its value it is
# either accepted or reported as needing one, never as unknown. A command with subcommands
# is asked through each subcommand only: the command itself answers "unknown command" or
# "unknown subcommand" for any option, which says nothing about the option.
commands=$("$cli" --help | awk '/^commands:/ { s = 1; next } s && /^  [a-z]/ { print $1 } s && /^$/ { s = 0 }')
[ -n "$commands" ] || bad "command table" "'capverify --help' lists no commands"
checked=0
for cmd in $commands; do
    help=$("$cli" "$cmd" --help 2>&1)
    subs=$({
        grep -oE "capverify $cmd [a-z][a-z-]*" <<<"$help" | awk '{ print $3 }'
        awk '/^commands:/ { s = 1; next } s && /^  [a-z]/ { print $1 } s && /^$/ { s = 0 }' <<<"$help"
    } | sort -u)
    tries=()
    for sub in $subs; do tries+=("$sub"); done
    [ "${#tries[@]}" -gt 0 ] || tries=("")
    opts=$(grep -oE -- '(^|[^a-z0-9-])--[a-z][a-z0-9-]*' <<<"$help" | grep -oE -- '--[a-z0-9-]+' | sort -u)
    for opt in $opts; do
        known=0
        for sub in "${tries[@]}"; do
            # shellcheck disable=SC2086 # an empty $sub is no argument
            err=$(timeout 20 "$cli" "$cmd" $sub "$opt" </dev/null 2>&1 >/dev/null)
            if ! grep -qE "unknown (option|command|subcommand)" <<<"$err"; then
                known=1
                break
            fi
        done
        checked=$((checked + 1))
        [ "$known" = 1 ] || bad "capverify $cmd: documented option $opt" \
            "unknown to every parser (tried: ${tries[*]:-"$cmd"})"
    done
done
[ "$checked" -gt 50 ] && ok "$checked documented options known to their parsers" ||
    bad "documented options" "only $checked found in the help texts"

# An input file of exactly its command's limit is read (policy files: 16 MiB); one byte more
# is refused, saying so.
policy='{"id":"t.p","version":"1","legal_basis":[{"directive":"LkSG"}],"description":"d",'
policy+='"inputs":{"a":{"type":"string"}},"rules":[{"id":"r","op":"eq","lhs":"a","rhs":"x"}]}'
printf '%s' "$policy" >small.json
python3 -c 'import sys; t = open("small.json").read(); open("limit.json", "w").write(t + " " * (16 * 1024 * 1024 - len(t)))'
want=$("$cli" policy hash small.json 2>&1 | cut -d' ' -f1)
got=$("$cli" policy hash limit.json 2>&1 | cut -d' ' -f1)
[ "$(stat -c %s limit.json)" = $((16 * 1024 * 1024)) ] && [ -n "$want" ] && [ "$got" = "$want" ] &&
    ok "a policy file of exactly 16 MiB is read" || bad "a policy file of exactly 16 MiB is read" "$got"
printf ' ' >>limit.json
err=$("$cli" policy hash limit.json 2>&1)
[ $? -eq 4 ] && grep -q "larger than 16777216 bytes" <<<"$err" &&
    ok "one byte more is refused" || bad "one byte more is refused" "$err"

# Help that cannot be written is an I/O error (exit 5, said on stderr), as for every command.
for args in --help -h help "help verify"; do
    # shellcheck disable=SC2086 # "help verify" is two arguments
    err=$("$cli" $args 2>&1 >/dev/full)
    rc=$?
    [ "$rc" -eq 5 ] && grep -q "cannot write" <<<"$err" && ok "capverify $args >/dev/full: exit 5" ||
        bad "capverify $args >/dev/full" "exit $rc, stderr '$err'"
done

# registry add --kid (with --signature) is in the help, as every option of its parser.
grep -q -- "--signature B64 --public-key B64 \[--kid KID\]" <<<"$("$cli" registry --help)" &&
    ok "registry add --kid is documented" || bad "registry add --kid is documented"

# The S3 settings: --s3-retain is the upload's, a restore refuses it before any download;
# CAPV_BACKUP_S3_RETAIN and _PATH_STYLE take what the daemon's backup.s3.retain and
# backup.s3.path_style take (an integer from 0 to 100000; true or false, in any case), and a
# value they do not is a usage error before anything is backed up or sent. The store is
# unreachable (port 9 of localhost, which curl never resolves through DNS): a command that
# gets that far fails with exit 5, and says whether it addressed the bucket by path.
s3=(--s3-url s3://bucket/p --s3-endpoint http://localhost:9 --s3-attempts 1)
export AWS_ACCESS_KEY_ID=id AWS_SECRET_ACCESS_KEY=secret
usage "registry restore refuses --s3-retain" "--s3-retain" \
    registry restore --check-only --from s3://bucket/p/registry-20260101T000000Z.sqlite \
    --s3-retain 3 "${s3[@]}"
for bad_env in CAPV_BACKUP_S3_RETAIN=x CAPV_BACKUP_S3_RETAIN=30d CAPV_BACKUP_S3_RETAIN=100001 \
    CAPV_BACKUP_S3_RETAIN= CAPV_BACKUP_S3_PATH_STYLE=1 CAPV_BACKUP_S3_PATH_STYLE=yes; do
    err=$(env "$bad_env" "$cli" registry backup --upload --db reg.db --dir bk "${s3[@]}" 2>&1)
    rc=$?
    [ "$rc" -eq 3 ] && grep -q "${bad_env%%=*}" <<<"$err" && [ ! -e bk ] &&
        ok "$bad_env is refused (exit 3, nothing backed up)" ||
        bad "$bad_env is refused" "exit $rc, stderr '$err'$([ -e bk ] && echo ', a backup was taken')"
    rm -rf bk
done
# a setting and the host it addresses: the command reaches the store (exit 5)
for good in "CAPV_BACKUP_S3_RETAIN=0 bucket.localhost" "CAPV_BACKUP_S3_RETAIN=100000 bucket.localhost" \
    "CAPV_BACKUP_S3_PATH_STYLE=TRUE localhost" "CAPV_BACKUP_S3_PATH_STYLE=true localhost" \
    "CAPV_BACKUP_S3_PATH_STYLE=False bucket.localhost"; do
    read -r setting host <<<"$good"
    err=$(env "$setting" "$cli" registry backup --list --remote "${s3[@]}" 2>&1)
    rc=$?
    [ "$rc" -eq 5 ] && grep -q "connect to $host port" <<<"$err" &&
        ok "$setting is taken (addressing $host)" || bad "$setting is taken" "exit $rc, stderr '$err'"
done
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

[ "$fails" -eq 0 ] && echo "all option checks passed" || echo "$fails option check(s) failed"
[ "$fails" -eq 0 ]
