#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What can be checked of deploy/Dockerfile without a container engine.

  dockerfile_check.py CAPVERIFYD CAPVERIFY LIBCAPVERIFY COMPAT_LIBSSL

Static: two bookworm-slim stages, uid 65532, /data volume, ports 8080 and 9090, the
entrypoint, a build stage that installs debian/control's Build-Depends (but the packaging
tools), and a runtime stage that installs the Debian package of every shared library
the built binaries need (found with readelf + dpkg -S on this Debian machine). The install
layout the entrypoint and the compat library rely on (DT_RPATH of capverifyd).
Live: the HEALTHCHECK command, run by bash exactly as Docker would, passes against a
running capverifyd and fails against a closed port and against a server answering 503.
"""
import http.server
import json
import os
import re
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import Daemon, free_port  # noqa: E402

from tally import result, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")
BASE_PACKAGES = {"libc6", "libgcc-s1"}  # in every Debian image

def instructions():
    """[(INSTRUCTION, text)] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for line in open(DOCKERFILE):
        s = line.rstrip("\n")
        if not cur and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if cur and s.lstrip().startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


# Sanitizer runtimes of an instrumented test build are not part of the image.
SANITIZER = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")


def needed_packages(bins):
    """Debian packages of the shared libraries the built binaries load directly."""
    sonames = set()
    for b in bins:
        out = subprocess.run(["readelf", "-d", b], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        sonames |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    # plus what CivetWeb dlopen()s at run time for HTTPS (through the compat directory)
    sonames |= {"libssl.so.3", "libcrypto.so.3"}
    sonames = {so for so in sonames if not so.startswith("libcapverify.so.") and not SANITIZER.match(so)}
    # where the loader finds each one here (ldd), then who owns that file (dpkg -S; with
    # merged /usr the database may name either /lib/... or /usr/lib/...)
    paths = {}
    for b in bins:
        out = subprocess.run(["ldd", b], stdout=subprocess.PIPE, text=True).stdout
        for so, path in re.findall(r"^\s*(\S+) => (/\S+)", out, re.M):
            paths.setdefault(so, path)
        # the dynamic loader (NEEDED by a library with thread-local storage, for
        # __tls_get_addr) is listed by its path alone
        for path in re.findall(r"^\s*(/\S+) \(0x", out, re.M):
            paths.setdefault(os.path.basename(path), path)
    pkgs, unknown = {}, []
    for so in sorted(sonames):
        path = paths.get(so, "")
        owner = None
        for candidate in (path, "/usr" + path if path else "",
                          path[len("/usr"):] if path.startswith("/usr/") else path,
                          os.path.realpath(path) if path else ""):
            if not candidate:
                continue
            r = subprocess.run(["dpkg", "-S", candidate], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            if r.returncode == 0:
                owner = r.stdout.split(":")[0].strip()
                break
        if owner is None:
            unknown.append("%s (%s)" % (so, path or "not found by ldd"))
        else:
            pkgs[so] = owner
    return pkgs, unknown


def healthcheck_cmd(instr):
    hc = [t for i, t in instr if i == "HEALTHCHECK"]
    if len(hc) != 1:
        return None
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", hc[0])
    return json.loads(m.group(1)) if m else None


class Answer503(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def run_hc(cmd, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPV_")}
    env["CAPV_SERVER_ADMIN_LISTEN"] = "0.0.0.0:%d" % port
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=30)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: dockerfile_check.py CAPVERIFYD CAPVERIFY LIBCAPVERIFY COMPAT_LIBSSL")
    bins = sys.argv[1:]
    daemon = bins[0]
    instr = instructions()
    froms = [t for i, t in instr if i == "FROM"]
    args = dict(re.findall(r"(\w+)=(\S+)", " ".join(t for i, t in instr if i == "ARG")))
    result(len(froms) == 2 and args.get("DEBIAN_IMAGE") == "debian:bookworm-slim"
           and all(f.startswith("${DEBIAN_IMAGE}") for f in froms)
           and froms[0].endswith("AS build"),
           "two stages, both debian:bookworm-slim, the first named build", froms)
    runtime = instr[[k for k, (i, _) in enumerate(instr) if i == "FROM"][1]:]
    rt = lambda name: [t for i, t in runtime if i == name]  # noqa: E731
    result(rt("USER") == ["65532:65532"], "runs as uid:gid 65532:65532", rt("USER"))
    result(rt("VOLUME") == ['["/data"]'], "declares the /data volume", rt("VOLUME"))
    exposed = set(" ".join(rt("EXPOSE")).split())
    result({"8080", "9090"} <= exposed, "exposes 8080 and 9090", sorted(exposed))
    ep = json.loads(rt("ENTRYPOINT")[0]) if rt("ENTRYPOINT") else []
    result(ep[:1] == ["/opt/capverify/sbin/capverifyd"]
           and ep[1:] == ["--config-dir", "/etc/cap-verifier"],
           "entrypoint: capverifyd --config-dir /etc/cap-verifier", ep)
    result(any("--from=build /opt/capverify /opt/capverify" in t for t in rt("COPY")),
           "copies the installed tree /opt/capverify from the build stage", rt("COPY"))

    # the install tree the entrypoint and the compat library rely on
    rpath = subprocess.run(["readelf", "-d", daemon],
                           stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"\(RPATH\)\s+Library rpath: \[([^\]]*)\]", rpath)
    entries = m.group(1).split(":") if m else []
    result("$ORIGIN/../lib/capverify/tlscompat" in entries and "$ORIGIN/../lib" in entries,
           "capverifyd's DT_RPATH finds lib/ and lib/capverify/tlscompat of /opt/capverify",
           [l for l in rpath.splitlines() if "PATH" in l])

    # the build stage: every build dependency of the Debian package but the packaging tools
    build = instr[:[k for k, (i, _) in enumerate(instr) if i == "FROM"][1]]
    built_with = set()
    for i, t in build:
        m = re.search(r"apt-get install[^&]*", t) if i == "RUN" else None
        if m:
            built_with |= set(m.group(0).split())
    control = open(os.path.join(ROOT, "debian", "control")).read()
    deps = re.search(r"^Build-Depends:\s*(.*?)^\S", control, re.S | re.M).group(1)
    wanted = set()
    for dep in deps.split(","):
        alts = [re.sub(r"[:(\s].*", "", a.strip()) for a in dep.split("|") if a.strip()]
        if alts and not any(a.startswith(("debhelper", "dh-")) for a in alts) \
                and not any(a in built_with for a in alts):
            wanted.add(" | ".join(alts))
    result(not wanted, "the build stage installs debian/control's Build-Depends (but the "
           "packaging tools)", sorted(wanted))

    installed = set()
    for t in rt("RUN"):
        m = re.search(r"apt-get install[^&]*", t)
        if m:
            installed |= {w for w in m.group(0).split()
                          if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w)} - {"apt-get", "install"}
    pkgs, unknown = needed_packages(bins)
    missing = sorted("%s (%s)" % (p, so) for so, p in pkgs.items()
                     if p not in installed and p not in BASE_PACKAGES)
    result(not missing and not unknown,
           "the runtime stage installs the package of every library the binaries load (%s)"
           % ", ".join(sorted(set(pkgs.values()))),
           missing + ["no package owns " + u for u in unknown])
    result("ca-certificates" in installed, "the runtime stage installs ca-certificates "
           "(HTTPS to the IdP)")

    # HEALTHCHECK, live
    cmd = healthcheck_cmd(instr)
    result(cmd is not None and cmd[0] == "/bin/bash", "HEALTHCHECK CMD is an exec-form bash "
           "command", [cmd])
    if cmd is None:
        summary()
        return 1
    with Daemon(daemon) as d:
        r = run_hc(cmd, d.admin_port)
        result(r.returncode == 0, "HEALTHCHECK passes against a running capverifyd (admin "
               "port from CAPV_SERVER_ADMIN_LISTEN)", [r.stdout])
    r = run_hc(cmd, free_port())
    result(r.returncode != 0, "HEALTHCHECK fails when nothing listens", [r.returncode])
    srv = http.server.HTTPServer(("127.0.0.1", 0), Answer503)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = run_hc(cmd, srv.server_address[1])
        result(r.returncode != 0, "HEALTHCHECK fails when /healthz answers 503",
               [r.returncode])
    finally:
        srv.shutdown()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
