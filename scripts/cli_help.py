# SPDX-License-Identifier: Apache-2.0
"""Reading capverify's own --help texts: shared by scripts/gen-completions.py (the shell
completions) and tests/docs/man_options.py (capverify(1) against the tool)."""
import re


def listed(text, heading="commands:"):
    """The words indented by two spaces under `heading`, up to the next empty line."""
    found, inside = [], False
    for line in text.splitlines():
        if line.startswith(heading):
            inside = True
            continue
        m = re.match(r"^  ([a-z][a-z-]*)\s", line)
        if inside and m:
            found.append(m.group(1))
        elif inside and not line.strip():
            inside = False
    return found
