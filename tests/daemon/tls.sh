#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS in process (docs/tls.md) with a throwaway CA made here: an HTTPS round trip (it proves
# the compat libssl: without it Debian's CivetWeb 1.15 crashes on the first HTTPS request),
# mTLS with a client CA, and certificate rotation without a restart or a dropped connection,
# on SIGHUP and on a file change alone.
#   tls.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
T_DOCUMENT_ALL=1 # every answer is checked against docs/api/openapi.json at t_done (lib.sh)
command -v openssl >/dev/null || { fail "openssl is installed"; t_done; }

# ---- a CA, three server certificates (one key), client certificates -----------------------
P=$TMP/pki
mkdir -p "$P"
ossl() { openssl "$@" 2>>"$P/openssl.log" >/dev/null; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() { # ca NAME CN
    newkey "$P/$1.key"
    ossl req -x509 -new -key "$P/$1.key" -out "$P/$1.pem" -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
}
cert() { # cert NAME KEY CA SERIAL CN EXT
    ossl req -new -key "$P/$2.key" -out "$P/$1.csr" -subj "/CN=$5"
    printf '%s\n' "$6" >"$P/$1.ext"
    ossl x509 -req -in "$P/$1.csr" -CA "$P/$3.pem" -CAkey "$P/$3.key" -set_serial "$4" \
        -days 2 -extfile "$P/$1.ext" -out "$P/$1.pem"
}
SERVER_EXT=$'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
CLIENT_EXT='extendedKeyUsage=clientAuth'
ca ca "CAP Test CA"
ca otherca "Some Other CA"
newkey "$P/server.key"
cert server1 server ca 1001 capverifyd-one "$SERVER_EXT"
cert server2 server ca 1002 capverifyd-two "$SERVER_EXT"
cert server3 server ca 1003 capverifyd-three "$SERVER_EXT"
newkey "$P/client.key"
cert client client ca 2001 test-client "$CLIENT_EXT"
cert badclient client otherca 2002 test-client "$CLIENT_EXT"
for f in ca.pem server1.pem server2.pem server3.pem client.pem badclient.pem; do
    [ -s "$P/$f" ] || { fail "make $f with openssl" "$(tail -n 5 "$P/openssl.log")"; t_done; }
done

# served_cert PORT: "serial subject" of the certificate a new handshake gets
served_cert() {
    openssl s_client -connect "127.0.0.1:$1" -servername localhost -CAfile "$P/ca.pem" \
        </dev/null 2>/dev/null | openssl x509 -noout -serial -subject -nameopt RFC2253 2>/dev/null |
        sed 's/^serial=//; s/^subject=//' | tr '\n' ' ' | sed 's/ $//'
}

# ---- HTTPS, certificate rotation -----------------------------------------------------------
mkdir -p "$TMP/https/tls"
cp "$P/server1.pem" "$TMP/https/tls/cert.pem"
cp "$P/server.key" "$TMP/https/tls/key.pem"
D_SCHEME=https daemon_start https "${SAMPLE_ARGS[@]}" \
    --set "tls.cert_file=$TMP/https/tls/cert.pem" --set "tls.key_file=$TMP/https/tls/key.pem" \
    --set server.keep_alive_ms=60000 || t_done
PID1=$D_PID
req GET "$D_URL/healthz" --cacert "$P/ca.pem"
assert_eq "HTTPS GET /healthz with --cacert: 200" "$STATUS" 200
req GET "$D_URL/healthz" --cacert "$P/ca.pem"
assert_eq "a second HTTPS request: 200 (the daemon survived the first)" "$STATUS" 200
check "the daemon is alive after HTTPS requests" kill -0 "$PID1"
req POST "$D_URL/verify" --cacert "$P/ca.pem" -H 'Content-Type: application/zip' \
    --data-binary "@$SAMPLE/sample.zip"
assert_eq "HTTPS POST /verify sample: 200 ok" "$STATUS $(body_json .result)" "200 ok"
req GET "http://127.0.0.1:$D_API/healthz"
assert_ne "plain HTTP on the TLS port gets no 200" "$STATUS" 200
req GET "$D_URL/healthz"
assert_ne "an unknown CA is refused by the client (the certificate is really checked)" "$STATUS" 200
req GET "$D_ADMIN_URL/healthz"
assert_eq "the admin port stays plain HTTP" "$STATUS" 200
assert_eq "the first certificate is served" "$(served_cert "$D_API")" "03E9 CN=capverifyd-one"
check "TLS 1.1 is refused" bash -c "! openssl s_client -connect 127.0.0.1:$D_API -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >/dev/null 2>&1"

# A keep-alive connection opened before the swap is used again after it.
python3 - "$D_API" "$P/ca.pem" "$TMP/ka.ready" "$TMP/ka.go" >"$TMP/ka.out" 2>&1 <<'PY' &
import socket, ssl, sys, os, time
port, ca, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                    server_hostname="127.0.0.1")
buf = b""
def get():
    global buf
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return "closed"
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, v = line.split(b":", 1)
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(buf) < length:
        buf += s.recv(65536)
    buf = buf[length:]
    return head.split(b" ")[1].decode()
first = get()
serial = s.getpeercert()["serialNumber"]
open(ready, "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
try:
    second = get()
except OSError as e:
    second = "error:" + type(e).__name__
print(first, second, serial)
PY
KA=$!
t_track "$KA"
for i in $(seq 100); do [ -e "$TMP/ka.ready" ] && break; sleep 0.1; done
check "the keep-alive client made its first request" test -e "$TMP/ka.ready"

# Rotation by SIGHUP: a new certificate (other serial and subject) replaces the file.
cp "$P/server2.pem" "$TMP/https/tls/cert.new" && mv "$TMP/https/tls/cert.new" "$TMP/https/tls/cert.pem"
kill -HUP "$PID1"
for i in $(seq 50); do
    [ "$(served_cert "$D_API")" = "03EA CN=capverifyd-two" ] && break
    sleep 0.1
done
assert_eq "after SIGHUP the new certificate is served" "$(served_cert "$D_API")" "03EA CN=capverifyd-two"
expiry() { # expiry PEM: its notAfter in Unix seconds
    date -d "$(openssl x509 -noout -enddate -in "$1" | sed 's/^notAfter=//')" +%s
}
curl -s -o "$TMP/tls-metrics" "$D_ADMIN_URL/metrics"
assert_eq "cap_verifier_tls_cert_expiry_timestamp_seconds follows the served certificate" \
    "$(metric "$TMP/tls-metrics" cap_verifier_tls_cert_expiry_timestamp_seconds)" \
    "$(expiry "$P/server2.pem")"
check "SIGHUP logged a TLS reload" jq -e -s 'any(.[]; .event == "tls_reload" and .level == "INFO")' "$D_LOG"
check "same process (no restart)" kill -0 "$PID1"
touch "$TMP/ka.go"
daemon_wait_exit "$KA" 30
assert_eq "the keep-alive connection from before the swap still works" "$(cat "$TMP/ka.out")" \
    "200 200 03E9"

# Rotation by file change alone: the main loop notices within a few seconds.
cp "$P/server3.pem" "$TMP/https/tls/cert.new" && mv "$TMP/https/tls/cert.new" "$TMP/https/tls/cert.pem"
for i in $(seq 60); do
    [ "$(served_cert "$D_API")" = "03EB CN=capverifyd-three" ] && break
    sleep 0.1
done
assert_eq "a changed certificate file is picked up without SIGHUP" "$(served_cert "$D_API")" \
    "03EB CN=capverifyd-three"
check "the file change was logged" \
    jq -e -s 'any(.[]; .event == "tls_reload" and (.message | test("changed")))' "$D_LOG"

# A broken file (a rotation half-way) keeps the old certificate serving: the change is
# reported (ERROR), and so is a SIGHUP that finds it.
echo "not a certificate" >"$TMP/https/tls/cert.pem"
for i in $(seq 50); do
    jq -e -s 'any(.[]; .event == "tls_reload" and .level == "ERROR")' "$D_LOG" >/dev/null 2>&1 && break
    sleep 0.1
done
check "a broken certificate file is reported when the change is seen" \
    jq -e -s 'any(.[]; .event == "tls_reload" and .level == "ERROR" and (.message | test("changed")))' "$D_LOG"
kill -HUP "$PID1"
for i in $(seq 50); do
    [ "$(jq -s '[.[] | select(.event == "tls_reload" and .level == "ERROR")] | length' "$D_LOG")" -ge 2 ] && break
    sleep 0.1
done
check "… and when a SIGHUP finds it" \
    jq -e -s '[.[] | select(.event == "tls_reload" and .level == "ERROR")] | length >= 2' "$D_LOG"
assert_eq "and the last good certificate stays" "$(served_cert "$D_API")" "03EB CN=capverifyd-three"
req GET "$D_URL/healthz" --cacert "$P/ca.pem"
assert_eq "HTTPS still answers" "$STATUS" 200
assert_eq "still the same process" "$D_PID" "$PID1"
daemon_stop "capverifyd (HTTPS)"

# ---- mTLS ----------------------------------------------------------------------------------
D_SCHEME=https daemon_start mtls "${SAMPLE_ARGS[@]}" \
    --set "tls.cert_file=$P/server1.pem" --set "tls.key_file=$P/server.key" \
    --set "tls.client_ca_file=$P/ca.pem" || t_done
req GET "$D_URL/healthz" --cacert "$P/ca.pem"
assert_eq "mTLS: no client certificate → the handshake fails" "$STATUS" 000
req GET "$D_URL/healthz" --cacert "$P/ca.pem" --cert "$P/badclient.pem" --key "$P/client.key"
assert_eq "mTLS: a client certificate from another CA → the handshake fails" "$STATUS" 000
req GET "$D_URL/healthz" --cacert "$P/ca.pem" --cert "$P/client.pem" --key "$P/client.key"
assert_eq "mTLS: a client certificate of the CA → 200" "$STATUS" 200
req POST "$D_URL/verify" --cacert "$P/ca.pem" --cert "$P/client.pem" --key "$P/client.key" \
    -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "mTLS: POST /verify sample → 200 ok" "$STATUS $(body_json .result)" "200 ok"
# a client that resumes its session (as a proxy reusing its sessions does) is served (s_client
# writes the answer among its own lines)
resume() { # resume IN|OUT: one GET /healthz over a new connection, saving or reusing the session
    printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$D_API" -servername localhost \
            -CAfile "$P/ca.pem" -cert "$P/client.pem" -key "$P/client.key" -ign_eof \
            "-sess_$(echo "$1" | tr 'A-Z' 'a-z')" "$TMP/mtls.session" 2>&1
}
resume OUT >"$TMP/mtls.first"
resume IN >"$TMP/mtls.second"
assert_match "mTLS: a first connection is served" "$(grep -o -m1 'HTTP/1.1 [0-9]*' "$TMP/mtls.first")" ' 200'
assert_match "mTLS: a resumed session is resumed" "$(grep -m1 -E '^(New|Reused),' "$TMP/mtls.second")" '^Reused'
assert_match "mTLS: … and served" "$(grep -o -m1 'HTTP/1.1 [0-9]*' "$TMP/mtls.second")" ' 200'
req GET "$D_ADMIN_URL/readyz"
assert_eq "mTLS: the admin port needs no client certificate" "$STATUS" 200
check "mTLS: the daemon is alive after refused handshakes" kill -0 "$D_PID"
daemon_stop "capverifyd (mTLS)"

# ---- configuration errors ------------------------------------------------------------------
"$DAEMON" --config-dir "$TMP/https/conf" --set "tls.cert_file=$P/server1.pem" --check-config \
    >"$TMP/cc.out" 2>&1
assert_eq "tls.cert_file without tls.key_file: exit 3" "$?" 3
check "… and the message says so" grep -q 'key_file' "$TMP/cc.out"
"$DAEMON" --config-dir "$TMP/https/conf" --set "tls.cert_file=$P/server1.pem" \
    --set "tls.key_file=$P/client.key" --check-config >"$TMP/cc.out" 2>&1
assert_eq "a key that does not belong to the certificate: exit 3" "$?" 3
check "… and the message says so" grep -q 'does not belong' "$TMP/cc.out"
t_done
