# SPDX-License-Identifier: Apache-2.0
# Helpers of the hostile-client tests (tests/hostile/*.sh), on top of tests/daemon/lib.sh.
#
# Each test is run by ctest as  TEST.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
# (the daemon tests' convention), sources this file and calls h_init "$@" instead of t_init.
# Measured values are printed on lines starting with "figure:". Every server a test starts
# binds 127.0.0.1 and is stopped by its own pid; every load loop here is bounded in count and
# in time. Python helpers run with Debian's interpreter (/usr/bin/python3).
HDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../daemon/lib.sh
source "$HDIR/../daemon/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

h_init() {
    t_init "$@"
    H_SANITIZED=0
    # Sanitizer builds (scripts/test.sh's second pass) multiply RSS and latency: their memory
    # and latency figures are printed, but the assertions on them are skipped (visibly).
    # ldd's output is read whole first: under pipefail, `ldd | grep -q` fails when grep's
    # early exit makes ldd's next write a SIGPIPE, and the build would pass for a plain one.
    if grep -q 'lib[at]san\|libubsan' <<<"$(ldd "$DAEMON" 2>/dev/null)"; then
        H_SANITIZED=1
    fi
    H_T0=$(date +%s.%N)
}

# figure NAME VALUE...: one measured value, on its own "figure:" line.
figure() {
    echo "figure: $*"
}

# h_elapsed: seconds since h_init (for the test's own duration figure).
h_elapsed() {
    awk -v a="$H_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# h_done: prints the test's duration figure, then t_done.
h_done() {
    figure "test_duration_seconds $(h_elapsed)"
    t_done
}

# measured_le NAME VALUE LIMIT: assert_le, but a visible skip in sanitizer builds (whose
# time and memory figures say nothing about the release build).
measured_le() {
    if [ "$H_SANITIZED" = 1 ]; then
        skip "$1" "sanitizer build: measured $2 (limit $3) not asserted"
    else
        assert_le "$@"
    fi
}

# rss_kib PID: VmRSS of PID in KiB (empty when the process is gone).
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# metric_sum FILE NAME: the sum of every series of metric NAME (any labels), 0 when none.
metric_sum() {
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s + 0 }' "$1"
}

# scrape FILE: GET /metrics on the admin port into FILE.
scrape() {
    curl -s --max-time 5 -o "$1" "$D_ADMIN_URL/metrics"
}

# ---- bearer tokens (file:// JWKS, as tests/daemon/auth.sh) ---------------------------------

# h_auth_setup: an Ed25519 key set in $TMP/idp; sets AUTH_ARGS (the daemon flags) and
# defines token SUB [SCOPE] (prints a token valid for 20 minutes).
h_auth_setup() {
    IDP=$TMP/idp
    mkdir -p "$IDP"
    local jwk
    jwk=$(make_jwk "$IDP" hostile-1) || { fail "make an Ed25519 key with openssl"; t_done; }
    printf '{"keys":[%s]}' "$jwk" >"$IDP/jwks.json"
    ISS=https://idp.test/realms/cap
    AUD=cap-verifier
    AUTH_ARGS=(--set auth.enabled=true --set "auth.issuer=$ISS" --set "auth.audiences=$AUD"
        --set "auth.jwks_url=file://$IDP/jwks.json")
}

token() {
    local now
    now=$(date +%s)
    mint_token "$IDP/hostile-1.key" hostile-1 \
        "$(printf '{"iss":"%s","aud":"%s","sub":"%s","iat":%d,"exp":%d,"scope":"%s"}' \
            "$ISS" "$AUD" "$1" "$now" $((now + 1200)) "${2:-verify:run registry:read}")"
}

# ---- starting a daemon -------------------------------------------------------------------------

# daemon_start_checked NAME ARGS...: daemon_start, but first capverifyd --check-config with
# the same ARGS: when the binary refuses them (e.g. a configuration key it does not have yet),
# that is one failure naming the reason, and the return status is 2 (the daemon not started).
daemon_start_checked() {
    local name=$1
    shift
    mkdir -p "$TMP/noconf"
    if "$DAEMON" --check-config --config-dir "$TMP/noconf" "$@" >"$TMP/check.$name" 2>&1; then
        daemon_start "$name" "$@"
        return
    fi
    fail "capverifyd accepts the configuration of '$name'" "$(head -c 300 "$TMP/check.$name")"
    return 2
}

# ---- filesystems ------------------------------------------------------------------------------

H_MOUNTS=()
# h_mount_tmpfs DIR SIZE: mounts a tmpfs of SIZE (e.g. 4m) on DIR (created); unmounted on exit,
# after the processes of the test are killed. Returns 1 (with the reason in H_MOUNT_ERROR)
# when mounting is not permitted.
h_mount_tmpfs() {
    mkdir -p "$1"
    if ! H_MOUNT_ERROR=$(mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>&1); then
        return 1
    fi
    if [ "${#H_MOUNTS[@]}" = 0 ]; then
        trap 'h_rc=$?; h_unmount_all; (exit $h_rc); t_cleanup' EXIT
    fi
    H_MOUNTS+=("$1")
}

h_unmount_all() {
    local pid m i
    for pid in "${T_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    for m in "${H_MOUNTS[@]}"; do
        for i in 1 2 3 4 5 6 7 8 9 10; do
            mountpoint -q "$m" || break
            umount "$m" 2>/dev/null && break
            sleep 0.2
        done
        mountpoint -q "$m" && umount -l "$m" 2>/dev/null
    done
    H_MOUNTS=()
}
