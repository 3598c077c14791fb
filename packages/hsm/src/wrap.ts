/**
 * Wrap primitives: C_WrapKey under an imported RSA key (OAEP, PKCS#1 v1.5), the RSA-AES key wrap
 * composed in the token where it is exact (else the host fallback of host-fallback.ts), AES-GCM key
 * transport under a session key, and the low-level C_WrapKey for callers that need another mechanism.
 */
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError, zeroize } from "@ciop/core";
import { allowsHostFallback, ensureOpen, pubHandle, requireAes, requireHash, requireSecret, type Handle, type HsmContext } from "./context.js";
import { isCkr, toHsmError } from "./errors.js";
import { HsmPublicKey, type HsmKey } from "./hsm-key.js";
import { KEY_SPECS } from "./key-specs.js";
import { requireEnabled } from "./keys/attributes.js";
import { withHandle } from "./keys/handles.js";
import { createSessionAes, destroyHandle, destroySessionKey, generateSessionAesKey } from "./keys/session-keys.js";
import { extractToHost, hostOaep, recordHostFallback } from "./host-fallback.js";
import { HASHES, gcmParameter, hostKwpWrap, kwpName, oaepMechanism, oaepName } from "./mechanisms.js";
import { probeEcPkcs8KwpExact } from "./probe.js";
import type { HashName, KeyType, WrapOutcome } from "./types.js";

const P = pkcs11js;
/** Output buffer for C_WrapKey (pkcs11js has no length query; returns a slice). */
const WRAP_BUFFER = 16384;

/** In-HSM RSA-OAEP (same hash for OAEP and MGF1, empty label) of a secret key. */
export function wrapRsaOaep(ctx: HsmContext, pub: HsmPublicKey, key: HsmKey, hash: HashName): WrapOutcome {
  ensureOpen(ctx);
  requireSecret(key, "RSA-OAEP");
  requireEnabled(ctx, key, "wrapping");
  requireHash(hash);
  if (!ctx.caps.rsaOaepHashes.includes(hash)) throw oaepUnsupported(ctx, hash, "wrapRsaOaep");
  const bytes = wrapUnder(ctx, oaepMechanism(hash), pubHandle(pub), key, `wrapping '${key.name}' with ${oaepName(hash)}`, hash);
  return { bytes, hostFallback: false, mechanisms: [oaepName(hash)] };
}

/** In-HSM RSA PKCS#1 v1.5 of a secret key (legacy). */
export function wrapRsaPkcs1(ctx: HsmContext, pub: HsmPublicKey, key: HsmKey): WrapOutcome {
  ensureOpen(ctx);
  requireSecret(key, "RSA PKCS#1 v1.5");
  requireEnabled(ctx, key, "wrapping");
  if (!ctx.caps.rsaPkcs1) {
    throw new CiopError(
      "ERR_MECHANISM_UNSUPPORTED",
      `token '${ctx.token.label}' refuses C_WrapKey with CKM_RSA_PKCS; alternatives: wrapRsaOaep (${ctx.caps.rsaOaepHashes.join(", ") || "none"}) or wrapRsaAes`,
    );
  }
  const bytes = wrapUnder(ctx, { mechanism: P.CKM_RSA_PKCS }, pubHandle(pub), key, `wrapping '${key.name}' with CKM_RSA_PKCS`);
  return { bytes, hostFallback: false, mechanisms: ["CKM_RSA_PKCS"] };
}

/** CKM_RSA_AES_KEY_WRAP output: OAEP(hash)(ephemeral AES-256) ‖ RFC 5649 KWP(ephemeral, key). See Hsm.wrapRsaAes. */
export function wrapRsaAes(ctx: HsmContext, pub: HsmPublicKey, key: HsmKey, hash: HashName): WrapOutcome {
  ensureOpen(ctx);
  requireHash(hash);
  const pubH = pubHandle(pub);
  requireEnabled(ctx, key, "wrapping");
  const kwp = ctx.caps.aesKeyWrapPadMechanism;
  const oaepInHsm = ctx.caps.rsaOaepHashes.includes(hash);
  const kwpExact = kwp !== null && !kwpWouldPad(ctx, key);

  // 1. All inside the HSM.
  if (kwpExact && oaepInHsm) {
    const eph = generateSessionAesKey(ctx, 256);
    try {
      const wrappedKey = wrapUnder(ctx, { mechanism: kwp }, eph.handle, key, `wrapping '${key.name}' with ${kwpName(kwp)}`);
      const wrappedEph = wrapUnder(ctx, oaepMechanism(hash), pubH, eph, `wrapping the ephemeral key with ${oaepName(hash)}`, hash);
      return { bytes: concat(wrappedEph, wrappedKey), hostFallback: false, mechanisms: ["CKM_AES_KEY_GEN(session)", kwpName(kwp), oaepName(hash)] };
    } finally {
      destroySessionKey(ctx, eph);
    }
  }

  const why =
    kwp === null
      ? "the token has no working RFC 5649 key wrap (CKM_AES_KEY_WRAP_KWP 0x210B / CKM_AES_KEY_WRAP_PAD 0x210A)"
      : !kwpExact
        ? `the token zero-pads ${key.kind === "private" ? "PKCS#8" : `a ${KEY_SPECS[key.type].bytes}-byte key`} to a multiple of 8 before ${kwpName(kwp)}, so the unwrapped key would carry trailing zeros`
        : `the token refuses CKM_RSA_PKCS_OAEP with ${HASHES[hash].label} (it accepts: ${ctx.caps.rsaOaepHashes.join(", ") || "none"})`;

  // 2. Target stays in the HSM; only the ephemeral key is made and OAEP-encrypted on the host.
  if (kwpExact) {
    recordHostFallback(ctx, "wrapRsaAes", key, `CKM_RSA_AES_KEY_WRAP with ${HASHES[hash].label}: ${why}`, "ephemeral-key", aesAlternatives(ctx, hash, key));
    const ephValue = randomBytes(32);
    let eph: Handle | undefined;
    try {
      eph = createSessionAes(ctx, ephValue, { wrap: true });
      const wrappedKey = wrapUnder(ctx, { mechanism: kwp! }, eph, key, `wrapping '${key.name}' with ${kwpName(kwp!)}`);
      const wrappedEph = hostOaep(pub.spki, hash, ephValue);
      return { bytes: concat(wrappedEph, wrappedKey), hostFallback: true, mechanisms: [kwpName(kwp!), `host:RSA-OAEP(${HASHES[hash].label})`] };
    } finally {
      zeroize(ephValue);
      if (eph) destroyHandle(ctx, eph);
    }
  }

  // 3. The target key itself has to come out (exact PKCS#8, or no KWP in the token).
  recordHostFallback(ctx, "wrapRsaAes", key, `CKM_RSA_AES_KEY_WRAP with ${HASHES[hash].label}: ${why}`, "target-key", aesAlternatives(ctx, hash, key));
  const material = extractToHost(ctx, key);
  const ephValue = randomBytes(32);
  try {
    const wrappedKey = hostKwpWrap(ephValue, material);
    const wrappedEph = hostOaep(pub.spki, hash, ephValue);
    return {
      bytes: concat(wrappedEph, wrappedKey),
      hostFallback: true,
      mechanisms: [`${kwp === null ? "CKM_AES_KEY_WRAP" : kwpName(kwp)}(export)`, "host:AES-KWP", `host:RSA-OAEP(${HASHES[hash].label})`],
    };
  } finally {
    zeroize(material, ephValue);
  }
}

/**
 * C_WrapKey with CKM_AES_GCM (128-bit tag) of `key` under the AES key `kek`: ciphertext ‖ tag.
 * The mechanism parameter is built here, so callers never hand pkcs11js structures over.
 */
export function wrapAesGcm(ctx: HsmContext, kek: HsmKey, key: HsmKey, iv: Uint8Array, aad: Uint8Array | undefined): Uint8Array {
  ensureOpen(ctx);
  requireAes(kek);
  if (iv.length === 0) throw new CiopError("ERR_USAGE", "AES-GCM needs a non-empty IV");
  requireEnabled(ctx, key, "wrapping");
  const mechanism: pkcs11js.Mechanism = { mechanism: P.CKM_AES_GCM, parameter: gcmParameter(iv, aad) };
  return wrapUnder(ctx, mechanism, kek.handle, key, `wrapping '${key.name}' with CKM_AES_GCM`);
}

/** Low-level C_WrapKey with any mechanism. */
export function wrapKey(ctx: HsmContext, mechanism: pkcs11js.Mechanism, wrappingKey: HsmKey | HsmPublicKey, key: HsmKey): Uint8Array {
  ensureOpen(ctx);
  const wh = wrappingKey instanceof HsmPublicKey ? pubHandle(wrappingKey) : wrappingKey.handle;
  requireEnabled(ctx, key, "wrapping");
  return wrapUnder(ctx, mechanism, wh, key, `wrapping '${key.name}' with mechanism 0x${mechanism.mechanism.toString(16)}`);
}

/** C_WrapKey of `key` (re-found once if its handle went stale); OAEP refusals name the alternatives. */
export function wrapUnder(
  ctx: HsmContext,
  mechanism: pkcs11js.Mechanism,
  wrappingHandle: Handle,
  key: HsmKey,
  context: string,
  oaepHash?: HashName,
): Uint8Array {
  try {
    return withHandle(ctx, key, (h) => new Uint8Array(ctx.p.C_WrapKey(ctx.objSession, mechanism, wrappingHandle, h, Buffer.alloc(WRAP_BUFFER))));
  } catch (err) {
    if (oaepHash && isCkr(err, "CKR_ARGUMENTS_BAD", "CKR_MECHANISM_INVALID", "CKR_MECHANISM_PARAM_INVALID"))
      throw oaepUnsupported(ctx, oaepHash, "wrapRsaOaep", err);
    throw toHsmError(err, "C_WrapKey", context);
  }
}

/** The token's KWP would add zero bytes to this key's plaintext (SoftHSM 2.6.1). */
function kwpWouldPad(ctx: HsmContext, key: HsmKey): boolean {
  if (key.kind === "private") return ctx.caps.kwpPadsPrivateKeys && !pkcs8WrapsExactly(ctx, key.type);
  return ctx.caps.kwpPadsSecretKeys && (KEY_SPECS[key.type].bytes ?? 0) % 8 !== 0;
}

/**
 * A token that zero-pads PKCS#8 before KWP adds nothing when the length is already a multiple of
 * 8. For EC keys that length is fixed per curve (the scalar is encoded at full size), so it is
 * probed once per curve on a throw-away session key pair (SoftHSM 2.6.1: exact for P-384 and
 * secp256k1). RSA PKCS#8 length varies from key to key, so key pairs other than EC keep the host path.
 */
function pkcs8WrapsExactly(ctx: HsmContext, type: KeyType): boolean {
  const known = ctx.pkcs8KwpExact.get(type);
  if (known !== undefined) return known;
  const spec = KEY_SPECS[type];
  const kwp = ctx.caps.aesKeyWrapPadMechanism;
  const exact =
    spec.family === "ec" && kwp !== null && probeEcPkcs8KwpExact(ctx.p, ctx.objSession, kwp, Buffer.from(spec.curve!.params, "hex"), spec.curve!.size);
  ctx.pkcs8KwpExact.set(type, exact);
  return exact;
}

function oaepUnsupported(ctx: HsmContext, hash: HashName, op: string, cause?: unknown): CiopError {
  const h = HASHES[hash];
  const ok = ctx.caps.rsaOaepHashes;
  const alternatives = [
    ok.length > 0 ? `OAEP with ${ok.join("/")} (in the HSM)` : undefined,
    `wrapRsaAes with ${ok[0] ?? "sha1"} if the provider accepts RSA-AES key wrap`,
    allowsHostFallback(ctx)
      ? "a host-side wrap through exportKeyToHost (allowed: software token)"
      : "a host-side wrap through exportKeyToHost (needs allowHostFallback / --allow-host-fallback)",
  ].filter(Boolean);
  return new CiopError(
    "ERR_MECHANISM_UNSUPPORTED",
    `${op}: token '${ctx.token.label}' (${ctx.token.manufacturer} ${ctx.token.model}) refuses C_WrapKey with CKM_RSA_PKCS_OAEP ` +
      `(hashAlg=${h.mechName}, mgf=${h.mgfName}, source=CKZ_DATA_SPECIFIED, no label); it accepts OAEP with: ${ok.join(", ") || "none"}. ` +
      `Alternatives: ${alternatives.join("; ")}`,
    { cause, details: { mechanism: "CKM_RSA_PKCS_OAEP", hash, supportedHashes: ok } },
  );
}

function aesAlternatives(ctx: HsmContext, hash: HashName, key: HsmKey): string[] {
  const out: string[] = [];
  const ok = ctx.caps.rsaOaepHashes;
  if (!ok.includes(hash) && ok.length > 0) out.push(`use OAEP ${ok.join("/")} (fully in the HSM${kwpWouldPad(ctx, key) ? ", but not for this key" : ""})`);
  out.push("use an HSM whose PKCS#11 library implements CKM_RSA_AES_KEY_WRAP / exact RFC 5649 for PKCS#8");
  out.push("pass allowHostFallback (--allow-host-fallback) to accept the host-side step");
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
