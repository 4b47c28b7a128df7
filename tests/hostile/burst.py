#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A bounded burst of HTTP requests, as fast as one client sends them one after another.

  burst.py URL COUNT [--source ADDR] [--method M] [--header 'Name: value']...
           [--xff TEMPLATE] [--body FILE] [--max-seconds S]

Each request goes over a keep-alive connection from source address ADDR (default 127.0.0.1);
a connection the server closed is reopened. --xff sends X-Forwarded-For: TEMPLATE with "{i}"
replaced by the request's index. Stops after COUNT requests or MAX_SECONDS (default 10).
Prints one line a request: "index status retry_after error_code milliseconds" ("-" for a
missing header or code), then "elapsed SECONDS" for the whole burst.
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("count", type=int)
    ap.add_argument("--source", default="127.0.0.1")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--xff")
    ap.add_argument("--body")
    ap.add_argument("--max-seconds", type=float, default=10.0)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    path = u.path + ("?" + u.query if u.query else "")
    body = open(a.body, "rb").read() if a.body else None
    headers = {}
    for h in a.header:
        k, v = h.split(":", 1)
        headers[k.strip()] = v.strip()
    conn = None
    t0 = time.monotonic()
    for i in range(a.count):
        if time.monotonic() - t0 > a.max_seconds:
            break
        hs = dict(headers)
        if a.xff:
            hs["X-Forwarded-For"] = a.xff.replace("{i}", str(i))
        t1 = time.monotonic()
        status, retry, code = "000", "-", "-"
        for attempt in range(2):
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10,
                                                  source_address=(a.source, 0))
            try:
                conn.request(a.method, path, body=body, headers=hs)
                r = conn.getresponse()
                data = r.read()
                status = str(r.status)
                retry = r.getheader("Retry-After") or "-"
                try:
                    code = json.loads(data).get("error", {}).get("code") or "-"
                except (ValueError, AttributeError):
                    code = "-"
                if r.will_close:
                    conn.close()
                    conn = None
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = None
        print(i, status, retry.replace(" ", "_"), code,
              "%.1f" % ((time.monotonic() - t1) * 1000))
        sys.stdout.flush()
    print("elapsed %.3f" % (time.monotonic() - t0))
    if conn is not None:
        conn.close()


if __name__ == "__main__":
    main()
