#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the bash and zsh completions of capverify from the built tool itself: the commands of
`capverify --help` (the command table), and for each command the subcommands and options its
`--help` documents. Run at build time (capverify-cli/CMakeLists.txt); the test cli.completion
drives the bash one.

  gen-completions.py CAPVERIFY OUT_DIR    writes OUT_DIR/capverify.bash and OUT_DIR/_capverify
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_help import listed  # noqa: E402


def helptext(cli, *args):
    r = subprocess.run([cli, *args, "--help"], capture_output=True, text=True, check=False)
    return r.stdout + r.stderr


def commands(cli):
    return listed(helptext(cli))


def describe(cli, cmd):
    text = helptext(cli, cmd)
    subs = re.findall(r"capverify %s ([a-z][a-z-]*)\b" % re.escape(cmd), text) + listed(text)
    opts = sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) | {"--help"})
    return sorted(set(subs)), opts


def main():
    cli, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    cmds = commands(cli)
    if not cmds:
        sys.exit("gen-completions: no commands in '%s --help'" % cli)
    table = {c: describe(cli, c) for c in cmds}
    table["help"] = (cmds, ["--help"])  # capverify help COMMAND
    cases = "".join(
        "        %s) subs=%s; opts=%s ;;\n" % (c, shq(" ".join(s)), shq(" ".join(o)))
        for c, (s, o) in table.items())
    with open(os.path.join(out, "capverify.bash"), "w") as f:
        f.write("""# bash completion of capverify, generated from the tool's own --help (gen-completions.py).
_capverify() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]:-} subs="" opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W %s -- "$cur"))
        return
    fi
    case $cmd in
%s    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _capverify capverify
""" % (shq(" ".join(cmds) + " help"), cases))
    zcases = "".join(
        "        (%s) subs=(%s); opts=(%s) ;;\n" % (c, " ".join(s), " ".join(o))
        for c, (s, o) in table.items())
    with open(os.path.join(out, "_capverify"), "w") as f:
        f.write("""#compdef capverify
# zsh completion of capverify, generated from the tool's own --help (gen-completions.py).
local -a cmds subs opts
cmds=(%s help)
if (( CURRENT == 2 )); then
    compadd -a cmds
    return
fi
case ${words[2]} in
%sesac
if [[ ${words[CURRENT]} == -* ]]; then
    compadd -a opts
elif (( CURRENT == 3 )) && (( ${#subs} )); then
    compadd -a subs
else
    _files
fi
""" % (" ".join(cmds), zcases))


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    main()
