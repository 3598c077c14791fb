/**
 * SoftHSM zero-pads PKCS#8 to a multiple of 8 before KWP, so key pairs used to leave the token for
 * RSA-AES. When an EC curve's PKCS#8 length already is a multiple of 8 the token's KWP is exact, and
 * the wrap must stay in the HSM (no host-fallback event); other curves still take the host path.
 * Either way, openssl (OAEP) and python (KWP, PKCS#8) must open the result to an exact PKCS#8 that
 * carries the public key the HSM reports. Which outcome is right is decided from the unwrapped
 * PKCS#8's own length, not from ciop's probe.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Hsm, HsmKey, HsmPublicKey, HostFallbackEvent, KeyType } from "../src/index.js";
import { hex, openTestHsm, python, uniqueName } from "./helpers.js";

const CURVES: KeyType[] = ["EC-NISTP256", "EC-NISTP384", "EC-NISTP521", "EC-SECP256K1"];
let hsm: Hsm;
let dir: string;
let pub: HsmPublicKey;
const keys = new Map<KeyType, HsmKey>();
const base = uniqueName("ecpkcs8");
const keyPem = () => path.join(dir, "provider.pem");

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "ecpkcs8-"));
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPem()]);
  hsm = await openTestHsm();
  pub = hsm.importPublicKey(execFileSync("openssl", ["pkey", "-in", keyPem(), "-pubout", "-outform", "DER"]));
  for (const t of CURVES) keys.set(t, await hsm.generateKey(`${base}-${t}`, t));
}, 60_000);
afterAll(async () => {
  if (pub) hsm.releasePublicKey(pub);
  await hsm?.close();
});

/** openssl: OAEP-SHA-1 decrypt of the ephemeral key; python: RFC 5649 unwrap and PKCS#8 parse. */
function open(blob: Uint8Array): { pkcs8: string; derLength: number; spki: string } {
  const f = path.join(dir, `eph-${randomBytes(4).toString("hex")}.bin`);
  writeFileSync(f, blob.subarray(0, 256));
  const eph = execFileSync("openssl", [
    "pkeyutl",
    "-decrypt",
    "-inkey",
    keyPem(),
    "-in",
    f,
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha1",
    "-pkeyopt",
    "rsa_mgf1_md:sha1",
  ]);
  return python(
    `import sys, json
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from cryptography.hazmat.primitives.serialization import load_der_private_key, Encoding, PublicFormat
a = json.load(sys.stdin)
der = aes_key_unwrap_with_padding(bytes.fromhex(a["eph"]), bytes.fromhex(a["w"]))
n = der[1]
length = 2 + n if n < 0x80 else 2 + (n & 0x7f) + int.from_bytes(der[2:2 + (n & 0x7f)], "big")
k = load_der_private_key(der[:length], password=None)
print(json.dumps({"pkcs8": der.hex(), "derLength": length, "spki": k.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex()}))`,
    { eph: hex(eph), w: hex(blob.subarray(256)) },
  );
}

test("RSA-AES of EC keys: in the HSM exactly when the PKCS#8 length is a multiple of 8; always exact PKCS#8 with the HSM's public key", () => {
  const caps = hsm.capabilities();
  expect(caps.aesKeyWrapPadMechanism).not.toBeNull();
  const events: HostFallbackEvent[] = [];
  hsm.on("host-fallback", (e) => events.push(e));
  const inToken: string[] = [];
  for (const t of CURVES) {
    const key = keys.get(t)!;
    const before = events.length;
    const out = hsm.wrapRsaAes(pub, key, "sha1");
    const o = open(out.bytes);
    const bytes = o.pkcs8.length / 2;
    // exact: nothing after the DER element, and it is the HSM's key
    expect({ t, bytes, spki: o.spki }).toEqual({ t, bytes: o.derLength, spki: hex(hsm.publicKeyOf(key)) });
    const exactInToken = !caps.kwpPadsPrivateKeys || bytes % 8 === 0;
    expect({ t, bytes, hostFallback: out.hostFallback, events: events.length - before }).toEqual({
      t,
      bytes,
      hostFallback: !exactInToken,
      events: exactInToken ? 0 : 1,
    });
    if (!out.hostFallback) {
      expect(out.mechanisms).toEqual(["CKM_AES_KEY_GEN(session)", expect.stringMatching(/^CKM_AES_KEY_WRAP_(PAD|KWP)$/), "CKM_RSA_PKCS_OAEP(SHA-1)"]);
      inToken.push(t);
    }
  }
  // SoftHSM 2.6.1 (the test token): P-384 and secp256k1 come out at a multiple of 8 bytes
  if (caps.kwpPadsPrivateKeys) expect(inToken).toEqual(expect.arrayContaining(["EC-NISTP384", "EC-SECP256K1"]));
});

test("a key whose PKCS#8 would be padded is still refused on a hardware token; an exact one is not", async () => {
  const hw = await openTestHsm({ assumeHardwareToken: true });
  const hwPub = hw.importPublicKey(pub.spki);
  try {
    const p384 = hw.findKey(`${base}-EC-NISTP384`)!;
    const p256 = hw.findKey(`${base}-EC-NISTP256`)!;
    expect(hw.wrapRsaAes(hwPub, p384, "sha1").hostFallback).toBe(false);
    expect(() => hw.wrapRsaAes(hwPub, p256, "sha1")).toThrow(expect.objectContaining({ code: "ERR_HOST_FALLBACK_REFUSED" }));
    expect(hw.hostFallbackCount).toBe(0);
  } finally {
    hw.releasePublicKey(hwPub);
    await hw.close();
  }
});
