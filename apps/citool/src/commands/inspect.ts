/**
 * `citool inspect <wrapKey>`: what a wrapping key is and what it can be used for. Each provider is
 * asked through its own plan() (no side effects) for every algorithm × key type it offers.
 */
import { CiopError } from "@ciop/core";
import { checkOptionsApply, flag, str, type ParsedArgs } from "../args.js";
import { usageError } from "../errors.js";
import type { Io } from "../io.js";
import { printJson, printWarning } from "../output.js";
import { providerNames, providers } from "../providers.js";
import { readWrappingKey, wrappingKeyFacts } from "./wrapping-key-file.js";

const DUMMY_KID = "https://inspect.vault.azure.net/keys/inspect/00000000000000000000000000000000";
/** A well-formed 12-byte nonce, as IBM Key Protect import tokens carry (base64). */
const DUMMY_NONCE = "AAAAAAAAAAAAAAAA";

export interface ProviderFit {
  provider: string;
  /** algorithm ("" when the provider takes none) → key types that pass. */
  serves: Array<{ algorithm: string | null; keyTypes: string[] }>;
  /** Why nothing passed, when nothing did (the first refusal's message). */
  refused?: string;
}

export async function runInspect(args: ParsedArgs, io: Io): Promise<number> {
  checkOptionsApply(args, "inspect", "citool inspect");
  const [, file, ...rest] = args.positionals;
  if (file === undefined) throw usageError("missing argument: wrapKey (usage: citool inspect <wrapKey>)");
  if (rest.length > 0) throw usageError(`too many arguments: ${rest.join(" ")} (usage: citool inspect <wrapKey>)`);
  // Parse even an expired certificate: inspect reports validity instead of refusing.
  const wk = readWrappingKey(file, io, true);
  const facts = wrappingKeyFacts(wk);
  const cert = facts.certificate as { validNow: boolean } | undefined;
  const allowInvalid = flag(args, "allow-invalid-certificate");

  const fits: ProviderFit[] = [];
  for (const name of providerNames()) {
    const m = providers().get(name)!;
    const algs: Array<string | undefined> = m.algorithms.length ? [...m.algorithms] : [undefined];
    const fit: ProviderFit = { provider: name, serves: [] };
    for (const algorithm of algs) {
      const types: string[] = [];
      for (const keyType of m.keyTypes) {
        try {
          m.plan({
            provider: name,
            keyName: "inspect",
            wrappingKey: wk,
            ...(algorithm !== undefined ? { algorithm } : {}),
            keyType,
            ...(m.names.includes("microsoft-azure") ? { providerOptions: { kek: str(args, "azure-kek") ?? DUMMY_KID } } : {}),
            // the import token's nonce changes nothing about which algorithms and key types fit
            ...(m.names.includes("ibm-key-protect") ? { providerOptions: { nonce: DUMMY_NONCE } } : {}),
            allowWeakWrappingKey: flag(args, "allow-weak-wrapping-key"),
            allowInvalidCertificate: allowInvalid,
            allowLegacy: flag(args, "allow-legacy"),
          });
          types.push(keyType);
        } catch (err) {
          if (!CiopError.isInstance(err)) throw err;
          fit.refused ??= err.message;
        }
      }
      if (types.length) fit.serves.push({ algorithm: algorithm ?? null, keyTypes: types });
    }
    if (fit.serves.length) delete fit.refused;
    fits.push(fit);
  }

  if (flag(args, "json")) {
    printJson(io, { command: "inspect", file, wrappingKey: facts, providers: fits });
    return 0;
  }
  const out: string[] = [];
  out.push(`Wrapping key ${file}`);
  out.push(`  type         ${wk.type}-${wk.bits}`);
  out.push(`  strength     ${wk.strength} bits`);
  out.push(`  sha256       ${wk.sha256}  (of the SubjectPublicKeyInfo)`);
  if (wk.certificate) {
    const c = wk.certificate;
    out.push(`  certificate  subject ${c.subject}`);
    out.push(`               issuer  ${c.issuer}`);
    out.push(`               serial  ${c.serialNumber}`);
    out.push(`               valid   ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}${cert?.validNow ? "" : "  (NOT valid now)"}`);
  }
  out.push("");
  out.push("Can serve:");
  for (const f of fits) {
    if (!f.serves.length) {
      out.push(`  ${f.provider}: no (${f.refused ?? "no algorithm/key type fits"})`);
      continue;
    }
    out.push(`  ${f.provider}:`);
    for (const s of f.serves) out.push(`    ${s.algorithm ?? "(no wrapAlg)"}: ${s.keyTypes.join(", ")}`);
  }
  io.out(`${out.join("\n")}\n`);
  if (cert && !cert.validNow && !allowInvalid) {
    printWarning(io, "the certificate is not valid now; exports refuse it unless --allow-invalid-certificate is given");
  }
  return 0;
}
