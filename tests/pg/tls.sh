#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A PostgreSQL registry over TLS with sslmode=verify-full (docs/registry.md "PostgreSQL
# backend"): a throw-away cluster (tests/pg/with_pg.sh) serves a certificate for 127.0.0.1
# issued by a test CA made here, and a role of the test's own logs in with a password; the CLI
# opens the registry by URL
#   - with sslrootcert = that CA and the password in the URL: it works (init, add, list);
#   - with another CA: refused, "certificate verify failed", nothing stored;
#   - by a name the certificate does not carry (localhost): refused, the name mismatch said;
#   - without any sslrootcert under verify-full: refused (no root certificate to check with);
#   - with the password from --password-file: it works; a wrong password (URL or file) is
#     refused;
# and two daemons open it, the password in registry.url and in registry.password_file, and
# go on while the server is stopped. No output of the CLI, no answer and no log line of the
# daemons holds the password (docs/registry.md: messages name the database by its location).
#   tls.sh CAPVERIFY CAPVERIFYD
set -euo pipefail
cli=$(readlink -f "$1")
daemon=$(readlink -f "$2")
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v pg_virtualenv >/dev/null; then
    source "$here/../tools/missing.sh"
    capv_missing "PostgreSQL: pg_virtualenv (Debian postgresql)"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/capv-pg-tls.XXXXXX")
cleanup() { # the daemons the test started ($tmp/pids), each by its pid
    local p
    for p in $(cat "$tmp/pids" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
cd "$tmp"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj /CN=capv-test-ca 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout other.key -out other.pem -days 2 -subj /CN=other-ca 2>/dev/null
openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile san.ext 2>/dev/null
chmod 600 server.key
# as root, pg_virtualenv runs the server as postgres, which must own its key
[ "$(id -u)" = 0 ] && chown postgres server.key server.crt

# What runs next to the cluster (with_pg.sh's environment: PGPASSWORD is the superuser's).
cat >inner.sh <<'INNER'
set -uo pipefail
cli=$1 daemon=$2 dir=$3 here=$4
pass=0 fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1: $2"; fail=$((fail + 1)); }
# TLS on at run time (pg_createcluster decides ssl itself): ALTER SYSTEM and a reload
psql -XAq -c "ALTER SYSTEM SET ssl_cert_file = '$dir/server.crt'" \
    -c "ALTER SYSTEM SET ssl_key_file = '$dir/server.key'" \
    -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
    [ "$(psql -XAtc "SHOW ssl")" = on ] && break
    sleep 0.1
done
# the test's role, its password and its schema (the registry's tables)
role=capv_tls
pw="tls-pw-$RANDOM$RANDOM$RANDOM"
wrong="tls-wrong-$RANDOM$RANDOM$RANDOM"
psql -XAq -v ON_ERROR_STOP=1 -c "CREATE ROLE $role LOGIN PASSWORD '$pw'" \
    -c "CREATE SCHEMA $role AUTHORIZATION $role" >/dev/null || bad "a role and a schema" "psql"
hostport=127.0.0.1:$PGPORT
tail="$PGDATABASE?sslmode=verify-full&options=-csearch_path%3D$role"
base="postgresql://$role@$hostport/$tail"        # no password: a file gives it
with_pw="postgresql://$role:$pw@$hostport/$tail" # the password in the URL
good="$with_pw&sslrootcert=$dir/ca.pem"
# the same database by a name the certificate does not name
byname="postgresql://$role:$pw@localhost:$PGPORT/$tail&sslrootcert=$dir/ca.pem"
printf '%s\n' "$pw" >"$dir/pw"
printf '%s\n' "$wrong" >"$dir/wrong"
chmod 600 "$dir/pw" "$dir/wrong"
# only the URL's password or the file's: libpq would otherwise fall back on PGPASSWORD
unset PGPASSWORD
: >"$dir/all.out" # everything the CLI printed, on either stream
run() { # run CMD...: its output (both streams) in $out, its status in $rc, collected
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" >>"$dir/all.out"
}
if run "$cli" registry init --db "$good" && [ $rc -eq 0 ]; then
    ok "verify-full with the issuing CA, the password in the URL: registry init works"
else
    bad "verify-full with the issuing CA, the password in the URL: registry init works" "$out"
fi
mh=0x$(printf a%.0s $(seq 64)) ph=0x$(printf b%.0s $(seq 64))
run "$cli" registry add --db "$good" --manifest-hash "$mh" --proof-hash "$ph"
added=$rc
run "$cli" registry list --db "$good"
if [ $added -eq 0 ] && [ $rc -eq 0 ] && grep -q "$mh" <<<"$out"; then
    ok "verify-full: an entry is added and listed"
else
    bad "verify-full: an entry is added and listed" "$out"
fi
run "$cli" registry list --db "$with_pw&sslrootcert=$dir/other.pem"
if [ $rc -ne 0 ] && grep -qi "certificate verify failed" <<<"$out"; then
    ok "another CA is refused (certificate verify failed)"
else
    bad "another CA is refused (certificate verify failed)" "exit $rc: $out"
fi
run "$cli" registry list --db "$byname"
if [ $rc -ne 0 ] && grep -qi "does not match host name" <<<"$out"; then
    ok "a name the certificate does not carry is refused"
else
    bad "a name the certificate does not carry is refused" "exit $rc: $out"
fi
run bash -c 'cd "$1" && HOME=$1 exec "$2" registry list --db "$3"' _ "$dir" "$cli" "$with_pw"
if [ $rc -ne 0 ] && grep -qi "root certificate" <<<"$out"; then
    ok "verify-full without a root certificate is refused"
else
    bad "verify-full without a root certificate is refused" "exit $rc: $out"
fi
run "$cli" registry list --db "$base&sslrootcert=$dir/ca.pem" --password-file "$dir/pw"
if [ $rc -eq 0 ] && grep -q "$mh" <<<"$out"; then
    ok "the password from --password-file: the entry is listed"
else
    bad "the password from --password-file: the entry is listed" "exit $rc: $out"
fi
run "$cli" registry list --db "$base&sslrootcert=$dir/ca.pem" --password-file "$dir/wrong"
if [ $rc -ne 0 ] && grep -qi "password authentication failed" <<<"$out"; then
    ok "a wrong password from --password-file is refused"
else
    bad "a wrong password from --password-file is refused" "exit $rc: $out"
fi
run "$cli" registry list --db "${good/$pw/$wrong}"
if [ $rc -ne 0 ] && grep -qi "password authentication failed" <<<"$out"; then
    ok "a wrong password in the URL is refused"
else
    bad "a wrong password in the URL is refused" "exit $rc: $out"
fi
if grep -qF -e "$pw" -e "$wrong" "$dir/all.out"; then
    bad "no password in the CLI's output and messages" \
        "$(grep -F -e "$pw" -e "$wrong" "$dir/all.out")"
else
    ok "no password in the CLI's output and messages ($(wc -l <"$dir/all.out") lines)"
fi

# two daemons: the password in registry.url, and in registry.password_file
start_daemon() { # start_daemon NAME ARGS...: sets api, admin, log; the pid joins $dir/pids
    local name=$1 d=$dir/$1 try
    shift
    mkdir -p "$d/conf"
    for try in 1 2 3; do
        { read -r api && read -r admin; } < <(python3 "$here/../../scripts/free-port.py" 2)
        (cd "$d" && exec env -u CAPV_TEST_PG_URL -u CAPV_TEST_PG_CTL "$daemon" \
            --config-dir "$d/conf" --set "server.listen=127.0.0.1:$api" \
            --set "server.admin_listen=127.0.0.1:$admin" --set "backup.dir=$d/backups" \
            --set shutdown.grace_seconds=0 "$@" >"$d/stdout.log" 2>"$d/stderr.log") &
        echo $! >>"$dir/pids"
        log=$d/stdout.log
        for _ in $(seq 100); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
                "http://127.0.0.1:$admin/healthz")" = 200 ] && return 0
            kill -0 "$(tail -n 1 "$dir/pids")" 2>/dev/null || break
            sleep 0.1
        done
        grep -q 'cannot listen\|cannot bind' "$log" || return 1
    done
    return 1
}
declare -A API ADMIN
for n in in_url in_file; do
    if [ $n = in_url ]; then
        args=(--set "registry.url=$good")
    else
        args=(--set "registry.url=$base&sslrootcert=$dir/ca.pem"
            --set "registry.password_file=$dir/pw")
    fi
    if start_daemon $n "${args[@]}"; then
        ok "a daemon with the password $n starts"
        API[$n]=$api
        ADMIN[$n]=$admin
    else
        bad "a daemon with the password $n starts" \
            "$(tail -n 5 "$dir/$n/stdout.log" "$dir/$n/stderr.log")"
    fi
done
entry=$(printf '{"manifest_hash":"0x%s","proof_hash":"0x%s"}' "$(printf c%.0s $(seq 64))" \
    "$(printf d%.0s $(seq 64))")
# answers (bodies) while the database is up, then while it is not
answers() {
    local n
    for n in "${!API[@]}"; do
        curl -s --max-time 5 -X POST -H "Content-Type: application/json" -d "$entry" \
            "http://127.0.0.1:${API[$n]}/registry/entries"
        curl -s --max-time 5 "http://127.0.0.1:${ADMIN[$n]}/readyz"
        curl -s --max-time 5 "http://127.0.0.1:${ADMIN[$n]}/metrics"
    done >>"$dir/answers.out"
}
answers
if $CAPV_TEST_PG_CTL stop -m fast >/dev/null; then
    ok "PostgreSQL stopped under the daemons"
else
    bad "PostgreSQL stopped under the daemons" "$CAPV_TEST_PG_CTL stop failed"
fi
answers
sleep 3 # the daemons' writers probe the database and their backup leadership asks for it
answers
for p in $(cat "$dir/pids"); do
    kill -TERM "$p" 2>/dev/null
done
for p in $(cat "$dir/pids"); do
    for _ in $(seq 400); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$p" 2>/dev/null && bad "a daemon exits within 40 s of SIGTERM" "pid $p"
done
$CAPV_TEST_PG_CTL start >/dev/null || bad "PostgreSQL started again" "$CAPV_TEST_PG_CTL start"
for n in "${!API[@]}"; do
    logs=("$dir/$n/stdout.log" "$dir/$n/stderr.log")
    # the check below can fail: the daemons did log the database's failure, by its location
    if grep -q "database unreachable.*postgresql://$role@127.0.0.1" "${logs[@]}"; then
        ok "$n: the log names the unreachable database by its location"
    else
        bad "$n: the log names the unreachable database by its location" "$(tail -n 5 "${logs[@]}")"
    fi
    if grep -qF "$pw" "${logs[@]}"; then
        bad "$n: no password in the log" "$(grep -F "$pw" "${logs[@]}" | head -n 3)"
    else
        ok "$n: no password in the log"
    fi
done
if grep -q "database unreachable" "$dir/answers.out" && ! grep -qF "$pw" "$dir/answers.out"; then
    ok "the daemons' answers say the database is unreachable, without the password"
else
    bad "the daemons' answers say the database is unreachable, without the password" \
        "$(grep -F "$pw" "$dir/answers.out" | head -n 3)"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
INNER

set -o pipefail
"$here/with_pg.sh" bash "$tmp/inner.sh" "$cli" "$daemon" "$tmp" "$here" 2>&1 |
    grep -v -e " LOG: " -e "^Creating new PostgreSQL" -e "^Dropping cluster"
