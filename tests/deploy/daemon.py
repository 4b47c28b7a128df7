# SPDX-License-Identifier: Apache-2.0
"""Starts capverifyd on 127.0.0.1 with ephemeral ports in a scratch directory, for the
deploy tests (metric_names.py, dockerfile_check.py). Stopped with SIGTERM."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_ports(count):
    """count distinct loopback ports free now: all stay bound until all are picked, or the
    kernel could hand out the same one twice."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def free_port():
    return free_ports(1)[0]


def http(url, data=None, headers=None, timeout=5):
    """(status, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class Daemon:
    """with Daemon(binary) as d: d.api_port, d.admin_port, d.url(path, admin=True)"""

    def __init__(self, binary, env=None, sets=()):
        self.binary = os.path.abspath(binary)
        self.extra_env = env or {}
        self.sets = list(sets)
        self.proc = None

    def __enter__(self):
        last = ""
        for _ in range(5):  # a port taken between probing and binding: try others
            self.dir = tempfile.mkdtemp(prefix="capv-deploy-")
            os.mkdir(os.path.join(self.dir, "conf"))
            self.api_port, self.admin_port = free_ports(2)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CAPV_")}
            env.update(self.extra_env)
            env.setdefault("CAPV_SERVER_ADMIN_LISTEN", "127.0.0.1:%d" % self.admin_port)
            self.admin_port = int(env["CAPV_SERVER_ADMIN_LISTEN"].rsplit(":", 1)[1])
            args = [self.binary, "--config-dir", os.path.join(self.dir, "conf"),
                    "--set", "server.listen=127.0.0.1:%d" % self.api_port,
                    "--set", "registry.path=%s/registry.sqlite" % self.dir,
                    "--set", "backup.dir=%s/backups" % self.dir,
                    "--set", "shutdown.grace_seconds=0",
                    "--set", "shutdown.timeout_seconds=5"]
            for s in self.sets:
                args += ["--set", s]
            self.log = open(os.path.join(self.dir, "daemon.log"), "w+")
            self.proc = subprocess.Popen(args, cwd=self.dir, env=env, stdout=self.log,
                                         stderr=subprocess.STDOUT)
            deadline = time.time() + 60
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    if http(self.url("/healthz"), timeout=2)[0] == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            last = self.logtext()
            self.__exit__(None, None, None)
        raise RuntimeError("capverifyd did not start:\n" + last)

    def url(self, path, admin=True):
        return "http://127.0.0.1:%d%s" % (self.admin_port if admin else self.api_port, path)

    def logtext(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
