#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Registry growth under big reports (docs/configuration.md registry.max_report_bytes):
# the signed sample package plus 9,990 unlisted members (a fail/warn verdict with a report
# that names every member) uploaded 200 times to /verify with recording on. After SIGTERM (the
# WAL is checkpointed) the registry file has grown by at most 5 MB: reports over the cap are
# stored as their summary. (curl without Expect: 100-continue: its 1 s wait is not the subject.)
#   registry_growth.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"
UPLOADS=200
LIMIT=5000000

"$PY" "$HDIR/mkzip.py" many "$SAMPLE/sample.zip" "$TMP/many.zip" 9990 >"$TMP/mk.out" ||
    { fail "build the 9,994-member package"; h_done; }
figure "package $(cat "$TMP/mk.out")"

# size_of: the registry database and its WAL, in bytes
size_of() {
    local db=$1 total=0 f
    for f in "$db" "$db-wal"; do
        [ -f "$f" ] && total=$((total + $(stat -c %s "$f")))
    done
    echo "$total"
}

# the registry as the daemon leaves it after start and a clean stop
daemon_start growth "${SAMPLE_ARGS[@]}" || h_done
DB=$D_DIR/registry.sqlite
daemon_stop "first start"
before=$(size_of "$DB")

daemon_start growth "${SAMPLE_ARGS[@]}" || h_done
t0=$(date +%s.%N)
: >"$TMP/codes.txt"
for i in $(seq $UPLOADS); do
    curl -s -o "$TMP/report.json" -w '%{http_code} %{size_download} %{time_total}\n' \
        --max-time 30 -H 'Expect:' -H 'Content-Type: application/zip' -H "X-Request-Id: growth-$i" \
        --data-binary "@$TMP/many.zip" "$D_URL/verify" >>"$TMP/codes.txt"
    if [ "$i" = 1 ]; then
        cp "$TMP/report.json" "$TMP/first.json"
    fi
done
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
verdict=$(jq -r '.result // .error.code' "$TMP/first.json" 2>/dev/null)
figure "uploads $UPLOADS in ${secs}s; verdict $verdict; response bytes $(awk '{ print $2 }' "$TMP/codes.txt" | sort -n | tail -n 1)"
assert_eq "every upload answered 200" "$(awk '$1 != 200' "$TMP/codes.txt" | wc -l | tr -d ' ')" 0
assert_match "the verdict is fail or warn (an answer with a big report)" "$verdict" '^(fail|warn)$'
daemon_stop "after $UPLOADS uploads"
after=$(size_of "$DB")

figure "registry bytes before $before after $after growth $((after - before)) (limit $LIMIT)"
assert_le "the registry grew by ≤ 5 MB over $UPLOADS big reports" $((after - before)) "$LIMIT"
if command -v sqlite3 >/dev/null; then
    rows=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM verifications" 2>&1)
    figure "verifications rows $rows"
    assert_eq "every upload was recorded" "$rows" "$UPLOADS"
    if sqlite3 -readonly "$DB" "SELECT report FROM verifications LIMIT 0" >/dev/null 2>&1; then
        figure "stored report bytes (verifications.report): $(sqlite3 -readonly "$DB" \
            "SELECT coalesce(sum(length(report)), 0) || ' total, ' || coalesce(max(length(report)), 0) || ' largest' FROM verifications" 2>&1)"
    fi
    if sqlite3 -readonly "$DB" "SELECT 1 FROM reports LIMIT 0" >/dev/null 2>&1; then
        figure "stored report bytes (reports table): $(sqlite3 -readonly "$DB" \
            "SELECT count(*) || ' rows, ' || coalesce(sum(length(json)), 0) || ' bytes, ' || coalesce(sum(summary), 0) || ' summaries' FROM reports" 2>&1)"
    fi
    check "integrity_check ok" test "$(sqlite3 -readonly "$DB" 'PRAGMA integrity_check')" = ok
fi
h_done
