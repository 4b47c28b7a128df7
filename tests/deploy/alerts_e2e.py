#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The alert rules end to end: a real Prometheus scrapes real daemons and evaluates a
time-compressed copy of deploy/prometheus/alerts.yml; each alert is made to fire by causing
its condition for real, and to resolve by removing it.

  alerts_e2e.py CAPVERIFYD FIXTURES_DIR SOURCE_DIR

The copy (tests/deploy/compress_rules.py, factor 60: a minute of the shipped rules is a
second here, an hour a minute, a day 24 minutes; the script states exactly what it scales and
proves nothing else changed) is loaded by Debian's `prometheus` (127.0.0.1, a temporary
storage directory, scrape and evaluation every 500 ms). It scrapes job "cap-verifier": 14
capverifyd processes on 127.0.0.1, each as its own namespace (a `namespace` target label from
a file_sd file), through the admin port's /metrics. The conditions, run in parallel:

  HighErrorRate          errors      tampered packages (result fail) and good ones in turn,
                                     up to 100 a second; then good ones only. The look-alike:
                                     namespace registry answers only errors, at a volume
                                     under the rule's minimum
  FivexxSpike,           registry    the registry's file system turns read-only under the
  RegistryWriteFailing               daemon (tests/hostile/fault_shim.c via LD_PRELOAD: Linux
                                     refuses a read-only remount under an open file, and CI is
                                     root, for whom chmod changes nothing) with synchronous
                                     recording (registry.record_queue_max=0): /verify answers
                                     503 registry_unavailable, storage faults are counted
  RegistryRecordsDropped queue       the same fault with a 5-record queue: verdicts go on, the
                                     records are dropped
  HighAuthFailureRate    auth        half the tokens carry a broken signature; then good ones
  JWKSStale (stale)      jwks-stale  the file:// key set disappears: the refresher's fetches
                                     fail once the set is due (80 % of its 60 s TTL) while the
                                     set ages; before that an old set alone stays quiet
  JWKSStale (empty)      jwks-empty  a key set that does not exist yet; then it appears
  BackupStale            backup      the newest backup on disk is an hour (2.5 compressed days)
                                     old (its sidecar's created_at set back: the only time
                                     travel here) and backups fail (backup.dir replaced by a
                                     file: POST /admin/backup answers 503); then a backup
                                     succeeds
  TLSCertExpiringSoon,   tls         HTTPS with a certificate valid for 2 h (5 compressed days:
  TLSCertExpiryImminent              Soon fires, Imminent stays quiet), then 30 min (1.25 d:
                                     both), then a year (neither); the daemon reloads the file
  CapVerifierReplicaDown down        one of two daemons killed (kill -9; the other stays up:
                                     no page), then the other too (CapVerifierDown, P0, takes
  CapVerifierDown                    over); then both restarted on their ports
  CapVerifierDown        gone        the one daemon of the namespace killed, then restarted;
                                     then every target of the namespace dropped from service
                                     discovery
  RegistryNotOpen        reopen      the SQLite file replaced by one that is no database, then
                                     SIGHUP: the registry cannot be opened again; then the file
                                     is put back and the daemon opens it at its next try
  NoTraffic              idle        a daemon nobody calls; then requests to an unknown path
                                     (404s count as answered)
  MemoryNearLimit        memory      a cgroup memory limit just above the daemon's RSS (a fake
                                     cgroup tree, CAPVD_CGROUP_ROOT, read as the real one);
                                     then none
  CapVerifierUnavailable kube-test   kube-state-metrics' series from this test's own exporter
  IngressFivexxSpike     edge        ingress-nginx's series from the same exporter
                                     (scraped without honor_labels: exported_namespace)

The last two have no real component here: their Prometheus wiring (labels, scrape styles) is
proven, their semantics by deploy/prometheus/alerts_test.yml (promtool). So are
HighP95Latency, LowCacheHitRate, RegistryDiskLow, RegistryDiskFillingUp and
RegistryRecordsRejected, which are not caused here (the last is a counter the library's
tests drive: tests/unit/test_registry_contract.c). Each alert must reach state firing in /api/v1/alerts with its severity and
priority, for the namespace (and instance) that has the condition only, and then leave the
list. The whole run is bounded to 5 minutes (ctest TIMEOUT 300; the scenarios to 200 s).
Exit 77 (skipped) without prometheus or a C compiler.
"""
import base64
import datetime
import glob
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import zipfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compress_rules  # noqa: E402

FACTOR = 60
INTERVAL = "500ms"
SCENARIO_BUDGET = 200  # seconds for all scenarios together
PROCS = []  # (Popen) everything this test started, killed by pid at exit


# ---- results --------------------------------------------------------------------------------

class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
            print("%s %s%s" % ("ok  " if ok else "FAIL", what,
                               ("\n     " + str(detail).replace("\n", "\n     ")) if detail and
                               not ok else ""), flush=True)
        return ok


R = Results()
T0 = time.monotonic()


def log(msg):
    print("     [%5.1f s] %s" % (time.monotonic() - T0, msg), flush=True)


# ---- processes ------------------------------------------------------------------------------

TAKEN_PORTS = set()


def free_port():
    """A free loopback port below the kernel's ephemeral range, not handed out before: a
    daemon restarted on its port must not find it taken meanwhile by the local end of some
    client connection (Prometheus's scrapes, the load), whose ports come from that range."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(max(1024, low // 2), low)
        if port in TAKEN_PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        TAKEN_PORTS.add(port)
        return port
    raise RuntimeError("no free loopback port below %d" % low)


def get(url, timeout=5, data=None, method=None, headers=None):
    """(status, body text); (0, error) when there is no answer."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


def metric(text, name):
    """The value of the first sample named `name` (with its labels as rendered), or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class Daemon:
    """capverifyd in TMP/NAME with fixed loopback ports (kept across restarts)."""

    def __init__(self, binary, tmp, name, namespace, sets=(), env=None, https=False):
        self.binary, self.name, self.namespace = binary, name, namespace
        self.dir = os.path.join(tmp, name)
        os.makedirs(os.path.join(self.dir, "conf"), exist_ok=True)
        self.sets, self.env, self.https = list(sets), dict(env or {}), https
        self.api, self.admin = free_port(), free_port()
        self.proc = None
        self.logfile = open(os.path.join(self.dir, "stdout.log"), "ab")

    @property
    def target(self):
        return "127.0.0.1:%d" % self.admin

    def admin_url(self, path):
        return "http://127.0.0.1:%d%s" % (self.admin, path)

    def start(self):
        args = [self.binary, "--config-dir", os.path.join(self.dir, "conf"),
                "--set", "server.listen=127.0.0.1:%d" % self.api,
                "--set", "server.admin_listen=127.0.0.1:%d" % self.admin,
                "--set", "server.threads=8", "--set", "server.admin_threads=2",
                "--set", "registry.path=%s/registry.sqlite" % self.dir,
                "--set", "backup.dir=%s/backups" % self.dir,
                "--set", "shutdown.grace_seconds=0", "--set", "shutdown.timeout_seconds=5"]
        for s in self.sets:
            args += ["--set", s]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPV")}
        env.update(self.env)
        for attempt in range(50):  # a restart may find its port still held for a moment
            # stdout through a pipe: the fault shim fails writes to files on the registry's
            # file system, the log must not be one of them
            self.proc = subprocess.Popen(args, cwd=self.dir, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT)
            PROCS.append(self.proc)
            threading.Thread(target=self._copy_log, args=(self.proc,), daemon=True).start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if get(self.admin_url("/healthz"), timeout=1)[0] == 200:
                    return True
                time.sleep(0.05)
            if self.proc.poll() is None:
                break
            time.sleep(0.2)
        R.check(False, "capverifyd %s starts" % self.name, self.tail())
        return False

    def _copy_log(self, proc):
        for line in proc.stdout:
            self.logfile.write(line)
            self.logfile.flush()

    def tail(self, n=15):
        try:
            with open(os.path.join(self.dir, "stdout.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_events(self):
        out = []
        with open(os.path.join(self.dir, "stdout.log"), "rb") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def metrics(self):
        return get(self.admin_url("/metrics"))[1]


class Client:
    """One keep-alive HTTP connection to a daemon's API port."""

    def __init__(self, daemon):
        self.d, self.conn = daemon, None

    def request(self, method, path, body=None, headers=None):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.d.api, timeout=10)
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
        return 0


class Load(threading.Thread):
    """Requests at up to `rate` a second; `make()` gives (method, path, body, headers). Counts
    the statuses answered."""

    def __init__(self, daemon, rate, make):
        super().__init__(daemon=True)
        self.client, self.rate, self.make = Client(daemon), rate, make
        self.stopped = threading.Event()
        self.statuses = {}
        self.lock = threading.Lock()

    def run(self):
        next_at = time.monotonic()
        while not self.stopped.is_set():
            method, path, body, headers = self.make()
            st = self.client.request(method, path, body, headers)
            with self.lock:
                self.statuses[st] = self.statuses.get(st, 0) + 1
            next_at += 1.0 / self.rate
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def take_counts(self):
        with self.lock:
            out, self.statuses = self.statuses, {}
        return out

    def stop(self):
        self.stopped.set()
        self.join(10)


# ---- Prometheus and its alerts --------------------------------------------------------------

class Alerts(threading.Thread):
    """Polls /api/v1/alerts every 250 ms; keeps what it saw."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.current, self.history = [], []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.errors = 0

    def run(self):
        while not self.stopped.is_set():
            st, body = get(self.url + "/api/v1/alerts", timeout=2)
            if st == 200:
                alerts = json.loads(body)["data"]["alerts"]
                with self.lock:
                    self.current = alerts
                    self.history.append((time.monotonic(), alerts))
            else:
                self.errors += 1
            time.sleep(0.25)

    @staticmethod
    def matches(a, name, match):
        lb = a["labels"]
        if lb.get("alertname") != name:
            return False
        return all((k not in lb) if v is None else lb.get(k) == v for k, v in match.items())

    def find(self, name, match, states=("firing",)):
        with self.lock:
            return [a for a in self.current
                    if self.matches(a, name, match) and a["state"] in states]

    def wait(self, name, match, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.find(name, match)
            if got:
                return got[0]
            time.sleep(0.2)
        return None

    def wait_gone(self, name, match, timeout, stable=2.0):
        """True once no matching alert (pending or firing) was listed for `stable` seconds."""
        deadline = time.monotonic() + timeout
        clear_since = None
        while time.monotonic() < deadline:
            if self.find(name, match, ("pending", "firing")):
                clear_since = None
            elif clear_since is None:
                clear_since = time.monotonic()
            elif time.monotonic() - clear_since >= stable:
                return True
            time.sleep(0.2)
        return False

    def seen(self, name, match, since=0.0, states=("pending", "firing")):
        with self.lock:
            return [a for t, alerts in self.history if t >= since for a in alerts
                    if self.matches(a, name, match) and a["state"] in states]


def fired(alerts, name, match, timeout, severity, priority, what):
    a = alerts.wait(name, match, timeout)
    ok = a is not None and a["labels"].get("severity") == severity and \
        a["labels"].get("priority") == priority
    R.check(ok, "%s fires (%s %s) when %s" % (name, priority, match, what),
            a["labels"] if a else "not firing within %d s; listed: %s" % (
                timeout, sorted({x["labels"]["alertname"] + "/" + x["labels"].get("namespace", "")
                                 for x in alerts.current})))
    if ok:
        log("%s firing: %s" % (name, json.dumps(a["labels"], sort_keys=True)))
    return ok


def resolved(alerts, name, match, timeout, what):
    ok = alerts.wait_gone(name, match, timeout)
    R.check(ok, "%s resolves (%s) when %s" % (name, match, what),
            "still listed after %d s" % timeout)
    return ok


# ---- fixtures -------------------------------------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_key(d, kid):
    """An Ed25519 key d/kid.key; returns its JWK."""
    key = os.path.join(d, kid + ".key")
    run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key])
    der = run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"]).stdout
    return key, {"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "alg": "EdDSA",
                 "x": b64u(der[-32:])}


def mint(key, kid, claims):
    h = b64u(json.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).encode())
    p = b64u(json.dumps(claims).encode())
    tbs = key + ".tbs"  # Ed25519 signs in one shot: from a file, not a pipe
    with open(tbs, "w") as f:
        f.write("%s.%s" % (h, p))
    sig = run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", tbs]).stdout
    return "%s.%s.%s" % (h, p, b64u(sig))


def tampered(src, dst):
    """The package with one byte of manifest.json's created_at changed (tests/daemon/lib.sh)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "manifest.json":
                i = data.index(b'"created_at"')
                j = data.index(b"20", i)
                data = data[:j] + b"19" + data[j + 2:]
            zout.writestr(info.filename, data)


def certificate(d, name, key, seconds):
    """A self-signed certificate for `key` valid from an hour ago for `seconds` from now
    (openssl ca: openssl req and x509 only know whole days)."""
    ca = os.path.join(d, "ca-" + name)
    os.makedirs(ca)
    with open(os.path.join(ca, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                "serial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                "[p]\ncommonName = supplied\n" % (ca, ca, ca))
    open(os.path.join(ca, "index.txt"), "w").close()
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("01\n")
    csr = os.path.join(ca, "req.csr")
    run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    now = datetime.datetime.now(datetime.timezone.utc)
    fmt = "%Y%m%d%H%M%SZ"
    out = os.path.join(d, name + ".crt")
    run(["openssl", "ca", "-batch", "-config", os.path.join(ca, "ca.cnf"), "-selfsign",
         "-keyfile", key, "-in", csr, "-out", out, "-notext",
         "-startdate", (now - datetime.timedelta(hours=1)).strftime(fmt),
         "-enddate", (now + datetime.timedelta(seconds=seconds)).strftime(fmt)])
    return out


def replace_file(src, dst):
    tmp = dst + ".new"
    shutil.copy(src, tmp)
    os.replace(tmp, dst)


def write_json(path, doc):
    with open(path + ".new", "w") as f:
        json.dump(doc, f)
    os.replace(path + ".new", path)


class Exporter:
    """kube-state-metrics' and ingress-nginx's few series, flipped by the test."""

    def __init__(self):
        self.port = free_port()
        self.available = 1
        self.fivexx_on = False
        self.count, self.other, self.ok = 0.0, 0.0, 0.0
        self.last = time.monotonic()
        self.lock = threading.Lock()
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = exporter.render(self.path).encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def render(self, path):
        with self.lock:
            now = time.monotonic()
            dt, self.last = now - self.last, now
            self.count += 20 * dt if self.fivexx_on else 0
            self.other += 50 * dt
            self.ok += 100 * dt
            if path == "/ksm":
                s = 'kube_deployment_%s{namespace="kube-test",deployment="%s"} %d\n'
                return (s % ("spec_replicas", "cap-verifier", 1)
                        + s % ("status_replicas_available", "cap-verifier", self.available)
                        + s % ("spec_replicas", "other-app", 2)
                        + s % ("status_replicas_available", "other-app", 0))
            if path == "/ingress":
                s = ('nginx_ingress_controller_requests{namespace="edge",ingress="%s",'
                     'status="%s"} %d\n')
                return (s % ("cap-verifier", "503", self.count)
                        + s % ("cap-verifier", "200", self.ok)
                        + s % ("other-app", "503", self.other))
            return ""


# ---- the scenarios --------------------------------------------------------------------------

def zip_post(body):
    return lambda: ("POST", "/verify", body, {"Content-Type": "application/zip"})


def sc_errors(a, d, good, bad):
    flip = [0]

    def mixed():
        flip[0] ^= 1
        return zip_post(bad if flip[0] else good)()
    load = Load(d, 100, mixed)
    load.start()
    try:
        fired(a, "HighErrorRate", {"namespace": "errors"}, 40, "critical", "P1",
              "half the verifications fail")
        R.check(not a.find("NoTraffic", {"namespace": "errors"}, ("pending", "firing")),
                "NoTraffic stays quiet while namespace errors answers requests")
        load.make = zip_post(good)
        load.rate = 20
        resolved(a, "HighErrorRate", {"namespace": "errors"}, 30, "only good packages come")
    finally:
        load.stop()
    counts = load.take_counts()
    R.check(set(counts) <= {200}, "errors: every verification answered 200 (fail is a verdict)",
            counts)


def fault_scenario(a, d, flag, package, queued):
    ns = d.namespace
    load = Load(d, 25 if not queued else 10, zip_post(package))
    load.start()
    try:
        time.sleep(3)
        before = load.take_counts()
        R.check(set(before) == {200}, "%s: /verify answers 200 before the fault" % ns, before)
        open(flag, "w").close()
        log("%s: the registry's file system is read-only for the daemon" % ns)
        if queued:
            fired(a, "RegistryRecordsDropped", {"namespace": ns}, 30, "critical", "P1",
                  "the record queue is full")
        else:
            fired(a, "FivexxSpike", {"namespace": ns}, 30, "critical", "P0",
                  "/verify answers 503")
            fired(a, "RegistryWriteFailing", {"namespace": ns}, 30, "critical", "P1",
                  "the registry's storage refuses writes")
        during = load.take_counts()
        if queued:
            R.check(set(during) == {200}, "%s: verdicts go on (200) while records are dropped"
                    % ns, during)
        else:
            R.check(during.get(503, 0) > 0 and set(during) <= {200, 503},
                    "%s: /verify answers 503 during the fault" % ns, during)
        os.unlink(flag)
        log("%s: the file system is writable again" % ns)
        if queued:
            resolved(a, "RegistryRecordsDropped", {"namespace": ns}, 30, "the fault is gone")
        else:
            resolved(a, "FivexxSpike", {"namespace": ns}, 30, "the fault is gone")
            resolved(a, "RegistryWriteFailing", {"namespace": ns}, 30, "the fault is gone")
    finally:
        load.stop()


def sc_auth(a, d, good, bad):
    flip = [0]

    def mixed():
        flip[0] ^= 1
        return ("GET", "/registry/entries?limit=1", None,
                {"Authorization": "Bearer " + (bad if flip[0] else good)})
    load = Load(d, 40, mixed)  # the alert needs 100 requests and 20 rejections in its window
    load.start()
    try:
        fired(a, "HighAuthFailureRate", {"namespace": "auth"}, 40, "critical", "P1",
              "half the tokens have a broken signature")
        counts = load.take_counts()
        R.check(set(counts) == {200, 401}, "auth: good tokens get 200, broken ones 401", counts)
        load.make = lambda: ("GET", "/registry/entries?limit=1", None,
                             {"Authorization": "Bearer " + good})
        resolved(a, "HighAuthFailureRate", {"namespace": "auth"}, 30, "only good tokens come")
    finally:
        load.stop()


def sc_jwks_stale(a, d, jwks_path, jwks_doc):
    os.unlink(jwks_path)
    log("jwks-stale: the key set file is gone")
    # the set ages past the compressed 900 s (15 s) before the refresher's first failed fetch
    # (at 80 % of the 60 s TTL): an old set that nobody failed to refresh is no alert
    deadline = time.monotonic() + 60
    quiet_checked = False
    while time.monotonic() < deadline:
        m = d.metrics()
        age, errors = metric(m, "cap_verifier_jwks_age_seconds"), \
            metric(m, 'cap_verifier_jwks_refresh_total{result="error"}')
        if errors and errors > 0:
            break
        if age and age > 25 and not quiet_checked:
            R.check(not a.seen("JWKSStale", {"namespace": "jwks-stale"}),
                    "JWKSStale stays quiet on a key set %d s (%d compressed min) old that "
                    "nobody failed to refresh" % (age, age))
            quiet_checked = True
        time.sleep(0.5)
    R.check(quiet_checked, "jwks-stale: the key set got older than 25 s before a fetch failed")
    fired(a, "JWKSStale", {"namespace": "jwks-stale"}, 40, "critical", "P1",
          "fetches fail and the set ages")
    events = [e.get("event") for e in d.log_events()]
    R.check("jwks_fetch_failed" in events, "jwks-stale: a jwks_fetch_failed line is logged")
    write_json(jwks_path, jwks_doc)
    resolved(a, "JWKSStale", {"namespace": "jwks-stale"}, 20, "the key set is back")
    events = [e.get("event") for e in d.log_events()]
    R.check("jwks_fetch_recovered" in events, "jwks-stale: a jwks_fetch_recovered line is logged")


def sc_jwks_empty(a, d, jwks_path, jwks_doc):
    fired(a, "JWKSStale", {"namespace": "jwks-empty"}, 30, "critical", "P1",
          "there is no key set (state empty)")
    st, body = get(d.admin_url("/readyz"))
    jw = [c for c in json.loads(body)["checks"] if c["name"] == "jwks"] if st else []
    R.check(st == 503 and jw and jw[0].get("state") == "empty",
            "jwks-empty: /readyz is 503 with check jwks in state empty", body)
    write_json(jwks_path, jwks_doc)
    resolved(a, "JWKSStale", {"namespace": "jwks-empty"}, 20, "the key set appears")
    st, body = get(d.admin_url("/readyz"))
    R.check(st == 200 and '"state":"fresh"' in body, "jwks-empty: /readyz 200, state fresh", body)


def sc_backup(a, d):
    fired(a, "BackupStale", {"namespace": "backup"}, 40, "warning", "P2",
          "the newest backup is 2.5 compressed days old and backups fail")
    broken = os.path.join(d.dir, "backups")
    os.unlink(broken)
    os.rename(os.path.join(d.dir, "backups.away"), broken)
    st, body = get("http://127.0.0.1:%d/admin/backup" % d.api, method="POST", data=b"")
    R.check(st == 201, "backup: POST /admin/backup makes a backup once backup.dir is back",
            "%s %s" % (st, body[:200]))
    resolved(a, "BackupStale", {"namespace": "backup"}, 20, "a backup succeeded")


def sc_tls(a, d, cert_path, certs):
    fired(a, "TLSCertExpiringSoon", {"namespace": "tls"}, 30, "warning", "P2",
          "the certificate expires in 2 h (5 compressed days)")
    R.check(not a.seen("TLSCertExpiryImminent", {"namespace": "tls"}),
            "TLSCertExpiryImminent stays quiet 5 compressed days before expiry")
    replace_file(certs["30m"], cert_path)
    log("tls: certificate valid for 30 more minutes installed")
    fired(a, "TLSCertExpiryImminent", {"namespace": "tls"}, 30, "critical", "P1",
          "the certificate expires in 30 min (1.25 compressed days)")
    replace_file(certs["1y"], cert_path)
    log("tls: certificate valid for a year installed")
    resolved(a, "TLSCertExpiryImminent", {"namespace": "tls"}, 20, "the certificate is renewed")
    resolved(a, "TLSCertExpiringSoon", {"namespace": "tls"}, 20, "the certificate is renewed")
    events = [e for e in d.log_events() if e.get("event") == "tls_reload"]
    R.check(len(events) >= 2, "tls: the daemon logged a tls_reload for each new certificate",
            events)


def sc_down(a, d1, d2):
    d1.stop(signal.SIGKILL)
    log("down: %s killed" % d1.target)
    fired(a, "CapVerifierReplicaDown", {"namespace": "down", "instance": d1.target}, 20,
          "warning", "P2", "one of the namespace's two daemons is killed")
    R.check(not a.seen("CapVerifierReplicaDown", {"instance": d2.target})
            and not a.seen("CapVerifierDown", {"namespace": "down"}),
            "one daemon of two down: CapVerifierReplicaDown for it alone, no CapVerifierDown")
    d2.stop(signal.SIGKILL)
    log("down: %s killed too" % d2.target)
    fired(a, "CapVerifierDown", {"namespace": "down", "instance": None}, 20, "critical", "P0",
          "both daemons of the namespace are killed")
    resolved(a, "CapVerifierReplicaDown", {"namespace": "down"}, 20,
             "CapVerifierDown takes over (more than half are down)")
    d1.start()
    d2.start()
    log("down: both restarted")
    resolved(a, "CapVerifierDown", {"namespace": "down"}, 20, "the daemons are back")


def sc_gone(a, d, sd, groups):
    d.stop(signal.SIGKILL)
    log("gone: the namespace's one daemon killed")
    fired(a, "CapVerifierDown", {"namespace": "gone", "instance": None}, 20, "critical", "P0",
          "the one daemon of a single-replica namespace is killed")
    R.check(not a.seen("CapVerifierReplicaDown", {"namespace": "gone"}),
            "CapVerifierReplicaDown stays quiet for a single-replica namespace")
    d.start()
    resolved(a, "CapVerifierDown", {"namespace": "gone"}, 20, "the daemon is back")
    write_json(sd, [g for g in groups if g["labels"]["namespace"] != "gone"])
    log("gone: the namespace's targets are dropped from service discovery")
    fired(a, "CapVerifierDown", {"namespace": "gone", "instance": None}, 20, "critical", "P0",
          "every target of the namespace is gone (other namespaces are up)")
    write_json(sd, groups)
    resolved(a, "CapVerifierDown", {"namespace": "gone"}, 20, "the targets are back")


def sc_reopen(a, d):
    """A SIGHUP that finds the SQLite file replaced by one it cannot open (a restore gone
    wrong): the registry stays closed, the daemon tries again every 5 s."""
    db = os.path.join(d.dir, "registry.sqlite")
    aside = os.path.join(d.dir, "aside")
    os.makedirs(aside)
    for f in glob.glob(db + "*"):
        os.rename(f, os.path.join(aside, os.path.basename(f)))
    with open(db, "wb") as f:
        f.write(b"x" * 4096)
    d.proc.send_signal(signal.SIGHUP)
    log("reopen: the registry file replaced by one that is no database, SIGHUP")
    fired(a, "RegistryNotOpen", {"namespace": "reopen", "instance": d.target}, 20, "critical",
          "P1", "a SIGHUP could not open the replaced registry file")
    os.unlink(db)
    for f in os.listdir(aside):
        os.rename(os.path.join(aside, f), os.path.join(d.dir, f))
    resolved(a, "RegistryNotOpen", {"namespace": "reopen"}, 20,
             "the file is whole again (the daemon opens it at its next try)")


def sc_idle(a, d):
    fired(a, "NoTraffic", {"namespace": "idle"}, 20, "warning", "P2", "nobody calls the daemon")
    load = Load(d, 5, lambda: ("GET", "/no-such-route", None, {}))
    load.start()
    try:
        resolved(a, "NoTraffic", {"namespace": "idle"}, 20,
                 "requests come, even ones answered 404")
    finally:
        load.stop()


def sc_memory(a, d, memory_max):
    rss = metric(d.metrics(), "process_resident_memory_bytes")
    with open(memory_max, "w") as f:
        f.write("%d\n" % int(rss / 0.97))
    log("memory: cgroup limit %d for an RSS of %d" % (int(rss / 0.97), rss))
    fired(a, "MemoryNearLimit", {"namespace": "memory"}, 20, "warning", "P2",
          "the daemon uses 97 % of its cgroup's limit")
    with open(memory_max, "w") as f:
        f.write("max\n")
    resolved(a, "MemoryNearLimit", {"namespace": "memory"}, 20, "the limit is lifted")


def sc_kube(a, ex):
    ex.available = 0
    fired(a, "CapVerifierUnavailable", {"namespace": "kube-test", "deployment": "cap-verifier"},
          20, "critical", "P0", "kube-state-metrics reports no available replica")
    ex.available = 1
    resolved(a, "CapVerifierUnavailable", {"namespace": "kube-test"}, 20, "a replica is back")


def sc_ingress(a, ex):
    ex.fivexx_on = True
    fired(a, "IngressFivexxSpike", {"namespace": "edge", "ingress": "cap-verifier"}, 20,
          "critical", "P0", "the ingress answers 20 5xx a second for our Ingress")
    ex.fivexx_on = False
    resolved(a, "IngressFivexxSpike", {"namespace": "edge"}, 20, "the 5xx stop")


# ---- main -----------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 4:
        sys.exit("usage: alerts_e2e.py CAPVERIFYD FIXTURES_DIR SOURCE_DIR")
    daemon_bin, fixtures, src = (os.path.abspath(p) for p in sys.argv[1:])
    prometheus = shutil.which("prometheus")
    cc = shutil.which("cc") or shutil.which("gcc")
    if prometheus is None or cc is None:
        # skipped, or a failure under CI=true: the one rule of tests/tools/missing.sh
        sys.stdout.flush()
        return subprocess.call([os.path.join(src, "tests", "tools", "missing.sh"),
                                "prometheus (Debian prometheus) and a C compiler"])
    version = subprocess.run([prometheus, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True).stdout.splitlines()[0]
    print("     " + version)
    sample = os.path.join(fixtures, "sample")
    trust = ["trust.dir=%s/trust" % sample, "trust.policy_dir=%s/policies" % sample,
             "trust.tsa_ca_file=%s/tsa/ca.pem" % sample, "verify.mock_policy=accept"]
    tmp = tempfile.mkdtemp(prefix="capv-alerts-e2e-")
    try:
        return run_test(daemon_bin, src, sample, trust, tmp, prometheus, cc)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        if R.failed == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("     kept for inspection: %s" % tmp)


def run_test(daemon_bin, src, sample, trust, tmp, prometheus, cc):
    # 1. the compressed rules
    problem = compress_rules.self_test()
    R.check(problem is None, "compress_rules.py: an unclassified time threshold and a changed "
            "expression are caught", problem)
    rules = os.path.join(tmp, "alerts.compressed.yml")
    r = subprocess.run([sys.executable, os.path.join(HERE, "compress_rules.py"), "--factor",
                        str(FACTOR), os.path.join(src, "deploy", "prometheus", "alerts.yml"),
                        rules], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not R.check(r.returncode == 0, "alerts.yml compressed %d times, nothing else changed"
                   % FACTOR, r.stdout):
        return 1
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "rules", rules], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        R.check(r.returncode == 0, "promtool check rules accepts the compressed copy", r.stdout)

    # 2. fixtures: fault shim, packages, keys and tokens, certificates, fake cgroup
    shim = os.path.join(tmp, "fault_shim.so")
    run([cc, "-shared", "-fPIC", "-O2", "-o", shim,
         os.path.join(src, "tests", "hostile", "fault_shim.c"), "-ldl"])
    good = open(os.path.join(sample, "sample.zip"), "rb").read()
    tampered(os.path.join(sample, "sample.zip"), os.path.join(tmp, "tampered.zip"))
    bad = open(os.path.join(tmp, "tampered.zip"), "rb").read()
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    idp_key, jwk = make_key(keys, "k1")
    jwks_doc = {"keys": [jwk]}
    now = int(time.time())
    token = mint(idp_key, "k1", {"iss": "https://idp.test/", "aud": "cap-verifier",
                                 "sub": "e2e-client", "scope": "registry:read verify:run",
                                 "iat": now, "exp": now + 3600})
    h, p, s = token.split(".")
    broken = "%s.%s.%s" % (h, p, ("B" if s[0] != "B" else "C") + s[1:])
    auth = ["auth.enabled=true", "auth.issuer=https://idp.test/", "auth.audiences=cap-verifier",
            "auth.jwks_cache_ttl_seconds=60", "auth.refresh_min_interval_seconds=1"]
    tls_key = os.path.join(keys, "tls.key")
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", tls_key])
    certs = {"2h": certificate(keys, "2h", tls_key, 7200),
             "30m": certificate(keys, "30m", tls_key, 1800),
             "1y": certificate(keys, "1y", tls_key, 365 * 86400)}
    cgroup = os.path.join(tmp, "cgroup")
    os.makedirs(cgroup)
    with open(os.path.join(cgroup, "memory.max"), "w") as f:
        f.write("max\n")

    # 3. the daemons, one namespace each (down: two)
    def mk(name, ns=None, sets=(), env=None):
        return Daemon(daemon_bin, tmp, name, ns or name, sets, env)

    d = {}
    d["errors"] = mk("errors", sets=trust)
    for name, queue in (("registry", "0"), ("queue", "5")):
        dd = mk(name, sets=trust + ["registry.record_queue_max=" + queue])
        dd.flag = os.path.join(tmp, name + ".readonly")
        dd.env.update({"LD_PRELOAD": shim, "HOSTILE_FAULT_DIR": dd.dir,
                       "HOSTILE_FAULT_FLAG": dd.flag})
        d[name] = dd
    for name in ("auth", "jwks-stale", "jwks-empty"):
        path = os.path.join(tmp, name + ".jwks.json")
        if name != "jwks-empty":
            write_json(path, jwks_doc)
        d[name] = mk(name, sets=auth + ["auth.jwks_url=file://" + path])
        d[name].jwks = path
    d["backup"] = mk("backup")
    tls_dir = os.path.join(tmp, "tls-files")
    os.makedirs(tls_dir)
    shutil.copy(certs["2h"], os.path.join(tls_dir, "tls.crt"))
    shutil.copy(tls_key, os.path.join(tls_dir, "tls.key"))
    d["tls"] = mk("tls", sets=["tls.cert_file=%s/tls.crt" % tls_dir,
                               "tls.key_file=%s/tls.key" % tls_dir])
    d["down-1"], d["down-2"] = mk("down-1", "down"), mk("down-2", "down")
    d["gone"] = mk("gone")
    d["reopen"] = mk("reopen")
    d["idle"] = mk("idle")
    d["memory"] = mk("memory", env={"CAPVD_CGROUP_ROOT": cgroup})

    # the backup namespace: a real backup, then made an hour old, then backups break
    b = d["backup"]
    if not b.start():
        return 1
    st, body = get("http://127.0.0.1:%d/admin/backup" % b.api, method="POST", data=b"")
    R.check(st == 201, "backup: a first backup is made", "%s %s" % (st, body[:200]))
    b.stop()
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    for side in glob.glob(os.path.join(b.dir, "backups", "*.json")):
        with open(side) as f:
            doc = json.load(f)
        doc["created_at"] = old.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        write_json(side, doc)

    for dd in d.values():
        if dd.proc is None or dd.proc.poll() is not None:
            if not dd.start():
                return 1
    seeded = metric(b.metrics(), "cap_verifier_backup_last_success_timestamp_seconds")
    R.check(seeded is not None and abs(seeded - old.timestamp()) < 2,
            "backup: the restarted daemon knows the newest backup (an hour old) from backup.dir",
            seeded)
    os.rename(os.path.join(b.dir, "backups"), os.path.join(b.dir, "backups.away"))
    open(os.path.join(b.dir, "backups"), "w").close()
    st, body = get("http://127.0.0.1:%d/admin/backup" % b.api, method="POST", data=b"")
    R.check(st == 503 and metric(b.metrics(), 'cap_verifier_backup_total{result="error"}') == 1,
            "backup: with backup.dir not a directory POST /admin/backup fails (503) and "
            "cap_verifier_backup_total{result=\"error\"} counts it", "%s %s" % (st, body[:200]))

    # 4. Prometheus
    ex = Exporter()
    sd = os.path.join(tmp, "targets.json")
    groups = [{"targets": [dd.target], "labels": {"namespace": dd.namespace}}
              for dd in d.values()]
    write_json(sd, groups)
    prom_port = free_port()
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write("""global:
  scrape_interval: {i}
  scrape_timeout: {i}
  evaluation_interval: {i}
rule_files: [{rules}]
scrape_configs:
  - job_name: cap-verifier
    file_sd_configs:
      - files: [{sd}]
        refresh_interval: 1s
  - job_name: kube-state-metrics
    honor_labels: true
    metrics_path: /ksm
    static_configs:
      - targets: ["127.0.0.1:{ex}"]
        labels: {{namespace: monitoring}}
  - job_name: ingress-nginx
    metrics_path: /ingress
    static_configs:
      - targets: ["127.0.0.1:{ex}"]
        labels: {{namespace: ingress-nginx}}
""".format(i=INTERVAL, rules=json.dumps(rules), sd=json.dumps(sd), ex=ex.port))
    prom_log = open(os.path.join(tmp, "prometheus.log"), "wb")
    prom = subprocess.Popen([prometheus, "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                             "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % prom_port,
                             "--log.level=warn"], stdout=prom_log, stderr=subprocess.STDOUT)
    PROCS.append(prom)
    url = "http://127.0.0.1:%d" % prom_port
    deadline = time.monotonic() + 30
    up = []
    while time.monotonic() < deadline and prom.poll() is None:
        st, body = get(url + '/api/v1/query?query=up%7Bjob%3D%22cap-verifier%22%7D%3D%3D1')
        if st == 200:
            up = json.loads(body)["data"]["result"]
            if len(up) == len(d):
                break
        time.sleep(0.5)
    if not R.check(len(up) == len(d), "Prometheus scrapes the %d daemons as job cap-verifier"
                   % len(d), "%d up; prometheus log:\n%s" % (len(up), open(
                       os.path.join(tmp, "prometheus.log")).read()[-2000:])):
        return 1
    r = json.loads(get(url + "/api/v1/rules")[1])["data"]["groups"]
    R.check(sum(len(g["rules"]) for g in r) >= 18, "Prometheus loaded the compressed rules",
            [g["file"] for g in r])
    alerts = Alerts(url)
    alerts.start()
    log("Prometheus up, %d targets" % len(up))

    # 5. the conditions, in parallel
    scenarios = [
        ("errors", sc_errors, (alerts, d["errors"], good, bad)),
        ("registry", fault_scenario, (alerts, d["registry"], d["registry"].flag, good, False)),
        ("queue", fault_scenario, (alerts, d["queue"], d["queue"].flag, good, True)),
        ("auth", sc_auth, (alerts, d["auth"], token, broken)),
        ("jwks-stale", sc_jwks_stale, (alerts, d["jwks-stale"], d["jwks-stale"].jwks, jwks_doc)),
        ("jwks-empty", sc_jwks_empty, (alerts, d["jwks-empty"], d["jwks-empty"].jwks, jwks_doc)),
        ("backup", sc_backup, (alerts, b)),
        ("tls", sc_tls, (alerts, d["tls"], os.path.join(tls_dir, "tls.crt"), certs)),
        ("down", sc_down, (alerts, d["down-1"], d["down-2"])),
        ("gone", sc_gone, (alerts, d["gone"], sd, groups)),
        ("reopen", sc_reopen, (alerts, d["reopen"])),
        ("idle", sc_idle, (alerts, d["idle"])),
        ("memory", sc_memory, (alerts, d["memory"], os.path.join(cgroup, "memory.max"))),
        ("kube", sc_kube, (alerts, ex)),
        ("ingress", sc_ingress, (alerts, ex)),
    ]
    started = time.monotonic()
    threads = []
    for name, fn, args in scenarios:
        def body(fn=fn, args=args, name=name):
            try:
                fn(*args)
            except Exception:  # a scenario that breaks is a failure, not a hang
                R.check(False, "scenario %s ran to its end" % name, traceback.format_exc())
            log("scenario %s done" % name)
        t = threading.Thread(target=body, name=name, daemon=True)
        t.start()
        threads.append((name, t))
    for name, t in threads:
        t.join(max(0.0, SCENARIO_BUDGET - (time.monotonic() - started)))
        R.check(not t.is_alive(), "scenario %s ended within %d s" % (name, SCENARIO_BUDGET))
    log("scenarios took %.0f s" % (time.monotonic() - started))

    # 6. nothing fired where its condition was not
    # (the queue namespace's writer meets the same storage faults, retrying with back-off:
    # RegistryWriteFailing may go pending or fire there too)
    expected = {
        "HighErrorRate": {"errors"}, "FivexxSpike": {"registry"},
        "RegistryWriteFailing": {"registry", "queue"}, "RegistryRecordsDropped": {"queue"},
        "HighAuthFailureRate": {"auth"}, "JWKSStale": {"jwks-stale", "jwks-empty"},
        "BackupStale": {"backup"}, "TLSCertExpiringSoon": {"tls"},
        "TLSCertExpiryImminent": {"tls"}, "CapVerifierDown": {"down", "gone"},
        "CapVerifierReplicaDown": {"down"}, "RegistryNotOpen": {"reopen"},
        "JWKSReplicaStale": set(),
        "MemoryNearLimit": {"memory"}, "CapVerifierUnavailable": {"kube-test"},
        "IngressFivexxSpike": {"edge"},
    }
    for name, where in sorted(expected.items()):
        stray = sorted({x["labels"].get("namespace", "") for x in alerts.seen(name, {})} - where)
        R.check(not stray, "%s fired nowhere%s" % (
            name, " but in " + ", ".join(sorted(where)) if where else ""), "also in: %s" % stray)
    R.check(not alerts.seen("HighErrorRate", {"namespace": "registry"}),
            "HighErrorRate stays quiet for namespace registry: all its answers are errors, but "
            "fewer than the rule's 200 in a window")
    R.check(not alerts.seen("IngressFivexxSpike", {"ingress": "other-app"}) and
            not alerts.seen("CapVerifierUnavailable", {"deployment": "other-app"}),
            "another Ingress's 5xx and another Deployment without replicas raise nothing")
    R.check(alerts.errors < 5, "the alerts API answered every poll", alerts.errors)
    alerts.stopped.set()
    for dd in d.values():
        dd.stop()
    prom.send_signal(signal.SIGTERM)
    prom.wait(15)
    print("%d passed, %d failed (%.0f s)" % (R.passed, R.failed, time.monotonic() - T0))
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
