/**
 * Issue 14: curve and modulus are now read from the SPKI DER (public-key-facts.ts) instead of
 * KeyObject.asymmetricKeyDetails. This proves the DER reading gives what node:crypto gave, for every
 * curve node can generate, RSA sizes that are not multiples of 8, other exponents, RSA-PSS and DSA,
 * so behaviour (checks and messages) is unchanged.
 *
 * The expected values come from asymmetricKeyDetails of keys *imported from DER* (createPublicKey
 * on the exported SPKI): such a key has its own native data and mutex, shared with no KeyGenJob, so
 * reading its details cannot run into the deadlock this change removes from the product code.
 */
import { createPublicKey, generateKeyPairSync, getCurves, type KeyObject } from "node:crypto";
import { spkiFacts } from "../src/public-key-facts.js";

function spkiOf(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" });
}

function nodeDetails(spki: Buffer) {
  return createPublicKey({ key: spki, format: "der", type: "spki" }).asymmetricKeyDetails ?? {};
}

it("every EC curve node can generate: namedCurve is OpenSSL's name, as node reports it", () => {
  let checked = 0;
  for (const curve of getCurves()) {
    let spki: Buffer;
    try {
      spki = spkiOf(generateKeyPairSync("ec", { namedCurve: curve }).publicKey);
    } catch {
      continue; // a name node lists but cannot make an EC key on (Oakley-EC2N-*, SM2 in some builds)
    }
    const expected = nodeDetails(spki).namedCurve;
    if (expected === undefined) continue; // not an "ec" key in node (SM2)
    expect({ curve, namedCurve: spkiFacts(spki).namedCurve }).toEqual({ curve, namedCurve: expected });
    checked++;
  }
  expect(checked).toBeGreaterThanOrEqual(70);
});

it.each([
  ["RSA-1024 e=65537", { modulusLength: 1024 }],
  ["RSA-1025 e=3", { modulusLength: 1025, publicExponent: 3 }],
  ["RSA-2047", { modulusLength: 2047 }],
  ["RSA-2048", { modulusLength: 2048 }],
  ["RSA-3072 e=65539", { modulusLength: 3072, publicExponent: 65539 }],
])("%s: modulusLength and publicExponent as node reports them", (_label, opts) => {
  const spki = spkiOf(generateKeyPairSync("rsa", opts).publicKey);
  const d = nodeDetails(spki);
  const f = spkiFacts(spki);
  expect({ modulusLength: f.modulusLength, publicExponent: f.publicExponent }).toEqual({ modulusLength: d.modulusLength, publicExponent: d.publicExponent });
});

it("RSA-PSS and DSA keys: modulusLength (and DSA divisorLength) as node reports them", () => {
  const pss = spkiOf(generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).publicKey);
  expect(spkiFacts(pss).modulusLength).toBe(nodeDetails(pss).modulusLength);
  const dsa = spkiOf(generateKeyPairSync("dsa", { modulusLength: 1024, divisorLength: 160 }).publicKey);
  const d = nodeDetails(dsa);
  expect({ m: spkiFacts(dsa).modulusLength, q: spkiFacts(dsa).divisorLength }).toEqual({ m: d.modulusLength, q: d.divisorLength });
});

it("Ed25519 / X25519 keys carry neither size nor curve", () => {
  for (const type of ["ed25519", "x25519"] as const) {
    const f = spkiFacts(spkiOf(generateKeyPairSync(type as "ed25519").publicKey));
    expect({ m: f.modulusLength, c: f.namedCurve }).toEqual({ m: undefined, c: undefined });
  }
});
