/**
 * Issue 16, "Three tokens in CI" (NSS softokn): RSA-OAEP with SHA-256, a host fallback on SoftHSM
 * 2.6 (CKR_ARGUMENTS_BAD), runs inside NSS's token, for the plain OAEP wrap and for the RSA-AES
 * composition (OAEP-SHA-256 of an ephemeral key + RFC 5649, which NSS numbers 0x210B). The wrapping
 * key pair is made by the test, which alone holds the private key; python3-cryptography opens the
 * blobs and the value must decrypt what the token encrypted under the key.
 * Before the library parameters existed none of this could run (NSS did not open).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { CKM_AES_KEY_WRAP_KWP, type Hsm, type HsmKey, type HsmPublicKey } from "../src/index.js";
import { nssToken, openNssHsm, python, uniqueName } from "./helpers.js";

const nss = nssToken();
const d = nss ? describe : describe.skip;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const PY_OPEN = `import sys, json
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
a = json.load(sys.stdin)
priv = serialization.load_pem_private_key(a["pem"].encode(), password=None)
oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
blob = bytes.fromhex(a["blob"])
n = priv.key_size // 8
if a["composed"]:
    k = aes_key_unwrap_with_padding(priv.decrypt(blob[:n], oaep), blob[n:])
else:
    k = priv.decrypt(blob, oaep)
pt = AESGCM(k).decrypt(bytes.fromhex(a["iv"]), bytes.fromhex(a["ct"]), bytes.fromhex(a["aad"]))
print(json.dumps({"len": len(k), "pt": pt.hex()}))`;

d("NSS softokn: RSA-OAEP SHA-256 wraps in the token, opened by python3-cryptography", () => {
  let hsm: Hsm;
  let pub: HsmPublicKey;
  let key: HsmKey;
  let pem: string;
  beforeAll(async () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    pem = pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    hsm = await openNssHsm();
    pub = hsm.importPublicKey(pair.publicKey.export({ format: "der", type: "spki" }));
    key = await hsm.generateKey(uniqueName("nss-wrap"), "AES-256");
  });
  afterAll(() => hsm?.close());

  /** python opens `blob` with the test's private key; the value must open what the token encrypts under `key`. */
  function openedByPython(blob: Uint8Array, composed: boolean): number {
    const iv = randomBytes(12);
    const pt = randomBytes(32);
    const aad = randomBytes(8);
    const ct = hsm.encryptAesGcm(key, iv, pt, aad);
    const r = python<{ len: number; pt: string }>(PY_OPEN, { pem, blob: hex(blob), composed, iv: hex(iv), ct: hex(ct), aad: hex(aad) });
    expect(r.pt).toBe(hex(pt));
    return r.len;
  }

  test("the probe finds OAEP with SHA-256 (SoftHSM 2.6 has SHA-1 only)", () => {
    expect(hsm.capabilities().rsaOaepHashes).toEqual(expect.arrayContaining(["sha1", "sha256"]));
  });

  test("a plain RSA-OAEP SHA-256 wrap of an AES-256 key is one C_WrapKey in the token, no host fallback", () => {
    const out = hsm.wrapRsaOaep(pub, key, "sha256");
    expect(out.hostFallback).toBe(false);
    expect(out.mechanisms).toEqual(["CKM_RSA_PKCS_OAEP(SHA-256)"]);
    expect(out.bytes).toHaveLength(256);
    expect(openedByPython(out.bytes, false)).toBe(32);
  });

  test("RSA-AES with SHA-256 is composed in the token with RFC 5649 under 0x210B, no host fallback", () => {
    expect(hsm.capabilities().aesKeyWrapPadMechanism).toBe(CKM_AES_KEY_WRAP_KWP);
    const out = hsm.wrapRsaAes(pub, key, "sha256");
    expect(out.hostFallback).toBe(false);
    expect(out.mechanisms).toEqual(["CKM_AES_KEY_GEN(session)", "CKM_AES_KEY_WRAP_KWP", "CKM_RSA_PKCS_OAEP(SHA-256)"]);
    expect(out.bytes).toHaveLength(256 + 40);
    expect(openedByPython(out.bytes, true)).toBe(32);
    expect(hsm.hostFallbackCount).toBe(0);
  });
});
