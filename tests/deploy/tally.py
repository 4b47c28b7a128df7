# SPDX-License-Identifier: Apache-2.0
"""The report every deploy check prints: a line a check ("ok   ..." or "FAIL ..." with its
details below), then "N passed, M failed". Imported by the scripts of tests/deploy."""

_counts = {"passed": 0, "failed": 0}


def result(ok, what, details=(), most=30):
    """Prints one check; at most `most` lines of details for a failed one. Returns `ok`."""
    _counts["passed" if ok else "failed"] += 1
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        for d in list(details)[:most]:
            print("     " + str(d))
    return ok


def summary():
    """Prints the totals; the exit status: 0 when every check passed, else 1."""
    print("%d passed, %d failed" % (_counts["passed"], _counts["failed"]))
    return 1 if _counts["failed"] else 0
