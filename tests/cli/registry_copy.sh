#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capverify registry copy between storages and registry restore into PostgreSQL
# (docs/registry.md "Copy between storages", "Restore"), as an operator uses them: a round
# trip SQLite -> PostgreSQL -> SQLite keeps every row (the JSON exports of both files are
# identical, and so are their verifications, reports and policies), Ctrl-C removes a new
# target file, a target that is not empty (a SQLite one holding only report bodies too) is
# refused, --password-file, a restore replaces the contents of a PostgreSQL registry and later
# writes work, a tampered backup is refused.
# Run through tests/pg/with_pg.sh.
#   registry_copy.sh CAPVERIFY REG_TOOL
set -uo pipefail
cli=$1 tool=$2
if [ -z "${CAPV_TEST_PG_URL:-}" ]; then
    source "$(dirname "$0")/../tools/missing.sh"
    capv_missing "registry_copy: a PostgreSQL server, CAPV_TEST_PG_URL (run through tests/pg/with_pg.sh)" >&2
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/capv-regcopy.XXXXXX")
trap 'rm -rf "$dir"' EXIT
source "$(dirname "$0")/lib_expect.sh"
# A fresh schema of the test database, as a registry URL.
schema() {
    psql -X -q -v ON_ERROR_STOP=1 "$CAPV_TEST_PG_URL" -c "CREATE SCHEMA $1" >/dev/null ||
        fail "CREATE SCHEMA $1"
    echo "$CAPV_TEST_PG_URL?options=-csearch_path%3D$1"
}
rows() { sqlite3 "$1" "$2" || fail "sqlite3 $1: $2"; }
same_rows() {
    local t
    for t in "SELECT * FROM verifications ORDER BY seq" "SELECT id, hex(sha3), bytes, summary, \
json FROM reports ORDER BY id" "SELECT seq, policy_id, policy_version, policy_hash, \
hex(policy_key), ir_hash, ir, created_at FROM policies ORDER BY seq" "SELECT seq, id FROM \
entries ORDER BY seq"; do
        [ "$(rows "$1" "$t")" = "$(rows "$2" "$t")" ] || fail "$1 and $2 differ: $t"
    done
}

# ---- a SQLite registry with signed entries, verifications, reports, a policy ---------------
a=$dir/a.sqlite
"$tool" fill "$a" 200 >/dev/null || fail "fill"
rows "$a" "INSERT INTO reports (sha3, bytes, summary, json) VALUES (randomblob(32), 7, 0,
             '{\"a\":\"\\\\ \\\" }\"}');
           INSERT INTO verifications (request_id, subject, manifest_hash, result, verified_at,
             verified_ms, report_id, entry_seq) SELECT 'v-' || seq, 'alice', manifest_hash, 'ok',
             '2026-01-01T00:00:00Z', 1767225600000, (SELECT max(id) FROM reports), seq FROM entries
             WHERE seq % 3 = 0;
           INSERT INTO policies (policy_id, policy_version, policy_hash, policy_key, ir_hash, ir,
             created_at) VALUES ('p', '1.0', '0x' || lower(hex(randomblob(32))), randomblob(32),
             '0x00', '{\"rules\":[]}', '2026-01-01T00:00:00Z');"
# gaps in the numbering must survive the copies
rows "$a" "DELETE FROM verifications WHERE seq = 2"

# ---- usage ---------------------------------------------------------------------------------
expect 0 "$cli" registry --help
[[ "$out" == *"copy --from A --to B"* ]] || fail "help text"
expect 3 "$cli" registry copy --from "$a"
expect 3 "$cli" registry copy --from "$a" --to "$dir/x.sqlite" --bogus
expect 5 "$cli" registry copy --from "$dir/none.sqlite" --to "$dir/x.sqlite"
[ ! -e "$dir/x.sqlite" ] || fail "a failed copy left its target"

# ---- Ctrl-C or SIGTERM during a copy: a new target file is removed, an existing one kept ----
big=$dir/big.sqlite
"$tool" fill "$big" 20 >/dev/null || fail "fill $big"
rows "$big" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
             INSERT INTO verifications (request_id, subject, result, verified_at, verified_ms)
             SELECT 'big-' || i, 'alice', 'ok', '2026-01-01T00:00:00Z', 1767225600000 FROM n"
# interrupt SIG TARGET: copies $big into TARGET and sends SIG once the copy is under way (its
# transaction has spilled a megabyte into TARGET's WAL); sets rc and err
interrupt() {
    "$(dirname "$0")/../tools/sigint_default.py" "$cli" registry copy --from "$big" --to "$2" \
        2>"$dir/copy.err" &
    local pid=$! i
    for i in $(seq 1000); do
        [ "$(stat -c %s "$2-wal" 2>/dev/null || echo 0)" -gt 1048576 ] && break
        sleep 0.01
    done
    kill -"$1" "$pid"
    wait "$pid"
    rc=$?
    err=$(cat "$dir/copy.err")
}
for sig in INT TERM; do
    interrupt "$sig" "$dir/new-$sig.sqlite"
    [ "$rc" = $((128 + $(kill -l "$sig"))) ] || fail "copy ended by SIG$sig: exit $rc, $err"
    [[ "$err" == *"interrupted: $dir/new-$sig.sqlite removed"* ]] || fail "SIG$sig: $err"
    for f in "$dir/new-$sig.sqlite"*; do
        [ ! -e "$f" ] || fail "SIG$sig left $f"
    done
done
expect 0 "$cli" registry init --db "$dir/empty.sqlite"
interrupt TERM "$dir/empty.sqlite"
[ "$rc" = 143 ] || fail "copy into an existing registry ended by SIGTERM: exit $rc, $err"
expect 0 "$cli" registry check --db "$dir/empty.sqlite"
[ "$(rows "$dir/empty.sqlite" "SELECT count(*) FROM verifications")" = 0 ] ||
    fail "the interrupted copy left rows in the existing target"

# ---- SQLite -> PostgreSQL -> SQLite --------------------------------------------------------
pg1=$(schema copy1)
expect 0 "$cli" registry copy --from "$a" --to "$pg1" --json
[ "$(jq -r .entries <<<"$out")" = 200 ] || fail "copy to PostgreSQL: $out"
[ "$(jq -r .signatures_verified <<<"$out")" = 200 ] || fail "signatures: $out"
[ "$(jq -r .reports <<<"$out")" = 1 ] || fail "reports: $out"
[ "$(jq -r .policies <<<"$out")" = 1 ] || fail "policies: $out"
[[ "$(jq -r .to <<<"$out")" == postgresql://* ]] || fail "target location: $out"
b=$dir/b.sqlite
expect 0 "$cli" registry copy --from "$pg1" --to "$b"
[[ "$out" == *"200 entries, 65 verifications, 1 reports, 1 policies"* ]] || fail "copy back: $out"
[[ "$out" == *"200 entry signatures verified"* ]] || fail "copy back: $out"
expect 0 "$cli" registry export --db "$a" --output "$dir/a.json"
expect 0 "$cli" registry export --db "$b" --output "$dir/b.json"
cmp -s "$dir/a.json" "$dir/b.json" || fail "the exports of $a and $b differ"
same_rows "$a" "$b"

# ---- targets that are not empty: refused, nothing written -----------------------------------
expect 5 "$cli" registry copy --from "$a" --to "$pg1"
[[ "$err" == *"not empty"* ]] || fail "non-empty PostgreSQL target: $err"
expect 5 "$cli" registry copy --from "$a" --to "$b"
[[ "$err" == *"not empty"* ]] || fail "non-empty SQLite target: $err"
# report bodies alone make a SQLite target not empty too (until 2026-12-07: a mismatch, exit 2)
r_only=$dir/reports-only.sqlite
expect 0 "$cli" registry init --db "$r_only"
rows "$r_only" "INSERT INTO reports (sha3, bytes, summary, json) VALUES (randomblob(32), 2, 0, '{}')"
expect 5 "$cli" registry copy --from "$a" --to "$r_only"
[[ "$err" == *"not empty"* ]] || fail "SQLite target with report bodies only: $err"
[ "$(rows "$r_only" 'SELECT count(*) FROM entries'):$(rows "$r_only" 'SELECT count(*) FROM reports')" = 0:1 ] ||
    fail "the target with report bodies only was written"
expect 5 "$cli" registry copy --from "$a" --to "$a"

# ---- a source entry whose signature does not verify: refused before the commit --------------
bad=$dir/bad.sqlite
cp "$a" "$bad"
rows "$bad" "UPDATE entries SET registered_at = '2000-01-01T00:00:00Z' WHERE seq = 7"
pgbad=$(schema copybad)
expect 0 "$cli" registry init --db "$pgbad"
expect 2 "$cli" registry copy --from "$bad" --to "$pgbad"
[[ "$err" == *"does not verify"*"nothing was written"* ]] || fail "bad signature to PostgreSQL: $err"
expect 0 "$cli" registry list --db "$pgbad" --json
[ "$(jq '.entries | length' <<<"$out")" = 0 ] || fail "the refused copy left rows: $out"
expect 2 "$cli" registry copy --from "$bad" --to "$dir/bad-copy.sqlite"
[ ! -e "$dir/bad-copy.sqlite" ] || fail "the refused copy left its new target"

# ---- --password-file ------------------------------------------------------------------------
if [ -n "${PGPASSWORD:-}" ]; then
    printf '%s\n' "$PGPASSWORD" >"$dir/pw"
    printf 'wrong-secret\n' >"$dir/badpw"
    pg2=$(schema copy2)
    expect 5 env -u PGPASSWORD "$cli" registry copy --password-file "$dir/badpw" --from "$b" \
        --to "$pg2"
    [[ "$err" != *wrong-secret* ]] || fail "the password in a message: $err"
    expect 0 env -u PGPASSWORD "$cli" registry copy --password-file "$dir/pw" --from "$b" \
        --to "$pg2"
fi

# ---- init and migrate name a PostgreSQL registry without its password -------------------------
withpw=$(schema initpw)
withpw=${withpw/@/:$PGPASSWORD@}
expect 0 env -u PGPASSWORD "$cli" registry init --db "$withpw" --json
[[ "$out" != *"$PGPASSWORD"* ]] || fail "init printed the password: $out"
[ "$(jq -r .created <<<"$out")" = true ] || fail "init of an empty schema, created: $out"
expect 0 env -u PGPASSWORD "$cli" registry init --db "$withpw"
[[ "$out" == *"already at schema version"* && "$out" != *"$PGPASSWORD"* ]] ||
    fail "init again: $out"
expect 0 env -u PGPASSWORD "$cli" registry init --db "$withpw" --json
[ "$(jq -r .created <<<"$out")" = false ] || fail "init again, created: $out"
expect 0 env -u PGPASSWORD "$cli" registry migrate --db "$withpw"
[[ "$out" != *"$PGPASSWORD"* ]] || fail "migrate printed the password: $out"
# what works on a file only is a usage error on PostgreSQL (exit 3), not an internal one
expect 3 "$cli" registry export --db "$withpw"
[[ "$err" == *"works on a SQLite registry file"* && "$err" != *"$PGPASSWORD"* ]] ||
    fail "export of a PostgreSQL registry: $err"
expect 3 "$cli" registry check --db "$withpw"

# ---- restore into PostgreSQL ------------------------------------------------------------------
expect 0 "$cli" registry backup --db "$a" --dir "$dir/bk" --json
backup=$(jq -r .path <<<"$out")
pg3=$(schema restore1)
expect 0 "$cli" registry init --db "$pg3"
M9=0x$(printf '9%.0s' {1..64})
P9=0x$(printf '8%.0s' {1..64})
expect 0 "$cli" registry add --db "$pg3" --manifest-hash "$M9" --proof-hash "$P9"
expect 3 "$cli" registry restore --db "$pg3" --from "$backup" --password-file "$dir/none"
# ... refused before an off-site backup is fetched (not after the download)
expect 3 env AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s "$cli" registry restore --db "$pg3" \
    --from s3://bucket/x.sqlite --s3-endpoint http://127.0.0.1:1 --password-file "$dir/none"
[[ "$err" == *"--password-file does not apply to a restore"* ]] || fail "restore from s3: $err"
expect 0 "$cli" registry restore --db "$pg3" --from "$backup" --json
[ "$(jq -r .previous <<<"$out")" = null ] || fail "restore: $out"
[ "$(jq -r .entries <<<"$out")" = 200 ] || fail "restore: $out"
[ "$(jq -r .verifications <<<"$out")" = 65 ] || fail "restore: $out"
expect 5 "$cli" registry show --db "$pg3" --manifest-hash "$M9" --proof-hash "$P9"
expect 0 "$cli" registry restore --db "$pg3" --from "$backup"
[[ "$out" == *"replaced"* && "$out" == *"take a backup"* ]] || fail "restore text: $out"
# later writes get numbers past the restored ones
expect 0 "$cli" registry add --db "$pg3" --manifest-hash "$M9" --proof-hash "$P9"
expect 0 "$cli" registry show --db "$pg3" --manifest-hash "$M9" --proof-hash "$P9"
[ "$(awk '$1 == "seq" { print $2 }' <<<"$out")" -gt 200 ] || fail "seq after restore: $out"
c=$dir/c.sqlite
expect 0 "$cli" registry copy --from "$pg3" --to "$c"
[ "$(rows "$c" 'SELECT count(*) FROM entries')" = 201 ] || fail "after restore"
rows "$c" "DELETE FROM entries WHERE manifest_hash = '$M9'"
same_rows "$a" "$c"
# a tampered backup: refused, the registry as it was
printf 'X' | dd of="$backup" bs=1 seek=300 conv=notrunc 2>/dev/null
expect 2 "$cli" registry restore --db "$pg3" --from "$backup"
[[ "$err" == *"was not changed"* ]] || fail "tampered: $err"
expect 0 "$cli" registry show --db "$pg3" --manifest-hash "$M9" --proof-hash "$P9"
# a backup with a trigger of someone else's and a sidecar made to fit it again: refused by
# name before anything reaches PostgreSQL (docs/registry.md "Restore")
expect 0 "$cli" registry backup --db "$a" --dir "$dir/bk2" --json
evil=$(jq -r .path <<<"$out")
rows "$evil" "CREATE TRIGGER wipe AFTER INSERT ON verifications BEGIN DELETE FROM entries; END"
python3 - "$evil" <<'PY'
import hashlib, json, sys
b = sys.argv[1]
s = b[: -len(".sqlite")] + ".json"
doc = json.load(open(s))
data = open(b, "rb").read()
doc["sha3_256"] = "0x" + hashlib.sha3_256(data).hexdigest()
doc["size_bytes"] = len(data)
open(s, "w").write(json.dumps(doc, indent=2) + "\n")
PY
expect 2 "$cli" registry restore --db "$pg3" --from "$evil"
[[ "$err" == *"unexpected trigger 'wipe'"* && "$err" == *"was not changed"* ]] ||
    fail "trigger: $err"
expect 0 "$cli" registry show --db "$pg3" --manifest-hash "$M9" --proof-hash "$P9"

echo "registry_copy: $n commands ok"
