#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configuration checks (docs/configuration.md): --print-config prints every key of the
# effective configuration (files, environment, --set) with secrets redacted and derived values
# as comments, and starts nothing; --check-config rejects what a start would fail on or
# silently misuse, naming the source of the value (FILE:LINE:COL, env CAPV_…, --set …), and a
# start runs the same checks; a key or section given twice is an error naming both places;
# the derived memory budget follows the cgroup limit (a fake cgroup tree); a registry the
# library refuses makes the start exit 5 with one line naming the file and the reason; a
# registry.url reaching a remote server without a certificate check is warned about.
#   config_checks.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
unset CAPVD_CGROUP_ROOT

# Runs the daemon in $TMP/work (relative default paths land there) with the configuration
# directory $CONF; sets RC, $TMP/out (stdout) and $TMP/err (stderr).
WORK=$TMP/work
mkdir -p "$WORK"
run_daemon() {
    (cd "$WORK" && exec "$DAEMON" "$@") >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

# yaml_keys FILE: "section.key" of every key of a YAML configuration, sorted.
yaml_keys() {
    python3 - "$1" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1])) or {}
for s, keys in sorted(doc.items()):
    for k in sorted(keys or {}):
        print("%s.%s" % (s, k))
PY
}

# yaml_get FILE SECTION KEY: one value as JSON.
yaml_get() {
    python3 - "$@" <<'PY'
import json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
print(json.dumps(doc[sys.argv[2]][sys.argv[3]]))
PY
}

# ---- --print-config -----------------------------------------------------------------------
CONF=$TMP/conf-print
mkdir -p "$CONF"
printf 'server:\n  threads: 7\n' >"$CONF/server.yaml"
{ read -r port && read -r admin; } < <(free_port 2)
SECRET_URL='https://alice:hunter2@idp.example/jwks.json?access_token=tok123&lang=en'
(cd "$WORK" && exec env CAPV_CACHE_SIZE=123 timeout 10 "$DAEMON" --config-dir "$CONF" \
    --print-config --set logging.level=debug --set "server.listen=127.0.0.1:$port" \
    --set "server.admin_listen=127.0.0.1:$admin" --set "auth.jwks_url=$SECRET_URL" \
    --set registry.path="$WORK/print/registry.sqlite") >"$TMP/print.yaml" 2>"$TMP/err" &
PRINT_PID=$!
t_track "$PRINT_PID"
listened=no
while kill -0 "$PRINT_PID" 2>/dev/null; do
    for p in "$port" "$admin"; do
        if python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()' "$p" 2>/dev/null; then
            listened=yes
        fi
    done
done
wait "$PRINT_PID"
RC=$?
assert_eq "--print-config exits 0 at once (timeout 10 s would be 124)" "$RC" 0
assert_eq "--print-config never opens the listeners" "$listened" no
check "--print-config creates no registry (starts nothing)" test ! -e "$WORK/print"
assert_eq "--print-config writes no log line and no error" \
    "$(grep -c '"event"' "$TMP/print.yaml") $(wc -c <"$TMP/err")" "0 0"
yaml_keys "$TMP/print.yaml" >"$TMP/printed.keys"
"$DAEMON" --print-config-reference | awk -F'|' '/^\| `/ { k = $2; gsub(/[ `]/, "", k); print k }' |
    sort >"$TMP/reference.keys"
if diff "$TMP/reference.keys" "$TMP/printed.keys" >"$TMP/diff.txt"; then
    pass "--print-config prints every key of the reference, as YAML"
else
    fail "--print-config prints every key of the reference, as YAML" "$(head -n 10 "$TMP/diff.txt")"
fi
assert_le "… and the reference has keys" 50 "$(wc -l <"$TMP/reference.keys")"
assert_eq "a value from a file (server.threads)" "$(yaml_get "$TMP/print.yaml" server threads)" 7
assert_eq "a value from the environment (cache.size)" "$(yaml_get "$TMP/print.yaml" cache size)" 123
assert_eq "a value from --set (logging.level)" "$(yaml_get "$TMP/print.yaml" logging level)" '"debug"'
assert_eq "a secret URL keeps all but its password and credential parameters" \
    "$(yaml_get "$TMP/print.yaml" auth jwks_url)" \
    '"https://alice:***@idp.example/jwks.json?access_token=***&lang=en"'
if grep -q 'hunter2\|tok123' "$TMP/print.yaml" "$TMP/err"; then
    fail "the password and token appear nowhere in the output"
else
    pass "the password and token appear nowhere in the output"
fi
# libpq reads a password up to its '@', a '?' included: none of it may show, nor a password
# parameter whose value holds an '@' (read so, it is user information)
run_daemon --config-dir "$CONF" --print-config \
    --set "registry.url=postgresql://capv:hun?ter2@db.example/registry?sslmode=verify-full"
assert_eq "a PostgreSQL URL whose password holds a '?' prints without it" \
    "$RC $(yaml_get "$TMP/out" registry url)" '0 "postgresql://***@db.example/registry?sslmode=verify-full"'
run_daemon --config-dir "$CONF" --print-config \
    --set "registry.url=postgresql://db.example?password=hun@ter2"
assert_eq "… nor a password parameter holding an '@'" "$RC" 0
check "… whose value appears nowhere" bash -c "! grep -q 'hun' '$TMP/out' '$TMP/err'"
run_daemon --config-dir "$CONF" --print-config --set auth.jwks_url=not-a-url-but-a-secret
assert_eq "a secret that is no URL prints as *** (exit 0)" \
    "$RC $(yaml_get "$TMP/out" auth jwks_url)" '0 "***"'
# with a password in the URL, an error about it must not echo the password either
run_daemon --config-dir "$CONF" --check-config --set auth.enabled=true \
    --set "auth.jwks_url=http://bob:s3cret@idp.example/jwks" --set auth.issuer=i \
    --set auth.audiences=a
assert_eq "an error citing a secret --set: exit 3" "$RC" 3
check "… names the flag with the password redacted" \
    grep -qF -- '--set auth.jwks_url=http://bob:***@idp.example/jwks: auth.jwks_url:' "$TMP/err"
check "… and never shows the password" bash -c "! grep -q s3cret '$TMP/err' '$TMP/out'"

# The printed configuration is a configuration: loaded back, it prints the same.
mkdir -p "$TMP/conf-roundtrip"
run_daemon --config-dir "$CONF" --print-config --set 'trust.dir=a "quoted" \dir' \
    --set server.cors_origins=https://a.example,https://b.example
cp "$TMP/out" "$TMP/conf-roundtrip/all.yaml"
cp "$TMP/out" "$TMP/first.yaml"
run_daemon --config-dir "$TMP/conf-roundtrip" --print-config
assert_eq "--print-config output loads back (exit 0)" "$RC" 0
check "… and prints the same configuration again" cmp -s "$TMP/first.yaml" "$TMP/out"
assert_eq "… quotes are escaped" "$(yaml_get "$TMP/out" trust dir)" '"a \"quoted\" \\dir"'

# a load error is still an error for --print-config
run_daemon --config-dir "$CONF" --print-config --set server.threads=lots
assert_eq "--print-config with an invalid value: exit 3" "$RC" 3

# ---- the derived memory budget (fake cgroup trees) -----------------------------------------
CG=$TMP/cgroup
# budget CASE: prints the memory_budget_bytes line of --print-config with CAPVD_CGROUP_ROOT=$CG/CASE
budget() {
    (cd "$WORK" && CAPVD_CGROUP_ROOT=$CG/$1 "$DAEMON" --config-dir "$CONF" --print-config "${@:2}") |
        grep '^  memory_budget_bytes:'
}
mkdir -p "$CG/v2" "$CG/v2max" "$CG/v1/memory" "$CG/v1max/memory" "$CG/none"
echo 1073741824 >"$CG/v2/memory.max"
echo max >"$CG/v2max/memory.max"
echo 536870912 >"$CG/v1/memory/memory.limit_in_bytes"
echo 9223372036854771712 >"$CG/v1max/memory/memory.limit_in_bytes"
assert_match "cgroup v2 memory.max 1 GiB: 60% = 644245094" "$(budget v2)" \
    "^  memory_budget_bytes: 0  # derived: 644245094 \(60% of 1073741824 in $CG/v2/memory.max\)$"
assert_match "cgroup v2 memory.max \"max\": 256 MiB" "$(budget v2max)" \
    '^  memory_budget_bytes: 0  # derived: 268435456 \(256 MiB: the cgroup sets no memory limit'
assert_match "cgroup v1 limit 512 MiB: 60% = 322122547" "$(budget v1)" \
    "# derived: 322122547 \(60% of 536870912 in $CG/v1/memory/memory.limit_in_bytes\)$"
assert_match "cgroup v1 unlimited: 256 MiB" "$(budget v1max)" '# derived: 268435456 \(256 MiB'
assert_match "no cgroup files: 256 MiB" "$(budget none)" \
    '# derived: 268435456 \(256 MiB: no cgroup memory limit found'
assert_eq "an explicit budget has no derived comment" \
    "$(budget v2 --set server.memory_budget_bytes=33554432)" "  memory_budget_bytes: 33554432"
assert_match "rate_limit_burst 0 shows the rate it stands for" \
    "$( (cd "$WORK" && "$DAEMON" --print-config --config-dir "$CONF" \
        --set server.rate_limit_per_second=50) | grep '^  rate_limit_burst:')" \
    '^  rate_limit_burst: 0  # derived: 50 '
# a 16 MiB container: the derived budget cannot hold the default 16 MiB body
mkdir -p "$CG/small"
echo 16777216 >"$CG/small/memory.max"
(cd "$WORK" && CAPVD_CGROUP_ROOT=$CG/small "$DAEMON" --config-dir "$CONF" --check-config) \
    >"$TMP/out" 2>"$TMP/err"
assert_eq "a derived budget below max_body_bytes: --check-config exit 3" "$?" 3
check "… naming server.memory_budget_bytes, its derivation and max_body_bytes" \
    grep -q "^capverifyd: configuration error: default: server.memory_budget_bytes: a budget of 10066329 bytes (0: derived, 60% of 16777216 in $CG/small/memory.max) cannot hold one body of server.max_body_bytes = 16777216" "$TMP/err"
(cd "$WORK" && CAPVD_CGROUP_ROOT=$CG/small "$DAEMON" --config-dir "$CONF" --check-config \
    --set server.max_body_bytes=1048576) >"$TMP/out" 2>"$TMP/err"
assert_eq "… with max_body_bytes 1 MiB it fits: exit 0" "$?" 0

# ---- --check-config: each error with its source --------------------------------------------
GOOD=$TMP/conf-good
mkdir -p "$GOOD" "$TMP/trust" "$TMP/policies"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/tls.key" \
    -out "$TMP/tls.crt" -days 2 -subj /CN=localhost >/dev/null 2>&1 ||
    { fail "openssl makes a test certificate"; t_done; }
cat >"$GOOD/server.yaml" <<'EOF'
server:
  listen: "127.0.0.1:18080"
  admin_listen: "127.0.0.1:19090"
  trusted_proxies:
    - 10.0.0.0/8
    - 192.168.1.7
    - "::1/128"
    - "2001:db8::/32"
  cors_origins: ["https://app.example.com", "http://localhost:3000", "https://[::1]:8443"]
EOF
check_config() { # check_config DIR [args...]: RC, $TMP/out, $TMP/err
    local dir=$1
    shift
    run_daemon --config-dir "$dir" "$@" --check-config
}
check_config "$GOOD" --set "trust.dir=$TMP/trust" --set "trust.policy_dir=$TMP/policies" \
    --set "tls.cert_file=$TMP/tls.crt" --set "tls.key_file=$TMP/tls.key" \
    --set "tls.client_ca_file=$TMP/tls.crt" --set server.rate_limit_per_second=10 \
    --set server.rate_limit_burst=20 --set "backup.dir=$TMP/backups"
assert_eq "a valid configuration using every checked key: exit 0" "$RC" 0
check "… configuration ok" grep -q 'configuration ok' "$TMP/out"
for listen in "[::1]:8080" "localhost:8080" ":8080" "127.0.0.2:65535" "cap-verifier.internal:1"; do
    check_config "$GOOD" --set "server.listen=$listen"
    assert_eq "listen '$listen' is valid" "$RC" 0
done
check_config "$GOOD" --set server.admin_listen=
assert_eq "an empty admin_listen (no admin listener) is valid" "$RC" 0

# expect_error NAME NEEDLE [daemon arguments...]: --check-config exits 3 and a stderr line
# "capverifyd: configuration error: NEEDLE…" is there (NEEDLE: the source and the key).
expect_error() {
    local name=$1 needle=$2
    shift 2
    check_config "$@"
    assert_eq "$name: exit 3" "$RC" 3
    if grep -qF -- "capverifyd: configuration error: $needle" "$TMP/err"; then
        pass "$name: the error names '$needle'"
    else
        fail "$name: the error names '$needle'" "$(cat "$TMP/err")"
    fi
}
# bad_file NAME FILE CONTENT NEEDLE [args...]: a copy of $GOOD with FILE replaced
bad_file() {
    local name=$1 file=$2 content=$3 needle=$4
    shift 4
    rm -rf "$TMP/conf-bad"
    cp -r "$GOOD" "$TMP/conf-bad"
    printf '%s' "$content" >"$TMP/conf-bad/$file"
    expect_error "$name" "${needle//@F/$TMP/conf-bad/$file}" "$TMP/conf-bad" "$@"
}

# a YAML null is no value (it would be the string "null")
bad_file "a YAML null" auth.yaml $'auth:\n  issuer: ~\n' \
    "@F:2:11: auth.issuer: null is not a value: leave the key out for its default"
bad_file "a YAML null in a list" server.yaml $'server:\n  trusted_proxies:\n    - null\n' \
    "@F:3:7: server.trusted_proxies: null is not a value"

# listen addresses
bad_file "listen without a port (YAML)" server.yaml $'server:\n  listen: "localhost"\n' \
    "@F:2:11: server.listen: 'localhost': expected host:port"
expect_error "listen port 70000 (--set)" \
    "--set server.listen=127.0.0.1:70000: server.listen: '127.0.0.1:70000': the port must be" \
    "$GOOD" --set server.listen=127.0.0.1:70000
CAPV_SERVER_LISTEN=127.0.0.1:0 expect_error "listen port 0 (env)" \
    "env CAPV_SERVER_LISTEN: server.listen: '127.0.0.1:0': the port must be a number from 1 to 65535" \
    "$GOOD"
# CivetWeb reads a port with a leading zero as octal ("05000" is 2560) or refuses it
expect_error "a port with a leading zero" \
    "--set server.listen=127.0.0.1:05000: server.listen: '127.0.0.1:05000': the port must be a number from 1 to 65535, without a leading zero" \
    "$GOOD" --set server.listen=127.0.0.1:05000
expect_error "IPv6 without brackets" "--set server.listen=::1:8080: server.listen: '::1:8080': an IPv6 address needs brackets" \
    "$GOOD" --set server.listen=::1:8080
expect_error "not an IPv4 address" "--set server.admin_listen=10.0.0.256:9090: server.admin_listen: '10.0.0.256:9090': not an IPv4 address" \
    "$GOOD" --set server.admin_listen=10.0.0.256:9090
expect_error "not a host name" "--set server.listen=bad_host:80: server.listen:" \
    "$GOOD" --set server.listen=bad_host:80
bad_file "admin_listen = listen" server.yaml \
    $'server:\n  listen: "127.0.0.1:18080"\n  admin_listen: "127.0.0.1:18080"\n' \
    "@F:3:17: server.admin_listen: '127.0.0.1:18080' is the same address as server.listen '127.0.0.1:18080' (@F:2:11)"
# a host name may be the other's address ("localhost" is 127.0.0.1): refused at once rather
# than when the second bind fails
expect_error "admin_listen a host name on listen's address and port" \
    "--set server.admin_listen=localhost:18080: server.admin_listen: 'localhost:18080' is the same address as server.listen" \
    "$GOOD" --set server.listen=127.0.0.1:18080 --set server.admin_listen=localhost:18080
# (only --check-config sees these addresses: it validates and exits, nothing listens)
expect_error "admin_listen on the IPv6 wildcard of listen's port" \
    "--set server.admin_listen=[::]:18080: server.admin_listen: '[::]:18080' is the same address as server.listen" \
    "$GOOD" --set server.listen=[::1]:18080 --set server.admin_listen=[::]:18080

# trusted proxies and CORS origins
bad_file "a CIDR with a prefix over 32" server.yaml \
    $'server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n' \
    "@F:3:5: server.trusted_proxies: '10.0.0.0/33' is not a CIDR: an IPv4 prefix length is at most 32"
CAPV_SERVER_TRUSTED_PROXIES=::1/128,2001:db8::/129 expect_error "an IPv6 prefix over 128 (env list)" \
    "env CAPV_SERVER_TRUSTED_PROXIES: server.trusted_proxies: '2001:db8::/129' is not a CIDR" "$GOOD"
expect_error "host bits beyond the prefix" \
    "--set server.trusted_proxies=10.0.0.1/8: server.trusted_proxies: '10.0.0.1/8' is not a CIDR: address bits are set" \
    "$GOOD" --set server.trusted_proxies=10.0.0.1/8
expect_error "a host name is no CIDR" "--set server.trusted_proxies=proxy.local: server.trusted_proxies: 'proxy.local' is not a CIDR" \
    "$GOOD" --set server.trusted_proxies=proxy.local
for origin in "https://app.example.com/" "*" "https://*.example.com" "app.example.com" \
    "https://app.example.com/path" "ftp://app.example.com" "https://App.example.com" \
    "https://app.example.com:0" "null"; do
    expect_error "CORS origin '$origin'" \
        "--set server.cors_origins=$origin: server.cors_origins: '$origin' is not an origin" \
        "$GOOD" --set "server.cors_origins=$origin"
done

# rate limit, memory budget
CAPV_SERVER_RATE_LIMIT_BURST=10 expect_error "a burst without a rate (env)" \
    "env CAPV_SERVER_RATE_LIMIT_BURST: server.rate_limit_burst: a burst without server.rate_limit_per_second" \
    "$GOOD"
expect_error "a memory budget below max_body_bytes" \
    "--set server.memory_budget_bytes=1048576: server.memory_budget_bytes: a budget of 1048576 bytes cannot hold one body of server.max_body_bytes = 16777216 (default)" \
    "$GOOD" --set server.memory_budget_bytes=1048576

# TLS
bad_file "tls.cert_file without tls.key_file (YAML)" tls.yaml \
    $'tls:\n  cert_file: '"$TMP/tls.crt"$'\n' \
    "@F:2:14: tls.cert_file: set without tls.key_file"
CAPV_TLS_KEY_FILE=$TMP/tls.key expect_error "tls.key_file without tls.cert_file (env)" \
    "env CAPV_TLS_KEY_FILE: tls.key_file: set without tls.cert_file" "$GOOD"
expect_error "an unreadable certificate" \
    "--set tls.cert_file=$TMP/missing.crt: tls.cert_file: cannot open $TMP/missing.crt:" \
    "$GOOD" --set "tls.cert_file=$TMP/missing.crt" --set "tls.key_file=$TMP/tls.key"
expect_error "a directory as the key" "--set tls.key_file=$TMP: tls.key_file: $TMP is a directory" \
    "$GOOD" --set "tls.cert_file=$TMP/tls.crt" --set "tls.key_file=$TMP"
expect_error "tls.client_ca_file without TLS" \
    "--set tls.client_ca_file=$TMP/tls.crt: tls.client_ca_file: client certificates need TLS" \
    "$GOOD" --set "tls.client_ca_file=$TMP/tls.crt"

# auth
bad_file "auth.enabled without issuer, audiences, jwks_url (YAML)" auth.yaml \
    $'auth:\n  enabled: true\n  issuer: "https://idp.example"\n' \
    "@F:2:12: auth.enabled: true needs auth.issuer, auth.audiences and auth.jwks_url; empty: auth.audiences auth.jwks_url"
expect_error "a plain http:// JWKS without allow_insecure_http" \
    "--set auth.jwks_url=http://idp.example/jwks: auth.jwks_url: a plain http:// key set needs auth.allow_insecure_http=true" \
    "$GOOD" --set auth.enabled=true --set auth.issuer=i --set auth.audiences=a \
    --set auth.jwks_url=http://idp.example/jwks
expect_error "metrics_requires_scope without auth" \
    "--set auth.metrics_requires_scope=true: auth.metrics_requires_scope: needs auth.enabled (default: false)" \
    "$GOOD" --set auth.metrics_requires_scope=true
expect_error "an unreadable IdP CA file" "--set auth.ca_file=$TMP/nope.pem: auth.ca_file: cannot open" \
    "$GOOD" --set "auth.ca_file=$TMP/nope.pem"

# registry, trust, backups
expect_error "registry.path is a directory" "--set registry.path=$TMP: registry.path: $TMP is a directory" \
    "$GOOD" --set "registry.path=$TMP"
expect_error "an empty registry.path" "--set registry.path=: registry.path: empty" \
    "$GOOD" --set registry.path=
expect_error "a missing trust.dir" "--set trust.dir=$TMP/no-such-dir: trust.dir: cannot read the directory" \
    "$GOOD" --set "trust.dir=$TMP/no-such-dir"
expect_error "an unreadable signing key" \
    "--set registry.signing_key_file=$TMP/no.pem: registry.signing_key_file: cannot open" \
    "$GOOD" --set "registry.signing_key_file=$TMP/no.pem"
expect_error "an unreadable backup signing key" \
    "--set backup.signing_key_file=$TMP/no.pem: backup.signing_key_file: cannot open" \
    "$GOOD" --set "backup.signing_key_file=$TMP/no.pem"
expect_error "backups inside trust.dir" \
    "--set backup.dir=$TMP/trust/backups: backup.dir: inside trust.dir $TMP/trust (--set trust.dir=$TMP/trust)" \
    "$GOOD" --set "trust.dir=$TMP/trust" --set "backup.dir=$TMP/trust/backups"
expect_error "backups inside trust.policy_dir (via ..)" \
    "--set backup.dir=$TMP/trust/../policies/b: backup.dir: inside trust.policy_dir" \
    "$GOOD" --set "trust.policy_dir=$TMP/policies" --set "backup.dir=$TMP/trust/../policies/b"
expect_error "backups inside the configuration directory" \
    "--set backup.dir=$GOOD/backups: backup.dir: inside the configuration directory" \
    "$GOOD" --set "backup.dir=$GOOD/backups"
expect_error "backups in the registry's directory" \
    "--set backup.dir=$TMP/data: backup.dir: holds the live registry.path" \
    "$GOOD" --set "backup.dir=$TMP/data" --set "registry.path=$TMP/data/registry.sqlite"
expect_error "backup.dir is a file" "--set backup.dir=$TMP/tls.crt: backup.dir: $TMP/tls.crt exists and is not a directory" \
    "$GOOD" --set "backup.dir=$TMP/tls.crt"

# every problem at once, one line each
CAPV_SERVER_RATE_LIMIT_BURST=3 check_config "$GOOD" --set server.listen=nope \
    --set "tls.key_file=$TMP/tls.key"
assert_eq "three problems: exit 3" "$RC" 3
assert_eq "… three error lines" "$(grep -c '^capverifyd: configuration error: ' "$TMP/err")" 3

# ---- a start runs the same checks -----------------------------------------------------------
(cd "$WORK" && exec timeout 10 "$DAEMON" --config-dir "$GOOD" --set server.admin_listen=127.0.0.1:18080 \
    --set "registry.path=$WORK/start/registry.sqlite") >"$TMP/out" 2>"$TMP/err"
assert_eq "a start with listeners on one address: exit 3 (not 5, not a hang)" "$?" 3
check "… with the --check-config message" grep -qF \
    "capverifyd: configuration error: --set server.admin_listen=127.0.0.1:18080: server.admin_listen: '127.0.0.1:18080' is the same address as server.listen" \
    "$TMP/err"
check "… before opening anything" test ! -e "$WORK/start"

# ---- duplicate keys and sections ------------------------------------------------------------
DUP=$TMP/conf-dup
mkdir -p "$DUP"
printf 'cache:\n  size: 5\n  ttl_seconds: 9\n  size: 6\n' >"$DUP/cache.yaml"
expect_error "a key twice in one section" \
    "$DUP/cache.yaml:4:3: cache.size: duplicate key, first given at $DUP/cache.yaml:2:3" "$DUP"
rm -f "$DUP"/*
printf 'cache:\n  size: 5\n' >"$DUP/a.yaml"
printf '# the cache again\ncache:\n  ttl_seconds: 9\n' >"$DUP/b.yml"
expect_error "a section in two files" \
    "$DUP/b.yml:2:1: cache: section given twice, first at $DUP/a.yaml:1:1" "$DUP"
rm -f "$DUP"/*
printf 'cache:\n  size: 5\nlogging:\n  level: info\ncache:\n' >"$DUP/all.yaml"
expect_error "a section twice in one file (the second one empty)" \
    "$DUP/all.yaml:5:1: cache: section given twice, first at $DUP/all.yaml:1:1" "$DUP"
rm -f "$DUP"/*
printf 'cache:\n  size: 5\n' >"$DUP/a.yaml"
printf 'logging:\n  level: info\n' >"$DUP/b.yaml"
check_config "$DUP"
assert_eq "different sections in different files: exit 0" "$RC" 0

# ---- a registry the library refuses: exit 5, one line ---------------------------------------
mkdir -p "$WORK/badreg"
head -c 8192 /dev/urandom >"$WORK/badreg/registry.sqlite"
{ read -r api && read -r adm; } < <(free_port 2)
(cd "$WORK" && exec timeout 20 "$DAEMON" --config-dir "$GOOD" --set "server.listen=127.0.0.1:$api" \
    --set "server.admin_listen=127.0.0.1:$adm" --set server.threads=8 \
    --set "registry.path=$WORK/badreg/registry.sqlite" --set "backup.dir=$WORK/badreg/b") \
    >"$TMP/out" 2>"$TMP/err"
assert_eq "a corrupt registry file: exit 5" "$?" 5
assert_eq "… one line on stderr" "$(wc -l <"$TMP/err")" 1
assert_match "… naming the file and the reason" "$(cat "$TMP/err")" \
    "^capverifyd: cannot open the registry $WORK/badreg/registry.sqlite: .{8,}$"

# ---- registry.url over the network without a certificate check: a warning first ------------
# (docs/registry.md "PostgreSQL backend"). No server answers (.invalid never resolves): the
# start says its warning, then exits 5.
# pg_start URL: runs the daemon with registry.url=URL; $TMP/out holds its log.
pg_start() {
    { read -r api && read -r adm; } < <(free_port 2)
    (cd "$WORK" && unset PGSSLMODE PGSERVICE PGHOST PGHOSTADDR PGSSLROOTCERT &&
        export HOME=$WORK/home $PG_ENV && exec timeout 20 "$DAEMON" --config-dir "$GOOD" \
        --set "server.listen=127.0.0.1:$api" --set "server.admin_listen=127.0.0.1:$adm" \
        --set server.threads=8 --set "registry.url=$1" --set "backup.dir=$WORK/pg/b") \
        >"$TMP/out" 2>"$TMP/err"
    RC=$?
}
tls_warning() { grep '"event":"registry_tls"' "$TMP/out" || true; }
PG_ENV=""
pg_start "postgresql://capv:s3cret@db.invalid:5432/registry?connect_timeout=2"
assert_eq "registry.url without sslmode to a remote host: exit 5" "$RC" 5
assert_match "… warns first: no certificate check (libpq's default prefer)" "$(tls_warning)" \
    '"host":"db.invalid".*"sslmode":"prefer".*sslmode=verify-full'
check "… the warning does not carry the password" bash -c "! grep -q s3cret '$TMP/out'"
pg_start "postgresql://capv@db.invalid/registry?sslmode=require&connect_timeout=2"
assert_match "sslmode=require to a remote host: warns" "$(tls_warning)" '"sslmode":"require"'
pg_start "postgresql://capv@127.0.0.1:1,db.invalid/registry?connect_timeout=2"
assert_match "a host list with one remote host: warns, naming it" "$(tls_warning)" \
    '"host":"db.invalid"'
pg_start "postgresql://capv@db.invalid/registry?sslmode=verify-full&connect_timeout=2"
assert_eq "sslmode=verify-full: no warning" "$RC $(tls_warning)" "5 "
pg_start "postgresql://capv@localhost:1,[::1]:1/registry?connect_timeout=2"
assert_eq "loopback hosts without sslmode: no warning" "$RC $(tls_warning)" "5 "
pg_start "postgresql:///registry?host=/nonexistent&connect_timeout=2"
assert_eq "a Unix socket: no warning" "$RC $(tls_warning)" "5 "
pg_start "postgresql://capv@127.db.invalid/registry?connect_timeout=2"
assert_match "a name that begins with 127. is no loopback address: warns" "$(tls_warning)" \
    '"host":"127.db.invalid"'
pg_start "postgresql://capv@db.invalid/registry?sslmode=require&sslrootcert=/nonexistent.pem&connect_timeout=2"
assert_eq "sslmode=require with a root certificate (libpq: verify-ca): no warning" \
    "$RC $(tls_warning)" "5 "
PG_ENV="PGHOST=db.invalid" pg_start "postgresql:///registry?connect_timeout=2"
assert_match "no host in the URL, PGHOST remote: warns" "$(tls_warning)" '"host":"db.invalid"'
PG_ENV="PGSSLMODE=verify-full" pg_start "postgresql://capv@db.invalid/registry?connect_timeout=2"
assert_eq "PGSSLMODE=verify-full: no warning" "$RC $(tls_warning)" "5 "
PG_ENV="PGSERVICE=capv PGSSLMODE=disable" pg_start \
    "postgresql://capv@db.invalid/registry?connect_timeout=2"
assert_eq "a service file (which libpq reads before PGSSLMODE) may set sslmode: no warning" \
    "$RC $(tls_warning)" "5 "
# --check-config says what a start would warn about, on stderr, before its verdict
(cd "$WORK" && unset PGSSLMODE PGSERVICE PGHOST PGHOSTADDR PGSSLROOTCERT &&
    exec "$DAEMON" --config-dir "$GOOD" --set auth.enabled=false \
    --set "registry.url=postgresql://capv@db.invalid/registry" --check-config) \
    >"$TMP/out" 2>"$TMP/err"
RC=$?
assert_eq "--check-config of a remote registry.url without sslmode: exit 0" "$RC" 0
assert_eq "… its verdict alone on stdout" "$(cat "$TMP/out")" "configuration ok"
assert_match "… the registry_tls warning on stderr" "$(cat "$TMP/err")" \
    '"event":"registry_tls".*"host":"db.invalid"'
assert_match "… and the other start warnings (auth off)" "$(cat "$TMP/err")" \
    '"event":"auth_disabled"'
t_done
