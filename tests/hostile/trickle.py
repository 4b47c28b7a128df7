#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A request body, or a request head, trickled.

  trickle.py PORT TOKEN CONTENT_LENGTH MAX_SECONDS [BYTES_PER_SECOND]
  trickle.py head PORT INTERVAL MAX_SECONDS
  trickle.py once PORT TEXT MAX_SECONDS

Body: sends complete headers of POST /verify (application/zip, Bearer TOKEN unless TOKEN is
"-", no Expect), then the body at BYTES_PER_SECOND (default 1: one byte a second; more
come in ten sends a second). Head: connects and sends the head of GET /healthz one byte
every INTERVAL seconds, the first at once. Once: connects and sends TEXT (Python escapes
such as \\r\\n are read; empty sends nothing), then nothing more. Each goes on until the
server answers or closes the connection or MAX_SECONDS pass, and prints "status how seconds
bytes_sent": status 000 when no answer came, how = response | eof | reset | timeout,
seconds from the end of the headers (body) or from the connect (head, once).
"""
import socket
import sys
import time


def main():
    if sys.argv[1] == "head":
        port, interval, limit = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
        s = socket.create_connection(("127.0.0.1", port), timeout=limit)
        trickle(s, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", interval, limit)
        return
    if sys.argv[1] == "once":
        port, limit = int(sys.argv[2]), float(sys.argv[4])
        text = sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
        s = socket.create_connection(("127.0.0.1", port), timeout=limit)
        trickle(s, text, limit, limit, max(1, len(text)))
        return
    port, token, length, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    rate = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    head = ("POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/zip\r\n"
            "Content-Length: %d\r\n" % length)
    if token != "-":
        head += "Authorization: Bearer %s\r\n" % token
    head += "\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    s.sendall(head.encode())
    if rate == 1:
        trickle(s, b"P" + b"K" * (length - 1), 1.0, limit)
    else:
        trickle(s, b"P" + b"K" * (length - 1), 0.1, limit, max(1, rate // 10))


def trickle(s, payload, interval, limit, step=1):
    """Sends payload, step bytes every interval seconds, reading what the server answers."""
    t0 = time.monotonic()
    sent, data, how = 0, b"", "timeout"
    next_byte = t0
    while time.monotonic() - t0 < limit:
        now = time.monotonic()
        if now >= next_byte and sent < len(payload):
            try:
                s.sendall(payload[sent:sent + step])
                sent += len(payload[sent:sent + step])
            except (BrokenPipeError, ConnectionResetError):
                how = "reset"
                break
            next_byte += interval
        s.settimeout(max(0.01, min(next_byte, t0 + limit) - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            how = "reset"
            break
        if not chunk:
            how = "eof"
            break
        data += chunk
        if b"\r\n\r\n" in data:
            how = "response"
            break
    secs = time.monotonic() - t0
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "000"
    s.close()
    print(status, how, "%.2f" % secs, sent)


if __name__ == "__main__":
    main()
