/**
 * Wrapping keys for the provider suites, in the forms their plan, refusal and matrix tests use:
 * parsed RSA public keys of several sizes, an EC public key (the wrong type), an expired and a
 * not-yet-valid certificate, and key pairs whose private halves the independent unwrapper reads.
 * Every key is made fresh by the openssl CLI (and certificates by python3 cryptography), never by
 * ciop code.
 */
import { parseWrappingKey, type WrappingKey } from "@ciop/wrap";
import { opensslEcSpki, opensslRsa, pythonCertificate, type TestKeyPair } from "./harness.js";
import type { Combo } from "./matrix.js";

/**
 * One fresh RSA public key of each size in `bits`, parsed, by size. The files go to `dir` and are
 * named by size, so a later `opensslRsa(dir, n)` of the same size replaces the private half (the
 * parsed public keys stay as they are).
 */
export function rsaWrappingKeys(dir: string, bits: readonly number[]): Record<number, WrappingKey> {
  const keys: Record<number, WrappingKey> = {};
  for (const b of bits) keys[b] = parseWrappingKey(opensslRsa(dir, b).spki);
  return keys;
}

/** A fresh EC P-256 public key, parsed: a wrapping key of the wrong type for every provider. */
export function ecWrappingKey(dir: string): WrappingKey {
  return parseWrappingKey(opensslEcSpki(dir));
}

/**
 * An expired and a not-yet-valid self-signed certificate for `key`, parsed as the plan step sees
 * them once the caller allowed invalid certificates (plan() must still refuse them unless the
 * request sets `allowInvalidCertificate`).
 */
export function certificatePair(key: TestKeyPair): { expired: WrappingKey; future: WrappingKey } {
  const parse = (validity: "expired" | "future") => parseWrappingKey(pythonCertificate(key.privPath, validity), { allowInvalidCertificate: true });
  return { expired: parse("expired"), future: parse("future") };
}

/**
 * RSA wrapping key pairs for a matrix, one per size: the private halves for the unwrapper, the
 * public halves as the matrix hands them to the provider. The members are plain functions, so
 * `wrappingKey: keys.wrappingKey` can go straight into a {@link MatrixSpec}.
 */
export interface RsaKeyPairs {
  /** The key pair of size `bits` (throws for a size that was not made). */
  readonly pair: (bits: number) => TestKeyPair;
  /** {@link MatrixSpec.wrappingKey}: the combination's public key, parsed from its DER SubjectPublicKeyInfo. */
  readonly wrappingKey: (combo: Combo) => WrappingKey;
  /** {@link MatrixSpec.privPath}: the PEM private key of the combination's size. */
  readonly privPath: (combo: Combo) => string;
  /** A current self-signed certificate (PEM) for the combination's key, for clouds that hand out certificates; made on first use. */
  readonly certificate: (combo: Combo) => string;
}

/** One fresh RSA key pair per size in `bits`, in `dir` (see {@link RsaKeyPairs}). */
export function rsaKeyPairs(dir: string, bits: readonly number[]): RsaKeyPairs {
  const pairs = new Map<number, { pair: TestKeyPair; parsed: WrappingKey; certificate?: string }>();
  for (const b of bits) {
    const pair = opensslRsa(dir, b);
    pairs.set(b, { pair, parsed: parseWrappingKey(pair.spki) });
  }
  const entry = (b: number) => {
    const e = pairs.get(b);
    if (e === undefined) throw new Error(`no RSA-${b} key pair was made (sizes: ${bits.join(", ")})`);
    return e;
  };
  return {
    pair: (b) => entry(b).pair,
    wrappingKey: (c) => entry(c.bits).parsed,
    privPath: (c) => entry(c.bits).pair.privPath,
    certificate: (c) => {
      const e = entry(c.bits);
      e.certificate ??= pythonCertificate(e.pair.privPath);
      return e.certificate;
    },
  };
}
