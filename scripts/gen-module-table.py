#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The library's module table of docs/architecture.md (between <!-- modules:begin --> and
<!-- modules:end -->), generated from the code.

A module is a .c file of libcapverify/ (its stem). Module A depends on B when A.c names a
function (capv_* or capvi_*) that B.c defines at file scope, not static (read as
scripts/check-include-cycles.py reads them). A module's layer is the longest chain of
dependencies under it: 0 for none, else one more than the highest layer it depends on.
Inside a circle of modules, a dependency through public functions only (capv_*, the API any
caller has) does not count for the layers: the module sits below the one whose private
functions (capvi_*) call it back. A circle left after that fails: the layers would have no
order.

Usage: scripts/gen-module-table.py [--check | --write] [SOURCE_ROOT]
  (no flag)  prints the table
  --check    exits 1, with a diff, when docs/architecture.md holds another table (the test
             lint.module_table)
  --write    replaces the table in docs/architecture.md
"""

import difflib
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "include_cycles", os.path.join(HERE, "check-include-cycles.py"))
cycles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cycles)

BEGIN, END = "<!-- modules:begin -->", "<!-- modules:end -->"
NAME_RE = re.compile(r"\b(capvi?_\w+)\b")


def dependencies(libdir):
    """{module: {module it depends on: [functions of that module it names]}}"""
    texts = {}
    for f in sorted(os.listdir(libdir)):
        if f.endswith(".c"):
            with open(os.path.join(libdir, f), encoding="utf-8", errors="replace") as fh:
                texts[f[:-2]] = fh.read()
    definer = {}
    for mod, text in texts.items():
        for name in cycles.top_level_functions(text)[1]:
            definer.setdefault(name, mod)
    deps = {}
    for mod, text in texts.items():
        named = set(NAME_RE.findall(cycles.strip_comments_strings(text)))
        deps[mod] = {}
        for name in sorted(named):
            other = definer.get(name)
            if other is not None and other != mod:
                deps[mod].setdefault(other, []).append(name)
    return deps


def layers(deps):
    """{module: layer}, or exits 2 naming a circle the rule above does not order."""
    counted = {m: set(d) for m, d in deps.items()}
    for comp in cycles.strongly_connected(sorted(deps), deps):
        members = set(comp)
        for a in comp:
            for b in deps[a]:
                if b in members and all(f.startswith("capv_") for f in deps[a][b]):
                    counted[a].discard(b)
    left = [c for c in cycles.strongly_connected(sorted(counted), counted) if len(c) > 1]
    if left:
        sys.exit("gen-module-table: modules in a circle through private functions: " +
                 "; ".join(" <-> ".join(sorted(c)) for c in left))
    layer = {}

    def visit(m):
        if m not in layer:
            layer[m] = 1 + max((visit(d) for d in counted[m]), default=-1)
        return layer[m]

    for m in sorted(deps):
        visit(m)
    return layer


def table(root):
    deps = dependencies(os.path.join(root, "libcapverify"))
    layer = layers(deps)
    lines = [BEGIN, "| layer | module | depends on |", "|---|---|---|"]
    for m in sorted(deps, key=lambda m: (layer[m], m)):
        lines.append(f"| {layer[m]} | `{m}` | {', '.join(sorted(deps[m])) or '—'} |")
    lines.append(END)
    return lines


def main(argv):
    args = argv[1:]
    mode = args.pop(0) if args and args[0] in ("--check", "--write") else None
    root = args[0] if args else os.path.dirname(HERE)
    want = table(root)
    if mode is None:
        print("\n".join(want))
        return 0
    doc = os.path.join(root, "docs", "architecture.md")
    with open(doc, encoding="utf-8") as fh:
        text = fh.read().split("\n")
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        sys.exit(f"gen-module-table: {doc} holds no single {BEGIN} ... {END} section")
    begin, end = text.index(BEGIN), text.index(END) + 1
    have = text[begin:end]
    if mode == "--write":
        if have != want:
            with open(doc, "w", encoding="utf-8") as fh:
                fh.write("\n".join(text[:begin] + want + text[end:]))
        return 0
    if have == want:
        print(f"module-table: {doc}: the table of the {len(want) - 4} modules is current")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        [line + "\n" for line in have], [line + "\n" for line in want],
        "docs/architecture.md", "scripts/gen-module-table.py"))
    print("module-table: the table differs from the code: run scripts/gen-module-table.py "
          "--write")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
