#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The whole chart renders, for every values file and any release name, into objects that
fit together; its values schema and README keep up with values.yaml.

  chart_render.py                 the checks (ctest deploy.chart_render)
  chart_render.py --write-readme  regenerates the values table of the chart's README.md

No helm runs here: tests/deploy/helmlite.py interprets the templates (strictly: anything it
does not know fails). Checks:

- values.schema.json is a valid draft-07 schema; values.yaml merged with each of
  values-dev/stage/prod.yaml validates; every key of values.yaml is declared in it with a
  description; broken values are rejected (a string replicaCount, an unknown top-level key,
  a bad enum, a misspelt camelCase key in a daemon section, a port out of range), while a
  daemon key that values.yaml does not list (lower_snake_case) passes, as the chart copies
  it to the daemon;
- every template renders with values.yaml alone, with each environment file, and with every
  optional feature on, for the release cap-verifier and for prod-eu; the output is YAML
  objects with apiVersion, kind, metadata.name and the release's namespace;
- names: the "cap-verifier.fullname" define follows Helm's conventions (fullnameOverride,
  nameOverride, a release name containing the chart name, 63 characters, no trailing "-"),
  every object's name derives from it, and nothing is named cap-verifier* for another
  release; Secrets and ConfigMaps named in the values stay as given;
- references resolve: the Deployment's ConfigMap, PVC and ServiceAccount, the Service's and
  the NetworkPolicy's and the PDB's selectors match the pod labels (and not another
  release's pods), the HPA targets the Deployment, the Ingress backend is the Service's API
  port, the ServiceMonitor selects the Service and its jobLabel gives job cap-verifier (the
  alerts' job) for any release name;
- what a pod needs, in every case: enableServiceLinks false (the daemon refuses an unknown
  CAPV_<section>_* variable, which a service link of a Service named capv-<section>... would
  be), an nginx Ingress whose proxy-body-size lets server.max_body_bytes through (ingress-
  nginx's own limit is 1m), TSA roots (trust.tsa_ca_file) wherever verify.require_timestamp
  is on, no database URL or password file (registry.url, registry.password_file) in the
  ConfigMap, and every file the configuration names (a *_file key: keys, certificates,
  credentials) inside a read-only mount of the container;
- the chart refuses (fail, with a message naming the way out) registry.url or
  registry.password_file in the values, in either mode, and the replica guards: SQLite mode
  with replicaCount, autoscaling.minReplicas or autoscaling.maxReplicas other than 1,
  PostgreSQL mode without the URL Secret or with minReplicas above maxReplicas;
- values-dev.yaml, release cap-verifier (namespace.create=true) renders exactly the objects
  of deploy/examples/*.yaml (compared as YAML, the ConfigMap's files too), apart from the
  operator's trust ConfigMaps; with the PostgreSQL-mode settings of deploy/examples/README.md
  those of deploy/examples/postgres;
- the README's values table is the one generated from values.yaml and the schema;
- with node and tests/deploy/node_modules present, every rendered object is valid for its
  Kubernetes API schema (npm kubernetes-models, as tests/deploy/k8s_models.mjs);
- the check can fail: a hard-coded name, an Ingress on the wrong Service, a changed example,
  an unknown template function, a stale README table, service links, a 1m body limit,
  required timestamps without TSA roots and a key file that is not mounted are each
  reported.
"""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import helmlite  # noqa: E402
from tally import result, summary  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "cap-verifier")
EXAMPLES = os.path.join(ROOT, "deploy", "examples")
README = os.path.join(CHART, "README.md")
ENVS = ("dev", "stage", "prod")
# deploy/examples/README.md: the values of deploy/examples/postgres (with values-dev.yaml)
PG_EXAMPLE_SETS = ["registry.externalPostgres.enabled=true",
                   "registry.externalPostgres.urlSecret.name=cap-verifier-registry-db",
                   "registry.externalPostgres.passwordSecret.name=cap-verifier-registry-db",
                   "registry.externalPostgres.caSecret.name=cap-verifier-registry-db-ca",
                   "autoscaling.minReplicas=2", "autoscaling.maxReplicas=20"]
# every optional object and mount at once
ALL_ON = {
    "namespace": {"create": True},
    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "tls": {"clientCASecretName": "client-ca"},
    "oauth2": {"caConfigMap": "idp-ca",
               "jwks_url": "https://idp.example.com:8443/realms/cap/protocol/openid-connect/certs"},
    "registry": {"signingKeySecretName": "registry-key"},
    "trust": {"tsaCAConfigMap": "tsa-ca"},
    "backup": {"s3": {"url": "s3://bucket/prefix", "endpoint": "https://minio.example.com:9000"},
               "s3CredentialsSecret": {"name": "backup-s3"}, "s3CAConfigMap": "s3-ca",
               "signingKeySecretName": "backup-key"},
    "imagePullSecrets": [{"name": "pull"}],
    "podLabels": {"team": "verify"},
    "podAnnotations": {"example.com/owner": "verify"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "verify",
                     "effect": "NoSchedule"}],
    "networkPolicy": {"extraEgress": [{"ports": [{"protocol": "TCP", "port": 4317}]}]},
    "podDisruptionBudget": {"minAvailable": 1},
}

def chart_file(name):
    return os.path.join(CHART, name)


def values_for(env=None, sets=(), overrides=None, chart=CHART):
    files = [os.path.join(chart, "values-%s.yaml" % env)] if env else []
    return helmlite.load_values(chart, files, sets, overrides)


def render(values, release="cap-verifier", namespace=None, chart=CHART, notes=False):
    """[(template, object)], the NOTES text (notes=True)."""
    eng = helmlite.Engine(chart, values, release_name=release,
                          namespace=namespace or release)
    out = eng.render_all(notes=notes)
    return helmlite.documents(out), out.get("templates/NOTES.txt", "")


# ---- names --------------------------------------------------------------------------------

def expected_fullname(release, name_override="", fullname_override="", chart="cap-verifier"):
    """Helm's convention, written out independently of the template."""
    if fullname_override:
        return fullname_override[:63].rstrip("-") if fullname_override[:63].endswith("-") \
            else fullname_override[:63]
    name = name_override or chart
    full = release if name in release else "%s-%s" % (release, name)
    full = full[:63]
    return full[:-1] if full.endswith("-") else full


def suffixed(full, suffix, cut):
    stem = full[:cut]
    stem = stem[:-1] if stem.endswith("-") else stem
    return "%s-%s" % (stem, suffix)


def expected_names(full):
    """{kind: name} of the chart's objects for a fullname."""
    return {
        "Deployment": full, "HorizontalPodAutoscaler": full, "PodDisruptionBudget": full,
        "NetworkPolicy": full, "Ingress": full, "ServiceAccount": full,
        "ServiceMonitor": full, "PrometheusRule": full,
        "Service": suffixed(full, "service", 55),
        "ConfigMap": suffixed(full, "config", 56),
        "PersistentVolumeClaim": suffixed(full, "data", 58),
    }


def name_problems(docs, full, namespace):
    want = expected_names(full)
    probs = []
    for rel, o in docs:
        md = o.get("metadata") or {}
        k = o.get("kind")
        if k == "Namespace":
            if md.get("name") != namespace:
                probs.append("%s: Namespace %s, want the release's %s" % (rel, md.get("name"),
                                                                            namespace))
            continue
        if k not in want:
            probs.append("%s: %s is no kind the naming check knows" % (rel, k))
        elif md.get("name") != want[k]:
            probs.append("%s: %s named %r, want %r (from the fullname %r)"
                         % (rel, k, md.get("name"), want[k], full))
        if len(md.get("name") or "") > 63:
            probs.append("%s: %s name longer than 63" % (rel, k))
        if md.get("namespace") != namespace:
            probs.append("%s: %s in namespace %r, want %r" % (rel, k, md.get("namespace"),
                                                               namespace))
    return probs


def shape_problems(docs):
    probs = []
    for rel, o in docs:
        if not isinstance(o, dict):
            probs.append("%s: a %s, not an object" % (rel, type(o).__name__))
            continue
        for k in ("apiVersion", "kind"):
            if not isinstance(o.get(k), str):
                probs.append("%s: no %s" % (rel, k))
        if not isinstance((o.get("metadata") or {}).get("name"), str):
            probs.append("%s: no metadata.name" % rel)
    return probs


def subset(sel, labels):
    return bool(sel) and all((labels or {}).get(k) == v for k, v in sel.items())


def by_kind(docs):
    out = {}
    for _, o in docs:
        out.setdefault(o["kind"], []).append(o)
    return out


def reference_problems(docs, values, release):
    """Whether the objects' references resolve (see the module docstring)."""
    k = by_kind(docs)
    probs = []

    def one(kind):
        objs = k.get(kind) or []
        if len(objs) != 1:
            probs.append("expected one %s, rendered %d" % (kind, len(objs)))
            return None
        return objs[0]

    dep, svc, cm = one("Deployment"), one("Service"), one("ConfigMap")
    if not (dep and svc and cm):
        return probs
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    if not subset(dep["spec"]["selector"]["matchLabels"], labels):
        probs.append("Deployment: selector does not match its pod labels")
    if labels.get("app.kubernetes.io/instance") != release or \
            dep["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/instance") != release:
        probs.append("Deployment: pods and selector must carry app.kubernetes.io/instance=%s"
                     % release)
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    if (vols.get("config") or {}).get("configMap", {}).get("name") != cm["metadata"]["name"]:
        probs.append("Deployment: volume config is not ConfigMap %s" % cm["metadata"]["name"])
    pvcs = k.get("PersistentVolumeClaim") or []
    claim = (vols.get("data") or {}).get("persistentVolumeClaim", {}).get("claimName")
    if pvcs:
        if claim != pvcs[0]["metadata"]["name"]:
            probs.append("Deployment: volume data claims %r, the PVC is %r"
                         % (claim, pvcs[0]["metadata"]["name"]))
    elif claim:
        probs.append("Deployment: claims PVC %r, which is not rendered" % claim)
    sa = (k.get("ServiceAccount") or [None])[0]
    want_sa = values["serviceAccount"].get("name") or (
        sa["metadata"]["name"] if sa else "default")
    if spec.get("serviceAccountName") != want_sa or \
            (sa and sa["metadata"]["name"] != spec.get("serviceAccountName")):
        probs.append("Deployment: serviceAccountName %r, want %r"
                     % (spec.get("serviceAccountName"), want_sa))
    if not subset(svc["spec"]["selector"], labels):
        probs.append("Service: selector %r does not match the pod labels" % svc["spec"]["selector"])
    for kind, path in (("NetworkPolicy", ("podSelector", "matchLabels")),
                       ("PodDisruptionBudget", ("selector", "matchLabels"))):
        for o in k.get(kind) or []:
            sel = o["spec"]
            for p in path:
                sel = sel.get(p) or {}
            if not subset(sel, labels):
                probs.append("%s: selector %r does not match the pod labels" % (kind, sel))
    for o in k.get("HorizontalPodAutoscaler") or []:
        t = o["spec"]["scaleTargetRef"]
        if (t.get("apiVersion"), t.get("kind"), t.get("name")) != \
                ("apps/v1", "Deployment", dep["metadata"]["name"]):
            probs.append("HorizontalPodAutoscaler: targets %r, not Deployment %s"
                         % (t, dep["metadata"]["name"]))
    api_port = [p for p in svc["spec"]["ports"] if p["name"] == "api"]
    for o in k.get("Ingress") or []:
        for r in o["spec"]["rules"]:
            for p in r["http"]["paths"]:
                b = p["backend"]["service"]
                if b.get("name") != svc["metadata"]["name"] or not api_port or \
                        b.get("port", {}).get("number") != api_port[0]["port"]:
                    probs.append("Ingress: backend %r is not Service %s port %s"
                                 % (b, svc["metadata"]["name"],
                                    api_port[0]["port"] if api_port else "?"))
    for o in k.get("ServiceMonitor") or []:
        s = o["spec"]
        if not subset(s["selector"]["matchLabels"], svc["metadata"]["labels"]):
            probs.append("ServiceMonitor: selector does not select the Service")
        if svc["metadata"]["labels"].get(s.get("jobLabel")) != "cap-verifier":
            probs.append("ServiceMonitor: jobLabel %r gives job %r; the alerts select "
                         "job=\"cap-verifier\"" % (s.get("jobLabel"),
                                                   svc["metadata"]["labels"].get(s.get("jobLabel"))))
    # the Secrets and ConfigMaps the values name stay as given
    given = {"tls": values["tls"].get("secretName"),
             "client-ca": values["tls"].get("clientCASecretName"),
             "registry-key": values["registry"].get("signingKeySecretName"),
             "backup-key": values["backup"].get("signingKeySecretName"),
             "trust-keys": values["trust"].get("keysConfigMap"),
             "trust-policies": values["trust"].get("policiesConfigMap"),
             "trust-tsa": values["trust"].get("tsaCAConfigMap"),
             "idp-ca": values["oauth2"].get("caConfigMap")}
    for vol, name in given.items():
        if not name:
            continue
        v = vols.get(vol) or {}
        have = (v.get("secret") or {}).get("secretName") or (v.get("configMap") or {}).get("name")
        if have != name:
            probs.append("Deployment: volume %s names %r, the values say %r" % (vol, have, name))
    for o in k.get("Ingress") or []:
        if values["ingress"].get("tlsSecretName") and \
                o["spec"]["tls"][0]["secretName"] != values["ingress"]["tlsSecretName"]:
            probs.append("Ingress: tls secretName is not ingress.tlsSecretName")
    return probs


NGINX_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def nginx_size(text):
    """Bytes of an nginx size ("16m", "1024k", "0" = no limit: None); ValueError if none."""
    m = re.fullmatch(r"([0-9]+)([kKmMgG]?)", str(text).strip())
    if not m:
        raise ValueError(text)
    n = int(m.group(1)) * NGINX_UNITS[m.group(2).lower()]
    return None if n == 0 else n


def config_files(docs):
    """{section: mapping} of the rendered ConfigMap's files."""
    cms = [o for _, o in docs if o["kind"] == "ConfigMap"]
    out = {}
    for k, text in ((cms[0].get("data") or {}).items() if cms else []):
        doc = yaml.safe_load(text) or {}
        stem = k.rsplit(".", 1)[0]
        out[stem] = doc.get(stem) or {}
    return out


def file_keys(mapping, prefix):
    """[(dotted key, value)] of the *_file keys in a configuration section, nested ones too."""
    out = []
    for k, v in (mapping or {}).items():
        if isinstance(v, dict):
            out += file_keys(v, "%s.%s" % (prefix, k))
        elif k.endswith("_file"):
            out.append(("%s.%s" % (prefix, k), v))
    return out


def policy_problems(docs):
    """What every pod needs, whatever the values (see the module docstring)."""
    k = by_kind(docs)
    cfg = config_files(docs)
    probs = []
    for dep in k.get("Deployment") or []:
        if dep["spec"]["template"]["spec"].get("enableServiceLinks") is not False:
            probs.append("Deployment: enableServiceLinks must be false: service links inject "
                         "<SERVICE>_SERVICE_HOST variables, and a Service named capv-<section>... "
                         "gives a CAPV_<SECTION>_... one the daemon refuses (exit 3)")
    max_body = int(float((cfg.get("server") or {}).get("max_body_bytes", 16777216)))
    for ing in k.get("Ingress") or []:
        if ing["spec"].get("ingressClassName") != "nginx":
            continue
        text = ((ing["metadata"].get("annotations") or {})
                .get("nginx.ingress.kubernetes.io/proxy-body-size", "1m"))
        try:
            limit = nginx_size(text)
        except ValueError:
            probs.append("Ingress: proxy-body-size %r is no nginx size" % text)
            continue
        if limit is not None and limit < max_body:
            probs.append("Ingress: ingress-nginx's body limit %s (proxy-body-size) is below "
                         "server.max_body_bytes %d: larger bodies get nginx's 413"
                         % (text, max_body))
    if (cfg.get("verify") or {}).get("require_timestamp") is True and \
            not (cfg.get("trust") or {}).get("tsa_ca_file"):
        probs.append("ConfigMap: verify.require_timestamp without TSA roots (trust.tsa_ca_file: "
                     "set trust.tsaCAConfigMap)")
    for key in ("url", "password_file"):
        if key in (cfg.get("registry") or {}):
            probs.append("ConfigMap: registry.%s in the ConfigMap (the database belongs in "
                         "registry.externalPostgres)" % key)
    for dep in k.get("Deployment") or []:
        mounts = [m["mountPath"].rstrip("/") + "/" for m in
                  dep["spec"]["template"]["spec"]["containers"][0].get("volumeMounts") or []
                  if m.get("readOnly") is True]
        for section, mapping in sorted(cfg.items()):
            for key, path in file_keys(mapping, section):
                if not any(str(path).startswith(m) for m in mounts):
                    probs.append("ConfigMap: %s %r is in no read-only mount of the container "
                                 "(a Secret or ConfigMap the values name)" % (key, path))
    return probs


# values the chart must refuse: (what, env, --set list, text the failure must contain)
REFUSED = [
    ("SQLite mode (dev) with registry.url", "dev",
     ["registry.url=postgresql://capverify:secret@db.example.com:5432/capverify"],
     "registry.url cannot be set"),
    ("SQLite mode (dev) with registry.password_file", "dev",
     ["registry.password_file=/etc/db-password"], "registry.password_file cannot be set"),
    ("PostgreSQL mode (prod) with registry.url", "prod",
     ["registry.url=postgresql://capverify@db.example.com:5432/capverify"],
     "registry.url cannot be set"),
    ("SQLite mode with replicaCount=2", "dev", ["replicaCount=2"], "exactly one writer"),
    ("SQLite mode with autoscaling.maxReplicas=3", "dev", ["autoscaling.maxReplicas=3"],
     "autoscaling.maxReplicas > 1"),
    ("SQLite mode with autoscaling.minReplicas=2", "dev", ["autoscaling.minReplicas=2"],
     "minReplicas (2) and maxReplicas (1) must both be 1"),
    ("PostgreSQL mode without urlSecret.name", "prod",
     ["registry.externalPostgres.urlSecret.name="], "urlSecret.name is required"),
    ("PostgreSQL mode with autoscaling 5..3", "prod",
     ["autoscaling.minReplicas=5", "autoscaling.maxReplicas=3"], "minReplicas (5)"),
]


def check_refusals():
    for what, env, sets, needle in REFUSED:
        try:
            render(values_for(env, sets))
            result(False, "the chart refuses %s (%s)" % (what, needle), ["rendered"])
        except helmlite.TemplateError as e:
            result(("fail: " in str(e) or "required: " in str(e)) and needle in str(e),
                   "the chart refuses %s (%s)" % (what, needle), [str(e)])
    # the registry keys are refused only when set: null (helm's delete) renders
    try:
        render(values_for("dev", ["registry.url=null", "registry.password_file=null"]))
        result(True, "registry.url=null / registry.password_file=null (unset) render")
    except helmlite.TemplateError as e:
        result(False, "registry.url=null / registry.password_file=null (unset) render", [str(e)])


# ---- examples -------------------------------------------------------------------------------

def load_objects(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += [(os.path.relpath(p, ROOT), d) for d in yaml.safe_load_all(f) if d]
    return out


def semantic(o):
    """An object for comparison: ConfigMap files parsed as YAML too."""
    o = copy.deepcopy(o)
    if o.get("kind") == "ConfigMap":
        o["data"] = {k: yaml.safe_load(v) if k.endswith((".yaml", ".yml")) else v
                     for k, v in (o.get("data") or {}).items()}
    return o


def diff(a, b, path=""):
    if type(a) is not type(b):
        return ["%s: rendered %r, example %r" % (path or "/", a, b)]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = "%s.%s" % (path, k)
            if k not in a:
                out.append("%s: only in the example" % p)
            elif k not in b:
                out.append("%s: only rendered (%r)" % (p, a[k]))
            else:
                out += diff(a[k], b[k], p)
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return ["%s: rendered %d items, example %d" % (path, len(a), len(b))]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, "%s[%d]" % (path, i))]
    return [] if a == b else ["%s: rendered %r, example %r" % (path, a, b)]


def example_problems(rendered, examples, operator_cms=()):
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    r = {key(o): o for _, o in rendered}
    e = {key(o): (f, o) for f, o in examples}
    probs = []
    for k in sorted(set(r) | set(e)):
        if k not in e:
            probs.append("%s/%s: rendered, not in the examples" % k)
        elif k not in r:
            if not (k[0] == "ConfigMap" and k[1] in operator_cms):
                probs.append("%s: %s/%s is not rendered by the chart" % (e[k][0], k[0], k[1]))
        else:
            probs += ["%s %s/%s%s" % (e[k][0], k[0], k[1], d)
                      for d in diff(semantic(r[k]), semantic(e[k][1]))]
    return probs


# ---- values schema and README -----------------------------------------------------------------

def schema():
    with open(chart_file("values.schema.json")) as f:
        return json.load(f)


def schema_errors(values, sch=None):
    v = jsonschema.Draft7Validator(sch or schema())
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "/", e.message)
            for e in sorted(v.iter_errors(values), key=lambda e: list(map(str, e.path)))]


def leaves(values, sch, prefix=""):
    """[(dotted key, value, schema node)] of values.yaml: maps the schema gives properties
    are descended, anything else is a leaf. Schema properties values.yaml lacks are
    included with the value None-marker."""
    out = []
    props = sch.get("properties") or {}
    keys = list(values) + [k for k in props if k not in values]
    for k in keys:
        node = props.get(k)
        v = values.get(k, Unset)
        if node and node.get("type") == "object" and node.get("properties") and \
                isinstance(v, dict):
            out += leaves(v, node, prefix + k + ".")
        else:
            out.append((prefix + k, v, node))
    return out


class Unset:
    pass


def type_text(node):
    if "enum" in node:
        return " / ".join("`%s`" % x for x in node["enum"])
    if "oneOf" in node:
        return " or ".join(type_text(n) for n in node["oneOf"])
    t = node.get("type", "any")
    t = " or ".join(t) if isinstance(t, list) else t
    if t == "array" and isinstance(node.get("items"), dict) and "type" in node["items"]:
        t = "list of %s" % node["items"]["type"]
    if t == "object" and isinstance(node.get("additionalProperties"), dict):
        t = "map of %s" % node["additionalProperties"].get("type", "any")
    rng = []
    if "minimum" in node:
        rng.append(">= %s" % node["minimum"])
    if "maximum" in node:
        rng.append("<= %s" % node["maximum"])
    return t + (" (%s)" % ", ".join(rng) if rng else "")


def default_text(v):
    if v is Unset:
        return "(unset)"
    text = json.dumps(v, separators=(", ", ": "))
    return "`%s`" % text


def values_table():
    with open(chart_file("values.yaml")) as f:
        vals = yaml.safe_load(f)
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, v, node in leaves(vals, schema()):
        node = node or {}
        rows.append("| `%s` | %s | %s | %s |" % (
            key, type_text(node).replace("|", "\\|"), default_text(v).replace("|", "\\|"),
            node.get("description", "").replace("|", "\\|")))
    return "\n".join(rows) + "\n"


BEGIN, END = "<!-- values-table:begin", "<!-- values-table:end -->"


def readme_table(text):
    m = re.search(re.escape(BEGIN) + r"[^\n]*\n(.*?)" + re.escape(END), text, re.S)
    return m.group(1) if m else None


def write_readme():
    with open(README) as f:
        text = f.read()
    if readme_table(text) is None:
        sys.exit("%s: no %s ... %s markers" % (README, BEGIN, END))
    new = re.sub(r"(" + re.escape(BEGIN) + r"[^\n]*\n)(.*?)(" + re.escape(END) + ")",
                 lambda m: m.group(1) + values_table() + m.group(3), text, flags=re.S)
    with open(README, "w") as f:
        f.write(new)
    print("wrote the values table of %s" % os.path.relpath(README, ROOT))


# ---- Kubernetes API schemas (npm kubernetes-models), optional -----------------------------------

NODE_CHECK = r"""
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
const groups = { v1: "CoreV1", "apps/v1": "AppsV1", "networking.k8s.io/v1": "NetworkingV1",
  "policy/v1": "PolicyV1", "autoscaling/v2": "AutoscalingV2" };
const req = createRequire(path.join(process.env.CAPV_DEPLOY_TESTS, "package.json"));
const dir = path.dirname(req.resolve("kubernetes-models"));
const objs = JSON.parse(fs.readFileSync(0, "utf8"));
const errs = [];
for (const [where, o] of objs) {
  const g = groups[o.apiVersion];
  if (!g) continue;  // monitoring.coreos.com: checked by chart_monitoring.py
  const f = path.join(dir, "_schemas", `IoK8sApi${g}${o.kind}.mjs`);
  if (!fs.existsSync(f)) { errs.push(`${where}: no schema for ${o.apiVersion} ${o.kind}`); continue; }
  const v = (await import(pathToFileURL(f).href)).validate;
  if (!v(o)) for (const e of v.errors) errs.push(`${where}: ${o.kind} ${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}
console.log(JSON.stringify(errs));
"""


def k8s_schema_errors(objs):
    node = os.environ.get("CAPV_NODE", "")
    if not (node and os.path.isfile(node) and os.access(node, os.X_OK)):
        node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(HERE, "node_modules", "kubernetes-models")):
        return None
    r = subprocess.run([node, "--input-type=module", "-e", NODE_CHECK],
                       input=json.dumps(objs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=dict(os.environ, CAPV_DEPLOY_TESTS=HERE))
    if r.returncode != 0:
        return ["node: " + r.stderr.strip()]
    return json.loads(r.stdout)


# ---- the checks ---------------------------------------------------------------------------------

def check_schema():
    sch = schema()
    try:
        jsonschema.Draft7Validator.check_schema(sch)
        ok = sch.get("$schema") == "http://json-schema.org/draft-07/schema#"
        result(ok, "values.schema.json is a draft-07 JSON Schema", [sch.get("$schema")])
    except jsonschema.SchemaError as e:
        result(False, "values.schema.json is a draft-07 JSON Schema", [str(e)])
        return
    for env in (None,) + ENVS:
        what = "values.yaml" + (" + values-%s.yaml" % env if env else "")
        errs = schema_errors(values_for(env), sch)
        result(not errs, "%s validates against values.schema.json" % what, errs)
    with open(chart_file("values.yaml")) as f:
        vals = yaml.safe_load(f)
    undeclared = [k for k, _, node in leaves(vals, sch) if not node or not node.get("description")]
    result(not undeclared, "every key of values.yaml is declared in the schema, with a "
           "description", undeclared)
    base = values_for("prod")
    bad = [("a string replicaCount", {"replicaCount": "2"}, "replicaCount"),
           ("an unknown top-level key", {"replicas": 2}, "replicas"),
           ("a bad enum (image.pullPolicy)", {"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
           ("a bad enum (logging.level)", {"logging": {"level": "verbose"}}, "level"),
           ("a misspelt camelCase key in a daemon section",
            {"oauth2": {"caConfigMapp": "x"}}, "caConfigMapp"),
           ("a port out of range", {"ports": {"admin": 70000}}, "admin"),
           ("a negative autoscaling.minReplicas", {"autoscaling": {"minReplicas": 0}},
            "minReplicas"),
           ("a string for a daemon integer", {"cache": {"size": "big"}}, "size")]
    for what, over, needle in bad:
        errs = schema_errors(helmlite.merge(base, over), sch)
        result(any(needle in e for e in errs), "values.schema.json rejects %s" % what,
               errs or ["accepted"])
    errs = schema_errors(helmlite.merge(base, {"registry": {"record_flush_ms": 10},
                                               "server": {"rate_limit_per_second": 50}}), sch)
    result(not errs, "values.schema.json lets daemon keys values.yaml does not list through "
           "(registry.record_flush_ms, server.rate_limit_per_second)", errs)


def check_renders():
    cases = [("values.yaml", None, {}), ("values-dev.yaml", "dev", {}),
             ("values-stage.yaml", "stage", {}), ("values-prod.yaml", "prod", {}),
             ("values.yaml, every option on", None, ALL_ON),
             ("values-prod.yaml, every option on", "prod", ALL_ON),
             ("values-prod.yaml, autoscaling off, 3 replicas", "prod",
              {"autoscaling": {"enabled": False}, "replicaCount": 3}),
             ("values.yaml, optional objects off", None,
              {"ingress": {"enabled": False}, "networkPolicy": {"enabled": False},
               "podDisruptionBudget": {"enabled": False}, "autoscaling": {"enabled": False},
               "serviceAccount": {"create": False}, "diagnosticMode": {"enabled": True},
               "oauth2": {"enabled": False}})]
    all_objs = []
    for what, env, over in cases:
        values = values_for(env, overrides=over)
        errs = schema_errors(values)
        if errs:
            result(False, "%s: the test's values validate" % what, errs)
            continue
        for release in ("cap-verifier", "prod-eu"):
            label = "%s, release %s" % (what, release)
            try:
                docs, notes = render(values, release, notes=True)
            except helmlite.TemplateError as e:
                result(False, "%s: every template renders" % label, [str(e)])
                continue
            kinds = sorted({o["kind"] for _, o in docs}) if not shape_problems(docs) else []
            result(not shape_problems(docs),
                   "%s: renders %d objects (%s)" % (label, len(docs), ", ".join(kinds)),
                   shape_problems(docs))
            full = expected_fullname(release)
            probs = name_problems(docs, full, release)
            if release != "cap-verifier":
                probs += ["%s: %s named %s" % (r, o["kind"], o["metadata"]["name"])
                          for r, o in docs if o["metadata"]["name"].startswith("cap-verifier")
                          and o["kind"] != "Namespace"]
            result(not probs, "%s: every name derives from the fullname %s" % (label, full),
                   probs)
            probs = reference_problems(docs, values, release)
            result(not probs, "%s: references resolve (ConfigMap, PVC, ServiceAccount, "
                   "selectors, HPA target, Ingress backend, Secrets as given)" % label, probs)
            probs = policy_problems(docs)
            result(not probs, "%s: no service links, the Ingress passes server.max_body_bytes, "
                   "TSA roots with require_timestamp, no database URL in the ConfigMap, every "
                   "*_file mounted" % label, probs)
            result("deploy/%s " % full in notes and "release %s " % release in notes,
                   "%s: NOTES.txt renders with the Deployment's name" % label, [notes[:300]])
            all_objs += [["%s (%s) %s" % (what, release, r), o] for r, o in docs]
    return all_objs


def check_naming():
    cases = [("cap-verifier", "", "", "cap-verifier"),
             ("prod-eu", "", "", "prod-eu-cap-verifier"),
             ("cap-verifier-blue", "", "", "cap-verifier-blue"),
             ("prod", "verifier", "", "prod-verifier"),
             ("my-verifier", "verifier", "", "my-verifier"),
             ("prod-eu", "", "capv", "capv"),
             ("x" * 60, "", "", ("x" * 60 + "-cap-verifier")[:63]),
             ("a" * 62 + "-b", "", "", ("a" * 62)),  # cut at 63 leaves a trailing "-"
             ("prod", "", "f" * 70, "f" * 63)]
    probs = []
    for release, name_o, full_o, want in cases:
        over = {"nameOverride": name_o, "fullnameOverride": full_o}
        values = values_for("prod", overrides=over)
        eng = helmlite.Engine(CHART, values, release_name=release, namespace="ns")
        got = eng.include("cap-verifier.fullname", eng.root)
        if got != want or want != expected_fullname(release, name_o, full_o):
            probs.append("release %r nameOverride %r fullnameOverride %r: %r, want %r"
                         % (release, name_o, full_o, got, want))
            continue
        docs, _ = render(values, release, "ns")
        probs += name_problems(docs, want, "ns")
        svc = [o for _, o in docs if o["kind"] == "Service"][0]
        if svc["metadata"]["labels"].get("app.kubernetes.io/name") != "cap-verifier":
            probs.append("release %r: Service label app.kubernetes.io/name %r" % (
                release, svc["metadata"]["labels"].get("app.kubernetes.io/name")))
    result(not probs, "cap-verifier.fullname: fullnameOverride, nameOverride, release names "
           "containing the chart name, 63 characters without a trailing \"-\"; the "
           "app.kubernetes.io/name label stays cap-verifier", probs)
    # two releases in one namespace: neither selects the other's pods
    a, _ = render(values_for("prod"), "blue", "shared")
    b, _ = render(values_for("prod"), "green", "shared")
    pod_b = [o for _, o in b if o["kind"] == "Deployment"][0]["spec"]["template"]["metadata"]
    sels = [o["spec"]["selector"] for _, o in a if o["kind"] == "Service"] + \
        [o["spec"]["selector"]["matchLabels"] for _, o in a if o["kind"] == "Deployment"]
    result(all(not subset(s, pod_b["labels"]) for s in sels),
           "two releases in one namespace: release blue's selectors do not match release "
           "green's pods", sels)


def check_examples(chart=CHART, examples=EXAMPLES):
    vals = values_for("dev", overrides={"namespace": {"create": True}}, chart=chart)
    docs, _ = render(vals, "cap-verifier", "cap-verifier", chart=chart)
    ex = load_objects(sorted(glob.glob(os.path.join(examples, "*.yaml"))))
    operator = (vals["trust"]["keysConfigMap"], vals["trust"]["policiesConfigMap"])
    probs = example_problems(docs, ex, operator)
    pg_vals = values_for("dev", PG_EXAMPLE_SETS, chart=chart)
    pg_docs, _ = render(pg_vals, "cap-verifier", "cap-verifier", chart=chart)
    pg_ex = load_objects(sorted(glob.glob(os.path.join(examples, "postgres", "*.yaml"))))
    keys = {(o["kind"], o["metadata"]["name"]) for _, o in pg_ex}
    pg_probs = example_problems([d for d in pg_docs
                                 if (d[1]["kind"], d[1]["metadata"]["name"]) in keys], pg_ex)
    # the rest of the PostgreSQL set is the SQLite examples' set, without the PVC
    rest = [d for d in pg_docs if (d[1]["kind"], d[1]["metadata"]["name"]) not in keys]
    sqlite_rest = [d for d in docs if (d[1]["kind"], d[1]["metadata"]["name"]) not in keys
                   and d[1]["kind"] not in ("PersistentVolumeClaim", "Namespace")]
    pg_probs += ["PostgreSQL mode, outside examples/postgres: " + p for p in
                 example_problems(rest, sqlite_rest)]
    return probs, pg_probs


def self_tests():
    tmp = tempfile.mkdtemp(prefix="capv-chart-render-")
    try:
        copy_dir = os.path.join(tmp, "cap-verifier")
        shutil.copytree(CHART, copy_dir, symlinks=True)
        svc_tpl = os.path.join(copy_dir, "templates", "service.yaml")
        with open(svc_tpl) as f:
            text = f.read()
        with open(svc_tpl, "w") as f:
            f.write(text.replace('{{ include "cap-verifier.serviceName" . }}',
                                 "cap-verifier-service"))
        docs, _ = render(values_for("prod", chart=copy_dir), "prod-eu", chart=copy_dir)
        probs = name_problems(docs, expected_fullname("prod-eu"), "prod-eu")
        result(any("Service named 'cap-verifier-service'" in p for p in probs),
               "self-test: a hard-coded Service name is reported", probs or ["not reported"])
        probs = reference_problems(docs, values_for("prod", chart=copy_dir), "prod-eu")
        result(any("Ingress: backend" in p for p in probs),
               "self-test: an Ingress backend that is not the Service is reported",
               probs or ["not reported"])
        with open(svc_tpl, "w") as f:
            f.write(text.replace("{{ .Values.service.type }}",
                                 "{{ .Values.service.type | toJsonPretty }}"))
        try:
            render(values_for("prod", chart=copy_dir), chart=copy_dir)
            result(False, "self-test: an unknown template function fails the rendering")
        except helmlite.TemplateError as e:
            result("toJsonPretty" in str(e),
                   "self-test: an unknown template function fails the rendering", [str(e)])
        with open(svc_tpl, "w") as f:
            f.write(text)
        # a changed example
        ex_dir = os.path.join(tmp, "examples")
        shutil.copytree(EXAMPLES, ex_dir)
        p = os.path.join(ex_dir, "40-service.yaml")
        with open(p) as f:
            t = f.read()
        with open(p, "w") as f:
            f.write(t.replace("port: 9090", "port: 9091"))
        p = os.path.join(ex_dir, "postgres", "61-pdb.yaml")
        with open(p) as f:
            t = f.read()
        with open(p, "w") as f:
            f.write(t.replace("maxUnavailable: 1", "maxUnavailable: 2"))
        probs, pg_probs = check_examples(CHART, ex_dir)
        result(any("40-service.yaml Service/cap-verifier-service.spec.ports[1].port" in x
                   for x in probs) and any("maxUnavailable" in x for x in pg_probs),
               "self-test: a changed example (SQLite and PostgreSQL sets) is reported",
               probs + pg_probs or ["not reported"])
        # the pod's policies: service links on, nginx's 1m body limit, required timestamps
        # without TSA roots
        docs, _ = render(values_for("stage"))
        bad = copy.deepcopy(docs)
        for _, o in bad:
            if o["kind"] == "Deployment":
                del o["spec"]["template"]["spec"]["enableServiceLinks"]
            if o["kind"] == "Ingress":
                del o["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
            if o["kind"] == "ConfigMap":
                o["data"]["trust.yaml"] = "trust:\n  dir: /etc/cap-verifier-trust/keys\n"
                o["data"]["backup.yaml"] = ("backup:\n  signing_key_file: "
                                            "/etc/cap-verifier-backup-key/key.pem\n")
        probs = policy_problems(bad)
        result(any("enableServiceLinks" in p for p in probs) and
               any("body limit 1m" in p for p in probs) and
               any("require_timestamp" in p for p in probs) and
               any("backup.signing_key_file" in p for p in probs),
               "self-test: service links, nginx's default body limit, required timestamps "
               "without TSA roots and a key file outside every mount are reported",
               probs or ["not reported"])
        # a stale README table: values.yaml changed, README not
        vy = os.path.join(copy_dir, "values.yaml")
        with open(vy) as f:
            t = f.read()
        with open(vy, "w") as f:
            f.write(t.replace("  size: 10000\n", "  size: 20000\n", 1))
        table = values_table_of(copy_dir)
        with open(README) as f:
            current = readme_table(f.read())
        result(table != current and "`cache.size` | integer" in table,
               "self-test: a values.yaml default the README does not show is reported",
               ["the README table equals the changed values' table"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def values_table_of(chart):
    global CHART
    saved = CHART
    CHART = chart
    try:
        return values_table()
    finally:
        CHART = saved


def main():
    if sys.argv[1:] == ["--write-readme"]:
        write_readme()
        return 0
    if sys.argv[1:]:
        sys.exit(__doc__.split("\n\n")[1])
    check_schema()
    objs = check_renders()
    check_refusals()
    check_naming()
    probs, pg_probs = check_examples()
    result(not probs, "values-dev.yaml, release cap-verifier: the rendered objects are those "
           "of deploy/examples (besides the operator's trust ConfigMaps)", probs)
    result(not pg_probs, "values-dev.yaml in the PostgreSQL mode (deploy/examples/README.md): "
           "the rendered objects are those of deploy/examples/postgres, the rest unchanged, "
           "no PVC", pg_probs)
    with open(README) as f:
        table = readme_table(f.read())
    result(table == values_table(), "deploy/helm/cap-verifier/README.md: the values table "
           "is the one generated from values.yaml and values.schema.json "
           "(tests/deploy/chart_render.py --write-readme)",
           ["README has %s" % ("no table markers" if table is None else "another table")])
    errs = k8s_schema_errors(objs)
    if errs is not None:
        bad = copy.deepcopy([o for o in objs if o[1]["kind"] == "Deployment"][0])
        bad[1]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "api"
        bad_errs = k8s_schema_errors([bad]) or []
        result(any("containerPort" in e for e in bad_errs),
               "self-test: a string containerPort fails the Kubernetes API schema",
               bad_errs or ["not reported"])
    if errs is None:
        print("skip Kubernetes API schemas: no node or tests/deploy/node_modules "
              "(npm ci in tests/deploy)")
    else:
        result(not errs, "every rendered object (%d) is valid for its Kubernetes API schema "
               "(npm kubernetes-models)" % len(objs), errs)
    self_tests()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
