/**
 * The HSM engine: each construction is done inside the HSM where the token can do the step, and
 * otherwise through the HSM's single host-export choke point (`exportKeyToHost`, which refuses
 * unless the token is a software token or the user allowed host fallbacks) followed by the
 * software primitives, zeroizing every buffer that held key material.
 */
import { CiopError } from "@ciop/core";
import type { Capabilities, HashName, KeyType, WrapOutcome } from "@ciop/hsm";
import type { TargetKey, WrapEngine, WrappingKey, WrapResult } from "./engine.js";
import { keyKind } from "./key-types.js";
import {
  concat,
  hashLabel,
  random,
  rsaOaepEncrypt,
  rsaPkcs1Encrypt,
  softwareRsaAesEcb,
  softwareRsaAesKeyWrap,
  softwareRsaOaepAesGcm,
} from "./software/primitives.js";

/** A key object of @ciop/hsm (an `HsmKey`): what {@link hsmKey} needs from it. @public */
export interface HsmKeyLike {
  readonly name: string;
  readonly type: KeyType;
}

/**
 * What the HSM engine calls on @ciop/hsm's `Hsm`. Structural, so the engine depends on behaviour,
 * not on a class identity.
 * @public
 */
export interface HsmEngineBackend {
  capabilities(): Capabilities | Promise<Capabilities>;
  allowsHostFallback(): boolean;
  importPublicKey(spki: Uint8Array): unknown;
  releasePublicKey(pub: never): unknown;
  wrapRsaOaep(pub: never, key: never, hash: HashName): Promise<Uint8Array | WrapOutcome> | Uint8Array | WrapOutcome;
  wrapRsaPkcs1(pub: never, key: never): Promise<Uint8Array | WrapOutcome> | Uint8Array | WrapOutcome;
  wrapRsaAes(pub: never, key: never, hash: HashName): Promise<WrapOutcome> | WrapOutcome;
  generateSessionAesKey(): unknown;
  wrapKey(mechanism: never, wrappingKey: never, key: never): Promise<Uint8Array | WrapOutcome> | Uint8Array | WrapOutcome;
  exportKeyToHost(key: never, reason: string): Promise<Uint8Array> | Uint8Array;
  digestKey(key: never, hash: HashName): Promise<Uint8Array> | Uint8Array;
  publicKeyOf(key: never): Promise<Uint8Array> | Uint8Array;
}

/** A {@link TargetKey} of the HSM engine. @public */
export interface HsmTargetKey extends TargetKey {
  readonly engine: "hsm";
}

const HANDLES = new WeakMap<TargetKey, HsmKeyLike>();

/**
 * Wraps an @ciop/hsm key (as returned by the Hsm's generate/find calls) as a {@link TargetKey}
 * for the HSM engine.
 * @public
 */
export function hsmKey(key: HsmKeyLike): HsmTargetKey {
  const target: HsmTargetKey = Object.freeze({ engine: "hsm", type: key.type, kind: keyKind(key.type), name: key.name });
  HANDLES.set(target, key);
  return target;
}

function handleOf(target: TargetKey): HsmKeyLike {
  const k = target.engine === "hsm" ? HANDLES.get(target) : undefined;
  if (!k) {
    throw new CiopError(
      "ERR_USAGE",
      `Key "${target.name}" is not an HSM key (engine "${target.engine}"); wrap an @ciop/hsm key with hsmKey(), or use the engine it belongs to.`,
    );
  }
  return k;
}

function outcome(value: Uint8Array | WrapOutcome, fallbackMechanism: string): WrapOutcome {
  if (value instanceof Uint8Array) return { bytes: value, hostFallback: false, mechanisms: [fallbackMechanism] };
  return value;
}

/**
 * Creates the HSM {@link WrapEngine} over an open @ciop/hsm `Hsm`.
 *
 * Where each step happens (SoftHSM 2.6.1 in brackets):
 * - rsaOaep: C_WrapKey CKM_RSA_PKCS_OAEP when the token takes the hash for a secret key [SHA-1];
 *   otherwise host fallback.
 * - rsaPkcs1v15: C_WrapKey CKM_RSA_PKCS for secret keys; host fallback for private keys.
 * - rsaAesKeyWrap: the Hsm's `wrapRsaAes` (native CKM_RSA_AES_KEY_WRAP, composed KWP + OAEP, or its
 *   own fallback), except for private keys on tokens that zero-pad PKCS#8 before KWP
 *   (`capabilities().kwpPadsPrivateKeys`), which go through host fallback so the PKCS#8 is exact.
 * - rsaAesEcb (Alibaba): in the HSM when the token can C_WrapKey with AES-ECB/PKCS#7 padding and
 *   OAEP with the hash; otherwise host fallback.
 * - rsaOaepAesGcm (JWE): in the HSM when `capabilities().aesGcmKeyWrap` and OAEP with the hash
 *   are available (CEK = session AES key, C_WrapKey CKM_AES_GCM, OAEP of the CEK); otherwise host fallback.
 * - digest: C_DigestKey. publicKey: read from the HSM.
 *
 * Host fallback = `hsm.exportKeyToHost(key, reason)` (throws ERR_HOST_FALLBACK_REFUSED when not
 * allowed) + node:crypto; results then carry `hostFallback: true`.
 * @public
 */
export function createHsmEngine(hsm: HsmEngineBackend): WrapEngine {
  // The structural interface uses `never` parameters so any handle types fit; call through `any`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const h = hsm as any;
  let caps: Capabilities | undefined;
  const capabilities = async (): Promise<Capabilities> => (caps ??= await h.capabilities());

  async function withPublicKey<T>(wrappingKey: WrappingKey, fn: (pub: unknown) => Promise<T>): Promise<T> {
    if (wrappingKey.type !== "RSA") {
      throw new CiopError("ERR_WRAPPING_KEY_INVALID", `This construction needs an RSA wrapping key; got ${wrappingKey.type}-${wrappingKey.bits}.`);
    }
    const pub = await h.importPublicKey(wrappingKey.spki);
    try {
      return await fn(pub);
    } finally {
      await h.releasePublicKey(pub);
    }
  }

  /** Exports the target through the Hsm's choke point and runs `fn` on the bytes, zeroizing them. */
  async function hostFallback<T>(target: TargetKey, reason: string, fn: (bytes: Uint8Array) => T): Promise<T> {
    const bytes: Uint8Array = await h.exportKeyToHost(handleOf(target), reason);
    try {
      return fn(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  const fallbackResult = (bytes: Uint8Array, steps: string[]): WrapResult => ({
    bytes,
    hostFallback: true,
    steps: ["host export (C_WrapKey/C_UnwrapKey via exportKeyToHost)", ...steps.map((s) => `host ${s}`)],
  });

  async function destroySessionKey(key: unknown): Promise<void> {
    if (typeof h.destroyKey === "function") await h.destroyKey(key);
    else if (typeof h.releaseSessionKey === "function") await h.releaseSessionKey(key);
  }

  const engine: WrapEngine = {
    name: "hsm",

    async rsaOaep(wrappingKey, target, hash) {
      const key = handleOf(target);
      const c = await capabilities();
      if (target.kind === "secret" && c.rsaOaepHashes.includes(hash)) {
        return withPublicKey(wrappingKey, async (pub) => {
          const o = outcome(await h.wrapRsaOaep(pub, key, hash), `CKM_RSA_PKCS_OAEP(${hashLabel(hash)})`);
          return { bytes: o.bytes, hostFallback: o.hostFallback, steps: o.mechanisms };
        });
      }
      const why =
        target.kind === "private"
          ? `RSA-OAEP of a private key (${target.type}): PKCS#11 tokens RSA-wrap secret keys only`
          : `RSA-OAEP with ${hashLabel(hash)}: the token's OAEP supports ${c.rsaOaepHashes.map(hashLabel).join(", ") || "no hash"}`;
      return hostFallback(target, why, (b) => fallbackResult(rsaOaepEncrypt(wrappingKey, hash, b), [`RSA-OAEP(${hashLabel(hash)})`]));
    },

    async rsaPkcs1v15(wrappingKey, target) {
      const key = handleOf(target);
      const c = await capabilities();
      if (target.kind === "secret" && c.rsaPkcs1) {
        return withPublicKey(wrappingKey, async (pub) => {
          const o = outcome(await h.wrapRsaPkcs1(pub, key), "CKM_RSA_PKCS");
          return { bytes: o.bytes, hostFallback: o.hostFallback, steps: o.mechanisms };
        });
      }
      const why = target.kind === "private" ? `RSA PKCS#1 v1.5 of a private key (${target.type})` : "RSA PKCS#1 v1.5: CKM_RSA_PKCS wrap unavailable";
      return hostFallback(target, why, (b) => fallbackResult(rsaPkcs1Encrypt(wrappingKey, b), ["RSA-PKCS1-v1_5"]));
    },

    async rsaAesKeyWrap(wrappingKey, target, hash) {
      const key = handleOf(target);
      const c = await capabilities();
      const nativeExact = c.rsaAesKeyWrapHashes.includes(hash);
      if (target.kind === "private" && c.kwpPadsPrivateKeys && !nativeExact) {
        return hostFallback(target, `RSA-AES key wrap of ${target.type}: the token zero-pads PKCS#8 before KWP, which would corrupt the key's length`, (b) =>
          fallbackResult(softwareRsaAesKeyWrap(wrappingKey, hash, b), ["AES-256-KWP(RFC 5649)", `RSA-OAEP(${hashLabel(hash)})`]),
        );
      }
      return withPublicKey(wrappingKey, async (pub) => {
        const o: WrapOutcome = await h.wrapRsaAes(pub, key, hash);
        return { bytes: o.bytes, hostFallback: o.hostFallback, steps: o.mechanisms };
      });
    },

    async rsaAesEcb(wrappingKey, target, hash) {
      const key = handleOf(target);
      const c = await capabilities();
      if (c.aesEcbPadKeyWrap && c.rsaOaepHashes.includes(hash) && !(target.kind === "private" && c.kwpPadsPrivateKeys)) {
        return withPublicKey(wrappingKey, async (pub) => {
          const eph = await h.generateSessionAesKey();
          try {
            const aes = outcome(await h.wrapKey("AES_ECB_PAD", eph, key), "CKM_AES_ECB(PKCS#7)");
            const rsa = outcome(await h.wrapRsaOaep(pub, eph, hash), `CKM_RSA_PKCS_OAEP(${hashLabel(hash)})`);
            return {
              bytes: concat(rsa.bytes, aes.bytes),
              hostFallback: aes.hostFallback || rsa.hostFallback,
              steps: [...aes.mechanisms, ...rsa.mechanisms],
            };
          } finally {
            await destroySessionKey(eph);
          }
        });
      }
      const why = !c.aesEcbPadKeyWrap
        ? "AES-256-ECB/PKCS#7 wrap (Alibaba layout): the token cannot C_WrapKey with AES-ECB and PKCS#7 padding"
        : `RSA-OAEP with ${hashLabel(hash)}: the token's OAEP supports ${c.rsaOaepHashes.map(hashLabel).join(", ") || "no hash"}`;
      return hostFallback(target, why, (b) => fallbackResult(softwareRsaAesEcb(wrappingKey, hash, b), ["AES-256-ECB-PKCS7", `RSA-OAEP(${hashLabel(hash)})`]));
    },

    async rsaOaepAesGcm(wrappingKey, target, hash, aad) {
      const key = handleOf(target);
      if (target.kind !== "secret") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `AES-GCM key transport takes a secret key (AES or HMAC); "${target.name}" is ${target.type}.`);
      }
      const c = await capabilities();
      if (c.aesGcmKeyWrap && c.rsaOaepHashes.includes(hash)) {
        return withPublicKey(wrappingKey, async (pub) => {
          const cek = await h.generateSessionAesKey();
          try {
            const iv = random(12);
            const gcm = outcome(await h.wrapKey({ mechanism: "AES_GCM", iv, aad, tagBits: 128 }, cek, key), "CKM_AES_GCM");
            const rsa = outcome(await h.wrapRsaOaep(pub, cek, hash), `CKM_RSA_PKCS_OAEP(${hashLabel(hash)})`);
            const ciphertext = gcm.bytes.slice(0, gcm.bytes.length - 16);
            const tag = gcm.bytes.slice(gcm.bytes.length - 16);
            return {
              bytes: concat(rsa.bytes, iv, ciphertext, tag),
              hostFallback: gcm.hostFallback || rsa.hostFallback,
              steps: [...gcm.mechanisms, ...rsa.mechanisms],
              encryptedKey: rsa.bytes,
              iv,
              ciphertext,
              tag,
            };
          } finally {
            await destroySessionKey(cek);
          }
        });
      }
      const why = !c.aesGcmKeyWrap
        ? "AES-256-GCM key wrap (JWE A256GCM): the token cannot C_WrapKey with CKM_AES_GCM"
        : `RSA-OAEP with ${hashLabel(hash)}: the token's OAEP supports ${c.rsaOaepHashes.map(hashLabel).join(", ") || "no hash"}`;
      return hostFallback(target, why, (b) => {
        const parts = softwareRsaOaepAesGcm(wrappingKey, hash, b, aad);
        return {
          ...fallbackResult(concat(parts.encryptedKey, parts.iv, parts.ciphertext, parts.tag), ["AES-256-GCM", `RSA-OAEP(${hashLabel(hash)})`]),
          ...parts,
        };
      });
    },

    async digest(target, hash) {
      if (target.kind !== "secret") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `A key digest takes a secret key (AES or HMAC); "${target.name}" is ${target.type}.`);
      }
      return new Uint8Array(await h.digestKey(handleOf(target), hash));
    },

    async publicKey(target) {
      if (target.kind !== "private") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `"${target.name}" is a secret key (${target.type}); it has no public key.`);
      }
      return new Uint8Array(await h.publicKeyOf(handleOf(target)));
    },
  };
  return Object.freeze(engine);
}
