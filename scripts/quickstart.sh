#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working capverify: installs the dependencies, builds
# everything into build/, and shows the CLI at work on the interop vectors.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)"

cli=$root/build/capverify-cli/capverify
vectors=$root/../shared/vectors/peer
echo
echo "\$ capverify version"
"$cli" version
if [ -d "$vectors" ]; then
    echo
    echo "\$ capverify hash --alg sha3-256 <peer webui-legacy package>"
    "$cli" hash --alg sha3-256 "$vectors/packages/webui-legacy/manifest.json" \
        "$vectors/packages/webui-legacy/proof.dat"
fi
echo
echo "The CLI is $cli; 'capverify --help' lists its commands."
