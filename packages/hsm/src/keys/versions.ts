/**
 * Versions of a key, and the record kept next to each version on the token.
 *
 * Labels (the scheme xks-proxy introduced): version 1 is the key labelled `<name>`, version N ≥ 2 the
 * key labelled `<name>~v<N>`. Which versions exist is read from the token, like any key.
 *
 * Record: a private token data object (CKO_DATA, CKA_APPLICATION {@link KEY_VERSION_APPLICATION},
 * CKA_LABEL `<version label>~meta~<CKA_ID of the version's key>`) whose CKA_VALUE is a small JSON
 * document: the family name, the version, the CKA_ID of the key it describes and of the family's
 * version 1 when it was written, when it was made, a description and free-form annotations (e.g.
 * the id a cloud gave the imported material). It lives on the token so it travels with the HSM
 * (backups, clusters) instead of sitting in a file on one host. A token that refuses token data
 * objects (NSS softokn does) cannot keep it: {@link generateKeyVersion} then refuses before any key
 * is made, and {@link writeKeyVersionRecord} refuses too; nothing is dropped silently. Records
 * written before the CKA_ID went into the label (`<version label>~meta`) are still read.
 *
 * SoftHSM makes CKA_VALUE of a data object read-only once created, so a record is changed by
 * creating the new object first and then destroying the old ones, under a lock file per version
 * (so two writers on one host cannot destroy each other's record). The new object gets a label no
 * other object has (a token such as CloudHSM refuses duplicate labels) and is renamed to the plain
 * label once the old ones are gone. A crash in between leaves two; reading takes, per version and
 * key, the newest `updated`, and ignores placeholders (empty keyId).
 */
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { ensureOpen, type Handle, type HsmContext } from "../context.js";
import { call, isCkr } from "../errors.js";
import type { HsmKey } from "../hsm-key.js";
import { withTokenLock } from "./token-lock.js";
import type { GenerateKeyOptions, KeyType } from "../types.js";
import { deleteKey, generateKey } from "./create.js";
import { attrs, find, lookup } from "./handles.js";

const P = pkcs11js;

/** Separates a family name from its version number in a version key's label. @public */
export const KEY_VERSION_SEPARATOR = "~v";

/** Highest version number a label can carry (the XKS ciphertext metadata's limit, 0xffff). @public */
export const KEY_VERSION_MAX = 0xffff;

/** CKA_APPLICATION of the version records. @public */
export const KEY_VERSION_APPLICATION = "ciop key version";

/** Appended to a version's label to form its record's CKA_LABEL (then `~<keyId>`). */
const RECORD_LABEL_SUFFIX = "~meta";

/**
 * A record's CKA_VALUE is refused above this size (a record is a few hundred bytes). It is also the
 * buffer a record is read into: a larger value is refused by the token (CKR_BUFFER_TOO_SMALL)
 * before any of it reaches this process.
 */
const MAX_RECORD_BYTES = 4096;

const VERSION_LABEL = /^([\s\S]+)~v([1-9][0-9]{0,4})$/;

/** The CKA_LABEL of version `version` of key family `name`. @public */
export function keyVersionLabel(name: string, version: number): string {
  if (!Number.isInteger(version) || version < 1 || version > KEY_VERSION_MAX) throw new RangeError(`key version ${version} is outside 1..${KEY_VERSION_MAX}`);
  return version === 1 ? name : `${name}${KEY_VERSION_SEPARATOR}${version}`;
}

/** The family and version a label names, when it is a version label (version 2..{@link KEY_VERSION_MAX}). @public */
export function parseKeyVersionLabel(label: string): { name: string; version: number } | undefined {
  const m = VERSION_LABEL.exec(label);
  if (!m) return undefined;
  const version = Number(m[2]);
  return version >= 2 && version <= KEY_VERSION_MAX ? { name: m[1]!, version } : undefined;
}

/** What is recorded about one version of a key. @public */
export interface KeyVersionRecord {
  /** Family name (the label of version 1). */
  readonly name: string;
  readonly version: number;
  /** CKA_LABEL of the version's key. */
  readonly label: string;
  /** CKA_ID (hex) of the key this record describes; a record whose key is gone or was replaced is stale. */
  readonly keyId: string;
  /**
   * CKA_ID (hex) of the family's version 1 when the record was written; a version 1 with another
   * CKA_ID now was made again after this version (null in records written before it was kept).
   */
  readonly v1KeyId: string | null;
  /** ISO time the version was made (or first recorded). */
  readonly created: string;
  /** ISO time of the last change to the record. */
  readonly updated: string;
  readonly description: string | null;
  /** Free-form facts, e.g. `{ "aws.keyMaterialId": "…" }`. */
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * The fields a caller sets when writing a record. `v1KeyId` left out: the CKA_ID of the key
 * labelled `name` on the token now (null when there is none).
 * @public
 */
export type KeyVersionRecordInput = Omit<KeyVersionRecord, "label" | "updated" | "v1KeyId"> & { updated?: string; v1KeyId?: string | null };

/** The plain CKA_LABEL of the record of the version labelled `versionLabel` whose key has CKA_ID `keyId`. */
function recordLabel(versionLabel: string, keyId: string): string {
  return `${versionLabel}${RECORD_LABEL_SUFFIX}~${keyId}`;
}

/** Matches what follows the version label in a record's CKA_LABEL: `~meta` (older records), `~meta~<keyId>`, `~meta~<keyId>~<tag>`. */
const RECORD_LABEL_TAIL = /^~meta(?:~[0-9a-z-]{1,200}){0,2}$/;

/** True when `label` is the CKA_LABEL of a record (any form) of the version labelled `versionLabel`. */
function isRecordLabelOf(label: string, versionLabel: string): boolean {
  return label.startsWith(versionLabel) && RECORD_LABEL_TAIL.test(label.slice(versionLabel.length));
}

/** The version of family `name` whose record `label` can be, if any. */
function recordVersionOf(label: string, name: string): number | undefined {
  if (!label.startsWith(name)) return undefined;
  const rest = label.slice(name.length);
  if (RECORD_LABEL_TAIL.test(rest)) return 1;
  const m = /^~v([1-9][0-9]{0,4})(~[\s\S]*)$/.exec(rest);
  if (!m || !RECORD_LABEL_TAIL.test(m[2]!)) return undefined;
  const v = Number(m[1]);
  return v >= 2 && v <= KEY_VERSION_MAX ? v : undefined;
}

function encode(r: KeyVersionRecord): Buffer {
  const doc = {
    format: 1,
    name: r.name,
    version: r.version,
    keyId: r.keyId,
    v1KeyId: r.v1KeyId,
    created: r.created,
    updated: r.updated,
    description: r.description,
    annotations: r.annotations,
  };
  const bytes = Buffer.from(JSON.stringify(doc), "utf8");
  if (bytes.length > MAX_RECORD_BYTES)
    throw new CiopError("ERR_USAGE", `the record of key version '${r.label}' would be ${bytes.length} bytes; at most ${MAX_RECORD_BYTES}`);
  return bytes;
}

/** A record read back; undefined for anything that is not a well-formed record (never trusted blindly). */
function decode(value: Buffer | undefined): KeyVersionRecord | undefined {
  if (value === undefined || value.length > MAX_RECORD_BYTES) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(value.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  if (d.format !== 1 || typeof d.name !== "string" || typeof d.keyId !== "string" || typeof d.created !== "string" || typeof d.updated !== "string")
    return undefined;
  if (typeof d.version !== "number" || !Number.isInteger(d.version) || d.version < 1 || d.version > KEY_VERSION_MAX) return undefined;
  if (d.description !== null && typeof d.description !== "string") return undefined;
  if (d.v1KeyId !== undefined && d.v1KeyId !== null && typeof d.v1KeyId !== "string") return undefined;
  const annotations: Record<string, string> = {};
  if (typeof d.annotations === "object" && d.annotations !== null) {
    for (const [k, v] of Object.entries(d.annotations as Record<string, unknown>)) if (typeof v === "string") annotations[k] = v;
  }
  return {
    name: d.name,
    version: d.version,
    label: keyVersionLabel(d.name, d.version),
    keyId: d.keyId,
    v1KeyId: typeof d.v1KeyId === "string" ? d.v1KeyId : null,
    created: d.created,
    updated: d.updated,
    description: d.description as string | null,
    annotations,
  };
}

/** CKRs with which a token says it does not keep token data objects (NSS softokn: CKR_ATTRIBUTE_VALUE_INVALID). */
const NO_DATA_OBJECTS = ["CKR_ATTRIBUTE_VALUE_INVALID", "CKR_TEMPLATE_INCONSISTENT", "CKR_ATTRIBUTE_TYPE_INVALID", "CKR_FUNCTION_NOT_SUPPORTED"];

/**
 * Creates a record object labelled `label`. A token that refuses data objects gets
 * ERR_MECHANISM_UNSUPPORTED; a token that refuses the label because an object has it already
 * (duplicate labels refused, as on CloudHSM) gets ERR_KEY_EXISTS.
 */
function createRecordObject(ctx: HsmContext, r: KeyVersionRecord, label: string): Handle {
  const value = encode(r);
  try {
    return call(
      "C_CreateObject",
      () =>
        ctx.p.C_CreateObject(ctx.objSession, [
          { type: P.CKA_CLASS, value: P.CKO_DATA },
          { type: P.CKA_TOKEN, value: true },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_LABEL, value: label },
          { type: P.CKA_APPLICATION, value: KEY_VERSION_APPLICATION },
          { type: P.CKA_VALUE, value },
        ]),
      `recording key version '${r.label}'`,
    );
  } catch (err) {
    if (isCkr(err, ...NO_DATA_OBJECTS)) {
      // the token kept data objects before (the label is taken by one): not a missing capability
      if (isCkr(err, "CKR_ATTRIBUTE_VALUE_INVALID") && find(ctx, [{ type: P.CKA_LABEL, value: label }], 1).length > 0) {
        throw new CiopError(
          "ERR_KEY_EXISTS",
          `token '${ctx.token.label}' refuses the label '${label}' for the record of key version '${r.label}': an object has it already`,
          {
            cause: err,
            details: { labelTaken: true },
          },
        );
      }
      throw new CiopError(
        "ERR_MECHANISM_UNSUPPORTED",
        `token '${ctx.token.label}' does not keep data objects (CKO_DATA token objects), where ciop records a key version's ` +
          "description, creation time and cloud ids; key versions cannot be made or annotated on this token",
        { cause: err, details: { need: "CKO_DATA token objects" } },
      );
    }
    throw err;
  }
}

function destroy(ctx: HsmContext, h: Handle, what: string): void {
  call("C_DestroyObject", () => ctx.p.C_DestroyObject(ctx.objSession, h), what);
}

/**
 * CKA_VALUE of a record object, read into a buffer of {@link MAX_RECORD_BYTES}: a larger value
 * (not a record) is refused by the token with CKR_BUFFER_TOO_SMALL and never copied here. pkcs11js
 * has no length-only read; the buffer it was given is not freed by it (at most
 * MAX_RECORD_BYTES per record read).
 */
function readValue(ctx: HsmContext, h: Handle): Buffer | undefined {
  try {
    const [a] = call(
      "C_GetAttributeValue",
      () => ctx.p.C_GetAttributeValue(ctx.objSession, h, [{ type: P.CKA_VALUE, value: Buffer.alloc(MAX_RECORD_BYTES) }]),
      "reading a key version record",
    );
    return a?.value as Buffer | undefined;
  } catch (err) {
    if (isCkr(err, "CKR_BUFFER_TOO_SMALL")) return undefined;
    throw err;
  }
}

interface RecordObject {
  h: Handle;
  label: string;
  /** The version the label names (for the family asked about). */
  version: number;
  /** The value as a record, when it is one (of any family). */
  decoded: KeyVersionRecord | undefined;
  /** The same, when it is a record of this family and version under one of its own labels. */
  record: KeyVersionRecord | undefined;
}

/**
 * The record objects of family `name` (of version `version` only, when given): those whose label
 * is a record label of one of its versions. Only their values are read; `record` is undefined
 * for an object whose value is not a well-formed record of that very family and version.
 */
function familyRecordObjects(ctx: HsmContext, name: string, version?: number): RecordObject[] {
  const out: RecordObject[] = [];
  for (const h of find(ctx, [
    { type: P.CKA_CLASS, value: P.CKO_DATA },
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_APPLICATION, value: KEY_VERSION_APPLICATION },
  ])) {
    const label = (attrs(ctx, h, [P.CKA_LABEL], "reading a key version record").get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8");
    const v = version === undefined ? recordVersionOf(label, name) : isRecordLabelOf(label, keyVersionLabel(name, version)) ? version : undefined;
    if (v === undefined) continue;
    const r = decode(readValue(ctx, h));
    const mine =
      r !== undefined &&
      r.name === name &&
      r.version === v &&
      (label === `${r.label}${RECORD_LABEL_SUFFIX}` || label.startsWith(recordLabel(r.label, r.keyId)));
    out.push({ h, label, version: v, decoded: r, record: mine ? r : undefined });
  }
  return out;
}

/**
 * The records of every version of family `name` on the token, lowest version first: for each
 * version and key (CKA_ID) the most recently updated record. Placeholders (empty keyId, left by a
 * crash while a version was made) are left out.
 */
export function keyVersionRecords(ctx: HsmContext, name: string): KeyVersionRecord[] {
  ensureOpen(ctx);
  const best = new Map<string, KeyVersionRecord>();
  for (const o of familyRecordObjects(ctx, name)) {
    const r = o.record;
    if (!r || r.keyId === "") continue;
    const k = `${r.version}\0${r.keyId}`;
    const prev = best.get(k);
    if (!prev || r.updated > prev.updated) best.set(k, r);
  }
  return [...best.values()].sort((a, b) => a.version - b.version || (a.updated < b.updated ? 1 : a.updated > b.updated ? -1 : 0));
}

/**
 * Whether the key holding `label` was made by another tool (for the hint of a refusal only): a
 * lookup that fails (an ambiguous label, a read the token refuses) says no, so the refusal keeps its
 * own code and cause.
 */
function foreignHolder(ctx: HsmContext, label: string): boolean {
  try {
    return lookup(ctx, label)?.createdByCiop === false;
  } catch {
    return false;
  }
}

/** Runs `f` holding the record lock of the version labelled `versionLabel` (one writer per host). */
function withRecordLock<T>(ctx: HsmContext, versionLabel: string, f: () => Promise<T>): Promise<T> {
  return withTokenLock(ctx, "key-version", versionLabel, f);
}

function refuseVersionLabelAsName(name: string): void {
  const v = parseKeyVersionLabel(name);
  if (v) {
    throw new CiopError("ERR_KEY_NAME_INVALID", `'${name}' is itself a version label (version ${v.version} of '${v.name}'); name the key family ('${v.name}')`);
  }
}

function makeRecord(ctx: HsmContext, input: KeyVersionRecordInput): KeyVersionRecord {
  refuseVersionLabelAsName(input.name);
  const label = keyVersionLabel(input.name, input.version);
  return {
    name: input.name,
    version: input.version,
    label,
    keyId: input.keyId,
    v1KeyId: input.v1KeyId !== undefined ? input.v1KeyId : (lookup(ctx, input.name)?.id ?? null),
    created: input.created,
    updated: input.updated ?? new Date().toISOString(),
    description: input.description,
    annotations: { ...input.annotations },
  };
}

/** The write itself (the caller holds the record lock): new object first, then the old ones go. */
function writeRecordLocked(ctx: HsmContext, record: KeyVersionRecord): KeyVersionRecord {
  if (record.keyId === "") throw new CiopError("ERR_USAGE", `the record of key version '${record.label}' needs the CKA_ID of its key`);
  const plain = recordLabel(record.label, record.keyId);
  // the old records of this version: well-formed ones of this family and version, and objects with
  // its record labels that are no record at all; another family's records are left alone
  const old = familyRecordObjects(ctx, record.name, record.version).filter((o) => o.record !== undefined || o.decoded === undefined);
  const taken = find(ctx, [{ type: P.CKA_LABEL, value: plain }], 1).length > 0;
  const label = taken ? `${plain}~${randomBytes(4).toString("hex")}` : plain;
  const mine = createRecordObject(ctx, record, label);
  for (const o of old) destroy(ctx, o.h, `replacing the record of key version '${record.label}'`);
  if (taken && find(ctx, [{ type: P.CKA_LABEL, value: plain }], 1).length === 0) {
    try {
      call(
        "C_SetAttributeValue",
        () => ctx.p.C_SetAttributeValue(ctx.objSession, mine, [{ type: P.CKA_LABEL, value: plain }]),
        "renaming a key version record",
      );
    } catch {
      /* it stays readable under its tagged label */
    }
  }
  return record;
}

/**
 * Writes the record of one version (replacing earlier records of that family and version, and
 * nothing else). Refused (ERR_MECHANISM_UNSUPPORTED) on a token that does not keep data objects,
 * and (ERR_KEY_NAME_INVALID) for a family name that is itself a version label.
 */
export async function writeKeyVersionRecord(ctx: HsmContext, input: KeyVersionRecordInput): Promise<KeyVersionRecord> {
  ensureOpen(ctx);
  const record = makeRecord(ctx, input);
  return withRecordLock(ctx, record.label, async () => writeRecordLocked(ctx, record));
}

/**
 * Destroys every record of the key labelled `versionLabel` (all families it can be a version of)
 * and objects with its record labels that are no record; returns how many there were.
 */
export async function deleteKeyVersionRecords(ctx: HsmContext, versionLabel: string): Promise<number> {
  ensureOpen(ctx);
  return withRecordLock(ctx, versionLabel, async () => {
    let n = 0;
    for (const h of find(ctx, [
      { type: P.CKA_CLASS, value: P.CKO_DATA },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_APPLICATION, value: KEY_VERSION_APPLICATION },
    ])) {
      const label = (attrs(ctx, h, [P.CKA_LABEL], "reading a key version record").get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8");
      if (!isRecordLabelOf(label, versionLabel)) continue;
      const r = decode(readValue(ctx, h));
      if (r !== undefined && r.label !== versionLabel) continue;
      destroy(ctx, h, `deleting the record of key version '${versionLabel}'`);
      n++;
    }
    return n;
  });
}

/** What {@link generateKeyVersion} records with the new version. @public */
export interface KeyVersionInit {
  description: string | null;
  annotations?: Readonly<Record<string, string>>;
}

/**
 * Creates version `version` (≥ 2) of family `name` as a new key labelled `<name>~v<version>`, and
 * its record. The token's ability to keep the record is proven first, by writing a placeholder
 * record, so a token that cannot keep it refuses before any key exists; if the final record cannot
 * be written, the new key is destroyed again, and the error says so in its details
 * (`keyVersionCreated`: the label, `keyVersionDeleted`: whether it is gone). ERR_KEY_EXISTS when
 * the label is taken: another process made that version first, or a key not made this way has the
 * label.
 */
export async function generateKeyVersion(
  ctx: HsmContext,
  name: string,
  version: number,
  type: KeyType,
  init: KeyVersionInit,
  options: GenerateKeyOptions = {},
): Promise<{ key: HsmKey; record: KeyVersionRecord }> {
  ensureOpen(ctx);
  if (!Number.isInteger(version) || version < 2 || version > KEY_VERSION_MAX)
    throw new CiopError("ERR_USAGE", `a new key version must be 2..${KEY_VERSION_MAX}, not ${version}`);
  refuseVersionLabelAsName(name);
  const label = keyVersionLabel(name, version);
  return withRecordLock(ctx, label, async () => {
    const now = new Date();
    const base = makeRecord(ctx, {
      name,
      version,
      keyId: "",
      created: now.toISOString(),
      updated: now.toISOString(),
      description: init.description,
      annotations: { ...(init.annotations ?? {}) },
    });
    const placeholder = createRecordObject(ctx, base, `${label}${RECORD_LABEL_SUFFIX}~pending-${randomBytes(4).toString("hex")}`);
    let key: HsmKey;
    try {
      key = await generateKey(ctx, label, type, options);
    } catch (err) {
      try {
        destroy(ctx, placeholder, `removing the placeholder record of '${label}'`);
      } catch {
        /* the key error is the one to report; a placeholder (keyId "") is ignored when read */
      }
      if (CiopError.isInstance(err) && err.code === "ERR_KEY_EXISTS") {
        throw new CiopError(
          "ERR_KEY_EXISTS",
          `version ${version} of key '${name}' cannot be made: a key labelled '${label}' exists already. Another process made version ${version} first, ` +
            `or a key not made by this rotation holds that label; run again${foreignHolder(ctx, label) ? " (this one was not made by ciop: rename or delete it first)" : ""}`,
          { cause: err, details: { ...err.details, label } },
        );
      }
      throw err;
    }
    try {
      // the final record is newer than the placeholder, whatever the clock's resolution
      const updated = new Date(Math.max(Date.now(), now.getTime() + 1)).toISOString();
      const record = writeRecordLocked(ctx, { ...base, keyId: key.id, updated });
      return { key, record };
    } catch (err) {
      let deleted = false;
      try {
        deleteKey(ctx, label);
        deleted = true;
      } catch {
        /* reported below through the error's details */
      }
      try {
        destroy(ctx, placeholder, `removing the placeholder record of '${label}'`);
      } catch {
        /* already replaced or gone */
      }
      const details = { ...(CiopError.isInstance(err) ? err.details : {}), keyVersionCreated: label, keyVersionDeleted: deleted };
      throw CiopError.isInstance(err)
        ? new CiopError(err.code, err.message, { cause: err, details })
        : new CiopError("ERR_INTERNAL", (err as Error).message, { cause: err, details });
    }
  });
}
