# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run.d/daemon.sh and bench/ab (not run by itself): capverifyd on 127.0.0.1
# (ephemeral ports, a private temp dir) with bearer-token auth on (a local file:// JWKS and
# an EdDSA token made with openssl), the signed, timestamped sample package
# (examples/packages/make-sample.sh) and variants of it, and wrk (bench/verify.lua).
# Expects `build` (a build directory) and `root` (the source tree), and `registry_url`
# (empty: a SQLite registry in the daemon's directory). Sets `tmp` (removed on exit), `zip`
# (the sample), `$tmp/variant.zip` (one distinct variant), `$tmp/plain.zip` (the sample
# without its timestamp), `token` (scope verify:run) and `ops_token` (backup:create); `daemon`
# is BUILD's capverifyd unless the caller sets another before start_daemon. Exits 0 after
# "skipped: …" when a tool is missing.
daemon=$build/capverifyd/capverifyd
cli=$build/capverify-cli/capverify
lua=$root/bench/verify.lua
conns=12   # wrk connections (each keep-alive connection holds a worker thread)
distinct=10000

for tool in wrk hey curl openssl python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "skipped: $tool is not installed (scripts/install-deps.sh)"
        exit 0
    fi
done
if [ ! -x "$daemon" ] || [ ! -x "$cli" ]; then
    echo "no capverifyd / capverify in $build" >&2
    exit 1
fi

# The daemon reads CAPV_* variables: none from the caller's environment may leak in.
for v in $(compgen -e); do
    case $v in CAPV_*) unset "$v" ;; esac
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/capv-bench-daemon.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the package, the key set, the token ---------------------------------------------------
"$root/examples/packages/make-sample.sh" "$cli" "$tmp/sample" >/dev/null
zip=$tmp/sample/sample.zip
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
openssl genpkey -algorithm ed25519 -out "$tmp/idp.key" 2>/dev/null
printf '{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"bench","use":"sig","alg":"EdDSA","x":"%s"}]}' \
    "$(openssl pkey -in "$tmp/idp.key" -pubout -outform DER | tail -c 32 | b64url)" >"$tmp/jwks.json"
iss=https://idp.bench.test
aud=cap-verifier
# make_token SCOPE: a token of subject "bench" with that scope, valid for an hour
make_token() {
    local h p now
    now=$(date +%s)
    h=$(printf '{"alg":"EdDSA","kid":"bench","typ":"JWT"}' | b64url)
    p=$(printf '{"iss":"%s","aud":"%s","sub":"bench","iat":%d,"exp":%d,"scope":"%s"}' \
        "$iss" "$aud" "$now" $((now + 3600)) "$1" | b64url)
    printf '%s.%s' "$h" "$p" >"$tmp/tbs"
    printf '%s.%s.%s' "$h" "$p" "$(openssl pkeyutl -sign -inkey "$tmp/idp.key" -rawin -in "$tmp/tbs" | b64url)"
}
token=$(make_token verify:run)
ops_token=$(make_token backup:create)
# One distinct package as a file, to check that such a variant verifies like the original.
python3 - "$zip" "$tmp/variant.zip" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
assert data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\0\0"
comment = b"capv-bench-00000000"
open(sys.argv[2], "wb").write(data[:-2] + len(comment).to_bytes(2, "little") + comment)
PY

# The same package without its RFC 3161 timestamp (signed manifest, proof, _meta.json
# without the timestamp member): what a fresh verification costs without the TSA chain. Its
# verdict is warn, not ok: the signed manifest names a TSA time anchor, and the proof binds
# the manifest, so the anchor cannot be taken out; every other check passes.
python3 - "$tmp/sample/sample" "$tmp/plain.zip" <<'PY'
import json, os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(src, "_meta.json")))
del meta["files"]["timestamp.tsr"]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        if name == "_meta.json":
            z.writestr(name, json.dumps(meta, indent=2) + "\n")
        elif name != "timestamp.tsr":
            z.write(os.path.join(src, name), name)
PY

# ---- the daemon ----------------------------------------------------------------------------
# free_port [N]: N (default 1) distinct free loopback ports, one per line
free_port() { python3 "$root/scripts/free-port.py" "$@"; }

# start_daemon NAME CACHE_SIZE [capverifyd arguments...]: sets PID, API and ADMIN (base URLs)
start_daemon() {
    local dir=$tmp/$1 size=$2 api admin
    shift 2
    mkdir -p "$dir/conf"
    for _ in 1 2 3; do # another pair of ports when one was taken meanwhile
        { read -r api && read -r admin; } < <(free_port 2)
        (cd "$dir" && exec "$daemon" --config-dir "$dir/conf" \
            --set "server.listen=127.0.0.1:$api" --set "server.admin_listen=127.0.0.1:$admin" \
            --set "registry.path=$dir/registry.sqlite" --set "backup.dir=$dir/backups" \
            ${registry_url:+--set "registry.url=$registry_url"} \
            --set "trust.dir=$tmp/sample/trust" --set "trust.policy_dir=$tmp/sample/policies" \
            --set "trust.tsa_ca_file=$tmp/sample/tsa/ca.pem" --set verify.mock_policy=accept \
            --set auth.enabled=true --set "auth.issuer=$iss" --set "auth.audiences=$aud" \
            --set "auth.jwks_url=file://$tmp/jwks.json" --set "cache.size=$size" \
            --set shutdown.grace_seconds=0 "$@" >"$dir/stdout.log" 2>"$dir/stderr.log") &
        PID=$!
        pids+=("$PID")
        API=http://127.0.0.1:$api
        ADMIN=http://127.0.0.1:$admin
        for _ in $(seq 100); do
            kill -0 "$PID" 2>/dev/null || break
            if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$ADMIN/healthz")" = 200 ]; then
                return 0
            fi
            sleep 0.1
        done
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    done
    echo "capverifyd did not start:" >&2
    tail -n 5 "$dir/stderr.log" "$dir/stdout.log" >&2
    exit 1
}

stop_daemon() {
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}

# verdict FILE: "HTTP_STATUS RESULT" of one authenticated POST /verify
verdict() {
    curl -s -o "$tmp/resp.json" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/zip' --data-binary "@$1" "$API/verify" >"$tmp/code" || true
    printf '%s %s' "$(cat "$tmp/code")" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("result"))' \
            "$tmp/resp.json" 2>/dev/null || echo '?')"
}

metric() { # metric SERIES: its value on the admin listener's /metrics ("" when absent)
    curl -s --max-time 5 -o "$tmp/metrics" "$ADMIN/metrics" || true
    awk -v n="$1" '$1 == n { v = $2 } END { print v }' "$tmp/metrics"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# wrk_verify DISTINCT SECONDS [ZIP]: runs bench/verify.lua on ZIP (default: the timestamped
# sample); sets W_rate W_p50 W_p95 W_p99 W_errors
wrk_verify() {
    local out
    out=$(CAPV_BENCH_ZIP=${3:-$zip} CAPV_BENCH_TOKEN=$token CAPV_BENCH_DISTINCT=$1 \
        wrk -t2 -c"$conns" -d"$2"s --timeout 10s -s "$lua" "$API/verify")
    W_rate=$(awk '$1 == "rate" {print $2}' <<<"$out")
    W_p50=$(awk '$1 == "p50_ms" {print $2}' <<<"$out")
    W_p95=$(awk '$1 == "p95_ms" {print $2}' <<<"$out")
    W_p99=$(awk '$1 == "p99_ms" {print $2}' <<<"$out")
    W_errors=$(awk '$1 == "errors" {print $2}' <<<"$out")
}

