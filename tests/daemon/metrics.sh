#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# /metrics: passes `promtool check metrics`, names every family the runbook and
# the alerts use, and its counters, histogram and cache figures move exactly as the requests
# made predict.
#   metrics.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
command -v promtool >/dev/null || { fail "promtool is installed (scripts/install-deps.sh)"; t_done; }

daemon_start metrics "${SAMPLE_ARGS[@]}" || t_done

scrape() { # scrape OUT [BASE]
    curl -s --max-time 10 -o "$1" "${2:-$D_ADMIN_URL}/metrics"
}

# delta NAME SERIES: the change of SERIES between m0 and m1 (a missing series counts as 0)
delta() {
    local a b
    a=$(metric "$TMP/m0" "$1")
    b=$(metric "$TMP/m1" "$1")
    awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN { printf "%.10g\n", b - a }'
}

scrape "$TMP/m0"
if promtool check metrics <"$TMP/m0" >"$TMP/promtool.out" 2>&1; then
    pass "promtool check metrics (fresh daemon)"
else
    fail "promtool check metrics (fresh daemon)" "$(cat "$TMP/promtool.out")"
fi

# ---- the required families, each with HELP and TYPE -------------------------------------
while read -r name type; do
    assert_eq "# TYPE $name $type" "$(awk -v n="$name" '$1 == "#" && $2 == "TYPE" && $3 == n { print $4 }' "$TMP/m0")" \
        "$type"
    check "# HELP $name" grep -q "^# HELP $name " "$TMP/m0"
done <<'EOF'
cap_verifier_requests_total counter
cap_verifier_request_duration_seconds histogram
cap_verifier_http_responses_total counter
cap_verifier_auth_failures_total counter
cap_verifier_auth_requests_total counter
cap_verifier_cache_hits_total counter
cap_verifier_cache_misses_total counter
cap_verifier_cache_evictions_total counter
cap_verifier_cache_entries gauge
cap_verifier_cache_hit_ratio gauge
cap_verifier_jwks_refresh_total counter
cap_verifier_jwks_keys gauge
cap_verifier_jwks_age_seconds gauge
cap_verifier_backup_last_success_timestamp_seconds gauge
cap_verifier_backup_total counter
cap_verifier_inflight_requests gauge
cap_verifier_registry_storage_faults_total counter
cap_verifier_registry_entries gauge
cap_verifier_registry_open gauge
cap_verifier_registry_records_written_total counter
cap_verifier_registry_filesystem_bytes gauge
cap_verifier_build_info gauge
process_cpu_seconds_total counter
process_resident_memory_bytes gauge
process_open_fds gauge
process_start_time_seconds gauge
EOF
# The daemon always opens a registry (the default is SQLite); a thread counts its entries
# (capverifyd/entry_count.c), never the scrape: a fresh one has none.
assert_eq "cap_verifier_registry_entries of a fresh registry" \
    "$(metric "$TMP/m0" cap_verifier_registry_entries)" 0
assert_eq "cap_verifier_registry_open of the registry opened at start" \
    "$(metric "$TMP/m0" cap_verifier_registry_open)" 1

version=$("$DAEMON" --version | awk '{ print $2 }')
assert_match "cap_verifier_build_info{version,commit} 1" \
    "$(grep '^cap_verifier_build_info{' "$TMP/m0")" \
    "^cap_verifier_build_info\\{version=\"$version\",commit=\"[^\"]+\"\\} 1$"
for r in ok warn fail error; do
    assert_eq "requests_total{result=\"$r\"} starts at 0" \
        "$(metric "$TMP/m0" "cap_verifier_requests_total{result=\"$r\"}")" 0
done
now=$(date +%s)
start=$(metric "$TMP/m0" process_start_time_seconds)
assert_le "process_start_time_seconds is in the last 5 minutes" "$((now - 300))" "$start"
assert_le "process_start_time_seconds is not in the future" "$start" "$((now + 1))"
assert_le "process_open_fds > 0" 1 "$(metric "$TMP/m0" process_open_fds)"
assert_le "process_resident_memory_bytes > 1 MB" 1000000 "$(metric "$TMP/m0" process_resident_memory_bytes)"
assert_eq "registry_filesystem_bytes is the size df reports for the registry's file system" \
    "$(metric "$TMP/m0" cap_verifier_registry_filesystem_bytes)" \
    "$(stat -f -c '%b %S' "$D_DIR/registry.sqlite" | awk '{ printf "%.0f", $1 * $2 }')"
check "no TLS, no certificate expiry" \
    bash -c "! grep -q '^cap_verifier_tls_cert_expiry_timestamp_seconds' '$TMP/m0'"
check "no auth, no key-set state" bash -c "! grep -q '^cap_verifier_jwks_state' '$TMP/m0'"
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo max)
if [ "$limit" = max ] || [ "${#limit}" -ge 19 ]; then
    check "unlimited cgroup: no memory limit" \
        bash -c "! grep -q '^cap_verifier_memory_limit_bytes' '$TMP/m0'"
else
    assert_eq "cap_verifier_memory_limit_bytes is the cgroup's limit" \
        "$(metric "$TMP/m0" cap_verifier_memory_limit_bytes)" "$limit"
fi

# ---- a known set of requests ---------------------------------------------------------------
tampered_zip "$SAMPLE/sample.zip" "$TMP/tampered.zip"
json_package "$SAMPLE/sample" "$TMP/sample.json"
verify() { # verify CONTENT_TYPE FILE → status
    curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: $1" --data-binary "@$2" \
        "$D_URL/verify"
}
codes=""
for i in 1 2 3; do codes+=" $(verify application/zip "$SAMPLE/sample.zip")"; done # ok: miss, hit, hit
codes+=" $(verify application/json "$TMP/sample.json")"                         # ok: not cached
for i in 1 2; do codes+=" $(verify application/zip "$TMP/tampered.zip")"; done  # fail: miss, hit
printf 'PK\003\004 not a zip' >"$TMP/bad.zip"
codes+=" $(verify application/zip "$TMP/bad.zip")"                              # error: miss
codes+=" $(verify text/plain "$SAMPLE/sample.zip")"                             # 415: error
codes+=" $(curl -s -o /dev/null -w '%{http_code}' -F "other=@$SAMPLE/sample.zip" "$D_URL/verify")" # 400 form: error
codes+=" $(curl -s -o /dev/null -w '%{http_code}' "$D_URL/verify")"              # 405
codes+=" $(curl -s -o /dev/null -w '%{http_code}' "$D_URL/nope")"                # 404 (route other)
assert_eq "the requests got the expected codes" "$codes" " 200 200 200 200 200 200 400 415 400 405 404"

scrape "$TMP/m1"
if promtool check metrics <"$TMP/m1" >"$TMP/promtool.out" 2>&1; then
    pass "promtool check metrics (after traffic)"
else
    fail "promtool check metrics (after traffic)" "$(cat "$TMP/promtool.out")"
fi

assert_eq "requests_total ok +4" "$(delta 'cap_verifier_requests_total{result="ok"}')" 4
assert_eq "requests_total fail +2" "$(delta 'cap_verifier_requests_total{result="fail"}')" 2
# every /verify past authentication that got no verdict is an error: the bad zip, the 415,
# the bad form (not the 405, which is not a verification)
assert_eq "requests_total error +3" "$(delta 'cap_verifier_requests_total{result="error"}')" 3
assert_eq "requests_total warn +0" "$(delta 'cap_verifier_requests_total{result="warn"}')" 0
assert_eq "http_responses_total 200 /verify +6" \
    "$(delta 'cap_verifier_http_responses_total{code="200",route="/verify"}')" 6
assert_eq "http_responses_total 400 /verify +2" \
    "$(delta 'cap_verifier_http_responses_total{code="400",route="/verify"}')" 2
assert_eq "http_responses_total 415 /verify +1" \
    "$(delta 'cap_verifier_http_responses_total{code="415",route="/verify"}')" 1
assert_eq "http_responses_total 405 /verify +1" \
    "$(delta 'cap_verifier_http_responses_total{code="405",route="/verify"}')" 1
assert_eq "http_responses_total 404 other +1" \
    "$(delta 'cap_verifier_http_responses_total{code="404",route="other"}')" 1
# the first scrape is counted once it has been answered; the second is still running
assert_eq "http_responses_total 200 /metrics +1" \
    "$(delta 'cap_verifier_http_responses_total{code="200",route="/metrics"}')" 1
assert_eq "inflight_requests = 1 (the scrape itself)" \
    "$(metric "$TMP/m1" cap_verifier_inflight_requests)" 1

# the histogram: _count = the route's requests, +Inf bucket = _count, buckets cumulative
assert_eq "duration _count{/verify} +10" \
    "$(delta 'cap_verifier_request_duration_seconds_count{route="/verify"}')" 10
assert_eq "duration _count{/metrics} +1" \
    "$(delta 'cap_verifier_request_duration_seconds_count{route="/metrics"}')" 1
assert_eq "duration _count{other} +1" \
    "$(delta 'cap_verifier_request_duration_seconds_count{route="other"}')" 1
assert_le "duration _sum{/verify} grew" 0.0000001 \
    "$(delta 'cap_verifier_request_duration_seconds_sum{route="/verify"}')"
les=$(grep '^cap_verifier_request_duration_seconds_bucket{route="/verify",' "$TMP/m1" |
    sed 's/.*le="\([^"]*\)".*/\1/' | tr '\n' ' ')
assert_eq "buckets 0.001 … 10 s and +Inf" "$les" \
    "0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf "
bad=$(awk '
    /^cap_verifier_request_duration_seconds_bucket\{/ {
        match($1, /route="[^"]*"/); r = substr($1, RSTART, RLENGTH)
        if (r == last && $2 + 0 < prev + 0) print r
        last = r; prev = $2
        if ($1 ~ /le="\+Inf"/) inf[r] = $2
    }
    /^cap_verifier_request_duration_seconds_count\{/ {
        match($1, /route="[^"]*"/); r = substr($1, RSTART, RLENGTH)
        if (!(r in inf) || inf[r] != $2) print r " count"
    }' "$TMP/m1")
assert_eq "every route: buckets never decrease and +Inf = _count" "$bad" ""

# the report cache (zip uploads): misses then hits for repeated bodies; the malformed one
# missed too and was not stored; the JSON form is not cached
assert_eq "cache hits{report} +3" "$(delta 'cap_verifier_cache_hits_total{cache="report"}')" 3
assert_eq "cache misses{report} +3" "$(delta 'cap_verifier_cache_misses_total{cache="report"}')" 3
assert_eq "cache entries{report} = 2" "$(metric "$TMP/m1" 'cap_verifier_cache_entries{cache="report"}')" 2
assert_eq "cache hit ratio{report} = 3/6" \
    "$(awk -v v="$(metric "$TMP/m1" 'cap_verifier_cache_hit_ratio{cache="report"}')" 'BEGIN { printf "%.4f", v }')" \
    0.5000
assert_eq "no evictions" \
    "$(awk '/^cap_verifier_cache_evictions_total\{/ { s += $2 } END { print s + 0 }' "$TMP/m1")" 0

# one more repeat moves exactly the hit counter
scrape "$TMP/m0"
assert_eq "repeat of the sample: 200" "$(verify application/zip "$SAMPLE/sample.zip")" 200
scrape "$TMP/m1"
assert_eq "repeat: hits +1" "$(delta 'cap_verifier_cache_hits_total{cache="report"}')" 1
assert_eq "repeat: misses +0" "$(delta 'cap_verifier_cache_misses_total{cache="report"}')" 0
assert_eq "repeat: ok +1" "$(delta 'cap_verifier_requests_total{result="ok"}')" 1

# the API port serves the same metrics
scrape "$TMP/m2" "$D_URL"
assert_eq "API-port /metrics has the same families" \
    "$(grep '^# TYPE' "$TMP/m2" | sort | sha256sum)" "$(grep '^# TYPE' "$TMP/m1" | sort | sha256sum)"

# SIGHUP reloads the trust store: the cache is invalidated, so no stale verdict is served
kill -HUP "$D_PID"
for i in $(seq 50); do
    grep -q '"event":"trust_reload"' "$D_LOG" && break
    sleep 0.1
done
scrape "$TMP/m0"
assert_eq "after SIGHUP the sample is verified again: 200" \
    "$(verify application/zip "$SAMPLE/sample.zip")" 200
scrape "$TMP/m1"
assert_eq "after SIGHUP: a miss, not a hit" \
    "$(delta 'cap_verifier_cache_misses_total{cache="report"}') $(delta 'cap_verifier_cache_hits_total{cache="report"}')" \
    "1 0"
assert_eq "after SIGHUP: the 2 old entries were invalidated" \
    "$(metric "$TMP/m0" 'cap_verifier_cache_evictions_total{cache="report",reason="invalidated"}')" 2

# an entry this daemon adds shows at its next scrape of the admin port (which asks for a
# count after an entry it added and waits for it at most 0.5 s)
req POST "$D_URL/registry/entries" -H 'Content-Type: application/json' --data-binary \
    "{\"manifest_hash\":\"0x$(printf '1%.0s' $(seq 64))\",\"proof_hash\":\"0x$(printf '2%.0s' $(seq 64))\",\"timestamp_file\":null}"
assert_eq "register an entry: 201" "$STATUS" 201
scrape "$TMP/m_entries"
assert_eq "cap_verifier_registry_entries follows the entry added" \
    "$(metric "$TMP/m_entries" cap_verifier_registry_entries)" 1

# the backup schedule's looks (the first at start) say whether this daemon makes the
# scheduled backups: its SQLite registry is writable
leader=
for _ in $(seq 60); do
    scrape "$TMP/lead"
    leader=$(metric "$TMP/lead" cap_verifier_backup_leader)
    [ "$leader" = 1 ] && break
    sleep 0.1
done
assert_eq "cap_verifier_backup_leader of a writable SQLite registry" "$leader" 1

# a restore that leaves a file the daemon cannot open (as in backup_trust.sh): its SIGHUP
# closes the registry and cannot open it again; the registry's series go, the gauge stays at
# 0 (alert RegistryNotOpen, docs/runbook.md#registrynotopen) until a restore of a good backup
# (the runbook's remedy: the daemon holds no database then) puts one in place
wait_open() { # wait_open WANT: up to 15 s for cap_verifier_registry_open = WANT
    for _ in $(seq 150); do
        scrape "$TMP/m_open"
        [ "$(metric "$TMP/m_open" cap_verifier_registry_open)" = "$1" ] && return
        sleep 0.1
    done
}
RDB=$D_DIR/registry.sqlite
check "a backup of the registry (CLI, online)" \
    "$CLI" registry backup --db "$RDB" --dir "$TMP/bk"
mkdir -p "$TMP/aside"
for f in "" -wal -shm; do
    [ -e "$RDB$f" ] && mv "$RDB$f" "$TMP/aside/"
done
head -c 4096 /dev/zero | tr '\0' x >"$RDB" # no database
kill -HUP "$D_PID"
wait_open 0
assert_eq "a registry that cannot be reopened: cap_verifier_registry_open 0" \
    "$(metric "$TMP/m_open" cap_verifier_registry_open)" 0
assert_eq "... its other series are gone" \
    "$(grep -c '^cap_verifier_registry_\(entries\|queue_depth\|records_written_total\|storage_faults_total\) ' "$TMP/m_open")" 0
if promtool check metrics <"$TMP/m_open" >"$TMP/promtool.out" 2>&1; then
    pass "promtool check metrics (registry not open)"
else
    fail "promtool check metrics (registry not open)" "$(cat "$TMP/promtool.out")"
fi
check "restore of the backup while the daemon's registry is not open" \
    "$CLI" registry restore --db "$RDB" --from "$(ls "$TMP"/bk/registry-*.sqlite)"
wait_open 1
assert_eq "the daemon opens the restored file (within 5 s): cap_verifier_registry_open 1" \
    "$(metric "$TMP/m_open" cap_verifier_registry_open)" 1
assert_eq "... and cap_verifier_registry_entries is back" \
    "$(metric "$TMP/m_open" cap_verifier_registry_entries)" 1

daemon_stop
t_done
