/**
 * `citool provider keyName wrapKey [wrapAlg]`: the seed-compatible export.
 *
 * The export itself is @ciop/wrap's runExport (plan → key → wrap → artefacts), the same flow the
 * provider test matrices run. This command turns the command line into its request and acts in
 * its hooks: before the HSM is opened it checks the output directory, the files the provider
 * declared, the audit log and the PIN file; it audits a generated key and refuses a disabled one;
 * it writes the files (all or none); it audits and reports a failure; then it prints the result.
 */
import { CiopError } from "@ciop/core";
import type { Hsm } from "@ciop/hsm";
import {
  hsmKeySource,
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
import { readWrappingKey, wrappingKeyFacts } from "./wrapping-key-file.js";

const AZURE = "microsoft-azure";

interface ExportCommand {
  module: ProviderModule;
  request: ExportRequestInput;
  settings: Settings;
  force: boolean;
  json: boolean;
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
  if (keyName!.length === 0 || /[/\\\0]/.test(keyName!) || keyName === "." || keyName === "..") {
    throw new CiopError(
      "ERR_KEY_NAME_INVALID",
      `key name ${JSON.stringify(keyName)} cannot be used: it names output files, so it must be non-empty and contain no / or \\`,
    );
  }
  const wrappingKey = readWrappingKey(wrapKey!, io, flag(args, "allow-invalid-certificate"));
  const keyType = str(args, "key-type");
  const request: ExportRequestInput = {
    provider: provider!,
    keyName: keyName!,
    wrappingKey,
    ...(wrapAlg !== undefined ? { algorithm: wrapAlg } : {}),
    ...(keyType !== undefined ? { keyType } : {}),
    ...(azureKek !== undefined ? { providerOptions: { kek: azureKek } } : {}),
    allowWeakWrappingKey: flag(args, "allow-weak-wrapping-key"),
    allowInvalidCertificate: flag(args, "allow-invalid-certificate"),
    allowLegacy: flag(args, "allow-legacy"),
  };
  return { module, request, settings, force: flag(args, "force"), json: flag(args, "json") };
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

function auditBase(plan: ExportPlan, hsm: Hsm) {
  return {
    key: plan.keyName,
    keyType: plan.keyType,
    provider: plan.provider,
    algorithm: plan.algorithm,
    wrappingKeySha256: plan.wrappingKey.sha256,
    token: tokenFacts(hsm),
  };
}

/** The hooks: what citool does between the flow's steps. `state` collects what the result printout needs. */
function exportHooks(cmd: ExportCommand, io: Io, state: { base?: AuditBase; written: WrittenArtefact[] }): ExportHooks {
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
      if (created) audit(settings, io, { operation: "generate", ...state.base!, outcome: "ok" });
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
    failed({ plan, error, created, discarded }) {
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
      if (!created) return;
      if (discarded) {
        audit(settings, io, { operation: "delete", ...base, outcome: "ok" });
        printWarning(io, `key '${plan.keyName}' was generated in the HSM before the export failed; it has been deleted again`);
      } else {
        printWarning(
          io,
          `key '${plan.keyName}' was generated in the HSM before the export failed and could not be deleted; remove it with 'citool keys delete ${plan.keyName}'`,
        );
      }
    },
  };
}

export async function runExport(args: ParsedArgs, io: Io): Promise<number> {
  const cmd = parseExport(args, io);
  const { settings, json } = cmd;
  const fallbacks: Array<{ operation: string; material: string; reason: string }> = [];
  const state: { base?: AuditBase; written: WrittenArtefact[] } = { written: [] };
  let hsm: Hsm | undefined;
  const openSource = async (plan: ExportPlan): Promise<KeySource> => {
    hsm = await openHsm(settings, io, {
      onHostFallback: (e) => {
        fallbacks.push({ operation: e.operation, material: e.material, reason: e.reason });
      },
    });
    state.base = auditBase(plan, hsm);
    return withGenerationProgress(hsmKeySource(hsm), hsm, io, json);
  };
  let result: RunExportResult;
  try {
    result = await runExportFlow(cmd.module, cmd.request, openSource, exportHooks(cmd, io, state));
  } finally {
    if (hsm) await Promise.resolve(hsm.close()).catch(() => undefined);
  }
  const { plan, created } = result;
  const base = state.base!;
  const written = state.written;
  const hostFallback = result.hostFallback || fallbacks.length > 0;
  const auditOk = audit(settings, io, {
    operation: "export",
    ...base,
    keyCreated: created,
    artefacts: written.map((w) => ({ name: w.fileName, sha256: w.sha256 })),
    hostFallback,
    ...(fallbacks.length ? { hostFallbackEvents: fallbacks } : {}),
    steps: result.steps,
    outcome: "ok",
  });

  const warnings = [...plan.warnings];
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
      key: { name: plan.keyName, type: plan.keyType, status: created ? "created" : "reused", token: base.token },
      wrappingKey: wrappingKeyFacts(plan.wrappingKey),
      algorithm: plan.algorithm,
      ...(Object.keys(plan.extra).length ? { extra: plan.extra } : {}),
      hostFallback,
      steps: result.steps,
      warnings,
      artefacts: written.map((w) => ({ path: w.path, fileName: w.fileName, sha256: w.sha256, size: w.size, encoding: w.encoding, usage: w.usage })),
      auditLog: settings.auditLog,
    });
  } else {
    const s = makeStyle(io, false);
    const wk = plan.wrappingKey;
    const lines = [
      `${created ? "Generated" : "Reused"} ${plan.keyType} key '${plan.keyName}' on token '${base.token.label}'.`,
      `Wrapped with ${plan.algorithm} under the ${wk.type}-${wk.bits} wrapping key ${wk.sha256.slice(0, 16)}… (strength ${wk.strength} bits).`,
      "",
      ...written.flatMap((w) => [`  ${s.bold(displayPath(w.path, io))}  (${w.size} bytes, sha256 ${w.sha256})`, `      ${w.usage}`]),
    ];
    io.out(`${lines.join("\n")}\n`);
  }
  return auditOk ? 0 : 1;
}
