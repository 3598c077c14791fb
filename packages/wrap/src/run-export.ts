/**
 * The one export flow, used by citool and by every provider's test matrix, in the order that keeps
 * the token clean:
 *
 *   plan      read the wrapping key, provider.plan() validates the whole request,
 *             provider.outputFiles() names the files                      → hooks.planned
 *   key       open the key source (lazily), get or create the target key  → hooks.keyReady
 *             (a disabled key is refused here)
 *   wrap      provider.export(); the artefacts must be exactly the declared files
 *   deliver   hand the artefacts to the app (e.g. write them)              → hooks.deliver
 *
 * A request that is refused in the plan step never touches the key source. When anything after the
 * key step fails, a key this call created is discarded again and hooks.failed is told.
 */
import { CiopError } from "@ciop/core";
import type { TargetKey, WrappingKey } from "./engine.js";
import type { KeySource, SourcedKey } from "./key-sources.js";
import { parseWrappingKey } from "./parse-wrapping-key.js";
import type { ExportPlan, ExportRequest, ExportResult, ProviderModule, ProviderOptions } from "./provider.js";

/** An {@link ExportRequest} whose wrapping key may still be raw input (bytes or text). @public */
export type ExportRequestInput<Options extends ProviderOptions = ProviderOptions> = Omit<ExportRequest<Options>, "wrappingKey"> & {
  /** A parsed key, or anything {@link parseWrappingKey} reads (DER, PEM, certificate, base64). */
  wrappingKey: WrappingKey | Uint8Array | string;
  /** The time a certificate's validity is checked against (default: now). */
  now?: Date;
};

/** The validated request and the files it will produce: the result of the plan step. @public */
export interface PlannedExport {
  plan: ExportPlan;
  /** File names the export will return, in order (`provider.outputFiles(plan)`, checked). */
  files: readonly string[];
}

/** Result of {@link runExport}. @public */
export interface RunExportResult extends ExportResult {
  /** The target key. */
  target: TargetKey;
  /** True when this call created the target key. */
  created: boolean;
  /** The declared output files; equal to the artefacts' file names. */
  files: readonly string[];
}

/** What {@link ExportHooks.keyReady} is told. @public */
export interface KeyReadyContext {
  plan: ExportPlan;
  target: TargetKey;
  created: boolean;
  /** False for an existing, disabled key (the flow refuses it after this hook, if the hook did not). */
  enabled: boolean | undefined;
}

/** What {@link ExportHooks.failed} is told. @public */
export interface ExportFailure {
  plan: ExportPlan;
  error: unknown;
  /** The target key, when the key step got that far. */
  target: TargetKey | undefined;
  /** True when this call had created the key. */
  created: boolean;
  /** True when that created key was destroyed again; false when there was none or it could not be. */
  discarded: boolean;
}

/**
 * Where an app acts between the steps of {@link runExport}. Every hook may be async; a hook that
 * throws stops the export with that error (after `planned`: nothing has been touched; later: a key
 * this call created is discarded).
 * @public
 */
export interface ExportHooks {
  /** The request is valid and its files are known; no key has been looked up. Check the destination here. */
  planned?(plan: ExportPlan, files: readonly string[]): void | Promise<void>;
  /** The target key exists; nothing is wrapped yet. Audit a created key, or refuse the key. */
  keyReady?(context: KeyReadyContext): void | Promise<void>;
  /** The artefacts exist and match the declared files. Write them here. */
  deliver?(result: RunExportResult): void | Promise<void>;
  /** The export failed after the key step began; called once, after a created key was discarded. Errors it throws are ignored. */
  failed?(failure: ExportFailure): void | Promise<void>;
}

/** A key source, or a function that opens one once the plan has passed (so a refused request never opens the HSM). @public */
export type KeySourceInput = KeySource | ((plan: ExportPlan) => KeySource | Promise<KeySource>);

function isParsed(k: ExportRequestInput["wrappingKey"]): k is WrappingKey {
  return typeof k === "object" && !(k instanceof Uint8Array) && "spki" in k;
}

function internal(provider: { readonly names: readonly string[] }, what: string): CiopError {
  return new CiopError("ERR_INTERNAL", `Provider ${provider.names.join("/")} ${what}.`);
}

/** Checks the declared files: plain, distinct file names (they are joined to an output directory). */
function checkFiles(provider: { readonly names: readonly string[] }, files: unknown): readonly string[] {
  if (!Array.isArray(files) || files.length === 0) throw internal(provider, "declares no output files");
  const seen = new Set<string>();
  for (const f of files) {
    if (typeof f !== "string" || f === "" || f === "." || f === ".." || /[/\\\0]/.test(f) || seen.has(f)) {
      throw internal(provider, `declares an unusable output file name ${JSON.stringify(f)}`);
    }
    seen.add(f);
  }
  return Object.freeze([...files] as string[]);
}

/**
 * The plan step alone: reads the wrapping key, validates the whole request with `provider.plan()`
 * and names the files with `provider.outputFiles()`. No side effects.
 * @throws CiopError with the provider's or parser's code (ERR_INTERNAL for a provider that
 * declares unusable file names).
 * @public
 */
export function planExport<Options extends ProviderOptions>(provider: ProviderModule<Options>, request: ExportRequestInput<Options>): PlannedExport {
  const { wrappingKey: input, now, ...rest } = request;
  const wrappingKey = isParsed(input)
    ? input
    : parseWrappingKey(input, { allowInvalidCertificate: request.allowInvalidCertificate === true, ...(now ? { now } : {}) });
  const plan = provider.plan({ ...rest, wrappingKey } as ExportRequest<Options>);
  if (typeof provider.outputFiles !== "function") throw internal(provider, "does not declare its output files (outputFiles)");
  return { plan, files: checkFiles(provider, provider.outputFiles(plan)) };
}

/**
 * Runs the whole export: plan (every refusal — unreadable wrapping key, expired certificate,
 * unknown algorithm, unsupported key type, wrapping key too small or too weak, bad provider
 * option — happens before the key source is opened), `hooks.planned`, open the key source, get or
 * create the key, `hooks.keyReady`, refuse a disabled key, `provider.export()`, check that the
 * artefacts are the declared files, `hooks.deliver`. If anything after the key step fails, a key
 * this call created is discarded and `hooks.failed` is called; the original error is thrown.
 * Writes no files itself.
 * @throws CiopError with the provider's, parser's, key source's or hook's code.
 * @public
 */
export async function runExport<Options extends ProviderOptions>(
  provider: ProviderModule<Options>,
  request: ExportRequestInput<Options>,
  source: KeySourceInput,
  hooks: ExportHooks = {},
): Promise<RunExportResult> {
  const { plan, files } = planExport(provider, request);
  await hooks.planned?.(plan, files);
  const keys = typeof source === "function" ? await source(plan) : source;
  let key: SourcedKey | undefined;
  try {
    key = await keys.getOrCreate(plan.keyName, plan.keyType);
    await hooks.keyReady?.({ plan, target: key.target, created: key.created, enabled: key.enabled });
    if (key.enabled === false) {
      throw new CiopError("ERR_KEY_DISABLED", `Key "${plan.keyName}" is disabled; a disabled key is not exported until it is enabled again.`);
    }
    const exported: ExportResult = await provider.export(plan, keys.engine, key.target);
    const names = exported.artefacts.map((a) => a.fileName);
    if (names.length !== files.length || names.some((n, i) => n !== files[i])) {
      throw internal(provider, `returned the files ${JSON.stringify(names)} but declared ${JSON.stringify(files)}`);
    }
    const result: RunExportResult = { ...exported, target: key.target, created: key.created, files };
    await hooks.deliver?.(result);
    return result;
  } catch (error) {
    const created = key?.created === true;
    let discarded = false;
    if (created && keys.discard) {
      try {
        await keys.discard(key!.target);
        discarded = true;
      } catch {
        /* the export error is the one to report; failed() is told the key is still there */
      }
    }
    try {
      await hooks.failed?.({ plan, error, target: key?.target, created, discarded });
    } catch {
      /* the export error is the one to report */
    }
    throw error;
  }
}
