#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the generated part of the fuzz corpora: seeds taken or derived from the vectors
# already in the repository and in ../shared, and from the test fixtures (the sample
# package, the test TSA), so that nothing is copied into the repository. The committed
# part — hand-made edge cases and every input that once found a bug — is
# tests/fuzz/corpus/<target>/.
#
#   make_seeds.sh OUTDIR SHARED_VECTORS_DIR FIXTURES_DIR
#
# OUTDIR/<target>/ is (re)created for each target of tests/fuzz/CMakeLists.txt. FIXTURES_DIR
# holds sample/ (examples/packages/make-sample.sh) and tsa/ (tests/tools/make_tsa.sh), as
# ctest's fixtures make them in <build>/tests/fixtures. Needs python3 with PyYAML ($PYTHON3
# when set, as ctest sets it to the interpreter scripts/install-deps.sh provides for).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 OUTDIR SHARED_VECTORS_DIR FIXTURES_DIR" >&2; exit 2; }
out=$1
shared=$(cd "$2" && pwd)
fixtures=$(cd "$3" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
for f in "$fixtures/sample/sample.zip" "$fixtures/tsa/data.tsr" "$shared/peer/README.md"; do
    [ -f "$f" ] || { echo "$0: missing $f" >&2; exit 1; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

"${PYTHON3:-python3}" - "$work" "$shared" "$fixtures" "$src" <<'PY'
import base64, glob, io, json, os, shutil, sys, zipfile
import yaml

out, shared, fixtures, src = sys.argv[1:5]
peer = os.path.join(shared, "peer")
sample = os.path.join(fixtures, "sample")


def seed(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def copy(target, *paths):
    for p in paths:  # parent-file: several vectors share a file name
        seed(target, os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p), read(p))


def dir_members(d):
    return {n: read(d, n) for n in sorted(os.listdir(d)) if os.path.isfile(os.path.join(d, n))}


def zip_of(members, method=zipfile.ZIP_DEFLATED, comment=b""):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.comment = comment
    return b.getvalue()


# ---- zip packages and whole-package verification -----------------------------------------
zips = [os.path.join(fixtures, "sample", "sample.zip"),
        os.path.join(peer, "packages", "webui-legacy.zip")]
zips += sorted(glob.glob(os.path.join(peer, "packages", "desktop", "*.zip")))
sample_members = dir_members(os.path.join(sample, "sample"))
variants = {
    "sample-stored.zip": zip_of(sample_members, zipfile.ZIP_STORED),
    "sample-comment.zip": zip_of(sample_members, comment=b"a zip comment"),
    "sample-extra-member.zip": zip_of(dict(sample_members, **{"notes/readme.txt": b"hi\n"})),
    "multi-unit.zip": zip_of(dir_members(os.path.join(peer, "packages", "multi-unit"))),
    "bundle-v2-testout.zip": zip_of({
        "manifest.json": read(peer, "packages", "bundle-v2-testout", "unsigned_manifest.json"),
        "proof.capz": read(peer, "packages", "bundle-v2-testout", "test_proof.capz")}),
    "bogus-signature.zip": zip_of({
        "manifest.json": read(peer, "packages", "bundle-v2-testout",
                              "bogus_signature_manifest.json"),
        "proof.capz": read(peer, "packages", "bundle-v2-testout", "test_proof.capz")}),
    "empty.zip": zip_of({}),
    # the sample's manifest names the peer audit log's tip: the audit check passes
    "sample-audit.zip": zip_of(dict(sample_members, **{
        "agent.audit.jsonl": read(peer, "audit", "agent.audit.jsonl")})),
}
for target in ("zip", "verify"):
    copy(target, *zips)
    for name, data in variants.items():
        seed(target, name, data)

# ---- JSON package uploads ------------------------------------------------------------------
def json_package(members):
    return json.dumps({"package": {n: base64.b64encode(d).decode()
                                   for n, d in members.items()}})
seed("package_json", "sample.json", json_package(sample_members))
seed("package_json", "webui-legacy.json",
     json_package(dir_members(os.path.join(peer, "packages", "webui-legacy"))))
seed("package_json", "multi-unit.json",
     json_package(dir_members(os.path.join(peer, "packages", "multi-unit"))))

# ---- strict JSON ---------------------------------------------------------------------------
json_files = [os.path.join(sample, "sample", "manifest.json"),
              os.path.join(sample, "sample", "_meta.json"),
              os.path.join(peer, "packages", "webui-legacy", "manifest.json"),
              os.path.join(peer, "packages", "multi-unit", "_meta.json"),
              os.path.join(peer, "packages", "bundle-v2-testout", "bogus_signature_manifest.json"),
              os.path.join(peer, "policy", "lksg_v1.ir.json"),
              os.path.join(peer, "context", "adapt_context.json"),
              os.path.join(peer, "registry", "empty_registry_v1.json"),
              os.path.join(shared, "jose-cookbook", "jwk", "3_1.ec_public_key.json"),
              os.path.join(src, "tests", "vectors", "jwt_attacks_jwks.json")]
copy("json", *json_files)

# ---- proofs --------------------------------------------------------------------------------
copy("proof", os.path.join(sample, "sample", "proof.capz"),
     os.path.join(peer, "packages", "bundle-v2-testout", "test_proof.capz"),
     os.path.join(peer, "packages", "webui-legacy", "proof.dat"))
for i in (0, 1):
    seed("proof", "multi-unit-proof_%d.capz" % i,
         read(peer, "packages", "multi-unit", "proof_%d.capz" % i))
with zipfile.ZipFile(os.path.join(peer, "packages", "desktop", "cap-bundle-2025-12-14.zip")) as z:
    seed("proof", "desktop-proof.capz", z.read("proof.capz"))
seed("proof", "proof-v0.json",
     base64.b64decode(read(peer, "packages", "webui-legacy", "proof.dat").strip()))

# ---- encodings: digests, hex, base64 of real bytes, times ---------------------------------
manifest = json.loads(read(sample, "sample", "manifest.json"))
meta = json.loads(read(sample, "sample", "_meta.json"))
texts = [f["hash"] for f in meta["files"].values()]
texts += [manifest.get("created_at", "2026-03-02T09:31:00Z")]
texts += [base64.b64encode(read(sample, "sample", "proof.capz")[:60]).decode(),
          base64.urlsafe_b64encode(read(sample, "sample", "proof.capz")[:61]).decode().rstrip("=")]
for i, t in enumerate(texts):
    seed("encoding", "derived-%02d.txt" % i, t)

# ---- JWT and JWKS --------------------------------------------------------------------------
attacks = json.loads(read(src, "tests", "vectors", "jwt_attacks.json"))
for case in attacks["cases"]:
    tok = case["token"]
    if len(tok) <= 4096:  # the oversize-token cases stay out: one is enough (committed)
        seed("jwt", case["name"] + ".jwt", tok)
for f in sorted(glob.glob(os.path.join(shared, "jose-cookbook", "jws", "*.json"))):
    doc = json.loads(read(f))
    compact = doc.get("output", {}).get("compact")
    if compact:
        seed("jwt", "cookbook-" + os.path.basename(f)[:-5] + ".jwt", compact)
copy("jwks", os.path.join(src, "tests", "vectors", "jwt_attacks_jwks.json"))
for f in sorted(glob.glob(os.path.join(shared, "jose-cookbook", "jwk", "*.json"))):
    seed("jwks", "cookbook-" + os.path.basename(f), json.dumps({"keys": [json.loads(read(f))]}))
wp = json.loads(read(shared, "wycheproof", "json_web_key_test.json"))
for i, group in enumerate(wp.get("testGroups", [])):
    keys = group.get("private")
    if isinstance(keys, dict):
        seed("jwks", "wycheproof-%02d-private.json" % i, json.dumps(keys))
        public = {"keys": [{k: v for k, v in jwk.items()
                            if k not in ("d", "p", "q", "dp", "dq", "qi")}
                           for jwk in keys.get("keys", [])]}
        seed("jwks", "wycheproof-%02d-public.json" % i, json.dumps(public))
    for t in group.get("tests", [])[:2]:
        if isinstance(t.get("jws"), str):
            seed("jwt", "wycheproof-%02d-%d.jwt" % (i, t["tcId"]), t["jws"])

# ---- policies, IR, evaluation --------------------------------------------------------------
copy("policy", *sorted(glob.glob(os.path.join(peer, "policy", "*.yml"))))
for f in sorted(glob.glob(os.path.join(peer, "policy", "*.yml"))):
    doc = yaml.safe_load(read(f))
    seed("policy", os.path.basename(f)[:-4] + ".json", json.dumps(doc))
policy_yml = read(peer, "policy", "lksg_v1.policy.yml")
seed("policy", "compile-request-yaml.json",
     json.dumps({"policy_yaml": base64.b64encode(policy_yml).decode(), "lint_mode": "relaxed"}))
seed("policy", "compile-request-inline.json",
     json.dumps({"policy": yaml.safe_load(policy_yml), "persist": False}))
context = json.loads(read(peer, "context", "adapt_context.json"))
ir = json.loads(read(peer, "policy", "lksg_v1.ir.json"))
copy("policy_eval", os.path.join(peer, "context", "adapt_context.json"))
seed("policy_eval", "request-policy-id.json",
     json.dumps({"policy_id": ir["policy_id"], "context": context,
                 "options": {"adaptive": True}}))
seed("policy_eval", "request-ir.json", json.dumps({"ir": ir, "context": context}))

# ---- CSV, timestamps, registry entries, daemon configuration, audit logs -------------------
copy("csv", *sorted(glob.glob(os.path.join(peer, "csv", "*.csv"))))
copy("audit", os.path.join(peer, "audit", "agent.audit.jsonl"),
     os.path.join(src, "tests", "vectors", "audit", "audit_chain.jsonl"))
tsa = os.path.join(fixtures, "tsa")
copy("timestamp", *sorted(glob.glob(os.path.join(tsa, "*.tsr"))),
     *sorted(glob.glob(os.path.join(tsa, "*.token.der"))),
     os.path.join(sample, "sample", "timestamp.tsr"))
mh, ph = meta["files"]["manifest.json"]["hash"], meta["files"]["proof.capz"]["hash"]
seed("registry_entry", "minimal.json", json.dumps({"manifest_hash": mh, "proof_hash": ph}))
seed("registry_entry", "full.json", json.dumps({
    "id": "entry-1", "manifest_hash": mh, "proof_hash": ph, "timestamp_file": "timestamp.tsr",
    "registered_at": "2026-03-02T09:31:00Z",
    "policy_hash": "0xb98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638",
    "signature": base64.b64encode(bytes(64)).decode(),
    "public_key": base64.b64encode(bytes(32)).decode(), "kid": "0x" + "ab" * 16,
    "signature_scheme": "ed25519"}))
cm = yaml.safe_load(read(src, "deploy", "examples", "20-configmap.yaml"))
for name, text in sorted(cm["data"].items()):
    seed("config", name, text)

# ---- form uploads of POST /verify: the sample as a browser and curl send it -------------------
zip_bytes = read(sample, "sample.zip")
for name, boundary, ctype in (("browser.txt", "----WebKitFormBoundaryq1w2e3r4t5y6u7i8", "application/zip"),
                              ("curl.txt", "------------------------a1b2c3d4e5f60718", "application/octet-stream")):
    head = ("multipart/form-data; boundary=%s\n--%s\r\nContent-Disposition: form-data; "
            "name=\"package\"; filename=\"sample.zip\"\r\nContent-Type: %s\r\n\r\n"
            % (boundary, boundary, ctype)).encode()
    seed("multipart", name, head + zip_bytes + ("\r\n--%s--\r\n" % boundary).encode())

# ---- answers of an S3-compatible store (off-site copies) ------------------------------------
copy("s3_xml", *sorted(glob.glob(os.path.join(src, "tests", "vectors", "s3", "*.xml"))))
PY

# Swap in the new seeds only now: a failed run leaves the previous ones untouched.
for d in "$work"/*/; do
    t=$(basename "$d")
    rm -rf "${out:?}/$t"
    mv "$d" "$out/$t"
done
