/**
 * AWS KMS key-material rotation for keys with imported material: the rules of `ImportKeyMaterial`'s
 * `ImportType`, `KeyMaterialDescription` and `KeyMaterialId`, and the exact `aws kms
 * import-key-material` command line for an artefact. Pure: no I/O, nothing about the HSM.
 *
 * Facts (AWS KMS API reference, ImportKeyMaterial and RotationsListEntry; see README.md):
 * - only symmetric encryption keys (key spec SYMMETRIC_DEFAULT, ciop's AES-256) take more than one
 *   key material; asymmetric and HMAC keys keep their first material for good;
 * - `NEW_KEY_MATERIAL` imports material the KMS key has never had (it waits in PENDING_ROTATION
 *   until `RotateKeyOnDemand`); `EXISTING_KEY_MATERIAL` re-imports material the key already has;
 * - a multi-Region key takes new material on its primary (`NEW_KEY_MATERIAL`) and the same material
 *   on each replica (`EXISTING_KEY_MATERIAL`);
 * - `KeyMaterialDescription`: up to 256 characters of `[a-zA-Z0-9:/_\s.-]`;
 * - `KeyMaterialId`: 64 lower-case hex digits, assigned by KMS; it may be given only with
 *   `EXISTING_KEY_MATERIAL`, and KMS then checks the material matches it.
 */
import { CiopError } from "@ciop/core";
import type { KeyType } from "@ciop/wrap";

/** `ImportKeyMaterial`'s `ImportType` values. @public */
export const AWS_IMPORT_TYPES = ["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"] as const;

/** @public */
export type AwsImportType = (typeof AWS_IMPORT_TYPES)[number];

/** The only ciop key type whose KMS key (SYMMETRIC_DEFAULT) takes several key materials. @public */
export const AWS_ROTATABLE_KEY_TYPES: readonly KeyType[] = ["AES-256"];

/** Longest `KeyMaterialDescription` AWS accepts. @public */
export const AWS_KEY_MATERIAL_DESCRIPTION_MAX = 256;

/**
 * Characters a description may hold. AWS's pattern allows any whitespace (`\s`); ciop allows the
 * space only, so a description stays one line in a shell command and a log line.
 */
const DESCRIPTION = /^[a-zA-Z0-9:/_ .-]+$/;

/** A `KeyMaterialId`: 64 lower-case hex digits. @public */
export const AWS_KEY_MATERIAL_ID_PATTERN = /^[a-f0-9]{64}$/;

/** Refuses (ERR_USAGE) a description AWS would refuse; returns it unchanged otherwise. @public */
export function checkKeyMaterialDescription(description: string): string {
  if (description.length === 0 || description.length > AWS_KEY_MATERIAL_DESCRIPTION_MAX) {
    throw new CiopError(
      "ERR_USAGE",
      `the key material description must be 1 to ${AWS_KEY_MATERIAL_DESCRIPTION_MAX} characters (AWS's limit); it has ${description.length}`,
    );
  }
  if (!DESCRIPTION.test(description)) {
    const bad = [...new Set([...description].filter((c) => !DESCRIPTION.test(c)))].slice(0, 5);
    throw new CiopError(
      "ERR_USAGE",
      `the key material description may hold only letters, digits, spaces and : / _ . - (AWS's KeyMaterialDescription pattern); it has ${bad.map((c) => JSON.stringify(c)).join(", ")}`,
    );
  }
  return description;
}

/** Refuses (ERR_USAGE) anything but a KMS `KeyMaterialId` (64 lower-case hex digits); returns it. @public */
export function checkKeyMaterialId(id: string): string {
  if (!AWS_KEY_MATERIAL_ID_PATTERN.test(id)) {
    throw new CiopError(
      "ERR_USAGE",
      `'${id.slice(0, 80)}' is not an AWS KeyMaterialId: that is 64 lower-case hex digits, as 'aws kms list-key-rotations --include-key-material ALL_KEY_MATERIAL' prints it`,
    );
  }
  return id;
}

/**
 * The description ciop gives a new key material when the operator gives none:
 * `ciop <name> v<version> <YYYY-MM-DD>` (UTC date). Characters of the key name that AWS does not
 * allow become `_`, and a long name is shortened, so the result always passes
 * {@link checkKeyMaterialDescription}.
 * @public
 */
export function defaultKeyMaterialDescription(name: string, version: number, date: Date): string {
  const tail = ` v${version} ${date.toISOString().slice(0, 10)}`;
  const room = AWS_KEY_MATERIAL_DESCRIPTION_MAX - "ciop ".length - tail.length;
  const safe = [...name].map((c) => (DESCRIPTION.test(c) ? c : "_")).join("");
  return `ciop ${safe.slice(0, room)}${tail}`;
}

/** A word as a POSIX shell reads it back unchanged: bare when harmless, else single-quoted. */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What {@link awsImportKeyMaterialCommand} builds a command for. @public */
export interface AwsImportCommandInput {
  /** Path of the wrapped key material file, as the operator will run the command (relative or absolute). */
  encryptedKeyMaterialPath: string;
  importType: AwsImportType;
  description?: string;
  /** Only with EXISTING_KEY_MATERIAL (AWS refuses it with NEW_KEY_MATERIAL). */
  keyMaterialId?: string;
}

/**
 * The `aws kms import-key-material` command line that imports an artefact, as one line. The KMS key
 * and the import token are the operator's: `"$KMS_KEY_ID"` stands for the key id or ARN (a shell
 * variable to set) and `ImportToken.bin` for the token downloaded with the wrapping key. The
 * material never expires (`KEY_MATERIAL_DOES_NOT_EXPIRE`); to make it expire, replace that with
 * `KEY_MATERIAL_EXPIRES --valid-to <time>`.
 * @throws CiopError ERR_USAGE for a description or key material id AWS would refuse, or an id with NEW_KEY_MATERIAL.
 * @public
 */
export function awsImportKeyMaterialCommand(input: AwsImportCommandInput): string {
  if (!(AWS_IMPORT_TYPES as readonly string[]).includes(input.importType)) throw new CiopError("ERR_USAGE", `unknown ImportType '${input.importType}'`);
  if (input.keyMaterialId !== undefined && input.importType === "NEW_KEY_MATERIAL") {
    throw new CiopError("ERR_USAGE", "AWS takes a KeyMaterialId only with EXISTING_KEY_MATERIAL");
  }
  const words = [
    "aws kms import-key-material",
    '--key-id "$KMS_KEY_ID"',
    `--encrypted-key-material ${shellWord(`fileb://${input.encryptedKeyMaterialPath}`)}`,
    "--import-token fileb://ImportToken.bin",
    "--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE",
    `--import-type ${input.importType}`,
  ];
  if (input.keyMaterialId !== undefined) words.push(`--key-material-id ${checkKeyMaterialId(input.keyMaterialId)}`);
  if (input.description !== undefined) words.push(`--key-material-description '${checkKeyMaterialDescription(input.description)}'`);
  return words.join(" ");
}
