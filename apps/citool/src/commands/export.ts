/**
 * `citool provider keyName wrapKey [wrapAlg]`: the seed-compatible export.
 *
 * The export itself is @ciop/wrap's runExport (plan → key → wrap → artefacts), the same flow the
 * provider test matrices run. This command turns the command line into its request and acts in
 * its hooks: before the HSM is opened it checks the output directory, the files the provider
 * declared, the audit log and the PIN file; it audits a generated key and refuses a disabled one;
 * it writes the files (all or none); it audits and reports a failure; then it prints the result.
 */
import { join } from "node:path";
import { CiopError } from "@ciop/core";
import type { Hsm } from "@ciop/hsm";
import {
  hsmKeySource,
  planExport,
  runExport as runExportFlow,
  type ExportHooks,
  type ExportPlan,
  type ExportRequestInput,
  type KeySource,
  type ProviderModule,
  type RunExportResult,
} from "@ciop/wrap";
import { checkOptionsApply, flag, str, type ParsedArgs } from "../args.js";
import { audit } from "../audit.js";
import { loadSettings, type Settings } from "../config.js";
import { usageError } from "../errors.js";
import { checkPinFile, openHsm, tokenFacts } from "../hsm-session.js";
import type { Io } from "../io.js";
import { makeStyle, printJson, printWarning, withProgress } from "../output.js";
import { findProvider } from "../providers.js";
import { checkAuditLogWritable, checkOutDir, checkOutputFiles, displayPath, writeArtefacts, type WrittenArtefact } from "./export-files.js";
import { importCommand, parseMaterialOptions, resolveVersion, type MaterialOptions, type VersionedExport } from "./key-versions.js";
import { readWrappingKey, wrappingKeyFacts } from "./wrapping-key-file.js";

const AZURE = "microsoft-azure";
const IBM = "ibm-key-protect";

interface ExportCommand {
  module: ProviderModule;
  request: ExportRequestInput;
  settings: Settings;
  force: boolean;
  json: boolean;
  /** AWS key-material versions (--new-key-material, --key-material-version). */
  material: MaterialOptions | undefined;
}

/** The command line as an export request. Every check that needs neither the plan nor the HSM; throws usage errors. */
function parseExport(args: ParsedArgs, io: Io): ExportCommand {
  checkOptionsApply(args, "export", "an export");
  const [provider, keyName, wrapKey, wrapAlg, ...rest] = args.positionals;
  if (rest.length > 0) throw usageError(`too many arguments: ${rest.join(" ")} (usage: citool provider keyName wrapKey [wrapAlg])`);
  const missing = [provider === undefined ? "provider" : "", keyName === undefined ? "keyName" : "", wrapKey === undefined ? "wrapKey" : ""].filter(Boolean);
  if (missing.length > 0) {
    throw usageError(
      `missing argument${missing.length > 1 ? "s" : ""}: ${missing.join(", ")} (usage: citool provider keyName wrapKey [wrapAlg]; see citool --help)`,
    );
  }
  const settings = loadSettings(args, io);
  const module = findProvider(provider!);
  const azureKek = str(args, "azure-kek");
  const isAzure = module.names.includes(AZURE);
  if (azureKek !== undefined && !isAzure) throw usageError(`option -a/--azure-kek applies only to ${AZURE}, not to ${provider}`);
  if (isAzure && azureKek === undefined) {
    throw new CiopError(
      "ERR_KID_INVALID",
      `${AZURE} needs -a/--azure-kek: the key identifier URL of the key exchange key, e.g. https://myvault.vault.azure.net/keys/my-kek/<version>`,
    );
  }
  const ibmNonce = str(args, "ibm-nonce");
  const isIbm = module.names.includes(IBM);
  if (ibmNonce !== undefined && !isIbm) throw usageError(`option --ibm-nonce applies only to ${IBM}, not to ${provider}`);
  if (isIbm && ibmNonce === undefined) {
    throw usageError(
      `${IBM} needs --ibm-nonce: the 'nonce' of the import token whose public key you pass as wrapKey (GET /api/v2/import_token, or 'ibmcloud kp import-token show')`,
    );
  }
  if (keyName!.length === 0 || /[/\\\0]/.test(keyName!) || keyName === "." || keyName === "..") {
    throw new CiopError(
      "ERR_KEY_NAME_INVALID",
      `key name ${JSON.stringify(keyName)} cannot be used: it names output files, so it must be non-empty and contain no / or \\`,
    );
  }
  const wrappingKey = readWrappingKey(wrapKey!, io, flag(args, "allow-invalid-certificate"));
  const keyType = str(args, "key-type");
  const material = parseMaterialOptions(args, module, provider!, keyType);
  const request: ExportRequestInput = {
    provider: provider!,
    keyName: keyName!,
    wrappingKey,
    ...(wrapAlg !== undefined ? { algorithm: wrapAlg } : {}),
    ...(keyType !== undefined ? { keyType } : {}),
    ...(azureKek !== undefined ? { providerOptions: { kek: azureKek } } : {}),
    ...(ibmNonce !== undefined ? { providerOptions: { nonce: ibmNonce } } : {}),
    allowWeakWrappingKey: flag(args, "allow-weak-wrapping-key"),
    allowInvalidCertificate: flag(args, "allow-invalid-certificate"),
    allowLegacy: flag(args, "allow-legacy"),
  };
  return { module, request, settings, force: flag(args, "force"), json: flag(args, "json"), material };
}

/**
 * RSA key generation can take seconds to minutes on a slow HSM: while a new RSA key is made, show
 * that work is going on (stderr, terminals only, never with --json).
 */
function withGenerationProgress(source: KeySource, hsm: Hsm, io: Io, json: boolean): KeySource {
  return {
    ...source,
    getOrCreate(name, type) {
      const slow = type.startsWith("RSA-") && !json && hsm.findKey(name) === undefined;
      return slow ? withProgress(io, `generating ${type} key '${name}' in the HSM`, () => source.getOrCreate(name, type)) : source.getOrCreate(name, type);
    },
  };
}

type AuditBase = ReturnType<typeof auditBase>;

function auditBase(plan: ExportPlan, hsm: Hsm, versioned?: VersionedExport) {
  return {
    key: versioned?.label ?? plan.keyName,
    ...(versioned ? { family: versioned.name, version: versioned.version, importType: versioned.importType } : {}),
    keyType: plan.keyType,
    provider: plan.provider,
    algorithm: plan.algorithm,
    wrappingKeySha256: plan.wrappingKey.sha256,
    token: tokenFacts(hsm),
  };
}

/** Whether key `name` has a version 2 on the token (a hint only: a failed lookup says no). */
function hasLaterVersion(hsm: Hsm | undefined, name: string): boolean {
  try {
    return hsm?.findKey(`${name}~v2`) !== undefined;
  } catch {
    return false;
  }
}

/** The hooks: what citool does between the flow's steps. `state` collects what the result printout needs. */
interface ExportState {
  base?: AuditBase;
  written: WrittenArtefact[];
  versioned?: VersionedExport;
  /** The open token, once the key step opened it. */
  hsm?: Hsm;
  /** Notes found after the plan (printed as they are found, and kept for --json). */
  notes: string[];
}

function exportHooks(cmd: ExportCommand, io: Io, state: ExportState): ExportHooks {
  const { settings, force } = cmd;
  return {
    planned(plan, files) {
      checkOutDir(settings.outDir);
      checkOutputFiles(files, settings.outDir, force, io);
      checkAuditLogWritable(settings);
      checkPinFile(settings);
      for (const w of plan.warnings) printWarning(io, w);
    },
    keyReady({ plan, created, enabled }) {
      // A plain aws export of a key that has AWS key-material versions exports version 1: say so,
      // so that nobody imports version 1's material believing it is the current one. (One label
      // search, only for an existing AES-256 key of the aws provider.)
      if (!created && !state.versioned && plan.provider === "aws" && plan.keyType === "AES-256" && hasLaterVersion(state.hsm, plan.keyName)) {
        const note = `key '${plan.keyName}' has later AWS key-material versions; this file is version 1's material (see 'citool keys show ${plan.keyName}'; --key-material-version N exports another version)`;
        state.notes.push(note);
        if (!cmd.json) printWarning(io, note);
      }
      if (created) {
        const v = state.versioned;
        audit(settings, io, { operation: "generate", ...state.base!, ...(v?.description ? { materialDescription: v.description } : {}), outcome: "ok" });
      }
      // PKCS#11 has no attribute that stops a key from being wrapped (CKA_EXTRACTABLE cannot be set
      // back to true), so "disabled" (keys disable) is enforced by the flow, before any wrap.
      if (enabled === false) {
        throw new CiopError(
          "ERR_KEY_DISABLED",
          `key '${plan.keyName}' is disabled; citool does not export a disabled key (run 'citool keys enable ${plan.keyName}' first)`,
        );
      }
    },
    deliver(result) {
      state.written = writeArtefacts(result.artefacts, settings.outDir, force);
    },
    failed({ error, created, discarded }) {
      const base = state.base!;
      audit(settings, io, {
        operation: "export",
        ...base,
        keyCreated: created,
        outcome: "error",
        error: CiopError.isInstance(error) ? error.code : "ERR_INTERNAL",
      });
      // a failed export leaves no new key behind: the key was never delivered anywhere, and a later
      // run with other options may want another type under this name
      const details = CiopError.isInstance(error) ? error.details : undefined;
      const made = details?.keyVersionCreated;
      if (!created && typeof made === "string") {
        // a key version made and (if keyVersionDeleted) destroyed again inside @ciop/hsm, before
        // the flow had it: its generation and deletion are on record all the same
        const v = state.versioned;
        audit(settings, io, { operation: "generate", ...base, ...(v?.description ? { materialDescription: v.description } : {}), outcome: "ok" });
        if (details?.keyVersionDeleted === true) {
          audit(settings, io, { operation: "delete", ...base, outcome: "ok" });
          printWarning(io, `key '${made}' was generated in the HSM before its record could be written; it has been deleted again`);
        } else {
          printWarning(
            io,
            `key '${made}' was generated in the HSM before its record could be written and could not be deleted; remove it with 'citool keys delete ${made}'`,
          );
        }
        return;
      }
      if (!created) return;
      const label = base.key;
      if (discarded) {
        audit(settings, io, { operation: "delete", ...base, outcome: "ok" });
        printWarning(io, `key '${label}' was generated in the HSM before the export failed; it has been deleted again`);
      } else {
        printWarning(
          io,
          `key '${label}' was generated in the HSM before the export failed and could not be deleted; remove it with 'citool keys delete ${label}'`,
        );
      }
    },
  };
}

export async function runExport(args: ParsedArgs, io: Io): Promise<number> {
  const cmd = parseExport(args, io);
  const { settings, json } = cmd;
  const fallbacks: Array<{ operation: string; material: string; reason: string }> = [];
  const state: ExportState = { written: [], notes: [] };
  let hsm: Hsm | undefined;
  const openToken = async (): Promise<Hsm> => {
    hsm ??= await openHsm(settings, io, {
      onHostFallback: (e) => {
        fallbacks.push({ operation: e.operation, material: e.material, reason: e.reason });
      },
    });
    return hsm;
  };
  const openSource = async (plan: ExportPlan): Promise<KeySource> => {
    const h = await openToken();
    state.hsm = h;
    state.base = auditBase(plan, h, state.versioned);
    const source = hsmKeySource(h);
    return state.versioned ? state.versioned.source(h, source) : withGenerationProgress(source, h, io, json);
  };
  let result: RunExportResult;
  let command: string | undefined;
  try {
    let request = cmd.request;
    if (cmd.material) {
      // A version's files carry its number, known only from the token: every check that needs
      // neither the token nor the number runs first (the whole plan, the output directory, the
      // audit log, the PIN file), then the family is checked on the token; still no key is made.
      planExport(cmd.module, request);
      checkOutDir(settings.outDir);
      checkAuditLogWritable(settings);
      checkPinFile(settings);
      if (cmd.material.mode === "new" && cmd.material.description !== undefined) {
        (await import("@ciop/providers-aws")).checkKeyMaterialDescription(cmd.material.description);
      }
      state.versioned = await resolveVersion(await openToken(), request.keyName, cmd.material, new Date());
      request = { ...request, keyName: state.versioned.artefactName };
      // the import command is built (and every recorded value in it checked) before any key or file exists
      const { awsWrappedFileName } = await import("@ciop/providers-aws");
      command = await importCommand(state.versioned, displayPath(join(settings.outDir, awsWrappedFileName(state.versioned.artefactName)), io));
      if (!json) for (const w of state.versioned.warnings) printWarning(io, w);
    }
    result = await runExportFlow(cmd.module, request, openSource, exportHooks(cmd, io, state));
  } finally {
    if (hsm) await Promise.resolve(hsm.close()).catch(() => undefined);
  }
  const { plan, created } = result;
  const base = state.base!;
  const written = state.written;
  const hostFallback = result.hostFallback || fallbacks.length > 0;
  const versioned = state.versioned;
  // a version's file is imported with the command printed for it (its ImportType), not the provider's generic one
  const usageOf = (w: WrittenArtefact): string => (versioned && command ? `${versionUsage(versioned)} CLI: ${command}` : w.usage);
  const auditOk = audit(settings, io, {
    operation: "export",
    ...base,
    ...(versioned?.description ? { materialDescription: versioned.description } : {}),
    keyCreated: created,
    artefacts: written.map((w) => ({ name: w.fileName, sha256: w.sha256 })),
    hostFallback,
    ...(fallbacks.length ? { hostFallbackEvents: fallbacks } : {}),
    steps: result.steps,
    outcome: "ok",
  });

  const warnings = [...plan.warnings, ...(versioned?.warnings ?? []), ...state.notes];
  if (hostFallback) {
    const note =
      "part of the wrap ran on the host: key material (the target or an ephemeral key protecting it) was in this process's memory for a moment and has been wiped";
    warnings.push(note);
    if (!json) printWarning(io, note);
  }
  if (json) {
    printJson(io, {
      command: "export",
      provider: plan.provider,
      key: versioned
        ? {
            name: versioned.label,
            family: versioned.name,
            version: versioned.version,
            type: plan.keyType,
            status: created ? "created" : "reused",
            token: base.token,
          }
        : { name: plan.keyName, type: plan.keyType, status: created ? "created" : "reused", token: base.token },
      ...(versioned
        ? {
            keyMaterial: {
              version: versioned.version,
              importType: versioned.importType,
              description: versioned.description,
              awsKeyMaterialId: versioned.awsKeyMaterialId,
              command,
            },
          }
        : {}),
      wrappingKey: wrappingKeyFacts(plan.wrappingKey),
      algorithm: plan.algorithm,
      ...(Object.keys(plan.extra).length ? { extra: plan.extra } : {}),
      hostFallback,
      steps: result.steps,
      warnings,
      artefacts: written.map((w) => ({ path: w.path, fileName: w.fileName, sha256: w.sha256, size: w.size, encoding: w.encoding, usage: usageOf(w) })),
      auditLog: settings.auditLog,
    });
  } else {
    const s = makeStyle(io, false);
    const wk = plan.wrappingKey;
    const what = versioned
      ? `${plan.keyType} key '${versioned.label}' (version ${versioned.version} of '${versioned.name}')`
      : `${plan.keyType} key '${plan.keyName}'`;
    const lines = [
      `${created ? "Generated" : "Reused"} ${what} on token '${base.token.label}'.`,
      `Wrapped with ${plan.algorithm} under the ${wk.type}-${wk.bits} wrapping key ${wk.sha256.slice(0, 16)}… (strength ${wk.strength} bits).`,
      "",
      ...written.flatMap((w) => [`  ${s.bold(displayPath(w.path, io))}  (${w.size} bytes, sha256 ${w.sha256})`, `      ${usageOf(w)}`]),
      ...(versioned && command ? versionNotes(versioned, command) : []),
    ];
    io.out(`${lines.join("\n")}\n`);
  }
  return auditOk ? 0 : 1;
}

/** The usage text of a version's file (its command follows). */
function versionUsage(v: VersionedExport): string {
  return `Key material version ${v.version} of '${v.name}' for an AWS KMS key with imported material, to import as ${v.importType}.`;
}

/** What the operator does with a version's file: the import command, and what follows it. */
function versionNotes(v: VersionedExport, command: string): string[] {
  const lines = ["", `Import it as ${v.importType} (set KMS_KEY_ID; ImportToken.bin comes with the wrapping key):`, `  ${command}`];
  if (v.importType === "NEW_KEY_MATERIAL") {
    lines.push(
      `'citool keys annotate ${v.name} ${v.version} --aws-key-material-id <KeyMaterialId>' records the id import-key-material printed.`,
      `For a multi-Region key, import into every replica first: export this version under each replica Region's wrapping key`,
      `with --key-material-version ${v.version} and import it there (EXISTING_KEY_MATERIAL); AWS rotates the primary only after that.`,
      `Then 'aws kms rotate-key-on-demand --key-id "$KMS_KEY_ID"' (on the primary) makes it current.`,
    );
  } else if (v.awsKeyMaterialId === null) {
    lines.push(`No KeyMaterialId is recorded for version ${v.version}; 'citool keys annotate ${v.name} ${v.version} --aws-key-material-id <id>' adds it.`);
  }
  return lines;
}
