/**
 * Issue 17, "XKS keys that rotate" (protocol side): Encrypt records the key version it used in
 * ciop's ciphertextMetadata (scheme 2: C1 02 BE32(version); version 1 keeps scheme 1, C1 01),
 * the metadata is in the AAD so the version is authenticated, Decrypt picks the version from it,
 * and hostile metadata (too long, unknown scheme, version 0 or past the maximum, truncated) is
 * refused with 400 InvalidCiphertextException before any key is touched. A version that does not
 * exist → InvalidCiphertextException, a disabled one → InvalidStateException, a key manager that
 * cannot answer the version lookup → its 5xx, never "not found".
 *
 * Before this change: the metadata carried no key version (every Encrypt wrote C1 01), Decrypt
 * refused scheme 2 as unknown and always used the key named by the id, so each test below failed.
 * Key manager: an in-memory AES-GCM (the proxy's own tests run the same flow on SoftHSM).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CiopError } from "@ciop/core";
import {
  DependencyTimeoutException,
  MAX_KEY_VERSION,
  buildSpecAad,
  ciopCiphertextMetadata,
  classifyCiphertextMetadata,
  handleDecrypt,
  handleEncrypt,
  type DecryptRequest,
  type XksCrypto,
  type XksKeyDescription,
  type XksKeyPolicy,
  type XksRequestMetadata,
} from "../src/index.js";
import { md as metadata } from "./helpers.js";

const md = (op?: string): XksRequestMetadata => metadata(op) as unknown as XksRequestMetadata;

/** A rotating key family in memory: versions → key bytes and enabled flag. */
class VersionedCrypto implements XksCrypto {
  readonly versions = new Map<number, { key: Buffer; enabled: boolean }>();
  lookups: number[] = [];
  failLookup = false;
  used: number[] = [];
  add(v: number, key: Buffer = randomBytes(32)): Buffer {
    this.versions.set(v, { key, enabled: true });
    return key;
  }
  private desc(enabled: boolean, currentVersion?: number): XksKeyDescription {
    return { keySpec: "AES_256", enabled, canEncrypt: true, canDecrypt: true, ...(currentVersion ? { currentVersion } : {}) };
  }
  async describeKey(): Promise<XksKeyDescription | undefined> {
    const on = [...this.versions].filter(([, x]) => x.enabled).map(([v]) => v);
    return this.desc(on.length > 0, on.length ? Math.max(...on) : undefined);
  }
  async describeKeyVersion(_keyId: string, v: number): Promise<XksKeyDescription | undefined> {
    this.lookups.push(v);
    if (this.failLookup) throw new CiopError("ERR_TIMEOUT", "the HSM did not answer");
    const x = this.versions.get(v);
    return x && this.desc(x.enabled);
  }
  async encrypt(_k: string, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array, version?: number): Promise<Uint8Array> {
    const v = version ?? 1;
    this.used.push(v);
    const c = createCipheriv("aes-256-gcm", this.versions.get(v)!.key, iv);
    c.setAAD(aad);
    return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  }
  async decrypt(_k: string, iv: Uint8Array, ctTag: Uint8Array, aad: Uint8Array, version?: number): Promise<Uint8Array> {
    const v = version ?? 1;
    this.used.push(v);
    const d = createDecipheriv("aes-256-gcm", this.versions.get(v)!.key, iv);
    d.setAAD(aad);
    d.setAuthTag(ctTag.subarray(ctTag.length - 16));
    try {
      return Buffer.concat([d.update(ctTag.subarray(0, ctTag.length - 16)), d.final()]);
    } catch {
      throw new CiopError("ERR_DECRYPTION_FAILED", "decryption failed");
    }
  }
}

const policy: XksKeyPolicy = { keys: ["k"] };
const PT = Buffer.from("rotate me");
const AAD = Buffer.from("context");

async function encrypt(crypto: XksCrypto): Promise<DecryptRequest> {
  const r = await handleEncrypt(
    "k",
    { requestMetadata: md(), plaintext: PT, encryptionAlgorithm: "AES_GCM", additionalAuthenticatedData: AAD },
    crypto,
    policy,
  );
  return {
    requestMetadata: md("Decrypt"),
    encryptionAlgorithm: "AES_GCM",
    ciphertext: Buffer.from(r.ciphertext, "base64"),
    initializationVector: Buffer.from(r.initializationVector, "base64"),
    authenticationTag: Buffer.from(r.authenticationTag, "base64"),
    additionalAuthenticatedData: AAD,
    ciphertextMetadata: Buffer.from(r.ciphertextMetadata, "base64"),
  };
}

async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return `${(err as { errorName?: string }).errorName} ${(err as { httpStatus?: number }).httpStatus}`;
  }
  return "ok";
}

test("scheme 1 for version 1, scheme 2 with a big-endian version otherwise; the bytes are exactly those", () => {
  expect(Buffer.from(ciopCiphertextMetadata()).toString("hex")).toBe("c101");
  expect(Buffer.from(ciopCiphertextMetadata(1)).toString("hex")).toBe("c101");
  expect(Buffer.from(ciopCiphertextMetadata(3)).toString("hex")).toBe("c10200000003");
  expect(Buffer.from(ciopCiphertextMetadata(MAX_KEY_VERSION)).toString("hex")).toBe("c1020000ffff");
  expect(() => ciopCiphertextMetadata(0)).toThrow(RangeError);
  expect(() => ciopCiphertextMetadata(MAX_KEY_VERSION + 1)).toThrow(RangeError);
  expect(classifyCiphertextMetadata(Buffer.from("c101", "hex"))).toEqual({ kind: "ciop", version: 1, keyVersion: 1 });
  expect(classifyCiphertextMetadata(Buffer.from("c10200000003", "hex"))).toEqual({ kind: "ciop", version: 2, keyVersion: 3 });
});

test.each([
  ["too long (7 bytes)", "c1020000000300"],
  ["20 bytes after the marker", `c102${"00".repeat(18)}`],
  ["unknown scheme 3", "c10300000002"],
  ["unknown scheme 0xff", "c1ff"],
  ["scheme 1 with a version", "c10100000002"],
  ["version 0", "c10200000000"],
  ["version past the maximum (65536)", "c10200010000"],
  ["version 2^32-1 (overflow)", "c102ffffffff"],
  ["truncated version", "c102000002"],
  ["marker alone", "c1"],
])("hostile metadata %s is unknown, and Decrypt refuses it with 400 InvalidCiphertextException before any key lookup", async (_what, hex) => {
  const m = Buffer.from(hex, "hex");
  expect(classifyCiphertextMetadata(m)).toEqual({ kind: "unknown" });
  const crypto = new VersionedCrypto();
  crypto.add(1);
  const req = await encrypt(crypto);
  crypto.lookups = [];
  crypto.used = [];
  expect(await errorName(handleDecrypt("k", { ...req, ciphertextMetadata: m }, crypto, policy))).toBe("InvalidCiphertextException 400");
  expect(crypto.lookups).toEqual([]);
  expect(crypto.used).toEqual([]);
});

test("encrypt under v1, rotate, encrypt under v3: each ciphertext decrypts under the version its metadata names", async () => {
  const crypto = new VersionedCrypto();
  crypto.add(1);
  const c1 = await encrypt(crypto);
  expect(Buffer.from(c1.ciphertextMetadata!).toString("hex")).toBe("c101");
  crypto.add(2);
  crypto.add(3);
  const c3 = await encrypt(crypto);
  expect(Buffer.from(c3.ciphertextMetadata!).toString("hex")).toBe("c10200000003");
  crypto.used = [];
  expect((await handleDecrypt("k", c1, crypto, policy)).plaintext).toBe(PT.toString("base64"));
  expect((await handleDecrypt("k", c3, crypto, policy)).plaintext).toBe(PT.toString("base64"));
  expect(crypto.used).toEqual([1, 3]);
  // the version is checked against the AAD the key manager authenticates: the metadata is inside it
  const v3 = crypto.versions.get(3)!.key;
  const d = createDecipheriv("aes-256-gcm", v3, c3.initializationVector);
  d.setAAD(buildSpecAad(AAD, c3.ciphertextMetadata));
  d.setAuthTag(c3.authenticationTag);
  expect(Buffer.concat([d.update(c3.ciphertext), d.final()])).toEqual(PT);
});

test("the version is authenticated: the same key under another version number fails the tag check", async () => {
  const crypto = new VersionedCrypto();
  const shared = crypto.add(1);
  crypto.add(2, shared);
  crypto.add(3, shared);
  const c3 = await encrypt(crypto);
  const as2 = Buffer.from("c10200000002", "hex");
  expect(await errorName(handleDecrypt("k", { ...c3, ciphertextMetadata: as2 }, crypto, policy))).toBe("InvalidCiphertextException 400");
  expect(await errorName(handleDecrypt("k", { ...c3, ciphertextMetadata: Buffer.from("c101", "hex") }, crypto, policy))).toBe("InvalidCiphertextException 400");
});

test("a version that does not exist → InvalidCiphertextException; a disabled version → InvalidStateException; others still decrypt", async () => {
  const crypto = new VersionedCrypto();
  crypto.add(1);
  const c1 = await encrypt(crypto);
  crypto.add(2);
  const c2 = await encrypt(crypto);
  expect(await errorName(handleDecrypt("k", { ...c2, ciphertextMetadata: Buffer.from("c10200000009", "hex") }, crypto, policy))).toBe(
    "InvalidCiphertextException 400",
  );
  crypto.versions.get(1)!.enabled = false;
  expect(await errorName(handleDecrypt("k", c1, crypto, policy))).toBe("InvalidStateException 400");
  expect((await handleDecrypt("k", c2, crypto, policy)).plaintext).toBe(PT.toString("base64"));
  crypto.versions.delete(1);
  expect(await errorName(handleDecrypt("k", c1, crypto, policy))).toBe("InvalidCiphertextException 400");
});

test("a key manager that cannot answer the version lookup gives its 5xx, not a ciphertext or not-found answer", async () => {
  const crypto = new VersionedCrypto();
  crypto.add(1);
  crypto.add(2);
  const c2 = await encrypt(crypto);
  // a ciphertext of a version that is no longer current: only those need the version looked up
  // (the key's own description is its current version's)
  crypto.add(3);
  crypto.failLookup = true;
  const err = await handleDecrypt("k", c2, crypto, policy).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DependencyTimeoutException);
  expect(await errorName(handleDecrypt("k", c2, crypto, policy))).toBe("DependencyTimeoutException 503");
});

test("a key manager without versions: scheme 2 metadata is refused (only the original key exists)", async () => {
  const crypto = new VersionedCrypto();
  crypto.add(1);
  crypto.add(2);
  const c2 = await encrypt(crypto);
  const plain: XksCrypto = { describeKey: () => crypto.describeKey(), encrypt: crypto.encrypt.bind(crypto), decrypt: crypto.decrypt.bind(crypto) };
  expect(await errorName(handleDecrypt("k", c2, plain, policy))).toBe("InvalidCiphertextException 400");
});

// Review of issue 17 (seen in a loaded CI run of the two-instance test): an instance whose cached
// state still named version 2 as current answered Encrypt 400 InvalidStateException after another
// instance disabled version 2, although the key (version 1) was enabled. Encrypt now forgets the
// cached state once and encrypts under the version that is current now.
test("the cached current version was disabled meanwhile: Encrypt refreshes once and uses the version current now", async () => {
  /** describeKey answers from a "cache" that still says version 2 until refreshKey is called. */
  class StaleCache extends VersionedCrypto {
    stale = true;
    refreshes = 0;
    override async describeKey(): Promise<XksKeyDescription | undefined> {
      return this.stale ? { keySpec: "AES_256", enabled: true, canEncrypt: true, canDecrypt: true, currentVersion: 2 } : super.describeKey();
    }
    override async encrypt(k: string, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array, version?: number): Promise<Uint8Array> {
      if (!this.versions.get(version ?? 1)!.enabled) throw new CiopError("ERR_KEY_DISABLED", "the token refuses the disabled key");
      return super.encrypt(k, iv, pt, aad, version);
    }
    refreshKey(): void {
      this.refreshes++;
      this.stale = false;
    }
  }
  const c = new StaleCache();
  c.add(1);
  c.add(2);
  c.versions.get(2)!.enabled = false;
  const req = await encrypt(c);
  expect(Buffer.from(req.ciphertextMetadata!).toString("hex")).toBe("c101");
  expect(c.refreshes).toBe(1);
  expect(c.used).toEqual([1]); // the refused attempt on version 2 never reached a key
  expect(Buffer.from((await handleDecrypt("k", req, c, policy)).plaintext, "base64").toString()).toBe(PT.toString());
  // without refreshKey (a key manager that cannot forget), the token's refusal stands
  const plain = new StaleCache();
  plain.add(1);
  plain.add(2);
  plain.versions.get(2)!.enabled = false;
  (plain as { refreshKey?: unknown }).refreshKey = undefined;
  expect(await errorName(encrypt(plain))).toBe("InvalidStateException 400");
  // a disabled key stays refused: the refresh happens once, not in a loop
  const off = new StaleCache();
  off.add(1);
  off.add(2);
  off.versions.get(1)!.enabled = false;
  off.versions.get(2)!.enabled = false;
  expect(await errorName(encrypt(off))).toMatch(/^InvalidStateException 400$/);
  expect(off.refreshes).toBe(1);
});

// Final review: Decrypt looked the key up twice for every request (describeKey, then
// describeKeyVersion of the same version), even for a key never rotated. Now the version is looked
// up only for a ciphertext of a version that is not the current one.
test("only a ciphertext of a non-current version costs a version lookup", async () => {
  const crypto = new VersionedCrypto();
  crypto.add(1);
  const c1 = await encrypt(crypto);
  const lookups: number[] = [];
  const original = crypto.describeKeyVersion.bind(crypto);
  crypto.describeKeyVersion = async (keyId: string, v: number) => {
    lookups.push(v);
    return original(keyId, v);
  };
  expect((await handleDecrypt("k", c1, crypto, policy)).plaintext).toBe(PT.toString("base64"));
  expect(lookups).toEqual([]);
  crypto.add(2);
  const c2 = await encrypt(crypto);
  expect((await handleDecrypt("k", c2, crypto, policy)).plaintext).toBe(PT.toString("base64"));
  expect(lookups).toEqual([]);
  expect((await handleDecrypt("k", c1, crypto, policy)).plaintext).toBe(PT.toString("base64"));
  expect(lookups).toEqual([1]);
});
