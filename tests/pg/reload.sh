#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A SIGHUP on a PostgreSQL registry (docs/registry.md "PostgreSQL backend", docs/runbook.md
# "Reloading"): the daemon opens a new handle before its lock and closes the old one after
# it. Under load, against a role whose password comes from registry.password_file; run
# through tests/pg/with_pg.sh, which starts the database:
#   1. the role's password is rotated, the file rewritten, SIGHUP: the reload is done, every
#      session the daemon held before it is gone (the old handle closed), the new ones
#      authenticated with the new password;
#   2. the file gets a wrong password, SIGHUP: the log says the registry was not reopened,
#      without the password; the open handle stays, /readyz stays ready,
#      cap_verifier_registry_open stays 1, and the trust store is still reloaded;
#   then the daemon's server processes stopped (SIGSTOP): /metrics still answers at once;
#   3. after SIGTERM: every acknowledged entry is stored as acknowledged, every verification
#      answered 200 is recorded (the records queued on the old handle too), none dropped.
#   reload.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR
PG_URL=${CAPV_TEST_PG_URL:-}
ADMIN_PW=${PGPASSWORD:-}
source "$(dirname "$0")/../daemon/lib.sh"
t_init "$@"
if [ -z "$PG_URL" ] || ! command -v psql >/dev/null; then
    skip_missing "reload on PostgreSQL" "a PostgreSQL server and psql (run through tests/pg/with_pg.sh)"
    t_done
fi
# the daemon's password is the file's alone: libpq would otherwise fall back on PGPASSWORD
unset PGPASSWORD
psql_at() { PGPASSWORD=$ADMIN_PW psql "$PG_URL" -X -At -v ON_ERROR_STOP=1 -c "$1"; }

ROLE="capv_reload_$$"
PW1="first-$RANDOM$RANDOM"
PW2="second-$RANDOM$RANDOM"
WRONG="wrong-$RANDOM$RANDOM"
psql_at "CREATE ROLE $ROLE LOGIN PASSWORD '$PW1'; CREATE SCHEMA $ROLE AUTHORIZATION $ROLE" \
    >/dev/null || { fail "a role and a schema for the test"; t_done; }
# the URL names the role, not its password; the schema is the role's
hostport=${PG_URL#postgresql://*@}
DB_URL="postgresql://$ROLE@${hostport}?options=-csearch_path%3D$ROLE"
PWFILE=$TMP/pg-password
set_password() { # writes the file as a Secret's update does: a new file renamed over the old
    printf '%s\n' "$1" >"$PWFILE.new" && mv "$PWFILE.new" "$PWFILE"
}
set_password "$PW1"

daemon_start r "${SAMPLE_ARGS[@]}" --set "registry.url=$DB_URL" \
    --set "registry.password_file=$PWFILE" --set registry.record_queue_max=200000 || t_done

# sessions [SQL_CONDITION]: the daemon's sessions (its role's), those matching the condition
sessions() {
    psql_at "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE' AND ${1:-true}"
}
registry_ok() {
    curl -s --max-time 2 "$D_ADMIN_URL/readyz" |
        jq -e '.checks[] | select(.name == "registry") | .ok' >/dev/null 2>&1
}

python3 "$SRC/tests/pg/replica_load.py" "$TMP/load.json" 12 "$SAMPLE/sample.zip" "$D_URL" &
LOAD=$!
t_track "$LOAD"
sleep 3

# ---- 1. a rotated password -------------------------------------------------------------------
assert_le "before the reload: the daemon holds sessions" 1 "$(sessions)"
psql_at "ALTER ROLE $ROLE PASSWORD '$PW2'" >/dev/null
set_password "$PW2"
since=$(psql_at "SELECT now()")
check "a SIGHUP with the rotated password: reloaded under load" sighup_reload 10
gone=""
for i in $(seq 50); do # the old handle closes once the lock is released
    if [ "$(sessions "backend_start < '$since'")" = 0 ]; then
        gone=yes
        break
    fi
    sleep 0.1
done
assert_eq "every session from before the SIGHUP is closed" "$gone" yes
assert_le "... and the daemon holds new ones" 1 "$(sessions "backend_start >= '$since'")"
check "... and the registry is ready" registry_ok
check "... no reopen failed" bash -c "! grep -q 'registry not reopened' '$D_LOG'"
sleep 2

# ---- 2. a wrong password ---------------------------------------------------------------------
set_password "$WRONG"
check "a SIGHUP with a wrong password: the trust store is still reloaded" sighup_reload 10
check "... the log says the registry was not reopened" \
    grep -q 'registry not reopened, the open handle stays' "$D_LOG"
check "... without the password" bash -c "! grep -q '$WRONG' '$D_LOG' '$D_DIR/stderr.log'"
check "... the open handle stays: the registry is ready" registry_ok
curl -s --max-time 5 "$D_ADMIN_URL/metrics" >"$TMP/metrics-kept"
assert_eq "... and cap_verifier_registry_open stays 1 (no RegistryNotOpen)" \
    "$(metric "$TMP/metrics-kept" cap_verifier_registry_open)" 1
assert_le "... and its sessions go on" 1 "$(sessions "backend_start >= '$since'")"
set_password "$PW2"

wait "$LOAD"
assert_eq "the load ran" "$?" 0

# ---- a database that does not answer: /metrics does not wait for it ----------------------------
# the daemon's server processes stopped (its connections stay open, nothing answers): a scrape
# that asked the database would wait until they go on (docs/runbook.md "Registry: inspect")
# a scrape after the daemon's writes asks for a count and waits for it
curl -s --max-time 5 "$D_ADMIN_URL/metrics" >"$TMP/metrics-before"
counted=$(metric "$TMP/metrics-before" cap_verifier_registry_entries)
assert_le "the entries are counted" 100 "${counted:-0}"
mapfile -t backends < <(psql_at "SELECT pid FROM pg_stat_activity WHERE usename = '$ROLE'")
assert_le "the daemon holds sessions to stop" 1 "${#backends[@]}"
kill -STOP "${backends[@]}"
sleep 16 # past the entry count's next look, which now waits
start=$(date +%s%N)
curl -s --max-time 5 "$D_ADMIN_URL/metrics" >"$TMP/metrics-stopped"
took=$((($(date +%s%N) - start) / 1000000))
kill -CONT "${backends[@]}"
echo "# /metrics with the database's processes stopped: ${took} ms"
assert_le "/metrics answers within 2 s while the database does not" "$took" 2000
entries=$(metric "$TMP/metrics-stopped" cap_verifier_registry_entries)
assert_eq "... with the last entry count" "$entries" "$counted"

# ---- 3. the records --------------------------------------------------------------------------
curl -s --max-time 5 "$D_ADMIN_URL/metrics" >"$TMP/metrics"
assert_eq "no record dropped" "$(metric "$TMP/metrics" cap_verifier_registry_records_dropped_total)" 0
kill -TERM "$D_PID"
daemon_wait_exit "$D_PID" 40
assert_eq "the daemon exits 0 after SIGTERM" "$RC" 0

psql_at "SELECT id, manifest_hash, proof_hash, coalesce(timestamp_file, '')
         FROM $ROLE.entries" >"$TMP/entries.txt"
psql_at "SELECT request_id FROM $ROLE.verifications" >"$TMP/verifications.txt"
python3 - "$TMP" >"$TMP/check.out" <<'EOF'
import json, sys
tmp = sys.argv[1]
stored = {}
for line in open(tmp + "/entries.txt"):
    i, mh, ph, ts = line.rstrip("\n").split("|")
    stored[(mh, ph)] = (i, ts)
recorded = set(l.strip() for l in open(tmp + "/verifications.txt"))
load = json.load(open(tmp + "/load.json"))
acked = missing = wrong = 0
for e in load["entries"]:
    if e["status"] in (200, 201):
        acked += 1
        s = stored.get((e["mh"], e["ph"]))
        if s is None:
            missing += 1
        elif s != (e["id"], e["ts"]):
            wrong += 1
verified = len(load["verifications"])
missing += sum(1 for v in load["verifications"] if v["request_id"] not in recorded)
# no exception, and no answer but 200 to /verify and 200, 201 or 409 to an entry
failed = sum(load["failures"].values()) + sum(
    v for k, v in load["statuses"].items()
    if k not in ("verify 200", "entries 200", "entries 201", "entries 409"))
print(acked, verified, missing, wrong, failed)
EOF
read -r acked verified missing wrong failed <"$TMP/check.out"
echo "# acknowledged entries $acked, verifications answered $verified, missing $missing," \
    "wrong $wrong, failed requests $failed; answers $(jq -c .statuses "$TMP/load.json")"
assert_le "entries were acknowledged" 100 "$acked"
assert_le "verifications were answered" 100 "$verified"
assert_eq "every acknowledged entry and every verification is stored" "$missing" 0
assert_eq "every acknowledged entry is stored as acknowledged" "$wrong" 0
assert_eq "no request failed or answered otherwise across the reloads" "$failed" 0
t_done
