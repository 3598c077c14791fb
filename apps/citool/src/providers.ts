/**
 * The provider modules citool knows, found by the names the seed CLI uses. The provider packages
 * are loaded on demand (`loadProviders`): an export loads the one package that serves its
 * provider name, help, inspect and an unknown name load them all.
 */
import { CiopError } from "@ciop/core";
import type { ProviderModule } from "@ciop/wrap";

/** Seed order first, then ciop's additions. */
export const PROVIDER_ORDER = [
  "aws",
  "google-compute-engine",
  "google-cloud-key-management",
  "microsoft-azure",
  "salesforce",
  "alibaba",
  "oci",
  "vault-transit",
  "ibm-key-protect",
  "tencent",
  "otc",
  "huawei",
] as const;

type ProviderPackage = Record<string, unknown>;

/** The provider packages, in the order that decides when two of them claim one name. */
const PACKAGES: ReadonlyArray<() => Promise<ProviderPackage>> = [
  () => import("@ciop/providers-aws"),
  () => import("@ciop/providers-gcp"),
  () => import("@ciop/providers-azure"),
  () => import("@ciop/providers-salesforce"),
  () => import("@ciop/providers-alibaba"),
  () => import("@ciop/providers-oci"),
  () => import("@ciop/providers-vault-transit"),
  () => import("@ciop/providers-ibm-key-protect"),
  () => import("@ciop/providers-tencent"),
  () => import("@ciop/providers-otc"),
];

/** The package (index into PACKAGES) expected to serve each seed name; anything else loads all. */
const PACKAGE_OF: Readonly<Record<(typeof PROVIDER_ORDER)[number], number>> = {
  aws: 0,
  "google-compute-engine": 1,
  "google-cloud-key-management": 1,
  "microsoft-azure": 2,
  salesforce: 3,
  alibaba: 4,
  oci: 5,
  "vault-transit": 6,
  "ibm-key-protect": 7,
  tencent: 8,
  otc: 9,
  huawei: 9,
};

function isProviderModule(v: unknown): v is ProviderModule {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Partial<ProviderModule>;
  return Array.isArray(m.names) && typeof m.plan === "function" && typeof m.export === "function";
}

function register(into: Map<string, ProviderModule>, pkg: ProviderPackage): void {
  for (const v of Object.values(pkg)) {
    if (!isProviderModule(v)) continue;
    for (const n of v.names) if (!into.has(n)) into.set(n, v);
  }
}

/** Loaded so far: name → module. `complete` once every package is in (in PACKAGES order). */
let registry = new Map<string, ProviderModule>();
let complete = false;

/**
 * Loads the provider packages the next lookups need: with a seed provider name, only the package
 * that serves it (when it does); otherwise (or when it does not) all of them.
 */
export async function loadProviders(name?: string): Promise<void> {
  if (complete || (name !== undefined && registry.has(name))) return;
  const index = name !== undefined && Object.hasOwn(PACKAGE_OF, name) ? PACKAGE_OF[name as keyof typeof PACKAGE_OF] : undefined;
  if (index !== undefined) {
    register(registry, await PACKAGES[index]!());
    if (registry.has(name!)) return;
  }
  const all = new Map<string, ProviderModule>();
  for (const pkg of await Promise.all(PACKAGES.map((load) => load()))) register(all, pkg);
  registry = all;
  complete = true;
}

function notLoaded(what: string): CiopError {
  return new CiopError("ERR_INTERNAL", `provider packages not loaded before ${what} (loadProviders)`);
}

/** name → module, for every ProviderModule the provider packages export (after `loadProviders()`). */
export function providers(): Map<string, ProviderModule> {
  if (!complete) throw notLoaded("listing providers");
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

/** The module serving `name` (after `loadProviders(name)`); ERR_PROVIDER_UNKNOWN when none does. */
export function findProvider(name: string): ProviderModule {
  const m = registry.get(name);
  if (m) return m;
  if (!complete) throw notLoaded(`looking up provider '${name}'`);
  const known = providerNames();
  throw new CiopError("ERR_PROVIDER_UNKNOWN", `unknown provider '${name}'; accepted: ${known.length ? known.join(", ") : "(no provider package is built)"}`, {
    details: { provider: name, accepted: known },
  });
}
