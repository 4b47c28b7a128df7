#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sends only the headers of a POST with Expect: 100-continue and a Content-Length, never the
body, and reports what the server does with them.

  expect_probe.py PORT PATH CONTENT_TYPE CONTENT_LENGTH [TOKEN]

Prints "status closed got100 seconds": the final status (000: none within 3 s), whether the
server then closed the connection (eof | reset | open after 2 more seconds), whether it sent
"100 Continue" first (it asked for the body: yes | no), and the seconds until the final status.
"""
import socket
import sys
import time


def main():
    port, path, ctype, length = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    token = sys.argv[5] if len(sys.argv) > 5 else ""
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "Expect: 100-continue\r\n" % (path, ctype, length))
    if token:
        head += "Authorization: Bearer %s\r\n" % token
    head += "\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    t0 = time.monotonic()
    s.sendall(head.encode())
    data, got100, status, secs = b"", "no", "000", 0.0
    closed = "open"
    deadline = t0 + 3
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                closed = "eof"
                break
            data += chunk
            while data.startswith(b"HTTP/1.1 100"):
                got100 = "yes"
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    break
                data = data[end + 4:]
            if data.startswith(b"HTTP/") and b"\r\n\r\n" in data:
                status = data.split(b" ", 2)[1].decode()
                secs = time.monotonic() - t0
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = "reset"
    if status != "000" and closed == "open":
        # the answer is complete: now the connection must end, without a body sent
        deadline = time.monotonic() + 2
        try:
            while time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                if not s.recv(65536):
                    closed = "eof"
                    break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = "reset"
    s.close()
    print(status, closed, got100, "%.3f" % secs)


if __name__ == "__main__":
    main()
