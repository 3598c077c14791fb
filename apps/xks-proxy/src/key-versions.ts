/**
 * How an XKS key family lives on the token: version 1 is the key labelled `<name>` (the original
 * key, unchanged), version N ≥ 2 the AES-256 key labelled `<name>~v<N>`. `~` is not in the
 * externalKeyId alphabet, so a version label can never be another key's external key id. Which
 * versions exist, and which are enabled, is read from the token (the usage attributes, as for any
 * key), so every proxy sharing the token agrees within the key-state TTL. The current version is
 * the highest enabled one.
 */
import { KEY_VERSION_SEPARATOR, keyVersionLabel } from "@ciop/hsm";
import { MAX_KEY_VERSION } from "@ciop/xks";

/** Separates a family name from its version number in a version key's label (@ciop/hsm's scheme, shared with citool). */
export const VERSION_SEPARATOR = KEY_VERSION_SEPARATOR;

const VERSION_LABEL = /^([A-Za-z0-9._-]{1,128})~v([1-9][0-9]{0,4})$/;

/** The CKA_LABEL of version `version` of key family `name`. */
export function versionLabel(name: string, version: number): string {
  if (!Number.isInteger(version) || version < 1 || version > MAX_KEY_VERSION) throw new RangeError(`key version ${version} is outside 1..${MAX_KEY_VERSION}`);
  return keyVersionLabel(name, version);
}

/** The family and version a label names, when it is a version label (version 2..MAX_KEY_VERSION). */
export function parseVersionLabel(label: string): { name: string; version: number } | undefined {
  const m = VERSION_LABEL.exec(label);
  if (!m) return undefined;
  const version = Number(m[2]);
  return version >= 2 && version <= MAX_KEY_VERSION ? { name: m[1]!, version } : undefined;
}

/** True when `s` contains the version separator (such a name is refused as an external key id). */
export function looksLikeVersionLabel(s: string): boolean {
  return s.includes(VERSION_SEPARATOR);
}
