#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The registry on PostgreSQL (docs/registry.md "PostgreSQL backend"), against a throw-away
# cluster that tests/pg/with_pg.sh starts on 127.0.0.1 for this script: recorded
# verifications/s through the record queue with batching (target >= 20,000/s), and the
# daemon's cached /verify beside /healthz with every verification recorded in PostgreSQL
# (target >= 0.5; bench/run.d/daemon.sh with BENCH_REGISTRY_URL). Prints; never fails on time.
#   bench/run.d/postgres.sh BUILD_DIR [RECORDS]
set -euo pipefail
build=$(cd "$1" && pwd)
records=${2:-200000}
root=$(cd "$(dirname "$0")/../.." && pwd)
echo "== registry on PostgreSQL (a local throw-away cluster) =="
if ! command -v pg_virtualenv >/dev/null; then
    echo "skipped: PostgreSQL is not installed (scripts/install-deps.sh)"
    exit 0
fi
"$root/tests/pg/with_pg.sh" bash -c '
    set -euo pipefail
    out=$("$1/bench/bench_record" "$CAPV_TEST_PG_URL" "$2" 4)
    get() { awk -v k="$1" '\''$1 == k {print $2}'\'' <<<"$out"; }
    printf "recorded verifications/s (record queue, 4 callers, %s records): %s written (target >= 20000), %s queued; %s records per commit\n" \
        "$2" "$(get record_written_per_s)" "$(get record_queued_per_s)" "$(get record_per_commit)"
    BENCH_REGISTRY_URL=$CAPV_TEST_PG_URL BENCH_PHASES=cached "$3/bench/run.d/daemon.sh" "$1"
' postgres "$build" "$records" "$root" 2>&1 | grep -v -e ' LOG: ' -e '^Dropping cluster'
