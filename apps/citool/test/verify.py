#!/usr/bin/python3
"""Independent check of a citool artefact with python3-cryptography (no ciop code involved).

argv[1] = JSON {file, decode: binary|base64|base64url|byok, scheme, priv}
scheme: oaep-sha1 | oaep-sha256 | pkcs1 | rsa-aes-sha1 | rsa-aes-sha256 | rsa-aes-ecb-sha256
Prints JSON: plaintext length, sha256 (base64), AES-ECB(0^16) check value for secret keys,
SubjectPublicKeyInfo (hex) when the plaintext is a PKCS#8 private key, the .byok document.
"""
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, keywrap, serialization, padding as sympad
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

a = json.loads(sys.argv[1])
raw = open(a["file"], "rb").read()
doc = None
if a["decode"] == "binary":
    blob = raw
elif a["decode"] == "base64":
    text = raw.decode("ascii").strip()
    blob = base64.b64decode(text, validate=True)
elif a["decode"] == "base64url":
    text = raw.decode("ascii").strip()
    assert "+" not in text and "/" not in text
    blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
elif a["decode"] == "byok":
    doc = json.loads(raw)
    ct = doc["ciphertext"]
    assert "+" not in ct and "/" not in ct, "ciphertext must be base64url"
    blob = base64.urlsafe_b64decode(ct + "=" * (-len(ct) % 4))
else:
    raise SystemExit("bad decode")

priv = serialization.load_pem_private_key(open(a["priv"], "rb").read(), None)
k = priv.key_size // 8
H = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
def oaep(h): return padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None)

s = a["scheme"]
if s.startswith("oaep-"):
    assert len(blob) == k, f"direct OAEP blob is {len(blob)} bytes, modulus is {k}"
    pt = priv.decrypt(blob, oaep(H[s[5:]]))
elif s == "pkcs1":
    assert len(blob) == k
    pt = priv.decrypt(blob, padding.PKCS1v15())
elif s.startswith("rsa-aes-ecb-"):
    eph = priv.decrypt(blob[:k], oaep(H[s[12:]]))
    assert len(eph) == 32
    d = Cipher(algorithms.AES(eph), modes.ECB()).decryptor()
    padded = d.update(blob[k:]) + d.finalize()
    u = sympad.PKCS7(128).unpadder()
    pt = u.update(padded) + u.finalize()
elif s.startswith("rsa-aes-"):
    eph = priv.decrypt(blob[:k], oaep(H[s[8:]]))
    assert len(eph) == 32, "ephemeral key must be AES-256"
    pt = keywrap.aes_key_unwrap_with_padding(eph, blob[k:])
else:
    raise SystemExit("bad scheme")

out = {"len": len(pt), "sha256b64": base64.b64encode(hashlib.sha256(pt).digest()).decode()}
if len(pt) in (16, 24, 32):
    e = Cipher(algorithms.AES(pt), modes.ECB()).encryptor()
    out["kcv"] = (e.update(b"\0" * 16) + e.finalize()).hex()
try:
    key = serialization.load_der_private_key(pt, None)
    # byte-exact: re-encoding must not be shorter than what was wrapped (no trailing padding)
    out["pkcs8"] = True
    out["spki"] = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()
except Exception:
    out["pkcs8"] = False
if "gcm" in a:
    # AES-GCM under the recovered key (IBM Key Protect's encryptedNonce: ciphertext || 16-byte tag, base64; iv base64)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    ct = base64.b64decode(open(a["gcm"]["ciphertext"]).read().strip(), validate=True)
    iv = base64.b64decode(open(a["gcm"]["iv"]).read().strip(), validate=True)
    out["gcmPlaintextB64"] = base64.b64encode(AESGCM(pt).decrypt(iv, ct, None)).decode()
if doc is not None:
    out["byok"] = {k2: v for k2, v in doc.items() if k2 != "ciphertext"}
print(json.dumps(out))
