#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A PostgreSQL registry over TLS with sslmode=verify-full (docs/registry.md "PostgreSQL
# backend"): a throw-away cluster (tests/pg/with_pg.sh) serves a certificate for 127.0.0.1
# issued by a test CA made here; the CLI opens the registry by URL
#   - with sslrootcert = that CA: it works (init, add, list);
#   - with another CA: refused, "certificate verify failed", nothing stored;
#   - by a name the certificate does not carry (localhost): refused, the name mismatch said;
#   - without any sslrootcert under verify-full: refused (no root certificate to check with).
#   tls.sh CAPVERIFY
set -euo pipefail
cli=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v pg_virtualenv >/dev/null; then
    source "$here/../tools/missing.sh"
    capv_missing "PostgreSQL: pg_virtualenv (Debian postgresql)"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/capv-pg-tls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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

set -o pipefail
"$here/with_pg.sh" bash -c '
    set -uo pipefail
    cli=$1 dir=$2
    pass=0 fail=0
    # TLS on at run time (pg_createcluster decides ssl itself): ALTER SYSTEM and a reload
    psql -XAq -c "ALTER SYSTEM SET ssl_cert_file = '"'"'$dir/server.crt'"'"'" \
        -c "ALTER SYSTEM SET ssl_key_file = '"'"'$dir/server.key'"'"'" \
        -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
    for i in $(seq 50); do
        [ "$(psql -XAtc "SHOW ssl")" = on ] && break
        sleep 0.1
    done
    ok() { echo "ok   - $1"; pass=$((pass + 1)); }
    bad() { echo "FAIL - $1: $2"; fail=$((fail + 1)); }
    base=${CAPV_TEST_PG_URL}
    good="$base?sslmode=verify-full&sslrootcert=$dir/ca.pem"
    # the same database by a name the certificate does not name
    byname="${base/127.0.0.1/localhost}?sslmode=verify-full&sslrootcert=$dir/ca.pem"
    if out=$("$cli" registry init --db "$good" 2>&1); then
        ok "verify-full with the issuing CA: registry init works"
    else
        bad "verify-full with the issuing CA: registry init works" "$out"
    fi
    mh=0x$(printf a%.0s $(seq 64)) ph=0x$(printf b%.0s $(seq 64))
    if out=$("$cli" registry add --db "$good" --manifest-hash "$mh" --proof-hash "$ph" 2>&1) &&
        grep -q "$mh" <<<"$("$cli" registry list --db "$good" 2>&1)"; then
        ok "verify-full: an entry is added and listed"
    else
        bad "verify-full: an entry is added and listed" "$out"
    fi
    out=$("$cli" registry list --db "$base?sslmode=verify-full&sslrootcert=$dir/other.pem" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && grep -qi "certificate verify failed" <<<"$out"; then
        ok "another CA is refused (certificate verify failed)"
    else
        bad "another CA is refused (certificate verify failed)" "exit $rc: $out"
    fi
    out=$("$cli" registry list --db "$byname" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && grep -qi "does not match host name" <<<"$out"; then
        ok "a name the certificate does not carry is refused"
    else
        bad "a name the certificate does not carry is refused" "exit $rc: $out"
    fi
    out=$(cd "$dir" && HOME=$dir "$cli" registry list --db "$base?sslmode=verify-full" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && grep -qi "root certificate" <<<"$out"; then
        ok "verify-full without a root certificate is refused"
    else
        bad "verify-full without a root certificate is refused" "exit $rc: $out"
    fi
    if ! grep -q "PGPASSWORD\|$PGPASSWORD" <<<"$out$("$cli" registry list --db "$base?sslmode=verify-full&sslrootcert=$dir/other.pem" 2>&1)"; then
        ok "no password in the messages"
    else
        bad "no password in the messages" "$out"
    fi
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]' tls "$cli" "$tmp" 2>&1 |
    grep -v -e " LOG: " -e "^Creating new PostgreSQL" -e "^Dropping cluster"
