#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Mixed load on several capverifyd replicas sharing one PostgreSQL registry
(docs/registry.md "PostgreSQL backend"), for tests/pg/replicas.sh.

  replica_load.py OUT.json SECONDS SAMPLE.zip URL...

Threads round-robin over the replicas:
  - POST /registry/entries: mostly new entries, some for a small shared set of hashes (so
    replicas race to add the same entry: one 201, the others 200 with the same id), and some
    with other content for a shared pair (409 once the first is stored);
  - POST /verify of the sample with a unique X-Request-Id (recorded through the queue).
Writes every acknowledged answer to OUT.json: entries [{url, status, id, mh, ph, ts}, and for a
409 its error code, message and the seconds since the start],
verifications [{url, request_id}], and the count of failed requests per URL (a replica that
was killed, or 503 while the database restarts). A replica that stops answering is skipped
after a few failures; the run goes on with the others."""
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

out_path, seconds, sample = sys.argv[1], float(sys.argv[2]), sys.argv[3]
# request ids and new entries of this run differ from those of any other (OUT's name)
run = os.path.splitext(os.path.basename(out_path))[0]
urls = sys.argv[4:]
zip_bytes = open(sample, "rb").read()
lock = threading.Lock()
entries, verifications = [], []
failures = {u: 0 for u in urls}
statuses = {}
dead = set()


def digest(tag):
    return "0x" + hashlib.sha3_256(tag.encode()).hexdigest()


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
        p = urllib.parse.urlsplit(url)
        c = conns.get(url)
        if c is None:
            c = conns[url] = http.client.HTTPConnection(p.hostname, p.port, timeout=10)
        kind = i % 4
        try:
            if kind == 0:
                rid = "%s-%d-%d" % (run, n, i)
                c.request("POST", "/verify", body=zip_bytes,
                          headers={"Content-Type": "application/zip", "X-Request-Id": rid})
                r = c.getresponse()
                r.read()
                with lock:
                    statuses[("verify", r.status)] = statuses.get(("verify", r.status), 0) + 1
                    if r.status == 200:
                        verifications.append({"url": url, "request_id": rid})
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
            with lock:
                statuses[("entries", r.status)] = statuses.get(("entries", r.status), 0) + 1
                if r.status in (200, 201):
                    e = json.loads(data)
                    entries.append({"url": url, "status": r.status, "id": e["id"],
                                    "mh": mh, "ph": ph, "ts": ts})
                elif r.status == 409:
                    entries.append({"url": url, "status": 409, "id": None,
                                    "mh": mh, "ph": ph, "ts": ts,
                                    "error": json.loads(data)["error"]["code"],
                                    "message": json.loads(data)["error"]["message"],
                                    "at": round(time.monotonic() - start, 3)})
        except (OSError, http.client.HTTPException):
            conns.pop(url, None)
            with lock:
                failures[url] += 1
                if failures[url] >= 20:
                    dead.add(url)
            time.sleep(0.05)


start = time.monotonic()
threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
json.dump({"entries": entries, "verifications": verifications, "failures": failures,
           "statuses": {"%s %d" % k: v for k, v in statuses.items()}},
          open(out_path, "w"))
