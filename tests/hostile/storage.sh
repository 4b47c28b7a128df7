#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Storage faults of the registry (docs/hardening.md#storage-faults, docs/registry.md):
# 1. a corrupt registry file (garbage over a real database's header, or over the rest of its
#    first page, the schema) makes capverifyd exit 5 at start with a message naming the file,
#    and leaves the file as it was;
# 2. a registry that becomes unusable while serving, on a tmpfs mounted here:
#    full  - a 4 MiB tmpfs filled with a filler file after the daemon started;
#    read-only - `mount -o remount,ro` of its tmpfs. Linux refuses that while a process holds
#      a file of the filesystem open for writing (as the daemon does with its registry): then
#      the test says so and makes the filesystem read-only for the daemon with an LD_PRELOAD
#      shim (fault_shim.c, built here with cc): writes, opens for writing and access(W_OK) on
#      it fail with EROFS and statvfs reports ST_RDONLY, as after a remount read-only;
#    with synchronous recording (registry.record_queue_max=0, the "full" case) POST /verify
#    answers 503 with error code "registry_unavailable" (a 200 is only allowed when the
#    verification was really recorded; never a 400), GET /readyz is 503 with check "registry"
#    ok:false and a detail naming the reason, an ERROR line is logged and
#    cap_verifier_registry_errors_total{op=…} grows; with queued recording (the default, the
#    "read-only" case) POST /verify keeps answering 200, the records wait
#    (cap_verifier_registry_queue_depth > 0), /readyz stays 200 with the registry check
#    ok:false naming the reason; after the fault is removed (filler deleted / remount rw / shim
#    off) the registry check is ok again, /verify 200, and every verification answered 200 is
#    in the registry (docs/registry.md#recording-verifications); a SIGTERM while a record
#    waits for the read-only storage logs it at ERROR (records_unwritten) and exits 0.
# 3. another process holding SQLite's write lock on the registry for longer than
#    registry.busy_timeout_ms: POST /registry/entries answers 503 "busy" with Retry-After
#    (nothing about the request conflicts: never a 409), and the same request is a 201 once
#    the lock is gone.
# 4. a SIGHUP while a POST /registry/entries waits for that lock (registry.busy_timeout_ms
#    8000): /readyz and /metrics answer at once (cap_verifier_registry_open stays 1), and so
#    does a verification beside them (the reload waits 200 ms at a time for the request, and
#    says so); once the lock is gone the request is 201 and the reload is done.
# 5. a SIGHUP during an API backup onto a slow volume (the shim in slow mode: 60 ms a write):
#    a verification beside them answers at once while the backup runs, the reload says it
#    waits for the backup, and is done after it.
# 6. the request of case 4 outlasting 30 s of the reload's tries (busy_timeout_ms 60000): the
#    reload then waits however long it takes and says so (WARN, waited_ms 30 s), /readyz
#    answers at once; a SIGTERM ends that wait while the lock is still held, the reload is
#    dropped (logged), and the daemon exits 0 once the request is answered (201).
# Mounting needs root: without it the tmpfs cases are skipped, visibly.
#   storage.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"

# ---- 1. corrupt registry file at start ----------------------------------------------------------
daemon_start seed "${SAMPLE_ARGS[@]}" || h_done
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "seed registry: a verification recorded (200)" "$STATUS" 200
daemon_stop seed
SEED_DB=$D_DIR/registry.sqlite
mkdir -p "$TMP/noconf"
# garbage OFFSET COUNT FILE: COUNT bytes of a fixed non-SQLite pattern written at OFFSET
garbage() {
    "$PY" -c 'import sys
off, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "r+b") as f:
    f.seek(off)
    f.write((b"\xa5garbage\x00\xff" * (n // 11 + 1))[:n])' "$@"
}
for variant in header:0:100 schema-page:100:3996; do
    IFS=: read -r name off count <<<"$variant"
    dir=$TMP/corrupt-$name
    mkdir -p "$dir"
    cp "$SEED_DB" "$dir/registry.sqlite"
    garbage "$off" "$count" "$dir/registry.sqlite"
    sum_before=$(sha256sum <"$dir/registry.sqlite")
    { read -r api && read -r admin; } < <(free_port 2)
    timeout 30 "$T_DAEMON" --config-dir "$TMP/noconf" "${SAMPLE_ARGS[@]}" \
        --set "server.listen=127.0.0.1:$api" \
        --set "server.admin_listen=127.0.0.1:$admin" \
        --set "registry.path=$dir/registry.sqlite" --set "backup.dir=$dir/backups" \
        >"$dir/stdout.log" 2>"$dir/stderr.log"
    rc=$?
    figure "corrupt-$name: exit $rc: $(cat "$dir/stderr.log" "$dir/stdout.log" | head -c 300 | tr '\n' ' ')"
    assert_eq "corrupt registry ($name): capverifyd exits 5 at start" "$rc" 5
    check "corrupt registry ($name): the message names the file" \
        grep -qF "$dir/registry.sqlite" "$dir/stderr.log" "$dir/stdout.log"
    assert_eq "corrupt registry ($name): the file is left as it was" \
        "$(sha256sum <"$dir/registry.sqlite")" "$sum_before"
done

# ---- 2. faults while serving ----------------------------------------------------------------------
ERRORS_METRIC=cap_verifier_registry_errors_total

# verify ID: POST /verify of the sample; appends "ID STATUS CODE" to $TMP/verify.log
verify() {
    req POST "$D_URL/verify" -H 'Content-Type: application/zip' -H "X-Request-Id: $1" \
        --data-binary "@$SAMPLE/sample.zip"
    echo "$1 $STATUS $(body_json '.error.code // .result')" >>"$TMP/verify.log"
}

# registry_check: "ok detail" of /readyz's registry check (sets STATUS to /readyz's)
registry_check() {
    req GET "$D_ADMIN_URL/readyz"
    body_json '[.checks[] | select(.name == "registry")][0] | "\(.ok) \(.detail)"'
}

# ready_again: /readyz is 200 and its registry check ok
ready_again() {
    registry_check >"$TMP/check"
    [ "$STATUS" = 200 ] && [ "$(cut -d' ' -f1 "$TMP/check")" = true ]
}

# fault_case MODE NAME REASON_ERE INJECT REMOVE: runs one fault against the running daemon
# (D_*), INJECT and REMOVE being shell commands; MODE is sync or queued (its recording).
fault_case() {
    local mode=$1 name=$2 reason=$3 inject=$4 remove=$5 i st n503=0 bad="" ok200=()
    : >"$TMP/verify.log"
    verify "$name-pre"
    assert_eq "$name: before the fault /verify is 200" "$STATUS" 200
    registry_check >/dev/null
    assert_eq "$name: before the fault /readyz is 200" "$STATUS" 200
    scrape "$TMP/m0"
    local errors0 lines0
    errors0=$(metric_sum "$TMP/m0" "$ERRORS_METRIC")
    lines0=$(jq -r 'select(.level == "ERROR") | .event' "$D_LOG" 2>/dev/null | wc -l)

    eval "$inject"
    for i in $(seq 10); do
        verify "$name-$i"
        read -r _ st code < <(tail -n 1 "$TMP/verify.log")
        case $st in
        503)
            n503=$((n503 + 1))
            [ "$code" = registry_unavailable ] || bad+=" $name-$i:503/$code"
            [ "$n503" -ge 3 ] && break
            ;;
        200) ok200+=("$name-$i") ;;
        *) bad+=" $name-$i:$st/$code" ;;
        esac
    done
    figure "$name: /verify during the fault: $(awk '{ printf "%s=%s/%s ", $1, $2, $3 }' "$TMP/verify.log")"
    local check
    if [ "$mode" = sync ]; then
        assert_le "$name: /verify answers 503 during the fault" 1 "$n503"
        assert_eq "$name: every other answer is 503 registry_unavailable or a recorded 200 (never 400)" \
            "$bad" ""
        registry_check >"$TMP/check"
        check=$(cat "$TMP/check")
        figure "$name: /readyz $STATUS registry check: $check"
        assert_eq "$name: /readyz is 503" "$STATUS" 503
        sleep 0.3
        assert_le "$name: an ERROR line is logged" $((lines0 + 1)) \
            "$(jq -r 'select(.level == "ERROR") | .event' "$D_LOG" 2>/dev/null | wc -l)"
        scrape "$TMP/m1"
        figure "$name: $ERRORS_METRIC $errors0 -> $(metric_sum "$TMP/m1" "$ERRORS_METRIC"): $(grep "^$ERRORS_METRIC" "$TMP/m1" | tr '\n' ' ')"
        assert_le "$name: $ERRORS_METRIC{op=…} grows" $((errors0 + 1)) \
            "$(metric_sum "$TMP/m1" "$ERRORS_METRIC")"
    else
        assert_eq "$name: /verify keeps answering 200 during the fault" "$n503 ${#ok200[@]} $bad" "0 10 "
        registry_check >"$TMP/check"
        check=$(cat "$TMP/check")
        figure "$name: /readyz $STATUS registry check: $check"
        assert_eq "$name: /readyz stays 200 (verifications go on, records wait)" "$STATUS" 200
        req GET "$D_URL/readyz"
        assert_eq "$name: the API port's /readyz leaves the reason to the admin port" \
            "$(body_json '.checks[] | select(.name == "registry") | "\(.ok) \(.detail)"')" \
            "false see the admin port's /readyz"
        scrape "$TMP/m1"
        figure "$name: $(grep '^cap_verifier_registry_queue_depth' "$TMP/m1")"
        assert_le "$name: the records wait in the queue" 1 \
            "$(metric_sum "$TMP/m1" cap_verifier_registry_queue_depth)"
    fi
    assert_match "$name: the registry check is false and names the reason" "$check" \
        "^false .*($reason)"

    eval "$remove"
    local ready
    ready=$(seconds_until "$(date +%s.%N)" 150 ready_again)
    figure "$name: /readyz 200 again after ${ready:-never (15 s)} s"
    assert_ne "$name: after the fault is removed /readyz is 200 again (within 15 s)" "$ready" ""
    verify "$name-recovered"
    assert_eq "$name: after the fault /verify is 200" "$STATUS" 200
    if [ -z "$ready" ]; then
        registry_check >/dev/null
        figure "$name: /readyz after that /verify: $STATUS (ready again only after a write?)"
    fi
    RECORDED_200=("${ok200[@]}" "$name-pre" "$name-recovered")
}

# recorded_check NAME DB IDS...: every request id answered 200 is in the verifications table
recorded_check() {
    local name=$1 db=$2 id missing=""
    shift 2
    for id in "$@"; do
        [ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM verifications WHERE request_id = '$id'" 2>&1)" = 1 ] ||
            missing+=" $id"
    done
    assert_eq "$name: every verification answered 200 was recorded" "$missing" ""
}

# ---- 2a. full ------------------------------------------------------------------------------------
FULLFS=$TMP/fullfs
if h_mount_tmpfs "$FULLFS" 4m; then
    daemon_start full "${SAMPLE_ARGS[@]}" --set "registry.path=$FULLFS/registry.sqlite" \
        --set registry.record_queue_max=0 || h_done
    fault_case sync full 'full|space|ENOSPC|SQLITE_FULL' \
        'dd if=/dev/zero of="$FULLFS/filler" bs=64k 2>/dev/null; dd if=/dev/zero of="$FULLFS/filler2" bs=512 2>/dev/null; figure "full: $(df -k "$FULLFS" | tail -n 1)"' \
        'rm -f "$FULLFS/filler" "$FULLFS/filler2"'
    daemon_stop full
    recorded_check full "$FULLFS/registry.sqlite" "${RECORDED_200[@]}"
else
    # not a missing tool: mounting needs root with CAP_SYS_ADMIN, which a container may lack
    skip "registry on a full filesystem" "cannot mount a tmpfs: $H_MOUNT_ERROR"
fi

# ---- 2b. read-only -------------------------------------------------------------------------------
ROFS=$TMP/rofs
if ! h_mount_tmpfs "$ROFS" 16m; then
    skip "registry on a read-only filesystem" "cannot mount a tmpfs: $H_MOUNT_ERROR"
else
    # the daemon runs with the EROFS shim loaded, idle until $TMP/ro.flag exists (used only when
    # the kernel refuses the real remount)
    shim_daemon HOSTILE_FAULT_DIR="$ROFS" HOSTILE_FAULT_FLAG="$TMP/ro.flag"
    preload=${SHIM_PRELOAD:-}
    daemon_start readonly "${SAMPLE_ARGS[@]}" --set "registry.path=$ROFS/registry.sqlite" || h_done
    DAEMON=$T_DAEMON
    # decided by the first injection: the kernel's remount, or the shim
    RO_MODE=""
    ro_inject() {
        if out=$(mount -o remount,ro "$ROFS" 2>&1); then
            RO_MODE=remount
        elif [ -n "$preload" ]; then
            RO_MODE=shim
            touch "$TMP/ro.flag"
        else
            RO_MODE=none
        fi
        figure "read-only: mount -o remount,ro: ${out:-ok}; fault made by: $RO_MODE"
    }
    ro_remove() {
        case $RO_MODE in
        remount) mount -o remount,rw "$ROFS" ;;
        shim) rm -f "$TMP/ro.flag" ;;
        esac
    }
    if [ -z "$preload" ] && ! mount -o remount,ro "$ROFS" 2>"$TMP/ro.err"; then
        skip_missing "registry on a read-only filesystem" \
            "a C compiler for the EROFS shim (and remount,ro was refused: $(cat "$TMP/ro.err"))"
        daemon_stop readonly
    else
        [ -z "$preload" ] && mount -o remount,rw "$ROFS" # undo the probe
        fault_case queued read-only 'read-only|read only|readonly|EROFS|SQLITE_READONLY' ro_inject ro_remove
        # SIGTERM while a record waits for the storage: the shutdown says it is not written
        ro_inject
        verify read-only-at-exit
        assert_eq "read-only again: /verify is 200 (its record waits)" "$STATUS" 200
        kill -TERM "$D_PID"
        daemon_wait_exit "$D_PID" 40
        assert_eq "SIGTERM while the record waits: readonly exits 0" "$RC" 0
        check "… the unwritten record is logged at ERROR (records_unwritten)" \
            grep -q '"level":"ERROR","event":"records_unwritten","records":[1-9]' "$D_LOG"
        ro_remove
        recorded_check read-only "$ROFS/registry.sqlite" "${RECORDED_200[@]}"
    fi
fi

# ---- 3. a registry another process keeps locked ---------------------------------------------
# lock_registry: another process takes SQLite's write lock on the daemon's registry and
# holds it until $TMP/locked.flag is removed; sets LOCKER
lock_registry() {
    "$PY" - "$D_DIR/registry.sqlite" "$TMP/locked.flag" <<'EOF' &
import os, sqlite3, sys, time
db, flag = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(flag, "w").close()
while os.path.exists(flag):
    time.sleep(0.05)
c.execute("ROLLBACK")
EOF
    LOCKER=$!
    t_track "$LOCKER"
    for _ in $(seq 100); do
        [ -e "$TMP/locked.flag" ] && break
        sleep 0.1
    done
}
unlock_registry() {
    rm -f "$TMP/locked.flag"
    wait "$LOCKER"
}
registry_check() { # the registry check of the last /readyz: "ok detail"
    body_json '.checks[] | select(.name == "registry") | "\(.ok) \(.detail)"'
}
daemon_start locked "${SAMPLE_ARGS[@]}" --set registry.busy_timeout_ms=200 || h_done
lock_registry
entry='{"manifest_hash":"0x'$(printf '1%.0s' $(seq 64))'","proof_hash":"0x'$(printf '2%.0s' $(seq 64))'"}'
req POST "$D_URL/registry/entries" -H 'Content-Type: application/json' -d "$entry"
assert_eq "locked by another process: POST /registry/entries is 503" "$STATUS" 503
assert_match "… with error code busy" "$(cat "$TMP/resp.body")" '"code":"busy"'
assert_eq "… and Retry-After: 1" "$(hdr Retry-After)" 1
unlock_registry
req POST "$D_URL/registry/entries" -H 'Content-Type: application/json' -d "$entry"
assert_eq "the lock gone: the same request is 201" "$STATUS" 201
daemon_stop locked

# ---- 4. a reload behind a request that waits for the registry --------------------------------
# log_wait REGEX [AFTER]: up to 5 s for a line of the daemon's log matching REGEX (after one
# matching AFTER, when given); INFO lines are written together every logging.flush_ms
log_wait() {
    for _ in $(seq 50); do
        sed -n "/${2:-.}/,\$p" "$D_LOG" | grep -q "$1" && return 0
        sleep 0.1
    done
    return 1
}
daemon_start reload "${SAMPLE_ARGS[@]}" --set registry.busy_timeout_ms=8000 || h_done
lock_registry
entry='{"manifest_hash":"0x'$(printf '3%.0s' $(seq 64))'","proof_hash":"0x'$(printf '4%.0s' $(seq 64))'"}'
curl -s -o "$TMP/waiting.body" -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
    -d "$entry" "$D_URL/registry/entries" >"$TMP/waiting.code" &
WAITING=$!
t_track "$WAITING"
sleep 0.5
kill -HUP "$D_PID"
t0=$(date +%s%N)
req GET "$D_ADMIN_URL/readyz"
t1=$(date +%s%N)
assert_le "a reload behind a request waiting for the registry: /readyz at once (ms)" \
    $(((t1 - t0) / 1000000)) 1000
req GET "$D_ADMIN_URL/metrics"
assert_eq "… /metrics answers" "$STATUS" 200
# the reload asks for the lock 200 ms a second: scrapes during its asks too say the registry
# is open (it is)
open_reads=""
for _ in $(seq 15); do
    open_reads+=$(curl -s --max-time 5 "$D_ADMIN_URL/metrics" |
        awk '$1 == "cap_verifier_registry_open" { printf "%s", $2 }')
    sleep 0.1
done
assert_eq "… cap_verifier_registry_open stays 1 while the reload waits (15 scrapes)" \
    "$open_reads" "111111111111111"
verify beside-waiting-reload
assert_eq "… a verification is 200" "$STATUS" 200
assert_le "… at once (ms)" "$(awk -v t="$TIME" 'BEGIN { printf "%d", t * 1000 }')" 1000
check "… while the request still waits for the registry" kill -0 "$WAITING"
check "… the reload waits, and says why" log_wait 'requests in flight hold the daemon.s lock'
unlock_registry
wait "$WAITING"
assert_eq "the lock gone: the waiting request is 201" "$(cat "$TMP/waiting.code")" 201
check "… then the reload is done" log_wait 'trust store and policies reloaded' 'requests in flight'
# /readyz is 200 during the reload too (queued recording: the registry check does not gate)
for _ in $(seq 50); do
    req GET "$D_ADMIN_URL/readyz"
    [ "$(registry_check)" = "true open, writable" ] && break
    sleep 0.1
done
assert_eq "… and the registry is open" "$(registry_check)" "true open, writable"
daemon_stop reload

# ---- 5. a SIGHUP during a backup onto a slow volume ------------------------------------------
SLOW=$(readlink -f "$TMP")/slow-backups
mkdir -p "$SLOW"
if ! shim_daemon HOSTILE_FAULT_DIR="$SLOW" HOSTILE_FAULT_FLAG="$TMP/slow.flag" \
    HOSTILE_FAULT_DELAY_MS=60; then
    skip_missing "a SIGHUP during a slow backup" "a C compiler for the shim: $(cat "$TMP/cc.err")"
else
    daemon_start slow "${SAMPLE_ARGS[@]}" --set "backup.dir=$SLOW" \
        --set backup.interval_seconds=0 || h_done
    DAEMON=$T_DAEMON
    touch "$TMP/slow.flag"
    req POST "$D_URL/admin/backup"
    assert_eq "a backup onto a slow volume (60 ms a write): 201" "$STATUS" 201
    figure "slow: one backup takes $TIME s"
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST "$D_URL/admin/backup" \
        >"$TMP/backup.code" &
    BACKUP=$!
    t_track "$BACKUP"
    for _ in $(seq 1 100); do
        ls -A "$SLOW" | grep -q '\.tmp\.' && break
        sleep 0.05
    done
    kill -HUP "$D_PID"
    sleep 0.3
    verify slow-beside-reload
    assert_eq "a SIGHUP during a backup: a verification beside them is 200" "$STATUS" 200
    assert_le "… at once (ms)" "$(awk -v t="$TIME" 'BEGIN { printf "%d", t * 1000 }')" 1000
    check "… while the backup still runs" kill -0 "$BACKUP"
    check "… the reload waits for the backup's end, and says so" \
        log_wait 'a backup is running or beginning: the trust store'
    wait "$BACKUP"
    assert_eq "the backup: 201" "$(cat "$TMP/backup.code")" 201
    rm -f "$TMP/slow.flag"
    check "… then the reload is done" log_wait 'trust store and policies reloaded' 'a backup is running'
    daemon_stop slow
fi

# ---- 6. a reload that requests outlast for 30 s, then a SIGTERM -------------------------------
# The request of case 4, with the lock held for longer than the reload's 30 s of tries
# (registry.busy_timeout_ms 60000): the reload then waits for it however long it takes and
# says so (WARN, waited_ms); /readyz still answers at once. A SIGTERM ends that wait within
# one of its 5 s slices while the lock is still held; the daemon drops the reload, says so,
# and exits 0 once the request is answered.
daemon_start patient "${SAMPLE_ARGS[@]}" --set registry.busy_timeout_ms=60000 || h_done
lock_registry
entry='{"manifest_hash":"0x'$(printf '5%.0s' $(seq 64))'","proof_hash":"0x'$(printf '6%.0s' $(seq 64))'"}'
curl -s -o "$TMP/patient.body" -w '%{http_code}' --max-time 70 -H 'Content-Type: application/json' \
    -d "$entry" "$D_URL/registry/entries" >"$TMP/patient.code" &
WAITING=$!
t_track "$WAITING"
sleep 0.5
kill -HUP "$D_PID"
long=""
for _ in $(seq 400); do # 40 s
    long=$(grep -m1 '"event":"trust_reload".*however long they take' "$D_LOG") && break
    sleep 0.1
done
check "after 30 s of tries the reload waits however long the request takes (WARN)" \
    test -n "$long"
waited=$(jq -r '.waited_ms // 0' <<<"${long:-{\}}")
assert_le "… having tried for 30 s (waited_ms)" 30000 "$waited"
assert_le "… and not much longer (waited_ms)" "$waited" 32000
t0=$(date +%s%N)
req GET "$D_ADMIN_URL/readyz"
t1=$(date +%s%N)
assert_le "… /readyz still answers at once (ms)" $(((t1 - t0) / 1000000)) 1000
assert_eq "… naming the waiting reload" "$(registry_check)" \
    "false a reload waits for the requests in flight"
kill -TERM "$D_PID"
check "a SIGTERM ends the wait: the reload is dropped, and the log says so (within 7 s)" \
    bash -c 'for _ in $(seq 70); do grep -q "the waiting reload is dropped" "$1" && exit 0
        sleep 0.1; done; exit 1' _ "$D_LOG"
check "… while the lock is still held" kill -0 "$LOCKER"
unlock_registry
wait "$WAITING"
assert_eq "the lock gone: the waiting request is 201" "$(cat "$TMP/patient.code")" 201
daemon_wait_exit "$D_PID" 40
assert_eq "… and the daemon exits 0" "$RC" 0
check "… without the reload" bash -c '! grep -q "trust store and policies reloaded" "$1"' _ "$D_LOG"
h_done
