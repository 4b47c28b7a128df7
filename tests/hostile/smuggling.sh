#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Request smuggling, ambiguous framing and path aliases (docs/hardening.md): every request
# whose framing or headers could be read two ways, and every non-canonical spelling of a path,
# gets HTTP/1.1 400 with the JSON error body and X-Content-Type-Options: nosniff, and then the
# server closes the connection; no handler is reached. Each case's first request is itself a
# POST /admin/backup where that is possible, and the smuggled second request always is one
# (auth off, backup.dir in the temp dir): a backup file, or an http_request log line with route
# /admin/backup, means a handler ran. A trailing slash is simply another path (400 or 404),
# never the handler. CivetWeb's own error path (NUL in the request line, control characters in
# a header) must answer in the same JSON shape. A well-formed POST /admin/backup at the end
# proves the detector sees a backup when one is made.
#   smuggling.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"

# debug: probe requests (/healthz) are logged too, so a probe handler reached is seen
daemon_start smuggling --set backup.interval_seconds=0 --set logging.level=debug || h_done
BACKUPS=$D_DIR/backups
mkdir -p "$BACKUPS"
backups_before=$(find "$BACKUPS" -type f | wc -l)

# name kind payload (Python bytes escapes; {id} = h-NAME, {smuggle} = a 2nd POST /admin/backup)
#   kind 400:       400 + JSON error + nosniff + closed + one response + no handler
#   civet:          the same, answered from CivetWeb's own error path
#   nohandler:      400 or 404 with the JSON error, never the handler (a different path)
B='POST /admin/backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n'
J='Content-Type: application/json\r\n'
while read -r name kind payload; do
    [ -n "$name" ] && printf '%s\t%s\t%s\n' "$name" "$kind" "$payload"
done >"$TMP/cases.txt" <<EOF
cl-te               400 ${B}${J}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggle}
te-cl               400 ${B}${J}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggle}
te-space-colon      400 ${B}${J}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n{smuggle}
te-twice            400 ${B}${J}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggle}
te-twice-mixed      400 ${B}${J}Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggle}
te-chunked-identity 400 ${B}${J}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggle}
te-gzip             400 ${B}${J}Transfer-Encoding: gzip\r\n\r\n{smuggle}
te-identity         400 ${B}${J}Transfer-Encoding: identity\r\n\r\n{smuggle}
ct-space-colon      400 ${B}Content-Type : application/json\r\nContent-Length: 0\r\n\r\n{smuggle}
cl-twice-same       400 ${B}${J}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}{smuggle}
cl-twice-diff       400 ${B}${J}Content-Length: 2\r\nContent-Length: 0\r\n\r\n{}{smuggle}
cl-list             400 ${B}${J}Content-Length: 1,1\r\n\r\n1{smuggle}
cl-plus             400 ${B}${J}Content-Length: +2\r\n\r\n{}{smuggle}
obs-fold-space      400 ${B}${J}X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n{smuggle}
obs-fold-tab        400 ${B}${J}X-Folded: a\r\n\tb\r\nContent-Length: 0\r\n\r\n{smuggle}
obs-fold-cl         400 ${B}${J}Content-Length:\r\n 2\r\n\r\n{}{smuggle}
first-line-space    400 POST /admin/backup HTTP/1.1\r\n Content-Length: 0\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}\r\n{smuggle}
first-line-tab      400 POST /admin/backup HTTP/1.1\r\n\tContent-Length: 0\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}\r\n{smuggle}
request-line-space  400 POST /admin/backup HTTP/1.1 \r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n{smuggle}
no-host             400 POST /admin/backup HTTP/1.1\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n{smuggle}
host-twice          400 ${B}Host: u\r\n${J}Content-Length: 0\r\n\r\n{smuggle}
get-slash-slash     400 GET //healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-pct-h           400 GET /%68ealthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-pct-2f          400 GET /healthz%2f HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-pct-00          400 GET /verify%00 HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-trailing-dot    400 GET /healthz. HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-dot-segment     400 GET /./healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
lf-request-line     400 POST /admin/backup HTTP/1.1\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n{smuggle}
lf-header           400 ${B}X-A: 1\n${J}Content-Length: 0\r\n\r\n{smuggle}
lf-last-line        400 ${B}${J}Content-Length: 0\n\n{smuggle}
lf-all              400 POST /admin/backup HTTP/1.1\nHost: t\nX-Request-Id: {id}\nContent-Type: application/json\nContent-Length: 0\n\n{smuggle}
get-dotdot-segment  400 GET /a/../healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-backslash-lead  400 GET /\\\\healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-backslash-tail  400 GET /healthz\\\\ HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
get-pct-dotdot      400 GET /registry/entries/..%2f..%2fadmin HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
post-slash-slash    400 POST //admin/backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
post-inner-slashes  400 POST /admin//backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
post-pct-a          400 POST /%61dmin/backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
post-dot-segment    400 POST /admin/./backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
post-dotdot-segment 400 POST /x/../admin/backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
post-pct-00         400 POST /admin/backup%00 HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
nul-request-line    civet GET /heal\x00thz HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
nul-request-backup  civet POST /admin/backup\x00 HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
ctl-in-header       civet ${B}${J}X-Ctl: a\x01b\r\nContent-Length: 0\r\n\r\n
del-in-header       civet ${B}${J}X-Ctl: a\x7fb\r\nContent-Length: 0\r\n\r\n
trailing-healthz    nohandler GET /healthz/ HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
trailing-readyz     nohandler GET /readyz/ HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
trailing-metrics    nohandler GET /metrics/ HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n
trailing-backup     nohandler POST /admin/backup/ HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n${J}Content-Length: 0\r\n\r\n
EOF
ncases=$(wc -l <"$TMP/cases.txt")
"$PY" "$HDIR/rawcases.py" "$D_API" "$TMP/cases.txt" 2 6 >"$TMP/results.tsv"
sleep 0.5 # the last log lines are written

echo "---- table: case kind -> status responses closed json nosniff seconds body ----"
column -t -s $'\t' "$TMP/results.tsv" 2>/dev/null || cat "$TMP/results.tsv"
echo "----"
assert_eq "every case was answered or timed out ($ncases cases)" "$(wc -l <"$TMP/results.tsv")" "$ncases"

# log lines of the daemon per request id: "request_id route status"
jq -r 'select(.event == "http_request") | "\(.request_id) \(.route) \(.status)"' "$D_LOG" \
    >"$TMP/requests.txt" 2>/dev/null
n400=0
while IFS=$'\t' read -r name kind status nresp closed json nosniff _; do
    ran=$(awk -v a="h-$name" -v b="h-$name-b" \
        '($1 == a || $1 == b) && ($2 == "/admin/backup" || $2 == "admin_backup" || $3 + 0 < 400) { print $1 " " $2 " " $3 }' \
        "$TMP/requests.txt" | tr '\n' ' ')
    assert_eq "$name: no handler reached (no 2xx/3xx, no /admin/backup log line)" "$ran" ""
    assert_eq "$name: JSON error body" "$json" ok
    assert_eq "$name: X-Content-Type-Options: nosniff" "$nosniff" yes
    case $kind in
    400 | civet)
        assert_eq "$name: 400" "$status" 400
        assert_eq "$name: exactly one response (the 2nd request is not served)" "$nresp" 1
        assert_match "$name: the server closes the connection after the 400" "$closed" '^(eof|reset)$'
        [ "$status" = 400 ] && n400=$((n400 + 1))
        ;;
    nohandler)
        assert_match "$name: 400 or 404 (a different path)" "$status" '^(400|404)$'
        ;;
    esac
done <"$TMP/results.tsv"
figure "cases $ncases answered_400 $n400"

backups_after=$(find "$BACKUPS" -type f | wc -l)
assert_eq "no backup file was made by any case" "$backups_after" "$backups_before"
assert_eq "no http_request log line with route /admin/backup" \
    "$(awk '$2 == "/admin/backup" || $2 == "admin_backup"' "$TMP/requests.txt" | wc -l | tr -d ' ')" 0
check "the daemon still serves after all cases" wait_healthz "$D_URL" "$D_PID"

# ---- the detector works: a well-formed backup request is seen --------------------------------
req POST "$D_URL/admin/backup" -H 'Content-Type: application/json' -H 'X-Request-Id: h-control' \
    -d '{}'
assert_match "control: a canonical POST /admin/backup is served (2xx)" "$STATUS" '^2'
sleep 0.3
assert_le "control: … and a backup file appears" $((backups_before + 1)) \
    "$(find "$BACKUPS" -type f -name '*.sqlite' | wc -l)"
check "control: … and its log line has route /admin/backup" \
    jq -e -s 'any(.[]; .event == "http_request" and .request_id == "h-control" and .route == "/admin/backup")' \
    "$D_LOG"
daemon_stop
h_done
