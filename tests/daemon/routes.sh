#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every route of capverifyd over loopback (docs/api/openapi.json): answers, error codes and bodies,
# the body limit, security headers, request ids, the admin port's restricted routes, verdicts
# on the sample, a tampered and the peer packages, and the served OpenAPI document.
#   routes.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR VECTORS_DIR
source "$(dirname "$0")/lib.sh"
t_init "$@"

LIMIT=65536
daemon_start routes "${SAMPLE_ARGS[@]}" --set server.max_body_bytes=$LIMIT || t_done
# every answer below is checked against docs/api/openapi.json (lib.sh documented) at the end
T_DOCUMENT_ALL=1
API=$D_URL
ADMIN=$D_ADMIN_URL
JSON_CT='application/json; charset=utf-8'

# ---- probes --------------------------------------------------------------------------------
# an absolute-form target (RFC 9112 §3.2.2) is served for its path, whatever its host; its path
# is checked as any other
for target in "http://127.0.0.1:${API##*:}/healthz" "http://api.example:${API##*:}/healthz"; do
    req GET "$API/" --request-target "$target"
    assert_eq "GET $target (absolute-form): 200" "$STATUS" 200
done
req GET "$API/" --request-target "http://api.example:${API##*:}/%68ealthz"
assert_eq "absolute-form, a path not canonical: 400" "$STATUS" 400
for base in "$API" "$ADMIN"; do
    port=api
    [ "$base" = "$ADMIN" ] && port=admin
    req GET "$base/healthz"
    assert_eq "$port GET /healthz: 200" "$STATUS" 200
    assert_eq "$port /healthz body" "$(body_json '.status + " " + (.version | type)')" "ok string"
    assert_eq "$port /healthz Content-Type" "$(hdr Content-Type)" "$JSON_CT"
    raw_http "${base##*:}" 'HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
        >"$TMP/head.raw"
    assert_match "$port HEAD /healthz: 200 with Content-Length" "$(cat "$TMP/head.raw")" \
        $'^HTTP/1.1 200 .*Content-Length: [1-9]'
    assert_eq "$port HEAD /healthz: no body" "$(raw_body_len "$TMP/head.raw")" 0
    req GET "$base/readyz"
    assert_eq "$port GET /readyz: 200" "$STATUS" 200
    assert_eq "$port /readyz: ready, every check ok" \
        "$(body_json '.status + " " + ([.checks[].ok] | all | tostring)')" "ready true"
    req GET "$base/metrics"
    assert_eq "$port GET /metrics: 200" "$STATUS" 200
    assert_eq "$port /metrics Content-Type" "$(hdr Content-Type)" \
        "text/plain; version=0.0.4; charset=utf-8"
    check "$port /metrics has cap_verifier_build_info" grep -q '^cap_verifier_build_info{' \
        "$TMP/resp.body"
done

# ---- the admin port serves the probes only -------------------------------------------------
for path in /verify /openapi.json /policy/compile /registry/entries /admin/backups /nope; do
    req GET "$ADMIN$path"
    assert_eq "admin GET $path: 404" "$STATUS" 404
done
req POST "$ADMIN/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "admin POST /verify: 404" "$STATUS" 404
assert_error_body "admin POST /verify" not_found

# ---- 404, 405 ------------------------------------------------------------------------------
req GET "$API/nope"
assert_eq "GET /nope: 404" "$STATUS" 404
assert_error_body "GET /nope" not_found
assert_eq "404 Content-Type" "$(hdr Content-Type)" "$JSON_CT"
for path in /verify/ /healthz/x /registry/entries/ /policy/a/b; do
    req GET "$API$path"
    assert_eq "GET $path: 404" "$STATUS" 404
done
# a percent-encoded path never reaches a route (docs/hardening.md): 400, whole JSON
req GET "$API/$(printf '%%01%.0s' $(seq 600))"
assert_eq "400 for a long path of encoded control bytes" "$STATUS" 400
assert_eq "that error body is valid JSON of its declared length" \
    "$(jq -r .error.code "$TMP/resp.body" 2>/dev/null) $(wc -c <"$TMP/resp.body")" \
    "malformed $(hdr Content-Length)"

req GET "$API/verify"
assert_eq "GET /verify: 405" "$STATUS" 405
assert_error_body "GET /verify" method_not_allowed
assert_eq "405 Allow on /verify" "$(hdr Allow)" "POST"
req POST "$API/healthz" -H 'Content-Type: application/json' -d '{}'
assert_eq "POST /healthz: 405" "$STATUS" 405
assert_eq "405 Allow on /healthz" "$(hdr Allow)" "GET, HEAD"
req PUT "$API/metrics"
assert_eq "PUT /metrics: 405" "$STATUS" 405
req DELETE "$API/registry/entries"
assert_eq "DELETE /registry/entries: 405" "$STATUS" 405
assert_eq "405 Allow on /registry/entries" "$(hdr Allow)" "GET, HEAD, POST"
req GET "$API/admin/backup"
assert_eq "GET /admin/backup: 405" "$STATUS" 405
# "compile" is a valid policy id: GET /policy/compile looks it up (none stored here)
req GET "$API/policy/compile"
assert_eq "GET /policy/compile is the policy 'compile': 404, not 405" "$STATUS" 404
req POST "$API/admin/backups"
assert_eq "POST /admin/backups: 405" "$STATUS" 405

# Routes other engineers are filling in: the router knows them (never 404/405 on the right
# method); when they answer 200, the body has the documented shape.
req GET "$API/registry/entries"
assert_match "GET /registry/entries is routed" "$STATUS" '^(200|401|403|501|503)$'
[ "$STATUS" = 200 ] && assert_eq "GET /registry/entries: entries array" \
    "$(body_json '.entries | type')" array
req GET "$API/admin/backups"
assert_match "GET /admin/backups is routed" "$STATUS" '^(200|401|403|501|503)$'
[ "$STATUS" = 200 ] && assert_eq "GET /admin/backups: backups array" \
    "$(body_json '.backups | type')" array

# ---- 415 -----------------------------------------------------------------------------------
req POST "$API/verify" -H 'Content-Type: text/plain' --data-binary "@$SAMPLE/sample.zip"
assert_eq "POST /verify text/plain: 415" "$STATUS" 415
assert_error_body "415" unsupported_media_type
req POST "$API/verify" -H 'Content-Type:' --data-binary "@$SAMPLE/sample.zip"
assert_eq "POST /verify without Content-Type: 415" "$STATUS" 415
# multipart/form-data is a form upload (tests/daemon/ui.sh): a malformed one is a 400
req POST "$API/verify" -H 'Content-Type: multipart/form-data; boundary=x' --data-binary 'x'
assert_eq "POST /verify malformed multipart: 400" "$STATUS" 400
assert_error_body "malformed multipart" malformed
req POST "$API/verify" -H 'Content-Type: text/html' --data-binary 'x'
assert_match "415 names the accepted media types" "$(body_json .error.message)" \
    'application/zip.*application/json.*multipart/form-data'

# ---- 413 -----------------------------------------------------------------------------------
# Declared far beyond the limit and never sent: answered at once from the headers, and the
# connection is closed instead of being drained.
out=$(python3 - "$D_API" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/zip\r\n"
          b"Content-Length: 100000000000\r\n\r\n")
t0 = time.monotonic()
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
status = data.split(b" ", 2)[1].decode() if data else "none"
elapsed = time.monotonic() - t0
# keep sending body bytes: a server that drains would take them; ours has closed
closed = "open"
try:
    s.settimeout(3)
    for _ in range(200):
        s.sendall(b"x" * 65536)
        time.sleep(0.005)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    while True:
        chunk = s.recv(65536)
        if not chunk:
            closed = "closed"
            break
        data += chunk
        if b"HTTP/1.1 200" in data:
            break
except (BrokenPipeError, ConnectionResetError):
    closed = "closed"
except socket.timeout:
    closed = "timeout"
print(status, "%.3f" % elapsed, closed)
PY
)
read -r st413 t413 closed413 <<<"$out"
assert_eq "declared 100 GB body: 413" "$st413" 413
assert_le "413 answered before the body (seconds)" "$t413" 1.0
assert_eq "connection closed after 413 (the body is not drained)" "$closed413" closed

head -c 2000000 /dev/zero >"$TMP/big.bin"
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$TMP/big.bin"
assert_eq "2 MB body with Expect: 100-continue: 413" "$STATUS" 413
assert_le "413 before curl's 1 s Expect wait ends (body never sent)" "$TIME" 0.9
assert_error_body "413" body_too_large
assert_eq "413 closes the connection" "$(hdr Connection)" close
# A body sent without waiting: what follows the answer is taken in (at most 256 KiB, then the
# connection closes, and a reset could overtake the answer: docs/hardening.md), so three
# times the limit, not more, for an answer that arrives every time
head -c $((3 * LIMIT)) /dev/zero >"$TMP/over.bin"
req POST "$API/verify" -H 'Content-Type: application/zip' -H 'Expect:' \
    --data-binary "@$TMP/over.bin"
assert_eq "3 x the limit sent at once: 413" "$STATUS" 413
req POST "$API/verify" -H 'Content-Type: application/zip' -H 'Expect:' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/over.bin"
assert_eq "chunked body beyond the limit: 413" "$STATUS" 413
head -c $((LIMIT + 1)) /dev/zero >"$TMP/limit1.bin"
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$TMP/limit1.bin"
assert_eq "limit + 1 bytes: 413" "$STATUS" 413
head -c $LIMIT /dev/zero >"$TMP/limit.bin"
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$TMP/limit.bin"
assert_eq "exactly the limit is read (then 400: not a zip)" "$STATUS" 400

# ---- 400 -----------------------------------------------------------------------------------
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary 'PK not a zip'
assert_eq "malformed zip: 400" "$STATUS" 400
assert_error_body "malformed zip" malformed
head -c 1500 "$SAMPLE/sample.zip" >"$TMP/truncated.zip"
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$TMP/truncated.zip"
assert_eq "truncated zip: 400" "$STATUS" 400
req POST "$API/verify" -H 'Content-Type: application/json' --data-binary '{"package": '
assert_eq "malformed JSON: 400" "$STATUS" 400
assert_error_body "malformed JSON" malformed
req POST "$API/verify" -H 'Content-Type: application/json' --data-binary '{"package":{"a":1},"package":{}}'
assert_eq "JSON with a duplicate key: 400" "$STATUS" 400
req POST "$API/verify" -H 'Content-Type: application/json' \
    --data-binary '{"package":{"manifest.json":"***not base64***"}}'
assert_eq "JSON package with bad base64: 400" "$STATUS" 400
req POST "$API/verify" -H 'Content-Type: application/json' --data-binary '[1,2]'
assert_eq "JSON that is not an object: 400" "$STATUS" 400

# ---- verdicts ------------------------------------------------------------------------------
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "sample.zip: 200" "$STATUS" 200
assert_eq "sample.zip: result ok" "$(body_json .result)" ok
assert_eq "sample.zip: cap-bundle.v1, no failed or warned check" \
    "$(body_json '.format + " " + ([.checks[] | select(.status == "fail" or .status == "warn")] | length | tostring)')" \
    "cap-bundle.v1 0"
assert_eq "sample.zip: signature and timestamp pass" \
    "$(body_json '[.checks[] | select(.id == "manifest.signature" or .id == "timestamp") | .status] | join(",")')" \
    "pass,pass"
assert_eq "report Content-Type" "$(hdr Content-Type)" "$JSON_CT"
assert_eq "report Cache-Control" "$(hdr Cache-Control)" no-store
zip_manifest=$(body_json .manifest_hash)
assert_match "manifest_hash is 0x + 64 hex" "$zip_manifest" '^0x[0-9a-f]{64}$'

json_package "$SAMPLE/sample" "$TMP/sample.json"
req POST "$API/verify" -H 'Content-Type: application/json; charset=utf-8' \
    --data-binary "@$TMP/sample.json"
assert_eq "sample as {\"package\":…}: 200" "$STATUS" 200
assert_eq "sample as {\"package\":…}: result ok" "$(body_json .result)" ok
assert_eq "both forms give the same manifest_hash" "$(body_json .manifest_hash)" "$zip_manifest"

tampered_zip "$SAMPLE/sample.zip" "$TMP/tampered.zip"
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$TMP/tampered.zip"
assert_eq "tampered package: 200 (a verdict is an answer)" "$STATUS" 200
assert_eq "tampered package: result fail" "$(body_json .result)" fail
assert_eq "tampered package: integrity and signature fail" \
    "$(body_json '[.checks[] | select(.id == "package.integrity" or .id == "manifest.signature") | .status] | join(",")')" \
    "fail,fail"

PEER=$VECTORS/peer/packages
for pkg in webui-legacy.zip desktop/cap-bundle-2025-12-14.zip desktop/cap-bundle-2025-11-30.zip; do
    req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$PEER/$pkg"
    assert_eq "peer $pkg: 200 fail" "$STATUS $(body_json .result)" "200 fail"
done
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$PEER/webui-legacy.zip"
assert_eq "peer webui-legacy: unsigned, proof binding passes" \
    "$(body_json '[.checks[] | select(.id == "manifest.signature" or .id == "proof.binding") | .status] | join(",")')" \
    "fail,pass"
json_package "$PEER/multi-unit" "$TMP/multi.json"
req POST "$API/verify" -H 'Content-Type: application/json' --data-binary "@$TMP/multi.json"
assert_eq "peer multi-unit as JSON: 200 fail with 2 units" \
    "$STATUS $(body_json '.result + " " + (.units | length | tostring)')" "200 fail 2"

# ---- request ids ---------------------------------------------------------------------------
id64=$(printf 'a%.0s' $(seq 61))._-
req GET "$API/healthz" -H "X-Request-Id: $id64"
assert_eq "valid 64-char X-Request-Id echoed" "$(hdr X-Request-Id)" "$id64"
req GET "$API/nope" -H "X-Request-Id: req-42.A_b"
assert_eq "valid X-Request-Id echoed on errors" "$(hdr X-Request-Id)" "req-42.A_b"
assert_eq "and in the error body" "$(body_json .error.request_id)" "req-42.A_b"
for bad in "${id64}x" 'has space' 'a<b>' 'semi;colon' 'ünï' 'audit-42.' '..'; do
    req GET "$API/healthz" -H "X-Request-Id: $bad"
    got=$(hdr X-Request-Id)
    assert_match "invalid X-Request-Id '${bad:0:12}…' replaced by a generated one" "$got" \
        '^[0-9a-f]{32}$'
done
req GET "$API/healthz"
id1=$(hdr X-Request-Id)
req GET "$API/healthz"
assert_ne "generated request ids differ" "$(hdr X-Request-Id)" "$id1"

# ---- security headers ----------------------------------------------------------------------
# every response: nosniff; API responses (not the probes): Cache-Control: no-store
while read -r method url api; do
    if [ "$method" = POST ]; then
        req POST "$url" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
    else
        req "$method" "$url"
    fi
    assert_eq "nosniff on $method ${url#http://127.0.0.1:}" "$(hdr X-Content-Type-Options)" nosniff
    if [ "$api" = api ]; then
        assert_eq "no-store on $method ${url#http://127.0.0.1:}" "$(hdr Cache-Control)" no-store
    fi
    assert_eq "no CORS header on $method ${url#http://127.0.0.1:}" \
        "$(hdr Access-Control-Allow-Origin)" ""
done <<EOF
POST $API/verify api
GET $API/verify api
GET $API/nope api
GET $API/openapi.json api
GET $API/healthz probe
GET $API/readyz probe
GET $API/metrics probe
GET $ADMIN/healthz probe
GET $ADMIN/metrics probe
GET $ADMIN/verify api
EOF

# ---- the OpenAPI document ------------------------------------------------------------------
req GET "$API/openapi.json"
assert_eq "GET /openapi.json: 200" "$STATUS" 200
check "/openapi.json is valid JSON" jq -e . "$TMP/resp.body"
assert_eq "/openapi.json is docs/api/openapi.json" \
    "$(jq -S -c . "$TMP/resp.body" | sha256sum)" "$(jq -S -c . "$SRC/docs/api/openapi.json" | sha256sum)"
cp "$TMP/resp.body" "$TMP/openapi.json"
OA=$TMP/openapi.json
assert_match "OpenAPI 3.1" "$(jq -r .openapi "$OA")" '^3\.1\.'
# every route and method the daemon serves, with its scope
while read -r method path scope; do
    op=$(jq -c --arg p "$path" --arg m "$method" '.paths[$p][$m] // empty' "$OA")
    if [ -z "$op" ]; then
        fail "OpenAPI documents $method $path"
        continue
    fi
    pass "OpenAPI documents $method $path"
    if [ "$scope" = none ]; then
        assert_eq "OpenAPI: $method $path needs no token" \
            "$(jq -c '.security[0]' <<<"$op")" "{}"
    else
        assert_eq "OpenAPI: $method $path scope" \
            "$(jq -r '[.security[] | .bearerAuth // empty | .[]] | join(" ")' <<<"$op")" "$scope"
    fi
done <<'EOF'
get /healthz none
get /readyz none
get /metrics none
get /openapi.json none
post /verify verify:run
post /policy/compile policy:compile
get /policy/{id} policy:read
get /registry/entries registry:read
post /registry/entries registry:write
get /registry/entries/{id} registry:read
get /registry/verifications/{request_id} verifications:read
get /registry/verifications verifications:read
get /registry/entries/{id}/signature registry:read
get /policies policy:read
get /ui/config.json none
get / none
get /ui/{file} none
post /admin/backup backup:create
get /admin/backups backup:read
EOF
assert_eq "OpenAPI: bearer JWT security scheme" \
    "$(jq -r '.components.securitySchemes.bearerAuth | .type + " " + .scheme + " " + .bearerFormat' "$OA")" \
    "http bearer JWT"
assert_eq "OpenAPI: /verify documents zip and JSON bodies" \
    "$(jq -r '.paths["/verify"].post.requestBody.content | has("application/zip") and has("application/json")' "$OA")" true
assert_eq "OpenAPI: /verify status codes" \
    "$(jq -r '.paths["/verify"].post.responses | keys | join(",")' "$OA")" \
    "200,400,401,403,404,405,408,409,413,415,417,429,500,503"
assert_eq "OpenAPI: /policy/compile has 409 and 422" \
    "$(jq -r '.paths["/policy/compile"].post.responses | has("409") and has("422")' "$OA")" true
assert_eq "OpenAPI: /policy/{id} has ETag and 304" \
    "$(jq -r '.paths["/policy/{id}"].get.responses | has("304") and (.["200"].headers | has("ETag"))' "$OA")" true
assert_eq "OpenAPI: error schema" \
    "$(jq -r '.components.schemas.Error.properties.error.required | join(",")' "$OA")" \
    "code,message,request_id"
# every local $ref resolves
unresolved=$(jq -r '[paths(type == "object" and has("$ref")) as $p | getpath($p)["$ref"]] | unique[]' "$OA" |
    while read -r r; do
        jq -e --arg r "$r" 'getpath($r | ltrimstr("#/") | split("/")) != null' "$OA" >/dev/null || echo "$r"
    done)
assert_eq "OpenAPI: every \$ref resolves" "$unresolved" ""
# The document itself: no validator of OpenAPI 3.1 documents is packaged in Debian 12, so
# what python3-jsonschema can check: every schema is JSON Schema 2020-12, every example
# valid against its schema (tests/daemon/openapi_check.py --document).
if python3 -c 'import jsonschema' 2>/dev/null; then
    out=$(python3 "$SRC/tests/daemon/openapi_check.py" --document "$OA" 2>&1)
    assert_match "OpenAPI: schemas and examples" "$out" $'^PASS\t[0-9]+ schemas'
else
    skip_missing "OpenAPI: schemas and examples" "python3 module jsonschema (python3-jsonschema)"
fi
# The daemon's real answers match the document: every answer above (T_DOCUMENT_ALL), checked
# here against docs/api/openapi.json; one of each kind at least.
assert_le "answers collected for the document's check" 60 "$(wc -l <"$TMP/documented/index")"
T=$'\t'
for kind in "POST${T}[^$T]*/verify${T}200" "GET${T}[^$T]*/readyz${T}200" "${T}404$T" "${T}405$T" \
    "${T}413$T" "${T}415$T"; do
    check "an answer '${kind//$T/ }' is among them" grep -q "$kind" "$TMP/documented/index"
done
check_documented

daemon_stop
t_done
