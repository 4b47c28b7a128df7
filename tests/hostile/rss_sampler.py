#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Samples a process's resident memory (VmRSS of /proc/PID/status).

  rss_sampler.py PID OUT STOP_FILE [INTERVAL_S] [MAX_SECONDS]

Every INTERVAL_S (default 0.05) appends "seconds rss_kib" to OUT, until STOP_FILE exists,
the process is gone, or MAX_SECONDS (default 120) passed.
"""
import os
import sys
import time


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    pid, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    t0 = time.monotonic()
    with open(out, "w") as f:
        while not os.path.exists(stop) and time.monotonic() - t0 < limit:
            v = rss_kib(pid)
            if v is None:
                break
            f.write("%.3f %d\n" % (time.monotonic() - t0, v))
            f.flush()
            time.sleep(interval)


if __name__ == "__main__":
    main()
