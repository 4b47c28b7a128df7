#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The web UI's routes and the form upload of POST /verify (docs/ui.md) over loopback: "/"
# and /ui/ with their security headers, caching and ETags, the compiled-in files equal to
# ui/ and within their size budget, /ui/config.json, ui.enabled=false, the issuer in the
# Content-Security-Policy, and multipart/form-data: curl -F uploads (zip by its signature,
# JSON packages, failing packages), a form from another site refused with 403 (Sec-Fetch-Site,
# Origin), and every malformed form refused with 400.
#   ui.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR VECTORS_DIR
source "$(dirname "$0")/lib.sh"
t_init "$@"

UI=$SRC/ui
daemon_start ui "${SAMPLE_ARGS[@]}" --set server.max_body_bytes=1048576 || t_done
API=$D_URL
CSP_OPEN="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

# the UI's headers on the last response
ui_headers() {
    assert_eq "$1: Content-Security-Policy" "$(hdr Content-Security-Policy)" "${2:-$CSP_OPEN}"
    assert_eq "$1: Referrer-Policy" "$(hdr Referrer-Policy)" same-origin
    assert_eq "$1: X-Frame-Options" "$(hdr X-Frame-Options)" DENY
    assert_eq "$1: X-Content-Type-Options" "$(hdr X-Content-Type-Options)" nosniff
}

# ---- "/" and the files ---------------------------------------------------------------------
for path in / /ui; do
    req GET "$API$path"
    assert_eq "GET $path: 302" "$STATUS" 302
    assert_eq "GET $path: Location /ui/" "$(hdr Location)" /ui/
    assert_eq "GET $path: no-store" "$(hdr Cache-Control)" no-store
    ui_headers "GET $path"
done
req GET "$API/ui/"
assert_eq "GET /ui/: 200" "$STATUS" 200
assert_eq "GET /ui/: HTML" "$(hdr Content-Type)" "text/html; charset=utf-8"
assert_eq "GET /ui/: revalidated each time" "$(hdr Cache-Control)" no-cache
ui_headers "GET /ui/"
ETAG=$(hdr ETag)
assert_match "GET /ui/: a strong ETag" "$ETAG" '^"[0-9a-f]{16}"$'
BUILD=$(grep -o '/ui/v/[0-9a-f]\{16\}/app.js' "$TMP/resp.body" | head -n 1 | cut -d/ -f4)
assert_match "index.html loads the modules from /ui/v/<build>/" "$BUILD" '^[0-9a-f]{16}$'
check "index.html is ui/index.html with its base filled in" \
    cmp -s "$TMP/resp.body" <(sed "s|@UI_BASE@|/ui/v/$BUILD|g" "$UI/index.html")
req GET "$API/ui/" -H "If-None-Match: $ETAG"
assert_eq "GET /ui/ with its ETag: 304" "$STATUS" 304
assert_eq "304: no body" "$(wc -c <"$TMP/resp.body")" 0
raw_http "$D_API" 'HEAD /ui/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >"$TMP/head.raw"
assert_match "HEAD /ui/: 200 with its length" "$(cat "$TMP/head.raw")" $'^HTTP/1.1 200 .*Content-Length: [1-9]'
assert_eq "HEAD /ui/: no body" "$(raw_body_len "$TMP/head.raw")" 0
req POST "$API/ui/" -H 'Content-Type: application/json' -d '{}'
assert_eq "POST /ui/: 405" "$STATUS" 405

total=0
for f in "$UI"/*; do
    name=$(basename "$f")
    total=$((total + $(wc -c <"$f")))
    [ "$name" = index.html ] && continue
    req GET "$API/ui/v/$BUILD/$name"
    assert_eq "GET /ui/v/<build>/$name: 200" "$STATUS" 200
    check "/ui/v/<build>/$name is ui/$name, byte for byte" cmp -s "$TMP/resp.body" "$f"
    assert_eq "$name: cached for good" "$(hdr Cache-Control)" "public, max-age=31536000, immutable"
    case $name in
        *.js) want="text/javascript; charset=utf-8" ;;
        *.css) want="text/css; charset=utf-8" ;;
        *.svg) want="image/svg+xml" ;;
        *) want="?" ;;
    esac
    assert_eq "$name: Content-Type" "$(hdr Content-Type)" "$want"
    req GET "$API/ui/$name"
    assert_eq "GET /ui/$name (no build): revalidated" "$STATUS $(hdr Cache-Control)" "200 no-cache"
done
assert_le "the UI's files are at most 150 KB together ($total bytes)" "$total" 153600
req GET "$API/ui/v/0000000000000000/app.js"
assert_eq "a file of another build: 404" "$STATUS" 404
assert_error_body "another build" not_found
ui_headers "404 of the UI"
assert_eq "404 of the UI: no-store" "$(hdr Cache-Control)" no-store
req GET "$API/ui/nope.js"
assert_eq "GET /ui/nope.js: 404" "$STATUS" 404
req GET "$API/ui/v/$BUILD/app.js" -H 'Origin: https://evil.example'
assert_eq "no CORS for the UI's files" "$(hdr Access-Control-Allow-Origin)" ""

# what the files may not hold: inline script or style, event-handler attributes, HTML sinks
check "index.html: every script has a src" bash -c "! grep -E '<script( [^>]*)?>' '$UI/index.html' | grep -qv 'src='"
check "no inline style or event handler attribute" bash -c "! grep -EiIq ' (style|on[a-z]+)=' '$UI'/*.html"
# (code, not comments: those lines start with // or *)
code_lines() { grep -hEv '^[[:space:]]*(//|/?\*)' "$UI"/*.js; }
sinks=$(code_lines | grep -E 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function')
assert_eq "no HTML sink in the JavaScript (innerHTML, insertAdjacentHTML, document.write, eval, …)" "$sinks" ""
assert_eq "no localStorage in the JavaScript (the token stays in memory)" \
    "$(code_lines | grep -E 'localStorage')" ""

# ---- /ui/config.json --------------------------------------------------------------------------
req GET "$API/ui/config.json"
assert_eq "GET /ui/config.json: 200" "$STATUS" 200
assert_eq "config.json: no authentication, no issuer, no client" \
    "$(body_json '[.auth_enabled, .issuer, .client_id, .token_origin] | tostring')" \
    '[false,null,null,null]'
assert_eq "config.json: the default scopes" "$(body_json .scopes)" \
    "openid verify:run registry:read verifications:read policy:compile policy:read"
assert_eq "config.json: the version" "$(body_json .version)" \
    "$(curl -s "$API/healthz" | jq -r .version)"
assert_eq "config.json: server.max_body_bytes (the UI refuses larger files)" \
    "$(body_json .max_body_bytes)" 1048576 # as set above
assert_eq "config.json: no-store" "$(hdr Cache-Control)" no-store
ui_headers "GET /ui/config.json"

# ---- the form upload ------------------------------------------------------------------------
req POST "$API/verify" -F "package=@$SAMPLE/sample.zip"
assert_eq "curl -F package=@sample.zip: 200" "$STATUS" 200
assert_eq "the form's report: ok" "$(body_json .result)" ok
assert_eq "the form's report is shown inline" "$(hdr Content-Disposition)" \
    'inline; filename="capverify-report.json"'
cp "$TMP/resp.body" "$TMP/form.json"
RID=$(hdr X-Request-Id)
req POST "$API/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "the same report as a raw body (but for the time)" \
    "$(jq -c 'del(.verified_at, .duration_ms)' "$TMP/form.json")" \
    "$(jq -c 'del(.verified_at, .duration_ms)' "$TMP/resp.body")"
assert_eq "a raw body has no Content-Disposition" "$(hdr Content-Disposition)" ""
req GET "$API/registry/verifications/$RID"
assert_eq "the form's verification is recorded" "$STATUS $(body_json .result)" "200 ok"
req POST "$API/verify" -F "package=@$SAMPLE/sample.zip;filename=named-like.json;type=application/json"
assert_eq "a zip is a zip whatever its name and type" "$STATUS $(body_json .result)" "200 ok"
json_package "$SAMPLE/sample" "$TMP/pkg.json"
req POST "$API/verify" -F "package=@$TMP/pkg.json"
assert_eq "a JSON package in a form" "$STATUS $(body_json .format)" "200 cap-bundle.v1"
tampered_zip "$SAMPLE/sample.zip" "$TMP/tampered.zip"
req POST "$API/verify" -F "package=@$TMP/tampered.zip"
assert_eq "a tampered package in a form: fail" "$STATUS $(body_json .result)" "200 fail"
printf '{"policy_id":"x","context":{}}' >"$TMP/eval.json"
req POST "$API/verify" -F "package=@$TMP/eval.json"
assert_eq "a policy evaluation in a form: 400" "$STATUS" 400
assert_match "… says to send it as application/json" "$(body_json .error.message)" 'application/json'
# a form from another site (any page can send one, with the cookies of an authenticating
# proxy) is refused; from the UI's own origin, or a client that is not a browser, it is not
while read -r want what; do
    req POST "$API/verify" -H "$what" -F "package=@$SAMPLE/sample.zip"
    assert_eq "a form with $what: $want" "$STATUS" "$want"
done <<EOF
403 Sec-Fetch-Site: cross-site
403 Sec-Fetch-Site: same-site
200 Sec-Fetch-Site: same-origin
200 Sec-Fetch-Site: none
403 Origin: https://elsewhere.example
403 Origin: null
200 Origin: ${API}
EOF
req POST "$API/verify" -H 'Origin: https://elsewhere.example' -F "package=@$SAMPLE/sample.zip"
assert_eq "… the refusal: forbidden" "$(body_json .error.code)" forbidden
# an absolute-form target names the request's host in place of Host (RFC 9112 §3.2.2)
port=${API##*:}
req POST "$API/verify" --request-target "http://ui.example:$port/verify" -H 'Host: other.example' \
    -H "Origin: http://ui.example:$port" -F "package=@$SAMPLE/sample.zip"
assert_eq "a form to an absolute-form target, Origin its authority: 200" "$STATUS" 200
req POST "$API/verify" --request-target "http://ui.example:$port/verify" \
    -H "Host: other.example:$port" -H "Origin: http://other.example:$port" \
    -F "package=@$SAMPLE/sample.zip"
assert_eq "… Origin the Host header's, not the target's: 403" "$STATUS" 403
assert_match "… naming why" "$(body_json .error.message)" 'another site'

# an audit log beside the package, in the field audit_log (docs/formats.md, "Audit logs"): the
# sample's manifest names the tip of the peer's log
LOG=$VECTORS/peer/audit/agent.audit.jsonl
audit_status() { body_json '.checks[] | select(.id == "audit") | .status'; }
req POST "$API/verify" -F "package=@$SAMPLE/sample.zip"
assert_eq "no audit log: the audit check skips" "$STATUS $(audit_status)" "200 skip"
req POST "$API/verify" -F "package=@$SAMPLE/sample.zip" -F "audit_log=@$LOG"
assert_eq "the audit log in the form: its chain and tip pass the audit check" \
    "$STATUS $(audit_status) $(body_json .result)" "200 pass ok"
sed '3s/"/'"'"'/' "$LOG" >"$TMP/edited.audit.jsonl"
req POST "$API/verify" -F "package=@$SAMPLE/sample.zip" -F "audit_log=@$TMP/edited.audit.jsonl"
assert_eq "an edited audit log in the form: the audit check fails" \
    "$STATUS $(audit_status) $(body_json .result)" "200 fail fail"
req POST "$API/verify" -F "package=@$SAMPLE/sample.zip"
assert_eq "… and the next form without a log is not answered from that verdict" \
    "$STATUS $(audit_status)" "200 skip"

# refused, each with 400 malformed and a reason
form_400() { # NAME EXPECTED_MESSAGE_ERE curl-args...
    local name=$1 want=$2
    shift 2
    req POST "$API/verify" "$@"
    assert_eq "$name: 400" "$STATUS" 400
    assert_eq "$name: malformed" "$(body_json .error.code)" malformed
    assert_match "$name: says why" "$(body_json .error.message)" "$want"
}
: >"$TMP/empty"
form_400 "another field" "unknown form field 'other'" -F other=x -F "package=@$SAMPLE/sample.zip"
form_400 "two packages" "more than one" -F "package=@$SAMPLE/sample.zip" -F "package=@$SAMPLE/sample.zip"
form_400 "an empty package" "empty" -F "package=@$TMP/empty"
form_400 "no field package" "no field 'package'|unknown form field" -F "file=@$SAMPLE/sample.zip"
form_400 "two audit logs" "more than one field 'audit_log'" -F "package=@$SAMPLE/sample.zip" \
    -F "audit_log=@$LOG" -F "audit_log=@$LOG"
form_400 "an empty audit log" "audit_log' is empty" -F "package=@$SAMPLE/sample.zip" \
    -F "audit_log=@$TMP/empty"
form_400 "no boundary" "no boundary" -H 'Content-Type: multipart/form-data' --data-binary 'x'
form_400 "a boundary of 71 characters" "1\\.\\.70" \
    -H "Content-Type: multipart/form-data; boundary=$(head -c 71 /dev/zero | tr '\0' a)" --data-binary 'x'
form_400 "two boundaries" "more than one boundary" \
    -H 'Content-Type: multipart/form-data; boundary=a; boundary=b' --data-binary 'x'

# raw forms: NAME WANT BODY (printf escapes), boundary XB
raw_form() {
    printf -- "$3" >"$TMP/form.bin"
    form_400 "$1" "$2" -H 'Content-Type: multipart/form-data; boundary=XB' \
        --data-binary "@$TMP/form.bin"
}
CD='Content-Disposition: form-data; name="package"; filename="p.json"'
raw_form "a preamble" "does not start with the boundary" "junk\r\n--XB\r\n$CD\r\n\r\n{}\r\n--XB--\r\n"
raw_form "data after the close" "follows the closing boundary" "--XB\r\n$CD\r\n\r\n{}\r\n--XB--\r\nmore"
raw_form "no closing boundary" "no closing boundary" "--XB\r\n$CD\r\n\r\n{}\r\n"
raw_form "bare LF line ends" "not followed by CRLF" "--XB\n$CD\n\n{}\n--XB--\n"
raw_form "filename*" "filename\\*" \
    "--XB\r\nContent-Disposition: form-data; name=\"package\"; filename*=UTF-8''p.zip\r\n\r\nx\r\n--XB--\r\n"
raw_form "base64 transfer encoding" "Transfer-Encoding" \
    "--XB\r\n$CD\r\nContent-Transfer-Encoding: base64\r\n\r\ne30=\r\n--XB--\r\n"
raw_form "a folded header" "folded" "--XB\r\n$CD\r\n continued\r\n\r\n{}\r\n--XB--\r\n"
raw_form "no Content-Disposition" "no Content-Disposition" "--XB\r\nContent-Type: text/plain\r\n\r\nx\r\n--XB--\r\n"
raw_form "no name" "no name" "--XB\r\nContent-Disposition: form-data; filename=\"p\"\r\n\r\nx\r\n--XB--\r\n"
raw_form "not form-data" "not form-data" "--XB\r\nContent-Disposition: attachment; name=\"package\"\r\n\r\nx\r\n--XB--\r\n"
raw_form "two names" "two names" \
    "--XB\r\nContent-Disposition: form-data; name=\"package\"; name=\"x\"\r\n\r\nx\r\n--XB--\r\n"
raw_form "an empty form" "no field" "--XB--\r\n"
raw_form "nothing after a boundary" "not followed by" "--XB"
long=$(head -c 1100 /dev/zero | tr '\0' a)
raw_form "a header line over 1024 bytes" "longer than 1024" "--XB\r\n$CD\r\nX-Long: $long\r\n\r\nx\r\n--XB--\r\n"
parts=""
for i in 1 2 3 4 5 6 7 8 9; do parts="$parts--XB\r\nContent-Disposition: form-data; name=\"f$i\"\r\n\r\nx\r\n"; done
raw_form "nine parts" "more than 8 parts" "$parts--XB--\r\n"
raw_form "an unprintable field name" "\\(unprintable\\)" \
    "--XB\r\nContent-Disposition: form-data; name=\"\xff\xfe\"\r\n\r\nx\r\n--XB--\r\n"
# well formed, written by hand: quoted boundary, other headers ignored, epilogue CRLF only
printf -- '--a b\r\nContent-Disposition: form-data; name="package"; filename="s.zip"\r\nContent-Type: application/zip\r\nX-Other: y\r\n\r\n' >"$TMP/ok.bin"
cat "$SAMPLE/sample.zip" >>"$TMP/ok.bin"
printf -- '\r\n--a b--\r\n' >>"$TMP/ok.bin"
req POST "$API/verify" -H 'Content-Type: multipart/form-data; boundary="a b"' --data-binary "@$TMP/ok.bin"
assert_eq "a quoted boundary with a space, extra headers: ok" "$STATUS $(body_json .result)" "200 ok"
# a file input left empty: a browser sends an empty part with an empty file name: no log
printf -- '--XB\r\nContent-Disposition: form-data; name="package"; filename="s.zip"\r\n\r\n' >"$TMP/nolog.bin"
cat "$SAMPLE/sample.zip" >>"$TMP/nolog.bin"
printf -- '\r\n--XB\r\nContent-Disposition: form-data; name="audit_log"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--XB--\r\n' >>"$TMP/nolog.bin"
req POST "$API/verify" -H 'Content-Type: multipart/form-data; boundary=XB' --data-binary "@$TMP/nolog.bin"
assert_eq "an audit_log file input left empty (filename=\"\"): no log, ok" \
    "$STATUS $(body_json .result) $(audit_status)" "200 ok skip"
# a browser sends a Windows file name's backslashes as they are
printf -- '--XB\r\nContent-Disposition: form-data; name="package"; filename="C:\\Users\\a\\s.zip"\r\n\r\n' >"$TMP/win.bin"
cat "$SAMPLE/sample.zip" >>"$TMP/win.bin"
printf -- '\r\n--XB--\r\n' >>"$TMP/win.bin"
req POST "$API/verify" -H 'Content-Type: multipart/form-data; boundary=XB' --data-binary "@$TMP/win.bin"
assert_eq "a file name with backslashes (C:\\Users\\a\\s.zip): ok" "$STATUS $(body_json .result)" "200 ok"

# the body limit holds for forms as for raw bodies; a bad boundary is answered before the body
head -c 1100000 /dev/urandom >"$TMP/big.bin"
req POST "$API/verify" -F "package=@$TMP/big.bin"
assert_eq "a form over server.max_body_bytes: 413" "$STATUS" 413
req POST "$API/verify" -H 'Content-Type: multipart/form-data; boundary=' -H 'Expect: 100-continue' \
    --data-binary "@$TMP/big.bin"
assert_eq "an empty boundary: 400 from the headers" "$STATUS" 400
assert_le "… before curl's 1 s Expect wait ends (the body is never sent)" "$TIME" 0.9
daemon_stop

# ---- ui.enabled=false --------------------------------------------------------------------
daemon_start off "${SAMPLE_ARGS[@]}" --set ui.enabled=false || t_done
for path in / /ui/ /ui/config.json "/ui/v/$BUILD/app.js"; do
    req GET "$D_URL$path"
    assert_eq "ui.enabled=false: GET $path 404" "$STATUS" 404
done
req POST "$D_URL/verify" -F "package=@$SAMPLE/sample.zip"
assert_eq "ui.enabled=false: the form upload still works" "$STATUS $(body_json .result)" "200 ok"
daemon_stop

# ---- with authentication: the issuer's origin, and the files need no token ---------------------
make_jwk "$TMP" k1 >"$TMP/jwk.json" || fail "make a key"
printf '{"keys":[%s]}' "$(cat "$TMP/jwk.json")" >"$TMP/jwks.json"
ISS=https://idp.example:8443/realms/capv
AUTH_ARGS=(--set auth.enabled=true --set "auth.issuer=$ISS" --set auth.audiences=capv-api
    --set "auth.jwks_url=file://$TMP/jwks.json")
daemon_start auth "${SAMPLE_ARGS[@]}" "${AUTH_ARGS[@]}" --set ui.client_id=capv-ui \
    --set 'ui.scopes=openid,verify:run' || t_done
CSP_AUTH="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' https://idp.example:8443; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
req GET "$D_URL/ui/"
assert_eq "with auth the UI's files need no token" "$STATUS" 200
ui_headers "GET /ui/ with auth" "$CSP_AUTH"
req GET "$D_URL/ui/config.json"
assert_eq "config.json with auth" \
    "$(body_json '[.auth_enabled, .issuer, .client_id, .scopes, .token_origin] | tostring')" \
    "[true,\"$ISS\",\"capv-ui\",\"openid verify:run\",\"https://idp.example:8443\"]"
req POST "$D_URL/verify" -F "package=@$SAMPLE/sample.zip"
assert_eq "a form cannot carry a token: 401" "$STATUS" 401
TOKEN=$(mint_token "$TMP/k1.key" k1 "{\"iss\":\"$ISS\",\"aud\":\"capv-api\",\"sub\":\"u\",\"scope\":\"verify:run\",\"exp\":$(($(date +%s) + 300))}")
req POST "$D_URL/verify" -H "Authorization: Bearer $TOKEN" -F "package=@$SAMPLE/sample.zip"
assert_eq "a form with a token: ok" "$STATUS $(body_json .result)" "200 ok"
daemon_stop
# without a client id the UI connects nowhere else
daemon_start noclient "${SAMPLE_ARGS[@]}" "${AUTH_ARGS[@]}" || t_done
req GET "$D_URL/ui/"
ui_headers "GET /ui/ with auth, no client id"
daemon_stop
# a token endpoint on another origin (ui.token_origin): the UI may connect there too
daemon_start tokens "${SAMPLE_ARGS[@]}" "${AUTH_ARGS[@]}" --set ui.client_id=capv-ui \
    --set ui.token_origin=https://tokens.example || t_done
req GET "$D_URL/ui/"
ui_headers "GET /ui/ with ui.token_origin" \
    "${CSP_AUTH/8443;/8443 https://tokens.example;}"
req GET "$D_URL/ui/config.json"
assert_eq "config.json: token_origin" "$(body_json .token_origin)" https://tokens.example
daemon_stop

# an issuer the UI cannot sign in at is a configuration error
out=$("$DAEMON" --config-dir "$TMP/ui/conf" --check-config "${AUTH_ARGS[@]}" \
    --set auth.issuer=idp-without-scheme --set ui.client_id=capv-ui 2>&1)
assert_eq "--check-config: an issuer without an origin, with ui.client_id: exit 3" "$?" 3
assert_match "… names auth.issuer and the UI" "$out" 'auth.issuer: the UI signs in at this issuer'
"$DAEMON" --config-dir "$TMP/ui/conf" --check-config --set 'ui.scopes=openid,bad scope' >/dev/null 2>&1
assert_eq "--check-config: a scope with a space: exit 3" "$?" 3
out=$("$DAEMON" --config-dir "$TMP/ui/conf" --check-config "${AUTH_ARGS[@]}" \
    --set ui.client_id=capv-ui --set ui.token_origin=https://tokens.example/token 2>&1)
assert_eq "--check-config: ui.token_origin with a path: exit 3" "$?" 3
assert_match "… says why" "$out" 'ui.token_origin: .*an origin has no path'
out=$("$DAEMON" --config-dir "$TMP/ui/conf" --check-config "${AUTH_ARGS[@]}" \
    --set ui.token_origin=https://tokens.example 2>&1)
assert_eq "--check-config: ui.token_origin without ui.client_id: exit 3" "$?" 3
assert_match "… says why" "$out" 'ui.token_origin: has no effect without ui.client_id'

# the UI's files are not rate-limited; the API is
daemon_start limited "${SAMPLE_ARGS[@]}" --set server.rate_limit_per_second=1 \
    --set server.rate_limit_burst=2 || t_done
codes=""
for i in 1 2 3 4 5 6; do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$D_URL/ui/v/$BUILD/app.js") "; done
assert_eq "six file loads in a row: all 200" "$codes" "200 200 200 200 200 200 "
codes=""
for i in 1 2 3 4; do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$D_URL/registry/entries") "; done
assert_match "the API is still limited" "$codes" '429'
# /ui/config.json counts against the address; its 429 is a UI answer like the others
for i in 1 2 3 4; do
    req GET "$D_URL/ui/config.json"
    [ "$STATUS" = 429 ] && break
done
assert_eq "GET /ui/config.json, again and again: 429" "$STATUS" 429
ui_headers "429 of /ui/config.json"
daemon_stop
t_done
