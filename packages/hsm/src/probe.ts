import { createCipheriv, createHash, createHmac, createPublicKey, randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { zeroize } from "@ciop/core";
import { derLength, ecPkcs8ScalarLength } from "./der.js";
import {
  CKM_AES_KEY_WRAP_KWP,
  CKM_AES_KEY_WRAP_PAD,
  CKM_RSA_AES_KEY_WRAP,
  HASHES,
  HASH_NAMES,
  gcmParameter,
  hostKwpUnwrap,
  hostKwpWrap,
  hostPkcs7KwWrap,
  oaepMechanism,
} from "./mechanisms.js";
import { probeGcmProfile, type GcmProfileOption } from "./gcm-profile.js";
import type { Capabilities, KeyWrapPadSemantics } from "./types.js";

const P = pkcs11js;
type Handle = Buffer;

/** A fixed RSA-2048 public key: the OAEP/PKCS#1 probes only need something to wrap under. */
const PROBE_RSA_SPKI =
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAjnzf6LXVlausQa6nczM3R4O++rtsxsHX2QhJi5NxNIL6QX6De/fiAdVXPm0TE8MGYK4MRuF3+MCeUWH11g6M6JhHo0hcDwl1VwmjCG9H4dQ7+ANiMlqhoXI/cxFI+NeBnaBXUF0rVcAMtoR5wlL7Z271GuCC4BNTAV6Z6msoTXJcQseMvXvvcjkedhzQkAzvdqLL37gtF0J0MRlsoZuFDzAfVY1TTWPiiTK4wby4wN85QUlpBpA3+ZzTeOyX2hNYQnDK4b1uMtLjTCaOlb14I6rFRZMNEVwTJvrcOhk9gaYJZesnyJ7LIOH9dkxIcmnPCh6bdPj96JNSCOOuCj6ojQIDAQAB";

function tryOr<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/**
 * Asks the token what it really does: every capability is a real operation on throw-away session
 * objects, checked against a host-side known answer where there is one. Never touches user keys.
 */
export function probeCapabilities(p: pkcs11js.PKCS11, slot: Handle, asyncCalls: boolean, gcmProfile: GcmProfileOption = "auto"): Capabilities {
  const mechanisms = tryOr(() => p.C_GetMechanismList(slot), [] as number[]);
  const flags = P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION;
  const objSession = p.C_OpenSession(slot, flags);
  let opSession = p.C_OpenSession(slot, flags);
  /** Runs an operation; a failure may leave an operation active, so the op session is replaced. */
  const op = <T>(f: (s: Handle) => T): T | undefined => {
    try {
      return f(opSession);
    } catch {
      tryOr(() => p.C_CloseSession(opSession), undefined);
      opSession = p.C_OpenSession(slot, flags);
      return undefined;
    }
  };
  const eq = (a: Buffer | undefined, b: Buffer) => a !== undefined && a.length === b.length && a.equals(b);
  const secretKey = (keyType: number, value: Buffer, usage: pkcs11js.Template) =>
    p.C_CreateObject(objSession, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: keyType },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: false },
      { type: P.CKA_EXTRACTABLE, value: true },
      { type: P.CKA_VALUE, value },
      ...usage,
    ]);

  const kekValue = randomBytes(32);
  const secretValue = randomBytes(20);
  const aesValue = randomBytes(32);
  const hmacValue = randomBytes(64);
  const caps: Capabilities = {
    rsaPkcs1: false,
    rsaOaepHashes: [],
    rsaAesKeyWrapHashes: [],
    aesKeyWrapPadMechanism: null,
    aesKeyWrapPadSemantics: "unavailable",
    kwpPadsPrivateKeys: false,
    kwpPadsSecretKeys: false,
    aesGcm: false,
    gcm: null,
    aesGcmKeyWrap: false,
    aesEcbPadKeyWrap: false,
    digestKey: [],
    asyncCalls,
    rsaAesKeyWrapListed: mechanisms.includes(CKM_RSA_AES_KEY_WRAP),
    hmacHashes: [],
    mechanisms,
  };
  try {
    const kek = secretKey(P.CKK_AES, kekValue, [
      { type: P.CKA_WRAP, value: true },
      { type: P.CKA_UNWRAP, value: true },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
    ]);
    const secret = secretKey(P.CKK_GENERIC_SECRET, secretValue, [
      { type: P.CKA_SIGN, value: true },
      { type: P.CKA_VERIFY, value: true },
    ]);
    const aes = secretKey(P.CKK_AES, aesValue, [{ type: P.CKA_ENCRYPT, value: true }]);
    // Tokens may require an HMAC key at least as long as the hash (SoftHSM does): probe with 64 bytes.
    const hmacKey = secretKey(P.CKK_GENERIC_SECRET, hmacValue, [{ type: P.CKA_SIGN, value: true }]);

    // RFC 5649: which number. 0x210B is RFC 5649 in PKCS#11 v3.0; 0x210A means RFC 5649 to SoftHSM
    // 2.6 and nShield but PKCS#7 padding + RFC 3394 to NSS softokn (the spec's meaning), so each
    // number is told by what it outputs, never by the number: a 20-byte key (which exercises the
    // padding) is wrapped with both and compared with RFC 5649 and PKCS#7 + RFC 3394 computed here.
    // SoftHSM 2.6.1 zero-pads the key to a multiple of 8 before KWP, so the RFC 5649 length
    // indicator covers the zeros: that counts as RFC 5649 with kwpPadsSecretKeys.
    for (const mech of [CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD]) {
      const out = op((s) => Buffer.from(p.C_WrapKey(s, { mechanism: mech }, kek, secret, Buffer.alloc(256))));
      let semantics: KeyWrapPadSemantics = out === undefined ? "unavailable" : "other";
      let zeroPadded = false;
      if (out === undefined) {
        // refused
      } else if (eq(out, hostKwpWrap(kekValue, secretValue))) {
        semantics = "rfc5649";
      } else if (eq(out, hostPkcs7KwWrap(kekValue, secretValue))) {
        semantics = "pkcs7-rfc3394";
      } else {
        const plain = tryOr(() => hostKwpUnwrap(kekValue, out), undefined);
        if (
          plain &&
          plain.length > secretValue.length &&
          plain.subarray(0, secretValue.length).equals(secretValue) &&
          plain.subarray(secretValue.length).every((b) => b === 0)
        ) {
          semantics = "rfc5649";
          zeroPadded = true;
        }
        zeroize(plain);
      }
      if (mech === CKM_AES_KEY_WRAP_PAD) caps.aesKeyWrapPadSemantics = semantics;
      if (semantics === "rfc5649" && caps.aesKeyWrapPadMechanism === null) {
        caps.aesKeyWrapPadMechanism = mech;
        caps.kwpPadsSecretKeys = zeroPadded;
      }
    }

    // Does the token zero-pad PKCS#8 before KWP (SoftHSM 2.6.1)? Wrap a session EC key and look.
    if (caps.aesKeyWrapPadMechanism !== null) {
      const mech = caps.aesKeyWrapPadMechanism;
      const pair = op((s) =>
        p.C_GenerateKeyPair(
          s,
          { mechanism: P.CKM_EC_KEY_PAIR_GEN },
          [
            { type: P.CKA_TOKEN, value: false },
            { type: P.CKA_EC_PARAMS, value: Buffer.from("06082a8648ce3d030107", "hex") },
          ],
          [
            { type: P.CKA_TOKEN, value: false },
            { type: P.CKA_PRIVATE, value: true },
            { type: P.CKA_SENSITIVE, value: true },
            { type: P.CKA_EXTRACTABLE, value: true },
            { type: P.CKA_SIGN, value: true },
          ],
        ),
      );
      if (pair) {
        const wrapped = op((s) => Buffer.from(p.C_WrapKey(s, { mechanism: mech }, kek, pair.privateKey, Buffer.alloc(1024))));
        if (wrapped) {
          const plain = tryOr(() => hostKwpUnwrap(kekValue, wrapped), undefined);
          const len = plain ? derLength(plain) : undefined;
          caps.kwpPadsPrivateKeys = plain !== undefined && len !== undefined && plain.length > len;
          zeroize(plain);
        }
        tryOr(() => p.C_DestroyObject(objSession, pair.privateKey), undefined);
        tryOr(() => p.C_DestroyObject(objSession, pair.publicKey), undefined);
      }
    }

    // RSA wrapping under a public key (what BYOK needs).
    const spki = Buffer.from(PROBE_RSA_SPKI, "base64");
    const jwk = tryOr(() => createPublicKey({ key: spki, format: "der", type: "spki" }).export({ format: "jwk" }) as { n: string; e: string }, undefined);
    if (jwk) {
      const pub = p.C_CreateObject(objSession, [
        { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_MODULUS, value: Buffer.from(jwk.n, "base64url") },
        { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from(jwk.e, "base64url") },
        { type: P.CKA_WRAP, value: true },
        { type: P.CKA_ENCRYPT, value: true },
      ]);
      caps.rsaPkcs1 = op((s) => p.C_WrapKey(s, { mechanism: P.CKM_RSA_PKCS }, pub, aes, Buffer.alloc(512)).length === 256) ?? false;
      for (const h of HASH_NAMES) {
        if (op((s) => p.C_WrapKey(s, oaepMechanism(h), pub, aes, Buffer.alloc(512)).length === 256)) caps.rsaOaepHashes.push(h);
      }
    }

    // AES-GCM: who chooses the IV, where it comes back, what a bad tag says (gcm-profile.ts), each
    // checked against the host under the known key value. A named profile that does not match throws.
    const found = probeGcmProfile(
      {
        p,
        key: kek,
        op: (f) => {
          try {
            return { value: f(opSession) };
          } catch (error) {
            tryOr(() => p.C_CloseSession(opSession), undefined);
            opSession = p.C_OpenSession(slot, flags);
            return { error };
          }
        },
        hostSeal: (gcmIv, data) => {
          const c = createCipheriv("aes-256-gcm", kekValue, gcmIv);
          return Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
        },
      },
      gcmProfile,
    );
    if ("profile" in found) caps.gcm = found.profile;
    else caps.gcmRefusal = found.refusal;
    caps.aesGcm = caps.gcm !== null;
    const iv = randomBytes(12);

    // Key wrapping with GCM and with ECB (block-aligned key), by known answer.
    const gcmWrap = op((s) => Buffer.from(p.C_WrapKey(s, { mechanism: P.CKM_AES_GCM, parameter: gcmParameter(iv, undefined) }, kek, aes, Buffer.alloc(256))));
    const cg = createCipheriv("aes-256-gcm", kekValue, iv);
    caps.aesGcmKeyWrap = eq(gcmWrap, Buffer.concat([cg.update(aesValue), cg.final(), cg.getAuthTag()]));
    const ecbWrap = op((s) => Buffer.from(p.C_WrapKey(s, { mechanism: P.CKM_AES_ECB }, kek, aes, Buffer.alloc(256))));
    const ce = createCipheriv("aes-256-ecb", kekValue, null).setAutoPadding(false);
    caps.aesEcbPadKeyWrap = eq(ecbWrap, Buffer.concat([ce.update(aesValue), ce.final()]));

    // C_DigestKey and HMAC by known answer.
    for (const h of HASH_NAMES) {
      const d = op((s) => {
        p.C_DigestInit(s, { mechanism: HASHES[h].mech });
        p.C_DigestKey(s, secret);
        return Buffer.from(p.C_DigestFinal(s, Buffer.alloc(64)));
      });
      if (eq(d, createHash(h).update(secretValue).digest())) caps.digestKey.push(h);
      const data = randomBytes(16);
      const m = op((s) => {
        p.C_SignInit(s, { mechanism: HASHES[h].hmac }, hmacKey);
        return Buffer.from(p.C_Sign(s, data, Buffer.alloc(64)));
      });
      if (eq(m, createHmac(h, hmacValue).update(data).digest())) caps.hmacHashes.push(h);
    }
  } finally {
    zeroize(kekValue, secretValue, aesValue, hmacValue);
    tryOr(() => p.C_CloseSession(opSession), undefined);
    tryOr(() => p.C_CloseSession(objSession), undefined); // destroys every probe object
  }
  return caps;
}

/**
 * Is an RFC 5649 wrap (`kwpMechanism`) of this token's PKCS#8 exact for EC keys on the curve
 * `params`? A token that zero-pads PKCS#8 to a multiple of 8 before KWP (SoftHSM 2.6.1) adds nothing
 * when the length already is one. Checked on a throw-away session key pair of that curve, wrapped
 * under a session KEK whose value is known here and unwrapped on the host: exact when nothing
 * trails the PKCS#8, its length is a multiple of 8, and the private scalar has the curve's full
 * size (a fixed-size encoding, so every key on the curve has the same PKCS#8 length). Any failure
 * answers false (the caller then keeps the host-side path). Never touches user keys.
 */
export function probeEcPkcs8KwpExact(p: pkcs11js.PKCS11, session: Handle, kwpMechanism: number, params: Buffer, coordinateSize: number): boolean {
  const kekValue = randomBytes(32);
  let kek: Handle | undefined;
  let pair: pkcs11js.KeyPair | undefined;
  let plain: Buffer | undefined;
  try {
    kek = p.C_CreateObject(session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: false },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_VALUE, value: kekValue },
      { type: P.CKA_WRAP, value: true },
    ]);
    pair = p.C_GenerateKeyPair(
      session,
      { mechanism: P.CKM_EC_KEY_PAIR_GEN },
      [
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_EC_PARAMS, value: params },
      ],
      [
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: true },
        { type: P.CKA_SIGN, value: true },
      ],
    );
    const wrapped = Buffer.from(p.C_WrapKey(session, { mechanism: kwpMechanism }, kek, pair.privateKey, Buffer.alloc(1024)));
    plain = hostKwpUnwrap(kekValue, wrapped);
    const len = derLength(plain);
    return len === plain.length && len % 8 === 0 && ecPkcs8ScalarLength(plain) === coordinateSize;
  } catch {
    return false;
  } finally {
    zeroize(kekValue, plain);
    if (kek) tryOr(() => p.C_DestroyObject(session, kek!), undefined);
    if (pair) {
      tryOr(() => p.C_DestroyObject(session, pair!.privateKey), undefined);
      tryOr(() => p.C_DestroyObject(session, pair!.publicKey), undefined);
    }
  }
}
