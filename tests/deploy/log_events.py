#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every event the daemon logs is named in docs/runbook.md's Logs section, and every event
that section names is one the daemon logs.

  log_events.py SOURCE_DIR

The daemon's events are the `event` argument of each capv_log_begin() call in capverifyd/
(a string literal, possibly on the call's next line); the section's are the backquoted
lower-case names in it; those with an underscore that are fields or values rather than
events are listed in NOT_EVENTS below.
Proves it can fail: a made-up event must be reported.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

# Backquoted words of the Logs section that are fields or error codes, not events (metric
# names, cap_verifier_*, are left out too).
NOT_EVENTS = {
    "auth_unavailable", "body_bytes", "client_id", "connections_cut", "duration_ms",
    "failed_checks", "in_ms", "io_error", "next_backup_at", "registry_unavailable",
    "request_id", "requests_cut", "size_bytes", "store_listed", "unverified_alg",
    "unverified_client_id", "unverified_iss", "unverified_kid", "unverified_sub", "upload_ms",
    "verify_ms",
}


def daemon_events(src):
    events = {}
    call = re.compile(r'capv_log_begin\((?:[^;"]|\n)*?"([a-z0-9_]+)"\s*\)', re.S)
    for name in sorted(os.listdir(os.path.join(src, "capverifyd"))):
        if not name.endswith(".c"):
            continue
        text = open(os.path.join(src, "capverifyd", name), encoding="utf-8").read()
        for m in call.finditer(text):
            events.setdefault(m.group(1), name)
    return events


def section_names(runbook):
    text = open(runbook, encoding="utf-8").read()
    m = re.search(r"^### Logs\n(.*?)^##", text, re.S | re.M)
    if m is None:
        sys.exit("docs/runbook.md has no '### Logs' section")
    return set(re.findall(r"`([a-z][a-z0-9_]*)`", m.group(1)))


def problems(events, named):
    out = [f"event {e} ({events[e]}) is not named in docs/runbook.md's Logs section"
           for e in sorted(set(events) - named)]
    # a name with an underscore that is no event of the code: a renamed or removed one
    out += [f"docs/runbook.md's Logs section names `{n}`, which the daemon never logs "
            f"(add it to NOT_EVENTS in {os.path.basename(__file__)} if it is a field)"
            for n in sorted(named - set(events) - NOT_EVENTS)
            if "_" in n and not n.startswith("cap_verifier_")]
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    events = daemon_events(src)
    named = section_names(os.path.join(src, "docs", "runbook.md"))
    if len(events) < 20:
        sys.exit(f"found only {len(events)} events in capverifyd/: the pattern is out of date")
    # the check itself can fail: an event of the code the section does not name
    if not problems(dict(events, made_up_event="x.c"), named):
        sys.exit("a made-up event was not reported")
    found = problems(events, named)
    for p in found:
        print("FAIL:", p)
    print(f"{len(events)} events of capverifyd/, {len(found)} problem(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
