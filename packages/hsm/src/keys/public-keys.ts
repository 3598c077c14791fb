/**
 * Public keys: a provider's RSA wrapping key imported as a session object, and the
 * SubjectPublicKeyInfo of a key pair held on the token.
 */
import { createPublicKey } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { ensureOpen, type Handle, type HsmContext } from "../context.js";
import { ecPointRaw } from "../der.js";
import { HsmError, call } from "../errors.js";
import { HsmPublicKey, type HsmKey } from "../hsm-key.js";
import { KEY_SPECS } from "../key-specs.js";
import { attrs, issue, modulusBits, publicHandle } from "./handles.js";

const P = pkcs11js;

/** Imports an RSA SubjectPublicKeyInfo (DER) as a session object with CKA_WRAP and CKA_ENCRYPT. */
export function importPublicKey(ctx: HsmContext, spkiDer: Uint8Array): HsmPublicKey {
  ensureOpen(ctx);
  let jwk: { kty?: string; n?: string; e?: string };
  try {
    const k = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
    jwk = k.export({ format: "jwk" }) as typeof jwk;
  } catch (err) {
    throw new CiopError("ERR_WRAPPING_KEY_INVALID", "the wrapping key is not a valid DER SubjectPublicKeyInfo", { cause: err });
  }
  if (jwk.kty !== "RSA" || !jwk.n || !jwk.e) {
    throw new CiopError("ERR_WRAPPING_KEY_INVALID", `the wrapping key is ${jwk.kty ?? "unknown"}, but only RSA public keys can wrap in the HSM`);
  }
  const n = Buffer.from(jwk.n, "base64url");
  const handle = createRsaPublicObject(ctx, n, Buffer.from(jwk.e!, "base64url"));
  return issue(ctx.issuedPubs, new HsmPublicKey(modulusBits(n), Uint8Array.from(spkiDer), handle));
}

/** The session object behind an imported RSA public key (also used to re-import after a library restart). */
export function createRsaPublicObject(ctx: HsmContext, n: Buffer, e: Buffer): Handle {
  return call(
    "C_CreateObject",
    () =>
      ctx.p.C_CreateObject(ctx.objSession, [
        { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_PRIVATE, value: false },
        { type: P.CKA_MODULUS, value: n },
        { type: P.CKA_PUBLIC_EXPONENT, value: e },
        { type: P.CKA_WRAP, value: true },
        { type: P.CKA_ENCRYPT, value: true },
        { type: P.CKA_VERIFY, value: false },
        { type: P.CKA_LABEL, value: "ciop-wrapping-key" },
      ]),
    "importing the wrapping key",
  );
}

/** Destroys an imported public key's session object. */
export function releasePublicKey(ctx: HsmContext, pub: HsmPublicKey): void {
  if (!pub.handle || ctx.closed) return;
  const h = pub.handle;
  pub.handle = undefined;
  try {
    ctx.p.C_DestroyObject(ctx.objSession, h);
  } catch {
    /* session objects also vanish with the session */
  }
}

/** SubjectPublicKeyInfo (DER) of an RSA or EC key pair. */
export function publicKeyOf(ctx: HsmContext, key: HsmKey): Uint8Array {
  ensureOpen(ctx);
  const spec = KEY_SPECS[key.type];
  if (spec.family === "rsa") {
    const src = publicHandle(ctx, key) ?? key.handle;
    const a = attrs(ctx, src, [P.CKA_MODULUS, P.CKA_PUBLIC_EXPONENT], "reading the RSA public key");
    const jwk = { kty: "RSA", n: a.get(P.CKA_MODULUS)!.toString("base64url"), e: a.get(P.CKA_PUBLIC_EXPONENT)!.toString("base64url") };
    return new Uint8Array(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
  }
  if (spec.family === "ec") {
    const pub = publicHandle(ctx, key);
    if (!pub) throw new CiopError("ERR_KEY_NOT_FOUND", `the public half of EC key '${key.name}' is missing from the token (no CKO_PUBLIC_KEY with its CKA_ID)`);
    const a = attrs(ctx, pub, [P.CKA_EC_POINT], "reading the EC public key");
    const c = spec.curve!;
    const point = ecPointRaw(a.get(P.CKA_EC_POINT)!, c.size);
    if (point.length !== 1 + 2 * c.size || point[0] !== 0x04) throw new HsmError("ERR_HSM", `unexpected CKA_EC_POINT encoding for '${key.name}'`);
    const jwk = {
      kty: "EC",
      crv: c.name,
      x: Buffer.from(point.subarray(1, 1 + c.size)).toString("base64url"),
      y: Buffer.from(point.subarray(1 + c.size)).toString("base64url"),
    };
    return new Uint8Array(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
  }
  throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is a ${key.type} secret key and has no public key`);
}
