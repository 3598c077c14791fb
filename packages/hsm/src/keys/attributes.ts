/**
 * What a key may do, read from and written to the token: listing keys, key facts, single usage
 * attributes, enable/disable (the usage attributes the token checks at every *Init), and the
 * refusal to wrap or export a disabled key (C_WrapKey only looks at CKA_EXTRACTABLE).
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { HsmError } from "../errors.js";
import { ensureOpen, type HsmContext } from "../context.js";
import type { HsmKey } from "../hsm-key.js";
import { KEY_SPECS, type KeySpec } from "../key-specs.js";
import type { KeyInfo, KeyUsage } from "../types.js";
import { attrs, attrsS, describeS, findS, lookup, publicHandle, publicHandleS, runSync, setAttrs, withHandle, withHandleS, type Steps } from "./handles.js";

const P = pkcs11js;

/** Attributes toggled by setKeyEnabled (and set at creation), per family and object class. */
export const USAGE: Record<KeySpec["family"], { key: number[]; pub: number[] }> = {
  aes: { key: [P.CKA_ENCRYPT, P.CKA_DECRYPT], pub: [] },
  hmac: { key: [P.CKA_SIGN, P.CKA_VERIFY], pub: [] },
  rsa: { key: [P.CKA_SIGN, P.CKA_DECRYPT], pub: [P.CKA_VERIFY, P.CKA_ENCRYPT] },
  ec: { key: [P.CKA_SIGN], pub: [P.CKA_VERIFY] },
};

/** Every secret and private key on the token whose type ciop knows, by name. */
export function listKeys(ctx: HsmContext): KeyInfo[] {
  ensureOpen(ctx);
  return runSync(ctx, listKeysS(ctx));
}

/** {@link listKeys} as reads (see {@link Steps}). */
export function* listKeysS(ctx: HsmContext): Steps<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
    for (const h of yield* findS([
      { type: P.CKA_CLASS, value: klass },
      { type: P.CKA_TOKEN, value: true },
    ])) {
      const key = yield* describeS(ctx, h, klass);
      if (key) out.push(yield* keyInfoS(ctx, key));
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function keyInfo(ctx: HsmContext, key: HsmKey): KeyInfo {
  return runSync(ctx, keyInfoS(ctx, key));
}

/** {@link keyInfo} as reads. */
export function* keyInfoS(ctx: HsmContext, key: HsmKey): Steps<KeyInfo> {
  const spec = KEY_SPECS[key.type];
  const usage = USAGE[spec.family].key;
  const a = yield* withHandleS(ctx, key, (h) => attrsS(h, [...usage, P.CKA_EXTRACTABLE, P.CKA_SENSITIVE], "reading key attributes"));
  return {
    name: key.name,
    type: key.type,
    id: key.id,
    createdByCiop: key.createdByCiop,
    enabled: usage.every((t) => a.get(t)?.[0] === 1),
    extractable: a.get(P.CKA_EXTRACTABLE)?.[0] === 1,
    sensitive: a.get(P.CKA_SENSITIVE)?.[0] === 1,
  };
}

const ATTRIBUTE_NAMES: Record<number, string> = {
  [P.CKA_ENCRYPT]: "CKA_ENCRYPT",
  [P.CKA_DECRYPT]: "CKA_DECRYPT",
  [P.CKA_SIGN]: "CKA_SIGN",
  [P.CKA_VERIFY]: "CKA_VERIFY",
};

const on = (m: Map<number, Buffer>, t: number) => m.get(t)?.[0] === 1;

/** Each usage attribute as the token has it now; a key pair's public-side usages come from its public half. */
export function keyUsage(ctx: HsmContext, key: HsmKey): KeyUsage {
  ensureOpen(ctx);
  return runSync(ctx, keyUsageS(ctx, key));
}

/** {@link keyUsage} as reads. */
export function* keyUsageS(ctx: HsmContext, key: HsmKey): Steps<KeyUsage> {
  const what = `reading the usage of key '${key.name}'`;
  if (key.kind === "secret") {
    const a = yield* withHandleS(ctx, key, (h) => attrsS(h, [P.CKA_ENCRYPT, P.CKA_DECRYPT, P.CKA_SIGN, P.CKA_VERIFY, P.CKA_WRAP, P.CKA_UNWRAP], what));
    return {
      encrypt: on(a, P.CKA_ENCRYPT),
      decrypt: on(a, P.CKA_DECRYPT),
      sign: on(a, P.CKA_SIGN),
      verify: on(a, P.CKA_VERIFY),
      wrap: on(a, P.CKA_WRAP),
      unwrap: on(a, P.CKA_UNWRAP),
    };
  }
  const priv = yield* withHandleS(ctx, key, (h) => attrsS(h, [P.CKA_DECRYPT, P.CKA_SIGN, P.CKA_UNWRAP], what));
  const pubH = yield* publicHandleS(key);
  const pub = pubH ? yield* attrsS(pubH, [P.CKA_ENCRYPT, P.CKA_VERIFY, P.CKA_WRAP], what) : new Map<number, Buffer>();
  return {
    encrypt: on(pub, P.CKA_ENCRYPT),
    decrypt: on(priv, P.CKA_DECRYPT),
    sign: on(priv, P.CKA_SIGN),
    verify: on(pub, P.CKA_VERIFY),
    wrap: on(pub, P.CKA_WRAP),
    unwrap: on(priv, P.CKA_UNWRAP),
  };
}

/** Sets the family's usage attributes (and the public half's) to `enabled`, in the token. */
export function setKeyEnabled(ctx: HsmContext, name: string, enabled: boolean): void {
  ensureOpen(ctx);
  const key = lookup(ctx, name);
  if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${ctx.token.label}'`);
  const usage = USAGE[KEY_SPECS[key.type].family];
  withHandle(ctx, key, (h) =>
    setAttrs(
      ctx,
      h,
      usage.key.map((type) => ({ type, value: enabled })),
      `${enabled ? "enabling" : "disabling"} key '${name}'`,
    ),
  );
  if (usage.pub.length > 0) {
    const pub = publicHandle(ctx, key);
    if (pub)
      setAttrs(
        ctx,
        pub,
        usage.pub.map((type) => ({ type, value: enabled })),
        `${enabled ? "enabling" : "disabling"} the public key of '${name}'`,
      );
  }
}

/**
 * Wrapping is governed by CKA_EXTRACTABLE, which a token only lets you clear for good, so the HSM
 * cannot refuse to wrap a disabled key; ciop refuses it here instead (one attribute read).
 */
export function requireEnabled(ctx: HsmContext, key: HsmKey, what: string): void {
  if (key.ephemeral) return;
  const usage = USAGE[KEY_SPECS[key.type].family].key;
  const a = withHandle(ctx, key, (h) => attrs(ctx, h, usage, "reading key attributes"));
  const off = usage.filter((t) => a.get(t)?.[0] !== 1).map((t) => ATTRIBUTE_NAMES[t] ?? `0x${t.toString(16)}`);
  if (off.length > 0) {
    throw new CiopError(
      "ERR_KEY_DISABLED",
      `key '${key.name}' is disabled (${off.map((n) => `${n} false`).join(", ")} in the token); ${what} it is refused until it is enabled again`,
      { details: { attributes: off } },
    );
  }
}

/** The usage attribute each operation's *Init checks, for {@link explainRefusal}. */
const INIT_USAGE: Record<string, number> = {
  C_EncryptInit: P.CKA_ENCRYPT,
  C_DecryptInit: P.CKA_DECRYPT,
  C_SignInit: P.CKA_SIGN,
};

/**
 * Turns an operation the token refused at its *Init into ERR_KEY_DISABLED naming the usage
 * attribute, when that attribute is false on the key now. Tokens word this refusal differently
 * (SoftHSM: CKR_KEY_FUNCTION_NOT_PERMITTED; NSS softokn: CKR_KEY_TYPE_INCONSISTENT), so the
 * attribute is read, on the failure path only. Any other error, or a failed read, is returned as is.
 */
export function explainRefusal(ctx: HsmContext, key: HsmKey, err: unknown): unknown {
  return runSync(ctx, explainRefusalS(key, err));
}

/** {@link explainRefusal} as reads (see {@link Steps}): the async GCM calls run its read off the event loop. */
export function* explainRefusalS(key: HsmKey, err: unknown): Steps<unknown> {
  if (!(err instanceof HsmError) || err.fn === undefined || !isRefusal(err.ckr)) return err;
  const type = INIT_USAGE[err.fn];
  if (type === undefined) return err;
  let allowed: boolean;
  try {
    allowed = (yield* attrsS(key.handle, [type], "reading the key's usage after a refusal")).get(type)?.[0] === 1;
  } catch {
    return err;
  }
  if (allowed) return err;
  const name = ATTRIBUTE_NAMES[type]!;
  return new HsmError(
    "ERR_KEY_DISABLED",
    `key '${key.name}' has ${name} false in the token, so the token refuses ${err.fn} with it (${err.ckr}); a disabled key, or a key made without that usage`,
    { cause: err, ckr: err.ckr, ckrCode: err.ckrCode, fn: err.fn },
  );
}

function isRefusal(ckr: string | undefined): boolean {
  return ckr === "CKR_KEY_FUNCTION_NOT_PERMITTED" || ckr === "CKR_KEY_TYPE_INCONSISTENT";
}
