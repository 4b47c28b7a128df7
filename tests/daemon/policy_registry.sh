#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The policy and registry routes of capverifyd (docs/api/openapi.json) over loopback: compile
# (200, persist, 422 lint errors, 409 conflicting re-post, idempotent re-post; a persisted
# policy known to policy.binding), GET with
# ETag and 304, the evaluation form of /verify (Mode A by id, Mode B embedded IR, tampered
# IR → 400, fail verdict → 200), registry entries (201, idempotent retry 200, 409 conflict,
# paging, lookup, 404), recorded verifications, and on-demand backups.
#   policy_registry.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR VECTORS_DIR
source "$(dirname "$0")/lib.sh"
t_init "$@"
T_DOCUMENT_ALL=1 # every answer is checked against docs/api/openapi.json at t_done (lib.sh)

# The sample's trust without its policy directory: the policy store is the registry's.
daemon_start policy --set "trust.dir=$SAMPLE/trust" --set "trust.tsa_ca_file=$SAMPLE/tsa/ca.pem" \
    --set verify.mock_policy=accept || t_done
API=$D_URL
J=(-H 'Content-Type: application/json')
POLICY=$VECTORS/peer/policy
binding() { body_json '.checks[] | select(.id == "policy.binding") | "\(.status) \(.details.known)"'; }

# The sample names the peer's lksg.v1 policy, which the registry does not keep yet.
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "verify before the policy is stored: 200 warn" "$STATUS $(body_json .result)" "200 warn"
assert_eq "  policy.binding: unknown" "$(binding)" "warn false"

# ---- POST /policy/compile ------------------------------------------------------------------
b64=$(base64 -w0 "$POLICY/lksg_v1.policy.yml")
printf '{"policy_yaml":"%s","persist":true}' "$b64" >"$TMP/compile.json"
req POST "$API/policy/compile" "${J[@]}" --data-binary "@$TMP/compile.json"
assert_eq "compile lksg_v1: 200" "$STATUS" 200
assert_eq "compile: ir_hash of the peer's IR" "$(body_json .ir_hash)" \
    "sha3-256:df3a3eeb7c72f6204131397e4b0a4b16235f1e20cc66102153ad6d4ee78f892c"
assert_eq "compile: policy_hash" "$(body_json .policy_hash)" \
    "sha3-256:b98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638"
assert_eq "compile: persisted, no lints" "$(body_json '"\(.persisted) \(.lints | length)"')" "true 0"
assert_eq "compile: the IR is the peer's IR" "$(body_json .ir | jq -S -c .)" \
    "$(jq -S -c . "$POLICY/lksg_v1.ir.json")"
# Stored, it is known (the cached report of the same bytes is not served again).
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "verify once the policy is stored: 200 ok" "$STATUS $(body_json .result)" "200 ok"
assert_eq "  policy.binding: known" "$(binding)" "pass true"
req POST "$API/policy/compile" "${J[@]}" --data-binary "@$TMP/compile.json"
assert_eq "compile re-post (same policy): 200, idempotent" "$STATUS" 200
# a chunked body, whose length is known only once read: reserved by what it turned out to be,
# not by the worst case of a body as large as the limit (64 x 16 MiB, beyond any budget)
req POST "$API/policy/compile" "${J[@]}" -H 'Transfer-Encoding: chunked' -H 'Expect:' \
    --data-binary "@$TMP/compile.json"
assert_eq "compile re-post as a chunked body: 200" "$STATUS" 200

# the same id and version with other content: a conflict, never an overwrite
sed 's/no_sanctions/no_sanction_hits/' "$POLICY/lksg_v1.policy.yml" >"$TMP/other.yml"
printf '{"policy_yaml":"%s","persist":true}' "$(base64 -w0 "$TMP/other.yml")" >"$TMP/other.json"
req POST "$API/policy/compile" "${J[@]}" --data-binary "@$TMP/other.json"
assert_eq "compile conflicting policy (same id+version): 409" "$STATUS" 409
assert_error_body "409" conflict

# lint errors: 422 with the diagnostics
printf 'id: bad.policy\nversion: "1"\nlegal_basis: []\ndescription: x\ninputs: {}\nrules:\n  - {id: r1, op: frobnicate, lhs: a, rhs: b}\n' >"$TMP/bad.yml"
printf '{"policy_yaml":"%s"}' "$(base64 -w0 "$TMP/bad.yml")" >"$TMP/bad.json"
req POST "$API/policy/compile" "${J[@]}" --data-binary "@$TMP/bad.json"
assert_eq "compile with lint errors: 422" "$STATUS" 422
assert_eq "422 names E2001 (unknown op)" \
    "$(body_json '[.lints[] | select(.level == "error") | .code] | index("E2001") != null')" true
req POST "$API/policy/compile" "${J[@]}" --data-binary '{"policy_yaml":"!!!"}'
assert_eq "compile with bad base64: 400" "$STATUS" 400
req POST "$API/policy/compile" -H 'Content-Type: text/plain' --data-binary @"$TMP/bad.json"
assert_eq "compile as text/plain: 415" "$STATUS" 415

# ---- GET /policy/{id} with ETag -------------------------------------------------------------
req GET "$API/policy/lksg.v1"
assert_eq "GET /policy/lksg.v1: 200" "$STATUS" 200
etag=$(hdr ETag)
assert_eq "ETag is \"ir:<ir_hash>\"" "$etag" \
    '"ir:sha3-256:df3a3eeb7c72f6204131397e4b0a4b16235f1e20cc66102153ad6d4ee78f892c"'
check "GET body is the peer's IR byte for byte" cmp -s "$TMP/resp.body" "$POLICY/lksg_v1.ir.json"
req GET "$API/policy/lksg.v1" -H "If-None-Match: $etag"
assert_eq "If-None-Match: 304" "$STATUS" 304
assert_eq "304 has no body" "$(wc -c <"$TMP/resp.body" | tr -d ' ')" 0
assert_eq "… nor a Content-Length (RFC 9110: it would have to be the 200's)" \
    "$(tr -d '\r' <"$TMP/resp.headers" | grep -ci '^content-length:')" 0
req GET "$API/policy/lksg.v1" -H 'If-None-Match: "ir:sha3-256:00"'
assert_eq "another ETag: 200" "$STATUS" 200
req GET "$API/policy/no.such.policy"
assert_eq "unknown policy: 404" "$STATUS" 404

# ---- POST /verify, evaluation form -----------------------------------------------------------
ctx=$(jq -c '.sanctions_root = "0x1111111111111111111111111111111111111111111111111111111111111111"' \
    "$VECTORS/peer/context/adapt_context.json")
req POST "$API/verify" "${J[@]}" --data-binary "{\"policy_id\":\"lksg.v1\",\"context\":$ctx}"
assert_eq "Mode A (policy_id): 200" "$STATUS" 200
assert_eq "Mode A: a result and one rule" "$(body_json '"\(.result) \(.rules | length)"')" "ok 1"
member=$(jq -r '.supplier_hashes[0]' <<<"$ctx")
ctx_hit=$(jq -c --arg m "$member" '.sanctions_root = $m' <<<"$ctx")
req POST "$API/verify" "${J[@]}" --data-binary "{\"ir\":$(cat "$POLICY/lksg_v1.ir.json"),\"context\":$ctx_hit}"
assert_eq "Mode B (embedded IR), a sanctioned supplier: 200" "$STATUS" 200
assert_eq "Mode B: fail is an answer" "$(body_json .result)" fail
tampered=$(jq -c '.rules[0].op = "eq"' "$POLICY/lksg_v1.ir.json")
req POST "$API/verify" "${J[@]}" --data-binary "{\"ir\":$tampered,\"context\":$ctx}"
assert_eq "Mode B with a tampered IR (ir_hash mismatch): 400" "$STATUS" 400
req POST "$API/verify" "${J[@]}" --data-binary "{\"policy_id\":\"no.such\",\"context\":$ctx}"
assert_eq "Mode A with an unknown policy: 404" "$STATUS" 404

# ---- registry ----------------------------------------------------------------------------
m1=0x1111111111111111111111111111111111111111111111111111111111111111
p1=0x2222222222222222222222222222222222222222222222222222222222222222
entry="{\"manifest_hash\":\"$m1\",\"proof_hash\":\"$p1\",\"timestamp_file\":null}"
req POST "$API/registry/entries" "${J[@]}" --data-binary "$entry"
assert_eq "register: 201" "$STATUS" 201
id=$(body_json .id)
assert_eq "register: Location names the entry" "$(hdr Location)" "/registry/entries/$id"
req POST "$API/registry/entries" "${J[@]}" --data-binary "$entry"
assert_eq "register retry (same entry): 200, not a duplicate" "$STATUS" 200
assert_eq "register retry: same id" "$(body_json .id)" "$id"
req POST "$API/registry/entries" "${J[@]}" \
    --data-binary "{\"manifest_hash\":\"$m1\",\"proof_hash\":\"$p1\",\"timestamp_file\":\"other.tsr\"}"
assert_eq "register the same hashes with other content: 409" "$STATUS" 409
req POST "$API/registry/entries" "${J[@]}" --data-binary '{"manifest_hash":"0x0","proof_hash":"0x1"}'
assert_eq "register malformed hashes: 400" "$STATUS" 400
# a supplied signature that does not verify: well formed, not acceptable
openssl genpkey -algorithm ed25519 -out "$TMP/ed.pem" 2>/dev/null
pub=$(openssl pkey -in "$TMP/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
sig=$(head -c 64 /dev/zero | base64 -w0)
req POST "$API/registry/entries" "${J[@]}" --data-binary "{\"manifest_hash\":\"$(printf '0x%064d' 8)\",\"proof_hash\":\"$p1\",\"signature\":\"$sig\",\"public_key\":\"$pub\"}"
assert_eq "register with a signature that does not verify: 422 unprocessable" \
    "$STATUS $(body_json .error.code)" "422 unprocessable"
req POST "$API/registry/entries" "${J[@]}" --data-binary '{"proof_hash":"0x1","surprise":1}'
assert_eq "register with an unknown field: 400" "$STATUS" 400
# an id the entry's URL could not carry (the path takes no percent-encoding, nothing outside
# ASCII, no segment ending in '.') is refused, not stored out of reach
for bad in 'my entry/1%' 'v1.' 'ünï'; do
    req POST "$API/registry/entries" "${J[@]}" \
        --data-binary "{\"id\":\"$bad\",\"manifest_hash\":\"$(printf '0x%064d' 9)\",\"proof_hash\":\"$p1\"}"
    assert_eq "register id '$bad': 400" "$STATUS $(body_json .error.code)" "400 malformed"
done
# ... while every character it can carry is taken, '~' among them (a request id has none):
# under the first entry's hashes, such an id is a conflict, past the id check
req POST "$API/registry/entries" "${J[@]}" \
    --data-binary "{\"id\":\"Ab~9_x-1.0\",\"manifest_hash\":\"$m1\",\"proof_hash\":\"$p1\"}"
assert_eq "register id 'Ab~9_x-1.0' under taken hashes: 409" "$STATUS" 409
for i in 3 4 5; do
    h=$(printf '0x%064d' "$i")
    req POST "$API/registry/entries" "${J[@]}" --data-binary "{\"manifest_hash\":\"$h\",\"proof_hash\":\"$p1\"}"
done
req GET "$API/registry/entries/$id"
assert_eq "GET entry: 200, the same hashes" "$STATUS $(body_json .manifest_hash)" "200 $m1"
req GET "$API/registry/entries/no-such-id"
assert_eq "GET unknown entry: 404" "$STATUS" 404
req GET "$API/registry/entries?limit=2"
assert_eq "page 1: 2 entries and a cursor" "$(body_json '"\(.entries | length) \(.next != null)"')" "2 true"
next=$(body_json .next)
req GET "$API/registry/entries?limit=2&after=$next"
assert_eq "page 2: the other 2, last page" "$(body_json '"\(.entries | length) \(.next)"')" "2 null"
req GET "$API/registry/entries?manifest_hash=$m1"
assert_eq "filter by manifest_hash: 1 entry" "$(body_json '.entries | length')" 1
req GET "$API/registry/entries?limit=0"
assert_eq "limit=0: 400" "$STATUS" 400
req GET "$API/registry/entries?limit=1001"
assert_eq "limit=1001 (the most is 1000): 400" "$STATUS" 400
# a filter too long to be a hash is refused, never dropped (that would list every entry)
req GET "$API/registry/entries?manifest_hash=$m1$(printf '0%.0s' $(seq 100))"
assert_eq "a manifest_hash longer than its buffer: 400, not the unfiltered list" \
    "$STATUS $(body_json .error.code)" "400 malformed"
assert_match "... naming the parameter" "$(body_json .error.message)" "manifest_hash is longer than"
# so is any parameter that would be dropped or read as another: misspelt, percent-encoded,
# given twice, a NUL in its value, a number out of range or empty
for q in "manifesthash=$m1" "manifest%5Fhash=$m1" "Manifest_Hash=$m1" \
    "manifest_hash=$m1&manifest_hash=0x$(printf '2%.0s' $(seq 64))" "limit=1&limit=5" "limit=1%00junk" \
    "after=99999999999999999999999" "after=" "manifest_hash" "limit"; do
    req GET "$API/registry/entries?$q"
    assert_eq "?$q: 400" "$STATUS $(body_json .error.code)" "400 malformed"
done
req GET "$API/policies?limit=2&sort=x"
assert_eq "GET /policies with an unknown parameter: 400" "$STATUS" 400
req GET "$API/registry/verifications?result=ok&result=fail"
assert_eq "GET /registry/verifications with result twice: 400" "$STATUS" 400

# ---- recorded verifications and backups ---------------------------------------------------------
req POST "$API/verify" -H 'Content-Type: application/zip' -H 'X-Request-Id: recorded-1' \
    --data-binary "@$SAMPLE/sample.zip"
assert_eq "verify the sample: 200" "$STATUS" 200
req POST "$API/admin/backup"
assert_eq "POST /admin/backup: 201" "$STATUS" 201
backup=$(body_json .path)
assert_eq "the backup counts the 4 entries" "$(body_json .entries)" 4
check "the backup file exists" test -f "$backup"
check "the sidecar names its SHA3-256" test "$(jq -r .sha3_256 "${backup%.sqlite}.json")" = \
    "$("$CLI" hash --alg sha3-256 "$backup" | cut -d' ' -f1)"
req GET "$API/admin/backups"
assert_eq "GET /admin/backups lists it" "$(body_json '.backups[0].path')" "$backup"
# a page of another site may not take backups (retention would prune the older ones)
req POST "$API/admin/backup" -H 'Sec-Fetch-Site: cross-site' -H 'Origin: https://evil.test'
assert_eq "POST /admin/backup from another site (Sec-Fetch-Site): 403" \
    "$STATUS $(body_json .error.code)" "403 forbidden"
req POST "$API/admin/backup" -H 'Origin: http://evil.test'
assert_eq "... (Origin of another host, no Sec-Fetch-Site): 403" "$STATUS" 403
req GET "$API/admin/backups"
assert_eq "... and no backup was taken" "$(body_json '.backups | length')" 1
check "the verification was recorded under its request id" test \
    "$(sqlite3 "file:$backup?mode=ro" "select result from verifications where request_id='recorded-1'")" = ok
metric_file=$TMP/metrics
curl -s "$D_ADMIN_URL/metrics" >"$metric_file"
assert_eq "cap_verifier_registry_entries = 4" "$(metric "$metric_file" cap_verifier_registry_entries)" 4
assert_eq "cap_verifier_backup_total{result=\"ok\"} = 1" \
    "$(metric "$metric_file" 'cap_verifier_backup_total{result="ok"}')" 1

# ---- damage is the server's fault, never the client's ------------------------------------------
# a stored IR changed behind the daemon's back: its hash no longer matches
sqlite3 "$D_DIR/registry.sqlite" \
    "UPDATE policies SET ir = replace(ir, '\"lksg.v1\"', '\"lksg.v2\"') WHERE policy_id = 'lksg.v1'"
req GET "$API/policy/lksg.v1"
assert_eq "GET /policy of a damaged IR: 500" "$STATUS $(body_json .error.code)" "500 internal"
req POST "$API/verify" "${J[@]}" --data-binary "{\"policy_id\":\"lksg.v1\",\"context\":$ctx}"
assert_eq "Mode A with a damaged IR: 500, as GET /policy" "$STATUS $(body_json .error.code)" \
    "500 internal"
# a schema the backup does not know (an index added by hand): refused, and said in the log only
sqlite3 "$D_DIR/registry.sqlite" "CREATE INDEX by_hand ON entries (id)"
req POST "$API/admin/backup"
assert_eq "POST /admin/backup of a schema with an object added by hand: 500" \
    "$STATUS $(body_json .error.code)" "500 internal"
check "... naming nothing of the schema" sh -c "! grep -q by_hand '$TMP/resp.body'"
check "... which the log names" grep -q by_hand "$D_LOG"

daemon_stop
t_done
