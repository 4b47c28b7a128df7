#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bearer-token authentication of the daemon (docs/auth.md) with a local key set
# (file:// JWKS, Ed25519 keys made here): probes need no token, /verify needs a valid token
# with scope verify:run; every rejection is 401 (invalid_token) or 403 (insufficient_scope)
# with WWW-Authenticate and the error body, counted by reason and logged without the token;
# SIGHUP re-reads the key set (key rotation without a restart).
#   auth.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
T_DOCUMENT_ALL=1 # every answer is checked against docs/api/openapi.json at t_done (lib.sh)

IDP=$TMP/idp
mkdir -p "$IDP"
jwk1=$(make_jwk "$IDP" key-1) && jwk2=$(make_jwk "$IDP" key-2) ||
    { fail "make Ed25519 keys with openssl"; t_done; }
printf '{"keys":[%s]}' "$jwk1" >"$IDP/jwks.json"
ISS=https://idp.test/realms/cap
AUD=cap-verifier
now=$(date +%s)
claims() { # claims SCOPE [EXTRA_JSON_MEMBERS]
    printf '{"iss":"%s","aud":"%s","sub":"tester","iat":%d,"exp":%d,"scope":"%s"%s}' \
        "$ISS" "$AUD" "$now" $((now + 600)) "$1" "${2:-}"
}
GOOD=$(mint_token "$IDP/key-1.key" key-1 "$(claims 'verify:run registry:read')")
SCP=$(mint_token "$IDP/key-1.key" key-1 \
    "{\"iss\":\"$ISS\",\"aud\":[\"other\",\"$AUD\"],\"sub\":\"tester\",\"exp\":$((now + 600)),\"scp\":[\"verify:run\"]}")
NOSCOPE=$(mint_token "$IDP/key-1.key" key-1 "$(claims 'registry:read')")
EXPIRED=$(mint_token "$IDP/key-1.key" key-1 \
    "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"tester\",\"iat\":$((now - 7200)),\"exp\":$((now - 3600)),\"scope\":\"verify:run\"}")
BADISS=$(mint_token "$IDP/key-1.key" key-1 \
    "{\"iss\":\"https://evil.test\",\"aud\":\"$AUD\",\"exp\":$((now + 600)),\"scope\":\"verify:run\"}")
BADAUD=$(mint_token "$IDP/key-1.key" key-1 \
    "{\"iss\":\"$ISS\",\"aud\":\"someone-else\",\"exp\":$((now + 600)),\"scope\":\"verify:run\"}")
UNKNOWNKID=$(mint_token "$IDP/key-2.key" key-2 "$(claims verify:run)")
BADSIG=${GOOD%.*}.$(mint_token "$IDP/key-2.key" key-1 "$(claims verify:run)" | cut -d. -f3)
NONE=$(printf '{"alg":"none","typ":"JWT"}' | b64url).$(claims verify:run | b64url).
HS256=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url).$(claims verify:run | b64url).$(printf 'mac' | b64url)

daemon_start auth "${SAMPLE_ARGS[@]}" --set auth.enabled=true --set "auth.issuer=$ISS" \
    --set "auth.audiences=$AUD" --set "auth.jwks_url=file://$IDP/jwks.json" || t_done
curl -s -o "$TMP/m0" "$D_ADMIN_URL/metrics"

# ---- the probes need no token -------------------------------------------------------------
for url in "$D_URL/healthz" "$D_URL/readyz" "$D_URL/metrics" "$D_ADMIN_URL/healthz" \
    "$D_ADMIN_URL/readyz" "$D_ADMIN_URL/metrics"; do
    req GET "$url"
    assert_eq "no token needed: GET ${url#http://127.0.0.1:}" "$STATUS" 200
done
req GET "$D_ADMIN_URL/readyz"
assert_eq "/readyz: the key set is usable" \
    "$(body_json '[.checks[] | select(.name == "jwks") | .ok] | tostring')" "[true]"

# ---- rejections ----------------------------------------------------------------------------
verify() { # verify [curl args...]: POST the sample to /verify
    req POST "$D_URL/verify" -H 'Content-Type: application/zip' \
        --data-binary "@$SAMPLE/sample.zip" "$@"
}
verify
assert_eq "no token: 401" "$STATUS" 401
assert_error_body "no token" unauthorized
assert_match "no token: WWW-Authenticate: Bearer" "$(hdr WWW-Authenticate)" '^Bearer( |$)'
assert_eq "no token: no-store" "$(hdr Cache-Control)" no-store
while read -r name token; do
    verify -H "Authorization: Bearer ${!token}"
    assert_eq "$name: 401" "$STATUS" 401
    assert_match "$name: WWW-Authenticate error=\"invalid_token\"" "$(hdr WWW-Authenticate)" \
        '^Bearer .*error="invalid_token"'
    assert_eq "$name: error code" "$(body_json .error.code)" unauthorized
done <<'EOF'
expired EXPIRED
wrong-issuer BADISS
wrong-audience BADAUD
unknown-kid UNKNOWNKID
bad-signature BADSIG
alg-none NONE
alg-HS256 HS256
EOF
verify -H 'Authorization: Bearer not-a-jwt'
assert_eq "garbage token: 401" "$STATUS" 401
verify -H 'Authorization: Basic dXNlcjpwYXNz'
assert_eq "Basic credentials: 401" "$STATUS" 401
verify -H "Authorization: Bearer $NOSCOPE"
assert_eq "a token without verify:run: 403" "$STATUS" 403
assert_match "403: WWW-Authenticate error=\"insufficient_scope\"" "$(hdr WWW-Authenticate)" \
    '^Bearer .*error="insufficient_scope"'
assert_eq "403: request_id in the body" "$(body_json .error.request_id)" "$(hdr X-Request-Id)"

# ---- acceptance ----------------------------------------------------------------------------
verify -H "Authorization: Bearer $GOOD"
assert_eq "a valid token with verify:run: 200 ok" "$STATUS $(body_json .result)" "200 ok"
verify -H "Authorization: Bearer $GOOD"
assert_eq "the same token again (token cache): 200 ok" "$STATUS $(body_json .result)" "200 ok"
verify -H "Authorization: Bearer $SCP" -H 'X-Request-Id: auth-scp'
assert_eq "scp array and an audience list: 200" "$STATUS" 200

# ---- metrics and logs ----------------------------------------------------------------------
curl -s -o "$TMP/m1" "$D_ADMIN_URL/metrics"
if promtool check metrics <"$TMP/m1" >"$TMP/promtool.out" 2>&1; then
    pass "promtool check metrics with auth metrics"
else
    fail "promtool check metrics with auth metrics" "$(cat "$TMP/promtool.out")"
fi
assert_eq "auth_requests_total counts every /verify (14)" \
    "$(metric "$TMP/m1" cap_verifier_auth_requests_total)" 14
failures=$(awk '/^cap_verifier_auth_failures_total\{/ { sub(/.*reason="/, "", $1); sub(/"\}/, "", $1); printf "%s=%s ", $1, $2 }' "$TMP/m1" |
    tr ' ' '\n' | sort | tr '\n' ' ')
assert_eq "auth_failures_total by reason" "$failures" \
    "alg_not_allowed=2 bad_audience=1 bad_issuer=1 bad_signature=1 expired=1 insufficient_scope=1 malformed=2 missing_token=1 unknown_kid=1 "
assert_eq "rejected requests are not verification outcomes" \
    "$(metric "$TMP/m1" 'cap_verifier_requests_total{result="ok"}')" 3
assert_eq "jwks_keys = 1" "$(metric "$TMP/m1" cap_verifier_jwks_keys)" 1
assert_eq "jwks_state: fresh, the others 0" \
    "$(grep '^cap_verifier_jwks_state{' "$TMP/m1" | tr '\n' ' ')" \
    'cap_verifier_jwks_state{state="empty"} 0 cap_verifier_jwks_state{state="fresh"} 1 cap_verifier_jwks_state{state="stale"} 0 cap_verifier_jwks_state{state="expired"} 0 '

assert_eq "the accepted request's subject is logged" \
    "$(jq -r 'select(.request_id == "auth-scp") | .subject' "$D_LOG" | head -n 1)" tester
assert_eq "every rejection logged event=auth_failure with its reason" \
    "$(jq -r 'select(.event == "auth_failure") | .reason' "$D_LOG" | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')" \
    "alg_not_allowed=2 bad_audience=1 bad_issuer=1 bad_signature=1 expired=1 insufficient_scope=1 malformed=2 missing_token=1 unknown_kid=1 "
# who a rejected request claimed to be (docs/auth.md, "Logs")
fline() { jq -c --arg r "$1" 'select(.event == "auth_failure" and .reason == $r)' "$D_LOG" | head -n 1; }
assert_eq "a rejected token's claims are logged as unverified, with the client address" \
    "$(fline bad_issuer | jq -r '[.client, .unverified_iss, .unverified_kid, .unverified_alg, (.iss // "-")] | join(" ")')" \
    "127.0.0.1 https://evil.test key-1 EdDSA -"
assert_eq "an unknown kid is named" "$(fline unknown_kid | jq -r .unverified_kid)" key-2
assert_eq "a token without the scope logs its verified identity" \
    "$(fline insufficient_scope | jq -r '[.iss, .kid, .subject, (.unverified_iss // "-")] | join(" ")')" \
    "$ISS key-1 tester -"
assert_eq "no token, no token fields" \
    "$(fline missing_token | jq -r '[keys[] | select(test("iss|kid|sub"))] | length')" 0
long=$(printf 'A%.0s' $(seq 300))
HOSTILE=$(mint_token "$IDP/key-1.key" key-1 \
    "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"evil\\u0007\\n\\u00e9$long\",\"client_id\":\"c\\u001b[31m\",\"exp\":$((now - 3600)),\"scope\":\"verify:run\"}")
verify -H "Authorization: Bearer $HOSTILE" -H 'X-Request-Id: auth-hostile'
hostile=$(jq -c 'select(.event == "auth_failure" and .request_id == "auth-hostile")' "$D_LOG")
assert_eq "hostile claims: sanitized and cut to 128 bytes" \
    "$(jq -r '[(.unverified_sub | length), (.unverified_sub | .[0:7]), (.unverified_sub | endswith("...")), .unverified_client_id] | join(" ")' <<<"$hostile")" \
    "128 evil??? true c?[31m"
req GET "$D_ADMIN_URL/readyz"
assert_eq "/readyz: key-set state, age and last error" \
    "$(body_json '.checks[] | select(.name == "jwks") | [.state, (.key_set_age_seconds | type), .last_error] | tostring')" \
    '["fresh","number",null]'
leaked=""
for token in "$GOOD" "$SCP" "$NOSCOPE" "$EXPIRED" "$BADISS" "$BADAUD" "$UNKNOWNKID" "$BADSIG"; do
    for part in $(tr '.' ' ' <<<"$token"); do
        grep -qF -- "$part" "$D_LOG" "$D_DIR/stderr.log" && leaked+=" ${part:0:12}…"
    done
done
assert_eq "no part of any token appears in the logs" "$leaked" ""

# ---- key rotation: SIGHUP re-reads the key set ---------------------------------------------
printf '{"keys":[%s]}' "$jwk2" >"$IDP/jwks.new" && mv "$IDP/jwks.new" "$IDP/jwks.json"
kill -HUP "$D_PID"
for i in $(seq 50); do
    verify -H "Authorization: Bearer $UNKNOWNKID"
    [ "$STATUS" = 200 ] && break
    sleep 0.1
done
assert_eq "after SIGHUP a token of the new key is accepted" "$STATUS" 200
verify -H "Authorization: Bearer $GOOD"
assert_eq "… and one of the removed key is not, though it was cached (401)" "$STATUS" 401
check "same process (no restart)" kill -0 "$D_PID"

# ---- a key set that cannot be read: logged, shown by /readyz, the current set stays -----------
mv "$IDP/jwks.json" "$IDP/jwks.away"
kill -HUP "$D_PID"
for i in $(seq 50); do
    jq -e -s 'any(.[]; .event == "jwks_fetch_failed")' "$D_LOG" >/dev/null 2>&1 && break
    sleep 0.1
done
check "a failed reload is logged (jwks_reload, ERROR)" \
    jq -e -s 'any(.[]; .event == "jwks_reload" and .level == "ERROR" and (.error | length) > 0)' "$D_LOG"
check "the fetch failure is logged once (jwks_fetch_failed)" \
    jq -e -s '[.[] | select(.event == "jwks_fetch_failed")] | length == 1 and .[0].failures >= 1' "$D_LOG"
req GET "$D_ADMIN_URL/readyz"
assert_eq "/readyz: still usable, the fetch error shown" \
    "$(body_json '.checks[] | select(.name == "jwks") | [.ok, (.last_error | type), (.detail | test("last fetch failed"))] | tostring')" \
    '[true,"string",true]'
check "... naming the key set's file (admin port)" \
    bash -c 'grep -qF "$1" "$2"' _ "$IDP/jwks.json" "$TMP/resp.body"
req GET "$D_URL/readyz"
assert_eq "the API port's /readyz: the error's text is left to the admin port" \
    "$(body_json '.checks[] | select(.name == "jwks") | [.ok, .last_error, (.detail | test("last fetch failed: see the admin port"))] | tostring')" \
    '[true,"see the admin port'"'"'s /readyz",true]'
check "... no file name in it" bash -c '! grep -qF "$1" "$2"' _ "$IDP" "$TMP/resp.body"
verify -H "Authorization: Bearer $UNKNOWNKID"
assert_eq "the current key set still validates" "$STATUS" 200
mv "$IDP/jwks.away" "$IDP/jwks.json"
kill -HUP "$D_PID"
for i in $(seq 50); do
    jq -e -s 'any(.[]; .event == "jwks_fetch_recovered")' "$D_LOG" >/dev/null 2>&1 && break
    sleep 0.1
done
check "the recovery is logged (jwks_fetch_recovered)" \
    jq -e -s 'any(.[]; .event == "jwks_fetch_recovered")' "$D_LOG"
req GET "$D_ADMIN_URL/readyz"
assert_eq "/readyz: no fetch error after the recovery" \
    "$(body_json '.checks[] | select(.name == "jwks") | .last_error')" null

# ---- a subject the registry would not take as it stands ---------------------------------------
# A tab, 125 letters, then an "é" across the 128th byte: recorded as "?" and the letters
# (a record the registry refused would make the verification an error, 400)
sub=$(printf '\\u0009%s\\u00e9zzz' "$(printf 'a%.0s' $(seq 125))")
ODD=$(mint_token "$IDP/key-2.key" key-2 \
    "$(printf '{"iss":"%s","aud":"%s","sub":"%s","exp":%d,"scope":"verify:run"}' "$ISS" "$AUD" \
        "$sub" $((now + 600)))")
verify -H "Authorization: Bearer $ODD" -H 'X-Request-Id: auth-odd-subject'
assert_eq "a subject with a control character, cut inside a character: 200 ok" \
    "$STATUS $(body_json .result)" "200 ok"
recorded=""
for i in $(seq 50); do
    recorded=$(sqlite3 -readonly "$D_DIR/registry.sqlite" \
        "SELECT subject FROM verifications WHERE request_id = 'auth-odd-subject'" 2>/dev/null) &&
        [ -n "$recorded" ] && break
    sleep 0.1
done
assert_eq "... recorded with the control character as ? and cut between characters" \
    "$recorded" "?$(printf 'a%.0s' $(seq 125))"

daemon_stop
t_done
