/**
 * AWS key-material rotation: versions of a citool key (`citool aws … --new-key-material`,
 * `--key-material-version N`), the version table of `citool keys show` and `citool keys annotate`.
 *
 * Version 1 of key `<name>` is the key labelled `<name>` that an ordinary export made; version N ≥ 2
 * is the AES-256 key labelled `<name>~v<N>` (@ciop/hsm's key-version labels, the scheme xks-proxy
 * uses). Each version made here has a record on the token (@ciop/hsm `keyVersionRecords`: creation
 * time, the KeyMaterialDescription used, and once annotated the KeyMaterialId AWS assigned), so the
 * facts travel with the HSM. A version's files are `<name>-v<N>-wrapped`.
 */
import { CiopError } from "@ciop/core";
import type { Hsm, HsmKey, KeyInfo, KeyVersionRecord } from "@ciop/hsm";
import { hsmKey, type KeySource, type ProviderModule } from "@ciop/wrap";
import { flag, str, type ParsedArgs } from "../args.js";
import { usageError } from "../errors.js";

/** The annotation under which a version's AWS KeyMaterialId is recorded. */
export const AWS_MATERIAL_ID_ANNOTATION = "aws.keyMaterialId";

const AWS = "aws";
const ROTATABLE_TYPE = "AES-256";

/** What the command line asked for: a new key material, or the files of an existing version. */
export type MaterialOptions = { mode: "new"; description: string | undefined } | { mode: "existing"; version: number };

/** A version number given on the command line: 1..65535. */
export function parseVersionNumber(v: string, option: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(v) || Number(v) > 0xffff) throw usageError(`${option} must be a whole number from 1 to 65535 (got '${v.slice(0, 20)}')`);
  return Number(v);
}

/**
 * The key-material options of an export, checked as far as the command line allows (before any
 * file or key is touched). Undefined for an ordinary export.
 */
export function parseMaterialOptions(args: ParsedArgs, module: ProviderModule, provider: string, keyType: string | undefined): MaterialOptions | undefined {
  const isNew = flag(args, "new-key-material");
  const description = str(args, "key-material-description");
  const version = str(args, "key-material-version");
  if (!isNew && description === undefined && version === undefined) return undefined;
  if (!module.names.includes(AWS)) {
    throw usageError(
      `--new-key-material, --key-material-version and --key-material-description apply only to ${AWS} (AWS KMS key materials), not to ${provider}`,
    );
  }
  if (isNew && version !== undefined)
    throw usageError("give either --new-key-material (a new version) or --key-material-version N (an existing one), not both");
  if (description !== undefined && !isNew) {
    throw usageError("--key-material-description applies only with --new-key-material (an existing version is exported with the description recorded for it)");
  }
  if (keyType !== undefined && keyType !== ROTATABLE_TYPE) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `AWS KMS takes more than one key material only for symmetric encryption keys (SYMMETRIC_DEFAULT, ciop's ${ROTATABLE_TYPE}), not ${keyType}`,
    );
  }
  if (isNew) return { mode: "new", description };
  return { mode: "existing", version: parseVersionNumber(version!, "--key-material-version") };
}

/** One version of a key family as the token has it now. */
export interface VersionRow {
  version: number;
  label: string;
  info: KeyInfo;
  /** The version's record, when there is one for this very key (same CKA_ID). */
  record: KeyVersionRecord | undefined;
  /** Record's creation time, else the time in a ciop CKA_ID. */
  created: string | undefined;
  description: string | null;
  awsKeyMaterialId: string | null;
  /** What is wrong with the record (a value AWS would refuse, left out; a version 1 made again since). */
  warnings: string[];
}

const CIOP_PREFIX_HEX = "63696f7001";

/** The creation time ciop writes into a key's CKA_ID (prefix ‖ 8-byte ms ‖ random). */
function createdAtOf(idHex: string): string | undefined {
  if (!idHex.startsWith(CIOP_PREFIX_HEX) || idHex.length < CIOP_PREFIX_HEX.length + 16) return undefined;
  const ms = Number(BigInt(`0x${idHex.slice(CIOP_PREFIX_HEX.length, CIOP_PREFIX_HEX.length + 16)}`));
  return Number.isSafeInteger(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** A recorded value that the checks of the command line refuse: left out, with a warning (the token's content is not trusted). */
function checked(value: string | undefined | null, check: (v: string) => string): { value: string | null; bad: boolean } {
  if (value === undefined || value === null) return { value: null, bad: false };
  try {
    return { value: check(value), bad: false };
  } catch {
    return { value: null, bad: true };
  }
}

/**
 * Every ciop-made version of family `name` (key `name` and keys `name~vN` of the same type), lowest
 * first. A recorded description or KeyMaterialId that AWS would refuse is left out (with a warning
 * in the row), and so is a record of a version made for another version 1 (CKA_ID pinned in the
 * record) than the key labelled `name` now.
 */
export async function familyOf(hsm: Hsm, name: string, all: KeyInfo[] = hsm.listKeys()): Promise<VersionRow[]> {
  const { parseKeyVersionLabel } = await import("@ciop/hsm");
  const aws = await import("@ciop/providers-aws");
  const records = hsm.keyVersionRecords(name);
  const rows = new Map<number, VersionRow>();
  for (const info of all) {
    if (!info.createdByCiop) continue;
    const version = info.name === name ? 1 : parseKeyVersionLabel(info.name)?.name === name ? parseKeyVersionLabel(info.name)!.version : undefined;
    if (version === undefined || rows.has(version)) continue;
    // newest first per version and key: the record of this very key
    const record = records.find((r) => r.version === version && r.keyId === info.id);
    const description = checked(record?.description, aws.checkKeyMaterialDescription);
    const id = checked(record?.annotations[AWS_MATERIAL_ID_ANNOTATION], aws.checkKeyMaterialId);
    const warnings: string[] = [];
    if (description.bad) warnings.push(`the description recorded for version ${version} of key '${name}' is not one AWS accepts; it is left out`);
    if (id.bad) warnings.push(`the KeyMaterialId recorded for version ${version} of key '${name}' is not a KeyMaterialId; it is left out`);
    rows.set(version, {
      version,
      label: info.name,
      info,
      record,
      created: record?.created ?? createdAtOf(info.id),
      description: description.value,
      awsKeyMaterialId: id.value,
      warnings,
    });
  }
  const v1 = rows.get(1);
  if (v1) {
    for (const r of rows.values()) {
      const pinned = r.record?.v1KeyId;
      if (r.version !== 1 && pinned && pinned !== v1.info.id) {
        r.warnings.push(
          `version ${r.version} ('${r.label}') was made for a version 1 with CKA_ID ${pinned}, but '${name}' now has CKA_ID ${v1.info.id}: ` +
            `'${name}' was made again after it, so '${r.label}' may belong to the earlier key`,
        );
      }
    }
  }
  // versions of another type than version 1 are not this family's (e.g. an unrelated key named name~v2)
  return [...rows.values()].filter((r) => v1 === undefined || r.info.type === v1.info.type).sort((a, b) => a.version - b.version);
}

/** What the export of one version needs: names, the ImportType, and the key source that yields its key. */
export interface VersionedExport {
  name: string;
  version: number;
  label: string;
  /** The key name the provider plans with: it names the files (`<name>-v<N>-wrapped`). */
  artefactName: string;
  importType: "NEW_KEY_MATERIAL" | "EXISTING_KEY_MATERIAL";
  description: string | null;
  awsKeyMaterialId: string | null;
  /** True once the new version's key and record exist (new material only). */
  created: boolean;
  /** What is wrong with the family's records (see {@link familyOf}); the caller shows them. */
  warnings: string[];
  source(hsm: Hsm, engineSource: KeySource): KeySource;
}

/**
 * Refuses a family name that is itself a version label (`fam~v2` is version 2 of `fam`): its
 * records would share labels with the other family's.
 */
async function refuseVersionLabel(name: string): Promise<void> {
  const v = (await import("@ciop/hsm")).parseKeyVersionLabel(name);
  if (v) {
    throw new CiopError(
      "ERR_KEY_NAME_INVALID",
      `'${name}' is version ${v.version} of key '${v.name}', not a key of its own; name the key and the version ('${v.name}' ${v.version})`,
    );
  }
}

function tokenLabel(hsm: Hsm): string {
  return hsm.token.label.replace(/[\s\0]+$/u, "");
}

/**
 * Checks the family on the token and picks the version: for new material the next number after
 * the highest, for an existing one that version. Every refusal here comes before any key is made:
 * unknown name (ERR_KEY_NOT_FOUND), a key ciop did not make (ERR_KEY_NOT_CIOP), a key that is not
 * AES-256 (ERR_KEY_TYPE_UNSUPPORTED), a disabled key (ERR_KEY_DISABLED).
 */
export async function resolveVersion(hsm: Hsm, name: string, opts: MaterialOptions, now: Date): Promise<VersionedExport> {
  await refuseVersionLabel(name);
  const all = hsm.listKeys();
  const named = all.filter((k) => k.name === name);
  if (named.length === 0) {
    throw new CiopError(
      "ERR_KEY_NOT_FOUND",
      `no key named '${name}' on token '${tokenLabel(hsm)}': key-material versions are made for a key an earlier 'citool ${AWS}' export created`,
    );
  }
  if (!named.some((k) => k.createdByCiop)) {
    throw new CiopError("ERR_KEY_NOT_CIOP", `key '${name}' on token '${tokenLabel(hsm)}' was not created by ciop; citool makes versions only of its own keys`);
  }
  const rows = await familyOf(hsm, name, all);
  const v1 = rows.find((r) => r.version === 1)!;
  if (v1.info.type !== ROTATABLE_TYPE) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `key '${name}' is ${v1.info.type}; AWS KMS takes more than one key material only for symmetric encryption keys (${ROTATABLE_TYPE})`,
    );
  }
  const aws = await import("@ciop/providers-aws");
  if (opts.mode === "new") {
    if (!v1.info.enabled) {
      throw new CiopError(
        "ERR_KEY_DISABLED",
        `key '${name}' is disabled; citool makes no new key material for a disabled key (run 'citool keys enable ${name}' first)`,
      );
    }
    const version = Math.max(...rows.map((r) => r.version)) + 1;
    if (version > 0xffff) throw new CiopError("ERR_USAGE", `key '${name}' has reached the highest version number (65535)`);
    const { keyVersionLabel } = await import("@ciop/hsm");
    const description = opts.description ?? aws.defaultKeyMaterialDescription(name, version, now);
    const label = keyVersionLabel(name, version);
    const v: VersionedExport = {
      name,
      version,
      label,
      artefactName: `${name}-v${version}`,
      importType: "NEW_KEY_MATERIAL",
      description,
      awsKeyMaterialId: null,
      created: false,
      warnings: rows.flatMap((r) => r.warnings),
      source: (h, engineSource) => ({
        engine: engineSource.engine,
        async getOrCreate() {
          const { key } = await h.generateKeyVersion(name, version, ROTATABLE_TYPE, { description });
          v.created = true;
          return { target: hsmKey(key), created: true, enabled: true };
        },
        async discard() {
          h.deleteKey(label);
          await h.deleteKeyVersionRecords(label);
        },
      }),
    };
    return v;
  }
  const row = rows.find((r) => r.version === opts.version);
  if (!row) {
    throw new CiopError(
      "ERR_KEY_NOT_FOUND",
      `key '${name}' has no version ${opts.version} on token '${tokenLabel(hsm)}' (versions: ${rows.map((r) => r.version).join(", ")}; 'citool keys show ${name}' lists them)`,
    );
  }
  if (!row.info.enabled) {
    throw new CiopError(
      "ERR_KEY_DISABLED",
      `version ${row.version} of key '${name}' ('${row.label}') is disabled; citool does not export a disabled key (run 'citool keys enable ${row.label}' first)`,
    );
  }
  return {
    name,
    version: row.version,
    label: row.label,
    artefactName: `${name}-v${row.version}`,
    importType: "EXISTING_KEY_MATERIAL",
    description: row.description,
    awsKeyMaterialId: row.awsKeyMaterialId,
    created: false,
    warnings: row.warnings,
    source: (h, engineSource) => ({
      engine: engineSource.engine,
      async getOrCreate() {
        const key: HsmKey | undefined = h.findKeyById(row.info.id);
        if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `version ${row.version} of key '${name}' vanished from token '${tokenLabel(h)}'`);
        return { target: hsmKey(key), created: false, enabled: h.keyInfo(key).enabled };
      },
    }),
  };
}

/** The `aws kms import-key-material` command for a version's file at `path` (as shown to the operator). */
export async function importCommand(v: VersionedExport, path: string): Promise<string> {
  const aws = await import("@ciop/providers-aws");
  return aws.awsImportKeyMaterialCommand({
    encryptedKeyMaterialPath: path,
    importType: v.importType,
    ...(v.description !== null ? { description: v.description } : {}),
    ...(v.awsKeyMaterialId !== null ? { keyMaterialId: v.awsKeyMaterialId } : {}),
  });
}

/** A version row as `keys show --json` prints it. */
export function versionJson(r: VersionRow): Record<string, unknown> {
  return {
    version: r.version,
    label: r.label,
    id: r.info.id,
    state: r.info.enabled ? "enabled" : "disabled",
    created: r.created ?? null,
    description: r.description,
    awsKeyMaterialId: r.awsKeyMaterialId,
  };
}

/** The version table of `keys show` (text). */
export function versionTable(rows: readonly VersionRow[]): string[][] {
  const cells = [["VERSION", "LABEL", "STATE", "CREATED", "AWS KEY MATERIAL ID", "DESCRIPTION"]];
  for (const r of rows) {
    cells.push([String(r.version), r.label, r.info.enabled ? "enabled" : "disabled", r.created ?? "-", r.awsKeyMaterialId ?? "-", r.description ?? "-"]);
  }
  return cells;
}

/**
 * `keys annotate <name> <version> --aws-key-material-id <id>`: records the KeyMaterialId AWS gave a
 * version. A different id already recorded for the version is replaced only with --force; an id
 * recorded for another version of the family is refused (one material, one id).
 */
export async function annotateVersion(
  hsm: Hsm,
  name: string,
  version: number,
  awsKeyMaterialId: string,
  force: boolean,
): Promise<{ row: VersionRow; record: KeyVersionRecord; previous: string | null; changed: boolean }> {
  const aws = await import("@ciop/providers-aws");
  aws.checkKeyMaterialId(awsKeyMaterialId);
  await refuseVersionLabel(name);
  const all = hsm.listKeys();
  if (!all.some((k) => k.name === name)) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${tokenLabel(hsm)}'`);
  if (!all.some((k) => k.name === name && k.createdByCiop)) {
    throw new CiopError("ERR_KEY_NOT_CIOP", `key '${name}' on token '${tokenLabel(hsm)}' was not created by ciop; citool only manages its own keys`);
  }
  const rows = await familyOf(hsm, name, all);
  const row = rows.find((r) => r.version === version);
  if (!row) {
    throw new CiopError("ERR_KEY_NOT_FOUND", `key '${name}' has no version ${version} (versions: ${rows.map((r) => r.version).join(", ")})`);
  }
  const elsewhere = rows.find((r) => r.version !== version && r.awsKeyMaterialId === awsKeyMaterialId);
  if (elsewhere) {
    throw usageError(`KeyMaterialId ${awsKeyMaterialId} is already recorded for version ${elsewhere.version} of key '${name}'; one key material has one id`);
  }
  const previous = row.awsKeyMaterialId;
  if (previous === awsKeyMaterialId) return { row, record: row.record!, previous, changed: false };
  if (previous !== null && !force) {
    throw usageError(`version ${version} of key '${name}' already has KeyMaterialId ${previous}; pass --force to replace it`);
  }
  const v1 = rows.find((r) => r.version === 1);
  const base = row.record ?? {
    name,
    version,
    keyId: row.info.id,
    v1KeyId: v1?.info.id ?? null,
    created: row.created ?? new Date().toISOString(),
    description: null,
    annotations: {},
  };
  const record = await hsm.writeKeyVersionRecord({
    name,
    version,
    keyId: base.keyId,
    // the version 1 it was made for stays recorded (keys show keeps warning when that changed)
    v1KeyId: base.v1KeyId ?? v1?.info.id ?? null,
    created: base.created,
    // only what passed the checks is kept (a refused value is dropped, as keys show warned)
    description: row.description,
    annotations: { ...base.annotations, [AWS_MATERIAL_ID_ANNOTATION]: awsKeyMaterialId },
  });
  return { row, record, previous, changed: true };
}
