#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A time-compressed copy of the alert rules, for tests/deploy/alerts_e2e.py.

  compress_rules.py --factor F IN OUT
  compress_rules.py --self-test

Writes OUT: the rule file IN with every duration divided by F, so that what takes F minutes
with the shipped rules takes one minute. Exactly these are scaled, nothing else:

- range selectors and subquery ranges/steps: `[5m]` -> `[5s]` with F = 60;
- `offset` durations;
- each rule's `for:`;
- the numbers in DURATIONS below: thresholds and arguments that are seconds compared with
  time (a key set's age, a backup's age, a certificate's remaining lifetime, predict_linear's
  horizon) and the `* 60` that turns a per-second rate into a per-minute one. Without that
  last one a per-minute threshold would become F times easier to exceed.

Ratios, counts (`>= 200` verifications in the window) and byte or fraction thresholds stay
as they are: within a compressed window they mean what they meant in the real one.

Every integer of 300 or more in an expression, and every product with 3600 or 86400, must be
listed in DURATIONS (scaled) or in PLAIN (not a duration): a new rule with a time threshold
that nobody classified makes this script fail instead of producing a copy in which that
alert cannot fire. After writing, the two files are compared: same groups, rules, labels and
annotations, and expressions that differ only in the scaled tokens, each exactly 1/F of the
original (the script exits 1 otherwise).
"""
import argparse
import re
import sys

import yaml

# {alert or recording rule: [literal as written in the expression]}: seconds, scaled by 1/F
DURATIONS = {
    "IngressFivexxSpike": ["60"],
    "FivexxSpike": ["60"],
    "namespace_instance:cap_verifier_jwks_failing:max": ["900"],
    "BackupStale": ["93600"],
    "BackupOffsiteStale": ["93600"],
    "RegistryDiskFillingUp": ["4 * 86400"],
    "TLSCertExpiringSoon": ["14 * 86400"],
    "TLSCertExpiryImminent": ["2 * 86400"],
}
# {alert: [literal]}: large numbers that are not durations
PLAIN = {}

UNITS_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000,
            "y": 31536000000}
DURATION = r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+"
RANGE = re.compile(r"\[(%s)(?::(%s)?)?\]" % (DURATION, DURATION))
OFFSET = re.compile(r"\boffset\s+(-?)(%s)" % DURATION)
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def duration_ms(text):
    total = 0
    for n, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", text):
        total += int(n) * UNITS_MS[unit]
    return total


def format_ms(ms):
    if ms <= 0 or ms != int(ms):
        raise ValueError("duration %r ms is not a whole positive number of milliseconds" % ms)
    ms = int(ms)
    return "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms


def scale_duration(text, f):
    ms = duration_ms(text)
    if ms % f:
        raise ValueError("%s / %d is not a whole number of milliseconds" % (text, f))
    return format_ms(ms // f)


def seconds_of(literal):
    v = 1
    for part in literal.split("*"):
        v *= float(part)
    return v


def format_seconds(v):
    return str(int(v)) if v == int(v) else repr(v)


def literal_pattern(literal):
    parts = [re.escape(p.strip()) for p in literal.split("*")]
    return re.compile(r"(?<![\w.])" + r"\s*\*\s*".join(parts) + r"(?![\w.])")


def unclassified(alert, expr):
    """Large numbers and day/hour products in expr that neither table names."""
    known = DURATIONS.get(alert, []) + PLAIN.get(alert, [])
    text = STRING.sub('""', expr)
    text = RANGE.sub("[]", text)
    text = OFFSET.sub("offset", text)
    for lit in known:
        text = literal_pattern(lit).sub(" ", text)
    found = re.findall(r"(?<![\w.])([0-9]+\s*\*\s*(?:3600|86400)|(?:3600|86400)\s*\*\s*[0-9]+)"
                       r"(?![\w.])", text)
    text = re.sub(r"[0-9]+\s*\*\s*(?:3600|86400)|(?:3600|86400)\s*\*\s*[0-9]+", " ", text)
    found += [n for n in re.findall(r"(?<![\w.])([0-9]+)(?![\w.])", text) if int(n) >= 300]
    return found


def outside_strings(expr, fn):
    """expr with fn applied to every part outside its string literals."""
    out, pos = [], 0
    for m in STRING.finditer(expr):
        out.append(fn(expr[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(fn(expr[pos:]))
    return "".join(out)


def compress_expr(alert, expr, f):
    for lit in DURATIONS.get(alert, []):
        pat = literal_pattern(lit)
        if not pat.search(STRING.sub('""', expr)):
            raise ValueError("%s: DURATIONS names %r, which its expression does not have" %
                             (alert, lit))
        expr = outside_strings(expr, lambda t, p=pat, v=format_seconds(seconds_of(lit) / f):
                               p.sub(v, t))

    def rng(m):
        out = "[" + scale_duration(m.group(1), f)
        if ":" in m.group(0):
            out += ":" + (scale_duration(m.group(2), f) if m.group(2) else "")
        return out + "]"

    def durations(text):
        text = RANGE.sub(rng, text)
        return OFFSET.sub(lambda m: "offset " + m.group(1) + scale_duration(m.group(2), f),
                          text)

    return outside_strings(expr, durations)


def compress(doc, f):
    out = {"groups": []}
    for g in doc["groups"]:
        ng = dict(g)
        if "interval" in g:
            ng["interval"] = scale_duration(g["interval"], f)
        ng["rules"] = []
        for r in g["rules"]:
            name = r.get("alert") or r.get("record")
            bad = unclassified(name, r["expr"])
            if bad:
                raise ValueError(
                    "%s: %s in its expression: a duration (add it to DURATIONS in %s) or "
                    "not (PLAIN)?" % (name, ", ".join(bad), __file__))
            nr = dict(r)
            nr["expr"] = compress_expr(name, r["expr"], f)
            if "for" in r:
                nr["for"] = scale_duration(r["for"], f)
            ng["rules"].append(nr)
        out["groups"].append(ng)
    return out


# ---- the comparison: an independent reading of both files -----------------------------------

TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|offset\s+-?%s' % DURATION
                   + r"|[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?"
                   r"|[A-Za-z_:][A-Za-z0-9_:]*|==|!=|>=|<=|=~|!~|\S")


def tokens(alert, expr):
    """Tokens of expr; a DURATIONS literal becomes one ("dur", seconds) token."""
    for lit in DURATIONS.get(alert, []):
        expr = outside_strings(expr, lambda t, p=literal_pattern(lit), v=seconds_of(lit):
                               p.sub(" \x00%r\x00 " % v, t))
    out = []
    for i, part in enumerate(re.split(r"\x00([^\x00]*)\x00", expr)):
        if i % 2:
            out.append(("dur", float(part)))
        else:
            out += [("tok", t) for t in TOKEN.findall(part)]
    return out


def differences(orig, comp, f):
    """Everything in which comp is not orig with its durations divided by f."""
    diffs = []
    og, cg = orig["groups"], comp["groups"]
    if [g.get("name") for g in og] != [g.get("name") for g in cg]:
        return ["group names differ"]
    for g1, g2 in zip(og, cg):
        if set(g1) != set(g2) or len(g1["rules"]) != len(g2["rules"]):
            diffs.append("group %s: keys or rule counts differ" % g1["name"])
            continue
        for r1, r2 in zip(g1["rules"], g2["rules"]):
            name = r1.get("alert") or r1.get("record")
            if set(r1) != set(r2):
                diffs.append("%s: keys differ" % name)
            for k in r1:
                if k not in ("expr", "for") and r1[k] != r2.get(k):
                    diffs.append("%s: %s changed" % (name, k))
            if "for" in r1 and duration_ms(r1["for"]) != duration_ms(r2.get("for", "")) * f:
                diffs.append("%s: for %s -> %s is not 1/%d" % (name, r1["for"], r2.get("for"), f))
            t1 = tokens(name, r1["expr"])
            t2 = [("tok", t) for t in TOKEN.findall(r2["expr"])]
            if len(t1) != len(t2):
                diffs.append("%s: expression structure changed" % name)
                continue
            for a, b in zip(t1, t2):
                if a[0] == "dur":
                    if not re.fullmatch(r"[0-9.]+", b[1]) or abs(float(b[1]) * f - a[1]) > 1e-9:
                        diffs.append("%s: %s s -> %s is not 1/%d" % (name, a[1], b[1], f))
                elif a[1].startswith("[") or a[1].startswith("offset"):
                    d1 = [duration_ms(x) for x in re.findall(DURATION + "|:", a[1])]
                    d2 = [duration_ms(x) for x in re.findall(DURATION + "|:", b[1])]
                    if [x for x in d1] != [x * f for x in d2]:
                        diffs.append("%s: %s -> %s is not 1/%d" % (name, a[1], b[1], f))
                elif a != b:
                    diffs.append("%s: %r changed to %r" % (name, a[1], b[1]))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--factor", type=int)
    ap.add_argument("--self-test", action="store_true",
                    help="only show that the checks can fail (exit 0 when they do)")
    ap.add_argument("input", nargs="?")
    ap.add_argument("output", nargs="?")
    a = ap.parse_args()
    if a.self_test:
        problem = self_test()
        print("compress_rules.py self-test: %s" % (problem or "ok"))
        return 1 if problem else 0
    if not (a.factor and a.input and a.output):
        ap.error("--factor, IN and OUT are required")
    with open(a.input) as fh:
        orig = yaml.safe_load(fh)
    try:
        comp = compress(orig, a.factor)
    except ValueError as e:
        sys.exit("compress_rules.py: %s" % e)
    diffs = differences(orig, comp, a.factor)
    if diffs:
        sys.exit("compress_rules.py: the copy is not the rules with durations / %d:\n  %s" %
                 (a.factor, "\n  ".join(diffs)))
    with open(a.output, "w") as fh:
        fh.write("# %s compressed %d times by tests/deploy/compress_rules.py: do not edit\n" %
                 (a.input, a.factor))
        yaml.dump(comp, fh, Dumper=BlockDumper, sort_keys=False, width=1000)
    return 0


class BlockDumper(yaml.SafeDumper):
    """Multi-line strings (expressions) as literal blocks, as in the rule file."""


BlockDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s,
                                         style="|" if "\n" in s else None))


def self_test():
    """The checks can fail: an unclassified time threshold, a changed threshold."""
    doc = {"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "time() - x > 7200", "for": "5m"},
        {"alert": "HighErrorRate", "expr": "rate(x[5m]) > 0.01", "for": "1m"}]}]}
    try:
        compress(doc, 60)
        return "an unclassified 7200 in an expression was accepted"
    except ValueError as e:
        if "7200" not in str(e):
            return "unexpected error: %s" % e
    doc["groups"][0]["rules"].pop(0)
    comp = compress(doc, 60)
    if differences(doc, comp, 60):
        return "a faithful copy was reported: %s" % differences(doc, comp, 60)
    comp["groups"][0]["rules"][0]["expr"] = "rate(x[5s]) > 0.02"
    if not any("0.01" in d for d in differences(doc, comp, 60)):
        return "a changed threshold was not reported"
    comp["groups"][0]["rules"][0]["expr"] = "rate(x[10s]) > 0.01"
    if not any("[10s]" in d for d in differences(doc, comp, 60)):
        return "a window scaled by another factor was not reported"
    return None


if __name__ == "__main__":
    sys.exit(main())
