/**
 * Session keys: ephemeral AES keys made in the token for compositions, AES keys imported from host
 * bytes (an ephemeral key-encryption key), and session copies of token keys for the hot path.
 * They vanish with the PKCS#11 session; destroy them as soon as the operation is done.
 */
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { ensureOpen, requireAes, type Handle, type HsmContext } from "../context.js";
import { call, isCkr } from "../errors.js";
import { HsmKey } from "../hsm-key.js";
import type { KeyType } from "../types.js";
import { issue, withHandle } from "./handles.js";

const P = pkcs11js;

/** An extractable, sensitive session AES key (CKA_WRAP, CKA_ENCRYPT, CKA_DECRYPT). */
export function generateSessionAesKey(ctx: HsmContext, bits: 128 | 192 | 256): HsmKey {
  ensureOpen(ctx);
  const handle = call(
    "C_GenerateKey",
    () =>
      ctx.p.C_GenerateKey(ctx.objSession, { mechanism: P.CKM_AES_KEY_GEN }, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
        { type: P.CKA_VALUE_LEN, value: bits / 8 },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: true },
        { type: P.CKA_WRAP, value: true },
        { type: P.CKA_ENCRYPT, value: true },
        { type: P.CKA_DECRYPT, value: true },
      ]),
    "generating an ephemeral AES key",
  );
  return issue(
    ctx.issuedKeys,
    new HsmKey({ name: "ciop-ephemeral", type: `AES-${bits}` as KeyType, kind: "secret", id: "", createdByCiop: true, ephemeral: true, handle }),
  );
}

/** Destroys a session key (ephemeral or a session copy). */
export function destroySessionKey(ctx: HsmContext, key: HsmKey): void {
  if (!key.ephemeral) throw new CiopError("ERR_USAGE", `destroySessionKey only destroys ephemeral session keys; use deleteKey('${key.name}')`);
  destroyHandle(ctx, key.handle);
}

/** A session-object copy of a token AES key (C_CopyObject with CKA_TOKEN false). */
export function sessionCopy(ctx: HsmContext, key: HsmKey): HsmKey {
  ensureOpen(ctx);
  requireAes(key);
  if (key.ephemeral) throw new CiopError("ERR_USAGE", "sessionCopy copies token keys; this key is already a session key");
  const what = `making a session copy of '${key.name}'`;
  const handle = withHandle(ctx, key, (h) => {
    try {
      return call("C_CopyObject", () => ctx.p.C_CopyObject(ctx.objSession, h, [{ type: P.CKA_TOKEN, value: false }]), what);
    } catch (err) {
      // A token that refuses duplicate labels and ids (CloudHSM: CKR_ATTRIBUTE_VALUE_INVALID) also
      // refuses a copy that keeps the original's: give the copy a label and id of its own.
      if (!isCkr(err, "CKR_ATTRIBUTE_VALUE_INVALID")) throw err;
      const tag = randomBytes(8).toString("hex");
      return call(
        "C_CopyObject",
        () =>
          ctx.p.C_CopyObject(ctx.objSession, h, [
            { type: P.CKA_TOKEN, value: false },
            { type: P.CKA_LABEL, value: `ciop-session-copy-${tag}` },
            { type: P.CKA_ID, value: Buffer.from(`ciop-copy-${tag}`) },
          ]),
        `${what} under a label of its own`,
      );
    }
  });
  return issue(
    ctx.issuedKeys,
    new HsmKey({ name: key.name, type: key.type, kind: key.kind, id: key.id, createdByCiop: key.createdByCiop, ephemeral: true, handle }),
  );
}

/** A sensitive, non-extractable session AES key with the given value (a host-made ephemeral key). */
export function createSessionAes(ctx: HsmContext, value: Buffer, usage: { wrap?: boolean; unwrap?: boolean }): Handle {
  return call(
    "C_CreateObject",
    () =>
      ctx.p.C_CreateObject(ctx.objSession, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: false },
        { type: P.CKA_VALUE, value: value },
        { type: P.CKA_WRAP, value: usage.wrap ?? false },
        { type: P.CKA_UNWRAP, value: usage.unwrap ?? false },
      ]),
    "importing an ephemeral key-encryption key",
  );
}

/** Destroys a session object, ignoring failures (session objects also vanish with the session). */
export function destroyHandle(ctx: HsmContext, h: Handle): void {
  try {
    ctx.p.C_DestroyObject(ctx.objSession, h);
  } catch {
    /* session objects also vanish with the session */
  }
}
