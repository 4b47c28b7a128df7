#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CORS (docs/hardening.md#cors: no CORS unless configured with an explicit origin list). With
# server.cors_origins=https://app.example: a preflight from that origin gets 204 with
# Access-Control-Allow-Origin: https://app.example (exactly; never *), Vary: Origin, the
# allowed methods (POST) and headers (Authorization, Content-Type); any other origin gets no
# Access-Control-* header at all; a simple request from the listed origin carries the ACAO
# header, from another origin none; the admin port never sends a CORS header; and with
# cors_origins empty no answer anywhere has one.
#   cors.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"
ORIGIN=https://app.example

# cors_headers: the Access-Control-* headers of the last response, one line, sorted
cors_headers() {
    tr -d '\r' <"$TMP/resp.headers" | grep -i '^access-control-' | sort | tr '\n' ';'
}
# list_has LIST ITEM: LIST (comma-separated header value) holds ITEM, case-insensitively
list_has() {
    grep -qix -- "$2" <<<"$(tr ',' '\n' <<<"$1" | sed 's/^[ \t]*//; s/[ \t]*$//')"
}
preflight() { # preflight URL ORIGIN [METHOD]
    req OPTIONS "$1" -H "Origin: $2" -H "Access-Control-Request-Method: ${3:-POST}" \
        -H 'Access-Control-Request-Headers: authorization, content-type'
}
row() { # row CASE: one line of the printed table
    printf 'figure: cors %-40s status %s headers %s\n' "$1" "$STATUS" "$(cors_headers)"
}

daemon_start_checked cors "${SAMPLE_ARGS[@]}" --set "server.cors_origins=$ORIGIN" || h_done

# ---- the listed origin -------------------------------------------------------------------------
preflight "$D_URL/verify" "$ORIGIN"
row "preflight /verify from $ORIGIN"
assert_eq "preflight from the listed origin: 204" "$STATUS" 204
assert_eq "… Access-Control-Allow-Origin is the origin, exactly" \
    "$(hdr Access-Control-Allow-Origin)" "$ORIGIN"
assert_eq "… exactly one Access-Control-Allow-Origin header" \
    "$(tr -d '\r' <"$TMP/resp.headers" | grep -ci '^access-control-allow-origin:')" 1
check "… Vary: Origin" list_has "$(hdr Vary)" Origin
check "… Access-Control-Allow-Methods has POST" list_has "$(hdr Access-Control-Allow-Methods)" POST
check "… Access-Control-Allow-Headers has Authorization" \
    list_has "$(hdr Access-Control-Allow-Headers)" Authorization
check "… Access-Control-Allow-Headers has Content-Type" \
    list_has "$(hdr Access-Control-Allow-Headers)" Content-Type
check "… Access-Control-Allow-Headers has If-None-Match (a conditional GET /policy/{id})" \
    list_has "$(hdr Access-Control-Allow-Headers)" If-None-Match
assert_eq "… no body with the 204" "$(wc -c <"$TMP/resp.body" | tr -d ' ')" 0
assert_eq "… nor a Content-Length (RFC 9110 §8.6)" \
    "$(tr -d '\r' <"$TMP/resp.headers" | grep -ci '^content-length:')" 0

preflight "$D_URL/registry/entries" "$ORIGIN" GET
row "preflight /registry/entries (GET) from $ORIGIN"
assert_eq "preflight for GET /registry/entries: 204 with the origin" \
    "$STATUS $(hdr Access-Control-Allow-Origin)" "204 $ORIGIN"

req GET "$D_URL/healthz" -H "Origin: $ORIGIN"
row "GET /healthz from $ORIGIN"
assert_eq "simple GET from the listed origin: 200 with ACAO = the origin" \
    "$STATUS $(hdr Access-Control-Allow-Origin)" "200 $ORIGIN"
check "… and Vary: Origin" list_has "$(hdr Vary)" Origin
req POST "$D_URL/verify" -H "Origin: $ORIGIN" -H 'Content-Type: application/zip' \
    --data-binary "@$SAMPLE/sample.zip"
row "POST /verify from $ORIGIN"
assert_eq "POST /verify from the listed origin: 200 with ACAO = the origin" \
    "$STATUS $(hdr Access-Control-Allow-Origin)" "200 $ORIGIN"

# ---- other origins: nothing ----------------------------------------------------------------------
for o in https://evil.example null http://app.example https://app.example.evil.example \
    https://evil.example/https://app.example 'https://app.example, https://evil.example'; do
    preflight "$D_URL/verify" "$o"
    row "preflight /verify from $o"
    assert_eq "preflight from '$o': no Access-Control-* header" "$(cors_headers)" ""
    req GET "$D_URL/healthz" -H "Origin: $o"
    row "GET /healthz from $o"
    assert_eq "simple GET from '$o': no Access-Control-* header" "$(cors_headers)" ""
done
req GET "$D_URL/healthz"
assert_eq "no Origin: no Access-Control-* header" "$(cors_headers)" ""

# ---- the admin port: never ---------------------------------------------------------------------
for path in /healthz /readyz /metrics; do
    req GET "$D_ADMIN_URL$path" -H "Origin: $ORIGIN"
    row "admin GET $path from $ORIGIN"
    assert_eq "admin GET $path from the listed origin: no CORS header" "$(cors_headers)" ""
    preflight "$D_ADMIN_URL$path" "$ORIGIN" GET
    row "admin preflight $path from $ORIGIN"
    assert_eq "admin preflight $path: no CORS header" "$(cors_headers)" ""
done
daemon_stop cors

# ---- cors_origins empty: nowhere -----------------------------------------------------------------
daemon_start nocors "${SAMPLE_ARGS[@]}" || h_done
preflight "$D_URL/verify" "$ORIGIN"
row "no cors_origins: preflight /verify"
assert_eq "cors_origins empty: preflight has no CORS header" "$(cors_headers)" ""
req GET "$D_URL/healthz" -H "Origin: $ORIGIN"
assert_eq "cors_origins empty: simple GET has no CORS header" "$(cors_headers)" ""
req POST "$D_URL/verify" -H "Origin: $ORIGIN" -H 'Content-Type: application/zip' \
    --data-binary "@$SAMPLE/sample.zip"
assert_eq "cors_origins empty: POST /verify has no CORS header" "$STATUS $(cors_headers)" "200 "
req GET "$D_ADMIN_URL/healthz" -H "Origin: $ORIGIN"
assert_eq "cors_origins empty: admin has no CORS header" "$(cors_headers)" ""
daemon_stop nocors
h_done
