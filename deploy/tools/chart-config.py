#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Renders capverifyd's configuration files from the Helm chart's values, exactly as the
chart's ConfigMap template (deploy/helm/cap-verifier/templates/_helpers.tpl,
"cap-verifier.configData") does, without helm.

  chart-config.py [-f VALUES]... [--set KEY=VALUE]... --out DIR
      writes DIR/server.yaml, DIR/auth.yaml, ... (the ConfigMap's files); then
      `capverifyd --check-config --config-dir DIR` validates them
  chart-config.py [-f VALUES]... [--set KEY=VALUE]... --configmap [--namespace NS]
                  [--release NAME]
      prints the ConfigMap <fullname>-config (release cap-verifier: cap-verifier-config;
      the naming of "cap-verifier.fullname" in _helpers.tpl)

The chart's values.yaml is always read first, then each -f file, then each --set, with
Helm's merge rules (maps merge, anything else replaces, null deletes). --set takes
dotted keys and Helm's plain typing (integers, true/false, null, else a string).

The registry mode does not change these files: with registry.externalPostgres.enabled the
database URL (and the password file) reach the daemon as CAPV_REGISTRY_URL and
CAPV_REGISTRY_PASSWORD_FILE in the Deployment's environment, from Secrets. The guards of
the chart ("cap-verifier.checkScale") are applied too: one replica (HPA 1..1) with SQLite,
and registry.url / registry.password_file refused in the values.

Used by tests/deploy/chart_config.py and by docs/runbook.md ("Configuration change").
Exit status: 0 rendered, 3 invalid values (the template would fail the same way).
"""
import argparse
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CHART = os.path.join(HERE, "..", "helm", "cap-verifier")

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_SECTIONS = ["server", "oauth2", "cache", "tls", "registry", "trust", "verify",
                  "backup", "logging", "shutdown"]
FILES = ["server", "auth", "cache", "tls", "registry", "trust", "verify", "backup",
         "logging", "shutdown"]
# "cap-verifier.paths" in _helpers.tpl
PATHS = {
    "tls": "/etc/cap-verifier-tls",
    "clientCA": "/etc/cap-verifier-client-ca",
    "idpCA": "/etc/cap-verifier-idp-ca",
    "registryKey": "/etc/cap-verifier-registry-key",
    "registryDbPassword": "/etc/cap-verifier-registry-db-password",
    "registryDbCA": "/etc/cap-verifier-registry-db-ca",
    "trustKeys": "/etc/cap-verifier-trust/keys",
    "trustPolicies": "/etc/cap-verifier-trust/policies",
    "trustTSA": "/etc/cap-verifier-trust/tsa",
    "s3Credentials": "/etc/cap-verifier-s3",
    "s3CA": "/etc/cap-verifier-s3-ca",
    "backupKey": "/etc/cap-verifier-backup-key",
}


class ValuesError(Exception):
    pass


def merge(base, over):
    """Helm's coalescing of a values file over another: maps merge, null deletes."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def typed(text):
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return text


def apply_set(values, assignment):
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise ValuesError("--set %s: expected key=value" % assignment)
    parts = key.split(".")
    over = cur = {}
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = typed(text)
    return merge(values, over)


def truthy(v):
    """Go template truth: false, 0, "", nil, empty collections are false."""
    return bool(v)


def load_values(files, sets):
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f) or {}
    for path in files:
        with open(path) as f:
            values = merge(values, yaml.safe_load(f) or {})
    for s in sets:
        values = apply_set(values, s)
    return values


def registry_mode(values):
    """"postgres" or "sqlite": "cap-verifier.registryMode" in _helpers.tpl."""
    pg = (values.get("registry") or {}).get("externalPostgres") or {}
    return "postgres" if truthy(pg.get("enabled")) else "sqlite"


def check_scale(values):
    """The replica guards of the chart ("cap-verifier.checkScale" in _helpers.tpl): what helm
    refuses to render, refused here with the same message."""
    replicas = int(values.get("replicaCount") or 1)
    auto = values.get("autoscaling") or {}
    for key in ("url", "password_file"):
        if key in (values.get("registry") or {}):
            raise ValuesError(
                "registry.%s cannot be set in the values (it would land in the ConfigMap and "
                "the chart would stay in the SQLite mode: one replica, a PVC, no egress to the "
                "database): for the PostgreSQL registry set "
                "registry.externalPostgres.enabled=true with registry.externalPostgres.urlSecret "
                "(the URL) and registry.externalPostgres.passwordSecret (the password file), "
                "docs/deployment.md \"Registry modes\"" % key)
    if registry_mode(values) == "postgres":
        pg = values["registry"]["externalPostgres"]
        url = pg.get("urlSecret") or {}
        if not truthy(url.get("name")):
            raise ValuesError("registry.externalPostgres.urlSecret.name is required when "
                              "registry.externalPostgres.enabled is true (a Secret holding "
                              "the postgresql:// URL)")
        if not truthy(url.get("key")):
            raise ValuesError("registry.externalPostgres.urlSecret.key is required when "
                              "registry.externalPostgres.enabled is true")
        for sec in ("passwordSecret", "caSecret"):
            ref = pg.get(sec) or {}
            if truthy(ref.get("name")) and not truthy(ref.get("key")):
                raise ValuesError("registry.externalPostgres.%s.key is required with %s.name"
                                  % (sec, sec))
        if replicas < 1:
            raise ValuesError("replicaCount (%d) must be at least 1" % replicas)
        if truthy(auto.get("enabled")):
            lo, hi = int(auto.get("minReplicas") or 0), int(auto.get("maxReplicas") or 0)
            if lo < 1 or lo > hi:
                raise ValuesError("autoscaling: need 1 <= minReplicas (%d) <= maxReplicas (%d)"
                                  % (lo, hi))
    else:
        if replicas != 1:
            raise ValuesError("replicaCount %d: the SQLite registry has exactly one writer "
                              "(docs/deployment.md#decisions); more replicas need "
                              "registry.externalPostgres.enabled=true" % replicas)
        if truthy(auto.get("enabled")):
            lo, hi = int(auto.get("minReplicas") or 0), int(auto.get("maxReplicas") or 0)
            if hi > 1:
                raise ValuesError("autoscaling.maxReplicas > 1 needs a registry shared by all "
                                  "replicas: set registry.externalPostgres.enabled=true "
                                  "(docs/deployment.md#decisions); the SQLite registry has "
                                  "exactly one writer")
            if lo != 1 or hi != 1:
                raise ValuesError("autoscaling.minReplicas (%d) and maxReplicas (%d) must both "
                                  "be 1: the SQLite registry has exactly one writer "
                                  "(docs/deployment.md#decisions); more replicas need "
                                  "registry.externalPostgres.enabled=true" % (lo, hi))


def render(values):
    """{file stem: {section: {key: value}}}: the ConfigMap's files, as parsed YAML. Raises
    ValuesError where the chart fails to render (its configuration and replica guards)."""
    check_scale(values)
    s = {}
    for name in VALUE_SECTIONS:
        src = values.get(name) or {}
        s[name] = {k: v for k, v in src.items() if SNAKE.match(k)}

    if "listen" in s["server"] or "admin_listen" in s["server"]:
        raise ValuesError("set ports.api / ports.admin instead of server.listen / "
                          "server.admin_listen")
    s["server"]["listen"] = "0.0.0.0:%d" % int(values["ports"]["api"])
    s["server"]["admin_listen"] = "0.0.0.0:%d" % int(values["ports"]["admin"])

    oauth2 = values.get("oauth2") or {}
    auth = {k: v for k, v in s["oauth2"].items() if k != "audience"}
    aud = oauth2.get("audience")
    if truthy(aud):
        auth["audiences"] = list(aud) if isinstance(aud, list) else [aud]
    if truthy(oauth2.get("caConfigMap")):
        auth["ca_file"] = PATHS["idpCA"] + "/ca.crt"
    if truthy(auth.get("enabled")):
        for key, what in (("issuer", "issuer"), ("audiences", "audience"),
                          ("jwks_url", "jwks_url")):
            if not truthy(auth.get(key)):
                raise ValuesError("oauth2.%s is required when oauth2.enabled is true" % what)

    tls = values.get("tls") or {}
    if truthy(tls.get("secretName")):
        s["tls"]["cert_file"] = PATHS["tls"] + "/tls.crt"
        s["tls"]["key_file"] = PATHS["tls"] + "/tls.key"
    if truthy(tls.get("clientCASecretName")):
        s["tls"]["client_ca_file"] = PATHS["clientCA"] + "/ca.crt"

    if truthy((values.get("registry") or {}).get("signingKeySecretName")):
        s["registry"]["signing_key_file"] = PATHS["registryKey"] + "/key.pem"

    backup = values.get("backup") or {}
    if truthy(backup.get("signingKeySecretName")):
        s["backup"]["signing_key_file"] = PATHS["backupKey"] + "/key.pem"

    # off-site copies: backup.s3 only with its url, and then with the credentials Secret
    s3 = {k: v for k, v in (s["backup"].pop("s3", None) or {}).items() if SNAKE.match(k)}
    if truthy(s3.get("url")):
        sec = backup.get("s3CredentialsSecret") or {}
        if not truthy(sec.get("name")):
            raise ValuesError("backup.s3CredentialsSecret.name is required with backup.s3.url "
                              "(a Secret holding an AWS credentials file)")
        if not truthy(sec.get("key")):
            raise ValuesError("backup.s3CredentialsSecret.key is required with backup.s3.url")
        s3["credentials_file"] = PATHS["s3Credentials"] + "/credentials"
        if truthy(backup.get("s3CAConfigMap")):
            s3["ca_file"] = PATHS["s3CA"] + "/ca.crt"
        s["backup"]["s3"] = s3

    trust = values.get("trust") or {}
    if truthy(trust.get("keysConfigMap")):
        s["trust"]["dir"] = PATHS["trustKeys"]
    if truthy(trust.get("policiesConfigMap")):
        s["trust"]["policy_dir"] = PATHS["trustPolicies"]
    if truthy(trust.get("tsaCAConfigMap")):
        s["trust"]["tsa_ca_file"] = PATHS["trustTSA"] + "/ca.crt"

    s["auth"] = auth
    return {name: {name: s[name]} for name in FILES}


def file_text(doc):
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)


class Literal(str):
    pass


def literal_representer(dumper, data):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


def fullname(values, release):
    """"cap-verifier.fullname" in _helpers.tpl: fullnameOverride, else the release name when
    it contains the chart name (or nameOverride), else <release>-<name>; 63 characters, no
    trailing "-"."""
    def cut(s, n=63):
        s = s[:n]
        return s[:-1] if s.endswith("-") else s
    if truthy(values.get("fullnameOverride")):
        return cut(values["fullnameOverride"])
    name = values.get("nameOverride") or "cap-verifier"
    return cut(release if name in release else "%s-%s" % (release, name))


def configmap(files, namespace, name="cap-verifier-config"):
    yaml.SafeDumper.add_representer(Literal, literal_representer)
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "cap-verifier"},
        },
        "data": {"%s.yaml" % n: Literal(file_text(files[n])) for n in FILES},
    }
    return yaml.safe_dump(cm, sort_keys=False, default_flow_style=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-f", "--values", action="append", default=[], metavar="VALUES")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    out = ap.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="DIR")
    out.add_argument("--configmap", action="store_true")
    ap.add_argument("--namespace", default="cap-verifier")
    ap.add_argument("--release", default="cap-verifier")
    a = ap.parse_args()
    try:
        values = load_values(a.values, a.set)
        files = render(values)
    except ValuesError as e:
        print("chart-config: %s" % e, file=sys.stderr)
        return 3
    if a.configmap:
        stem = fullname(values, a.release)[:56]
        name = "%s-config" % (stem[:-1] if stem.endswith("-") else stem)
        sys.stdout.write(configmap(files, a.namespace, name))
        return 0
    os.makedirs(a.out, exist_ok=True)
    for n in FILES:
        with open(os.path.join(a.out, n + ".yaml"), "w") as f:
            f.write(file_text(files[n]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
