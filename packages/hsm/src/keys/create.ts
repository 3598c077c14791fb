/**
 * Creating and deleting token keys: the templates of each key family, one key per name across
 * processes (a lock file per name, then the earliest CKA_ID wins), and the retry of a creation that
 * SoftHSM's file store failed under load.
 */
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { ensureOpen, specOf, type Handle, type HsmContext } from "../context.js";
import { call, callAsync, isCkr } from "../errors.js";
import { CIOP_ID_PREFIX, HsmKey } from "../hsm-key.js";
import type { KeySpec } from "../key-specs.js";
import { recoverLibrary } from "../lifecycle/restart.js";
import { withTokenLock } from "./token-lock.js";
import { acquireSession, releaseSession } from "../sessions.js";
import type { GenerateKeyOptions, KeyType } from "../types.js";
import { USAGE } from "./attributes.js";
import { describe, find, issue, lookup } from "./handles.js";

const P = pkcs11js;

function validateName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > 255 || hasControlChar(name)) {
    throw new CiopError("ERR_KEY_NAME_INVALID", `invalid key name ${JSON.stringify(name)}: use 1-255 bytes of printable UTF-8 (it becomes CKA_LABEL)`);
  }
}

/** True when `s` holds a C0 control character (U+0000-U+001F) or DEL (U+007F). */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** New CKA_ID: prefix ‖ 8-byte big-endian creation time (ms) ‖ 8 random bytes (earlier ids sort first). */
function newKeyId(): Buffer {
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(Date.now()));
  return Buffer.concat([Buffer.from(CIOP_ID_PREFIX), t, randomBytes(8)]);
}

/** Creates a key; ERR_KEY_EXISTS if a key with that name exists. */
export async function generateKey(ctx: HsmContext, name: string, type: KeyType, options: GenerateKeyOptions): Promise<HsmKey> {
  ensureOpen(ctx);
  validateName(name);
  const spec = specOf(type);
  return withNameLock(ctx, name, async () => {
    if (lookup(ctx, name)) throw new CiopError("ERR_KEY_EXISTS", `a key named '${name}' already exists on token '${ctx.token.label}'`);
    // (a token that refuses duplicate labels throws ERR_KEY_EXISTS from createKey, see labelTaken)
    const mine = await createKey(ctx, name, spec, options);
    const winner = settleDuplicates(ctx, name, mine);
    if (winner !== mine) throw new CiopError("ERR_KEY_EXISTS", `a key named '${name}' was created concurrently by another process`);
    return mine;
  });
}

/** The key `name`, created when missing; an existing key must be ciop's and of `type`. */
export async function getOrCreateKey(ctx: HsmContext, name: string, type: KeyType, options: GenerateKeyOptions): Promise<{ key: HsmKey; created: boolean }> {
  ensureOpen(ctx);
  validateName(name);
  const spec = specOf(type);
  return withNameLock(ctx, name, async () => {
    const existing = lookup(ctx, name);
    if (existing) return { key: checkReusable(ctx, existing, type), created: false };
    let mine: HsmKey;
    try {
      mine = await createKey(ctx, name, spec, options);
    } catch (err) {
      // a token that refuses duplicate labels: another process (without our lock) made the key first
      if (!(CiopError.isInstance(err) && err.details?.labelTaken === true)) throw err;
      const theirs = lookup(ctx, name);
      if (!theirs) {
        throw new CiopError(
          "ERR_KEY_EXISTS",
          `token '${ctx.token.label}' refuses the label '${name}': an object with that label exists, but it is not a secret or private key; choose another name`,
          { cause: err },
        );
      }
      return { key: checkReusable(ctx, theirs, type), created: false };
    }
    const winner = settleDuplicates(ctx, name, mine);
    return winner === mine ? { key: mine, created: true } : { key: checkReusable(ctx, winner, type), created: false };
  });
}

/** Destroys the key (and its public half). ERR_KEY_NOT_FOUND when there is none. */
export function deleteKey(ctx: HsmContext, name: string): void {
  ensureOpen(ctx);
  const key = lookup(ctx, name);
  if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${ctx.token.label}'`);
  destroyById(ctx, name, Buffer.from(key.id, "hex"));
  ctx.cache.delete(name);
  // that may have been the last token object: an empty token is believable again
  ctx.sawTokenKeys = false;
}

function checkReusable(ctx: HsmContext, key: HsmKey, type: KeyType): HsmKey {
  if (!key.createdByCiop) {
    throw new CiopError(
      "ERR_KEY_NOT_CIOP",
      `a key named '${key.name}' exists on token '${ctx.token.label}' but ciop did not create it (its CKA_ID lacks the ciop marker); choose another name`,
    );
  }
  if (key.type !== type) {
    throw new CiopError("ERR_KEY_TYPE_MISMATCH", `key '${key.name}' exists as ${key.type}, not ${type}`);
  }
  return key;
}

function withNameLock<T>(ctx: HsmContext, name: string, f: () => Promise<T>): Promise<T> {
  return withTokenLock(ctx, "key", name, f);
}

/**
 * Creates the token objects of a new key. SoftHSM's file store occasionally fails an object write
 * (CKR_GENERAL_ERROR) while other processes write to the same token; such an attempt is cleaned up
 * (its CKA_ID is unique) and retried, up to three attempts.
 */
async function createKey(ctx: HsmContext, name: string, spec: KeySpec, options: GenerateKeyOptions): Promise<HsmKey> {
  for (let attempt = 1; ; attempt++) {
    const id = newKeyId();
    try {
      return await createKeyOnce(ctx, name, spec, options, id);
    } catch (err) {
      if (labelTaken(ctx, name, err)) {
        throw new CiopError(
          "ERR_KEY_EXISTS",
          `a key named '${name}' already exists on token '${ctx.token.label}' (created by another process; the token refuses a second object with that label)`,
          { cause: err, details: { labelTaken: true } },
        );
      }
      if (attempt >= 3 || ctx.closed || !isCkr(err, "CKR_GENERAL_ERROR", "CKR_OBJECT_HANDLE_INVALID", "CKR_DEVICE_ERROR")) throw err;
      try {
        destroyById(ctx, name, id);
      } catch {
        /* nothing was left behind */
      }
      // SoftHSM marks the whole token invalid, for the rest of the process, when it indexes the token
      // while another process is rewriting token.object (every login does); from then on every
      // object creation fails with CKR_GENERAL_ERROR. Only a fresh C_Initialize clears that.
      if (isCkr(err, "CKR_GENERAL_ERROR")) recoverLibrary(ctx);
      await new Promise((r) => setTimeout(r, 25 * attempt + Math.floor(Math.random() * 50)));
    }
  }
}

/**
 * True when a creation failed because the token refuses a second object with the same label
 * (CloudHSM answers CKR_ATTRIBUTE_VALUE_INVALID): the failure is that code and an object with the
 * label is there now. A failed search leaves the original error standing.
 */
function labelTaken(ctx: HsmContext, name: string, err: unknown): boolean {
  if (!isCkr(err, "CKR_ATTRIBUTE_VALUE_INVALID")) return false;
  try {
    return (
      find(ctx, [
        { type: P.CKA_LABEL, value: name },
        { type: P.CKA_TOKEN, value: true },
      ]).length > 0
    );
  } catch {
    return false;
  }
}

async function createKeyOnce(ctx: HsmContext, name: string, spec: KeySpec, options: GenerateKeyOptions, id: Buffer): Promise<HsmKey> {
  const extractable = options.extractable ?? true;
  const common: pkcs11js.Template = [
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_LABEL, value: name },
    { type: P.CKA_ID, value: id },
    { type: P.CKA_MODIFIABLE, value: true },
  ];
  const secretAttrs: pkcs11js.Template = [
    ...common,
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: extractable },
  ];
  const session = await acquireSession(ctx);
  try {
    const what = `generating ${spec.type} key '${name}'`;
    if (spec.family === "aes" || spec.family === "hmac") {
      const aes = spec.family === "aes";
      const handle = await callAsync(
        "C_GenerateKey",
        () =>
          generateKeyCall(ctx, session, { mechanism: aes ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN }, [
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: aes ? P.CKK_AES : P.CKK_GENERIC_SECRET },
            { type: P.CKA_VALUE_LEN, value: spec.bytes! },
            ...secretAttrs,
            ...USAGE[spec.family].key.map((type) => ({ type, value: true })),
            { type: P.CKA_WRAP, value: false },
            { type: P.CKA_UNWRAP, value: false },
            { type: P.CKA_DERIVE, value: false },
          ]),
        what,
      );
      const key = issue(ctx.issuedKeys, new HsmKey({ name, type: spec.type, kind: "secret", id: id.toString("hex"), createdByCiop: true, handle }));
      ctx.cache.set(name, key);
      ctx.sawTokenKeys = true;
      return key;
    }
    const rsa = spec.family === "rsa";
    const pubTemplate: pkcs11js.Template = [
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_KEY_TYPE, value: rsa ? P.CKK_RSA : P.CKK_EC },
      ...common,
      { type: P.CKA_PRIVATE, value: false },
      ...(rsa
        ? [
            { type: P.CKA_MODULUS_BITS, value: spec.bits! },
            { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          ]
        : [{ type: P.CKA_EC_PARAMS, value: Buffer.from(spec.curve!.params, "hex") }]),
      ...USAGE[spec.family].pub.map((type) => ({ type, value: true })),
      { type: P.CKA_WRAP, value: false },
    ];
    const privTemplate: pkcs11js.Template = [
      { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
      { type: P.CKA_KEY_TYPE, value: rsa ? P.CKK_RSA : P.CKK_EC },
      ...secretAttrs,
      ...USAGE[spec.family].key.map((type) => ({ type, value: true })),
      { type: P.CKA_UNWRAP, value: false },
      { type: P.CKA_DERIVE, value: false },
    ];
    const pair = await callAsync(
      "C_GenerateKeyPair",
      () => generateKeyPairCall(ctx, session, { mechanism: rsa ? P.CKM_RSA_PKCS_KEY_PAIR_GEN : P.CKM_EC_KEY_PAIR_GEN }, pubTemplate, privTemplate),
      what,
    );
    const key = issue(
      ctx.issuedKeys,
      new HsmKey({
        name,
        type: spec.type,
        kind: "private",
        id: id.toString("hex"),
        createdByCiop: true,
        handle: pair.privateKey,
        publicHandle: pair.publicKey,
      }),
    );
    ctx.cache.set(name, key);
    ctx.sawTokenKeys = true;
    return key;
  } finally {
    releaseSession(ctx, session);
  }
}

/**
 * Key generation off the event loop (pkcs11js async = libuv threadpool) when the library was
 * initialised with OS locking; otherwise the sync call (async without locking corrupts SoftHSM).
 */
function generateKeyCall(ctx: HsmContext, s: Handle, m: pkcs11js.Mechanism, t: pkcs11js.Template): Promise<Handle> {
  return ctx.caps.asyncCalls ? ctx.p.C_GenerateKeyAsync(s, m, t) : Promise.resolve().then(() => ctx.p.C_GenerateKey(s, m, t));
}

function generateKeyPairCall(ctx: HsmContext, s: Handle, m: pkcs11js.Mechanism, pub: pkcs11js.Template, priv: pkcs11js.Template): Promise<pkcs11js.KeyPair> {
  return ctx.caps.asyncCalls ? ctx.p.C_GenerateKeyPairAsync(s, m, pub, priv) : Promise.resolve().then(() => ctx.p.C_GenerateKeyPair(s, m, pub, priv));
}

/**
 * Second guard after the lock: if two ciop keys now carry `name` (e.g. processes on two machines
 * sharing a token), the earliest CKA_ID wins and the later creator destroys its own key.
 */
function settleDuplicates(ctx: HsmContext, name: string, mine: HsmKey): HsmKey {
  const all: HsmKey[] = [];
  for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
    for (const h of find(ctx, [
      { type: P.CKA_CLASS, value: klass },
      { type: P.CKA_LABEL, value: name },
      { type: P.CKA_TOKEN, value: true },
    ])) {
      const k = describe(ctx, h, klass);
      if (k?.createdByCiop) all.push(k);
    }
  }
  if (all.length <= 1) return mine;
  all.sort((a, b) => a.id.localeCompare(b.id));
  const winner = all[0]!;
  if (winner.id === mine.id) return mine;
  destroyById(ctx, name, Buffer.from(mine.id, "hex"));
  ctx.cache.set(name, winner);
  return winner;
}

function destroyById(ctx: HsmContext, name: string, id: Buffer): void {
  for (const h of find(ctx, [
    { type: P.CKA_ID, value: id },
    { type: P.CKA_LABEL, value: name },
  ])) {
    call("C_DestroyObject", () => ctx.p.C_DestroyObject(ctx.objSession, h), `deleting key '${name}'`);
  }
}
