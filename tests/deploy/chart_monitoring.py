#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The chart's Prometheus operator objects: the PrometheusRule carries exactly the alert rules
of deploy/prometheus/alerts.yml, the ServiceMonitor scrapes what the alerts select.

  chart_monitoring.py

There is no helm binary on our machines, so the two templates
(deploy/helm/cap-verifier/templates/prometheusrule.yaml, servicemonitor.yaml) are rendered
by tests/deploy/helmlite.py, the strict interpreter of Helm's template language that
tests/deploy/chart_render.py renders the whole chart with (anything it does not know is an
error, so a template that outgrows it fails instead of going unchecked). Checks:

- deploy/helm/cap-verifier/files/alerts.yml is a relative link to deploy/prometheus/alerts.yml
  (one source of the rules, docs/deployment.md#monitoring);
- off by default and in every environment file: nothing rendered;
- on (with the operator's selector labels): one PrometheusRule, monitoring.coreos.com/v1, in
  the release's namespace, with the chart's labels and the given ones, whose spec is exactly
  {groups: the groups of alerts.yml} (the annotations' Prometheus templates intact), and whose
  groups and rules have the PrometheusRule CRD's shape (name, rules; alert or record, expr,
  for, labels, annotations; nothing else, strings where strings belong);
- the ServiceMonitor selects the Service's pods by the Service's selector labels, scrapes the
  admin port's /metrics, and takes the job name from the Service label whose value is
  "cap-verifier" (the alerts select job="cap-verifier"), for the release cap-verifier and
  for another release name (prod-eu: objects named prod-eu-cap-verifier, same job);
- the check can fail: a dangling link, a template that drops the rules, a rule with an
  unknown field, a ServiceMonitor on the API port are each reported.
"""
import copy
import os
import re
import shutil
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helmlite  # noqa: E402

from tally import result, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "cap-verifier")
RULES = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")

# ---- rendering: tests/deploy/helmlite.py -------------------------------------------------

TemplateError = helmlite.TemplateError


class Renderer(helmlite.Engine):
    """The chart's templates for one set of values (helmlite, strict)."""

    def __init__(self, values, release_ns="cap-verifier", release_name="cap-verifier",
                 chart_dir=CHART):
        super().__init__(chart_dir, values, release_name=release_name, namespace=release_ns)

    def render_file(self, path):
        return self.render("templates/" + os.path.basename(path))


def load_values(files=(), sets=None):
    return helmlite.load_values(CHART, files, overrides=sets)


RULE_KEYS = {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}
GROUP_KEYS = {"name", "interval", "rules", "partial_response_strategy", "limit"}


def rule_shape(spec):
    """Problems of spec against the PrometheusRule CRD (monitoring.coreos.com/v1)."""
    probs = []
    if not isinstance(spec, dict) or set(spec) != {"groups"}:
        return ["spec must hold exactly groups, has %r" % (sorted(spec) if isinstance(spec, dict)
                                                            else spec)]
    if not isinstance(spec["groups"], list) or not spec["groups"]:
        return ["spec.groups must be a non-empty list"]
    for gi, g in enumerate(spec["groups"]):
        where = "spec.groups[%d]" % gi
        if not isinstance(g, dict) or not isinstance(g.get("name"), str):
            probs.append("%s: needs a name" % where)
            continue
        probs += ["%s: unknown field %s" % (where, k) for k in sorted(set(g) - GROUP_KEYS)]
        for ri, r in enumerate(g.get("rules") or []):
            rw = "%s.rules[%d]" % (where, ri)
            probs += ["%s: unknown field %s" % (rw, k) for k in sorted(set(r) - RULE_KEYS)]
            if ("alert" in r) == ("record" in r):
                probs.append("%s: needs exactly one of alert, record" % rw)
            if not isinstance(r.get("expr"), str) or not r["expr"].strip():
                probs.append("%s: expr must be a non-empty string" % rw)
            if "for" in r and not re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+", str(r["for"])):
                probs.append("%s: for %r is not a duration" % (rw, r["for"]))
            for k in ("labels", "annotations"):
                bad = [n for n, v in (r.get(k) or {}).items() if not isinstance(v, str)]
                if bad:
                    probs.append("%s: %s values must be strings: %s" % (rw, k, ", ".join(bad)))
    return probs


def rule_problems(rendered, alerts, ns, labels, chart_labels, name="cap-verifier"):
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    if len(docs) != 1:
        return ["expected one object, rendered %d" % len(docs)]
    o = docs[0]
    probs = []
    if o.get("apiVersion") != "monitoring.coreos.com/v1" or o.get("kind") != "PrometheusRule":
        probs.append("apiVersion/kind %s/%s" % (o.get("apiVersion"), o.get("kind")))
    md = o.get("metadata") or {}
    if md.get("name") != name or md.get("namespace") != ns:
        probs.append("metadata name/namespace %s/%s" % (md.get("name"), md.get("namespace")))
    have = md.get("labels") or {}
    for k, v in list(chart_labels.items()) + list(labels.items()):
        if have.get(k) != v:
            probs.append("label %s=%r missing (has %r)" % (k, v, have.get(k)))
    probs += rule_shape(o.get("spec"))
    if o.get("spec") != {"groups": alerts["groups"]}:
        probs.append("spec is not {groups: the groups of deploy/prometheus/alerts.yml}")
    return probs


def monitor_problems(rendered, ns, labels, service, name="cap-verifier"):
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    if len(docs) != 1:
        return ["expected one object, rendered %d" % len(docs)]
    o, probs = docs[0], []
    if o.get("apiVersion") != "monitoring.coreos.com/v1" or o.get("kind") != "ServiceMonitor":
        probs.append("apiVersion/kind %s/%s" % (o.get("apiVersion"), o.get("kind")))
    md = o.get("metadata") or {}
    if md.get("namespace") != ns or md.get("name") != name:
        probs.append("name/namespace %s/%s" % (md.get("name"), md.get("namespace")))
    for k, v in labels.items():
        if (md.get("labels") or {}).get(k) != v:
            probs.append("label %s=%r missing" % (k, v))
    spec = o.get("spec") or {}
    unknown = sorted(set(spec) - {"jobLabel", "selector", "endpoints", "namespaceSelector"})
    if unknown:
        probs.append("spec: unknown fields %s" % ", ".join(unknown))
    svc_labels = service["metadata"]["labels"]
    if svc_labels.get(spec.get("jobLabel")) != "cap-verifier":
        probs.append("jobLabel %r: the Service's label of that name is %r, the alerts select "
                     "job=\"cap-verifier\"" % (spec.get("jobLabel"),
                                               svc_labels.get(spec.get("jobLabel"))))
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    if not sel or any(svc_labels.get(k) != v for k, v in sel.items()):
        probs.append("selector %r does not select the Service (labels %r)" % (sel, svc_labels))
    eps = spec.get("endpoints") or []
    admin = [p["name"] for p in service["spec"]["ports"] if p["name"] == "admin"]
    if len(eps) != 1 or eps[0].get("port") not in admin or eps[0].get("path") != "/metrics":
        probs.append("endpoints %r: want the Service's admin port, path /metrics" % eps)
    unknown = sorted(set(eps[0]) - {"port", "path", "interval", "scrapeTimeout"}) if eps else []
    if unknown:
        probs.append("endpoint: unknown fields %s" % ", ".join(unknown))
    return probs


def main():
    with open(RULES) as f:
        alerts = yaml.safe_load(f)
    chart_rules = os.path.join(CHART, "files", "alerts.yml")
    link = os.readlink(chart_rules) if os.path.islink(chart_rules) else None
    result(link is not None and not os.path.isabs(link)
           and os.path.realpath(chart_rules) == os.path.realpath(RULES),
           "deploy/helm/cap-verifier/files/alerts.yml is a relative link to "
           "deploy/prometheus/alerts.yml", ["link: %r" % link])

    tpl_rule = os.path.join(CHART, "templates", "prometheusrule.yaml")
    tpl_mon = os.path.join(CHART, "templates", "servicemonitor.yaml")
    for env in ("", "dev", "stage", "prod"):
        files = [os.path.join(CHART, "values-%s.yaml" % env)] if env else []
        r = Renderer(load_values(files))
        out = (r.render_file(tpl_rule) + r.render_file(tpl_mon)).strip()
        result(out == "", "values%s: no PrometheusRule or ServiceMonitor by default" %
               ("-%s.yaml" % env if env else ".yaml"), [out[:200]])

    sel = {"release": "kube-prometheus-stack"}
    on = {"prometheusRule": {"enabled": True, "labels": sel},
          "serviceMonitor": {"enabled": True, "labels": sel}}
    r = Renderer(load_values([os.path.join(CHART, "values-prod.yaml")], on), release_ns="prod")
    chart_labels = yaml.safe_load(r.render_text('{{ include "cap-verifier.labels" . }}', r.root))
    rendered = r.render_file(tpl_rule)
    probs = rule_problems(rendered, alerts, "prod", sel, chart_labels)
    result(not probs, "prometheusRule.enabled: one PrometheusRule in the release's namespace, "
           "chart and selector labels, spec.groups = alerts.yml's %d rules" %
           sum(len(g["rules"]) for g in alerts["groups"]), probs)
    result("{{ $labels.namespace }}" in rendered,
           "the rules' Prometheus templates ({{ $labels.namespace }}) reach the object as "
           "they are")
    service = yaml.safe_load(r.render_file(os.path.join(CHART, "templates", "service.yaml")))
    probs = monitor_problems(r.render_file(tpl_mon), "prod", sel, service)
    result(not probs, "serviceMonitor.enabled: the admin port's /metrics of the Service's pods "
           "as job cap-verifier", probs)

    # another release name: names derive from it, the job stays cap-verifier
    r2 = Renderer(load_values([os.path.join(CHART, "values-prod.yaml")], on),
                  release_ns="prod-eu", release_name="prod-eu")
    svc2 = yaml.safe_load(r2.render_file(os.path.join(CHART, "templates", "service.yaml")))
    probs = rule_problems(r2.render_file(tpl_rule), alerts, "prod-eu", sel,
                          yaml.safe_load(r2.render_text('{{ include "cap-verifier.labels" . }}',
                                                        r2.root)), "prod-eu-cap-verifier")
    probs += monitor_problems(r2.render_file(tpl_mon), "prod-eu", sel, svc2,
                              "prod-eu-cap-verifier")
    result(not probs, "release prod-eu: PrometheusRule and ServiceMonitor prod-eu-cap-verifier, "
           "still job cap-verifier (jobLabel on a label the release name does not change)",
           probs)

    # the check can fail
    tmp = tempfile.mkdtemp(prefix="capv-chart-mon-")
    try:
        copy_dir = os.path.join(tmp, "cap-verifier")
        shutil.copytree(CHART, copy_dir, symlinks=True)  # the link dangles in the copy
        rc = Renderer(load_values([], on), chart_dir=copy_dir)
        try:
            rc.render_file(os.path.join(copy_dir, "templates", "prometheusrule.yaml"))
            result(False, "self-test: a dangling files/alerts.yml fails the rendering")
        except TemplateError as e:
            result("files/alerts.yml is missing" in str(e),
                   "self-test: a dangling files/alerts.yml fails the rendering", [str(e)])
        with open(tpl_rule) as f:
            text = f.read()
        dropped = r.render_text(text.replace("{{- $rules | nindent 2 }}", "  groups: []"), r.root)
        bad_alerts = copy.deepcopy(alerts)
        bad_alerts["groups"][0]["rules"][0]["severity"] = "critical"
        probs_dropped = rule_problems(dropped, alerts, "prod", sel, chart_labels)
        probs_field = rule_shape({"groups": bad_alerts["groups"]})
        result(any("spec is not" in p for p in probs_dropped)
               and any("unknown field severity" in p for p in probs_field),
               "self-test: rules dropped from the template and a rule with an unknown field "
               "are reported", probs_dropped + probs_field)
        with open(tpl_mon) as f:
            text = f.read()
        api = r.render_text(text.replace("- port: admin", "- port: api"), r.root)
        probs = monitor_problems(api, "prod", sel, service)
        result(any("admin port" in p for p in probs),
               "self-test: a ServiceMonitor on the API port is reported", probs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
