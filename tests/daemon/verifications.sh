#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On-call truth (docs/registry.md#looking-up-a-verification, docs/runbook.md):
#  0. `capverify token verify -` takes the token on standard input, as the runbook passes it.
#  1. GET /registry/verifications/{request_id} right after a /verify (its record still
#     queued: registry.record_flush_ms 1000) answers the report that /verify answered, byte
#     for byte, under the client's X-Request-Id and under one the daemon made; so does
#     `capverify registry verification` on the live database; unknown ids are 404, malformed
#     ones 400, a token without scope verifications:read gets 403.
#  2. `capverify verify --daemon-config DIR` gives the verdict, check by check, that a daemon
#     started with DIR gives, on the sample and the peer packages, under three
#     configurations (one set through a CAPV_* variable, as a Deployment does):
#     verify.require_timestamp makes the untimestamped package's timestamp check warn, and
#     verify.strict turns the sample's unverifiable timestamp into a fail, in both.
# With CAPV_TEST_PG_URL (tests/pg/with_pg.sh) the daemons' registry is a fresh schema of that
# PostgreSQL database (registry.url) instead of a SQLite file.
#   verifications.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR VECTORS_DIR
PG_BASE=${CAPV_TEST_PG_URL:-} # t_init unsets every CAPV_* variable
source "$(dirname "$0")/lib.sh"
t_init "$@"
T_DOCUMENT_ALL=1 # every answer is checked against docs/api/openapi.json at t_done (lib.sh)

PEER=$VECTORS/peer/packages
ZIP=(-H 'Content-Type: application/zip')
JSON_CT='application/json; charset=utf-8'

# registry_yaml DIR: the registry the daemons of this test use, in DIR/registry.yaml (the CLI
# reads it from there; daemon_start also passes registry.path, the same file, with --set)
registry_yaml() {
    if [ -n "$PG_BASE" ]; then
        local schema="v_$$_$RANDOM" sep='?'
        psql -q "$PG_BASE" -c "CREATE SCHEMA $schema" >/dev/null || return 1
        [[ $PG_BASE == *\?* ]] && sep='&'
        REG_DB="$PG_BASE${sep}options=-csearch_path%3D$schema"
        printf 'registry:\n  url: "%s"\n' "$REG_DB" >"$1/registry.yaml"
    else
        REG_DB=$2/registry.sqlite
        printf 'registry:\n  path: "%s"\n' "$REG_DB" >"$1/registry.yaml"
    fi
}

# ---- 1. the route and the CLI -----------------------------------------------------------
IDP=$TMP/idp
mkdir -p "$IDP"
jwk=$(make_jwk "$IDP" key-1) || { fail "make an Ed25519 key with openssl"; t_done; }
printf '{"keys":[%s]}' "$jwk" >"$IDP/jwks.json"
ISS=https://idp.test/realms/cap
AUD=cap-verifier
now=$(date +%s)
token() { # token SCOPES
    mint_token "$IDP/key-1.key" key-1 \
        "$(printf '{"iss":"%s","aud":"%s","sub":"on-call","iat":%d,"exp":%d,"scope":"%s"}' \
            "$ISS" "$AUD" "$now" $((now + 600)) "$1")"
}
CLIENT=$(token 'verify:run')
ONCALL=$(token 'verifications:read')
OTHER=$(token 'verify:run registry:read registry:write')
AS_CLIENT=(-H "Authorization: Bearer $CLIENT")
AS_ONCALL=(-H "Authorization: Bearer $ONCALL")

# the runbook's token check, the token on standard input (docs/runbook.md)
out=$(printf '%s\n' "$ONCALL" | "$CLI" token verify - --jwks "$IDP/jwks.json" --issuer "$ISS" \
    --audience "$AUD" --scope verifications:read --json)
rc=$?
assert_eq "token verify - reads the token from standard input" \
    "$rc $(jq -r '[.valid, .subject] | join(" ")' <<<"$out")" "0 true on-call"
printf '%s\n' "$CLIENT" | "$CLI" token verify - --jwks "$IDP/jwks.json" --issuer "$ISS" \
    --audience "$AUD" --scope verifications:read >/dev/null
assert_eq "token verify -: a token without the scope is rejected (exit 2)" "$?" 2

mkdir -p "$TMP/route/conf"
registry_yaml "$TMP/route/conf" "$TMP/route" || { fail "a PostgreSQL schema for the test"; t_done; }
SET_REG=(--set "registry.path=$TMP/route/registry.sqlite")
[ -n "$PG_BASE" ] && SET_REG=(--set "registry.url=$REG_DB")
daemon_start route "${SAMPLE_ARGS[@]}" "${SET_REG[@]}" --set registry.record_flush_ms=1000 \
    --set auth.enabled=true --set "auth.issuer=$ISS" --set "auth.audiences=$AUD" \
    --set "auth.jwks_url=file://$IDP/jwks.json" || t_done
API=$D_URL

# cli_report ID: `capverify registry verification ID` on the daemon's registry, into
# $TMP/cli.out; sets CLI_RC
cli_report() {
    "$CLI" registry verification "$1" --db "$REG_DB" >"$TMP/cli.out" 2>"$TMP/cli.err"
    CLI_RC=$?
}

# fetched NAME ID REPORT_FILE: GET .../ID answers REPORT_FILE byte for byte, and so does the CLI
fetched() {
    req GET "$API/registry/verifications/$2" "${AS_ONCALL[@]}"
    assert_eq "$1: GET /registry/verifications/$2: 200" "$STATUS" 200
    assert_eq "$1: Content-Type" "$(hdr Content-Type)" "$JSON_CT"
    check "$1: the stored report is the /verify body, byte for byte" cmp "$TMP/resp.body" "$3"
    cli_report "$2"
    assert_eq "$1: capverify registry verification exits 0" "$CLI_RC" 0
    check "$1: the CLI prints the same report (and a newline)" \
        cmp "$TMP/cli.out" <(cat "$3" && echo)
}

req POST "$API/verify" "${ZIP[@]}" "${AS_CLIENT[@]}" -H 'X-Request-Id: oncall-sample.1' \
    --data-binary "@$SAMPLE/sample.zip"
assert_eq "POST /verify sample.zip: 200 ok" "$STATUS $(body_json .result)" "200 ok"
cp "$TMP/resp.body" "$TMP/sample.report"
# at once: the record still waits in the queue for its 1 s flush interval
fetched "the client's request id" oncall-sample.1 "$TMP/sample.report"
assert_le "found without waiting for the flush interval (seconds)" "$TIME" 0.9

tampered_zip "$SAMPLE/sample.zip" "$TMP/tampered.zip"
req POST "$API/verify" "${ZIP[@]}" "${AS_CLIENT[@]}" --data-binary "@$TMP/tampered.zip"
assert_eq "POST /verify tampered.zip: 200 fail" "$STATUS $(body_json .result)" "200 fail"
gen_id=$(hdr X-Request-Id)
assert_match "the daemon made the request id" "$gen_id" '^[0-9a-f]{32}$'
cp "$TMP/resp.body" "$TMP/tampered.report"
fetched "a request id the daemon made" "$gen_id" "$TMP/tampered.report"

req HEAD "$API/registry/verifications/oncall-sample.1" "${AS_ONCALL[@]}"
assert_eq "HEAD: 200" "$STATUS" 200
req POST "$API/registry/verifications/oncall-sample.1" "${AS_ONCALL[@]}"
assert_eq "POST: 405, GET and HEAD allowed" "$STATUS $(hdr Allow)" "405 GET, HEAD"

# who may read them
req GET "$API/registry/verifications/oncall-sample.1"
assert_eq "no token: 401" "$STATUS" 401
req GET "$API/registry/verifications/oncall-sample.1" -H "Authorization: Bearer $OTHER"
assert_eq "a token without verifications:read: 403" "$STATUS" 403
assert_error_body "403" forbidden
assert_match "403 names the scope" "$(hdr WWW-Authenticate)" \
    'error="insufficient_scope", scope="verifications:read"'
req GET "$API/registry/verifications/oncall-sample.1" "${AS_CLIENT[@]}"
assert_eq "the client's own verify:run token: 403" "$STATUS" 403

# ids that are not recorded, and ids that cannot be
req GET "$API/registry/verifications/never-recorded-42" "${AS_ONCALL[@]}"
assert_eq "unknown request id: 404" "$STATUS" 404
assert_error_body "unknown request id" not_found
cli_report never-recorded-42
assert_eq "CLI, unknown request id: exit 5 (not found), nothing on stdout" \
    "$CLI_RC $(wc -c <"$TMP/cli.out")" "5 0"
check "CLI, unknown request id: says so" grep -q "no verification recorded under" "$TMP/cli.err"
long=$(printf 'a%.0s' $(seq 65))
for bad in "$long" 'a:b' 'semi;colon' "a'b" 'a~b' 'a%2Fb' 'a%20b'; do
    req GET "$API/registry/verifications/$bad" "${AS_ONCALL[@]}"
    assert_eq "malformed request id '${bad:0:10}': 400" "$STATUS" 400
    assert_eq "malformed request id '${bad:0:10}': error code" "$(body_json .error.code)" malformed
done
req GET "$API/registry/verifications/$(printf 'a%.0s' $(seq 64))" "${AS_ONCALL[@]}"
assert_eq "a 64-character id is an id (404, not 400)" "$STATUS" 404
for path in /registry/verifications/ /registry/verifications/a/b; do
    req GET "$API$path" "${AS_ONCALL[@]}"
    assert_eq "GET $path: 404 (no such route)" "$STATUS" 404
done
# without an id: the list of recorded verifications (docs/registry.md#listing-verifications)
req GET "$API/registry/verifications?result=failfailfailfailfail" "${AS_ONCALL[@]}"
assert_eq "GET /registry/verifications with a result longer than any: 400" "$STATUS" 400
req GET "$API/registry/verifications?limit=1" "${AS_ONCALL[@]}"
assert_eq "GET /registry/verifications: the newest recorded verification" \
    "$STATUS $(body_json '.verifications | length')" "200 1"
cli_report "$(printf 'tab\there')"
assert_eq "CLI, an id no record can carry: exit 4" "$CLI_RC" 4
"$CLI" registry verification --db "$REG_DB" >/dev/null 2>&1
assert_eq "CLI without REQUEST_ID: exit 3" "$?" 3

daemon_stop "the daemon with authentication"
# the records stay: the CLI reads them from the stopped daemon's registry
cli_report oncall-sample.1
check "after the daemon stopped, the CLI still prints the report" \
    cmp "$TMP/cli.out" <(cat "$TMP/sample.report" && echo)

# ---- 2. capverify verify --daemon-config DIR --------------------------------------------
# statuses FILE: the verdict and every check (of the report and of its units) of a report
statuses() {
    jq -c '[.result, [.checks[] | [.id, .status, .message]],
            [(.units // [])[] | [.unit, .result, [.checks[] | [.id, .status]]]]]' "$1"
}

# timestamp_of FILE: the status of a report's timestamp check
timestamp_of() {
    jq -r '[.checks[] | select(.id == "timestamp") | .status] | join(",")' "$1"
}

# same_verdicts NAME PACKAGE...: each zip through the daemon and through the CLI with
# --daemon-config, compared; VERDICT[n] and TS[n] are "DAEMON CLI" of the n-th package's
# verdict and timestamp check
same_verdicts() {
    local name=$1 pkg i=0 crc want label
    VERDICT=()
    TS=()
    shift
    for pkg in "$@"; do
        req POST "$D_URL/verify" "${ZIP[@]}" --data-binary "@$pkg"
        cp "$TMP/resp.body" "$TMP/daemon.json"
        (cd "$TMP" && "$CLI" verify --daemon-config "$CONF" --json "$pkg" >"$TMP/cli.jsonl" \
            2>"$TMP/cli.err")
        crc=$?
        jq -c .report "$TMP/cli.jsonl" >"$TMP/cli.json" 2>/dev/null # JSON Lines: the report
        label="$name: $(basename "$pkg")"
        if [ "$STATUS" != 200 ] || ! jq -e . "$TMP/cli.json" >/dev/null 2>&1; then
            fail "$label: both give a report" "daemon $STATUS, CLI exit $crc: $(head -c 300 "$TMP/cli.err")"
            continue
        fi
        assert_eq "$label: the CLI's checks and verdict are the daemon's" \
            "$(statuses "$TMP/cli.json")" "$(statuses "$TMP/daemon.json")"
        case $(jq -r .result "$TMP/daemon.json") in
        ok) want=0 ;;
        warn) want=1 ;;
        *) want=2 ;;
        esac
        assert_eq "$label: the CLI's exit code is the verdict's" "$crc" "$want"
        VERDICT[i]="$(jq -r .result "$TMP/daemon.json") $(jq -r .result "$TMP/cli.json")"
        TS[i]="$(timestamp_of "$TMP/daemon.json") $(timestamp_of "$TMP/cli.json")"
        i=$((i + 1))
    done
}

PKGS=("$SAMPLE/sample.zip" "$TMP/tampered.zip" "$PEER/webui-legacy.zip"
    "$PEER/desktop/cap-bundle-2025-12-14.zip" "$PEER/desktop/cap-bundle-2025-11-30.zip")

# config NAME [TSA_CA_FILE]: a configuration directory $TMP/NAME/conf (daemon_start NAME
# reads it) with the sample's trust store and the registry of the test; sets CONF
config() {
    CONF=$TMP/$1/conf
    mkdir -p "$CONF"
    registry_yaml "$CONF" "$TMP/$1" || return 1
    printf 'trust:\n  dir: %s\n  policy_dir: %s\n' "$SAMPLE/trust" "$SAMPLE/policies" \
        >"$CONF/trust.yaml"
    [ -z "${2:-}" ] || printf '  tsa_ca_file: %s\n' "$2" >>"$CONF/trust.yaml"
}

# A: the sample's settings (as the daemon tests use them)
config plain "$SAMPLE/tsa/ca.pem" || t_done
printf 'verify:\n  mock_policy: accept\n' >"$CONF/verify.yaml"
daemon_start plain || t_done
same_verdicts "default settings" "${PKGS[@]}"
assert_eq "default settings: the sample is ok in both" "${VERDICT[0]}" "ok ok"
assert_eq "default settings: webui-legacy has no timestamp: skip in both" "${TS[2]}" "skip skip"
daemon_stop "the daemon with the sample's settings"

# B: a timestamp is required and no TSA roots are configured
config timestamp || t_done
printf 'verify:\n  mock_policy: accept\n  require_timestamp: true\n' >"$CONF/verify.yaml"
daemon_start timestamp || t_done
same_verdicts "require_timestamp" "${PKGS[@]}"
assert_eq "require_timestamp: the untimestamped webui-legacy's timestamp warns in both" \
    "${TS[2]}" "warn warn"
assert_eq "require_timestamp, no TSA roots: the sample warns in both" "${VERDICT[0]}" "warn warn"
daemon_stop "the daemon requiring timestamps"

# C: the same made strict by the environment, as a Deployment sets it
config strict || t_done
printf 'verify:\n  mock_policy: accept\n  require_timestamp: true\n' >"$CONF/verify.yaml"
export CAPV_VERIFY_STRICT=true
daemon_start strict || t_done
same_verdicts "strict through CAPV_VERIFY_STRICT" "${PKGS[@]}"
assert_eq "strict: the sample's unverifiable timestamp fails it in both" "${VERDICT[0]}" "fail fail"
assert_eq "strict: its timestamp check fails in both" "${TS[0]}" "fail fail"
unset CAPV_VERIFY_STRICT
(cd "$TMP" && "$CLI" verify --daemon-config "$CONF" --json "$SAMPLE/sample.zip" >"$TMP/cli.json" \
    2>/dev/null)
assert_eq "without the variable the CLI no longer fails the sample (it warns)" \
    "$(jq -r .report.result "$TMP/cli.json")" warn
daemon_stop "the strict daemon"

# what --daemon-config refuses, and what it needs
"$CLI" verify --daemon-config "$CONF" --strict "$SAMPLE/sample.zip" >/dev/null 2>"$TMP/cli.err"
assert_eq "--strict beside --daemon-config: exit 3" "$?" 3
check "... naming the key that applies" grep -q 'verify.strict of the configuration applies' \
    "$TMP/cli.err"
"$CLI" verify --trust "$SAMPLE/trust" --daemon-config "$CONF" "$SAMPLE/sample.zip" \
    >/dev/null 2>&1
assert_eq "--trust before --daemon-config: exit 3" "$?" 3
"$CLI" verify --daemon-config "$TMP/no-such-dir" "$SAMPLE/sample.zip" >/dev/null 2>&1
assert_eq "a missing configuration directory: exit 5" "$?" 5
mkdir -p "$TMP/badconf"
printf 'verify:\n  strict: maybe\n' >"$TMP/badconf/verify.yaml"
"$CLI" verify --daemon-config "$TMP/badconf" "$SAMPLE/sample.zip" >/dev/null 2>"$TMP/cli.err"
assert_eq "a configuration the daemon refuses: exit 4" "$?" 4
check "... with the daemon's FILE:LINE:COL: key: reason" \
    grep -q 'verify.yaml:2:[0-9]*: verify.strict' "$TMP/cli.err"
if [ -z "$PG_BASE" ]; then
    rm "$TMP/badconf/verify.yaml"
    printf 'registry:\n  path: %s\n' "$TMP/nowhere/registry.sqlite" >"$TMP/badconf/registry.yaml"
    "$CLI" verify --daemon-config "$TMP/badconf" "$SAMPLE/sample.zip" >/dev/null 2>"$TMP/cli.err"
    assert_eq "the daemon's registry cannot be read: exit 5" "$?" 5
    check "... and --registry FILE is suggested" grep -q -- '--registry FILE' "$TMP/cli.err"
fi

t_done
