/**
 * `citool provider keyName wrapKey [wrapAlg]`: the seed-compatible export.
 *
 * Order matters: everything that can be checked is checked (arguments, wrapping key, provider
 * plan, output directory, existing files) before the HSM is touched; only then is the key found or
 * generated, wrapped, and the files written, all or none.
 */
import { createHash, randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CiopError, writeFileAtomic } from "@ciop/core";
import { createHsmEngine, hsmKey, parseWrappingKey } from "@ciop/wrap";
import type { Artefact, ExportPlan, ExportResult, ProviderModule, WrappingKey } from "@ciop/wrap";
import type { KeyType } from "@ciop/hsm";
import { checkOptionsApply, flag, str, type ParsedArgs } from "../args.js";
import { audit } from "../audit.js";
import { loadSettings, type Settings } from "../config.js";
import { usageError } from "../errors.js";
import { checkPinFile, openHsm, tokenFacts } from "../hsm-session.js";
import type { Io } from "../io.js";
import { makeStyle, printJson, printWarning, withProgress } from "../output.js";
import { expectedFileNames, findProvider } from "../providers.js";

const AZURE = "microsoft-azure";

export interface WrittenArtefact {
  path: string;
  fileName: string;
  sha256: string;
  size: number;
  encoding: Artefact["encoding"];
  usage: string;
}

/** Reads and parses the wrapping key file (a usage error when it is missing or unreadable). */
export function readWrappingKey(path: string, io: Io, allowInvalidCertificate: boolean): WrappingKey {
  const abs = resolve(io.cwd, path);
  let bytes: Buffer;
  try {
    if (statSync(abs).isDirectory()) throw usageError(`wrapping key ${path} is a directory; give the file the provider gave you`);
    bytes = readFileSync(abs);
  } catch (err) {
    if (CiopError.isInstance(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw usageError(`wrapping key file ${path} does not exist`);
    if (code === "EACCES") throw usageError(`wrapping key file ${path} is not readable (permission denied)`);
    throw usageError(`cannot read wrapping key file ${path}: ${(err as Error).message}`);
  }
  if (bytes.length === 0) {
    throw new CiopError("ERR_WRAPPING_KEY_INVALID", `wrapping key file ${path} is empty; give the provider's public wrapping key or certificate`);
  }
  try {
    return parseWrappingKey(bytes, { allowInvalidCertificate });
  } catch (err) {
    if (CiopError.isInstance(err)) {
      // name the file in the message: "wrapping key file X: <what was wrong>"
      throw new CiopError(err.code, `wrapping key file ${path}: ${err.message}`, { cause: err, details: { ...(err.details ?? {}), file: path } });
    }
    throw err;
  }
}

export function wrappingKeyFacts(wk: WrappingKey): Record<string, unknown> {
  return {
    type: wk.type,
    bits: wk.bits,
    sha256: wk.sha256,
    strength: wk.strength,
    ...(wk.certificate
      ? {
          certificate: {
            subject: wk.certificate.subject,
            issuer: wk.certificate.issuer,
            serialNumber: wk.certificate.serialNumber,
            notBefore: wk.certificate.notBefore.toISOString(),
            notAfter: wk.certificate.notAfter.toISOString(),
            validNow: Date.now() >= wk.certificate.notBefore.getTime() && Date.now() <= wk.certificate.notAfter.getTime(),
          },
        }
      : {}),
  };
}

function checkOutDir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw usageError(`output directory ${dir} does not exist; create it or choose another with --out-dir`);
  }
  if (!st.isDirectory()) throw usageError(`output directory ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw usageError(`output directory ${dir} is not writable`);
  }
}

/**
 * Writes every artefact or none. Each file is written atomically (temporary file, fsync, link into
 * place, so an existing file is never overwritten by accident). With `force`, a file being replaced
 * is first moved aside and only deleted once every artefact is in place; when a later write fails,
 * the files this run created are removed and the moved-aside ones are put back.
 */
export function writeArtefacts(artefacts: readonly Artefact[], outDir: string, force: boolean): WrittenArtefact[] {
  const created: string[] = [];
  const movedAside: Array<{ path: string; aside: string }> = [];
  const written: WrittenArtefact[] = [];
  try {
    for (const a of artefacts) {
      if (a.fileName.includes("/") || a.fileName.includes("\\") || a.fileName === "." || a.fileName === "..") {
        throw new CiopError("ERR_INTERNAL", `provider produced an unsafe file name ${JSON.stringify(a.fileName)}`);
      }
      const path = join(outDir, a.fileName);
      if (force && isRegularFile(path)) {
        const aside = join(outDir, `.${a.fileName}.${randomBytes(6).toString("hex")}.replaced`);
        renameSync(path, aside);
        movedAside.push({ path, aside });
      }
      writeFileAtomic(path, a.bytes, { overwrite: false, mode: 0o644 });
      created.push(path);
      written.push({
        path,
        fileName: a.fileName,
        sha256: createHash("sha256").update(a.bytes).digest("hex"),
        size: a.bytes.length,
        encoding: a.encoding,
        usage: a.usage,
      });
    }
  } catch (err) {
    for (const p of created) {
      try {
        unlinkSync(p);
      } catch {
        /* already gone */
      }
    }
    for (const m of movedAside.reverse()) {
      try {
        renameSync(m.aside, m.path);
      } catch {
        /* leave the copy where it is rather than lose it */
      }
    }
    throw err;
  }
  for (const m of movedAside) {
    try {
      unlinkSync(m.aside);
    } catch {
      /* already gone */
    }
  }
  return written;
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

interface Prepared {
  module: ProviderModule;
  plan: ExportPlan;
  settings: Settings;
  outDir: string;
  force: boolean;
}

/** Every check that needs no HSM. Throws usage errors. */
export function prepareExport(args: ParsedArgs, io: Io): Prepared {
  checkOptionsApply(args, "export", "an export");
  const [provider, keyName, wrapKey, wrapAlg, ...rest] = args.positionals;
  if (rest.length > 0) throw usageError(`too many arguments: ${rest.join(" ")} (usage: citool provider keyName wrapKey [wrapAlg])`);
  const missing = [provider === undefined ? "provider" : "", keyName === undefined ? "keyName" : "", wrapKey === undefined ? "wrapKey" : ""].filter(Boolean);
  if (missing.length > 0) {
    throw usageError(`missing argument${missing.length > 1 ? "s" : ""}: ${missing.join(", ")} (usage: citool provider keyName wrapKey [wrapAlg]; see citool --help)`);
  }
  const settings = loadSettings(args, io);
  const module = findProvider(provider!);
  const azureKek = str(args, "azure-kek");
  const isAzure = module.names.includes(AZURE);
  if (azureKek !== undefined && !isAzure) throw usageError(`option -a/--azure-kek applies only to ${AZURE}, not to ${provider}`);
  if (isAzure && azureKek === undefined) {
    throw new CiopError("ERR_KID_INVALID", `${AZURE} needs -a/--azure-kek: the key identifier URL of the key exchange key, e.g. https://myvault.vault.azure.net/keys/my-kek/<version>`);
  }
  if (keyName!.length === 0 || /[/\\\0]/.test(keyName!) || keyName === "." || keyName === "..") {
    throw new CiopError("ERR_KEY_NAME_INVALID", `key name ${JSON.stringify(keyName)} cannot be used: it names output files, so it must be non-empty and contain no / or \\`);
  }
  const wrappingKey = readWrappingKey(wrapKey!, io, flag(args, "allow-invalid-certificate"));
  const plan = module.plan({
    provider: provider!,
    keyName: keyName!,
    wrappingKey,
    ...(wrapAlg !== undefined ? { algorithm: wrapAlg } : {}),
    ...(str(args, "key-type") !== undefined ? { keyType: str(args, "key-type")! } : {}),
    ...(azureKek !== undefined ? { azureKek } : {}),
    allowWeakWrappingKey: flag(args, "allow-weak-wrapping-key"),
    allowInvalidCertificate: flag(args, "allow-invalid-certificate"),
    allowLegacy: flag(args, "allow-legacy"),
  });
  const outDir = settings.outDir;
  checkOutDir(outDir);
  const force = flag(args, "force");
  for (const name of expectedFileNames(module, plan)) {
    const p = join(outDir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // not there: fine
    }
    if (!force) {
      throw new CiopError("ERR_OUTPUT_EXISTS", `output file ${displayPath(p, io)} already exists; move it away or pass --force to replace it`, { details: { path: p } });
    }
    if (!st.isFile()) {
      throw new CiopError("ERR_OUTPUT_EXISTS", `${displayPath(p, io)} exists and is not a regular file; --force replaces only files, so move it away`, { details: { path: p } });
    }
  }
  checkAuditLogWritable(settings);
  checkPinFile(settings);
  return { module, plan, settings, outDir, force };
}

/**
 * `mkdir -p` one level at a time. Node's `mkdirSync(..., { recursive: true })` never returns for a
 * path under a directory where mkdir fails with ENOENT although the parent exists (e.g. /proc/x/y),
 * so the walk is done here: find the deepest existing ancestor, then create each missing level.
 */
export function ensureDir(dir: string, mode = 0o700): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      missing.push(cur);
      const parent = dirname(cur);
      if (parent === cur) break;
      cur = parent;
      continue;
    }
    if (!st.isDirectory()) throw Object.assign(new Error(`${cur} is not a directory`), { code: "ENOTDIR" });
    break;
  }
  for (const d of missing.reverse()) mkdirSync(d, { mode });
}

/** Fails early (before any key exists) when the audit log cannot be appended to. */
export function checkAuditLogWritable(settings: Settings): void {
  const path = settings.auditLog;
  if (path === null) return;
  try {
    ensureDir(dirname(path));
    if (existsSync(path) && statSync(path).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    closeSync(openSync(path, "a", 0o600));
  } catch (err) {
    throw new CiopError("ERR_CONFIG_INVALID", `audit log ${path} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another with --audit-log, or --audit-log off`);
  }
}

function displayPath(p: string, io: Io): string {
  const r = relative(io.cwd, p);
  return r.startsWith("..") || r === "" ? p : `./${r}`;
}

export async function runExport(args: ParsedArgs, io: Io): Promise<number> {
  const { module, plan, settings, outDir, force } = prepareExport(args, io);
  const json = flag(args, "json");
  for (const w of plan.warnings) printWarning(io, w);

  const fallbacks: Array<{ operation: string; material: string; reason: string }> = [];
  const hsm = await openHsm(settings, io, {
    onHostFallback: (e) => { fallbacks.push({ operation: e.operation, material: e.material, reason: e.reason }); },
  });
  const base = {
    key: plan.keyName,
    keyType: plan.keyType,
    provider: plan.provider,
    algorithm: plan.algorithm,
    wrappingKeySha256: plan.wrappingKey.sha256,
    token: tokenFacts(hsm),
  };
  let created = false;
  let result: ExportResult | undefined;
  let written: WrittenArtefact[] | undefined;
  try {
    // RSA key generation can take seconds to minutes on a slow HSM: show that work is going on
    // (stderr, terminals only, never with --json).
    const slow = plan.keyType.startsWith("RSA-") && !json && hsm.findKey(plan.keyName) === undefined;
    const got = await (slow
      ? withProgress(io, `generating ${plan.keyType} key '${plan.keyName}' in the HSM`, () => hsm.getOrCreateKey(plan.keyName, plan.keyType as KeyType))
      : hsm.getOrCreateKey(plan.keyName, plan.keyType as KeyType));
    created = got.created;
    if (created) audit(settings, io, { operation: "generate", ...base, outcome: "ok" });
    // PKCS#11 has no attribute that stops a key from being wrapped (CKA_EXTRACTABLE cannot be set
    // back to true), so "disabled" (keys disable) is enforced here, before any wrap.
    if (!created && !hsm.keyInfo(got.key).enabled) {
      throw new CiopError("ERR_KEY_DISABLED", `key '${plan.keyName}' is disabled; citool does not export a disabled key (run 'citool keys enable ${plan.keyName}' first)`);
    }
    const engine = createHsmEngine(hsm);
    result = await module.export(plan, engine, hsmKey(got.key));
    written = writeArtefacts(result.artefacts, outDir, force);
  } catch (err) {
    audit(settings, io, {
      operation: "export",
      ...base,
      keyCreated: created,
      outcome: "error",
      error: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL",
    });
    // a failed export leaves no new key behind (as @ciop/wrap's runExport does): the key was never
    // delivered anywhere, and a later run with other options may want another type under this name
    if (created) {
      try {
        hsm.deleteKey(plan.keyName);
        audit(settings, io, { operation: "delete", ...base, outcome: "ok" });
        printWarning(io, `key '${plan.keyName}' was generated in the HSM before the export failed; it has been deleted again`);
      } catch {
        printWarning(io, `key '${plan.keyName}' was generated in the HSM before the export failed and could not be deleted; remove it with 'citool keys delete ${plan.keyName}'`);
      }
    }
    throw err;
  } finally {
    await Promise.resolve(hsm.close()).catch(() => undefined);
  }
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
    const note = "part of the wrap ran on the host: key material (the target or an ephemeral key protecting it) was in this process's memory for a moment and has been wiped";
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
      `${created ? "Generated" : "Reused"} ${plan.keyType} key '${plan.keyName}' on token '${tokenFacts(hsm).label}'.`,
      `Wrapped with ${plan.algorithm} under the ${wk.type}-${wk.bits} wrapping key ${wk.sha256.slice(0, 16)}… (strength ${wk.strength} bits).`,
      "",
      ...written.flatMap((w) => [`  ${s.bold(displayPath(w.path, io))}  (${w.size} bytes, sha256 ${w.sha256})`, `      ${w.usage}`]),
    ];
    io.out(lines.join("\n") + "\n");
  }
  return auditOk ? 0 : 1;
}
