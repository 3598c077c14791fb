/**
 * Versions of a key, and the record kept next to each version on the token.
 *
 * Labels (the scheme xks-proxy introduced): version 1 is the key labelled `<name>`, version N ≥ 2 the
 * key labelled `<name>~v<N>`. Which versions exist is read from the token, like any key.
 *
 * Record: a private token data object (CKO_DATA, CKA_APPLICATION {@link KEY_VERSION_APPLICATION},
 * CKA_LABEL `<version label>~meta`) whose CKA_VALUE is a small JSON document: the family name, the
 * version, the CKA_ID of the key it describes, when it was made, a description and free-form
 * annotations (e.g. the id a cloud gave the imported material). It lives on the token so it travels
 * with the HSM (backups, clusters) instead of sitting in a file on one host. A token that refuses
 * token data objects (NSS softokn does) cannot keep it: {@link generateKeyVersion} then refuses
 * before any key is made, and {@link writeKeyVersionRecord} refuses too; nothing is dropped silently.
 *
 * SoftHSM makes CKA_VALUE of a data object read-only once created, so a record is changed by
 * creating the new object first and then destroying the old ones (a crash in between leaves two,
 * and the newest `updated` wins when reading).
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { ensureOpen, type Handle, type HsmContext } from "../context.js";
import { call, isCkr } from "../errors.js";
import type { HsmKey } from "../hsm-key.js";
import type { GenerateKeyOptions, KeyType } from "../types.js";
import { deleteKey, generateKey } from "./create.js";
import { attrs, find } from "./handles.js";

const P = pkcs11js;

/** Separates a family name from its version number in a version key's label. @public */
export const KEY_VERSION_SEPARATOR = "~v";

/** Highest version number a label can carry (the XKS ciphertext metadata's limit, 0xffff). @public */
export const KEY_VERSION_MAX = 0xffff;

/** CKA_APPLICATION of the version records. @public */
export const KEY_VERSION_APPLICATION = "ciop key version";

/** Appended to a version's label to form its record's CKA_LABEL. */
const RECORD_LABEL_SUFFIX = "~meta";

/** A record's CKA_VALUE is refused above this size (a record is a few hundred bytes). */
const MAX_RECORD_BYTES = 8192;

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
  /** ISO time the version was made (or first recorded). */
  readonly created: string;
  /** ISO time of the last change to the record. */
  readonly updated: string;
  readonly description: string | null;
  /** Free-form facts, e.g. `{ "aws.keyMaterialId": "…" }`. */
  readonly annotations: Readonly<Record<string, string>>;
}

/** The fields a caller sets when writing a record. @public */
export type KeyVersionRecordInput = Omit<KeyVersionRecord, "label" | "updated"> & { updated?: string };

function recordLabel(versionLabel: string): string {
  return `${versionLabel}${RECORD_LABEL_SUFFIX}`;
}

function encode(r: KeyVersionRecord): Buffer {
  const doc = {
    format: 1,
    name: r.name,
    version: r.version,
    keyId: r.keyId,
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
function decode(value: Buffer): KeyVersionRecord | undefined {
  if (value.length > MAX_RECORD_BYTES) return undefined;
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
  const annotations: Record<string, string> = {};
  if (typeof d.annotations === "object" && d.annotations !== null) {
    for (const [k, v] of Object.entries(d.annotations as Record<string, unknown>)) if (typeof v === "string") annotations[k] = v;
  }
  return {
    name: d.name,
    version: d.version,
    label: keyVersionLabel(d.name, d.version),
    keyId: d.keyId,
    created: d.created,
    updated: d.updated,
    description: d.description as string | null,
    annotations,
  };
}

/** CKRs with which a token says it does not keep token data objects (NSS softokn: CKR_ATTRIBUTE_VALUE_INVALID). */
const NO_DATA_OBJECTS = ["CKR_ATTRIBUTE_VALUE_INVALID", "CKR_TEMPLATE_INCONSISTENT", "CKR_ATTRIBUTE_TYPE_INVALID", "CKR_FUNCTION_NOT_SUPPORTED"];

/** Creates a record object; a token that refuses data objects gets ERR_MECHANISM_UNSUPPORTED. */
function createRecordObject(ctx: HsmContext, r: KeyVersionRecord): Handle {
  const value = encode(r);
  try {
    return call(
      "C_CreateObject",
      () =>
        ctx.p.C_CreateObject(ctx.objSession, [
          { type: P.CKA_CLASS, value: P.CKO_DATA },
          { type: P.CKA_TOKEN, value: true },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_LABEL, value: recordLabel(r.label) },
          { type: P.CKA_APPLICATION, value: KEY_VERSION_APPLICATION },
          { type: P.CKA_VALUE, value },
        ]),
      `recording key version '${r.label}'`,
    );
  } catch (err) {
    if (isCkr(err, ...NO_DATA_OBJECTS)) {
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

/** Record objects with `label` (handles and decoded records, undecodable ones with `record` undefined). */
function recordObjects(ctx: HsmContext, template: pkcs11js.Template): Array<{ h: Handle; label: string; record: KeyVersionRecord | undefined }> {
  const out: Array<{ h: Handle; label: string; record: KeyVersionRecord | undefined }> = [];
  for (const h of find(ctx, [{ type: P.CKA_CLASS, value: P.CKO_DATA }, { type: P.CKA_APPLICATION, value: KEY_VERSION_APPLICATION }, ...template])) {
    const a = attrs(ctx, h, [P.CKA_LABEL, P.CKA_VALUE], "reading a key version record");
    out.push({ h, label: (a.get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8"), record: decode(a.get(P.CKA_VALUE) ?? Buffer.alloc(0)) });
  }
  return out;
}

/**
 * The records of every version of family `name` on the token, lowest version first; for a
 * version with more than one record, the most recently updated.
 */
export function keyVersionRecords(ctx: HsmContext, name: string): KeyVersionRecord[] {
  ensureOpen(ctx);
  const best = new Map<number, KeyVersionRecord>();
  for (const o of recordObjects(ctx, [{ type: P.CKA_TOKEN, value: true }])) {
    const r = o.record;
    if (!r || r.name !== name || o.label !== recordLabel(r.label)) continue;
    const prev = best.get(r.version);
    if (!prev || r.updated > prev.updated) best.set(r.version, r);
  }
  return [...best.values()].sort((a, b) => a.version - b.version);
}

/**
 * Writes the record of one version (replacing any earlier record of that version). Refused
 * (ERR_MECHANISM_UNSUPPORTED) on a token that does not keep data objects.
 */
export function writeKeyVersionRecord(ctx: HsmContext, input: KeyVersionRecordInput): KeyVersionRecord {
  ensureOpen(ctx);
  const record: KeyVersionRecord = {
    ...input,
    label: keyVersionLabel(input.name, input.version),
    updated: input.updated ?? new Date().toISOString(),
    annotations: { ...input.annotations },
  };
  const mine = createRecordObject(ctx, record);
  for (const o of recordObjects(ctx, [{ type: P.CKA_LABEL, value: recordLabel(record.label) }])) {
    if (!o.h.equals(mine)) destroy(ctx, o.h, `replacing the record of key version '${record.label}'`);
  }
  return record;
}

/** Destroys every record of the version labelled `versionLabel`; returns how many there were. */
export function deleteKeyVersionRecords(ctx: HsmContext, versionLabel: string): number {
  ensureOpen(ctx);
  const objs = recordObjects(ctx, [{ type: P.CKA_LABEL, value: recordLabel(versionLabel) }]);
  for (const o of objs) destroy(ctx, o.h, `deleting the record of key version '${versionLabel}'`);
  return objs.length;
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
 * be written, the new key is destroyed again. ERR_KEY_EXISTS when the version exists.
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
  if (parseKeyVersionLabel(name))
    throw new CiopError("ERR_KEY_NAME_INVALID", `'${name}' is itself a version label (…${KEY_VERSION_SEPARATOR}N); name the key family`);
  const label = keyVersionLabel(name, version);
  const now = new Date().toISOString();
  const base = { name, version, label, created: now, updated: now, description: init.description, annotations: { ...(init.annotations ?? {}) } };
  const placeholder = createRecordObject(ctx, { ...base, keyId: "" });
  let key: HsmKey;
  try {
    key = await generateKey(ctx, label, type, options);
  } catch (err) {
    try {
      destroy(ctx, placeholder, `removing the placeholder record of '${label}'`);
    } catch {
      /* the key error is the one to report; a placeholder (keyId "") is ignored when read */
    }
    throw err;
  }
  try {
    const record = writeKeyVersionRecord(ctx, { ...base, keyId: key.id });
    return { key, record };
  } catch (err) {
    try {
      deleteKey(ctx, label);
    } catch {
      /* reported below through the original error */
    }
    try {
      destroy(ctx, placeholder, `removing the placeholder record of '${label}'`);
    } catch {
      /* already replaced or gone */
    }
    throw err;
  }
}
