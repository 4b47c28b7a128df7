#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working capverify: installs the dependencies, builds
# everything into build/, and shows the CLI verifying a signed sample package (ok) and a
# tampered package of the existing implementation (fail).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAPV_TESTS=OFF >/dev/null
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
echo
echo "The CLI is $cli; 'capverify --help' lists its commands."
