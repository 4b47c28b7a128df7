#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# From a fresh Debian 12 machine to a working capverify: installs the dependencies, builds
# everything into build/, and shows the CLI verifying a signed sample package (ok) and a
# tampered package of the existing implementation (fail), then starts the daemon on loopback
# and verifies the sample through it with curl.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAPV_BUILD_TESTS=OFF >/dev/null
cmake --build "$root/build" -j"$(nproc)"

cli=$root/build/capverify-cli/capverify
vectors=$root/../shared/vectors/peer
sample=$root/build/sample

# A signed, timestamped sample package with throwaway keys and a throwaway TSA.
"$root/examples/packages/make-sample.sh" "$cli" "$sample"

run() {
    echo
    echo "\$ capverify $*"
    "$cli" "$@" || echo "(exit code $?)"
}
run version
# The sample verifies: every check passes (its proof backend is a mock, accepted explicitly).
run verify --trust "$sample/trust" --policy-store "$sample/policies" \
    --tsa-ca "$sample/tsa/ca.pem" --mock-policy accept "$sample/sample.zip"
if [ -d "$vectors" ]; then
    # A bundle of the existing implementation, edited after signing: it fails.
    run verify "$vectors/packages/desktop/cap-bundle-2025-12-14.zip"
fi

# The daemon with the embedded defaults (SQLite registry under build/quickstart-data) and
# the sample's trust store, on loopback; a curl verifies the sample package through it.
daemon=$root/build/capverifyd/capverifyd
data=$root/build/quickstart-data
mkdir -p "$data"
"$daemon" --config-dir "$root/scripts/quickstart-config" \
    --set server.listen=127.0.0.1:8080 --set server.admin_listen=127.0.0.1:9090 \
    --set registry.path="$data/registry.sqlite" --set backup.dir="$data/backups" \
    --set trust.dir="$sample/trust" --set trust.policy_dir="$sample/policies" \
    --set trust.tsa_ca_file="$sample/tsa/ca.pem" --set verify.mock_policy=accept \
    > "$data/capverifyd.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do
    curl -fs http://127.0.0.1:9090/healthz >/dev/null 2>&1 && break
    sleep 0.1
done
echo
echo "\$ curl -s -H 'Content-Type: application/zip' --data-binary @$sample/sample.zip http://127.0.0.1:8080/verify | jq '{result, checks: [.checks[] | {id, status}]}'"
curl -s -H 'Content-Type: application/zip' --data-binary "@$sample/sample.zip" \
    http://127.0.0.1:8080/verify | jq '{result, checks: [.checks[] | {id, status}]}'
echo
echo "capverifyd (pid $pid) serves http://127.0.0.1:8080 (API) and :9090 (health, metrics);"
echo "its JSON log is $data/capverifyd.log. Press Ctrl-C to stop it."
echo "The CLI is $cli; 'capverify --help' lists its commands."
wait $pid
