#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The alert rules match the runbook (its alert list and sections), and their promtool tests
cover both sides.

  alerts_check.py

- deploy/prometheus/alerts.yml has exactly the alerts of docs/runbook.md#alerts with their
  priorities (SPEC below: P0 CapVerifierDown, CapVerifierUnavailable, IngressFivexxSpike,
  FivexxSpike; P1 HighErrorRate, HighAuthFailureRate, JWKSStale, RegistryRecordsDropped,
  RegistryWriteFailing, RegistryNotOpen, TLSCertExpiryImminent; P2 CapVerifierReplicaDown,
  JWKSReplicaStale, HighP95Latency, NoTraffic, BackupStale, RegistryDiskLow, RegistryDiskFillingUp,
  MemoryNearLimit, TLSCertExpiringSoon, BackupOffsiteStale, RegistryRecordsRejected; P3
  LowCacheHitRate), each with labels
  severity (matching its priority) and priority, and annotations summary, description and
  runbook_url = docs/runbook.md#<anchor>;
- every anchor exists in docs/runbook.md (GitHub's heading slugs), and the alert's section
  there has Symptoms, Investigation, Resolution and Verification;
- the runbook's alert table and its severities table give each alert the priority alerts.yml
  does;
- every in-page link of the runbook ([text](#anchor)) leads to a heading;
- deploy/prometheus/alerts_test.yml has, for every alert, a case where it fires and one
  where it stays quiet.
Proves it can fail: a rule with a wrong priority and a missing anchor must be reported.
"""
import os
import re
import sys

import yaml

from tally import result, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = {"HighErrorRate": "P1", "HighP95Latency": "P2", "FivexxSpike": "P0",
        "LowCacheHitRate": "P3", "HighAuthFailureRate": "P1", "NoTraffic": "P2",
        "JWKSStale": "P1", "BackupStale": "P2", "RegistryRecordsDropped": "P1",
        # issue 15, "On-call truth"
        "CapVerifierDown": "P0", "CapVerifierUnavailable": "P0", "IngressFivexxSpike": "P0",
        "RegistryWriteFailing": "P1", "RegistryDiskLow": "P2", "RegistryDiskFillingUp": "P2",
        "MemoryNearLimit": "P2", "TLSCertExpiringSoon": "P2", "TLSCertExpiryImminent": "P1",
        # issue 14, off-site copies
        "BackupOffsiteStale": "P2",
        # records refused for good (docs/registry.md "Recording verifications")
        "RegistryRecordsRejected": "P2",
        # fleet-aware severities: one replica of several down is no page
        # (docs/runbook.md "Severities and escalation")
        "CapVerifierReplicaDown": "P2", "JWKSReplicaStale": "P2",
        # a registry that a SIGHUP could not reopen (cap_verifier_registry_open)
        "RegistryNotOpen": "P1"}
SEVERITY = {"P0": "critical", "P1": "critical", "P2": "warning", "P3": "info"}
SECTIONS = ("Symptoms", "Investigation", "Resolution", "Verification")

def slug(heading):
    """GitHub's anchor of a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def runbook_sections(text):
    """{anchor: section text} for every heading."""
    out, anchor, buf = {}, None, []
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            if anchor is not None:
                out[anchor] = "\n".join(buf)
            anchor, buf = slug(m.group(2)), []
        else:
            buf.append(line)
    if anchor is not None:
        out[anchor] = "\n".join(buf)
    return out


def rule_problems(rules, sections):
    probs = []
    names = [r.get("alert") for r in rules if "alert" in r]
    for a in SPEC:
        if a not in names:
            probs.append("alert %s (docs/runbook.md#alerts) missing" % a)
    for a in names:
        if a not in SPEC:
            probs.append("alert %s is not in docs/runbook.md#alerts" % a)
    for r in rules:
        a = r.get("alert")
        if a is None:
            continue
        labels, ann = r.get("labels", {}), r.get("annotations", {})
        prio = labels.get("priority")
        if prio not in SEVERITY:
            probs.append("%s: priority %r is not P0..P3" % (a, prio))
        elif SPEC.get(a) and prio != SPEC[a]:
            probs.append("%s: priority %s, docs/runbook.md#alerts says %s" % (a, prio, SPEC[a]))
        elif labels.get("severity") != SEVERITY[prio]:
            probs.append("%s: severity %r does not match %s (%s)" % (
                a, labels.get("severity"), prio, SEVERITY[prio]))
        for k in ("summary", "description", "runbook_url"):
            if not ann.get(k):
                probs.append("%s: annotation %s missing" % (a, k))
        url = ann.get("runbook_url", "")
        m = re.fullmatch(r"docs/runbook\.md#([a-z0-9_-]+)", url)
        if not m:
            probs.append("%s: runbook_url %r is not docs/runbook.md#<anchor>" % (a, url))
            continue
        sec = sections.get(m.group(1))
        if sec is None:
            probs.append("%s: docs/runbook.md has no heading with anchor #%s" % (a, m.group(1)))
            continue
        for s in SECTIONS:
            if not re.search(r"\*\*%s\.?\*\*" % s, sec):
                probs.append("%s: runbook section #%s has no **%s.**" % (a, m.group(1), s))
        if prio and prio not in sec:
            probs.append("%s: runbook section #%s does not name its priority %s" % (
                a, m.group(1), prio))
    return probs


def table_problems(rules, sections):
    """The runbook's two tables against the rules' priorities: the row of every alert in
    docs/runbook.md#alerts, and its place in the P0..P3 rows of #severities-and-escalation."""
    listed = {}
    for line in sections.get("severities-and-escalation", "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0] in SEVERITY:
            for a in re.split(r",\s*", cells[-1]):
                if a:
                    listed.setdefault(a, []).append(cells[0])
    rows = {}
    for line in sections.get("alerts", "").splitlines():
        m = re.match(r"^\|\s*\[(\w+)\]\(#[\w-]+\)\s*\|.*\|\s*(P[0-3])\s*\|\s*$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    probs = []
    for r in rules:
        a, prio = r.get("alert"), r.get("labels", {}).get("priority")
        if a is None:
            continue
        if listed.get(a) != [prio]:
            probs.append("%s (%s): listed under %s in #severities-and-escalation" % (
                a, prio, listed.get(a) or "no priority"))
        if rows.get(a) != prio:
            probs.append("%s (%s): the #alerts table says %s" % (a, prio, rows.get(a)))
    names = {r.get("alert") for r in rules}
    probs += ["%s: in the runbook's tables, not in alerts.yml" % a
              for a in sorted((set(listed) | set(rows)) - names)]
    return probs


def main():
    with open(os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")) as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
    with open(os.path.join(ROOT, "docs", "runbook.md")) as f:
        text = f.read()
    sections = runbook_sections(text)
    probs = rule_problems(rules, sections)
    result(not probs, "alerts.yml: the %d alerts of docs/runbook.md#alerts with priority, "
           "severity, annotations and a runbook section each" % len(SPEC), probs)

    probs = table_problems(rules, sections)
    result(not probs, "docs/runbook.md: each alert in the alerts table and in the severities "
           "table with the priority alerts.yml gives it", probs)

    dangling = sorted({a for a in re.findall(r"\]\(#([^)]+)\)", text) if a not in sections})
    result(not dangling, "docs/runbook.md: every in-page link leads to a heading",
           ["#" + a for a in dangling])

    with open(os.path.join(ROOT, "deploy", "prometheus", "alerts_test.yml")) as f:
        tests = yaml.safe_load(f)["tests"]
    fires, quiet = set(), set()
    for t in tests:
        for c in t.get("alert_rule_test", []):
            (fires if c.get("exp_alerts") else quiet).add(c["alertname"])
    names = [r["alert"] for r in rules if "alert" in r]
    missing = ["%s: no case where it fires" % a for a in names if a not in fires] + \
              ["%s: no case where it stays quiet" % a for a in names if a not in quiet]
    result(not missing, "alerts_test.yml: every alert has a firing and a quiet case", missing)

    # the check can fail
    bad = [dict(r) for r in rules]
    for r in bad:
        if r.get("alert") == "FivexxSpike":
            r["labels"] = dict(r["labels"], priority="P2")
        if r.get("alert") == "NoTraffic":
            r["annotations"] = dict(r["annotations"], runbook_url="docs/runbook.md#no-such")
    probs = rule_problems(bad, sections)
    result(any("FivexxSpike: priority P2" in p for p in probs)
           and any("#no-such" in p for p in probs),
           "self-test: a wrong priority and a missing runbook anchor are reported", probs)
    probs = table_problems(bad, sections)
    result(any(p.startswith("FivexxSpike (P2)") for p in probs),
           "self-test: a priority the runbook's tables do not give is reported", probs)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
