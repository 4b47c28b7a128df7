#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every capverify / capverifyd command in docs/runbook.md exists, with the options it uses.

  runbook_commands.py CAPVERIFY CAPVERIFYD

Scans the runbook's code (fenced blocks and `inline` spans) for invocations of
`capverify COMMAND [SUBCOMMAND] --option ...` and `capverifyd --option ...` and checks each
command, subcommand and option against the tools' own --help text; `--set section.key=...`
of capverifyd against `capverifyd --print-config-reference`, and `helm ... --set key=...`
against the chart's values.yaml; and that the values keys docs/deployment.md#values lists
for the runbook exist in values.yaml; and that the summary table's backups row gives each
environment's backup.retain and the off-site bucket and backup.s3.retain of those with
backup.s3.url (values.yaml merged with values-<env>.yaml). Proves it can fail on a made-up
option, a made-up key and stale backup figures.
"""
import os
import re
import subprocess
import sys

import yaml

from tally import result, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUBCOMMANDS = {"registry", "keys", "policy", "jwks", "token"}
# The values keys the runbook uses (docs/deployment.md#values): each must exist.
SPEC_VALUES = ["cache.size", "cache.ttl_seconds", "cache.enabled", "oauth2.enabled",
               "oauth2.issuer", "oauth2.audience", "oauth2.jwks_url", "tls.secretName",
               "resources.limits.cpu", "resources.limits.memory", "autoscaling.maxReplicas",
               "autoscaling.minReplicas", "replicaCount", "registry.externalPostgres.enabled",
               "backup.dir", "backup.interval_seconds", "backup.retain", "ingress.annotations",
               "prometheusRule.enabled", "serviceMonitor.enabled"]
STOP = re.compile(r"\s(?:\||;|&&|>|<|2>|\))\s?|`|\)$")

def helptext(cmd):
    r = subprocess.run(cmd + ["--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return r.stdout


def code_lines(text):
    """(line number, code) for fenced code lines and inline code spans, continuations joined."""
    out, fenced, pending, start = [], False, "", 0
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            if pending:
                pending += " " + line.strip()
            else:
                pending, start = line, i
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            out.append((start, pending))
            pending = ""
        else:
            out += [(i, span) for span in re.findall(r"`([^`]+)`", line)]
    return out


def invocations(text, tool):
    """[(line, [args...])] of `tool` invocations."""
    found = []
    for n, code in code_lines(text):
        for m in re.finditer(r"(?:^|[\s(\"'])%s(\s[^#]*)?$" % re.escape(tool), code):
            rest = m.group(1) or ""
            rest = STOP.split(rest, 1)[0]
            found.append((n, rest.split()))
    return found


def values_has(values, dotted):
    cur = values
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False
        cur = cur[part]
    return True


def check(text, cli, daemon, values):
    probs = []
    top = helptext([cli])
    helps = {}

    def help_of(cmd):
        if cmd not in helps:
            helps[cmd] = helptext([cli, cmd])
        return helps[cmd]

    for n, args in invocations(text, "capverify"):
        if not args:
            continue
        cmd = args[0]
        if not re.search(r"^\s+%s\s" % re.escape(cmd), top, re.M):
            probs.append("runbook.md:%d: capverify %s: no such command" % (n, cmd))
            continue
        h = help_of(cmd)
        if cmd in SUBCOMMANDS and len(args) > 1 and not args[1].startswith("-"):
            if not re.search(r"\b%s\b" % re.escape(args[1]), h):
                probs.append("runbook.md:%d: capverify %s %s: no such subcommand" % (
                    n, cmd, args[1]))
        for a in args[1:]:
            if a.startswith("--"):
                opt = a.split("=", 1)[0]
                if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), h):
                    probs.append("runbook.md:%d: capverify %s: no option %s" % (n, cmd, opt))

    dhelp = helptext([daemon])
    ref = subprocess.run([daemon, "--print-config-reference"], stdout=subprocess.PIPE,
                         text=True).stdout
    keys = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)`", ref, re.M))
    for n, args in invocations(text, "capverifyd"):
        for i, a in enumerate(args):
            if a.startswith("--"):
                if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(a), dhelp):
                    probs.append("runbook.md:%d: capverifyd: no option %s" % (n, a))
                if a == "--set" and i + 1 < len(args):
                    key = args[i + 1].split("=", 1)[0]
                    if key not in keys:
                        probs.append("runbook.md:%d: capverifyd --set %s: no such key" % (n, key))

    for n, args in invocations(text, "helm"):
        for i, a in enumerate(args):
            if a == "--set" and i + 1 < len(args):
                key = args[i + 1].split("=", 1)[0]
                if not values_has(values, key):
                    probs.append("runbook.md:%d: helm --set %s: not a key of values.yaml" % (
                        n, key))
    return probs


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def env_values(values):
    out = {}
    for env in ("dev", "stage", "prod"):
        with open(os.path.join(ROOT, "deploy", "helm", "cap-verifier",
                               "values-%s.yaml" % env)) as f:
            out[env] = merge(values, yaml.safe_load(f) or {})
    return out


def backup_row_problems(text, envs):
    """The runbook's "| backups |" row against the environments' backup values."""
    m = re.search(r"^\| backups \|(.*)\|$", text, re.M)
    if not m:
        return ["runbook.md: no \"| backups |\" row"]
    row, probs = m.group(1), []
    for env, v in sorted(envs.items()):
        b = v.get("backup") or {}
        if not re.search(r"\b%s %d\b" % (env, b["retain"]), row):
            probs.append("backups row: no \"%s %d\" (backup.retain of values-%s.yaml)"
                         % (env, b["retain"], env))
        s3 = b.get("s3") or {}
        if s3.get("url") and not (s3["url"] in row and "%d kept" % s3["retain"] in row):
            probs.append("backups row: %s's off-site copies %s, \"%d kept\" (backup.s3.retain)"
                         " missing" % (env, s3["url"], s3["retain"]))
    return probs


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: runbook_commands.py CAPVERIFY CAPVERIFYD")
    cli, daemon = sys.argv[1], sys.argv[2]
    with open(os.path.join(ROOT, "docs", "runbook.md")) as f:
        text = f.read()
    with open(os.path.join(ROOT, "deploy", "helm", "cap-verifier", "values.yaml")) as f:
        values = yaml.safe_load(f)
    n_cli = len(invocations(text, "capverify"))
    n_d = len(invocations(text, "capverifyd"))
    probs = check(text, cli, daemon, values)
    result(not probs and n_cli > 10 and n_d > 2,
           "docs/runbook.md: %d capverify and %d capverifyd invocations, every command, "
           "subcommand, option and --set key exists" % (n_cli, n_d), probs)
    missing = [k for k in SPEC_VALUES if not values_has(values, k)]
    result(not missing, "values.yaml has the keys docs/deployment.md#values lists for the runbook",
           missing)
    envs = env_values(values)
    probs = backup_row_problems(text, envs)
    result(not probs, "docs/runbook.md: the backups row gives each environment's backup.retain "
           "and off-site retention", probs)
    stale = "| backups | `/data/backups/...`, every 24 h, 7 kept (prod 14) |\n"
    result(len(backup_row_problems(stale, envs)) >= 3,
           "self-test: stale backup figures are reported",
           backup_row_problems(stale, envs) or ["not reported"])
    bad = ("```sh\ncapverify registry backup --db x --dir y --frobnicate\n"
           "capverifyd --check-config --set cache.sise=1\n"
           "helm upgrade x . --set cache.nope=1\n```\n")
    probs = check(bad, cli, daemon, values)
    result(len(probs) == 3, "self-test: a made-up option, daemon key and values key are "
           "reported", probs)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
