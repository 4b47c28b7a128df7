#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A crowd of connections that never finish their first request head.

  slowheads.py PORT N INTERVAL MAX_SECONDS

Opens N connections to 127.0.0.1:PORT, sends on each the start of a GET /healthz head (its
request line and Host header), then one more header byte every INTERVAL seconds, as
slowhttptest -H does. Goes on until the server has closed every connection or MAX_SECONDS
pass, and prints
  closed K of N longest S
with S the longest time, in seconds from its connect, the server held a connection it
closed (a connection still open at the end counts MAX_SECONDS).
"""
import select
import socket
import sys
import time


def main():
    port, n, interval, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    t0 = time.monotonic()
    conns = {}
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        conns[s] = time.monotonic()
    lifetimes = []
    next_byte = time.monotonic() + interval
    while conns and time.monotonic() - t0 < limit:
        wait = max(0.01, min(next_byte, t0 + limit) - time.monotonic())
        readable, _, _ = select.select(list(conns), [], [], wait)
        for s in readable:
            try:
                closed = s.recv(4096) == b""
            except ConnectionResetError:
                closed = True
            if closed:
                lifetimes.append(time.monotonic() - conns.pop(s))
                s.close()
        if time.monotonic() >= next_byte:
            for s in list(conns):
                try:
                    s.sendall(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    lifetimes.append(time.monotonic() - conns.pop(s))
                    s.close()
            next_byte += interval
    longest = max(lifetimes + [limit] * len(conns)) if n else 0
    print("closed %d of %d longest %.2f" % (len(lifetimes), n, longest))
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
