/**
 * The provider modules citool knows, found by the names the seed CLI uses.
 */
import * as alibaba from "@ciop/providers-alibaba";
import * as aws from "@ciop/providers-aws";
import * as azure from "@ciop/providers-azure";
import * as gcp from "@ciop/providers-gcp";
import * as salesforce from "@ciop/providers-salesforce";
import { CiopError } from "@ciop/core";
import type { ExportPlan, ProviderModule } from "@ciop/wrap";

/** Seed order first, then ciop's additions. */
export const PROVIDER_ORDER = [
  "aws",
  "google-compute-engine",
  "google-cloud-key-management",
  "microsoft-azure",
  "salesforce",
  "alibaba",
] as const;

function isProviderModule(v: unknown): v is ProviderModule {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Partial<ProviderModule>;
  return Array.isArray(m.names) && typeof m.plan === "function" && typeof m.export === "function";
}

let registry: Map<string, ProviderModule> | undefined;

/** name → module, for every ProviderModule the provider packages export. */
export function providers(): Map<string, ProviderModule> {
  if (registry) return registry;
  registry = new Map();
  for (const pkg of [aws, gcp, azure, salesforce, alibaba] as Array<Record<string, unknown>>) {
    for (const v of Object.values(pkg)) {
      if (!isProviderModule(v)) continue;
      for (const n of v.names) if (!registry.has(n)) registry.set(n, v);
    }
  }
  return registry;
}

export function providerNames(): string[] {
  const names = [...providers().keys()];
  const rank = (n: string) => {
    const i = (PROVIDER_ORDER as readonly string[]).indexOf(n);
    return i < 0 ? PROVIDER_ORDER.length : i;
  };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function findProvider(name: string): ProviderModule {
  const m = providers().get(name);
  if (!m) {
    const known = providerNames();
    throw new CiopError(
      "ERR_PROVIDER_UNKNOWN",
      `unknown provider '${name}'; accepted: ${known.length ? known.join(", ") : "(no provider package is built)"}`,
      { details: { provider: name, accepted: known } },
    );
  }
  return m;
}

/**
 * The files an export will write, known before the key is generated (so existing files are refused
 * up front). Uses the provider's own answer when it offers one, else the seed tool's file names.
 */
export function expectedFileNames(module: ProviderModule, plan: ExportPlan): string[] {
  const m = module as ProviderModule & { fileNames?: (p: ExportPlan) => string[]; outputFiles?: (p: ExportPlan) => string[] };
  if (typeof m.fileNames === "function") return m.fileNames(plan);
  if (typeof m.outputFiles === "function") return m.outputFiles(plan);
  const extra = plan.extra as Record<string, unknown>;
  if (typeof extra.fileNames === "string") return extra.fileNames.split(",");
  const k = plan.keyName;
  switch (plan.provider) {
    case "aws":
    case "google-compute-engine":
      return [`${k}-wrapped`];
    case "google-cloud-key-management":
      return [`${k}-wrapped.bin`];
    case "microsoft-azure":
      return [`KeyTransferPackage-${k}.byok`];
    case "salesforce":
      return [`${k}-wrapped`, `${k}-hash`];
    default:
      return [`${k}-wrapped`];
  }
}
