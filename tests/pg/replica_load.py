#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Mixed load on several capverifyd replicas sharing one PostgreSQL registry
(docs/registry.md "PostgreSQL backend"), for tests/pg/replicas.sh and tests/pg/reload.sh.

  replica_load.py [--variants] [--verify-stop FILE] OUT.json SECONDS SAMPLE.zip URL...

Threads round-robin over the replicas:
  - POST /registry/entries: mostly new entries, some for a small shared set of hashes (so
    replicas race to add the same entry: one 201, the others 200 with the same id), and some
    with other content for a shared pair (409 once the first is stored);
  - POST /verify of the sample with a unique X-Request-Id (recorded through the queue); with
    --variants every other one is a package of its own (the sample with a zip comment of its
    own, bench/lib/daemon.sh: the same verdict, never in the report cache), so the registry
    is read for it; with --verify-stop, no /verify is sent once FILE exists (the entries go
    on).
Writes OUT.json:
  start         the wall-clock time (time.time()) the run's clock counts from;
  entries       every entry answered 200, 201 or 409: {url, status, id, mh, ph, ts, t0, t1},
                a 409 also with its error code and message;
  verifications every /verify answered 200: {url, request_id, t1};
  verify_log    every /verify sent: {url, t0, t1, status (0: no answer), variant} and, for a
                200, the registry check's {status, message, error};
  failures      the requests without an answer, per URL (a replica killed);
  statuses      answers counted by "route status", and by_url the same per URL.
t0 and t1 are the seconds since `start` when a request was sent and answered. A replica that
stops answering is skipped after 20 failures; the run goes on with the others."""
import argparse
import hashlib
import http.client
import json
import os
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--variants", action="store_true")
ap.add_argument("--verify-stop")
ap.add_argument("out")
ap.add_argument("seconds", type=float)
ap.add_argument("sample")
ap.add_argument("urls", nargs="+")
args = ap.parse_args()
out_path, seconds, urls = args.out, args.seconds, args.urls
# request ids, variants and new entries of this run differ from those of any other (OUT's name)
run = os.path.splitext(os.path.basename(out_path))[0]
zip_bytes = open(args.sample, "rb").read()
# a variant replaces the end of central directory's empty comment
assert zip_bytes[-22:-18] == b"PK\x05\x06" and zip_bytes[-2:] == b"\0\0"
lock = threading.Lock()
entries, verifications, verify_log = [], [], []
failures = {u: 0 for u in urls}
statuses = {}
by_url = {u: {} for u in urls}
dead = set()


def digest(tag):
    return "0x" + hashlib.sha3_256(tag.encode()).hexdigest()


def variant(tag):
    comment = ("capv-load-" + tag).encode()
    return zip_bytes[:-2] + len(comment).to_bytes(2, "little") + comment


def count(url, key):
    statuses[key] = statuses.get(key, 0) + 1
    by_url[url][key] = by_url[url].get(key, 0) + 1


def now():
    return round(time.monotonic() - start, 4)


def registry_check(data):
    for c in json.loads(data).get("checks", []):
        if c.get("id") == "registry":
            return {"status": c.get("status"), "message": c.get("message"),
                    "error": (c.get("details") or {}).get("error")}
    return None


def worker(n):
    conns = {}
    i = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        live = [u for u in urls if u not in dead]
        if not live:
            return
        url = live[(n + i) % len(live)]
        i += 1
        kind = i % 4
        if kind == 0 and args.verify_stop and os.path.exists(args.verify_stop):
            kind = 3  # a new entry instead
        p = urllib.parse.urlsplit(url)
        c = conns.get(url)
        if c is None:
            c = conns[url] = http.client.HTTPConnection(p.hostname, p.port, timeout=10)
        t0 = now()
        sent = None
        try:
            if kind == 0:
                rid = "%s-%d-%d" % (run, n, i)
                is_variant = args.variants and i % 8 == 0
                sent = {"url": url, "t0": t0, "t1": None, "status": 0, "variant": is_variant}
                c.request("POST", "/verify", body=variant(rid) if is_variant else zip_bytes,
                          headers={"Content-Type": "application/zip", "X-Request-Id": rid})
                r = c.getresponse()
                data = r.read()
                sent["t1"], sent["status"] = now(), r.status
                if r.status == 200:
                    sent["registry"] = registry_check(data)
                with lock:
                    count(url, "verify %d" % r.status)
                    verify_log.append(sent)
                    if r.status == 200:
                        verifications.append({"url": url, "request_id": rid, "t1": sent["t1"]})
                continue
            k = (i // 4) % 20
            if kind == 1:
                # shared pairs, the same content from every thread
                mh, ph, ts = digest("shared-m-%d" % k), digest("shared-p-%d" % k), "a.tsr"
            elif kind == 2 and i % 8 == 2:
                # other content for a shared pair: a conflict once the first is stored
                mh, ph, ts = digest("shared-m-%d" % k), digest("shared-p-%d" % k), "b.tsr"
            else:
                mh, ph, ts = (digest("m-%s-%d-%d" % (run, n, i)), digest("p-%s-%d-%d" % (run, n, i)),
                              "t.tsr")
            body = json.dumps({"manifest_hash": mh, "proof_hash": ph, "timestamp_file": ts})
            c.request("POST", "/registry/entries", body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            t1 = now()
            with lock:
                count(url, "entries %d" % r.status)
                if r.status in (200, 201):
                    e = json.loads(data)
                    entries.append({"url": url, "status": r.status, "id": e["id"],
                                    "mh": mh, "ph": ph, "ts": ts, "t0": t0, "t1": t1})
                elif r.status == 409:
                    err = json.loads(data)["error"]
                    entries.append({"url": url, "status": 409, "id": None,
                                    "mh": mh, "ph": ph, "ts": ts, "t0": t0, "t1": t1,
                                    "error": err["code"], "message": err["message"]})
        except (OSError, http.client.HTTPException):
            conns.pop(url, None)
            with lock:
                if sent is not None:
                    verify_log.append(sent)
                failures[url] += 1
                if failures[url] >= 20:
                    dead.add(url)
            time.sleep(0.05)


start_wall = time.time()
start = time.monotonic()
threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
json.dump({"start": start_wall, "entries": entries, "verifications": verifications,
           "verify_log": verify_log, "failures": failures, "statuses": statuses,
           "by_url": by_url}, open(out_path, "w"))
