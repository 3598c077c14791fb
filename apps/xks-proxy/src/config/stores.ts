/** Checks on the key stores that hold for both file formats. */
import { validateXksCredential, type XksCredential } from "@ciop/xks";
import { looksLikeVersionLabel } from "../key-versions.js";
import type { RouteGroupRegistration } from "../route-group.js";
import { bad } from "./fields.js";
import type { ProxyConfig, StoreConfig } from "./types.js";

const PREFIX = /^(\/[A-Za-z0-9_-]+)*$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function checkPrefix(p: string, where: string): string {
  const prefix = p.replace(/\/+$/, "");
  if (!PREFIX.test(prefix) || prefix.length + "/kms/xks/v1".length > 128) {
    bad(`${where}: uri prefix '${p}' must be empty or /segments of A-Z a-z 0-9 _ - (at most 117 characters)`);
  }
  return prefix;
}

export function checkCredential(c: XksCredential, where: string): XksCredential {
  try {
    validateXksCredential(c);
  } catch (err) {
    bad(`${where}: ${(err as Error).message}`);
  }
  return c;
}

export function checkStores(stores: StoreConfig[]): void {
  if (stores.length === 0) bad("configure at least one key store");
  const prefixes = new Set<string>();
  const names = new Set<string>();
  const akids = new Map<string, string>();
  const secrets = new Map<string, string>();
  for (const s of stores) {
    if (prefixes.has(s.uriPrefix)) bad(`two key stores use the uri prefix '${s.uriPrefix}'`);
    prefixes.add(s.uriPrefix);
    if (names.has(s.name)) bad(`two key stores are named '${s.name}'`);
    names.add(s.name);
    if (s.credentials.length < 1 || s.credentials.length > 2) bad(`key store '${s.name}' needs one or two credentials`);
    for (const c of s.credentials) {
      // an access key id must map to exactly one secret (it may serve several stores)
      const known = secrets.get(c.accessKeyId);
      if (known !== undefined && known !== c.secretAccessKey)
        bad(`access key id ${c.accessKeyId} is configured with two different secrets (stores ${akids.get(c.accessKeyId)} and ${s.name})`);
      secrets.set(c.accessKeyId, c.secretAccessKey);
      akids.set(c.accessKeyId, s.name);
    }
    if (s.credentials.length === 2 && s.credentials[0]!.accessKeyId === s.credentials[1]!.accessKeyId)
      bad(`key store '${s.name}': the two credentials share an access key id`);
    for (const k of s.keys) {
      // `<name>~v<N>` labels the versions of a rotated key: never an external key id of its own
      if (looksLikeVersionLabel(k))
        bad(
          `key store '${s.name}': key id '${k.slice(0, 140)}' looks like the label of a rotated key's version (<name>~v<N>); list the key's name, which serves every version`,
        );
      if (!KEY_ID.test(k)) bad(`key store '${s.name}': key id '${k}' must be 1-128 characters of A-Z a-z 0-9 . _ -`);
    }
  }
}

/**
 * Refuses a store key that is reserved for something else: the deep-health key (the proxy encrypts
 * with it on its own; KMS must never get it) and every key a configured route group reserves (the
 * Salesforce group: its registry's DEKs, made extractable to be wrapped for Salesforce).
 */
export function checkReservedStoreKeys(cfg: ProxyConfig, groups: readonly RouteGroupRegistration[]): void {
  for (const s of cfg.stores) {
    if (s.keys.includes(cfg.health.keyName)) {
      bad(
        `key store '${s.name}': keys lists '${cfg.health.keyName}', the deep-health key ([health] key): the proxy uses it on its own and never hands it to KMS. Remove it from keys, or choose another [health] key`,
      );
    }
  }
  for (const g of groups) {
    const section = cfg.routeGroups[g.section];
    if (section === undefined || g.reservedKeyIds === undefined) continue;
    const reserved = g.reservedKeyIds(section, cfg.source.dir);
    for (const s of cfg.stores) {
      for (const k of s.keys) {
        const why = reserved.get(k);
        if (why !== undefined) bad(`key store '${s.name}': keys lists '${k}', ${why}. Remove it from keys`);
      }
    }
  }
}
