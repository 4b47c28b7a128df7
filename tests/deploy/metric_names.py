#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every metric name the alerts, the dashboard and the runbook use is one the daemon exports.

  metric_names.py CAPVERIFYD

Starts capverifyd, sends a few requests, scrapes /metrics from the admin port (and from a
second daemon with HTTPS, a cgroup memory limit and off-site copies, for the metrics only
those export), and
checks
that each cap_verifier_* / process_* name used in deploy/prometheus/alerts.yml,
deploy/grafana/cap-verifier.json and docs/runbook.md is in the scrape (histogram series
_bucket / _sum / _count count as their histogram). In the PromQL of the alerts and the
dashboard, every label a selector matches on must be a label of that metric in the scrape
(or a label Prometheus adds: namespace, instance, job, pod).
Proves it can fail: a made-up name must be reported.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import Daemon, free_port, http  # noqa: E402

from tally import result, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAME = re.compile(r"(?<![A-Za-z0-9_:])((?:cap_verifier|process)_[a-z0-9_]*[a-z0-9])(?![A-Za-z0-9_*(])")
SELECTOR = re.compile(r"((?:cap_verifier|process)_[a-z0-9_]*[a-z0-9])\s*\{([^}]*)\}")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
TARGET_LABELS = {"namespace", "instance", "job", "pod", "container", "service"}
SUFFIXES = ("_bucket", "_sum", "_count")

def parse_scrape(text):
    """{name: type} from # TYPE lines, {series name: set(label names)} from samples."""
    types, labels = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(None, 3)
            types[name] = typ.strip()
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
            if m:
                names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
                labels.setdefault(m.group(1), set()).update(names)
    return types, labels


def exported(name, types, labels):
    """The exported family a used name refers to, or None."""
    if name in types or name in labels:
        return name
    for suf in SUFFIXES:
        base = name[: -len(suf)]
        if name.endswith(suf) and types.get(base) in ("histogram", "summary"):
            return base
    return None


def uses():
    """[(source, name)] and [(source, metric, {labels})] of the three documents."""
    names, selectors = [], []
    with open(os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")) as f:
        rules = yaml.safe_load(f)
    for g in rules["groups"]:
        for r in g["rules"]:
            src = "alerts.yml %s" % r.get("alert", r.get("record"))
            names += [(src, n) for n in NAME.findall(r["expr"])]
            selectors += [(src, m, set(MATCHER.findall(body)))
                          for m, body in SELECTOR.findall(r["expr"])]

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    names.extend((where, n) for n in NAME.findall(v))
                    selectors.extend((where, m, set(MATCHER.findall(b)))
                                     for m, b in SELECTOR.findall(v))
                else:
                    walk(v, "%s %s" % (where.split(" ")[0], node.get("title", ""))
                         if "title" in node else where)
        elif isinstance(node, list):
            for v in node:
                walk(v, where)

    with open(os.path.join(ROOT, "deploy", "grafana", "cap-verifier.json")) as f:
        walk(json.load(f), "cap-verifier.json")
    with open(os.path.join(ROOT, "docs", "runbook.md")) as f:
        for i, line in enumerate(f, 1):
            names += [("runbook.md:%d" % i, n) for n in NAME.findall(line)]
    return names, selectors


def problems(names, selectors, types, labels):
    """(names not exported, labels a metric does not have, metrics whose labels are unknown)"""
    missing = sorted({"%s (%s)" % (n, src) for src, n in names
                      if exported(n, types, labels) is None})
    bad, unchecked = [], set()
    for src, m, used in selectors:
        fam = exported(m, types, labels)
        if fam is None:
            continue  # reported as missing
        have = labels.get(m, set()) | labels.get(fam, set()) | labels.get(fam + "_bucket", set())
        if not any(k in labels for k in (m, fam, fam + "_bucket")):
            unchecked.add(m)  # declared, but no sample yet (e.g. no auth failure so far)
            continue
        for lbl in sorted(used - have - TARGET_LABELS):
            bad.append("%s: %s has no label %s (has %s)" % (src, m, lbl, ", ".join(sorted(have))))
    return missing, bad, sorted(unchecked)


def make_jwks(d):
    """A one-key JWKS file (EC P-256), so the daemon runs with authentication on."""
    key = os.path.join(d, "k.pem")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    key], check=True)
    der = subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    xy = der[-64:]  # SubjectPublicKeyInfo ends with the point 04 || X || Y

    def b64u(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    path = os.path.join(d, "jwks.json")
    with open(path, "w") as f:
        json.dump({"keys": [{"kty": "EC", "crv": "P-256", "x": b64u(xy[:32]),
                             "y": b64u(xy[32:]), "kid": "deploy-test", "use": "sig",
                             "alg": "ES256"}]}, f)
    return path


def make_tls(d):
    """--set flags for HTTPS on the API port with a fresh self-signed certificate."""
    key, crt = os.path.join(d, "tls.key"), os.path.join(d, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "30", "-subj", "/CN=127.0.0.1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return ["tls.cert_file=" + crt, "tls.key_file=" + key]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: metric_names.py CAPVERIFYD")
    tmp = tempfile.mkdtemp(prefix="capv-metrics-")
    sets = ["auth.enabled=true", "auth.issuer=https://idp.test/", "auth.audiences=cap-verifier",
            "auth.jwks_url=file://" + make_jwks(tmp)]
    with Daemon(sys.argv[1], sets=sets) as d:
        # traffic, so the per-route, per-code and per-reason series have samples
        http(d.url("/healthz", admin=False))
        http(d.url("/verify", admin=False), data=b"not a package",
             headers={"Content-Type": "application/zip"})
        http(d.url("/verify", admin=False), data=b"{}",
             headers={"Content-Type": "text/plain", "Authorization": "Bearer x.y.z"})
        status, text = http(d.url("/metrics"))
    # the metrics a daemon exports only with TLS on the API port and under a cgroup memory
    # limit (a fake cgroup tree, read as the real one: CAPVD_CGROUP_ROOT)
    cg = os.path.join(tmp, "cgroup")
    os.makedirs(cg)
    with open(os.path.join(cg, "memory.max"), "w") as f:
        f.write("536870912\n")
    # ... and with off-site copies configured (backup.s3.*: the upload metrics; the store
    # need not answer for them to be exported)
    s3 = ["backup.s3.url=s3://capv-metrics/prod", "backup.s3.path_style=true",
          "backup.s3.endpoint=http://127.0.0.1:%d" % free_port()]
    s3_env = {"AWS_ACCESS_KEY_ID": "metric-names", "AWS_SECRET_ACCESS_KEY": "metric-names"}
    with Daemon(sys.argv[1], env=dict(s3_env, CAPVD_CGROUP_ROOT=cg),
                sets=make_tls(tmp) + s3) as d:
        status2, text2 = http(d.url("/metrics"))
    shutil.rmtree(tmp, ignore_errors=True)
    result(status == 200 and status2 == 200, "GET /metrics on the admin port answers 200",
           [str(status), str(status2)])
    types, labels = parse_scrape(text + text2)
    print("     scraped %d metric families" % len(types))
    names, selectors = uses()
    missing, bad, unchecked = problems(names, selectors, types, labels)
    result(not missing, "alerts, dashboard and runbook: every metric name used is exported by "
           "capverifyd (%d uses of %d names)" % (len(names), len({n for _, n in names})), missing)
    result(not bad, "alerts and dashboard: every label matched in the PromQL is a label of its "
           "metric%s" % ((" (no samples yet, not checked: %s)" % ", ".join(unchecked))
                         if unchecked else ""), bad)
    # the check can fail
    m2, b2, _ = problems([("self-test", "cap_verifier_made_up_total")],
                         [("self-test", "cap_verifier_requests_total", {"outcome"})],
                         types, labels)
    result(len(m2) == 1 and len(b2) == 1,
           "self-test: a made-up metric name and a made-up label are reported", m2 + b2)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
