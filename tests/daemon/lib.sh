# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the daemon tests (tests/daemon/*.sh), sourced by each of them.
#
# ctest runs every test as  TEST.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
# A test starts its own capverifyd on 127.0.0.1 with ephemeral ports and a private temp dir,
# talks real HTTP with curl, stops it with SIGTERM and asserts exit code 0. Assertions count
# and go on; the test ends with t_done, which prints "N passed, M failed" and fails the test
# if anything failed. The EXIT trap kills every process the test started (by PID, nothing
# else) and removes the temp dir, also when the test dies half-way.
set -uo pipefail

t_init() {
    if [ $# -lt 4 ]; then
        echo "usage: $0 CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]" >&2
        exit 2
    fi
    # absolute: the daemons run in their own working directories
    DAEMON=$(readlink -f "$1")
    T_DAEMON=$DAEMON # DAEMON may become a wrapper (shim_daemon)
    CLI=$(readlink -f "$2")
    FIXTURES=$(readlink -f "$3")
    SRC=$(readlink -f "$4")
    VECTORS=${5:+$(readlink -f "$5")}
    SAMPLE=$FIXTURES/sample
    # The flags that make the daemon trust the sample fixture (sample.zip verifies "ok").
    SAMPLE_ARGS=(--set "trust.dir=$SAMPLE/trust" --set "trust.policy_dir=$SAMPLE/policies"
        --set "trust.tsa_ca_file=$SAMPLE/tsa/ca.pem" --set verify.mock_policy=accept)
    T_NAME=$(basename "$0" .sh)
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/capvd-$T_NAME.XXXXXX") || exit 2
    PASSED=0
    FAILED=0
    SKIPPED=0
    T_DONE=0
    T_DOCUMENT_ALL=0
    T_PIDS=()
    D_PID=""
    # The daemon reads CAPV_* variables: none from the caller's environment may leak in.
    local v
    for v in $(compgen -e); do
        case $v in CAPV_*) unset "$v" ;; esac
    done
    trap t_cleanup EXIT
    trap 'exit 130' INT TERM
    for tool in curl jq python3; do
        command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
    done
}

# Kills what this test started (each by its PID) and removes the temp dir.
t_cleanup() {
    local rc=$? pid
    for pid in "${T_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ "$T_DONE" = 0 ]; then
        echo "FAIL: $T_NAME ended early (exit status $rc)"
        FAILED=$((FAILED + 1))
        t_dump_logs
        echo "$PASSED passed, $FAILED failed"
    fi
    rm -rf "$TMP"
    if [ "$T_DONE" = 0 ] && [ "$rc" = 0 ]; then
        exit 1
    fi
}

# Prints the logs of every daemon this test ran (on failure).
t_dump_logs() {
    local f
    for f in "$TMP"/*/stdout.log "$TMP"/*/stderr.log; do
        [ -s "$f" ] || continue
        echo "---- ${f#"$TMP"/} (last 40 lines) ----"
        tail -n 40 "$f" | cut -c1-400
    done
}

t_done() {
    T_DONE=1
    check_documented
    if [ "$FAILED" -gt 0 ]; then
        t_dump_logs
    fi
    if [ "$SKIPPED" -gt 0 ]; then
        echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    else
        echo "$PASSED passed, $FAILED failed"
    fi
    [ "$FAILED" -eq 0 ]
    exit
}

# Remembers a background process to kill on exit.
t_track() {
    T_PIDS+=("$1")
}

# ---- assertions ---------------------------------------------------------------------------

pass() {
    PASSED=$((PASSED + 1))
    echo "ok   - $1"
}

fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL - $1${2:+: $2}"
}

# skip NAME WHY: a check that cannot run here for a reason CI has too (a sanitizer build, a
# machine that forbids mounting): counted and shown, never a failure. A missing tool or
# server is skip_missing's.
skip() {
    SKIPPED=$((SKIPPED + 1))
    echo "skip - $1${2:+: $2}"
}

# skip_missing NAME WHAT: a check whose tool or server WHAT is missing: a skip, but a failure
# under CI=true, where scripts/install-deps.sh installs everything (tests/tools/missing.sh).
skip_missing() {
    if [ "${CI:-}" = true ]; then
        fail "$1" "missing $2 (CI=true: scripts/install-deps.sh installs it, so this must run)"
    else
        skip "$1" "missing $2 (scripts/install-deps.sh)"
    fi
}

# check NAME COMMAND...: passes when COMMAND exits 0.
check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        pass "$name"
    else
        fail "$name" "command failed: $*"
    fi
}

assert_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "got '$2', want '$3'"
    fi
}

assert_ne() {
    if [ "$2" != "$3" ]; then
        pass "$1"
    else
        fail "$1" "got '$2', want anything else"
    fi
}

# assert_match NAME STRING ERE
assert_match() {
    if [[ $2 =~ $3 ]]; then
        pass "$1"
    else
        fail "$1" "'$2' does not match /$3/"
    fi
}

# assert_le NAME A B (numbers, also decimals)
assert_le() {
    if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a <= b) }'; then
        pass "$1"
    else
        fail "$1" "$2 > $3"
    fi
}

# ---- ports, start, stop -------------------------------------------------------------------

# free_port [N]: N (default 1) distinct free loopback ports, one per line
free_port() { python3 "$SRC/scripts/free-port.py" "$@"; }

# seconds_until START TENTHS COMMAND...: runs COMMAND every 0.1 s, at most TENTHS times, until
# it succeeds, and prints the seconds since START (a `date +%s.%N`) at that moment; prints
# nothing and fails when it never did.
seconds_until() {
    local start=$1 tries=$2 i
    shift 2
    for i in $(seq "$tries"); do
        if "$@"; then
            awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# daemon_start NAME [capverifyd arguments...]
# Starts capverifyd in $TMP/NAME (its working directory; config dir $TMP/NAME/conf, which the
# caller may fill beforehand) on two free loopback ports, with shutdown.grace_seconds=0 unless
# an argument overrides it, and waits for /healthz on the admin port. Sets D_PID, D_DIR, D_LOG
# (stdout: the JSON log), D_API / D_ADMIN (ports), D_URL (API base; https when
# D_SCHEME=https is set by the caller) and D_ADMIN_URL. With D_ADMIN_HOST set (another
# loopback address) the admin listener takes the API's port number on that address. Retries
# with other ports when a port was taken in the meantime. Returns non-zero (after a fail) when
# the daemon does not come up.
daemon_start() {
    local name=$1 attempt
    shift
    D_DIR=$TMP/$name
    D_LOG=$D_DIR/stdout.log
    mkdir -p "$D_DIR/conf"
    for attempt in 1 2 3 4 5; do
        { read -r D_API && read -r D_ADMIN; } < <(free_port 2)
        [ -n "${D_ADMIN_HOST:-}" ] && D_ADMIN=$D_API
        (cd "$D_DIR" && exec "$DAEMON" --config-dir "$D_DIR/conf" \
            --set "server.listen=127.0.0.1:$D_API" \
            --set "server.admin_listen=${D_ADMIN_HOST:-127.0.0.1}:$D_ADMIN" \
            --set "registry.path=$D_DIR/registry.sqlite" \
            --set "backup.dir=$D_DIR/backups" \
            --set shutdown.grace_seconds=0 \
            "$@" >"$D_LOG" 2>"$D_DIR/stderr.log") &
        D_PID=$!
        t_track "$D_PID"
        D_URL=${D_SCHEME:-http}://127.0.0.1:$D_API
        D_ADMIN_URL=http://${D_ADMIN_HOST:-127.0.0.1}:$D_ADMIN
        if wait_healthz "$D_ADMIN_URL" "$D_PID"; then
            return 0
        fi
        if kill -0 "$D_PID" 2>/dev/null; then
            kill -KILL "$D_PID" 2>/dev/null
            wait "$D_PID" 2>/dev/null
            break
        fi
        wait "$D_PID" 2>/dev/null
        grep -q 'cannot listen\|cannot bind' "$D_LOG" || break
    done
    fail "daemon $name starts" "$(tail -n 5 "$D_DIR/stderr.log" "$D_LOG" 2>/dev/null)"
    return 1
}

# shim_daemon VARIABLE=VALUE...: DAEMON becomes a wrapper that runs capverifyd with the fault
# shim tests/hostile/fault_shim.c loaded (built on first use with cc; SHIM_PRELOAD) and these
# HOSTILE_FAULT_* variables; DAEMON=$T_DAEMON undoes it. Without a C compiler returns 1 and
# leaves DAEMON as it was ($TMP/cc.err says why).
shim_daemon() {
    if [ -z "${SHIM_PRELOAD:-}" ]; then
        cc -shared -fPIC -O2 -o "$TMP/fault_shim.so" "$SRC/tests/hostile/fault_shim.c" -ldl \
            2>"$TMP/cc.err" || return 1
        local asan
        asan=$(ldd "$T_DAEMON" | awk '/libasan/ { print $3 }') # it must load first
        SHIM_PRELOAD="${asan:+$asan }$TMP/fault_shim.so"
    fi
    {
        printf '#!/bin/sh\nLD_PRELOAD=%q' "$SHIM_PRELOAD"
        [ $# -gt 0 ] && printf ' %q' "$@"
        printf ' exec %q "$@"\n' "$T_DAEMON"
    } >"$TMP/daemon-shim.sh"
    chmod +x "$TMP/daemon-shim.sh"
    DAEMON=$TMP/daemon-shim.sh
}

# wait_healthz BASE_URL [PID]: up to 10 s for a 200 from BASE_URL/healthz.
wait_healthz() {
    local i
    for i in $(seq 100); do
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
            return 1
        fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1/healthz")" = 200 ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# daemon_wait_exit PID SECONDS: waits for PID (a child of this shell: never call this in a
# $(…) subshell) to exit; sets RC to its exit status, or "timeout" (after killing it).
daemon_wait_exit() {
    local pid=$1 limit=$2 i
    for i in $(seq $((limit * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        RC=timeout
        return
    fi
    wait "$pid"
    RC=$?
}

# reloads: how many reloads the daemon (D_LOG) has done
reloads() { grep -c "trust store and policies reloaded" "$D_LOG"; }

# sighup_reload [SECONDS]: sends the daemon (D_PID) SIGHUP and waits up to SECONDS (default
# 5) for its reload to be done.
sighup_reload() {
    local before _
    before=$(reloads)
    kill -HUP "$D_PID"
    for _ in $(seq $((${1:-5} * 10))); do
        [ "$(reloads)" -gt "$before" ] && return 0
        sleep 0.1
    done
    return 1
}

# daemon_stop [NAME]: SIGTERM, then asserts that the daemon exits with status 0 within 40 s.
daemon_stop() {
    kill -TERM "$D_PID" 2>/dev/null
    daemon_wait_exit "$D_PID" 40
    assert_eq "${1:-capverifyd} exits 0 after SIGTERM" "$RC" 0
}

# ---- HTTP ---------------------------------------------------------------------------------

# req METHOD URL [curl arguments...]: one request. Sets STATUS (000 when no response), the
# body in $TMP/resp.body, the headers in $TMP/resp.headers and TIME (seconds).
req() {
    local method=$1 url=$2 out
    shift 2
    local how=(-X "$method")
    [ "$method" = HEAD ] && how=(-I)
    REQ_METHOD=$method
    REQ_URL=$url
    rm -f "$TMP/resp.body" # curl does not create it for a response without a body
    out=$(curl -s -o "$TMP/resp.body" -D "$TMP/resp.headers" -w '%{http_code} %{time_total}' \
        --max-time 20 "${how[@]}" "$@" "$url")
    STATUS=${out% *}
    TIME=${out#* }
    touch "$TMP/resp.body"
    if [ "${T_DOCUMENT_ALL:-0}" = 1 ] && [ "$STATUS" != 000 ] && [[ " $* " != *" --request-target "* ]]; then
        documented
    fi
}

# documented [NAME]: the last answer (req) is one docs/api/openapi.json documents: its path,
# method and status, Content-Type, JSON body against the response's schema, and headers
# (tests/daemon/openapi_check.py); on D_ADMIN_URL, the admin port's. Collected (also from a
# $(…) subshell) and checked together, by check_documented or at t_done: one python3 for all.
# With T_DOCUMENT_ALL=1 every req records its answer itself, except one with no answer
# (000) or one whose request target is not its URL (--request-target).
# shellcheck disable=SC2120 # NAME is optional; req passes none
documented() {
    local port=api f
    [[ $REQ_URL == "${D_ADMIN_URL:-none}/"* ]] && port="admin"
    mkdir -p "$TMP/documented"
    f=$(mktemp "$TMP/documented/answer.XXXXXX") || return
    cp "$TMP/resp.headers" "$f.headers"
    cp "$TMP/resp.body" "$f.body"
    local name=${1:-"$port $REQ_METHOD /${REQ_URL#*://*/} -> $STATUS"}
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${name//$'\t'/ }" "$REQ_METHOD" "$REQ_URL" \
        "$STATUS" "$f.headers" "$f.body" "$port" >>"$TMP/documented/index"
}

# check_documented: checks the answers collected by documented (one pass or fail each).
check_documented() {
    local verdict name why
    [ -s "$TMP/documented/index" ] || return 0
    if ! python3 -c 'import jsonschema' 2>/dev/null; then
        skip_missing "answers match docs/api/openapi.json" \
            "python3 module jsonschema (Debian python3-jsonschema)"
    else
        python3 "$SRC/tests/daemon/openapi_check.py" "$SRC/docs/api/openapi.json" \
            "$TMP/documented/index" >"$TMP/documented/out" 2>&1 ||
            fail "openapi_check.py runs" "$(tail -n 5 "$TMP/documented/out")"
        while IFS=$'\t' read -r verdict name why; do
            case $verdict in
            PASS) pass "documented answer: $name" ;;
            FAIL) fail "documented answer: $name" "$why" ;;
            esac
        done <"$TMP/documented/out"
    fi
    rm -f "$TMP/documented/"*
}

# hdr NAME: the value of a header of the last response ("" when absent).
hdr() {
    tr -d '\r' <"$TMP/resp.headers" | awk -v n="$1" '
        BEGIN { n = tolower(n) }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# body_json FILTER: jq over the last response body (empty output on invalid JSON).
body_json() {
    jq -r "$1" "$TMP/resp.body" 2>/dev/null
}

# The standard error body: {"error":{"code","message","request_id"}}, request_id = header.
assert_error_body() {
    local name=$1 code=$2
    assert_eq "$name: error code" "$(body_json '.error.code')" "$code"
    assert_eq "$name: error.request_id = X-Request-Id" "$(body_json '.error.request_id')" \
        "$(hdr X-Request-Id)"
    assert_eq "$name: error has a message" \
        "$(body_json '.error.message | type == "string" and length > 0')" true
}

# raw_http PORT TEXT: sends TEXT (printf escapes expanded) to 127.0.0.1:PORT and prints
# everything the server answers until it closes the connection (at most 5 s).
raw_http() {
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
out = b""
deadline = time.monotonic() + 5
try:
    while time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
except socket.timeout:
    pass
sys.stdout.buffer.write(out)
PY
}

# raw_body_len FILE: the length of the body of the raw HTTP response in FILE (-1: no header end).
raw_body_len() {
    python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
print(len(d.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in d else -1)' "$1"
}

# ---- Prometheus text ----------------------------------------------------------------------

# metric FILE SERIES: the value of one series (exact name with labels as rendered), or "".
metric() {
    awk -v s="$2" '$1 == s { print $2; exit }' "$1"
}

# ---- bearer tokens (an Ed25519 key set made with openssl) ---------------------------------

b64url() {
    base64 -w0 | tr '+/' '-_' | tr -d '='
}

# make_jwk DIR KID: an Ed25519 key DIR/KID.key; prints its public JWK
make_jwk() {
    openssl genpkey -algorithm ed25519 -out "$1/$2.key" 2>/dev/null || return 1
    printf '{"kty":"OKP","crv":"Ed25519","kid":"%s","use":"sig","alg":"EdDSA","x":"%s"}' "$2" \
        "$(openssl pkey -in "$1/$2.key" -pubout -outform DER | tail -c 32 | b64url)"
}

# mint_token KEYFILE KID CLAIMS_JSON [HEADER_JSON]: a compact EdDSA JWS
mint_token() {
    local header=${4:-"{\"alg\":\"EdDSA\",\"kid\":\"$2\",\"typ\":\"JWT\"}"} h p
    h=$(printf '%s' "$header" | b64url)
    p=$(printf '%s' "$3" | b64url)
    printf '%s.%s' "$h" "$p" >"$TMP/jws.tbs"
    printf '%s.%s.%s\n' "$h" "$p" \
        "$(openssl pkeyutl -sign -inkey "$1" -rawin -in "$TMP/jws.tbs" | b64url)"
}

# ---- packages -----------------------------------------------------------------------------

# json_package DIR OUT: {"package": {name: base64}} of the files in DIR.
json_package() {
    python3 - "$1" "$2" <<'PY'
import base64, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
members = {}
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as f:
        members[name] = base64.b64encode(f.read()).decode()
with open(dst, "w") as f:
    json.dump({"package": members}, f)
PY
}

# tampered_zip IN OUT: the package IN with one byte of manifest.json's created_at changed
# (the listed hash and the signature no longer match).
tampered_zip() {
    python3 - "$1" "$2" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        data = zin.read(info)
        if info.filename == "manifest.json":
            i = data.index(b'"created_at"')
            j = data.index(b"20", i)
            data = data[:j] + b"19" + data[j + 2:]
        zout.writestr(info.filename, data)
PY
}

