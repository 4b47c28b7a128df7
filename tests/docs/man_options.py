#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""capverify(1) documents exactly the options the built capverify accepts, command by command.

The commands come from `capverify --help`, their subcommands from `capverify COMMAND --help`
(each confirmed by the tool: it does not answer "unknown subcommand"). The candidate options
are the names of the CLI's option tables (capverify-cli/*.c: struct option entries, short
option strings), those its help texts name and those the page names. Each candidate is asked
of each subcommand: `capverify CMD SUB --NAME=x --zz-end` (`-N --zz-end` for a short one)
stops at an unknown option with "unknown option '--NAME'", and otherwise at the flag's value
or at --zz-end, so nothing runs. An accepted candidate that only abbreviates another
accepted one (getopt takes unique prefixes) is not counted.

The page (docs/man/capverify.1, mdoc): in COMMANDS each .Ss names the subcommands it covers
("registry backup", "registry backup and registry restore: ..."; a command alone covers all
its subcommands), its `.It Fl` entries are their options; those of DESCRIPTION are every
command's. It fails when a subcommand accepts an option its sections do not list, when they
list one it does not accept, when a subcommand has no section, and when any `Fl` of the page
names an option no command accepts.

  man_options.py CAPVERIFY SOURCE_DIR
"""
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from cli_help import listed  # noqa: E402

PROBE_END = "--zz-capv-probe-end"
MACRO_RE = re.compile(r"^[A-Z][a-z][a-z]?$")
OPT_NAME_RE = re.compile(r"^-?[A-Za-z0-9][A-Za-z0-9-]*$")


def run(cli, args, cwd):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CAPV_", "AWS_", "PG"))}
    r = subprocess.run([cli, *args], capture_output=True, text=True, cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, timeout=60, check=False)
    return r.returncode, r.stdout + r.stderr


def cli_tree(cli, cwd):
    """{command: [subcommands]} ([""] for a command without subcommands) and the help texts."""
    tree, helps = {}, []
    _, top = run(cli, ["--help"], cwd)
    helps.append(top)
    for cmd in listed(top):
        _, text = run(cli, ["help", cmd], cwd)
        helps.append(text)
        named = set(re.findall(r"capverify %s ([a-z][a-z-]*)\b" % re.escape(cmd), text))
        named |= set(listed(text))
        subs = []
        for sub in sorted(named):
            _, out = run(cli, [cmd, sub, PROBE_END], cwd)
            if not re.search(r"unknown (sub)?command", out):
                subs.append(sub)
        tree[cmd] = subs or [""]
    return tree, helps


def table_options(src, cmd=None):
    """The long and short option names of the CLI's option tables (of `cmd`'s files,
    cmd_CMD.c and cmd_CMD_*.c, or of all)."""
    longs, shorts = {"--help"}, set()
    d = os.path.join(src, "capverify-cli")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".c") or (cmd and not re.match(r"cmd_%s(_\w+)?\.c$" % cmd, f)):
            continue
        with open(os.path.join(d, f), encoding="utf-8") as fh:
            text = fh.read()
        for name in re.findall(r'\{\s*"([a-z0-9-]+)",\s*(?:no|required|optional)_argument', text):
            longs.add("--" + name)
        for name in re.findall(r'\b(?:REQ|FLAG)\("([a-z0-9-]+)"', text):
            longs.add("--" + name)
        for spec in re.findall(r'cli_next_opt\([^;]*?,\s*"([^"]*)"', text, re.S):
            shorts |= {"-" + c for c in spec if c.isalnum()}
    return longs | shorts


def accepts(cli, cwd, cmd, sub, opt):
    args = [cmd] + ([sub] if sub else [])
    probe = [opt + "=x"] if opt.startswith("--") else [opt]
    _, out = run(cli, args + probe + [PROBE_END], cwd)
    return "unknown option '%s'" % opt not in out


def page_flags(line):
    """The option names of the Fl macros of an mdoc line ("--json", "-q")."""
    words, flags, in_fl = line[1:].split(), [], False
    for w in words:
        if w == "Fl":
            in_fl = True
        elif MACRO_RE.match(w) or not OPT_NAME_RE.match(w):
            in_fl = False
        elif in_fl:
            flags.append("-" + w)
    return flags


def page_sections(path, tree):
    """{(cmd, sub): documented options}, every option the page names, the problems found."""
    docs = {(c, s): set() for c, subs in tree.items() for s in subs}
    covered, every, named, problems = set(), set(), set(), []
    sh, targets = None, []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.startswith(".") or line.startswith(".\\\""):
            continue
        if line.startswith(".Sh "):
            sh, targets = line[4:].strip(), []
            continue
        if line.startswith(".Ss ") and sh == "COMMANDS":
            words = re.findall(r"[a-z][a-z-]*", line[4:])
            targets, i = [], 0
            while i < len(words):
                cmd = words[i]
                if cmd in tree:
                    nxt = words[i + 1] if i + 1 < len(words) else None
                    if nxt in tree[cmd]:
                        targets.append((cmd, nxt))
                        i += 1
                    else:
                        targets += [(cmd, s) for s in tree[cmd]]
                i += 1
            if not targets:
                problems.append("line %d: .Ss names no command of capverify --help: %s" %
                                (n, line))
            covered |= set(targets)
            continue
        flags = page_flags(line)
        named |= {(f, n) for f in flags}
        if line.startswith(".It ") and line.split()[1:2] == ["Fl"]:
            if sh == "DESCRIPTION":
                every |= set(flags)
            elif sh == "COMMANDS" and targets:
                for t in targets:
                    docs[t] |= set(flags)
    for t in docs:
        docs[t] |= every
    for t in sorted(set(docs) - covered):
        problems.append("capverify %s: no section (.Ss) in the page" % " ".join(t).strip())
    return docs, named, problems


def main():
    cli, src = os.path.realpath(sys.argv[1]), sys.argv[2]
    page = os.path.join(src, "docs", "man", "capverify.1")
    fails = 0
    with tempfile.TemporaryDirectory() as cwd:
        tree, helps = cli_tree(cli, cwd)
        if len(tree) < 5:
            print("FAIL - 'capverify --help' lists %d commands" % len(tree))
            return 1
        docs, named, problems = page_sections(page, tree)
        for p in problems:
            print("FAIL - " + p)
            fails += 1
        own = {cmd: table_options(src, cmd) for cmd in tree}
        candidates = table_options(src) | {f for f, _ in named}
        for text in helps:
            candidates |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z0-9])\b", text))
        accepted_anywhere = set()
        checked = 0
        for (cmd, sub), documented in sorted(docs.items()):
            with ThreadPoolExecutor(2) as pool:
                answers = pool.map(lambda o: (o, accepts(cli, cwd, cmd, sub, o)),
                                   sorted(candidates))
                took = {o for o, yes in answers if yes}
            # an abbreviation of an accepted option (getopt takes unique prefixes) is no
            # option of its own, unless the command's tables name it
            took = {o for o in took
                    if o in own[cmd] or not any(p != o and p.startswith(o) for p in took)}
            accepted_anywhere |= took
            where = "capverify %s" % " ".join(x for x in (cmd, sub) if x)
            for o in sorted(took - documented):
                print("FAIL - %s accepts %s, which capverify(1) does not list for it" % (where, o))
                fails += 1
            for o in sorted(documented - took):
                print("FAIL - capverify(1) lists %s for %s, which does not accept it" % (o, where))
                fails += 1
            checked += len(took)
        # the top level's own: capverify -h, --help, --version
        for o in ("-h", "--help", "--version"):
            if run(cli, [o], cwd)[0] == 0:
                accepted_anywhere.add(o)
        for o, n in sorted(named):
            if o not in accepted_anywhere:
                print("FAIL - capverify(1) line %d names %s, which no command accepts" % (n, o))
                fails += 1
    if fails == 0:
        print("ok   - capverify(1) lists the %d options of the %d subcommands, and names no "
              "other" % (checked, len(docs)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
