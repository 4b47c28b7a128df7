#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the signed, timestamped sample CAP package from the committed templates, with
# throwaway keys and a throwaway test TSA made on the spot (no real party's key is ever
# committed):
#
#   make-sample.sh CAPVERIFY OUTDIR
#
# OUTDIR receives:
#   sample/            the package as a directory (cap-bundle.v1: _meta.json, manifest.json
#                      signed by keys/sample-signer, proof.capz, timestamp.tsr)
#   sample.zip         the same package zipped
#   trust/             the trust store for it (sample-signer.json, cap-key.v1)
#   keys/              the signer's key pair (sample-signer.key stays here, mode 0600)
#   tsa/               the test TSA (tsa/ca.pem = the TSA roots to trust)
#   policies/          the policy store (lksg_v1.ir.json, the policy the manifest names)
# Verify it:  capverify verify --trust OUTDIR/trust --policy-store OUTDIR/policies \
#                 --tsa-ca OUTDIR/tsa/ca.pem --mock-policy accept OUTDIR/sample.zip
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 CAPVERIFY OUTDIR" >&2; exit 2; }
cli=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

rm -rf "$out/sample" "$out/sample.zip" "$out/trust" "$out/keys" "$out/policies"
mkdir -p "$out/sample" "$out/trust" "$out/keys" "$out/policies"

# Keys: valid from before the manifest's created_at, for ten years.
"$cli" keys gen --out "$out/keys/sample-signer" --owner "Sample Supplier GmbH" \
    --valid-from 2026-01-01T00:00:00Z --valid-days 3650 >/dev/null
cp "$out/keys/sample-signer.json" "$out/trust/"

# Sign the manifest; the proof binds its canonical bytes, which signing does not change.
"$cli" sign "$here/sample/manifest.json" --key "$out/keys/sample-signer.key" \
    --signer "Sample Supplier GmbH" --out "$out/sample/manifest.json"
cp "$here/sample/proof.capz" "$out/sample/"
cp "$here/policies/"*.json "$out/policies/"

# RFC 3161 token over the signed manifest from the test TSA.
"$root/tests/tools/make_tsa.sh" "$out/tsa" --stamp "$out/sample/manifest.json" \
    "$out/sample/timestamp.tsr"

digest() { "$cli" hash --alg sha3-256 "$1" | cut -d' ' -f1; }
size() { wc -c < "$1" | tr -d ' '; }
m=$out/sample/manifest.json p=$out/sample/proof.capz t=$out/sample/timestamp.tsr
cat > "$out/sample/_meta.json" <<META
{
  "schema": "cap-bundle.v1",
  "bundle_id": "sample-lksg-2026-03",
  "created_at": "2026-03-02T09:31:00Z",
  "files": {
    "manifest.json": {"role": "manifest", "hash": "$(digest "$m")", "size": $(size "$m"), "content_type": "application/json", "optional": false},
    "proof.capz": {"role": "proof", "hash": "$(digest "$p")", "size": $(size "$p"), "content_type": "application/octet-stream", "optional": false},
    "timestamp.tsr": {"role": "timestamp", "hash": "$(digest "$t")", "size": $(size "$t"), "content_type": "application/timestamp-reply", "optional": false}
  },
  "proof_units": [
    {"id": "main", "manifest_file": "manifest.json", "proof_file": "proof.capz", "policy_id": "lksg.v1", "policy_hash": "0xb98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638", "backend": "mock", "depends_on": []}
  ]
}
META

python3 - "$out/sample" "$out/sample.zip" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        z.write(os.path.join(src, name), name)
PY
