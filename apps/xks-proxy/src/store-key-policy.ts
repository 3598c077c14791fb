/**
 * The key attributes a store key must have: sensitive (CKA_SENSITIVE) and not extractable
 * (CKA_EXTRACTABLE false), so the key value can never leave the HSM. Checked for every key of every
 * store when the server starts and before a reload is applied (a failing reload is refused and the
 * running configuration kept). A store with `allow_weak_keys = true` is served such keys, with a
 * warning.
 *
 * A key listed before it exists in the token is allowed; it is checked the first time a request
 * for it arrives and it is found (then served, or refused with InvalidStateException until the next
 * reload re-checks it).
 */
import { CiopError } from "@ciop/core";
import type { Hsm } from "@ciop/hsm";
import { InvalidStateException } from "@ciop/xks";
import type { StoreConfig } from "./config/index.js";

/** Why `keyId` must not serve a store (undefined: it may), read from the token now. Absent keys: "absent". */
function weakness(hsm: Hsm, keyId: string): string | undefined | "absent" {
  const key = hsm.findKey(keyId);
  if (!key) return "absent";
  const info = hsm.keyInfo(key);
  const problems: string[] = [];
  if (info.extractable) problems.push("extractable (CKA_EXTRACTABLE true)");
  if (!info.sensitive) problems.push("not sensitive (CKA_SENSITIVE false)");
  return problems.length > 0 ? problems.join(" and ") : undefined;
}

export interface StoreKeyVerdict {
  /** Weak keys served anyway (allow_weak_keys), as log sentences. */
  warnings: string[];
  /** "store\0key" of keys not in the token yet: checked when first found. */
  pending: Set<string>;
  /** Stores that accept weak keys. */
  allowWeak: Set<string>;
}

/**
 * Checks every store key in the token. Throws ERR_CONFIG_INVALID naming each weak key of a store
 * that does not allow them; HSM errors propagate (a start or reload is then refused, never passed).
 */
export function checkStoreKeys(hsm: Hsm, stores: readonly StoreConfig[]): StoreKeyVerdict {
  const refused: string[] = [];
  const verdict: StoreKeyVerdict = { warnings: [], pending: new Set(), allowWeak: new Set() };
  const seen = new Map<string, string | undefined | "absent">();
  for (const s of stores) {
    if (s.allowWeakKeys) verdict.allowWeak.add(s.name);
    for (const k of s.keys) {
      if (!seen.has(k)) seen.set(k, weakness(hsm, k));
      const w = seen.get(k);
      if (w === undefined) continue;
      if (w === "absent") verdict.pending.add(`${s.name}\0${k}`);
      else if (s.allowWeakKeys) verdict.warnings.push(`key store '${s.name}' serves key '${k}', which is ${w}: allowed by allow_weak_keys = true`);
      else refused.push(`'${k}' (store '${s.name}') is ${w}`);
    }
  }
  if (refused.length > 0) {
    throw new CiopError(
      "ERR_CONFIG_INVALID",
      `store keys must stay inside the HSM (sensitive, not extractable): ${refused.join("; ")}. ` +
        "Serve another key, or set allow_weak_keys = true in that [[stores]] table to accept it with a warning",
    );
  }
  return verdict;
}

/**
 * The running check for keys that were absent when the configuration was applied. `admit` is
 * called for every key operation; it costs one comparison while no key is pending.
 */
export class StoreKeyGuard {
  private pending = new Set<string>();
  private refused = new Set<string>();
  private allowWeak = new Set<string>();

  constructor(private readonly log: (record: Record<string, unknown>) => void) {}

  /** Takes the verdict of the configuration just applied (start or reload). */
  apply(v: StoreKeyVerdict): void {
    this.pending = v.pending;
    this.allowWeak = v.allowWeak;
    this.refused = new Set();
  }

  /** Throws InvalidStateException for a key found weak in a store that does not allow weak keys. */
  admit(hsm: Hsm, store: string, keyId: string): void {
    if (this.pending.size === 0 && this.refused.size === 0) return;
    const id = `${store}\0${keyId}`;
    if (this.refused.has(id)) throw new InvalidStateException("the proxy refuses this key: it is extractable or not sensitive in the HSM");
    if (!this.pending.has(id)) return;
    const w = weakness(hsm, keyId);
    if (w === "absent") return; // the request goes on to its KeyNotFoundException
    this.pending.delete(id);
    if (w === undefined) return;
    if (this.allowWeak.has(store)) {
      this.log({ msg: "store-key-weak", store, key: keyId, problem: w });
      return;
    }
    this.refused.add(id);
    this.log({ msg: "store-key-refused", store, key: keyId, problem: w });
    throw new InvalidStateException("the proxy refuses this key: it is extractable or not sensitive in the HSM");
  }
}
