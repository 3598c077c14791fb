"""Independent unwrapper for ciop provider tests (python3-cryptography, not ciop code).

Reads a JSON list of cases on stdin, prints a JSON list of results. A case:
  {"id", "file", "encoding": "binary"|"base64"|"azure-byok", "scheme": "oaep"|"pkcs1"|"rsa-aes"|"rsa-aes-ecb",
   "hash": "sha1"|"sha256"|"sha384"|"sha512", "priv": PEM path, "kind": "secret"|"private", "kid": optional,
   "kat": optional {"kind": "aes-gcm"|"hmac-sha1", "iv", "plaintext", "message"} (hex inputs)}
A result: {"id", "ok", "error"?, "len", "sha256" (secret: hex of SHA-256 of the key), "spki" (private: hex DER),
   "kat" (secret: hex of AES-GCM(key, iv, plaintext) ciphertext||tag, or HMAC-SHA-1(key, message))}
"""
import base64, binascii, hashlib, json, re, sys
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import hmac

HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def oaep(name):
    h = HASHES[name]()
    return padding.OAEP(mgf=padding.MGF1(HASHES[name]()), algorithm=h, label=None)


def der_len(buf):
    """Total length of the outer DER element (to prove there is no trailing padding)."""
    if buf[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    first = buf[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    return 2 + n + int.from_bytes(buf[2:2 + n], "big")


def decode(case):
    raw = open(case["file"], "rb").read()
    enc = case["encoding"]
    if enc == "binary":
        return raw, {}
    if enc == "base64":
        text = raw.decode("ascii")
        if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text):
            raise ValueError("not strict base64 text")
        return base64.b64decode(text, validate=True), {}
    if enc == "azure-byok":
        doc = json.loads(raw.decode("utf-8"))
        if set(doc) != {"schema_version", "header", "ciphertext", "generator"}:
            raise ValueError("unexpected members %r" % sorted(doc))
        hdr = doc["header"]
        if doc["schema_version"] != "1.0.0" or hdr != {"kid": case["kid"], "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"}:
            raise ValueError("bad header %r" % hdr)
        ct = doc["ciphertext"]
        if not re.fullmatch(r"[A-Za-z0-9_-]+", ct):
            raise ValueError("ciphertext is not unpadded base64url")
        return base64.urlsafe_b64decode(ct + "=" * (-len(ct) % 4)), {"generator": doc["generator"]}
    raise ValueError("unknown encoding " + enc)


def unwrap(case, blob, priv):
    k = priv.key_size // 8
    scheme = case["scheme"]
    if scheme == "oaep":
        if len(blob) != k:
            raise ValueError("blob is %d bytes, expected %d" % (len(blob), k))
        return priv.decrypt(blob, oaep(case["hash"]))
    if scheme == "pkcs1":
        if len(blob) != k:
            raise ValueError("blob length")
        return priv.decrypt(blob, padding.PKCS1v15())
    eph = priv.decrypt(blob[:k], oaep(case["hash"]))
    if len(eph) != 32:
        raise ValueError("ephemeral key is %d bytes" % len(eph))
    rest = blob[k:]
    if scheme == "rsa-aes":
        return keywrap.aes_key_unwrap_with_padding(eph, rest)
    if scheme == "rsa-aes-ecb":
        d = Cipher(algorithms.AES(eph), modes.ECB()).decryptor()
        pt = d.update(rest) + d.finalize()
        p = pt[-1]
        if p < 1 or p > 16 or pt[-p:] != bytes([p]) * p:
            raise ValueError("bad PKCS#7 padding")
        return pt[:-p]
    raise ValueError("unknown scheme " + scheme)


PRIVS = {}


def run(case):
    if case["priv"] not in PRIVS:
        PRIVS[case["priv"]] = serialization.load_pem_private_key(open(case["priv"], "rb").read(), None)
    priv = PRIVS[case["priv"]]
    blob, extra = decode(case)
    pt = unwrap(case, blob, priv)
    out = {"id": case["id"], "ok": True, "len": len(pt), "blobLen": len(blob)}
    out.update(extra)
    if case["kind"] == "secret":
        out["sha256"] = hashlib.sha256(pt).hexdigest()
        kat = case.get("kat")
        if kat and kat["kind"] == "aes-gcm":
            out["kat"] = AESGCM(pt).encrypt(bytes.fromhex(kat["iv"]), bytes.fromhex(kat["plaintext"]), None).hex()
        elif kat and kat["kind"] == "hmac-sha1":
            m = hmac.HMAC(pt, hashes.SHA1())
            m.update(bytes.fromhex(kat["message"]))
            out["kat"] = m.finalize().hex()
    else:
        if der_len(pt) != len(pt):
            raise ValueError("PKCS#8 has %d trailing bytes" % (len(pt) - der_len(pt)))
        key = serialization.load_der_private_key(pt, None)
        out["spki"] = binascii.hexlify(key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    return out


results = []
for case in json.load(sys.stdin):
    try:
        results.append(run(case))
    except Exception as e:  # report, the test asserts
        results.append({"id": case["id"], "ok": False, "error": "%s: %s" % (type(e).__name__, e)})
json.dump(results, sys.stdout)
