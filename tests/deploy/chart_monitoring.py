#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The chart's Prometheus operator objects: the PrometheusRule carries exactly the alert rules
of deploy/prometheus/alerts.yml, the ServiceMonitor scrapes what the alerts select.

  chart_monitoring.py

There is no helm binary on our machines, so the two templates
(deploy/helm/cap-verifier/templates/prometheusrule.yaml, servicemonitor.yaml) are rendered
here by a small interpreter of the part of Helm's template language they use (actions with
whitespace trimming, if / with / end, $variables, .Values / .Release / .Chart / .Files.Get,
include of the _helpers.tpl defines, the functions toYaml, nindent, quote, printf, not, fail);
anything else in them is an error, so a template that outgrows it fails this test instead of
going unchecked. Checks:

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
  "cap-verifier" (the alerts select job="cap-verifier");
- the check can fail: a dangling link, a template that drops the rules, a rule with an
  unknown field, a ServiceMonitor on the API port are each reported.
"""
import copy
import json
import os
import re
import shutil
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "cap-verifier")
RULES = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")

passed = failed = 0


def result(ok, what, details=()):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        for d in details:
            print("     " + str(d))


# ---- a Helm template subset -------------------------------------------------------------

class TemplateError(Exception):
    pass


ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def tokens(text):
    """[("text", s) | ("action", body)] with Helm's whitespace trimming applied."""
    out, pos, trim_next = [], 0, False
    for m in ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if m.group(1):
            chunk = chunk.rstrip(" \t\r\n")
        out.append(("text", chunk))
        body = m.group(2)
        if not body.startswith("/*"):
            out.append(("action", body))
        trim_next = bool(m.group(3))
        pos = m.end()
    chunk = text[pos:]
    out.append(("text", chunk.lstrip(" \t\r\n") if trim_next else chunk))
    return out


def parse(toks, i, stops):
    """A tree of nodes up to the first action whose word is in `stops` (or the end of the
    tokens, when "<eof>" is one): (nodes, index of the stopper, its word)."""
    nodes = []
    while i < len(toks):
        kind, body = toks[i]
        if kind == "text":
            nodes.append(("text", body))
            i += 1
            continue
        word = body.split(None, 1)[0]
        if word in stops:
            return nodes, i, word
        if word in ("if", "with"):
            then, j, w = parse(toks, i + 1, ("end", "else"))
            other = []
            if w == "else":
                other, j, w = parse(toks, j + 1, ("end",))
            nodes.append((word, body.split(None, 1)[1], then, other))
            i = j + 1
        elif word in ("end", "else", "define", "range", "template", "block"):
            raise TemplateError("unexpected or unsupported action {{ %s }}" % body)
        else:
            nodes.append(("action", body))
            i += 1
    if "<eof>" not in stops:
        raise TemplateError("missing {{ end }}")
    return nodes, i, None


def defines(helpers_text):
    """{name: body text} of the {{ define }} blocks of _helpers.tpl (top level only)."""
    out = {}
    for m in re.finditer(r'\{\{-?\s*define\s+"([^"]+)"\s*-?\}\}(.*?)\{\{-?\s*end\s*-?\}\}',
                         helpers_text, re.S):
        if "{{- if" in m.group(2) or "{{ if" in m.group(2) or "range" in m.group(2):
            continue  # defines with their own blocks: not used by these templates
        out[m.group(1)] = m.group(0)
    return out


ARG = re.compile(r'"((?:[^"\\]|\\.)*)"|(\$[A-Za-z0-9_]*|\.[A-Za-z0-9_.]*|\.)|(-?[0-9]+)|(\S+)')


class Renderer:
    def __init__(self, values, release_ns="cap-verifier", release_name="cap-verifier",
                 chart_dir=CHART):
        with open(os.path.join(chart_dir, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        with open(os.path.join(chart_dir, "templates", "_helpers.tpl")) as f:
            self.defines = defines(f.read())
        self.chart_dir = chart_dir
        self.root = {"Values": values,
                     "Release": {"Namespace": release_ns, "Name": release_name,
                                 "Service": "Helm"},
                     "Chart": {"Name": chart["name"], "Version": chart["version"],
                               "AppVersion": chart["appVersion"]}}

    def render_file(self, path):
        with open(path) as f:
            return self.render_text(f.read(), self.root)

    def render_text(self, text, dot, variables=None):
        nodes, _, _ = parse(tokens(text), 0, ("<eof>",))
        return self.run(nodes, dot, dict(variables or {}))

    def run(self, nodes, dot, variables):
        out = []
        for n in nodes:
            if n[0] == "text":
                out.append(n[1])
            elif n[0] == "action":
                m = re.fullmatch(r"(\$[A-Za-z0-9_]+)\s*:=\s*(.*)", n[1], re.S)
                if m:
                    variables[m.group(1)] = self.pipeline(m.group(2), dot, variables)
                    continue
                v = self.pipeline(n[1], dot, variables)
                out.append("" if v is None else v if isinstance(v, str) else str(v))
            else:
                word, cond, then, other = n
                v = self.pipeline(cond, dot, variables)
                if truthy(v):
                    out.append(self.run(then, v if word == "with" else dot, variables))
                else:
                    out.append(self.run(other, dot, variables))
        return "".join(out)

    def pipeline(self, text, dot, variables):
        value, first = None, True
        for stage in split_pipes(text):
            args = [self.arg(a, dot, variables) for a in ARG.findall(stage)]
            if not args:
                raise TemplateError("empty pipeline stage in %r" % text)
            head = args[0]
            if head[0] == "func":
                params = [a[1] if a[0] != "func" else self.call(a[1], [], dot, variables)
                          for a in args[1:]]
                if not first:
                    params.append(value)
                value = self.call(head[1], params, dot, variables)
            else:
                if len(args) != 1:
                    raise TemplateError("a value cannot take arguments: %r" % stage)
                value = head[1]
            first = False
        return value

    def arg(self, m, dot, variables):
        s, ref, num, word = m
        if ref:
            if ref.startswith("$"):
                if ref not in variables:
                    raise TemplateError("undefined variable %s" % ref)
                return ("value", variables[ref])
            if ref == ".":
                return ("value", dot)
            if ref.startswith(".Files."):
                return ("func", ref)
            return ("value", lookup(self.root if ref.split(".")[1] in self.root else dot, ref))
        if num:
            return ("value", int(num))
        if word:
            return ("func", word)
        return ("value", json.loads('"%s"' % s))

    def call(self, name, params, dot, variables):
        if name == ".Files.Get":
            path = os.path.join(self.chart_dir, params[0])
            try:
                with open(path) as f:
                    return f.read()
            except OSError:
                return ""  # Helm's .Files.Get: "" for a file that is not there
        if name == "include":
            body = self.defines.get(params[0])
            if body is None:
                raise TemplateError("no define %r this renderer reads" % params[0])
            inner = re.sub(r'^\{\{-?\s*define\s+"[^"]+"\s*-?\}\}', "", body)
            inner = re.sub(r'\{\{-?\s*end\s*-?\}\}$', "", inner)
            # the define's own trim markers: "-}}" after define, "{{-" before end
            if re.match(r'\{\{-?\s*define\s+"[^"]+"\s*-\}\}', body):
                inner = inner.lstrip(" \t\r\n")
            if re.search(r'\{\{-\s*end\s*-?\}\}$', body):
                inner = inner.rstrip(" \t\r\n")
            return self.render_text(inner, params[1], {})
        if name == "toYaml":
            return yaml.safe_dump(params[0], default_flow_style=False,
                                  sort_keys=True).rstrip("\n")
        if name == "nindent":
            pad = " " * params[0]
            return "\n" + pad + str(params[1]).replace("\n", "\n" + pad)
        if name == "quote":
            return json.dumps("" if params[0] is None else str(params[0]))
        if name == "printf":
            return params[0].replace("%s", "{}").format(*params[1:])
        if name == "not":
            return not truthy(params[0])
        if name == "fail":
            raise TemplateError("fail: %s" % params[0])
        raise TemplateError("unsupported function %r" % name)


def split_pipes(text):
    parts, cur, quoted = [], "", False
    for ch in text:
        if ch == '"' and not cur.endswith("\\"):
            quoted = not quoted
        if ch == "|" and not quoted:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def lookup(base, ref):
    cur = base
    for k in [p for p in ref.split(".") if p]:
        cur = cur.get(k) if isinstance(cur, dict) else None
    return cur


def truthy(v):
    return not (v is None or v is False or v == 0 or v == "" or v == {} or v == [])


# ---- the checks -------------------------------------------------------------------------

def load_values(files=(), sets=None):
    vals = {}
    for f in [os.path.join(CHART, "values.yaml")] + list(files):
        with open(f) as fh:
            vals = merge(vals, yaml.safe_load(fh) or {})
    return merge(vals, sets or {})


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


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


def rule_problems(rendered, alerts, ns, labels, chart_labels):
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    if len(docs) != 1:
        return ["expected one object, rendered %d" % len(docs)]
    o = docs[0]
    probs = []
    if o.get("apiVersion") != "monitoring.coreos.com/v1" or o.get("kind") != "PrometheusRule":
        probs.append("apiVersion/kind %s/%s" % (o.get("apiVersion"), o.get("kind")))
    md = o.get("metadata") or {}
    if md.get("name") != "cap-verifier" or md.get("namespace") != ns:
        probs.append("metadata name/namespace %s/%s" % (md.get("name"), md.get("namespace")))
    have = md.get("labels") or {}
    for k, v in list(chart_labels.items()) + list(labels.items()):
        if have.get(k) != v:
            probs.append("label %s=%r missing (has %r)" % (k, v, have.get(k)))
    probs += rule_shape(o.get("spec"))
    if o.get("spec") != {"groups": alerts["groups"]}:
        probs.append("spec is not {groups: the groups of deploy/prometheus/alerts.yml}")
    return probs


def monitor_problems(rendered, ns, labels, service):
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    if len(docs) != 1:
        return ["expected one object, rendered %d" % len(docs)]
    o, probs = docs[0], []
    if o.get("apiVersion") != "monitoring.coreos.com/v1" or o.get("kind") != "ServiceMonitor":
        probs.append("apiVersion/kind %s/%s" % (o.get("apiVersion"), o.get("kind")))
    md = o.get("metadata") or {}
    if md.get("namespace") != ns:
        probs.append("namespace %s" % md.get("namespace"))
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
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main())
