#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon under load: capverifyd from BUILD_DIR as bench/lib/daemon.sh starts it (on
# 127.0.0.1, bearer-token auth on, the signed, timestamped sample package), driven by wrk
# (bench/verify.lua) and hey. Prints:
#   - /healthz requests/s, and /verify of the same package (cached report) requests/s, p50,
#     p99, and their ratio (target >= 0.5), /healthz measured for half of the time before
#     and half after the /verify of its round;
#   - p99 of cached /verify at about half of that saturation rate (target < 5 ms), with
#     `hey -q` rate limiting (closed loop per worker: Debian's wrk has no -R, and wrk2 is not
#     packaged);
#   - /verify of 10,000 distinct packages cycled through a report cache of 1,000 entries (so
#     every request verifies afresh): requests/s and p95 (target < 500 ms);
#   - the daemon's VmRSS after 10,000 distinct verified packages with cache.size=10000
#     (target < 64 MiB);
#   - uncached /verify beside `openssl speed -multi $(nproc) ed25519` verifies/s, measured in
#     the same run (target >= 0.45: each fresh verification costs about two Ed25519
#     verifications plus hashing), for the signed sample without its timestamp (a typical
#     package) and for the timestamped one, each beside the library alone verifying the same
#     package on every core (the ceiling of its ratio);
#   - uncached /verify while an online backup (POST /admin/backup) of the registry those
#     phases filled runs: requests/s and p99 beside the phase without it, the backup's
#     duration and size, and the largest size of the WAL meanwhile;
#   - for comparison, cached /verify with registry.record_verifications=false.
# BENCH_REGISTRY_URL=postgresql://… runs the daemon on that PostgreSQL registry instead of a
# SQLite file, and BENCH_PHASES=cached only the /healthz and cached /verify phases
# (bench/run.d/postgres.sh does both).
# The distinct packages are the sample with a different zip comment each: other bytes (another
# cache key), the same members, the same "ok" verdict. The configuration is otherwise the
# default one (256 worker threads, every verification recorded in the registry). wrk, hey and
# the daemon share this machine's cores; nothing here passes or fails on time.
# Each ratio's figures are measured in ROUNDS rounds (default 3, env BENCH_ROUNDS), each round
# measuring its figures one right after the other, and the round with the median ratio is
# printed: on a machine whose neighbours come and go, figures taken a minute apart differ by
# up to a quarter, and a ratio of figures taken side by side moves much less.
#   bench/run.d/daemon.sh BUILD_DIR [SECONDS_PER_ROUND]      (default 5; about 5 minutes)
set -euo pipefail
build=$(cd "$1" && pwd)
secs=${2:-5}
rounds=${BENCH_ROUNDS:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
echo "== daemon: capverifyd under wrk/hey on loopback, auth on =="
registry_url=${BENCH_REGISTRY_URL:-}
phases=${BENCH_PHASES:-all}
# shellcheck source=bench/lib/daemon.sh
source "$root/bench/lib/daemon.sh"

# ---- healthz, cached /verify, p99 at half saturation, working set ---------------------------
# No scheduled backups here: the first one comes a minute after start (docs/registry.md,
# "Backup"), and it fell into the second uncached round of every run, whose figures it
# lowered by up to a fifth. What a backup costs the requests around it is measured on its
# own, at the end.
start_daemon main 1000 --set backup.interval_seconds=0
echo "checks: sample $(verdict "$zip"), a distinct variant $(verdict "$tmp/variant.zip")," \
    "without its timestamp $(verdict "$tmp/plain.zip") (want: 200 ok, 200 ok, 200 warn: the" \
    "sample's manifest names a TSA time anchor)"

# median_round FILE: the line of FILE (one round per line, its ratio first) with the median
# ratio
median_round() { sort -g -k1,1 "$1" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
# rounds_list FILE: the ratios of FILE's rounds in the order they were measured
rounds_list() { awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }' "$1"; }

# healthz_rate SECONDS: /healthz requests/s under wrk for that long
healthz_rate() {
    wrk -t2 -c"$conns" -d"$1"s --timeout 10s "$API/healthz" | awk '/^Requests\/sec:/ {print $2}'
}
# Each round brackets cached /verify by /healthz, half of its time before and half after, and
# takes the mean of the two: /healthz moves by up to a quarter between two 3 s windows a few
# seconds apart, and a drift during the round then weighs on both sides of the ratio alike.
: >"$tmp/cached.rounds"
half=$(((secs + 1) / 2))
for r in $(seq "$rounds"); do
    h1=$(healthz_rate "$half")
    wrk_verify 0 "$secs"
    h2=$(healthz_rate "$half")
    awk -v a="$W_rate" -v h1="$h1" -v h2="$h2" -v p50="$W_p50" -v p99="$W_p99" -v e="$W_errors" \
        'BEGIN { b = (h1 + h2) / 2; printf "%.4f %s %s %s %s %s %s %s\n", (b > 0 ? a / b : 0), a, b, p50, p99, e, h1, h2 }' >>"$tmp/cached.rounds"
done
read -r ratio cached healthz c_p50 c_p99 c_errors h1 h2 <<<"$(median_round "$tmp/cached.rounds")"
printf '/healthz: %.0f requests/s (wrk, %d connections; %.0f before and %.0f after /verify)\n' \
    "$healthz" "$conns" "$h1" "$h2"
printf '/verify cached (same package): %.0f requests/s, p50 %.2f ms, p99 %.2f ms, errors %s\n' \
    "$cached" "$c_p50" "$c_p99" "$c_errors"
printf 'ratio cached /verify / /healthz: %.2f (target >= 0.5; the median of %d rounds: %s)\n' \
    "$ratio" "$rounds" "$(rounds_list "$tmp/cached.rounds")"
# every verification of those rounds is recorded: a full queue slows /verify down instead of
# dropping records while the storage works (docs/registry.md "Recording verifications")
queue_drained() {
    local i
    for i in $(seq 50); do
        [ "$(metric cap_verifier_registry_queue_depth)" = 0 ] && return 0
        sleep 0.1
    done
}
queue_drained
printf 'records of the cached rounds: %s written, %s dropped (want 0)\n' \
    "$(metric cap_verifier_registry_records_written_total)" \
    "$(metric cap_verifier_registry_records_dropped_total)"

workers=8
half=$(awk -v r="$cached" 'BEGIN { printf "%.0f", r / 2 }')
per=$(awk -v r="$half" -v w="$workers" 'BEGIN { printf "%.1f", r / w }')
out=$(hey -z "$secs"s -c "$workers" -q "$per" -t 10 -m POST -T application/zip \
    -H "Authorization: Bearer $token" -D "$zip" "$API/verify")
got=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
p99=$(awk '$1 == "99%" && $2 == "in" {print $3 * 1000}' <<<"$out")
p50=$(awk '$1 == "50%" && $2 == "in" {print $3 * 1000}' <<<"$out")
non200=$(awk '/^Status code distribution:/ {s = 1; next} s && /\[[0-9]+\]/ { gsub(/[][]/, "", $1); if ($1 != 200) n += $2 } END {print n + 0}' <<<"$out")
printf '/verify cached at ~50%% of saturation (hey -c %d -q %s, asked %s/s): %.0f requests/s, p50 %.2f ms, p99 %.2f ms (target < 5 ms), non-200 %s\n' \
    "$workers" "$per" "$half" "$got" "$p50" "$p99" "$non200"

if [ "$phases" = cached ]; then
    stop_daemon
    exit 0
fi

# What the same package costs the library alone, on every core, with no HTTP, authentication
# or recording: the ceiling of the uncached ratio (docs/architecture.md#benchmarks). TZ as
# capverifyd sets it (libzip's mktime then does not stat /etc/localtime under a global lock).
library_rate() { # library_rate ZIP [no-timestamp]
    TZ=${TZ-:/etc/localtime} "$build/bench/bench_verify" "$secs" "$1" "$tmp/sample/trust" "$tmp/sample/policies" \
        "$tmp/sample/tsa/ca.pem" "$(nproc)" ${2:-} | awk '/^verify_zip_per_s/ {print $2}'
}
multi_rate() { # openssl speed -multi $(nproc) ed25519: verifies/s over every core
    openssl speed -multi "$(nproc)" -seconds "$secs" ed25519 2>/dev/null |
        awk '/Ed25519\)/ {v=$NF} END {print v}'
}

# uncached_phase NAME ZIP [no-timestamp]: uncached /verify of ZIP's distinct variants, OpenSSL's
# Ed25519 verify rate on every core and the library alone on ZIP, one after the other in each
# round (the daemon idles while the other two run); prints each round's figures and the round
# with the median ratio of /verify to OpenSSL
uncached_phase() {
    local h0 m0 h1 m1 f=$tmp/uncached.rounds multi lib
    : >"$f"
    h0=$(metric 'cap_verifier_cache_hits_total{cache="report"}')
    m0=$(metric 'cap_verifier_cache_misses_total{cache="report"}')
    for r in $(seq "$rounds"); do
        wrk_verify "$distinct" "$secs" "$2"
        multi=$(multi_rate)
        lib=$(library_rate "$2" ${3:-})
        awk -v a="$W_rate" -v m="$multi" -v l="$lib" -v p50="$W_p50" -v p95="$W_p95" \
            -v p99="$W_p99" -v e="$W_errors" 'BEGIN { printf "%.4f %s %s %s %s %s %s %s\n",
                (m > 0 ? a / m : 0), a, m, l, p50, p95, p99, e }' >>"$f"
    done
    h1=$(metric 'cap_verifier_cache_hits_total{cache="report"}')
    m1=$(metric 'cap_verifier_cache_misses_total{cache="report"}')
    local ratio rate u_p50 u_p95 u_p99 u_errors
    awk '{ printf "  round %d: %.0f requests/s (p99 %.2f ms), openssl %.0f verifies/s, library %.0f packages/s\n", NR, $2, $7, $3, $4 }' "$f"
    read -r ratio rate multi lib u_p50 u_p95 u_p99 u_errors <<<"$(median_round "$f")"
    printf '/verify uncached, %s (%d distinct packages, cache.size=1000): %.0f requests/s, p50 %.2f ms, p95 %.2f ms (target < 500 ms), p99 %.2f ms, errors %s; cache hits %s, misses %s\n' \
        "$1" "$distinct" "$rate" "$u_p50" "$u_p95" "$u_p99" "$u_errors" \
        "$((${h1%.*} - ${h0%.*}))" "$((${m1%.*} - ${m0%.*}))"
    printf 'openssl speed -multi %d ed25519 verify: %.0f verifies/s\n' "$(nproc)" "$multi"
    printf 'library verification, %s, %d threads, no HTTP/auth/recording: %.0f packages/s\n' \
        "$1" "$(nproc)" "$lib"
    printf 'ratio uncached /verify, %s (recording on, auth on) / openssl ed25519 verify (all cores): %.2f (target >= 0.45; the median of %d rounds: %s)\n' \
        "$1" "$ratio" "$rounds" "$(rounds_list "$f")"
    awk -v a="$lib" -v b="$multi" -v l="$1" 'BEGIN { if (b > 0) printf "ratio library / openssl ed25519 verify (all cores), %s: %.2f (the ceiling of the ratio above)\n", l, a / b }'
    awk -v a="$rate" -v b="$lib" -v l="$1" 'BEGIN { if (b > 0) printf "ratio uncached /verify / library, %s: %.2f (what HTTP, auth and recording leave)\n", l, a / b }'
    U_rate=$rate
}
echo "(uncached: $rounds rounds each of /verify, openssl speed and the library, side by side)"
uncached_phase "signed, no timestamp" "$tmp/plain.zip" no-timestamp
plain_rate=$U_rate
uncached_phase "signed + RFC 3161 timestamp" "$zip"

# ---- an online backup under load -------------------------------------------------------------
# The same daemon, whose registry now holds every verification of the phases above: uncached
# /verify of the package without its timestamp for 6 x SECONDS, with POST /admin/backup one
# second in. Prints the rate and p99 of that window beside the phase's, the backup's
# duration and size and, on SQLite, the largest size of the registry's WAL meanwhile: a
# copy that held one read transaction throughout let the WAL grow until it ended, and the
# writer then stalled on copying it all into the database (docs/registry.md, "A backup
# under load").
wal=$tmp/main/registry.sqlite-wal
(
    sleep 1
    curl -s -o "$tmp/backup.json" -w '%{http_code} %{time_total}\n' --max-time 600 -X POST \
        -H "Authorization: Bearer $ops_token" "$API/admin/backup" >"$tmp/backup.code"
) &
backup_pid=$!
pids+=("$backup_pid")
(
    max=0
    while kill -0 "$backup_pid" 2>/dev/null || [ ! -s "$tmp/backup.code" ]; do
        w=$(stat -c %s "$wal" 2>/dev/null || echo 0)
        [ "$w" -gt "$max" ] && max=$w
        echo "$max" >"$tmp/wal.max"
        sleep 0.1
    done
) &
wal_pid=$!
pids+=("$wal_pid")
wrk_verify "$distinct" "$((secs * 6))" "$tmp/plain.zip"
wait "$backup_pid" || true
kill "$wal_pid" 2>/dev/null || true
wait "$wal_pid" 2>/dev/null || true
read -r b_code b_secs <"$tmp/backup.code"
b_bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("size_bytes", 0))' \
    "$tmp/backup.json" 2>/dev/null || echo 0)
printf '/verify uncached during an online backup (%d s of load, POST /admin/backup 1 s in): %.0f requests/s (%.2f x the phase above), p99 %.2f ms, errors %s\n' \
    "$((secs * 6))" "$W_rate" "$(awk -v a="$W_rate" -v b="$plain_rate" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
    "$W_p99" "$W_errors"
printf 'the backup: HTTP %s in %.1f s, %.0f MiB; the WAL at most %.0f MiB%s\n' "$b_code" "$b_secs" \
    "$(awk -v b="$b_bytes" 'BEGIN { print b / 1048576 }')" \
    "$(awk -v b="$(cat "$tmp/wal.max" 2>/dev/null || echo 0)" 'BEGIN { print b / 1048576 }')" \
    "${registry_url:+ (PostgreSQL: no local WAL)}"
stop_daemon

# ---- memory with 10,000 cached reports -----------------------------------------------------
start_daemon rss 10000
verdict "$zip" >/dev/null
rss0=$(rss_kib "$PID")
CAPV_BENCH_ZIP=$zip CAPV_BENCH_TOKEN=$token CAPV_BENCH_DISTINCT=$distinct \
    wrk -t2 -c"$conns" -d120s --timeout 10s -s "$lua" "$API/verify" >"$tmp/wrk-rss.out" &
wrk_pid=$!
pids+=("$wrk_pid")
misses=0
for _ in $(seq 900); do # 90 s at most
    kill -0 "$wrk_pid" 2>/dev/null || break
    misses=$(metric 'cap_verifier_cache_misses_total{cache="report"}')
    misses=${misses%.*}
    [ "${misses:-0}" -ge $((distinct + 1)) ] && break
    sleep 0.1
done
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" 2>/dev/null || true
entries=$(metric 'cap_verifier_cache_entries{cache="report"}')
rss1=$(rss_kib "$PID")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
printf 'RSS (cache.size=10000): %.1f MiB after start and one request; %.1f MiB after verifying %d distinct packages (%s verifications, %s reports cached; peak %.1f MiB) (target < 64 MiB)\n' \
    "$(awk -v k="$rss0" 'BEGIN { print k / 1024 }')" "$(awk -v k="$rss1" 'BEGIN { print k / 1024 }')" \
    "$distinct" "$((misses - 1))" "${entries%.*}" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')"
stop_daemon

# ---- for comparison: the same cached load without recording verifications ----------------
# Every /verify, cached or not, is recorded in the registry by default; this shows what that
# costs.
start_daemon norecord 1000 --set registry.record_verifications=false
wrk_verify 0 "$secs"
printf 'for comparison, registry.record_verifications=false: /verify cached %.0f requests/s (%.2f x /healthz above), p50 %.2f ms, p99 %.2f ms\n' \
    "$W_rate" "$(awk -v a="$W_rate" -v b="$healthz" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
    "$W_p50" "$W_p99"
stop_daemon
