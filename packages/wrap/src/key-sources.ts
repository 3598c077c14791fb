/**
 * Where the export flow (run-export.ts) gets its target keys: an HSM token, or process memory.
 */
import { CiopError } from "@ciop/core";
import type { Hsm } from "@ciop/hsm";
import type { KeyType, TargetKey, WrapEngine } from "./engine.js";
import { createHsmEngine, hsmKey } from "./hsm-engine.js";
import { createSoftwareEngine, generateSoftwareKey, type SoftwareTargetKey } from "./software-engine.js";

/** What {@link KeySource.getOrCreate} returns. @public */
export interface SourcedKey {
  target: TargetKey;
  /** True when this call created the key. */
  created: boolean;
  /**
   * False for an existing key that is disabled (ciop's `keys disable`); the export flow refuses to
   * wrap it. Undefined where the source has no such state.
   */
  enabled?: boolean;
}

/** Where target keys come from, and the engine that wraps them. @public */
export interface KeySource {
  readonly engine: WrapEngine;
  /** Returns the key `name`, creating it as `type` when it does not exist yet. */
  getOrCreate(name: string, type: KeyType): Promise<SourcedKey>;
  /** Destroys a key this source has just created (used when the export that needed it failed). */
  discard?(target: TargetKey): Promise<void>;
}

/**
 * Keys on an HSM token (`Hsm.getOrCreateKey`: an existing key is reused only if ciop created it and
 * it has the requested type), wrapped by the HSM engine. An existing key reports whether it is
 * enabled (`Hsm.keyInfo`).
 * @public
 */
export function hsmKeySource(hsm: Hsm): KeySource {
  const engine = createHsmEngine(hsm);
  return {
    engine,
    async getOrCreate(name, type) {
      const { key, created } = await hsm.getOrCreateKey(name, type);
      return { target: hsmKey(key), created, enabled: created || hsm.keyInfo(key).enabled };
    },
    async discard(target) {
      hsm.deleteKey(target.name);
    },
  };
}

/**
 * Keys generated in process memory by the software engine, remembered by name for the life of the
 * source (for services that hold key material themselves, and for tests).
 * @public
 */
export function softwareKeySource(): KeySource & { readonly keys: ReadonlyMap<string, SoftwareTargetKey> } {
  const keys = new Map<string, SoftwareTargetKey>();
  return {
    engine: createSoftwareEngine(),
    keys,
    async getOrCreate(name, type) {
      const existing = keys.get(name);
      if (existing !== undefined) {
        if (existing.type !== type) {
          throw new CiopError("ERR_KEY_TYPE_MISMATCH", `Key "${name}" exists as ${existing.type}, not ${type}.`);
        }
        return { target: existing, created: false };
      }
      const target = generateSoftwareKey(name, type);
      keys.set(name, target);
      return { target, created: true };
    },
    async discard(target) {
      keys.delete(target.name);
    },
  };
}
