#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fails when the library's modules (or the daemon's) depend on each other in a cycle.

A module is a .c file (its stem: libcapverify/registry_backup.c is module
`registry_backup`). A module depends on another when one of the headers it includes with
#include "..." -- directly, or through other quoted headers -- declares a function that the
other module defines. A header that declares no function defined anywhere (types, macros,
static inline helpers only) belongs to the module of its stem (X.h and X_int.h: module X),
if there is one.

So `json_int.h` included by status.c makes status depend on json (json.c defines what it
declares), and a private header shared by several files (`policy_int.h` declaring functions
of policy.c, policy_eval.c and policy_lint.c) makes every includer depend on all of them --
which is exactly the coupling that one header per module avoids.

Usage: scripts/check-include-cycles.py [SOURCE_ROOT] [DIR...]
       (default: the repository holding this script; libcapverify capverifyd)
Prints each cycle (strongly connected group of modules) with the #include lines and the
functions that make each dependency, and exits 1 if there is any; 0 otherwise.
"""

import os
import re
import sys
from collections import defaultdict

DEFAULT_DIRS = ["libcapverify", "capverifyd"]
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
IDENT_RE = re.compile(r"[A-Za-z_]\w*")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else", "case",
            "__attribute__", "_Static_assert", "defined", "typeof", "__typeof__",
            "_Alignof", "alignof", "_Generic"}


def strip_comments_strings(text):
    """Blanks comments, string and character literals (keeping line breaks)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * max(0, j - i - 2) + c if j - i >= 2 else c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_preprocessor(text):
    """Blanks preprocessor directives (with their continuation lines)."""
    lines = text.split("\n")
    out, cont = [], False
    for line in lines:
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def top_level_functions(text):
    """(declared, defined): names of functions declared (prototype ending in ';') and
    defined (followed by a body) at file scope."""
    text = strip_preprocessor(strip_comments_strings(text))
    declared, defined = set(), set()
    depth = 0  # braces
    i, n = 0, len(text)
    stmt_start = 0
    while i < n:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                stmt_start = i + 1
        elif c == ";" and depth == 0:
            stmt_start = i + 1
        elif depth == 0 and (c.isalpha() or c == "_"):
            m = IDENT_RE.match(text, i)
            name = m.group(0)
            j = m.end()
            while j < n and text[j] in " \t\n":
                j += 1
            statement = text[stmt_start:i]
            if (j < n and text[j] == "(" and name not in KEYWORDS
                    and "(" not in statement and "=" not in statement
                    and not re.search(r"\btypedef\b", statement)):
                # name ( params ) then ';' (declaration) or '{' (definition)
                k, par = j, 0
                while k < n:
                    if text[k] == "(":
                        par += 1
                    elif text[k] == ")":
                        par -= 1
                        if par == 0:
                            break
                    k += 1
                k += 1
                # skip attributes after the parameter list
                while True:
                    while k < n and text[k] in " \t\n":
                        k += 1
                    a = re.match(r"__attribute__\s*\(", text[k:])
                    if not a:
                        break
                    k += a.end() - 1
                    par = 0
                    while k < n:
                        if text[k] == "(":
                            par += 1
                        elif text[k] == ")":
                            par -= 1
                            if par == 0:
                                break
                        k += 1
                    k += 1
                if k < n and text[k] == ";":
                    if not re.search(r"\bstatic\b", statement):
                        declared.add(name)
                elif k < n and text[k] == "{":
                    if not re.search(r"\bstatic\b", statement):
                        defined.add(name)
                i = k
                continue
            i = j
            continue
        i += 1
    return declared, defined


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = argv[1] if len(argv) > 1 else os.path.dirname(here)
    dirs = argv[2:] or DEFAULT_DIRS
    failed = False
    for d in dirs:
        failed |= check_dir(root, d)
    return 1 if failed else 0


def check_dir(root, d):
    base = os.path.join(root, d)
    files = sorted(f for f in os.listdir(base) if f.endswith((".c", ".h")))
    texts = {}
    for f in files:
        with open(os.path.join(base, f), encoding="utf-8", errors="replace") as fh:
            texts[f] = fh.read()
    modules = sorted(f[:-2] for f in files if f.endswith(".c"))

    definer = {}  # function name -> module
    for f in files:
        if f.endswith(".c"):
            for name in top_level_functions(texts[f])[1]:
                definer.setdefault(name, f[:-2])

    # owners[h] = {module: [functions]} for each header of this directory
    owners = {}
    for h in (f for f in files if f.endswith(".h")):
        declared = top_level_functions(texts[h])[0]
        own = defaultdict(list)
        for name in sorted(declared):
            if name in definer:
                own[definer[name]].append(name)
        if not own:
            stem = h[:-2]
            stem = stem[:-4] if stem.endswith("_int") else stem
            if stem in modules:
                own[stem] = []
        owners[h] = own

    includes = {}  # file -> [(line, header)]
    for f in files:
        inc = []
        for m in INCLUDE_RE.finditer(texts[f]):
            h = os.path.basename(m.group(1))
            if h in texts:
                inc.append((texts[f].count("\n", 0, m.start()) + 1, h))
        includes[f] = inc

    # edges[a][b] = evidence lines
    edges = defaultdict(lambda: defaultdict(list))
    for f in files:
        if not f.endswith(".c"):
            continue
        mod = f[:-2]
        # every header seen by f, with the chain of includes that brings it in
        seen = {}
        stack = [(h, [f"{d}/{f}:{line}"]) for line, h in includes[f]]
        while stack:
            h, chain = stack.pop(0)
            if h in seen:
                continue
            seen[h] = chain
            for line, h2 in includes[h]:
                stack.append((h2, chain + [f"{d}/{h}:{line}"]))
        for h, chain in seen.items():
            for other, funcs in owners[h].items():
                if other == mod:
                    continue
                via = " -> ".join(chain) + f' #include "{h}"'
                what = (", ".join(f + "()" for f in funcs[:4]) +
                        (f" (+{len(funcs) - 4} more)" if len(funcs) > 4 else "")
                        if funcs else f"{h} belongs to {other}")
                edges[mod][other].append(f"{via}: {what}")

    sccs = strongly_connected(modules, edges)
    cycles = [sorted(c) for c in sccs if len(c) > 1]
    if not cycles:
        print(f"include-cycles: {d}: no cycles between its {len(modules)} modules")
        return False
    print(f"include-cycles: {d}: {len(cycles)} cycle(s) between modules")
    for comp in sorted(cycles):
        members = set(comp)
        print()
        print(f"cycle: {' <-> '.join(comp)}")
        example = shortest_cycle(comp[0], members, edges)
        if example:
            print(f"  e.g. {' -> '.join(example)}")
        for a in comp:
            for b in sorted(edges[a]):
                if b in members:
                    print(f"  {a} -> {b}")
                    for ev in sorted(set(edges[a][b]))[:3]:
                        print(f"      {ev}")
    print()
    print("Each private header should declare only the functions of its own module: break "
          "a cycle by giving a module its own header, or by moving code between modules.")
    return True


def strongly_connected(nodes, edges):
    index, low, onstack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        onstack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in onstack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                onstack.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def shortest_cycle(start, members, edges):
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
