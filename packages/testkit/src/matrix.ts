/**
 * The provider matrix runner shared by the provider packages' tests. For every combination
 * (algorithm x target key type x wrapping-key size x provider extra) it runs @ciop/wrap's
 * runExport on one engine fixture and checks it against the test's own statement of the
 * provider's rules (`expect`), written independently of the provider code:
 *
 * - refused combinations: the error code, and that no key was created in the key store;
 * - accepted combinations: the artefacts are exactly the files the provider declared
 *   (`outputFiles`) before the key existed; on the HSM engines, that every step the token (SoftHSM
 *   2.6.1, or NSS softokn) can do inside it was done there (hostFallback false) and that the engine's flag agrees with @ciop/hsm's own
 *   record of host-side steps; on a token that lacks a key type's curve or mechanism
 *   (`fixture.lacks`), that the token refuses it and leaves no key, and the combination is skipped; then every artefact is decoded and unwrapped by the testkit's unwrap.py
 *   (python3 cryptography) with the test's private key, and the recovered key must equal the
 *   engine's key: SHA-256 (C_DigestKey in the HSM) and a known-answer encryption/HMAC made inside
 *   the engine for secret keys, the public key for key pairs, PKCS#8 byte-exact.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { CiopError } from "@ciop/core";
import type { Capabilities } from "@ciop/hsm";
import {
  KEY_TYPES,
  keyKind,
  runExport,
  secretKeyLength,
  type ExportRequestInput,
  type KeyType,
  type ProviderModule,
  type RunExportResult,
  type WrapEngine,
} from "@ciop/wrap";
import { KAT, katKind, type EngineFixture } from "./engines.js";
import { hex, opensslEcSpki, opensslRsa, pythonCertificate, pythonUnwrap, writeArtefact, type UnwrapCase, type UnwrapResult } from "./harness.js";

export type Scheme = UnwrapCase["scheme"];
export type Hash = UnwrapCase["hash"];

export interface Combo {
  algorithm?: string;
  keyType: KeyType;
  bits: number;
  /** Extra request members (e.g. Azure's `providerOptions: { kek }`) and a tag that makes the id unique. */
  extra?: Partial<ExportRequestInput>;
  tag?: string;
}

export type Expectation = { refuse: string } | { scheme: Scheme; hash: Hash };

export interface MatrixSpec {
  provider: string;
  module: ProviderModule;
  combos: Combo[];
  /** The wrapping key input for a combination (parsed key, PEM, DER or certificate). */
  wrappingKey(combo: Combo): ExportRequestInput["wrappingKey"];
  /** The PEM private key that undoes the wrap. */
  privPath(combo: Combo): string;
  /** The test's statement of the provider's rule for this combination. */
  expect(combo: Combo): Expectation;
  /** The artefact the provider's importer unwraps, and how it is encoded. */
  artefact(result: RunExportResult, combo: Combo): { bytes: Uint8Array; encoding: UnwrapCase["encoding"]; kid?: string };
  /** Provider-specific checks of the whole result (file names, encodings, usage text). */
  check?(result: RunExportResult, combo: Combo): void;
  /** Checks after the unwrap (e.g. a hash file against the recovered key). */
  after?(result: RunExportResult, combo: Combo, unwrapped: UnwrapResult): void;
  /**
   * A refusal that the token's own output caused for an otherwise accepted combination (e.g. a
   * wrapped PKCS#8 shorter than the cloud's API takes): the reason to report it as not possible on
   * this token, or undefined when the refusal is a failure. The refusal must still leave no new key.
   */
  refusedByTokenOutput?(combo: Combo, code: string, message: string): string | undefined;
}

/** Every combination of the given algorithms, all ciop key types and the given sizes. */
export function combos(
  algorithms: readonly (string | undefined)[],
  bits: readonly number[],
  extra?: { extra: Partial<ExportRequestInput>; tag: string }[],
): Combo[] {
  const out: Combo[] = [];
  for (const algorithm of algorithms) {
    for (const keyType of KEY_TYPES) {
      for (const b of bits) {
        if (extra === undefined) out.push({ algorithm, keyType, bits: b });
        else for (const e of extra) out.push({ algorithm, keyType, bits: b, extra: e.extra, tag: e.tag });
      }
    }
  }
  return out;
}

export function comboId(c: Combo): string {
  return [c.algorithm ?? "-", c.keyType, String(c.bits), ...(c.tag ? [c.tag] : [])].join(".");
}

/**
 * What SoftHSM 2.6.1 can do inside the token (measured, see the repo's softhsm-pkcs11 reference):
 * CKM_RSA_PKCS_OAEP with SHA-1 only and only for secret keys; CKM_RSA_PKCS for secret keys;
 * RFC 5649 (0x210A) exact for secret keys whose length is a multiple of 8, but PKCS#8 is zero-padded
 * first, so private keys leave the token unless the PKCS#8 happens to be a multiple of 8 (P-384,
 * secp256k1: either result is accepted); no AES-ECB with PKCS#7 padding.
 */
export function inTokenOnSoftHsm(scheme: Scheme, hash: Hash, type: KeyType): boolean | undefined {
  const secret = keyKind(type) === "secret";
  switch (scheme) {
    case "oaep":
      return secret && hash === "sha1";
    case "pkcs1":
      return secret;
    case "rsa-aes":
      if (hash !== "sha1") return false;
      if (secret) return secretKeyLength(type)! % 8 === 0;
      return type === "EC-NISTP384" || type === "EC-SECP256K1" ? undefined : false;
    case "rsa-aes-ecb":
      return false;
  }
}

/**
 * What NSS softokn can do inside the token (measured on Debian 12's libnss3, issue 16): RSA-OAEP
 * with SHA-1..SHA-512 and PKCS#1 v1.5 C_WrapKey of secret keys; RSA-AES key wrap of every key type
 * and hash (OAEP of an ephemeral AES key + RFC 5649 under 0x210B, which pads nothing itself), so the
 * OAEP-SHA-256 and RSA-AES paths that leave SoftHSM stay inside NSS. Private keys still leave the
 * token for a direct RSA encryption (PKCS#11 RSA-wraps secret keys only) and for Alibaba's
 * AES-ECB/PKCS#7 layout (no C_WrapKey mechanism makes it).
 */
export function inTokenOnNss(scheme: Scheme, _hash: Hash, type: KeyType): boolean {
  const secret = keyKind(type) === "secret";
  switch (scheme) {
    case "oaep":
    case "pkcs1":
      return secret;
    case "rsa-aes":
      return true;
    case "rsa-aes-ecb":
      return false;
  }
}

const CKM_AES_KEY_WRAP = 0x2109;

/**
 * Why a combination cannot run on the fixture's token, from the probe alone: it needs a host step
 * (see {@link inTokenByProbe}) but the token has no AES key wrap (CKM_AES_KEY_WRAP, _PAD or _KWP)
 * to hand the key to the host with (@ciop/hsm exports keys that way). SoftHSM2 through p11-kit
 * 0.24's RPC is such a token. The matrix checks the token really refuses, then skips.
 */
function cannotHandToHost(fixture: EngineFixture, want: Expectation, type: KeyType): { reason: string; ckr: string; code: string } | undefined {
  if (fixture.capabilities === undefined || "refuse" in want) return undefined;
  const caps = fixture.capabilities();
  if (inTokenByProbe(caps, want.scheme, want.hash, type) !== false) return undefined;
  const why = noHostHandOff(caps);
  return why === undefined ? undefined : { reason: `needs a host step, and ${why}`, ckr: "CKR_MECHANISM_INVALID", code: "ERR_MECHANISM_UNSUPPORTED" };
}

/**
 * Why no host-side step can run on a token with these capabilities (it has no AES key wrap, the
 * way @ciop/hsm hands a key to the host), or undefined when host steps can run.
 */
export function noHostHandOff(caps: Capabilities): string | undefined {
  if (caps.aesKeyWrapPadMechanism !== null || caps.mechanisms.includes(CKM_AES_KEY_WRAP)) return undefined;
  return "the token has no AES key wrap to hand the key to the host (the probe found none)";
}

/**
 * Why the fixture's token cannot wrap a `type` key with `scheme`/`hash` at all (it needs a host step
 * and the token cannot hand the key to the host; decided by the probe), or undefined when it can.
 * For a single-export test: assert the refusal with {@link expectRefused} and ERR_MECHANISM_UNSUPPORTED.
 */
export function notPossibleOn(fixture: EngineFixture, scheme: Scheme, hash: Hash, type: KeyType): string | undefined {
  const why = cannotHandToHost(fixture, { scheme, hash }, type);
  if (why === undefined) return undefined;
  const reason = `${scheme} ${hash} of ${type} on the ${fixture.label} token: ${why.reason}`;
  console.log(`not possible, refusal checked instead: ${reason}`);
  return reason;
}

/**
 * What a token can do inside it, from @ciop/hsm's capability probe alone (used for tokens the
 * matrices have no measured table for, e.g. SoftHSM2 through p11-kit's RPC): RSA-OAEP and PKCS#1 v1.5
 * wrap secret keys only, with the hashes the probe saw work; RSA-AES stays in the token when the token
 * does CKM_RSA_AES_KEY_WRAP itself, or does OAEP with that hash and an exact RFC 5649 key wrap
 * (undefined for private keys when the token zero-pads PKCS#8: then it depends on the key's length);
 * no token makes Alibaba's AES-ECB/PKCS#7 layout.
 */
export function inTokenByProbe(caps: Capabilities, scheme: Scheme, hash: Hash, type: KeyType): boolean | undefined {
  const secret = keyKind(type) === "secret";
  switch (scheme) {
    case "oaep":
      return secret && caps.rsaOaepHashes.includes(hash);
    case "pkcs1":
      return secret && caps.rsaPkcs1;
    case "rsa-aes":
      if (caps.rsaAesKeyWrapHashes.includes(hash)) return true;
      if (caps.aesKeyWrapPadMechanism === null || !caps.rsaOaepHashes.includes(hash)) return false;
      if (secret) return caps.kwpPadsSecretKeys ? secretKeyLength(type)! % 8 === 0 : true;
      return caps.kwpPadsPrivateKeys ? undefined : true;
    case "rsa-aes-ecb":
      return false;
  }
}

export interface MatrixOutcome {
  accepted: string[];
  refused: Map<string, string>;
  inToken: string[];
  host: string[];
  /** Accepted by the provider but not runnable on this token (a curve or mechanism it lacks): id -> reason. */
  skipped: Map<string, string>;
}

/** Runs the whole matrix on one engine fixture. Call inside a test. */
export async function runMatrix(fixture: EngineFixture, engine: WrapEngine, spec: MatrixSpec, dir: string): Promise<MatrixOutcome> {
  const started = performance.now();
  const outcome: MatrixOutcome = { accepted: [], refused: new Map(), inToken: [], host: [], skipped: new Map() };
  const keysBefore = fixture.keyCount();
  const createdTypes = new Set<KeyType>();
  const cases: UnwrapCase[] = [];
  const expected = new Map<string, { sha256?: string; kat?: string; spki?: string }>();
  const results = new Map<string, { result: RunExportResult; combo: Combo }>();
  let refusedIndex = 0;
  let noKnownAnswer = 0;

  for (const combo of spec.combos) {
    const id = comboId(combo);
    const want = spec.expect(combo);
    const refuse = "refuse" in want;
    const keyName = refuse ? `${fixture.prefix}-refused-${refusedIndex++}` : `${fixture.prefix}-${combo.keyType}`;
    const request: ExportRequestInput = {
      provider: spec.provider,
      keyName,
      wrappingKey: spec.wrappingKey(combo),
      keyType: combo.keyType,
      allowLegacy: true,
      ...(combo.algorithm !== undefined ? { algorithm: combo.algorithm } : {}),
      ...combo.extra,
    };
    const eventsBefore = fixture.fallbackEvents();
    const existedBefore = fixture.keyExists(keyName);
    let result: RunExportResult | undefined;
    let code: string | undefined;
    let message = "";
    try {
      result = await runExport(spec.module, request, fixture.source());
    } catch (err) {
      if (!CiopError.isInstance(err)) throw err;
      code = (err as CiopError).code;
      message = (err as Error).message;
    }
    const lack = refuse ? undefined : (fixture.lacks?.(combo.keyType) ?? cannotHandToHost(fixture, want, combo.keyType));
    if (lack !== undefined) {
      // The token must really refuse (so the skip goes away, and this fails, once it can), and
      // refuse without leaving a new key behind (an earlier combination may have made this key).
      expect({ id, code, ckr: message.includes(lack.ckr), keyCreated: fixture.keyExists(keyName) && !existedBefore }).toEqual({
        id,
        code: lack.code ?? "ERR_HSM",
        ckr: true,
        keyCreated: false,
      });
      outcome.skipped.set(id, lack.reason);
      continue;
    }
    if (refuse) {
      expect({ id, code, keyCreated: fixture.keyExists(keyName) }).toEqual({ id, code: want.refuse, keyCreated: false });
      outcome.refused.set(id, code!);
      continue;
    }
    const byToken = code !== undefined ? spec.refusedByTokenOutput?.(combo, code, message) : undefined;
    if (byToken !== undefined) {
      expect({ id, keyCreated: fixture.keyExists(keyName) && !existedBefore }).toEqual({ id, keyCreated: false });
      outcome.skipped.set(id, byToken);
      continue;
    }
    expect({ id, code }).toEqual({ id, code: undefined });
    result = result!;
    if (result.created) createdTypes.add(combo.keyType);
    const recorded = fixture.fallbackEvents() > eventsBefore;
    expect({ id, hostFallback: result.hostFallback }).toEqual({ id, hostFallback: recorded });
    if (fixture.label === "software") {
      expect({ id, hostFallback: result.hostFallback }).toEqual({ id, hostFallback: false });
    } else {
      const inToken =
        fixture.label === "hsm"
          ? inTokenOnSoftHsm(want.scheme, want.hash, combo.keyType)
          : fixture.label === "nss"
            ? inTokenOnNss(want.scheme, want.hash, combo.keyType)
            : inTokenByProbe(fixture.capabilities!(), want.scheme, want.hash, combo.keyType);
      if (inToken !== undefined) {
        expect({ id, steps: result.steps.join(" + "), inToken: !result.hostFallback }).toEqual({ id, steps: result.steps.join(" + "), inToken });
      }
      (result.hostFallback ? outcome.host : outcome.inToken).push(id);
    }
    // The files the provider declared before the key existed (what an app checks for clashes) are
    // exactly the files it returned.
    expect({ id, files: result.artefacts.map((x) => x.fileName) }).toEqual({ id, files: [...spec.module.outputFiles(result.plan)] });
    spec.check?.(result, combo);
    const a = spec.artefact(result, combo);
    const kind = keyKind(combo.keyType);
    const unwrap: UnwrapCase = {
      id,
      file: writeArtefact(dir, `${fixture.label}.${spec.provider}.${id}`, a.bytes),
      encoding: a.encoding,
      scheme: want.scheme,
      hash: want.hash,
      priv: spec.privPath(combo),
      kind,
      ...(a.kid !== undefined ? { kid: a.kid } : {}),
    };
    if (kind === "secret") {
      const kat = await fixture.knownAnswer(result.target);
      if (kat === undefined) noKnownAnswer++;
      else unwrap.kat = { kind: katKind(combo.keyType), ...KAT };
      expected.set(id, { sha256: hex(await engine.digest(result.target, "sha256")), ...(kat !== undefined ? { kat } : {}) });
    } else {
      expected.set(id, { spki: hex(await engine.publicKey(result.target)) });
    }
    cases.push(unwrap);
    results.set(id, { result, combo });
    outcome.accepted.push(id);
  }

  // Refusals created nothing: the only new keys are one per accepted key type.
  expect(fixture.keyCount()).toBe(keysBefore + createdTypes.size);

  const unwrapped = pythonUnwrap(cases);
  for (const c of cases) {
    const r = unwrapped.get(c.id)!;
    expect({ id: c.id, ok: r.ok, error: r.error }).toEqual({ id: c.id, ok: true, error: undefined });
    const want = expected.get(c.id)!;
    if (c.kind === "secret") {
      expect({ id: c.id, len: r.len, sha256: r.sha256, kat: r.kat }).toEqual({
        id: c.id,
        len: secretKeyLength(results.get(c.id)!.combo.keyType),
        sha256: want.sha256,
        kat: want.kat,
      });
    } else {
      expect({ id: c.id, spki: r.spki }).toEqual({ id: c.id, spki: want.spki });
    }
    const { result, combo } = results.get(c.id)!;
    spec.after?.(result, combo, r);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const reasons = [...new Set(outcome.skipped.values())];
  console.log(
    `${spec.provider} matrix on the ${fixture.label} engine: ${spec.combos.length} combinations, ${outcome.refused.size} refused, ` +
      `${outcome.accepted.length} run (${outcome.inToken.length} fully in the token, ${outcome.host.length} with a host step), ` +
      `${outcome.skipped.size} skipped${reasons.length > 0 ? ` (${reasons.join("; ")})` : ""}, ${seconds} s` +
      (noKnownAnswer > 0 ? `; ${noKnownAnswer} secret keys checked by C_DigestKey only (the token has no AES-GCM for a known answer)` : ""),
  );
  return outcome;
}

/**
 * Runs one request that must be refused: asserts the error code and that no key named
 * `request.keyName` exists afterwards (nor any new key with the fixture's prefix); with `saying`,
 * also that the error's message says why (matches it).
 */
export async function expectRefused(
  fixture: EngineFixture,
  module: ProviderModule,
  request: ExportRequestInput,
  code: string,
  label: string,
  saying?: RegExp,
): Promise<void> {
  const before = fixture.keyCount();
  let got: string | undefined;
  let message = "";
  try {
    await runExport(module, request, fixture.source());
  } catch (err) {
    if (!CiopError.isInstance(err)) throw err;
    got = (err as CiopError).code;
    message = (err as Error).message;
  }
  expect({ label, code: got, keyCreated: fixture.keyExists(request.keyName), newKeys: fixture.keyCount() - before }).toEqual({
    label,
    code,
    keyCreated: false,
    newKeys: 0,
  });
  expect(message.length).toBeGreaterThan(20);
  if (saying !== undefined) expect({ label, message }).toEqual({ label, message: expect.stringMatching(saying) });
}

/** Security strength of RSA wrapping keys and key-pair targets (SP 800-57; RSA-4096 = 152). */
export const STRENGTH: Readonly<Record<string, number>> = {
  "RSA-1024": 80,
  "RSA-2048": 112,
  "RSA-3072": 128,
  "RSA-4096": 152,
  "EC-NISTP256": 128,
  "EC-SECP256K1": 128,
  "EC-NISTP384": 192,
  "EC-NISTP521": 256,
};

/** True when an RSA-`bits` wrapping key is too weak for a key-pair target under a provider whose largest wrapping key is `maxBits`. */
export function tooWeak(type: KeyType, bits: number, maxBits: number): boolean {
  if (keyKind(type) === "secret") return false;
  const required = Math.min(STRENGTH[type]!, STRENGTH[`RSA-${maxBits}`]!);
  return STRENGTH[`RSA-${bits}`]! < required;
}

/** PKCS#8 sizes as other tools encode them (with the embedded public key), the figure providers size-check against. */
export const PKCS8_BYTES: Readonly<Partial<Record<KeyType, number>>> = {
  "EC-NISTP256": 138,
  "EC-SECP256K1": 135,
  "EC-NISTP384": 185,
  "EC-NISTP521": 241,
};

/** Bytes a direct RSA encryption carries for a target type (undefined: RSA private keys never fit). */
export function directPlaintextBytes(type: KeyType): number | undefined {
  return keyKind(type) === "secret" ? secretKeyLength(type) : PKCS8_BYTES[type];
}

export function oaepCapacity(bits: number, hash: Hash): number {
  const hLen = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[hash];
  return bits / 8 - 2 * hLen - 2;
}

/** Bad wrapping-key inputs every provider must refuse before creating a key. */
export interface BadWrappingKey {
  label: string;
  wrappingKey: ExportRequestInput["wrappingKey"];
  code: string;
}

/**
 * Wrapping-key inputs that every provider refuses: an EC public key (wrong type), garbage bytes,
 * a truncated DER key, the private key instead of the public one, an expired and a not-yet-valid
 * certificate for an otherwise acceptable RSA-`bits` key. `validCertificate` is the same key in a
 * current certificate (for the override checks).
 */
export function badWrappingKeys(dir: string, bits: number): { bad: BadWrappingKey[]; privPath: string; expiredCertificate: string; validCertificate: string } {
  const pair = opensslRsa(dir, bits);
  const expiredCertificate = pythonCertificate(pair.privPath, "expired");
  const bad: BadWrappingKey[] = [
    { label: "EC P-256 public key", wrappingKey: opensslEcSpki(dir), code: "ERR_WRAPPING_KEY_INVALID" },
    { label: "garbage bytes", wrappingKey: Uint8Array.from(randomBytes(300)), code: "ERR_WRAPPING_KEY_INVALID" },
    { label: "garbage text", wrappingKey: "this is not a key\n", code: "ERR_WRAPPING_KEY_INVALID" },
    { label: "empty file", wrappingKey: new Uint8Array(0), code: "ERR_WRAPPING_KEY_INVALID" },
    { label: "truncated DER", wrappingKey: pair.spki.subarray(0, pair.spki.length - 7), code: "ERR_WRAPPING_KEY_INVALID" },
    { label: "private key PEM", wrappingKey: readFileSync(pair.privPath, "utf8"), code: "ERR_WRAPPING_KEY_INVALID" },
    { label: "expired certificate", wrappingKey: expiredCertificate, code: "ERR_CERTIFICATE_NOT_VALID" },
    { label: "not-yet-valid certificate", wrappingKey: pythonCertificate(pair.privPath, "future"), code: "ERR_CERTIFICATE_NOT_VALID" },
  ];
  return { bad, privPath: pair.privPath, expiredCertificate, validCertificate: pythonCertificate(pair.privPath, "valid") };
}
