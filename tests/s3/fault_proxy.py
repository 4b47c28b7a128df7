#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An HTTP proxy in front of s3rver for the off-site backup tests (tests/s3/): what s3rver
does not do, and the faults a real store shows.

  fault_proxy.py --upstream http://127.0.0.1:PORT --state DIR [--verify ACCESS_KEY:SECRET]
                 [--deny] [--deny-method METHOD] [--fail-part N]
                 [--kill-on-part N --kill-pid PID]
                 [--lose-complete-answer] [--stall METHOD[:SUFFIX]]

Listens on 127.0.0.1 (an ephemeral port, written to DIR/proxy_port) and forwards every
request to the upstream s3rver, logging "METHOD TARGET STATUS" lines to DIR/proxy.log.

  --verify KEY:SECRET  checks AWS Signature Version 4 as S3 does, written from the AWS
                       specification independently of libcurl: the canonical request
                       (method, path and query re-encoded, the signed headers), the scope,
                       the HMAC chain, a date within 15 minutes; that every x-amz-* header is
                       signed; that x-amz-content-sha256 is the SHA-256 of the body and
                       x-amz-checksum-sha256 its base64. Failures answer as S3 does: 403
                       SignatureDoesNotMatch / InvalidAccessKeyId, 400
                       XAmzContentSHA256Mismatch / BadDigest. s3rver checks none of this.
  --deny               answers 403 AccessDenied to everything (a bucket policy that refuses).
  --deny-method METHOD answers 403 AccessDenied to every METHOD request and forwards the
                       others (a policy that allows writes but not s3:DeleteObject).
  --fail-part N        answers 500 InternalError to every UploadPart of part N.
  --kill-on-part N     when UploadPart N arrives, kills --kill-pid (s3rver) with SIGKILL and
                       drops the connection: the server dies in the middle of a multipart
                       upload; later requests get 502, as from a load balancer.
  --lose-complete-answer  forwards the first CompleteMultipartUpload and drops the
                       connection instead of answering: the object is stored and the client
                       never hears so (a connection lost on the way back).
  --stall METHOD[:SUFFIX]  takes in every METHOD request of a key ending in SUFFIX and
                       never answers: the store hangs. Logs "METHOD TARGET stalled", and
                       when the client gives up and closes, "METHOD TARGET closed-by-client
                       UNIX_TIME" (up to 120 s).
Stops on SIGTERM.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import http.server
import os
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "expect"}


def s3_error(code, message, status):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>fault-proxy</RequestId></Error>' % (code, message)).encode()
    return status, body


def enc(s):
    """SigV4's URI encoding of a component: RFC 3986 unreserved characters kept."""
    return urllib.parse.quote(s, safe="-_.~")


def canonical_query(raw):
    if not raw:
        return ""
    pairs = []
    for part in raw.split("&"):
        k, _, v = part.partition("=")
        pairs.append((enc(urllib.parse.unquote(k)), enc(urllib.parse.unquote(v))))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_path(raw):
    # S3 encodes the path once, keeping '/'
    return "/".join(enc(urllib.parse.unquote(seg)) for seg in raw.split("/")) or "/"


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def check_sigv4(method, target, headers, body, access_key, secret):
    """None when the request is signed right, else (status, body) of S3's answer."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return s3_error("AccessDenied", "Anonymous access is forbidden", 403)
    fields = {}
    for item in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = item.strip().partition("=")
        fields[k] = v
    try:
        key_id, date, region, service, term = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        return s3_error("AuthorizationHeaderMalformed", "malformed Authorization", 400)
    if key_id != access_key:
        return s3_error("InvalidAccessKeyId", "The AWS Access Key Id does not exist", 403)
    if service != "s3" or term != "aws4_request":
        return s3_error("AuthorizationHeaderMalformed", "bad credential scope", 400)
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return s3_error("AccessDenied", "no valid x-amz-date", 403)
    if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900 or \
            not amz_date.startswith(date):
        return s3_error("RequestTimeTooSkewed", "date too far from now", 403)
    for need in ("host", "x-amz-date", "x-amz-content-sha256"):
        if need not in signed:
            return s3_error("AccessDenied", "header %s is not signed" % need, 403)
    for name in headers:
        if name.startswith("x-amz-") and name not in signed:
            return s3_error("AccessDenied", "header %s is not signed" % name, 403)
    payload_hash = headers.get("x-amz-content-sha256", "")
    actual = hashlib.sha256(body).hexdigest()
    if payload_hash != "UNSIGNED-PAYLOAD" and payload_hash != actual:
        return s3_error("XAmzContentSHA256Mismatch",
                        "The provided x-amz-content-sha256 header does not match what was "
                        "computed.", 400)
    checksum = headers.get("x-amz-checksum-sha256")
    if checksum is not None and checksum != base64.b64encode(
            hashlib.sha256(body).digest()).decode():
        return s3_error("BadDigest", "The SHA256 you specified did not match the calculated "
                        "checksum.", 400)
    path, _, query = target.partition("?")
    canon_headers = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split()))
                            for h in signed)
    canonical = "\n".join([method, canonical_path(path), canonical_query(query), canon_headers,
                           ";".join(signed), payload_hash])
    scope = "/".join([date, region, service, term])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = hmac256(("AWS4" + secret).encode(), date)
    for part in (region, service, term):
        k = hmac256(k, part)
    want = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature):
        return s3_error("SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your key and signing method.", 403)
    return None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    opts = None
    lock = threading.Lock()
    killed = False
    lost = False

    def log_message(self, fmt, *args):  # the log file is ours
        pass

    def record(self, status):
        with Proxy.lock, open(os.path.join(self.opts.state, "proxy.log"), "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, status))

    def answer(self, status, body, headers=(), length=None):
        """length: the Content-Length to state (a HEAD answer's is the object's size)."""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status)

    def stall(self):
        """Holds the request unanswered until the client closes (--stall)."""
        self.record("stalled")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.connection], [], [], 0.02)
            try:
                gone = ready and self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:  # reset
                gone = True
            if gone:
                self.record("closed-by-client %.3f" % time.time())
                break
        self.close_connection = True
        return None

    def handle_any(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query,
                                      keep_blank_values=True)
        part = query.get("partNumber", [None])[0]
        o = self.opts
        if o.deny or self.command == o.deny_method:
            return self.answer(*s3_error("AccessDenied", "Access Denied", 403))
        if o.verify:
            key, _, secret = o.verify.partition(":")
            bad = check_sigv4(self.command, self.path, headers, body, key, secret)
            if bad is not None:
                return self.answer(*bad)
        if o.stall is not None:
            method, _, suffix = o.stall.partition(":")
            if self.command == method and urllib.parse.urlsplit(self.path).path.endswith(suffix):
                return self.stall()
        if o.fail_part is not None and part == str(o.fail_part):
            return self.answer(*s3_error("InternalError", "We encountered an internal error.",
                                         500))
        if o.kill_on_part is not None and part == str(o.kill_on_part) and not Proxy.killed:
            Proxy.killed = True
            os.kill(o.kill_pid, signal.SIGKILL)
            self.record("killed-upstream")
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        up = urllib.parse.urlsplit(o.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        try:
            fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            fwd["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=fwd)
            r = conn.getresponse()
            data = r.read()
            if (o.lose_complete_answer and self.command == "POST" and "uploadId" in query
                    and not Proxy.lost):
                Proxy.lost = True
                self.record("answer-lost-%d" % r.status)
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            out = [(k, v) for k, v in r.getheaders()
                   if k.lower() not in HOP and k.lower() != "content-length"]
            length = r.getheader("Content-Length") if self.command == "HEAD" else None
            return self.answer(r.status, data, out, length)
        except OSError:
            return self.answer(*s3_error("ServiceUnavailable", "upstream unreachable", 502))
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--verify")
    ap.add_argument("--deny", action="store_true")
    ap.add_argument("--deny-method")
    ap.add_argument("--fail-part", type=int)
    ap.add_argument("--kill-on-part", type=int)
    ap.add_argument("--kill-pid", type=int)
    ap.add_argument("--lose-complete-answer", action="store_true")
    ap.add_argument("--stall")
    Proxy.opts = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Proxy)
    port_file = os.path.join(Proxy.opts.state, "proxy_port")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    srv.serve_forever()


if __name__ == "__main__":
    main()
