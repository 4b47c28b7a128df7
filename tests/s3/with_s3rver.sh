#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs CMD [ARG...] next to a throw-away S3-compatible server (docs/registry.md, "Off-site
# copies"): npm s3rver (tests/node/s3rver.mjs, pinned by tests/node/package-lock.json) on
# 127.0.0.1 with an ephemeral port, storing into a temporary directory, with the bucket
# capv-test; stopped by its PID when CMD ends. CMD sees
#   CAPV_TEST_S3_ENDPOINT  http://127.0.0.1:PORT
#   CAPV_TEST_S3_BUCKET    capv-test
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY  s3rver's (S3RVER / S3RVER)
# For example, by hand:
#   tests/s3/with_s3rver.sh sh -c 'capverify registry backup --db r.sqlite --dir bk --upload \
#       --s3-url s3://$CAPV_TEST_S3_BUCKET/prod --s3-endpoint $CAPV_TEST_S3_ENDPOINT --s3-path-style'
# Exits 77 (ctest: skipped) without node or the npm packages, 1 under CI=true.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD [ARG...]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$here/../node
if ! command -v node >/dev/null 2>&1 || [ ! -d "$node_dir/node_modules/s3rver" ]; then
    source "$here/../tools/missing.sh"
    capv_missing "with_s3rver: node or $node_dir/node_modules/s3rver (npm ci)" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/capv-s3rver.XXXXXX")
mkdir -p "$work/objects" "$work/state"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node "$node_dir/s3rver.mjs" "$work/objects" "$work/state" capv-test >"$work/s3rver.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    [ -s "$work/state/port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$work/state/port" ]; then
    cat "$work/s3rver.log" >&2
    echo "with_s3rver: s3rver did not start" >&2
    exit 1
fi
export CAPV_TEST_S3_ENDPOINT="http://127.0.0.1:$(cat "$work/state/port")"
export CAPV_TEST_S3_BUCKET=capv-test
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
"$@"
