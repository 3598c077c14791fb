/**
 * Digests in the token: C_DigestKey (a key check value, never the value) and HMAC with a
 * generic-secret key (C_Sign with CKM_SHA*_HMAC), both on the operation session.
 */
import { CiopError } from "@ciop/core";
import { DISABLED, ensureOpen, requireHash, type HsmContext } from "./context.js";
import { call } from "./errors.js";
import type { HsmKey } from "./hsm-key.js";
import { KEY_SPECS } from "./key-specs.js";
import { withHandle } from "./keys/handles.js";
import { HASHES } from "./mechanisms.js";
import { onOpSession } from "./sessions.js";
import type { HashName } from "./types.js";

/** C_DigestKey: hash of a secret key's value. */
export function digestKey(ctx: HsmContext, key: HsmKey, hash: HashName): Uint8Array {
  ensureOpen(ctx);
  requireHash(hash);
  return withHandle(ctx, key, (h) =>
    onOpSession(ctx, "C_DigestKey", `digesting '${key.name}'`, (s) => {
      ctx.p.C_DigestInit(s, { mechanism: HASHES[hash].mech });
      ctx.p.C_DigestKey(s, h);
      return new Uint8Array(ctx.p.C_DigestFinal(s, Buffer.alloc(64)));
    }),
  );
}

/** HMAC of `data` with a generic-secret key. */
export function signHmac(ctx: HsmContext, key: HsmKey, hash: HashName, data: Uint8Array): Uint8Array {
  ensureOpen(ctx);
  requireHash(hash);
  if (KEY_SPECS[key.type].family !== "hmac") throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is ${key.type}, not an HMAC key`);
  return withHandle(ctx, key, (h) => {
    call("C_SignInit", () => ctx.p.C_SignInit(ctx.opSession, { mechanism: HASHES[hash].hmac }, h), `using key '${key.name}'`, DISABLED);
    return onOpSession(ctx, "C_Sign", `HMAC with '${key.name}'`, (s) => new Uint8Array(ctx.p.C_Sign(s, Buffer.from(data), Buffer.alloc(64))));
  });
}
