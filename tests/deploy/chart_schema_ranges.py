#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The chart's values.schema.json stays in step with the daemon's own table of keys.

  chart_schema_ranges.py CAPVERIFYD

Each daemon section of the schema (its description names it: "Daemon section auth
(auth.yaml)") is compared with `capverifyd --print-config-reference` (docs/configuration.md):
an integer key has the daemon's range as minimum and maximum, a key with a fixed set of
values (`warn/fail/accept`) has that set as its enum, a boolean is a boolean. Chart-only keys
(camelCase, such as secretName) are not the daemon's and are skipped; a lower_snake_case key
the daemon does not know is an error (a value the daemon would refuse at start-up). Then a
schema with a widened range is checked to be caught, so the check can fail.
"""
import copy
import json
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA = os.path.join(ROOT, "deploy", "helm", "cap-verifier", "values.schema.json")
# keys of the chart's daemon sections that are spelt differently in the daemon's table
RENAMED = {("auth", "audience"): "audiences"}


def reference(daemon):
    out = subprocess.run([daemon, "--print-config-reference"], capture_output=True, text=True,
                         check=True).stdout
    keys = {}
    for line in out.splitlines():
        m = re.match(r"^\| `([a-z0-9_]+)\.([a-z0-9_.]+)` \| ([^|]+) \|", line)
        if m:
            keys[(m.group(1), m.group(2))] = m.group(3).strip()
    if len(keys) < 30:
        sys.exit("chart_schema_ranges: too few keys in --print-config-reference (%d)" % len(keys))
    return keys


def problems(schema, ref):
    found, compared = [], 0
    for name, sect in schema["properties"].items():
        m = re.match(r"Daemon section ([a-z0-9_]+) ", sect.get("description", ""))
        if not m:
            continue
        section = m.group(1)
        for key, prop in sect.get("properties", {}).items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                continue  # the chart's own (secretName, externalPostgres, ...)
            if isinstance(prop.get("properties"), dict):
                continue  # a chart object spread over several daemon keys (backup.s3)
            dkey = RENAMED.get((section, key), key)
            kind = ref.get((section, dkey))
            where = "%s.%s (daemon %s.%s)" % (name, key, section, dkey)
            if kind is None:
                found.append("%s: the daemon has no such key" % where)
                continue
            compared += 1
            r = re.fullmatch(r"integer \((\d+)\.\.(\d+)\)", kind)
            if r:
                want = (int(r.group(1)), int(r.group(2)))
                got = (prop.get("minimum"), prop.get("maximum"))
                if prop.get("type") != "integer" or got != want:
                    found.append("%s: schema %s %s..%s, daemon integer %d..%d" %
                                 (where, prop.get("type"), got[0], got[1], *want))
            elif "/" in kind and " " not in kind:
                if sorted(prop.get("enum", [])) != sorted(kind.split("/")):
                    found.append("%s: schema enum %s, daemon %s" % (where, prop.get("enum"), kind))
            elif kind == "boolean" and prop.get("type") != "boolean":
                found.append("%s: schema %s, daemon boolean" % (where, prop.get("type")))
    return found, compared


def main():
    ref = reference(sys.argv[1])
    with open(SCHEMA) as f:
        schema = json.load(f)
    found, compared = problems(schema, ref)
    for p in found:
        print("FAIL - " + p)
    print("%s - %d daemon keys of values.schema.json compared with the daemon's table" %
          ("ok  " if not found and compared >= 20 else "FAIL", compared))
    # the check can fail: a widened range, an unknown key
    broken = copy.deepcopy(schema)
    broken["properties"]["server"]["properties"]["threads"]["maximum"] = 1 << 20
    broken["properties"]["cache"]["properties"]["sise"] = {"type": "integer"}
    caught = len(problems(broken, ref)[0]) - len(found)
    print("%s - a widened range and an unknown key are caught (%d)" %
          ("ok  " if caught == 2 else "FAIL", caught))
    return 0 if not found and compared >= 20 and caught == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
