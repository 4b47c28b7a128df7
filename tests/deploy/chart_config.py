#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every configuration the chart renders is one capverifyd accepts.

  chart_config.py CAPVERIFYD CAPVERIFY

For the chart's values with each environment file (deploy/tools/chart-config.py renders them
exactly as the ConfigMap template does), for the hand-rendered example ConfigMap
(deploy/examples/20-configmap.yaml, which must equal the dev rendering) and for the image's
default configuration (deploy/config), runs `capverifyd --check-config --config-dir DIR`
and requires exit 0. The files the configuration names (TLS certificate, trust store, ...)
live in Secrets and ConfigMaps mounted into the pod; here they are made under a scratch root
and the paths are prefixed with it, so --check-config really loads them.

Both registry modes (docs/deployment.md, "Registry modes"): which environment runs which,
the chart's replica guards (SQLite: one replica, the HPA 1..1; PostgreSQL: the URL Secret is
required, more replicas allowed), registry.url / registry.password_file refused in the
values, the ConfigMap unchanged by the mode (the database URL never in it),
and every CAPV_* variable the chart's Deployment sets (template and examples) documented in
docs/configuration.md (= `capverifyd --print-config-reference`) for its key.

The configuration the chart itself renders (its ConfigMap template, interpreted by
tests/deploy/helmlite.py) equals what deploy/tools/chart-config.py renders, for each
environment and with every optional Secret and ConfigMap; with backup.signingKeySecretName
the chart's backup.signing_key_file is the key.pem of the mounted Secret, a real Ed25519 key
there passes --check-config, and without it the key is not configured.

The quarterly DR drill of docs/runbook.md (its helm install's --set list over
values-stage.yaml) mounts the S3 credentials its restore names and neither uploads to nor
prunes prod's bucket.

Then proves the check can fail: a misspelt key, a misspelt values key and an invalid value
must each be rejected.
"""
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "cap-verifier")

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location(
    "chart_config", os.path.join(ROOT, "deploy", "tools", "chart-config.py"))
cc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cc)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helmlite  # noqa: E402

# Configuration keys whose values are files or directories mounted into the pod.
PATH_KEYS = [("tls", "cert_file"), ("tls", "key_file"), ("tls", "client_ca_file"),
             ("trust", "dir"), ("trust", "policy_dir"), ("trust", "tsa_ca_file"),
             ("auth", "ca_file"), ("registry", "signing_key_file"),
             ("backup", "signing_key_file"), ("backup", "s3.credentials_file"),
             ("backup", "s3.ca_file")]
# Every optional Secret and ConfigMap the chart mounts for the daemon's configuration.
ALL_MOUNTS = ["tls.clientCASecretName=ca", "oauth2.caConfigMap=idp-ca",
              "registry.signingKeySecretName=k", "backup.signingKeySecretName=backup-key",
              "trust.tsaCAConfigMap=tsa", "backup.s3CAConfigMap=s3-ca"]

# The values that deploy/examples/postgres renders (with values-dev.yaml; README there).
PG_EXAMPLE_SETS = ["registry.externalPostgres.enabled=true",
                   "registry.externalPostgres.urlSecret.name=cap-verifier-registry-db",
                   "registry.externalPostgres.passwordSecret.name=cap-verifier-registry-db",
                   "registry.externalPostgres.caSecret.name=cap-verifier-registry-db-ca",
                   "autoscaling.minReplicas=2", "autoscaling.maxReplicas=20"]
# The registry mode of each environment file.
ENV_MODES = {"dev": "sqlite", "stage": "postgres", "prod": "postgres"}

passed = failed = 0


def result(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, ("\n     " + detail.strip().replace("\n", "\n     "))
                             if detail else ""))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def make_fixtures(fake, capverify, tmp):
    """The mounted files the chart's configuration can name, under `fake`."""
    p = cc.PATHS
    for d in p.values():
        os.makedirs(fake + d, exist_ok=True)
    key, crt = fake + p["tls"] + "/tls.key", fake + p["tls"] + "/tls.crt"
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "2",
             "-subj", "/CN=cap-verifier-service"])
    if r.returncode != 0:
        sys.exit("openssl: " + r.stderr)
    for d in ("clientCA", "idpCA", "trustTSA", "s3CA"):
        shutil.copy(crt, fake + p[d] + "/ca.crt")
    with open(fake + p["s3Credentials"] + "/credentials", "w") as f:
        f.write("[default]\naws_access_key_id = chart-test\naws_secret_access_key = chart-test\n")
    for d in ("registryKey", "backupKey"):
        r = run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", fake + p[d] + "/key.pem"])
        if r.returncode != 0:
            sys.exit("openssl: " + r.stderr)
    r = run([capverify, "keys", "gen", "--out", os.path.join(tmp, "signer"), "--owner",
             "chart test"])
    if r.returncode != 0:
        sys.exit("capverify keys gen: " + r.stderr)
    shutil.copy(os.path.join(tmp, "signer.json"), fake + p["trustKeys"])
    shutil.copy(os.path.join(ROOT, "examples", "packages", "policies", "lksg_v1.ir.json"),
                fake + p["trustPolicies"])


def write_files(files, d, fake):
    """Writes {stem: document} into d, prefixing the mounted paths with `fake`."""
    os.makedirs(d)
    for stem, doc in files.items():
        doc = yaml.safe_load(yaml.safe_dump(doc))  # a copy
        for section, key in PATH_KEYS:
            sec = doc.get(section) or {}
            for part in key.split(".")[:-1]:  # backup.s3.credentials_file
                sec = sec.get(part) or {}
            key = key.split(".")[-1]
            if isinstance(sec.get(key), str) and sec[key].startswith("/"):
                sec[key] = fake + sec[key]
        with open(os.path.join(d, stem + ".yaml"), "w") as f:
            f.write(cc.file_text(doc))


def check_config(daemon, d):
    r = run([daemon, "--check-config", "--config-dir", d])
    return r.returncode, r.stdout + r.stderr


def load_example_configmap():
    with open(os.path.join(ROOT, "deploy", "examples", "20-configmap.yaml")) as f:
        docs = [x for x in yaml.safe_load_all(f) if x]
    cms = [x for x in docs if x.get("kind") == "ConfigMap"
           and x["metadata"]["name"] == "cap-verifier-config"]
    if len(cms) != 1:
        sys.exit("deploy/examples/20-configmap.yaml: no ConfigMap cap-verifier-config")
    return cms[0]["data"]


def documented_env():
    """{CAPV_ name: key} of the rows of docs/configuration.md."""
    with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
        rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|[^\n]*?\| `(CAPV_[A-Z0-9_]+)` \|", f.read(),
                          re.M)
    return {env: key for key, env in rows}


def chart_env_names():
    """{CAPV_ name: [where]} that the Deployment template and the example Deployments set."""
    found = {}
    files = [os.path.join(CHART, "templates", "deployment.yaml")]
    files += sorted(glob.glob(os.path.join(ROOT, "deploy", "examples", "**", "*.yaml"),
                              recursive=True))
    for path in files:
        with open(path) as f:
            for name in re.findall(r"^\s*- name: (CAPV_[A-Z0-9_]+)\s*$", f.read(), re.M):
                found.setdefault(name, []).append(os.path.relpath(path, ROOT))
    return found


def chart_render(env, sets):
    """(the chart's ConfigMap files as cc.render shapes them, the Deployment) for
    values-<env>.yaml and `sets`, rendered from the templates by helmlite."""
    values = helmlite.load_values(CHART, [os.path.join(CHART, "values-%s.yaml" % env)], sets)
    eng = helmlite.Engine(CHART, values, release_name="cap-verifier", namespace="cap-verifier")
    docs = [o for _, o in helmlite.documents(eng.render_all())]
    cm = [o for o in docs if o["kind"] == "ConfigMap" and
          o["metadata"]["name"] == "cap-verifier-config"][0]
    files = {k[:-len(".yaml")]: yaml.safe_load(v) for k, v in cm["data"].items()}
    return files, [o for o in docs if o["kind"] == "Deployment"][0]


def mirror_checks():
    """deploy/tools/chart-config.py renders what the chart's template renders."""
    cases = [(env, []) for env in ("dev", "stage", "prod")] + [("prod", ALL_MOUNTS)]
    for env, sets in cases:
        what = "values-%s.yaml%s" % (env, " with every optional Secret/ConfigMap" if sets
                                     else "")
        chart, _ = chart_render(env, sets)
        try:
            mirror = cc.render(cc.load_values([os.path.join(CHART, "values-%s.yaml" % env)],
                                              sets))
        except cc.ValuesError as e:
            mirror = {"error": str(e)}
        diff = ["%s.yaml: chart %r, chart-config.py %r" % (k, chart.get(k), mirror.get(k))
                for k in sorted(set(chart) | set(mirror)) if chart.get(k) != mirror.get(k)]
        result(not diff, "%s: deploy/tools/chart-config.py renders the chart's ConfigMap" % what,
               "\n".join(diff))


def backup_key_checks(accepted):
    """backup.signingKeySecretName: the Secret mounted, backup.signing_key_file naming its
    key.pem, which the daemon loads; nothing of it without the value."""
    files, dep = chart_render("prod", ["backup.signingKeySecretName=cap-verifier-backup-key"])
    pod = dep["spec"]["template"]["spec"]
    vols = [v for v in pod.get("volumes") or []
            if (v.get("secret") or {}).get("secretName") == "cap-verifier-backup-key"]
    mounts = [m for m in pod["containers"][0].get("volumeMounts") or []
              if vols and m["name"] == vols[0]["name"]]
    key = files["backup"]["backup"].get("signing_key_file")
    result(len(vols) == 1 and len(mounts) == 1 and mounts[0].get("readOnly") is True and
           isinstance(key, str) and os.path.dirname(key) == mounts[0]["mountPath"] and
           os.path.basename(key) == "key.pem",
           "backup.signingKeySecretName: Secret cap-verifier-backup-key mounted read-only, "
           "backup.signing_key_file is its key.pem", "volumes %r\nmounts %r\nbackup %r"
           % (vols, mounts, files["backup"]))
    result(key == cc.PATHS["backupKey"] + "/key.pem",
           "backup.signing_key_file is %s/key.pem (the path the fixtures hold a key at)"
           % cc.PATHS["backupKey"], repr(key))
    accepted("values-prod.yaml with backup.signingKeySecretName (the chart's rendering, an "
             "Ed25519 key at the mounted path)", files)
    files, dep = chart_render("prod", [])
    pod = dep["spec"]["template"]["spec"]
    names = [v["name"] for v in pod.get("volumes") or []]
    paths = [m["mountPath"] for m in pod["containers"][0].get("volumeMounts") or []]
    result("signing_key_file" not in files["backup"]["backup"] and
           cc.PATHS["backupKey"] not in paths and "backup-key" not in names,
           "without backup.signingKeySecretName: no backup.signing_key_file, nothing mounted "
           "at %s" % cc.PATHS["backupKey"], "backup %r\nvolumes %r\nmounts %r"
           % (files["backup"], names, paths))


def drill_sets():
    """The --set list of the quarterly DR drill's install (docs/runbook.md, "Disaster
    recovery": helm upgrade --install ... -n cap-verifier-drill), or None."""
    with open(os.path.join(ROOT, "docs", "runbook.md")) as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        if re.search(r"\bhelm upgrade --install\b.*-n cap-verifier-drill\b", line):
            return re.findall(r"--set\s+(\S+)", line)
    return None


def drill_checks(accepted):
    """The drill restores prod's off-site copy from a pod installed with the stage values:
    the credentials file the restore names must be mounted, and the drill must neither
    upload to nor prune prod's bucket."""
    sets = drill_sets()
    result(sets is not None, "docs/runbook.md: the DR drill's helm install (-n cap-verifier-drill)")
    if sets is None:
        return
    files = cc.render(cc.load_values([os.path.join(CHART, "values-stage.yaml")], sets))
    b = files["backup"]["backup"]
    s3 = b.get("s3") or {}
    result(s3.get("credentials_file") == cc.PATHS["s3Credentials"] + "/credentials" and
           s3.get("url", "").startswith("s3://cap-verifier-backups/prod"),
           "the DR drill (values-stage.yaml + its --set): prod's bucket with the credentials "
           "mounted at /etc/cap-verifier-s3/credentials (the restore's --s3-credentials-file)",
           repr(b))
    result(b.get("interval_seconds") == 0 and s3.get("retain") == 0,
           "the DR drill: no scheduled backups and no pruning in prod's bucket "
           "(backup.interval_seconds=0, backup.s3.retain=0)", repr(b))
    accepted("the DR drill's values (docs/runbook.md)", files)


def scale_checks(accepted):
    """The registry modes and the replica guards (values level; the objects themselves are
    checked by tests/deploy/k8s_models.mjs on deploy/examples and deploy/examples/postgres)."""
    def values(env, sets=()):
        return cc.load_values([os.path.join(CHART, "values-%s.yaml" % env)], list(sets))

    for env, mode in sorted(ENV_MODES.items()):
        v = values(env)
        result(cc.registry_mode(v) == mode, "values-%s.yaml: registry mode %s" % (env, mode),
               "mode %s" % cc.registry_mode(v))
    prod = values("prod")
    auto = prod.get("autoscaling") or {}
    result(auto.get("enabled") is True and auto.get("minReplicas") == 2
           and auto.get("maxReplicas") == 20,
           "values-prod.yaml: the HPA scales 2..20 (docs/runbook.md, \"Scale\")",
           "autoscaling %r" % auto)
    pg = prod["registry"]["externalPostgres"]
    result(pg["urlSecret"]["name"] == "cap-verifier-registry-db" and
           5432 in pg["egress"]["ports"],
           "values-prod.yaml: the URL from Secret cap-verifier-registry-db, egress to 5432",
           "externalPostgres %r" % pg)

    def refused(what, env, sets, needle):
        try:
            cc.render(values(env, sets))
            result(False, "%s: refused (%s)" % (what, needle), "rendered")
        except cc.ValuesError as e:
            result(needle in str(e), "%s: refused (%s)" % (what, needle), str(e))

    # SQLite: exactly one writer, as before
    refused("SQLite mode with replicaCount=2", "dev", ["replicaCount=2"], "exactly one writer")
    refused("SQLite mode with autoscaling.maxReplicas=3", "dev", ["autoscaling.maxReplicas=3"],
            "autoscaling.maxReplicas > 1")
    refused("SQLite mode with autoscaling.minReplicas=2", "dev", ["autoscaling.minReplicas=2"],
            "minReplicas (2) and maxReplicas (1) must both be 1")
    # the database only through registry.externalPostgres: never the daemon keys in the
    # ConfigMap (the chart would stay in the SQLite mode with the URL in plain sight)
    refused("SQLite mode with registry.url", "dev",
            ["registry.url=postgresql://capverify:secret@db.example.com:5432/capverify"],
            "registry.url cannot be set")
    refused("SQLite mode with registry.password_file", "dev",
            ["registry.password_file=/etc/db-password"], "registry.password_file cannot be set")
    refused("PostgreSQL mode with registry.url", "prod",
            ["registry.url=postgresql://capverify@db.example.com:5432/capverify"],
            "registry.url cannot be set")
    # PostgreSQL: the URL Secret is required; more replicas allowed
    refused("PostgreSQL mode without urlSecret.name", "prod",
            ["registry.externalPostgres.urlSecret.name="], "urlSecret.name is required")
    refused("PostgreSQL mode with a password Secret without key", "prod",
            ["registry.externalPostgres.passwordSecret.key="], "passwordSecret.key is required")
    refused("PostgreSQL mode with autoscaling 5..3", "prod",
            ["autoscaling.minReplicas=5", "autoscaling.maxReplicas=3"], "minReplicas (5)")
    accepted("PostgreSQL mode, replicaCount=10 without the HPA", cc.render(values(
        "prod", ["replicaCount=10", "autoscaling.enabled=false"])))
    pg_example = cc.render(values("dev", PG_EXAMPLE_SETS))
    accepted("values-dev.yaml with the deploy/examples/postgres settings", pg_example)

    # the mode never reaches the ConfigMap: the database URL stays in its Secret
    result(pg_example == cc.render(values("dev")),
           "the PostgreSQL mode renders the same ConfigMap as the SQLite mode (dev)")
    sqlite_prod = cc.render(values("prod", ["registry.externalPostgres.enabled=false",
                                            "autoscaling.minReplicas=1",
                                            "autoscaling.maxReplicas=1"]))
    result(cc.render(prod) == sqlite_prod,
           "the PostgreSQL mode renders the same ConfigMap as the SQLite mode (prod)")
    text = yaml.safe_dump(cc.render(prod))
    result("postgres" not in text.lower() and "CAPV_" not in text,
           "values-prod.yaml: no database URL or Secret wiring in the ConfigMap")

    # every environment variable the chart sets is a documented daemon key
    env = chart_env_names()
    docs = documented_env()
    for want in ("CAPV_REGISTRY_URL", "CAPV_REGISTRY_PASSWORD_FILE"):
        result(want in env, "the chart's Deployment sets %s (PostgreSQL mode)" % want)
    missing = ["%s (%s)" % (n, ", ".join(w)) for n, w in sorted(env.items())
               if n not in docs]
    result(not missing, "every CAPV_* variable of the chart's Deployment is documented in "
           "docs/configuration.md (capverifyd --print-config-reference)", "\n".join(missing))
    wrong = ["%s documented for %s" % (n, docs[n]) for n in sorted(env) if n in docs and
             "CAPV_" + docs[n].upper().replace(".", "_") != n]
    result(not wrong, "each of them is CAPV_<SECTION>_<KEY> of its documented key", "\n".join(wrong))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart_config.py CAPVERIFYD CAPVERIFY")
    daemon, capverify = sys.argv[1], sys.argv[2]
    for v in [v for v in os.environ if v.startswith("CAPV_")]:
        del os.environ[v]  # the files alone must be valid
    tmp = tempfile.mkdtemp(prefix="capv-chart-")
    try:
        fake = os.path.join(tmp, "root")
        make_fixtures(fake, capverify, tmp)
        n = 0

        def accepted(what, files):
            nonlocal n
            n += 1
            d = os.path.join(tmp, "cfg%d" % n)
            write_files(files, d, fake)
            rc, out = check_config(daemon, d)
            result(rc == 0, "%s: capverifyd --check-config accepts it" % what, out)
            return d

        def rejected(what, files, needle):
            nonlocal n
            n += 1
            d = os.path.join(tmp, "cfg%d" % n)
            write_files(files, d, fake)
            rc, out = check_config(daemon, d)
            result(rc != 0 and needle in out,
                   "%s: capverifyd --check-config rejects it (%s)" % (what, needle),
                   "exit %d: %s" % (rc, out))

        # 1. every environment
        renders = {}
        for env in ("dev", "stage", "prod"):
            values = cc.load_values([os.path.join(CHART, "values-%s.yaml" % env)], [])
            files = cc.render(values)
            renders[env] = files
            result(sorted(files) == sorted(cc.FILES),
                   "values-%s.yaml: ConfigMap files are %s" % (env, ", ".join(
                       f + ".yaml" for f in cc.FILES)))
            result(all(list(doc) == [stem] for stem, doc in files.items()),
                   "values-%s.yaml: each file holds only its own section" % env)
            accepted("values-%s.yaml" % env, files)

        # 2. the defaults render (a placeholder IdP on example.com) and pass; without an
        # issuer they do not render; with auth off they render and pass
        accepted("values.yaml alone", cc.render(cc.load_values([], [])))
        try:
            cc.render(cc.load_values([], ["oauth2.issuer="]))
            result(False, "values.yaml with oauth2.issuer empty: oauth2.issuer is required")
        except cc.ValuesError as e:
            result("oauth2.issuer is required" in str(e),
                   "values.yaml with oauth2.issuer empty: oauth2.issuer is required", str(e))
        accepted("values.yaml with oauth2.enabled=false",
                 cc.render(cc.load_values([], ["oauth2.enabled=false"])))
        # every optional mount at once (client CA, IdP CA, registry and backup keys, TSA
        # roots, the object store's CA)
        accepted("values-prod.yaml with every optional Secret/ConfigMap", cc.render(
            cc.load_values([os.path.join(CHART, "values-prod.yaml")], ALL_MOUNTS)))
        # the chart's own rendering: chart-config.py mirrors it; the backup signing key
        mirror_checks()
        backup_key_checks(accepted)

        # off-site copies (values-prod.yaml has them): the credentials Secret is required,
        # a CA ConfigMap is optional, and without a url nothing of backup.s3 is rendered
        prod_s3 = cc.render(cc.load_values([os.path.join(CHART, "values-prod.yaml")],
                                           ["backup.s3CAConfigMap=s3-ca"]))
        s3 = prod_s3["backup"]["backup"].get("s3") or {}
        result(s3.get("url") == "s3://cap-verifier-backups/prod" and
               s3.get("credentials_file") == cc.PATHS["s3Credentials"] + "/credentials" and
               s3.get("ca_file") == cc.PATHS["s3CA"] + "/ca.crt",
               "values-prod.yaml: backup.s3 with the mounted credentials file and CA", repr(s3))
        accepted("values-prod.yaml with backup.s3CAConfigMap", prod_s3)
        try:
            cc.render(cc.load_values([os.path.join(CHART, "values-prod.yaml")],
                                     ["backup.s3CredentialsSecret.name="]))
            result(False, "backup.s3.url without a credentials Secret is refused")
        except cc.ValuesError as e:
            result("s3CredentialsSecret.name is required" in str(e),
                   "backup.s3.url without a credentials Secret is refused", str(e))
        dev = cc.render(cc.load_values([os.path.join(CHART, "values-dev.yaml")], []))
        result("s3" not in dev["backup"]["backup"],
               "values-dev.yaml: no backup.s3 without a url", repr(dev["backup"]))

        # 2b. the registry modes and replica guards; the chart's environment variables
        scale_checks(accepted)
        # 2c. the runbook's DR drill (stage values restoring prod's off-site copy)
        drill_checks(accepted)

        # 3. the hand-rendered example ConfigMap = the dev rendering, and accepted
        data = load_example_configmap()
        result(sorted(data) == sorted(f + ".yaml" for f in cc.FILES),
               "deploy/examples/20-configmap.yaml: keys are the ten config files",
               "keys: %s" % sorted(data))
        example = {k[:-len(".yaml")]: yaml.safe_load(v) for k, v in data.items()
                   if k.endswith(".yaml")}
        result(example == renders["dev"],
               "deploy/examples/20-configmap.yaml equals values-dev.yaml rendered",
               "example: %r\nrender:  %r" % (example, renders["dev"]))
        accepted("deploy/examples/20-configmap.yaml", example)

        # 4. the image's defaults
        rc, out = check_config(daemon, os.path.join(ROOT, "deploy", "config"))
        result(rc == 0, "deploy/config (image defaults): capverifyd --check-config accepts it",
               out)

        # 5. the check can fail
        bad = yaml.safe_load(yaml.safe_dump(renders["dev"]))
        bad["cache"]["cache"]["sise"] = 10
        rejected("dev with cache.sise (misspelt key)", bad, "unknown key")
        rejected("values --set cache.sise=10 (misspelt values key)", cc.render(
            cc.load_values([os.path.join(CHART, "values-dev.yaml")], ["cache.sise=10"])),
            "unknown key")
        bad = yaml.safe_load(yaml.safe_dump(renders["prod"]))
        bad["cache"]["cache"]["size"] = 0
        rejected("prod with cache.size 0 (out of range)", bad, "outside")
        bad = yaml.safe_load(yaml.safe_dump(renders["dev"]))
        bad["tls"]["tls"]["cert_file"] = "/etc/cap-verifier-tls/missing.crt"
        rejected("dev with a TLS certificate that is not mounted", bad, "cannot open")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
