#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints a TCP port that is free on 127.0.0.1 now (the kernel's pick of an ephemeral one),
for the tests and benchmarks that start servers on loopback. Another process may take it
before the caller binds it: callers retry with another port."""
import socket

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
