/**
 * What every @ciop/providers-* package implements. The steps, which `runExport` (run-export.ts)
 * runs in this order for apps and tests alike:
 *   const plan  = provider.plan(request)          // validates everything; no side effects
 *   const files = provider.outputFiles(plan)      // the file names export() will return
 *   const key   = ...get or create plan.keyType under plan.keyName...
 *   const out   = await provider.export(plan, engine, key)   // artefacts, nothing written
 *
 * This file is a contract shared with the provider packages and apps: extend it, do not break it.
 */
import type { KeyType, TargetKey, WrapEngine, WrappingKey } from "./engine.js";

/**
 * Options only one provider understands (e.g. Azure's `{ kek }`). Each provider package exports
 * the type of its own options and refuses any member it does not know.
 * @public
 */
export type ProviderOptions = Readonly<Record<string, unknown>>;

/** @public */
export interface ExportRequest<Options extends ProviderOptions = ProviderOptions> {
  /** Provider name as the seed CLI spells it, e.g. "aws", "microsoft-azure". */
  provider: string;
  keyName: string;
  wrappingKey: WrappingKey;
  /** Wrapping algorithm (seed names, e.g. "RSAES_OAEP_SHA_256"). Required where the provider needs one. */
  algorithm?: string;
  /** Target key type (seed names, e.g. "EC-NISTP384"). Provider default when absent. */
  keyType?: string;
  /** Provider-specific options, typed by the provider package (e.g. `AzureExportOptions`). */
  providerOptions?: Options;
  /** Accept a wrapping key weaker than the target. */
  allowWeakWrappingKey?: boolean;
  /** Accept an expired or not-yet-valid certificate. */
  allowInvalidCertificate?: boolean;
  /** Accept algorithms the provider has retired (e.g. AWS RSAES_PKCS1_V1_5). */
  allowLegacy?: boolean;
}

/** @public */
export interface ExportPlan {
  provider: string;
  keyName: string;
  keyType: KeyType;
  algorithm: string;
  wrappingKey: WrappingKey;
  /** Non-fatal notes for the operator (e.g. "RSAES_PKCS1_V1_5 is no longer accepted by AWS"). */
  warnings: string[];
  /** Provider-specific validated extras (e.g. { azureKek }). */
  extra: Record<string, string>;
}

/** @public */
export interface Artefact {
  /** File name as the seed tool names it, e.g. "mykey-wrapped", "KeyTransferPackage-mykey.byok". */
  fileName: string;
  bytes: Uint8Array;
  encoding: "binary" | "base64" | "base64url" | "json" | "text";
  /** What the operator does with it, e.g. "upload as the wrapped key material in AWS KMS". */
  usage: string;
}

/** @public */
export interface ExportResult {
  plan: ExportPlan;
  artefacts: Artefact[];
  hostFallback: boolean;
  steps: string[];
}

/** @public */
export interface ProviderModule<Options extends ProviderOptions = ProviderOptions> {
  /** Provider names this module answers to. */
  readonly names: readonly string[];
  /** Accepted wrapping algorithms, in the seed's spelling; empty when the provider takes none (Azure). */
  readonly algorithms: readonly string[];
  readonly keyTypes: readonly KeyType[];
  readonly defaultKeyType: KeyType;
  /** Accepted wrapping RSA key sizes in bits. */
  readonly wrappingKeyBits: readonly number[];
  /** Validate the whole request. Throws CiopError (usage codes) on the first problem. */
  plan(request: ExportRequest<Options>): ExportPlan;
  /**
   * The names of the files export() will return for this plan, in order, known before any key
   * exists (so an app can refuse to overwrite them first). Plain file names, no directories.
   */
  outputFiles(plan: ExportPlan): readonly string[];
  /** Wrap the key and build the artefacts (exactly the files of outputFiles(plan)). Writes nothing. */
  export(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult>;
}
