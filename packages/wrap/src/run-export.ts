/**
 * The whole export flow in one call, in the order that keeps the token clean: read the wrapping
 * key, let the provider validate the complete request (plan), and only then get or create the target
 * key and wrap it. A request that a provider refuses never creates a key.
 */
import { CiopError } from "@ciop/core";
import type { Hsm } from "@ciop/hsm";
import type { KeyType, TargetKey, WrapEngine, WrappingKey } from "./engine.js";
import type { ExportPlan, ExportRequest, ExportResult, ProviderModule } from "./provider.js";
import { createHsmEngine, hsmKey } from "./hsm-engine.js";
import { parseWrappingKey } from "./parse-wrapping-key.js";
import { createSoftwareEngine, generateSoftwareKey, type SoftwareTargetKey } from "./software-engine.js";

/** Where target keys come from, and the engine that wraps them. @public */
export interface KeySource {
  readonly engine: WrapEngine;
  /** Returns the key `name`, creating it as `type` when it does not exist yet. */
  getOrCreate(name: string, type: KeyType): Promise<{ target: TargetKey; created: boolean }>;
  /** Destroys a key this source has just created (used when the export that needed it failed). */
  discard?(target: TargetKey): Promise<void>;
}

/**
 * Keys on an HSM token (`Hsm.getOrCreateKey`: an existing key is reused only if ciop created it and
 * it has the requested type), wrapped by the HSM engine.
 * @public
 */
export function hsmKeySource(hsm: Hsm): KeySource {
  const engine = createHsmEngine(hsm);
  return {
    engine,
    async getOrCreate(name, type) {
      const { key, created } = await hsm.getOrCreateKey(name, type);
      return { target: hsmKey(key), created };
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

/** An {@link ExportRequest} whose wrapping key may still be raw input (bytes or text). @public */
export type ExportRequestInput = Omit<ExportRequest, "wrappingKey"> & {
  /** A parsed key, or anything {@link parseWrappingKey} reads (DER, PEM, certificate, base64). */
  wrappingKey: WrappingKey | Uint8Array | string;
  /** The time a certificate's validity is checked against (default: now). */
  now?: Date;
};

/** Result of {@link runExport}. @public */
export interface RunExportResult extends ExportResult {
  /** The target key. */
  target: TargetKey;
  /** True when this call created the target key. */
  created: boolean;
}

function isParsed(k: ExportRequestInput["wrappingKey"]): k is WrappingKey {
  return typeof k === "object" && !(k instanceof Uint8Array) && "spki" in k;
}

/**
 * Reads the wrapping key, validates the whole request with `provider.plan()`, then gets or creates
 * the target key and runs `provider.export()`. Every refusal (unreadable wrapping key, expired
 * certificate, unknown algorithm, unsupported key type, wrapping key too small or too weak, bad
 * Azure kid, ...) is thrown before the key source is touched. If the export itself then fails (for
 * example a hardware token that refuses a host-side step), a key this call created is discarded
 * again, so a failed export leaves no new key behind. Writes no files.
 * @throws CiopError with the provider's or parser's code.
 * @public
 */
export async function runExport(provider: ProviderModule, request: ExportRequestInput, source: KeySource): Promise<RunExportResult> {
  const { wrappingKey: input, now, ...rest } = request;
  const wrappingKey = isParsed(input)
    ? input
    : parseWrappingKey(input, { allowInvalidCertificate: request.allowInvalidCertificate === true, ...(now ? { now } : {}) });
  const plan: ExportPlan = provider.plan({ ...rest, wrappingKey });
  const { target, created } = await source.getOrCreate(plan.keyName, plan.keyType);
  let result: ExportResult;
  try {
    result = await provider.export(plan, source.engine, target);
  } catch (err) {
    if (created && source.discard) {
      try {
        await source.discard(target);
      } catch {
        /* the export error is the one to report */
      }
    }
    throw err;
  }
  return { ...result, target, created };
}
