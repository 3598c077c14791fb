/**
 * The HSM engine: each construction is done inside the HSM where the token can do the step, and
 * otherwise through the HSM's single host-export choke point (`exportKeyToHost`, which refuses
 * unless the token is a software token or the user allowed host fallbacks) followed by the
 * software primitives, zeroizing every buffer that held key material.
 */
import { CiopError } from "@ciop/core";
import type { Capabilities, Hsm, HsmKey, HsmPublicKey, WrapOutcome } from "@ciop/hsm";
import type { TargetKey, WrapEngine, WrappingKey, WrapResult } from "./engine.js";
import { keyKind } from "./key-types.js";
import {
  aesGcmSeal,
  checkAesGcmUnderTarget,
  concat,
  hashLabel,
  random,
  rsaOaepEncrypt,
  rsaPkcs1Encrypt,
  softwareRsaAesEcb,
  softwareRsaOaepAesGcm,
} from "./software/primitives.js";

/** A {@link TargetKey} of the HSM engine. @public */
export interface HsmTargetKey extends TargetKey {
  readonly engine: "hsm";
}

const HANDLES = new WeakMap<TargetKey, HsmKey>();

/**
 * Wraps an @ciop/hsm key (from `Hsm.generateKey`, `getOrCreateKey` or `findKey`) as a
 * {@link TargetKey} for the HSM engine.
 * @public
 */
export function hsmKey(key: HsmKey): HsmTargetKey {
  const target: HsmTargetKey = Object.freeze({ engine: "hsm", type: key.type, kind: keyKind(key.type), name: key.name });
  HANDLES.set(target, key);
  return target;
}

function handleOf(target: TargetKey): HsmKey {
  const k = target.engine === "hsm" ? HANDLES.get(target) : undefined;
  if (!k) {
    throw new CiopError(
      "ERR_USAGE",
      `Key "${target.name}" is not an HSM key (engine "${target.engine}"); wrap an @ciop/hsm key with hsmKey(), or use the engine it belongs to.`,
    );
  }
  return k;
}

function fromOutcome(o: WrapOutcome): WrapResult {
  return { bytes: o.bytes, hostFallback: o.hostFallback, steps: [...o.mechanisms] };
}

function oaepList(c: Capabilities): string {
  return c.rsaOaepHashes.map(hashLabel).join(", ") || "no hash";
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
 * - aesGcmUnderTarget: C_EncryptInit(CKM_AES_GCM) with the target's own handle when the token does
 *   AES-GCM (`capabilities().aesGcm`; the IV as its GCM profile says); otherwise host fallback.
 * - digest: C_DigestKey. publicKey: read from the HSM.
 *
 * Host fallback = `hsm.exportKeyToHost(key, reason)` (throws ERR_HOST_FALLBACK_REFUSED when not
 * allowed) + node:crypto; results then carry `hostFallback: true`.
 * @public
 */
export function createHsmEngine(hsm: Hsm): WrapEngine {
  const capabilities = (): Capabilities => hsm.capabilities();

  async function withPublicKey<T>(wrappingKey: WrappingKey, fn: (pub: HsmPublicKey) => Promise<T> | T): Promise<T> {
    if (wrappingKey.type !== "RSA") {
      throw new CiopError("ERR_WRAPPING_KEY_INVALID", `This construction needs an RSA wrapping key; got ${wrappingKey.type}-${wrappingKey.bits}.`);
    }
    const pub = hsm.importPublicKey(wrappingKey.spki);
    try {
      return await fn(pub);
    } finally {
      hsm.releasePublicKey(pub);
    }
  }

  /**
   * The one host-side path: the Hsm's choke point exports the key (or refuses with
   * ERR_HOST_FALLBACK_REFUSED and records/emits the fallback); `fn` runs on the bytes, which are
   * zeroized afterwards.
   */
  async function hostFallback<T>(target: TargetKey, reason: string, fn: (bytes: Uint8Array) => T): Promise<T> {
    const bytes = await hsm.exportKeyToHost(handleOf(target), reason);
    try {
      return fn(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  const fallbackResult = (bytes: Uint8Array, steps: string[]): WrapResult => ({
    bytes,
    hostFallback: true,
    steps: ["exportKeyToHost", ...steps.map((s) => `host:${s}`)],
  });

  const engine: WrapEngine = {
    name: "hsm",

    async rsaOaep(wrappingKey, target, hash) {
      const key = handleOf(target);
      const c = capabilities();
      if (target.kind === "secret" && c.rsaOaepHashes.includes(hash)) {
        return withPublicKey(wrappingKey, (pub) => fromOutcome(hsm.wrapRsaOaep(pub, key, hash)));
      }
      const why =
        target.kind === "private"
          ? `RSA-OAEP of a private key (${target.type}): PKCS#11 tokens RSA-wrap secret keys only`
          : `the token's CKM_RSA_PKCS_OAEP refuses ${hashLabel(hash)} (it accepts ${oaepList(c)})`;
      return hostFallback(target, why, (b) => fallbackResult(rsaOaepEncrypt(wrappingKey, hash, b), [`RSA-OAEP(${hashLabel(hash)})`]));
    },

    async rsaPkcs1v15(wrappingKey, target) {
      const key = handleOf(target);
      const c = capabilities();
      if (target.kind === "secret" && c.rsaPkcs1) {
        return withPublicKey(wrappingKey, (pub) => fromOutcome(hsm.wrapRsaPkcs1(pub, key)));
      }
      const why =
        target.kind === "private"
          ? `RSA PKCS#1 v1.5 of a private key (${target.type}): PKCS#11 tokens RSA-wrap secret keys only`
          : "the token refuses C_WrapKey with CKM_RSA_PKCS";
      return hostFallback(target, why, (b) => fallbackResult(rsaPkcs1Encrypt(wrappingKey, b), ["RSA-PKCS1-v1_5"]));
    },

    async rsaAesKeyWrap(wrappingKey, target, hash) {
      const key = handleOf(target);
      // The Hsm picks native CKM_RSA_AES_KEY_WRAP, the in-HSM composition, the ephemeral-key hybrid
      // or a target export, and applies the host-fallback policy itself.
      return withPublicKey(wrappingKey, (pub) => fromOutcome(hsm.wrapRsaAes(pub, key, hash)));
    },

    async rsaAesEcb(wrappingKey, target, hash) {
      handleOf(target);
      // PKCS#11 has no AES-ECB mechanism with PKCS#7 padding, and CKM_AES_ECB cannot wrap a PKCS#8
      // whose length is not a multiple of 16 (nor add the padding block), so the AES part of this
      // layout cannot be made by C_WrapKey.
      const why = "the Alibaba layout needs AES-256-ECB with PKCS#7 padding, which PKCS#11 C_WrapKey does not offer";
      return hostFallback(target, why, (b) => fallbackResult(softwareRsaAesEcb(wrappingKey, hash, b), ["AES-256-ECB-PKCS7", `RSA-OAEP(${hashLabel(hash)})`]));
    },

    async rsaOaepAesGcm(wrappingKey, target, hash, aad) {
      const key = handleOf(target);
      if (target.kind !== "secret") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `AES-GCM key transport takes a secret key (AES or HMAC); "${target.name}" is ${target.type}.`);
      }
      const c = capabilities();
      if (c.aesGcmKeyWrap && c.rsaOaepHashes.includes(hash)) {
        return withPublicKey(wrappingKey, (pub) => {
          const cek = hsm.generateSessionAesKey(256);
          try {
            const iv = random(12);
            const gcm = hsm.wrapAesGcm(cek, key, iv, aad);
            const rsa = hsm.wrapRsaOaep(pub, cek, hash);
            const ciphertext = gcm.slice(0, gcm.length - 16);
            const tag = gcm.slice(gcm.length - 16);
            return {
              bytes: concat(rsa.bytes, iv, ciphertext, tag),
              hostFallback: rsa.hostFallback,
              steps: ["CKM_AES_KEY_GEN(session)", "CKM_AES_GCM", ...rsa.mechanisms],
              encryptedKey: rsa.bytes,
              iv,
              ciphertext,
              tag,
            };
          } finally {
            hsm.destroySessionKey(cek);
          }
        });
      }
      const why = !c.aesGcmKeyWrap
        ? "the token cannot C_WrapKey with CKM_AES_GCM (needed for JWE A256GCM)"
        : `the token's CKM_RSA_PKCS_OAEP refuses ${hashLabel(hash)} (it accepts ${oaepList(c)})`;
      return hostFallback(target, why, (b) => {
        const parts = softwareRsaOaepAesGcm(wrappingKey, hash, b, aad);
        return {
          ...fallbackResult(concat(parts.encryptedKey, parts.iv, parts.ciphertext, parts.tag), ["AES-256-GCM", `RSA-OAEP(${hashLabel(hash)})`]),
          ...parts,
        };
      });
    },

    async aesGcmUnderTarget(target, plaintext, aad) {
      const key = handleOf(target);
      checkAesGcmUnderTarget(target, plaintext);
      const c = capabilities();
      if (c.aesGcm) {
        // The token's GCM profile decides the IV (ciop's 12 random bytes, or the token's own).
        const sealed = hsm.sealAesGcm(key, plaintext, aad);
        const out = sealed.ciphertextAndTag;
        const ciphertext = new Uint8Array(out.subarray(0, out.length - 16));
        const tag = new Uint8Array(out.subarray(out.length - 16));
        return { bytes: new Uint8Array(out), hostFallback: false, steps: ["CKM_AES_GCM"], iv: new Uint8Array(sealed.iv), ciphertext, tag };
      }
      const why = `the token has no AES-GCM encryption (${c.gcmRefusal ?? "no GCM profile found at open"})`;
      return hostFallback(target, why, (b) => {
        const parts = aesGcmSeal(b, plaintext, aad);
        return { ...fallbackResult(concat(parts.ciphertext, parts.tag), ["AES-GCM"]), ...parts };
      });
    },

    async digest(target, hash) {
      if (target.kind !== "secret") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `A key digest takes a secret key (AES or HMAC); "${target.name}" is ${target.type}.`);
      }
      return new Uint8Array(hsm.digestKey(handleOf(target), hash));
    },

    async publicKey(target) {
      if (target.kind !== "private") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `"${target.name}" is a secret key (${target.type}); it has no public key.`);
      }
      return new Uint8Array(hsm.publicKeyOf(handleOf(target)));
    },
  };
  return Object.freeze(engine);
}
