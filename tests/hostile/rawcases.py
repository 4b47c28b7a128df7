#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sends raw HTTP/1.1 requests over plain sockets and describes what came back.

  rawcases.py PORT CASES_FILE [TIMEOUT_SECONDS] [PARALLEL]

CASES_FILE: one case a line, "name<TAB>kind<TAB>payload", payload in Python bytes-literal
escapes (\\r\\n, \\x00, \\t, \\\\); "{id}" in it becomes the case's request id
("h-NAME") and "{smuggle}" a complete second request, POST /admin/backup with request id
"h-NAME-b". Lines starting with '#' and blank lines are skipped. Each case gets its own
connection: the payload is sent whole, then everything the server sends is read until it
closes the connection (EOF or reset) or TIMEOUT seconds pass. PARALLEL cases at a time.

Prints one tab-separated line a case:
  name kind status responses closed json nosniff seconds body
status   the first response's status code (000: none)
responses how many complete responses arrived (a 2nd one means a 2nd request was served)
closed   eof | reset | open (still open at the timeout)
json     ok when the first response's body is {"error":{"code","message","request_id"}}
         with non-empty strings (and request_id = X-Request-Id when that header is there),
         else a short reason
nosniff  yes when the first response has X-Content-Type-Options: nosniff
body     the first 60 bytes of the first response's body, escaped
"""
import codecs
import concurrent.futures
import json
import socket
import sys
import time

SMUGGLE = (b"POST /admin/backup HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}-b\r\n"
           b"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n")


def parse_responses(data):
    """Splits DATA into complete responses: list of (status, headers dict, body bytes)."""
    out = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        status = parts[1] if len(parts) > 1 else "???"
        headers = {}
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers.setdefault(k.strip().lower(), v.strip())
        rest = data[end + 4:]
        if status.startswith("1"):  # 100 Continue: an interim answer, not a response
            data = rest
            continue
        try:
            n = int(headers.get("content-length", ""))
        except ValueError:
            n = len(rest)  # no length: everything up to the close
        if len(rest) < n:
            out.append((status, headers, rest))  # truncated body: still a (partial) answer
            break
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def check_json(headers, body):
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "not-json"
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return "no-error-object"
    for key in ("code", "message", "request_id"):
        if not isinstance(err.get(key), str) or (key != "message" and not err.get(key)):
            return "bad-" + key
    rid = headers.get("x-request-id")
    if rid is not None and rid != err["request_id"]:
        return "request_id!=header"
    return "ok"


def run(port, name, kind, payload, timeout):
    t0 = time.monotonic()
    data = b""
    closed = "open"
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return [name, kind, "000", "0", "connect-failed", "-", "no", "0", str(e)]
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = "reset"
                break
            if not chunk:
                closed = "eof"
                break
            data += chunk
    finally:
        s.close()
    secs = time.monotonic() - t0
    resps = parse_responses(data)
    if not resps:
        return [name, kind, "000", "0", closed, "no-response", "no", "%.2f" % secs,
                repr(data[:60])[2:-1]]
    status, headers, body = resps[0]
    nosniff = "yes" if headers.get("x-content-type-options", "").lower() == "nosniff" else "no"
    return [name, kind, status, str(len(resps)), closed, check_json(headers, body), nosniff,
            "%.2f" % secs, repr(body[:60])[2:-1].replace("\t", " ")]


def main():
    port = int(sys.argv[1])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    parallel = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    cases = []
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            name, kind, raw = line.split("\t", 2)
            payload = codecs.escape_decode(raw.encode("latin-1"))[0]
            payload = payload.replace(b"{smuggle}", SMUGGLE)
            payload = payload.replace(b"{id}", ("h-" + name).encode())
            cases.append((name, kind, payload))
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        rows = list(pool.map(lambda c: run(port, c[0], c[1], c[2], timeout), cases))
    for row in rows:
        print("\t".join(row))


if __name__ == "__main__":
    main()
