#!/usr/bin/env python3
"""Plays Azure Managed HSM against an EKM proxy, from Microsoft's published EKM Proxy API reference
(0.1-preview: articles/key-vault/managed-hsm/external-key-management-proxy-api-reference.md and the
networking and troubleshooting pages), not from any proxy's code.

It connects as Managed HSM does: HTTPS over TLS 1.3 with a client certificate, POSTs JSON bodies
with a request_context to {prefix}/info, {prefix}/{key}/metadata, {prefix}/{key}/wrapkey and
{prefix}/{key}/unwrapkey with ?api-version=0.1-preview, and checks each answer against the
reference: status, JSON shape, base64url encodings, key_ops, algorithms per key type, the error
body {code, message}, and the 250 ms answer time.

usage: conformance.py --url https://host:port[/prefix] --ca ROOT.pem --cert CLIENT.pem --key CLIENT.key
                      --key-name NAME [--key-name NAME ...] [--missing-key NAME] [--json]

Exit status 0 when every check passed, 1 otherwise. Needs python3-cryptography.
"""
import argparse
import base64
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.parse
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

API_VERSION = "0.1-preview"
SUITES = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"}
B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
BUDGET_MS = 250


class Run:
    def __init__(self):
        self.results = []

    def check(self, name, ok, detail=""):
        self.results.append({"check": name, "ok": bool(ok), "detail": detail})
        return ok


def b64u_decode(s):
    if not isinstance(s, str) or not B64URL.match(s) or len(s) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def context():
    return {"request_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()), "pool_name": "conformance-pool"}


class Client:
    def __init__(self, url, ca, cert, key):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 443
        self.prefix = u.path.rstrip("/")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_verify_locations(ca)
        self.ctx.load_cert_chain(cert, key)
        self.conn = None

    def connect(self):
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
        self.conn.connect()
        return self.conn.sock.version(), self.conn.sock.cipher()[0]

    def post(self, path, body, api_version=API_VERSION, content_type="application/json"):
        if self.conn is None:
            self.connect()
        q = "" if api_version is None else "?api-version=" + api_version
        data = json.dumps(body).encode()
        t0 = time.monotonic()
        self.conn.request("POST", self.prefix + path + q, body=data, headers={"Content-Type": content_type})
        r = self.conn.getresponse()
        raw = r.read()
        ms = (time.monotonic() - t0) * 1000
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return r.status, parsed, ms, r.getheader("Content-Type", "")


def is_error_body(b):
    return isinstance(b, dict) and isinstance(b.get("code"), str) and isinstance(b.get("message"), str)


def check_key(run, c, name):
    st, md, ms, ctype = c.post("/%s/metadata" % name, {"request_context": context()})
    run.check("%s metadata 200" % name, st == 200, "status %s" % st)
    run.check("%s metadata is JSON" % name, ctype.startswith("application/json"), ctype)
    run.check("%s metadata within %d ms" % (name, BUDGET_MS), ms < BUDGET_MS, "%.1f ms" % ms)
    if st != 200 or not isinstance(md, dict):
        return
    kt, size = md.get("key_type"), md.get("key_size")
    run.check("%s key_ops exactly wrapKey, unwrapKey" % name, md.get("key_ops") == ["wrapKey", "unwrapKey"], str(md.get("key_ops")))
    sizes = {"oct": [256], "RSA": [2048, 3072, 4096]}
    run.check("%s key_type/key_size allowed" % name, kt in sizes and size in sizes[kt], "%s %s" % (kt, size))
    if kt == "oct":
        algs = ["A256KW", "A256KWP"]
        run.check("%s oct has no n/e" % name, "n" not in md and "e" not in md)
        wrong = "RSA-OAEP-256"
    else:
        algs = ["RSA-OAEP", "RSA-OAEP-256"]
        wrong = "A256KW"
        try:
            n = int.from_bytes(b64u_decode(md["n"]), "big")
            e = int.from_bytes(b64u_decode(md["e"]), "big")
            ok = n.bit_length() == size and e > 1
            run.check("%s n/e are base64url of big-endian bytes matching key_size" % name, ok, "n bits %d, e %d" % (n.bit_length(), e))
            pub = rsa.RSAPublicNumbers(e, n).public_key()
        except Exception as exc:  # noqa: BLE001
            run.check("%s n/e decode" % name, False, repr(exc))
            pub = None
    for alg in algs:
        dek = os.urandom(32)
        st, w, ms, _ = c.post("/%s/wrapkey" % name, {"request_context": context(), "alg": alg, "value": b64u(dek)})
        run.check("%s wrapkey %s 200" % (name, alg), st == 200, "status %s body %s" % (st, w))
        run.check("%s wrapkey %s within %d ms" % (name, alg, BUDGET_MS), ms < BUDGET_MS, "%.1f ms" % ms)
        if st != 200:
            continue
        try:
            wrapped = b64u_decode(w["value"])
            run.check("%s wrapkey %s value is unpadded base64url" % (name, alg), True)
        except Exception as exc:  # noqa: BLE001
            run.check("%s wrapkey %s value is unpadded base64url" % (name, alg), False, repr(exc))
            continue
        if alg == "A256KW":
            run.check("%s A256KW output is 8 bytes longer" % name, len(wrapped) == len(dek) + 8, str(len(wrapped)))
        st, u, ms, _ = c.post("/%s/unwrapkey" % name, {"request_context": context(), "alg": alg, "value": w["value"]})
        run.check("%s unwrapkey %s gives the key back" % (name, alg), st == 200 and isinstance(u, dict) and u.get("value") == b64u(dek), "status %s" % st)
        run.check("%s unwrapkey %s within %d ms" % (name, alg, BUDGET_MS), ms < BUDGET_MS, "%.1f ms" % ms)
        if kt == "RSA" and pub is not None:
            # what another party holding only the public key (n, e) wraps must unwrap at the proxy
            h = hashes.SHA1() if alg == "RSA-OAEP" else hashes.SHA256()
            ct = pub.encrypt(dek, padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None))
            st, u, _, _ = c.post("/%s/unwrapkey" % name, {"request_context": context(), "alg": alg, "value": b64u(ct)})
            run.check("%s unwrapkey %s of a wrap made with n/e" % (name, alg), st == 200 and u.get("value") == b64u(dek), "status %s" % st)
    st, b, _, _ = c.post("/%s/wrapkey" % name, {"request_context": context(), "alg": wrong, "value": b64u(os.urandom(32))})
    run.check("%s wrapkey with %s refused 400 {code,message}" % (name, wrong), st == 400 and is_error_body(b), "status %s body %s" % (st, b))
    st, b, _, _ = c.post("/%s/unwrapkey" % name, {"request_context": context(), "alg": algs[0], "value": "AAAA+/=="})
    run.check("%s unwrapkey with non-base64url value refused 400" % name, st == 400 and is_error_body(b), "status %s" % st)
    st, b, _, _ = c.post("/%s/wrapkey" % name, {"alg": algs[0], "value": b64u(os.urandom(32))})
    run.check("%s wrapkey without request_context refused 400" % name, st == 400 and is_error_body(b), "status %s" % st)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--key-name", action="append", default=[])
    ap.add_argument("--missing-key", default="conformance-no-such-key")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    run = Run()
    c = Client(a.url, a.ca, a.cert, a.key)
    version, cipher = c.connect()
    run.check("TLS 1.3 negotiated", version == "TLSv1.3", version)
    run.check("cipher suite is one the API names", cipher in SUITES, cipher)

    # TLS 1.2 must not be accepted
    ctx12 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx12.load_verify_locations(a.ca)
    ctx12.load_cert_chain(a.cert, a.key)
    try:
        h = http.client.HTTPSConnection(c.host, c.port, context=ctx12, timeout=5)
        h.connect()
        run.check("TLS 1.2 refused", False, "handshake succeeded")
        h.close()
    except (ssl.SSLError, OSError) as exc:
        run.check("TLS 1.2 refused", True, type(exc).__name__)

    # no client certificate must not be served
    ctxn = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctxn.load_verify_locations(a.ca)
    try:
        h = http.client.HTTPSConnection(c.host, c.port, context=ctxn, timeout=5)
        h.request("POST", c.prefix + "/info?api-version=" + API_VERSION, body=json.dumps({"request_context": context()}), headers={"Content-Type": "application/json"})
        st = h.getresponse().status
        run.check("request without client certificate refused", st in (401, 403), "status %s" % st)
    except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
        run.check("request without client certificate refused", True, type(exc).__name__)

    st, info, ms, _ = c.post("/info", {"request_context": context()})
    run.check("info 200", st == 200, "status %s" % st)
    run.check("info within %d ms" % BUDGET_MS, ms < BUDGET_MS, "%.1f ms" % ms)
    fields = ["api_version", "proxy_vendor", "proxy_name", "ekm_vendor", "ekm_product"]
    run.check("info has the ProxyInfo fields as strings", isinstance(info, dict) and all(isinstance(info.get(f), str) for f in fields), str(info))
    st, b, _, _ = c.post("/info", {"request_context": context()}, api_version=None)
    run.check("info without api-version refused 400", st == 400 and is_error_body(b), "status %s" % st)
    st, b, _, _ = c.post("/info", {})
    run.check("info without request_context refused 400", st == 400 and is_error_body(b), "status %s" % st)

    st, b, _, _ = c.post("/%s/metadata" % a.missing_key, {"request_context": context()})
    run.check("unknown key metadata 404 {code,message}", st == 404 and is_error_body(b), "status %s body %s" % (st, b))
    st, b, _, _ = c.post("/%s/wrapkey" % a.missing_key, {"request_context": context(), "alg": "A256KW", "value": b64u(os.urandom(32))})
    run.check("unknown key wrapkey 404", st == 404 and is_error_body(b), "status %s" % st)

    for name in a.key_name:
        check_key(run, c, name)

    failed = [r for r in run.results if not r["ok"]]
    if a.json:
        print(json.dumps({"passed": len(run.results) - len(failed), "failed": failed, "results": run.results}))
    else:
        for r in run.results:
            print("%s  %s%s" % ("ok  " if r["ok"] else "FAIL", r["check"], ("  (" + r["detail"] + ")") if r["detail"] and not r["ok"] else ""))
        print("%d checks, %d failed" % (len(run.results), len(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
