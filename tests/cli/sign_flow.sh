#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The signing workflow a user follows, end to end through the CLI: generate a key, sign a
# manifest, build a legacy package, verify it against a trust store made from the key,
# check the JSON report, then show the key and its kid.
set -euo pipefail
cli=$1 vectors=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$cli" keys gen --out "$dir/alice" --owner "Alice AG" --valid-from 2020-01-01T00:00:00Z \
    --valid-days 36500 > "$dir/gen.txt"
[ "$(stat -c %a "$dir/alice.key")" = 600 ] || fail "private key is not mode 0600"
jq -e '.valid_from == "2020-01-01T00:00:00Z" and .valid_to == "2119-12-08T00:00:00Z"' \
    "$dir/alice.json" >/dev/null || fail "alice's window: $(jq -c '[.valid_from, .valid_to]' "$dir/alice.json")"
# a window that begins within a second keeps its milliseconds (it is compared as written);
# without --valid-from it begins at the current second
"$cli" keys gen --out "$dir/dora" --valid-from 2020-01-01T00:00:00.250+01:00 --valid-days 1 \
    >/dev/null
jq -e '.valid_from == "2019-12-31T23:00:00.250Z" and .valid_to == "2020-01-01T23:00:00.250Z"' \
    "$dir/dora.json" >/dev/null || fail "dora's window: $(jq -c '[.valid_from, .valid_to]' "$dir/dora.json")"
"$cli" keys gen --out "$dir/erin" >/dev/null
jq -e '.valid_from | test("^[0-9-]{10}T[0-9:]{8}Z$")' "$dir/erin.json" >/dev/null ||
    fail "erin's default window: $(jq -c .valid_from "$dir/erin.json")"
set +e
"$cli" keys gen --out "$dir/alice" 2>/dev/null; rc=$?
set -e
[ "$rc" = 3 ] || fail "keys gen over an existing key: exit $rc, want 3"
# nor over a trust store's public key whose private key is kept elsewhere, and it leaves
# nothing behind
printf 'kept\n' >"$dir/carol.json"
set +e
"$cli" keys gen --out "$dir/carol" 2>"$dir/carol.err"; rc=$?
set -e
[ "$rc" = 3 ] && grep -q "carol.json' exists" "$dir/carol.err" ||
    fail "keys gen over an existing .json: exit $rc, $(cat "$dir/carol.err")"
[ "$(cat "$dir/carol.json")" = kept ] && [ ! -e "$dir/carol.key" ] && [ ! -e "$dir/carol.pub" ] ||
    fail "keys gen changed or left files beside an existing .json"
# a set it cannot finish is removed: a 248-byte name takes ".key" but not the temporary name
# of ".pub" (more than 255 bytes)
long=$(printf 'k%.0s' $(seq 248))
set +e
"$cli" keys gen --out "$dir/$long" 2>/dev/null; rc=$?
set -e
[ "$rc" = 5 ] && [ ! -e "$dir/$long.key" ] ||
    fail "keys gen that cannot write .pub: exit $rc, .key left: $([ -e "$dir/$long.key" ] && echo yes)"

mkdir -p "$dir/pkg" "$dir/trust"
"$cli" sign "$vectors/peer/packages/webui-legacy/manifest.json" --key "$dir/alice.key" \
    --signer "Alice AG" --out "$dir/pkg/manifest.json"
cp "$vectors/peer/packages/webui-legacy/proof.dat" "$dir/pkg/"
# a manifest signed in place keeps its permissions
cp "$vectors/peer/packages/webui-legacy/manifest.json" "$dir/private.json"
chmod 600 "$dir/private.json"
(umask 022 && "$cli" sign "$dir/private.json" --key "$dir/alice.key" --out "$dir/private.json")
[ "$(stat -c %a "$dir/private.json")" = 600 ] || fail "signing in place changed the file's mode"
# --out through a symbolic link writes the file it points to: the link stays a link
mkdir -p "$dir/real"
cp "$vectors/peer/packages/webui-legacy/manifest.json" "$dir/real/linked.json"
ln -s real/linked.json "$dir/link.json"
"$cli" sign "$dir/link.json" --key "$dir/alice.key" --out "$dir/link.json"
[ -L "$dir/link.json" ] && [ "$(readlink "$dir/link.json")" = real/linked.json ] ||
    fail "sign --out LINK replaced the symbolic link"
[ "$(jq '.signatures | length' "$dir/real/linked.json")" = 1 ] ||
    fail "sign --out LINK did not sign the file it points to"
[ -z "$(find "$dir/real" "$dir" -maxdepth 1 -name '*.tmp.*')" ] || fail "sign --out LINK left a temporary file"
cp "$dir/alice.json" "$dir/trust/"

# unknown key → fail; trusted → the signature passes (the peer's proof still binds: signing
# does not change the canonical bytes)
set +e
"$cli" verify "$dir/pkg" > "$dir/untrusted.txt"; rc=$?
"$cli" verify --trust "$dir/trust" --json --report "$dir/report.json" "$dir/pkg" > "$dir/out.json"
rc2=$?
set -e
[ "$rc" = 2 ] || fail "untrusted signer: exit $rc, want 2"
grep -q 'fail  manifest.signature' "$dir/untrusted.txt" || fail "untrusted signature not reported"
[ "$rc2" = 1 ] || fail "trusted signer: exit $rc2, want 1 (warn: manifest.v0, mock proof)"
jq -e '.report.checks[] | select(.id=="manifest.signature") | .status=="pass"' "$dir/out.json" >/dev/null ||
    fail "signature check did not pass"
jq -e '.report.checks[] | select(.id=="proof.binding") | .status=="pass"' "$dir/out.json" >/dev/null ||
    fail "proof binding broke after signing"
cmp -s "$dir/out.json" "$dir/report.json" || fail "--report differs from --json output"

kid=$(sed -n 's/^kid //p' "$dir/gen.txt")
[ "$("$cli" keys kid "$dir/alice.pub")" = "$kid" ] || fail "keys kid differs from keys gen"
printf '[]\n' >"$dir/none.json"
set +e
"$cli" keys kid "$dir/none.json" 2>"$dir/none.err"; rc=$?
set -e
[ "$rc" = 4 ] && grep -q "holds no key" "$dir/none.err" ||
    fail "keys kid of a file without keys: exit $rc, $(cat "$dir/none.err")"
grep -q "kid $kid" <<<"$("$cli" keys show "$dir/alice.key")" || fail "keys show .key"
"$cli" keys show --json "$dir/trust" | jq -e ".[0].kid==\"$kid\" and .[0].owner==\"Alice AG\"" \
    >/dev/null || fail "keys show --json"

# a second signature is appended; both verify
"$cli" keys gen --out "$dir/bob" --valid-from 2020-01-01T00:00:00Z > /dev/null
"$cli" sign "$dir/pkg/manifest.json" --key "$dir/bob.key" --out "$dir/pkg/manifest.json"
[ "$(jq '.signatures | length' "$dir/pkg/manifest.json")" = 2 ] || fail "second signature"
cp "$dir/bob.json" "$dir/trust/"
set +e
"$cli" verify --trust "$dir/trust" --json "$dir/pkg" > "$dir/two.json"; rc=$?
set -e
[ "$rc" = 1 ] || fail "two trusted signers: exit $rc, want 1 (warn: manifest.v0, mock proof)"
jq -e '.report.checks[] | select(.id=="manifest.signature") |
       .status=="pass" and ([.details.signatures[] | .trusted] == [true, true])' \
    "$dir/two.json" >/dev/null || fail "two trusted signatures"
echo "sign flow: 1 passed, 0 failed"
