#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Measures how long the server holds each TCP connection from one client address.

  connwatch.py PORT PEER_IP OUT STOP_FILE [MAX_SECONDS] [INTERVAL_S] [DRAIN_S]

Every INTERVAL_S (default 0.25) reads /proc/net/tcp: a connection is held by the server while
its server-side socket (local port PORT, remote address PEER_IP) is ESTABLISHED or
CLOSE_WAIT, i.e. until the server process closes it (states after the server's close, such as
FIN_WAIT1 with unsent data, do not count). Connections still in the listen backlog count too:
they are the server's to accept. After STOP_FILE appears it goes on until no connection is
held or DRAIN_S (default 11) more seconds passed; it stops at MAX_SECONDS (default 300) anyway. Writes "peer_port first_seen last_seen lifetime" per connection to OUT (seconds since
start; lifetime = last - first + INTERVAL_S, an upper bound), then prints
  connections N max_lifetime S p50_lifetime S max_concurrent M still_open K
"""
import os
import socket
import struct
import sys
import time


def hex_ip(ip):
    return "%08X" % struct.unpack("<I", socket.inet_aton(ip))[0]


def held(port, peer_hex):
    out = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            local, remote, st = p[1], p[2], p[3]
            if st not in ("01", "08"):
                continue
            if int(local.split(":")[1], 16) != port:
                continue
            rip, rport = remote.split(":")
            if rip == peer_hex:
                out.add(int(rport, 16))
    return out


def main():
    port, peer, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else 300.0
    interval = float(sys.argv[6]) if len(sys.argv) > 6 else 0.25
    drain = float(sys.argv[7]) if len(sys.argv) > 7 else 11.0
    peer_hex = hex_ip(peer)
    t0 = time.monotonic()
    live = {}  # peer port -> [first, last]
    done = []  # (peer port, first, last)
    max_conc = 0
    stop_seen = None
    while time.monotonic() - t0 < limit:
        now = time.monotonic() - t0
        if stop_seen is None and os.path.exists(stop):
            stop_seen = now
        if stop_seen is not None and (not live or now - stop_seen >= drain):
            break
        cur = held(port, peer_hex)
        max_conc = max(max_conc, len(cur))
        for p in list(live):
            if p not in cur:
                done.append((p, live[p][0], live[p][1]))
                del live[p]
        for p in cur:
            if p in live:
                live[p][1] = now
            else:
                live[p] = [now, now]
        time.sleep(interval)
    still = len(live)
    for p, (a, b) in live.items():
        done.append((p, a, b))
    lifetimes = sorted(b - a + interval for _, a, b in done)
    with open(out, "w") as f:
        for p, a, b in sorted(done, key=lambda d: d[1]):
            f.write("%d %.2f %.2f %.2f\n" % (p, a, b, b - a + interval))
    n = len(lifetimes)
    print("connections %d max_lifetime %.2f p50_lifetime %.2f max_concurrent %d still_open %d" %
          (n, lifetimes[-1] if n else 0, lifetimes[n // 2] if n else 0, max_conc, still))


if __name__ == "__main__":
    main()
