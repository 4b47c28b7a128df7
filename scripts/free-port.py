#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints N (default 1) distinct TCP ports, one per line, that are free on 127.0.0.1 now (the
kernel's picks of ephemeral ones), for the tests and benchmarks that start servers on
loopback. All N stay bound until all are picked, so one call never prints a port twice: two
separate calls may. Another process may take a port before the caller binds it: callers
retry with others."""
import socket
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
held = []
try:
    for _ in range(count):
        s = socket.socket()
        held.append(s)
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
finally:
    for s in held:
        s.close()
