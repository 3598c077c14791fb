/**
 * Finding key objects and keeping their handles good: searches, attribute reads and writes, the
 * name → key cache, the re-find by CKA_ID of a stale handle, and the rule that an empty search is
 * "no such key" only when it can be trusted (confirmAbsent).
 */
import { closeSync, openSync } from "node:fs";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import type { Handle, HsmContext } from "../context.js";
import { HsmError, call, isCkr, toHsmError } from "../errors.js";
import { CIOP_ID_PREFIX, HsmKey } from "../hsm-key.js";
import { KEY_SPECS, keyTypeFrom } from "../key-specs.js";
import type { KeyType } from "../types.js";

const P = pkcs11js;

/** A CK_ULONG attribute value (8- or 4-byte little-endian). */
export function ulong(buf: Buffer): number {
  if (buf.length === 8) return Number(buf.readBigUInt64LE(0));
  if (buf.length === 4) return buf.readUInt32LE(0);
  return buf.length > 0 ? buf.readUIntLE(0, Math.min(buf.length, 6)) : 0;
}

/** Bit length of a big-endian RSA modulus. */
export function modulusBits(mod: Buffer): number {
  let i = 0;
  while (i < mod.length && mod[i] === 0) i++;
  if (i === mod.length) return 0;
  return (mod.length - i - 1) * 8 + (32 - Math.clz32(mod[i]!));
}

function isCiopId(id: Buffer): boolean {
  return id.length >= CIOP_ID_PREFIX.length && Buffer.from(CIOP_ID_PREFIX).equals(id.subarray(0, CIOP_ID_PREFIX.length));
}

/** Remembers an issued key/public key (weakly) so a library restart can fix its handle. */
export function issue<T extends object>(set: Set<WeakRef<T>>, obj: T): T {
  if (set.size > 4096) for (const r of set) if (!r.deref()) set.delete(r);
  set.add(new WeakRef(obj));
  return obj;
}

/** Handles of the objects matching `template` (at most `max`), on the object session. */
export function find(ctx: HsmContext, template: pkcs11js.Template, max = Infinity): Handle[] {
  const s = ctx.objSession;
  return call("C_FindObjects", () => {
    ctx.p.C_FindObjectsInit(s, template);
    try {
      const out: Handle[] = [];
      for (;;) {
        const want = Math.min(64, max - out.length);
        const batch = ctx.p.C_FindObjects(s, want);
        out.push(...batch);
        if (batch.length < want || out.length >= max) return out;
      }
    } finally {
      ctx.p.C_FindObjectsFinal(s);
    }
  });
}

/** Reads attributes of one object: type → raw value. */
export function attrs(ctx: HsmContext, h: Handle, types: number[], context: string): Map<number, Buffer> {
  const res = call(
    "C_GetAttributeValue",
    () =>
      ctx.p.C_GetAttributeValue(
        ctx.objSession,
        h,
        types.map((type) => ({ type })),
      ),
    context,
  );
  return new Map(res.map((a) => [a.type, a.value]));
}

/**
 * One token read of a key search, as data: key lookups are written as generators of these reads so
 * the same code runs synchronously on the object session ({@link runSync}) or, for a network HSM,
 * read by read in a worker thread on a pooled session (offload/reads.ts).
 */
export type Read =
  | { op: "find"; template: pkcs11js.Template; max: number }
  | { op: "attrs"; h: Handle; types: number[]; context: string }
  | { op: "sessionInfo" };

/** A key-lookup step: yields the reads it needs, returns its result. */
export type Steps<T> = Generator<Read, T, unknown>;

/** One search, as a read. */
export function* findS(template: pkcs11js.Template, max = Infinity): Steps<Handle[]> {
  return (yield { op: "find", template, max }) as Handle[];
}

/** One attribute read, as a read. */
export function* attrsS(h: Handle, types: number[], context: string): Steps<Map<number, Buffer>> {
  return (yield { op: "attrs", h, types, context }) as Map<number, Buffer>;
}

/** Runs `steps` with each read made now, on the object session. */
export function runSync<T>(ctx: HsmContext, steps: Steps<T>): T {
  let r = steps.next();
  while (!r.done) {
    let value: unknown;
    let failed = false;
    try {
      value = readSync(ctx, r.value);
    } catch (err) {
      failed = true;
      value = err;
    }
    r = failed ? steps.throw(value) : steps.next(value);
  }
  return r.value;
}

function readSync(ctx: HsmContext, r: Read): unknown {
  if (r.op === "find") return find(ctx, r.template, r.max);
  if (r.op === "attrs") return attrs(ctx, r.h, r.types, r.context);
  return ctx.p.C_GetSessionInfo(ctx.objSession);
}

export function setAttrs(ctx: HsmContext, h: Handle, template: pkcs11js.Template, context: string): void {
  call("C_SetAttributeValue", () => ctx.p.C_SetAttributeValue(ctx.objSession, h, template), context);
}

/** Fresh lookup of `name` on the token (updates the cache); undefined only when confirmed absent. */
export function lookup(ctx: HsmContext, name: string): HsmKey | undefined {
  return runSync(ctx, lookupS(ctx, name));
}

/** {@link lookup} as reads (see {@link Steps}). */
export function* lookupS(ctx: HsmContext, name: string): Steps<HsmKey | undefined> {
  const keys: HsmKey[] = [];
  for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
    for (const h of yield* findS([
      { type: P.CKA_CLASS, value: klass },
      { type: P.CKA_LABEL, value: name },
      { type: P.CKA_TOKEN, value: true },
    ])) {
      const k = yield* describeS(ctx, h, klass, true);
      if (k) keys.push(k);
    }
  }
  if (keys.length === 0) {
    yield* confirmAbsentS(ctx, `key '${name}'`);
    ctx.cache.delete(name);
    return undefined;
  }
  ctx.sawTokenKeys = true;
  // Two keys ciop made under one name are the short-lived state of a concurrent creation that
  // settleDuplicates (create.ts) resolves: the earliest CKA_ID is the key. Any other duplicate
  // (a key made by another tool, or two such keys) leaves no way to tell which key is meant.
  if (keys.length > 1 && !keys.every((k) => k.createdByCiop)) throw ambiguous(ctx, `label '${name}'`, keys);
  keys.sort((a, b) => a.id.localeCompare(b.id));
  const key = keys[0]!;
  ctx.cache.set(name, key);
  return key;
}

function ambiguous(ctx: HsmContext, what: string, keys: HsmKey[]): CiopError {
  const ids = keys.map((k) => (k.id === "" ? "(no CKA_ID)" : k.id));
  return new CiopError(
    "ERR_USAGE",
    `${keys.length} keys on token '${ctx.token.label}' carry ${what} (CKA_ID ${ids.join(", ")}), so it does not name one key; ` +
      "look the key up by its CKA_ID, or give the keys distinct labels",
    { details: { ambiguous: true, ids } },
  );
}

/**
 * Fresh lookup of a token key by CKA_ID (secret or private key; a key pair's public half shares the
 * id and is not counted). Not cached by name. Undefined only when confirmed absent; two keys with
 * the id are refused as ambiguous.
 */
export function lookupById(ctx: HsmContext, id: Buffer): HsmKey | undefined {
  const what = `CKA_ID ${id.toString("hex")}`;
  if (id.length === 0) throw new CiopError("ERR_USAGE", "an empty CKA_ID does not name a key");
  const keys: HsmKey[] = [];
  for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
    for (const h of find(ctx, [
      { type: P.CKA_CLASS, value: klass },
      { type: P.CKA_ID, value: id },
      { type: P.CKA_TOKEN, value: true },
    ])) {
      const k = describe(ctx, h, klass, true);
      if (k) keys.push(k);
    }
  }
  if (keys.length === 0) {
    confirmAbsent(ctx, `the key with ${what}`);
    return undefined;
  }
  ctx.sawTokenKeys = true;
  if (keys.length > 1) throw ambiguous(ctx, what, keys);
  return keys[0]!;
}

/** Builds an HsmKey from an object; undefined for types ciop does not handle (throws if `strict`). */
export function describe(ctx: HsmContext, h: Handle, klass: number, strict = false): HsmKey | undefined {
  return runSync(ctx, describeS(ctx, h, klass, strict));
}

/** {@link describe} as reads. */
export function* describeS(ctx: HsmContext, h: Handle, klass: number, strict = false): Steps<HsmKey | undefined> {
  // a secret key's length comes in the same read; a private key's size attribute depends on its type
  const secret = klass === P.CKO_SECRET_KEY;
  const a = yield* attrsS(
    h,
    secret ? [P.CKA_KEY_TYPE, P.CKA_ID, P.CKA_LABEL, P.CKA_VALUE_LEN] : [P.CKA_KEY_TYPE, P.CKA_ID, P.CKA_LABEL],
    "reading key attributes",
  );
  const keyType = ulong(a.get(P.CKA_KEY_TYPE)!);
  const id = a.get(P.CKA_ID) ?? Buffer.alloc(0);
  const name = (a.get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8");
  let type: KeyType | undefined;
  if (secret) {
    const len = ulong(a.get(P.CKA_VALUE_LEN)!);
    if (keyType === P.CKK_AES) type = keyTypeFrom("aes", len);
    else if (
      keyType === P.CKK_GENERIC_SECRET ||
      [P.CKK_SHA_1_HMAC, P.CKK_SHA256_HMAC, P.CKK_SHA384_HMAC, P.CKK_SHA512_HMAC, P.CKK_SHA224_HMAC].includes(keyType)
    ) {
      type = keyTypeFrom("hmac", len);
    }
  } else if (keyType === P.CKK_RSA) {
    type = keyTypeFrom("rsa", modulusBits((yield* attrsS(h, [P.CKA_MODULUS], "reading CKA_MODULUS")).get(P.CKA_MODULUS)!));
  } else if (keyType === P.CKK_EC) {
    type = keyTypeFrom("ec", (yield* attrsS(h, [P.CKA_EC_PARAMS], "reading CKA_EC_PARAMS")).get(P.CKA_EC_PARAMS)!.toString("hex"));
  }
  if (!type) {
    if (strict)
      throw new CiopError(
        "ERR_KEY_TYPE_UNSUPPORTED",
        `key ${name === "" ? `with CKA_ID ${id.toString("hex")} (no label)` : `'${name}'`} exists on the token but its type (CKK 0x${keyType.toString(16)}) is not one ciop handles`,
      );
    return undefined;
  }
  return issue(ctx.issuedKeys, new HsmKey({ name, type, kind: KEY_SPECS[type].kind, id: id.toString("hex"), createdByCiop: isCiopId(id), handle: h }));
}

/** The handle of a key pair's public half (same CKA_ID), looked up once. */
export function publicHandle(ctx: HsmContext, key: HsmKey): Handle | undefined {
  return runSync(ctx, publicHandleS(key));
}

/** {@link publicHandle} as reads. */
export function* publicHandleS(key: HsmKey): Steps<Handle | undefined> {
  if (key.kind !== "private") return undefined;
  if (key.publicHandle) return key.publicHandle;
  const found = yield* findS([
    { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
    { type: P.CKA_ID, value: Buffer.from(key.id, "hex") },
  ]);
  key.publicHandle = found[0];
  return key.publicHandle;
}

// ---------------------------------------------------------------- stale handles

/** The token refused a token key's handle as stale: worth one re-find by CKA_ID. */
export function isStaleHandle(key: HsmKey, err: unknown): boolean {
  return !key.ephemeral && isCkr(err, "CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID");
}

/** Runs `f` with the key's handle; on a stale handle, re-finds the key by CKA_ID once and retries. */
export function withHandle<T>(ctx: HsmContext, key: HsmKey, f: (h: Handle) => T): T {
  try {
    return f(key.handle);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    try {
      return f(key.handle);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

/** Async flavour of {@link withHandle}. */
export async function withHandleAsync<T>(ctx: HsmContext, key: HsmKey, f: (h: Handle) => Promise<T>): Promise<T> {
  try {
    return await f(key.handle);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    try {
      return await f(key.handle);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

/** {@link withHandle} for reads (see {@link Steps}). */
export function* withHandleS<T>(ctx: HsmContext, key: HsmKey, f: (h: Handle) => Steps<T>): Steps<T> {
  try {
    return yield* f(key.handle);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    yield* refindS(ctx, key, err);
    try {
      return yield* f(key.handle);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

/** A key the search has just found whose fresh handle is refused as well: the token is misbehaving, the key is there. */
export function refusedAfterRefind(ctx: HsmContext, key: HsmKey, err: unknown): unknown {
  if (!isCkr(err, "CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID")) return err;
  const e = toHsmError(err, "C_FindObjects");
  return new HsmError("ERR_HSM", `key '${key.name}' was found on token '${ctx.token.label}' but the token refused its handle again (${e.ckr}); retry later`, {
    cause: err,
    ckr: e.ckr,
    ckrCode: e.ckrCode,
    fn: e.fn,
    unavailable: true,
  });
}

/** Re-finds a token key by CKA_ID after its handle went stale (updates `key.handle`). */
export function refind(ctx: HsmContext, key: HsmKey, cause: unknown): void {
  runSync(ctx, refindS(ctx, key, cause));
}

/** {@link refind} as reads. */
export function* refindS(ctx: HsmContext, key: HsmKey, cause: unknown): Steps<void> {
  const klass = key.kind === "secret" ? P.CKO_SECRET_KEY : P.CKO_PRIVATE_KEY;
  const template = [
    { type: P.CKA_CLASS, value: klass },
    { type: P.CKA_ID, value: Buffer.from(key.id, "hex") },
    { type: P.CKA_TOKEN, value: true },
  ];
  // SoftHSM rewrites an object file in place, so a search that races another process's attribute
  // write can miss the object once: look twice before calling the key gone.
  let found = yield* findS(template);
  if (found.length === 0) found = yield* findS(template);
  if (found.length === 0) {
    yield* confirmAbsentS(ctx, `key '${key.name}'`);
    ctx.cache.delete(key.name);
    throw new CiopError("ERR_KEY_NOT_FOUND", `key '${key.name}' no longer exists on token '${ctx.token.label}'`, { cause });
  }
  ctx.sawTokenKeys = true;
  key.handle = found[0]!;
  key.publicHandle = undefined;
}

/**
 * Called before an empty search result becomes "no such key": checks that the answer can be
 * trusted, else throws an {@link HsmError} with `unavailable` set. An empty result is not
 * trusted when this process has no file descriptor left (a library that cannot open its files
 * may answer "nothing found": SoftHSM's file store does), when the login session no longer
 * answers, or when the token, which showed keys to this context before, now shows no token
 * object at all (SoftHSM keeps answering that way after it once failed to read its files).
 */
export function confirmAbsent(ctx: HsmContext, what: string): void {
  runSync(ctx, confirmAbsentS(ctx, what));
}

/** {@link confirmAbsent} as reads (the session check runs on the session the other reads use). */
export function* confirmAbsentS(ctx: HsmContext, what: string): Steps<void> {
  try {
    closeSync(openSync("/dev/null", "r"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EMFILE" || code === "ENFILE") {
      throw new HsmError(
        "ERR_HSM",
        `cannot tell whether ${what} exists on token '${ctx.token.label}': this process has no file descriptor left (${code}); retry later`,
        {
          cause: err,
          unavailable: true,
        },
      );
    }
  }
  const unavailable = (err: unknown): HsmError => {
    const e = toHsmError(err, "C_GetSessionInfo");
    return new HsmError("ERR_HSM", `cannot tell whether ${what} exists on token '${ctx.token.label}': ${e.message}`, {
      cause: err,
      ckr: e.ckr,
      ckrCode: e.ckrCode,
      fn: e.fn,
      unavailable: true,
    });
  };
  try {
    yield { op: "sessionInfo" };
  } catch (err) {
    throw unavailable(err);
  }
  if (!ctx.sawTokenKeys) return;
  let any: Handle[];
  try {
    any = yield* findS([{ type: P.CKA_TOKEN, value: true }], 1);
  } catch (err) {
    throw unavailable(err);
  }
  if (any.length === 0) {
    throw new HsmError(
      "ERR_HSM",
      `cannot tell whether ${what} exists on token '${ctx.token.label}': the token, which showed keys before, now shows no object at all; retry later`,
      {
        unavailable: true,
      },
    );
  }
}
