#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""deploy/grafana/cap-verifier.json is a usable dashboard with the panels the runbook uses.

  dashboard_check.py PROMTOOL

Valid JSON with a uid, a Prometheus datasource variable and unique panel ids; panels that do
not overlap; the views the issue asks for (request rate by result, p50/p95/p99 latency, 5xx,
auth failures by reason, cache hit ratio, JWKS age, registry size and open, backup age); and
every query is valid PromQL (promtool check rules on the queries, with Grafana's variables
replaced). Metric names are checked against a live scrape by metric_names.py.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

from tally import result, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REQUIRED = {
    "request rate by result": r"sum by \(result\) \(rate\(cap_verifier_requests_total",
    "p50 latency": r"histogram_quantile\(0\.5, .*cap_verifier_request_duration_seconds_bucket",
    "p95 latency": r"histogram_quantile\(0\.95, .*cap_verifier_request_duration_seconds_bucket",
    "p99 latency": r"histogram_quantile\(0\.99, .*cap_verifier_request_duration_seconds_bucket",
    "5xx responses": r"cap_verifier_http_responses_total\{[^}]*code=~\"5\.\.\"",
    "auth failures by reason": r"sum by \(reason\) \(rate\(cap_verifier_auth_failures_total",
    "cache hit ratio": r"cap_verifier_cache_hits_total.*cap_verifier_cache_misses_total",
    "JWKS age": r"cap_verifier_jwks_age_seconds",
    "registry size": r"cap_verifier_registry_entries",
    "registry open": r"cap_verifier_registry_open",
    "backup age": r"time\(\) - max\(cap_verifier_backup_last_success_timestamp_seconds",
    "registry free space": r"cap_verifier_registry_free_bytes",
    "record queue": r"cap_verifier_registry_queue_depth",
    "records dropped": r"cap_verifier_registry_records_dropped_total",
    "TLS certificate expiry": r"cap_verifier_tls_cert_expiry_timestamp_seconds",
    "memory limit": r"cap_verifier_memory_limit_bytes",
}

def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dashboard_check.py PROMTOOL")
    with open(os.path.join(ROOT, "deploy", "grafana", "cap-verifier.json")) as f:
        dash = json.load(f)
    panels = dash.get("panels", [])
    ids = [p.get("id") for p in panels]
    result(dash.get("uid") and dash.get("title") and len(ids) == len(set(ids)) and all(ids),
           "uid, title and unique panel ids (%d panels)" % len(panels))
    tvars = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    result(tvars.get("datasource", {}).get("type") == "datasource"
           and tvars["datasource"].get("query") == "prometheus",
           "a Prometheus datasource variable, used by every panel",
           [p["title"] for p in panels if p.get("type") != "row"
            and p.get("datasource", {}).get("uid") != "${datasource}"])

    boxes, overlaps = [], []
    for p in panels:
        g = p.get("gridPos", {})
        box = (g.get("x", 0), g.get("y", 0), g.get("w", 0), g.get("h", 0), p.get("title"))
        for b in boxes:
            if box[0] < b[0] + b[2] and b[0] < box[0] + box[2] and \
                    box[1] < b[1] + b[3] and b[1] < box[1] + box[3]:
                overlaps.append("%s overlaps %s" % (box[4], b[4]))
        if box[0] + box[2] > 24:
            overlaps.append("%s is wider than the grid" % box[4])
        boxes.append(box)
    result(not overlaps, "panels do not overlap", overlaps)

    exprs = [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]
    missing = [name for name, rx in REQUIRED.items()
               if not any(re.search(rx, e) for _, e in exprs)]
    result(not missing, "has the views: %s" % ", ".join(REQUIRED), missing)

    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:query_%d" % i,
         "expr": e.replace("$__rate_interval", "5m").replace("$namespace", ".*")}
        for i, (_, e) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
        path = f.name
    try:
        r = subprocess.run([sys.argv[1], "check", "rules", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    finally:
        os.unlink(path)
    result(r.returncode == 0, "all %d queries are valid PromQL (promtool)" % len(exprs),
           r.stdout.splitlines())
    return summary()


if __name__ == "__main__":
    sys.exit(main())
