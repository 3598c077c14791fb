/**
 * The engines a matrix test runs on. Software: node:crypto keys made from bytes the fixture knows.
 * HSM: the real SoftHSM token from jest's globalSetup (CIOP_TEST_LIB / CIOP_TEST_TOKEN_LABEL /
 * CIOP_TEST_PIN), keys generated in the token through @ciop/wrap's runExport.
 * NSS (issue 16, "Three tokens in CI"): the same HSM engine on the NSS softokn token from jest's
 * globalSetup, opened with C_Initialize library parameters (CIOP_TEST_NSS_LIB / _PARAMS / _TOKEN /
 * _PIN); left out, with the reason printed, when globalSetup set CIOP_TEST_NSS_SKIP.
 * Which engines run is decided by the token under test (CIOP_TEST_TOKEN_KIND, tools/jest/global-setup):
 * the default SoftHSM2 run has software and SoftHSM ("hsm"); a token run (nss, p11-kit-rpc, started
 * by tools/jest/run-bounded.cjs after the package's normal run) has only that token.
 *
 * Each fixture can also compute a known answer with a secret key (AES-256-GCM of a fixed block,
 * or HMAC-SHA-1 of a fixed message) inside its engine, which the independent unwrapper recomputes
 * from the recovered key bytes.
 */
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import { Hsm, type Capabilities } from "@ciop/hsm";
import {
  generateSoftwareKey,
  hsmKeySource,
  keyKind,
  secretKeyLength,
  softwareKey,
  createSoftwareEngine,
  type KeySource,
  type KeyType,
  type TargetKey,
  type WrapEngine,
} from "@ciop/wrap";

/** Fixed inputs of the known-answer computation (also passed to unwrap.py). */
export const KAT = {
  iv: "000102030405060708090a0b",
  plaintext: "63696f70206b6e6f776e2d616e7377", // "ciop known-answ"
  message: "63696f70206b6e6f776e20616e73776572", // "ciop known answer"
} as const;

/** Which known answer a secret key type gets. */
export function katKind(type: KeyType): "aes-gcm" | "hmac-sha1" {
  return type.startsWith("AES-") ? "aes-gcm" : "hmac-sha1";
}

export interface EngineFixture {
  label: "software" | "hsm" | "nss" | "p11-kit-rpc";
  /** Prefix for key names, unique per test file and engine. */
  prefix: string;
  open(): Promise<WrapEngine>;
  /** Key source for runExport (getOrCreate by name). */
  source(): KeySource;
  /** Whether a key named `name` exists in the fixture's key store. */
  keyExists(name: string): boolean;
  /** Number of keys in the fixture's key store whose name starts with `prefix`. */
  keyCount(): number;
  /** Host-fallback events recorded so far (always 0 for software). */
  fallbackEvents(): number;
  /**
   * Why the fixture's token cannot make keys of `type` (a mechanism or curve it lacks), with the
   * CKR it answers; undefined when it can. The matrix checks the token really refuses, then skips.
   */
  lacks?(type: KeyType): { reason: string; ckr: string; code?: string } | undefined;
  /** Known answer (hex) computed with a secret key inside the engine; undefined when the token cannot compute it (no AES-GCM). */
  knownAnswer(target: TargetKey): Promise<string | undefined>;
  /** The token's probed capabilities (token engines only). */
  capabilities?(): Capabilities;
  close(): Promise<void>;
}

function softwareKat(type: KeyType, raw: Buffer): string {
  if (katKind(type) === "aes-gcm") {
    const c = createCipheriv(`aes-${raw.length * 8}-gcm` as "aes-256-gcm", raw, Buffer.from(KAT.iv, "hex"));
    return Buffer.concat([c.update(Buffer.from(KAT.plaintext, "hex")), c.final(), c.getAuthTag()]).toString("hex");
  }
  return createHmac("sha1", raw).update(Buffer.from(KAT.message, "hex")).digest("hex");
}

export function softwareFixture(prefix: string): EngineFixture {
  const engine = createSoftwareEngine();
  const keys = new Map<string, { target: TargetKey; kat?: string }>();
  const source: KeySource = {
    engine,
    async getOrCreate(name, type) {
      const have = keys.get(name);
      if (have) return { target: have.target, created: false };
      if (keyKind(type) === "secret") {
        const raw = randomBytes(secretKeyLength(type)!);
        const target = softwareKey(name, type, raw);
        keys.set(name, { target, kat: softwareKat(type, raw) });
        raw.fill(0);
        return { target, created: true };
      }
      const target = generateSoftwareKey(name, type);
      keys.set(name, { target });
      return { target, created: true };
    },
  };
  return {
    label: "software",
    prefix: `${prefix}-sw`,
    open: async () => engine,
    source: () => source,
    keyExists: (name) => keys.has(name),
    keyCount: () => keys.size,
    fallbackEvents: () => 0,
    knownAnswer: async (target) => {
      const kat = keys.get(target.name)?.kat;
      if (kat === undefined) throw new Error(`no known answer for ${target.name}`);
      return kat;
    },
    close: async () => undefined,
  };
}

/**
 * Opens the jest run's token under test (CIOP_TEST_LIB / CIOP_TEST_LIB_PARAMS / CIOP_TEST_TOKEN_LABEL /
 * CIOP_TEST_PIN): SoftHSM in the default run, NSS softokn or SoftHSM through p11-kit's RPC in a token run.
 */
export function openTestHsm(): Promise<Hsm> {
  const libraryParameters = process.env.CIOP_TEST_LIB_PARAMS;
  return Hsm.open({
    library: process.env.CIOP_TEST_LIB!,
    ...(libraryParameters ? { libraryParameters } : {}),
    token: process.env.CIOP_TEST_TOKEN_LABEL!,
    pin: { value: process.env.CIOP_TEST_PIN! },
  });
}

/** The token this jest run is about (tools/jest/global-setup.cjs, CIOP_TEST_TOKEN). */
export function testTokenKind(): "softhsm2" | "nss" | "p11-kit-rpc" {
  const kind = process.env.CIOP_TEST_TOKEN_KIND ?? "softhsm2";
  if (kind !== "softhsm2" && kind !== "nss" && kind !== "p11-kit-rpc") throw new Error(`unknown CIOP_TEST_TOKEN_KIND "${kind}"`);
  return kind;
}

/** The jest run's NSS softokn token, or the reason it is not there (globalSetup's CIOP_TEST_NSS_SKIP). */
export function testNssToken(): { library: string; libraryParameters: string; token: string; pin: string } | { skip: string } {
  const library = process.env.CIOP_TEST_NSS_LIB;
  const libraryParameters = process.env.CIOP_TEST_NSS_PARAMS;
  const token = process.env.CIOP_TEST_NSS_TOKEN;
  const pin = process.env.CIOP_TEST_NSS_PIN;
  if (process.env.CIOP_TEST_NSS_SKIP) return { skip: process.env.CIOP_TEST_NSS_SKIP };
  if (!library || !libraryParameters || !token || !pin) return { skip: "jest globalSetup did not provide the NSS softokn token (CIOP_TEST_NSS_*)" };
  return { library, libraryParameters, token, pin };
}

/** Opens the jest run's NSS softokn token through its C_Initialize library parameters. */
export function openTestNssHsm(): Promise<Hsm> {
  const t = testNssToken();
  if ("skip" in t) throw new Error(`NSS softokn token not available: ${t.skip}`);
  return Hsm.open({ library: t.library, libraryParameters: t.libraryParameters, token: t.token, pin: { value: t.pin } });
}

/** An engine fixture over a real PKCS#11 token opened by `openToken`. */
function tokenFixture(label: "hsm" | "nss" | "p11-kit-rpc", prefix: string, openToken: () => Promise<Hsm>, lacks?: EngineFixture["lacks"]): EngineFixture {
  let hsm: Hsm | undefined;
  let source: KeySource | undefined;
  const keyPrefix = `${prefix}-${label}-${process.pid}`;
  return {
    label,
    prefix: keyPrefix,
    open: async () => {
      hsm = await openToken();
      source = hsmKeySource(hsm);
      return source.engine;
    },
    source: () => source!,
    // findKey refuses "" (no label names a key); the refusal checks also ask about it, and keyCount
    // below catches a key created under any name
    keyExists: (name) => name !== "" && hsm!.findKey(name) !== undefined,
    keyCount: () => hsm!.listKeys().filter((k) => k.name.startsWith(keyPrefix)).length,
    fallbackEvents: () => hsm!.hostFallbackCount,
    ...(lacks !== undefined ? { lacks } : {}),
    capabilities: () => hsm!.capabilities(),
    knownAnswer: async (target) => {
      const key = hsm!.findKey(target.name)!;
      if (katKind(target.type) === "aes-gcm") {
        // A token without AES-GCM (SoftHSM through p11-kit 0.24's RPC) has no known answer to give;
        // the matrix then checks the recovered key against C_DigestKey alone, and says so.
        if (!hsm!.capabilities().aesGcm) return undefined;
        return Buffer.from(hsm!.encryptAesGcm(key, Buffer.from(KAT.iv, "hex"), Buffer.from(KAT.plaintext, "hex"))).toString("hex");
      }
      return Buffer.from(hsm!.signHmac(key, "sha1", Buffer.from(KAT.message, "hex"))).toString("hex");
    },
    close: async () => {
      await hsm?.close();
    },
  };
}

export function hsmFixture(prefix: string): EngineFixture {
  return tokenFixture("hsm", prefix, openTestHsm);
}

/** The HSM engine on the NSS softokn token (call only when {@link testNssToken} gave one). */
export function nssFixture(prefix: string): EngineFixture {
  return tokenFixture("nss", prefix, openTestNssHsm, (type) =>
    type === "EC-SECP256K1"
      ? { reason: "NSS softokn has no secp256k1 curve (C_GenerateKeyPair refuses its parameters)", ckr: "CKR_DOMAIN_PARAMS_INVALID" }
      : undefined,
  );
}

/** The HSM engine on SoftHSM2 through p11-kit's RPC (the token under test in a p11-kit-rpc run). */
export function rpcFixture(prefix: string): EngineFixture {
  return tokenFixture("p11-kit-rpc", prefix, openTestHsm);
}

/**
 * The engines every provider suite runs on. The default (SoftHSM2) run: software and SoftHSM. A
 * token run (CIOP_TEST_TOKEN=nss or p11-kit-rpc, which tools/jest/run-bounded.cjs starts after the
 * package's normal run): that token alone, so each token's matrix runs once and is counted under
 * that token. A token that could not be set up skips the run with its reason (tools/jest/token-skip.cjs).
 */
export function engines(prefix: string): EngineFixture[] {
  const kind = testTokenKind();
  if (kind === "nss") return [nssFixture(prefix)];
  if (kind === "p11-kit-rpc") return [rpcFixture(prefix)];
  return [softwareFixture(prefix), hsmFixture(prefix)];
}
