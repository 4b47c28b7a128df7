#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The systemd service (deploy/systemd, docs/deployment.md "systemd"): the installed unit passes
# `systemd-analyze verify`, its `systemd-analyze security` exposure is at most 2.0, the daemon
# speaks the notify protocol (READY=1 once serving, WATCHDOG=1 at half of WatchdogSec,
# STOPPING=1 on SIGTERM) to a real datagram socket, the installed daemon finds its installed
# data (/openapi.json) from wherever the prefix is, and the packaged configuration binds
# loopback only and passes --check-config.
#   systemd.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1 src=$2
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
source "$src/tests/tools/missing.sh"
command -v systemd-analyze >/dev/null || capv_missing "systemd-analyze (Debian systemd)"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# ---- the unit, installed for a prefix whose daemon exists ------------------------------------
cmake --install "$build" --prefix "$tmp/usr" >/dev/null
unit=$tmp/usr/lib/systemd/system/capverifyd.service
[ -f "$unit" ] && ok "cmake --install writes lib/systemd/system/capverifyd.service" || bad "unit installed"
grep -qx "ExecStart=$tmp/usr/sbin/capverifyd --config-dir /etc/cap-verifier" "$unit" &&
    ok "ExecStart names the installed daemon" || bad "ExecStart" "$(grep ExecStart= "$unit")"
if out=$(systemd-analyze verify --man=no "$unit" 2>&1); then
    ok "systemd-analyze verify"
else
    bad "systemd-analyze verify" "$out"
fi
exposure=$(systemd-analyze security --offline=true "$unit" 2>&1 |
    awk '/Overall exposure level/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) print $i }')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
    ok "systemd-analyze security: exposure $exposure (<= 2.0)"
else
    bad "systemd-analyze security exposure <= 2.0" "got '${exposure}'"
fi
for d in Type=notify DynamicUser=yes StateDirectory=cap-verifier ProtectSystem=strict \
    NoNewPrivileges=yes CapabilityBoundingSet= SystemCallFilter=@system-service; do
    grep -qx "$d" "$unit" && ok "unit sets $d" || bad "unit sets $d"
done

# ---- the notify protocol -------------------------------------------------------------------
conf=$tmp/conf
mkdir -p "$conf" "$tmp/trust"
cp "$src/deploy/systemd/cap-verifier.yaml" "$conf/"
{ read -r api && read -r admin; } < <(python3 "$src/scripts/free-port.py" 2)
python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 20
with open(sys.argv[2], "a", buffering=1) as log:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        for line in msg.splitlines():
            log.write("%.3f %s\n" % (time.time(), line))
        if "STOPPING=1" in msg:
            break
PY
listener=$!
for _ in $(seq 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done
# WATCHDOG_PID must be the daemon's own pid: the shell execs it
# the installed daemon, without the test suite's CAPVERIFYD_OPENAPI
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=2000000 sh -c 'export WATCHDOG_PID=$$; exec "$@"' sh \
    env -u CAPVERIFYD_OPENAPI "$tmp/usr/sbin/capverifyd" --config-dir "$conf" \
    --set "server.listen=127.0.0.1:$api" --set "server.admin_listen=127.0.0.1:$admin" \
    --set "registry.path=$tmp/data/registry.sqlite" --set "backup.dir=$tmp/data/backups" \
    --set "trust.dir=$tmp/trust" --set shutdown.grace_seconds=0 >"$tmp/stdout.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q READY=1 "$tmp/notify.log" 2>/dev/null && break; sleep 0.1; done
if grep -q READY=1 "$tmp/notify.log" 2>/dev/null; then
    ok "READY=1 once serving"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/healthz")" = 200 ] &&
        ok "… and it serves at that point" || bad "/healthz after READY=1"
else
    bad "READY=1" "$(cat "$tmp/notify.log" "$tmp/stdout.log" 2>/dev/null | tail -5)"
fi
grep -q "STATUS=serving on 127.0.0.1:$api" "$tmp/notify.log" && ok "STATUS names the listener" ||
    bad "STATUS line" "$(grep STATUS "$tmp/notify.log")"
curl -s -o "$tmp/openapi.json" -w '%{http_code}' "http://127.0.0.1:$api/openapi.json" >"$tmp/code"
[ "$(cat "$tmp/code")" = 200 ] && cmp -s "$tmp/openapi.json" "$src/docs/api/openapi.json" &&
    ok "the daemon installed under a temporary prefix serves the installed /openapi.json" ||
    bad "/openapi.json from the installed prefix" "$(cat "$tmp/code")"
sleep 2.5
n=$(grep -c WATCHDOG=1 "$tmp/notify.log")
[ "$n" -ge 2 ] && ok "WATCHDOG=1 at half of WatchdogSec ($n pings in about 3 s)" ||
    bad "WATCHDOG=1 pings" "$n"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=
wait "$listener" 2>/dev/null
grep -q STOPPING=1 "$tmp/notify.log" && ok "STOPPING=1 on SIGTERM" || bad "STOPPING=1"

# without NOTIFY_SOCKET nothing is sent and nothing breaks (the other tests run it so)

# ---- the packaged configuration --------------------------------------------------------------
printed=$("$build/capverifyd/capverifyd" --config-dir "$conf" --print-config 2>&1)
grep -Eq '^  listen: "?127\.0\.0\.1:8080"?' <<<"$printed" &&
    grep -Eq '^  admin_listen: "?127\.0\.0\.1:9090"?' <<<"$printed" &&
    ok "the packaged configuration binds loopback only" ||
    bad "packaged listen addresses" "$(grep listen <<<"$printed")"
if out=$("$build/capverifyd/capverifyd" --config-dir "$conf" --check-config \
    --set "registry.path=$tmp/data/registry.sqlite" --set "backup.dir=$tmp/data/backups" \
    --set "trust.dir=$tmp/trust" 2>&1); then
    ok "the packaged configuration passes --check-config (its data paths moved into the test's dir)"
else
    bad "packaged configuration --check-config" "$out"
fi
[ "$fails" = 0 ] || exit 1
