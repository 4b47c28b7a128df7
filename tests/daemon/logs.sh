#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Logs (docs/runbook.md#logs): one JSON object per stdout line with timestamp (RFC 3339, ms,
# UTC "Z"), level, message and event; request lines with request_id, method, path, status,
# duration_ms (and result / error); secrets never logged; SIGUSR1 / SIGUSR2 change the level.
#   logs.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"

daemon_start logs "${SAMPLE_ARGS[@]}" --set logging.level=info || t_done
LOG=$D_LOG

# wait_log JQ_FILTER: up to 5 s for a log line matching the filter
wait_log() {
    local i
    for i in $(seq 50); do
        if jq -e -s "any(.[]; $1)" "$LOG" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

SECRET=eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2VuLXBheWxvYWQ.c2lnbmF0dXJlLXNlY3JldA
curl -s -o /dev/null -H 'X-Request-Id: log-ok-1' -H 'Content-Type: application/zip' \
    --data-binary "@$SAMPLE/sample.zip" "$D_URL/verify"
curl -s -o /dev/null -H 'X-Request-Id: log-ok-2' -H 'Content-Type: application/zip' \
    --data-binary "@$SAMPLE/sample.zip" "$D_URL/verify"
tampered_zip "$SAMPLE/sample.zip" "$TMP/tampered.zip"
curl -s -o "$TMP/tampered.json" -H 'X-Request-Id: log-fail-1' -H 'Content-Type: application/zip' \
    --data-binary "@$TMP/tampered.zip" "$D_URL/verify"
curl -s -o /dev/null -H 'X-Request-Id: log-fail-2' -H 'Content-Type: application/zip' \
    --data-binary "@$TMP/tampered.zip" "$D_URL/verify"
json_package "$SAMPLE/sample" "$TMP/sample.json"
curl -s -o /dev/null -H 'X-Request-Id: log-json-1' -H 'Content-Type: application/json' \
    --data-binary "@$TMP/sample.json" "$D_URL/verify"
curl -s -o /dev/null -H 'X-Request-Id: log-404-1' "$D_URL/nope"
curl -s -o /dev/null -H 'X-Request-Id: log-415-1' -H 'Content-Type: text/plain' -d x "$D_URL/verify"
# a bearer token (and a token in the query string) in every kind of request
for path in /verify /healthz /readyz /metrics /nope "/verify?access_token=$SECRET"; do
    curl -s -o /dev/null -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/zip' \
        --data-binary "@$SAMPLE/sample.zip" "$D_URL$path"
done
# 40 requests on one keep-alive connection (one worker thread) with ids of our own: their
# random parts come from a per-thread pool of 256 bytes, refilled on the way
many=()
for _ in $(seq 40); do many+=(-o /dev/null "$D_URL/nope"); done
curl -s "${many[@]}"
curl -s -o /dev/null -H "Authorization: Bearer $SECRET" -H 'X-Request-Id: log-last' "$D_URL/nope"
wait_log '.request_id == "log-last"' || fail "request lines are written" "no line for log-last"

check "nothing on stderr" test ! -s "$D_DIR/stderr.log"
check "the auth-disabled warning was logged" \
    jq -e -s 'any(.[]; .event == "auth_disabled" and .level == "WARN")' "$LOG"
check "the start was logged with the listen addresses" \
    jq -e -s --arg l "127.0.0.1:$D_API" 'any(.[]; .event == "started" and .listen == $l)' "$LOG"

# ---- request lines -------------------------------------------------------------------------
reqline() { jq -c --arg id "$1" 'select(.request_id == $id)' "$LOG" | head -n 1; }
ok_line=$(reqline log-ok-1)
assert_eq "request line fields and types" \
    "$(jq -r '[.event, .level, .method, .path, (.status | tostring), (.duration_ms | type), .result] | join(" ")' <<<"$ok_line")" \
    "http_request INFO POST /verify 200 number ok"
assert_le "duration_ms >= 0" 0 "$(jq -r .duration_ms <<<"$ok_line")"
assert_eq "a /verify line: body bytes, upload and verify times, cache miss, no failed checks" \
    "$(jq -r '[.body_bytes, (.upload_ms | type), (.verify_ms | type), .cache, (.failed_checks // "-")] | join(" ")' <<<"$ok_line")" \
    "$(stat -c %s "$SAMPLE/sample.zip") number number miss -"
assert_eq "the same package again: a cache hit" "$(reqline log-ok-2 | jq -r .cache)" hit
want=$(jq -r '[.checks[] | select(.status == "warn" or .status == "fail") | .id + ":" + .status] | join(",")' "$TMP/tampered.json")
assert_eq "a fail line names the checks that did not pass, as the report does" \
    "$(reqline log-fail-1 | jq -r '[.result, .failed_checks] | join(" ")')" "fail $want"
check "… and the report has failing checks" test -n "$want"
assert_eq "… and so does the line of the same package answered from the report cache" \
    "$(reqline log-fail-2 | jq -r '[.cache, .result, .failed_checks] | join(" ")')" "hit fail $want"
assert_eq "the JSON package form is not cached" "$(reqline log-json-1 | jq -r .cache)" none
assert_eq "a 404 line carries the error code" \
    "$(reqline log-404-1 | jq -r '[.method, .path, (.status | tostring), .error] | join(" ")')" \
    "GET /nope 404 not_found"
assert_eq "a 415 line carries the error code" \
    "$(reqline log-415-1 | jq -r '[(.status | tostring), .error] | join(" ")')" \
    "415 unsupported_media_type"
assert_eq "every http_request line has request_id, method, path, status, duration_ms" \
    "$(jq -r 'select(.event == "http_request") | select((.request_id | type) != "string" or (.method | type) != "string" or (.path | type) != "string" or (.status | type) != "number" or (.duration_ms | type) != "number") | tojson' "$LOG")" ""
assert_eq "generated request ids are 32 hex digits" \
    "$(jq -r 'select(.event == "http_request") | .request_id | select(test("^(log-.*|[0-9a-f]{32})$") | not)' "$LOG")" ""
generated=$(jq -r 'select(.event == "http_request") | .request_id | select(test("^[0-9a-f]{32}$"))' "$LOG")
assert_le "at least 40 generated request ids" 40 "$(wc -l <<<"$generated")"
assert_eq "the random parts of generated ids (after 12 digits of time) all differ, none zero" \
    "$(cut -c13- <<<"$generated" | sort | uniq -d; grep -E '^.{12}0{20}$' <<<"$generated")" ""

# ---- secrets and package contents never appear ---------------------------------------------
check "the bearer token never appears in stdout" bash -c "! grep -qF -- '$SECRET' '$LOG'"
check "the bearer token never appears in stderr" bash -c "! grep -qF -- '$SECRET' '$D_DIR/stderr.log'"
check "no part of the token appears" bash -c "! grep -qE 'c2VjcmV0LXRva2Vu|Bearer' '$LOG'"
sig=$(jq -r '.signatures[0].sig_hex' "$SAMPLE/sample/manifest.json")
check "no package content (the manifest signature) appears" bash -c "! grep -qF -- '${sig#0x}' '$LOG'"
check "no query string appears" bash -c "! grep -qF 'access_token' '$LOG'"

# ---- SIGUSR1 / SIGUSR2 -----------------------------------------------------------------------
curl -s -o /dev/null -H 'X-Request-Id: probe-info' "$D_URL/healthz"
curl -s -o /dev/null -H 'X-Request-Id: marker-1' "$D_URL/nope"
wait_log '.request_id == "marker-1"'
check "at info, probe requests are not logged" \
    jq -e -s 'all(.[]; .request_id != "probe-info")' "$LOG"

# level_changes: the new levels logged so far, space-separated
level_changes() {
    jq -r -s '[.[] | select(.event == "log_level") | .new_level] | join(" ")' "$LOG"
}
wait_levels() {
    local i
    for i in $(seq 50); do
        [ "$(level_changes)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

kill -USR1 "$D_PID"
wait_levels DEBUG
assert_eq "SIGUSR1 logs the new level" "$(level_changes)" DEBUG
curl -s -o /dev/null -H 'X-Request-Id: probe-debug' "$D_URL/healthz"
if wait_log '.request_id == "probe-debug" and .level == "DEBUG"'; then
    pass "after SIGUSR1 debug lines appear"
else
    fail "after SIGUSR1 debug lines appear"
fi

kill -USR2 "$D_PID"
wait_levels "DEBUG INFO"
assert_eq "SIGUSR2 logs the new level" "$(level_changes)" "DEBUG INFO"
curl -s -o /dev/null -H 'X-Request-Id: probe-info-2' "$D_URL/healthz"
curl -s -o /dev/null -H 'X-Request-Id: marker-2' "$D_URL/nope"
wait_log '.request_id == "marker-2"'
sleep 0.2
check "after SIGUSR2 debug lines disappear" \
    jq -e -s 'all(.[]; .request_id != "probe-info-2")' "$LOG"

kill -USR2 "$D_PID" # INFO -> WARN: request lines go too
wait_levels "DEBUG INFO WARN"
assert_eq "a second SIGUSR2 logs WARN" "$(level_changes)" "DEBUG INFO WARN"
curl -s -o /dev/null -H 'X-Request-Id: info-at-warn' "$D_URL/nope"
sleep 0.3
check "at warn, info request lines are not logged" \
    jq -e -s 'all(.[]; .request_id != "info-at-warn")' "$LOG"
# Signals of one kind sent at once merge into one: give the daemon time for each.
kill -USR2 "$D_PID" # WARN -> ERROR (the change itself is logged at WARN, so unseen)
sleep 0.5
kill -USR2 "$D_PID" # stays at ERROR
sleep 0.5
kill -USR1 "$D_PID" # ERROR -> WARN
wait_levels "DEBUG INFO WARN WARN"
kill -USR1 "$D_PID" # WARN -> INFO
wait_levels "DEBUG INFO WARN WARN INFO"
assert_eq "levels stop at ERROR and come back" "$(level_changes)" "DEBUG INFO WARN WARN INFO"

daemon_stop
# ---- every line, the shutdown included, is one JSON object with the common fields --------
lines=$(wc -l <"$LOG")
assert_le "the daemon logged some lines" 5 "$lines"
bad=$(python3 - "$LOG" <<'PY'
import json, sys
def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)
bad = 0
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        if not isinstance(json.loads(line, object_pairs_hook=no_dups), dict):
            raise ValueError("not an object")
    except ValueError as e:
        bad += 1
        print("line %d: %s: %s" % (n, e, line[:200]), file=sys.stderr)
print(bad)
PY
)
assert_eq "every stdout line parses as one JSON object without duplicate keys" "$bad" 0
assert_eq "every line: timestamp RFC 3339 with ms, UTC Z" \
    "$(jq -r 'select((.timestamp // "") | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$") | not) | .timestamp' "$LOG")" ""
assert_eq "every line: level DEBUG|INFO|WARN|ERROR" \
    "$(jq -r 'select((.level // "") | test("^(DEBUG|INFO|WARN|ERROR)$") | not) | .level' "$LOG")" ""
assert_eq "every line: message and event are non-empty strings" \
    "$(jq -r 'select(((.message | type) != "string") or ((.event | type) != "string") or .event == "" or .message == "") | tojson' "$LOG")" ""
check "the shutdown was logged (draining, stopped)" \
    jq -e -s 'any(.[]; .event == "draining") and any(.[]; .event == "stopped")' "$LOG"
t_done
