#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Registry and cache figures (docs/registry.md#figures): recorded verifications/s through the
# single writer (target >= 5,000/s), look-ups/s, online backup MB/s of a 1,000,000-row registry
# (idle and while the writer records), cache get/put ops/s with 2 threads. Prints; never fails
# on time.
#   bench/run.d/registry.sh BUILD_DIR [ROWS] [SECONDS]
set -euo pipefail
build=$1
rows=${2:-1000000}
secs=${3:-3}
echo "== registry and cache (synchronous=FULL, WAL; ${rows} rows) =="
out=$("$build/bench/bench_registry" "$rows" "$secs")
get() { awk -v k="$1" '$1 == k {print $2}' <<<"$out"; }
printf 'recorded verifications/s (single writer, 16 callers): %s  (target >= 5000; %s writes per commit)\n' \
    "$(get registry_record_per_s)" "$(get registry_record_writes_per_commit)"
printf 'recorded verifications/s (one caller, one commit each): %s\n' "$(get registry_record_unbatched_per_s)"
recdir=$(mktemp -d "${TMPDIR:-/tmp}/capv-bench-record.XXXXXX")
rec=$("$build/bench/bench_record" "$recdir/registry.sqlite" 200000 4)
rm -rf "$recdir"
printf 'recorded verifications/s (record queue, 4 callers): %s written, %s queued, %s per commit\n' \
    "$(awk '$1 == "record_written_per_s" {print $2}' <<<"$rec")" \
    "$(awk '$1 == "record_queued_per_s" {print $2}' <<<"$rec")" \
    "$(awk '$1 == "record_per_commit" {print $2}' <<<"$rec")"
printf 'look-ups/s: %s (1 thread), %s (2 threads); of pairs without an entry: %s (1 thread)\n' \
    "$(get registry_lookup_per_s_1_thread)" "$(get registry_lookup_per_s_2_threads)" \
    "$(get registry_lookup_missing_per_s_1_thread)"
printf 'opening: %s s read-only, %s s read-write (quick_check), %s s with the writer thread (%s s loading the entries'"'"' keys)\n' \
    "$(get registry_open_read_only_seconds)" "$(get registry_open_read_write_seconds)" \
    "$(get registry_open_writer_thread_seconds)" "$(get registry_entry_keys_seconds)"
printf 'online backup of %s rows (%s bytes): %s MB/s idle, %s MB/s while recording %s/s\n' \
    "$(get registry_fill_rows)" "$(get registry_backup_bytes)" "$(get registry_backup_mb_per_s)" \
    "$(get registry_backup_under_load_mb_per_s)" "$(get registry_record_per_s_during_backup)"
printf 'cache get/put ops/s: %s (1 thread), %s (2 threads), hit ratio %s\n' \
    "$(get cache_ops_per_s_1_thread)" "$(get cache_ops_per_s_2_threads)" "$(get cache_hit_ratio)"
