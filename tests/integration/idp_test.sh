#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration with a real identity provider (docs/auth.md): npm oidc-provider
# (tests/node/idp.mjs, installed by scripts/install-deps.sh from the committed lockfile) on
# 127.0.0.1 over HTTPS with a throwaway CA. It issues client-credentials JWT access tokens
# signed RS256, PS256, ES256 and EdDSA, which `capverify token verify` validates against the
# live JWKS; then the provider rotates its keys and one long-running `capverify token verify -`
# accepts the new kid after one refetch, without restart; then the provider is stopped and
# the cached keys keep validating.
#
# Then capverifyd is started against the same live JWKS and the provider's tokens are used
# on real API routes: accepted with the right scope, 403 without it, 401 without a token.
#
#   idp_test.sh CAPVERIFY NODE_DIR [CAPVERIFYD SAMPLE_DIR]
# Exit 77 (skipped) when Node or the npm packages are missing outside CI; a failure in CI.
set -euo pipefail

capv=$1
node_dir=$2
daemon=${3:-}
sample=${4:-}
daemon_pid=""
source "$(dirname "$0")/../tools/missing.sh"
command -v node >/dev/null || capv_missing "node" >&2
[ -d "$node_dir/node_modules/oidc-provider" ] ||
    capv_missing "$node_dir/node_modules/oidc-provider (npm ci)" >&2
for tool in openssl curl jq; do
    command -v "$tool" >/dev/null || capv_missing "$tool" >&2
done

work=$(mktemp -d "${TMPDIR:-/tmp}/capv-idp.XXXXXX")
idp_pid=""
coproc_pid=""
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -KILL "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if [ -n "$coproc_pid" ] && kill -0 "$coproc_pid" 2>/dev/null; then kill "$coproc_pid" 2>/dev/null || true; fi
    if [ -n "$idp_pid" ] && kill -0 "$idp_pid" 2>/dev/null; then
        kill "$idp_pid" 2>/dev/null || true
        wait "$idp_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }

# ---- a throwaway CA and a server certificate for 127.0.0.1 --------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$work/ca.key" -out "$work/ca.pem" -subj "/CN=capverify test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/server.key" -out "$work/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 1 -extfile "$work/ext.cnf" -out "$work/server.pem" 2>/dev/null

# ---- start the provider ------------------------------------------------------------------
node "$node_dir/idp.mjs" "$work/server.pem" "$work/server.key" "$work" 2>"$work/idp.log" &
idp_pid=$!
# up to 120 s, as tests/ui/ui_test.sh waits: oidc-provider loads slowly on a busy machine,
# and makes RSA keys at start (2-3 s idle; 20 s were once not enough in CI)
for _ in $(seq 1 1200); do
    [ -s "$work/port" ] && break
    kill -0 "$idp_pid" 2>/dev/null || { cat "$work/idp.log" >&2; echo "provider died" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/port" ] || { cat "$work/idp.log" >&2; echo "provider did not start" >&2; exit 1; }
port=$(cat "$work/port")
issuer="https://127.0.0.1:$port"
jwks="$issuer/jwks"
echo "provider: $issuer (pid $idp_pid)"
secret=$(curl -sf --cacert "$work/ca.pem" "$issuer/admin/client" | jq -r .client_secret)
jwks_url=$(curl -sf --cacert "$work/ca.pem" "$issuer/.well-known/openid-configuration" | jq -r .jwks_uri)
[ "$jwks_url" = "$jwks" ] && ok "discovery names jwks_uri $jwks_url" || bad "jwks_uri is $jwks_url"

token_for() { # resource suffix [scope] -> access token (client credentials)
    curl -sf --cacert "$work/ca.pem" -u "capv-test:$secret" \
        -d grant_type=client_credentials -d "resource=urn:capv:$1" \
        -d "scope=${2:-verify:read registry:write}" "$issuer/token" | jq -r .access_token
}
header_of() { # token -> decoded JOSE header
    node -e 'console.log(Buffer.from(process.argv[1].split(".")[0], "base64url").toString())' "$1"
}
common=(--jwks "$jwks" --ca-file "$work/ca.pem" --issuer "$issuer" --audience capv-api)

# ---- the key set as the CLI sees it ------------------------------------------------------
out=$("$capv" jwks fetch "$jwks" --ca-file "$work/ca.pem") && rc=0 || rc=$?
echo "$out"
if [ "$rc" = 0 ] && grep -q "accepted 3 keys" <<<"$out" && grep -q "kid=rsa-1 kty=RSA" <<<"$out" &&
    grep -q "kid=ec-1 kty=EC crv=P-256" <<<"$out" && grep -q "kid=ed-1 kty=OKP crv=Ed25519" <<<"$out"; then
    ok "jwks fetch accepts the provider's RSA, EC and OKP keys"
else
    bad "jwks fetch (rc $rc)"
fi

# ---- one token per algorithm -------------------------------------------------------------
declare -A first
for pair in rs256:RS256:rsa-1 ps256:PS256:rsa-1 es256:ES256:ec-1 eddsa:EdDSA:ed-1; do
    IFS=: read -r res alg kid <<<"$pair"
    tok=$(token_for "$res")
    first[$alg]=$tok
    hdr=$(header_of "$tok")
    if [ "$(jq -r .alg <<<"$hdr")" != "$alg" ] || [ "$(jq -r .kid <<<"$hdr")" != "$kid" ]; then
        bad "provider issued $hdr for $res"
        continue
    fi
    out=$("$capv" token verify "$tok" "${common[@]}" --scope verify:read --json) && rc=0 || rc=$?
    if [ "$rc" = 0 ] && [ "$(jq -r .valid <<<"$out")" = true ] &&
        [ "$(jq -r .alg <<<"$out")" = "$alg" ] && [ "$(jq -r .kid <<<"$out")" = "$kid" ] &&
        [ "$(jq -r .client_id <<<"$out")" = capv-test ] &&
        [ "$(jq -r '.scopes | join(" ")' <<<"$out")" = "verify:read registry:write" ]; then
        ok "$alg access token from oidc-provider validates (kid $kid)"
    else
        bad "$alg token: rc $rc: $out"
    fi
done

# ---- rejections and unavailability with the live provider ---------------------------------
expect() { # want_rc want_reason description -- command...
    local want_rc=$1 want_reason=$2 what=$3
    shift 4
    local out rc
    out=$("$@" --json 2>"$work/err") && rc=0 || rc=$?
    if [ "$rc" = "$want_rc" ] && [ "$(jq -r .reason <<<"$out" 2>/dev/null)" = "$want_reason" ]; then
        ok "$what: exit $rc, $want_reason"
    else
        bad "$what: exit $rc (want $want_rc): $out $(cat "$work/err")"
    fi
}
tok=${first[RS256]}
expect 2 bad_audience "wrong audience" -- \
    "$capv" token verify "$tok" --jwks "$jwks" --ca-file "$work/ca.pem" --issuer "$issuer" --audience other-api
expect 2 bad_issuer "wrong issuer" -- \
    "$capv" token verify "$tok" --jwks "$jwks" --ca-file "$work/ca.pem" --issuer "$issuer/" --audience capv-api
expect 2 insufficient_scope "missing scope" -- \
    "$capv" token verify "$tok" "${common[@]}" --scope admin
sig=${tok##*.}
first_char=${sig:0:1}
[ "$first_char" = A ] && swap=B || swap=A
tampered="${tok%.*}.${swap}${sig:1}" # the first 6 bits of the signature changed
expect 2 bad_signature "tampered signature" -- "$capv" token verify "$tampered" "${common[@]}"
expect 2 alg_not_allowed "ES256 token with --alg RS256" -- \
    "$capv" token verify "${first[ES256]}" "${common[@]}" --alg RS256
expect 5 jwks_unavailable "TLS with an unknown CA (no --ca-file)" -- \
    "$capv" token verify "$tok" --jwks "$jwks" --issuer "$issuer" --audience capv-api
expect 5 jwks_unavailable "plain http to the TLS port" -- \
    "$capv" token verify "$tok" --jwks "http://127.0.0.1:$port/jwks" --allow-insecure-http \
    --issuer "$issuer" --audience capv-api --fetch-timeout 1000

# ---- the daemon with the provider's tokens ----------------------------------------------
if [ -n "$daemon" ]; then
    { read -r api && read -r admin; } < <(python3 "$(dirname "$0")/../../scripts/free-port.py" 2)
    mkdir -p "$work/d/conf"
    "$daemon" --config-dir "$work/d/conf" --set "server.listen=127.0.0.1:$api" \
        --set "server.admin_listen=127.0.0.1:$admin" --set "registry.path=$work/d/reg.sqlite" \
        --set "backup.dir=$work/d/backups" --set shutdown.grace_seconds=0 \
        --set auth.enabled=true --set "auth.issuer=$issuer" --set auth.audiences=capv-api \
        --set "auth.jwks_url=$jwks" --set "auth.ca_file=$work/ca.pem" \
        --set "trust.dir=$sample/trust" --set "trust.policy_dir=$sample/policies" \
        --set "trust.tsa_ca_file=$sample/tsa/ca.pem" --set verify.mock_policy=accept \
        >"$work/d/log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz")" = 200 ] && break
        sleep 0.1
    done
    api_url=http://127.0.0.1:$api
    code() { curl -s -o "$work/d/body" -w '%{http_code}' "$@"; }
    for pair in rs256:RS256 ps256:PS256 es256:ES256 eddsa:EdDSA; do
        IFS=: read -r res alg <<<"$pair"
        tok=$(token_for "$res" "verify:run")
        c=$(code -H "Authorization: Bearer $tok" -H 'Content-Type: application/zip' \
            --data-binary "@$sample/sample.zip" "$api_url/verify")
        if [ "$c" = 200 ] && [ "$(jq -r .result "$work/d/body")" = ok ]; then
            ok "daemon: $alg token with verify:run verifies the sample (200, ok)"
        else
            bad "daemon: $alg token on /verify: $c $(head -c 300 "$work/d/body")"
        fi
    done
    tok=$(token_for rs256 "verify:read")
    c=$(code -H "Authorization: Bearer $tok" -H 'Content-Type: application/zip' \
        --data-binary "@$sample/sample.zip" "$api_url/verify")
    [ "$c" = 403 ] && ok "daemon: a token without verify:run gets 403" || bad "daemon: no scope: $c"
    tok=$(token_for es256 "registry:write")
    c=$(code -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        --data-binary '{"manifest_hash":"0x1111111111111111111111111111111111111111111111111111111111111111","proof_hash":"0x2222222222222222222222222222222222222222222222222222222222222222"}' \
        "$api_url/registry/entries")
    [ "$c" = 201 ] && ok "daemon: registry:write token registers an entry (201)" ||
        bad "daemon: registry:write: $c $(cat "$work/d/body")"
    c=$(code -H 'Content-Type: application/zip' --data-binary "@$sample/sample.zip" "$api_url/verify")
    [ "$c" = 401 ] && ok "daemon: no token gets 401" || bad "daemon: no token: $c"
    c=$(code -H "Authorization: Bearer $tampered" -H 'Content-Type: application/zip' \
        --data-binary "@$sample/sample.zip" "$api_url/verify")
    [ "$c" = 401 ] && ok "daemon: a tampered provider token gets 401" || bad "daemon: tampered: $c"
    if grep -qF "${tok%%.*}.${tok#*.}" "$work/d/log" || grep -q 'eyJ' "$work/d/log"; then
        bad "daemon: a token appears in the log"
    else
        ok "daemon: no token in the log"
    fi
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" && rc=0 || rc=$?
    daemon_pid=""
    [ "$rc" = 0 ] && ok "daemon: exits 0 after SIGTERM" || bad "daemon: exit $rc"
fi

# ---- rotation and outage with one long-running validator ---------------------------------
coproc CV { "$capv" token verify - "${common[@]}" --refresh-min-interval 1 --jwks-ttl 600 --json 2>"$work/cv.err"; }
coproc_pid=$CV_PID
ask() { # token -> one JSON result line from the running validator
    printf '%s\n' "$1" >&"${CV[1]}"
    local line
    IFS= read -r -t 20 line <&"${CV[0]}" || { echo '{"valid":"no answer"}'; return; }
    printf '%s\n' "$line"
}
r=$(ask "${first[RS256]}")
[ "$(jq -r .kid <<<"$r")" = rsa-1 ] && ok "long-running validator: generation 1 accepted" ||
    bad "long-running validator, first token: $r"

rot=$(curl -sf --cacert "$work/ca.pem" -X POST "$issuer/admin/rotate")
echo "rotated: $rot"
sleep 1.2 # refresh_min_interval
declare -A second
for pair in rs256:RS256:rsa-2 ps256:PS256:rsa-2 es256:ES256:ec-2 eddsa:EdDSA:ed-2; do
    IFS=: read -r res alg kid <<<"$pair"
    tok=$(token_for "$res")
    second[$alg]=$tok
    r=$(ask "$tok")
    if [ "$(jq -r .valid <<<"$r")" = true ] && [ "$(jq -r .kid <<<"$r")" = "$kid" ]; then
        ok "after rotation: new kid $kid ($alg) accepted without restart"
    else
        bad "after rotation, $alg: $r"
    fi
done
r=$(ask "${first[ES256]}")
[ "$(jq -r .valid <<<"$r")" = true ] && ok "after rotation: a generation-1 token still validates" ||
    bad "generation-1 token after rotation: $r"

kill "$idp_pid"
wait "$idp_pid" 2>/dev/null || true
idp_pid=""
if curl -s --max-time 2 --cacert "$work/ca.pem" "$jwks" >/dev/null 2>&1; then
    bad "the provider still answers after being stopped"
else
    ok "provider stopped"
fi
for alg in RS256 PS256 ES256 EdDSA; do
    r=$(ask "${second[$alg]}")
    [ "$(jq -r .valid <<<"$r")" = true ] && ok "provider down: cached keys still validate $alg" ||
        bad "provider down, $alg: $r"
done
r=$(ask "$tampered")
[ "$(jq -r .reason <<<"$r")" = bad_signature ] && ok "provider down: a bad token is still rejected" ||
    bad "provider down, tampered token: $r"

eval "exec ${CV[1]}>&-"
wait "$coproc_pid" && rc=0 || rc=$?
coproc_pid=""
[ "$rc" = 2 ] && ok "validator exits 2 (one rejected token in the stream)" || bad "validator exit $rc"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
