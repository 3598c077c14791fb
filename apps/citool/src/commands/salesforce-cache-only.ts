/**
 * `citool salesforce-cache-only <kid> <cert>`: prints (or writes) once the response a Salesforce
 * cache-only key service gives for <kid> — `{"kid": ..., "jwe": ...}` with the DEK labelled <kid>
 * in the HSM wrapped for the Salesforce BYOK certificate — for offline checks. The DEK is made when
 * missing (AES-256, as `xks-proxy salesforce keys create` makes it) and reused when ciop made it.
 */
import { parseArgs } from "node:util";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createHash } from "node:crypto";
import { CiopError, writeFileAtomic } from "@ciop/core";
import { assertCacheOnlyKid, checkCacheOnlyCertificate } from "@ciop/providers-salesforce";
import { createCacheOnlyResponse } from "@ciop/salesforce-cache-only";
import { OPTIONS, type OptionName, type ParsedArgs } from "../args.js";
import { audit } from "../audit.js";
import { loadSettings } from "../config.js";
import { exitCodeFor, usageError } from "../errors.js";
import { openHsm, tokenFacts } from "../hsm-session.js";
import type { Io } from "../io.js";
import { formatError, makeStyle, printJson } from "../output.js";

export const SALESFORCE_CACHE_ONLY_HELP = `usage: citool salesforce-cache-only <kid> <cert> [--out FILE] [--force] [--jti NONCE] [--json] [HSM options]

Print once, for offline checks, what a Salesforce cache-only key service answers for <kid>:
{"kid": "<kid>", "jwe": "<compact JWE>"}, where the JWE carries the 32-byte data encryption key
labelled <kid> in the HSM, wrapped with RSA-OAEP (SHA-1) for the Salesforce BYOK certificate <cert>
(4096-bit RSA, PEM or DER) and AES-256-GCM, header {alg, enc, kid[, jti]}. The key is created
(AES-256) when the token has none with that label, and reused when ciop made it. Each run uses a
fresh content key and IV. Decrypt it with the certificate's private key (e.g. python3-jwcrypto) to
check the setup; Salesforce itself fetches keys from xks-proxy's [salesforce] route group.

arguments:
  kid                  key identifier: 1-255 characters of A-Z a-z 0-9 . _ -
  cert                 the BYOK certificate downloaded from Salesforce (Certificate and Key Management)

options:
  --out FILE           write the response to FILE (atomically; not over an existing file without --force)
                       instead of printing it
  --force              replace FILE if it exists
  --jti NONCE          put a replay nonce into the header as jti (as with replay detection on)
  --json               print one JSON document: kid, jwe, whether the key was created, host fallback
  --allow-invalid-certificate  accept a certificate outside its validity period
  HSM options as for an export: -m/--module, --token, --hsm-lib, --hsm-params, --pin-file, --data-dir,
  -O/-S/-M, --allow-host-fallback, --config, --audit-log, --debug

The DEK itself is never printed or logged; the audit log gets one record (no key material).
Exit status: 0 done, 1 failed while working, 2 bad command line or input.

example:
  citool salesforce-cache-only my-key-1 salesforce-byok.crt --out my-key-1.json
`;

const MINE = {
  out: { type: "string" },
  jti: { type: "string" },
} as const;

const ACCEPTED: OptionName[] = [
  "help",
  "config",
  "debug",
  "json",
  "force",
  "allow-invalid-certificate",
  "audit-log",
  "module",
  "ocs",
  "softcard",
  "module-protection",
  "hsm-lib",
  "hsm-params",
  "token",
  "pin-file",
  "data-dir",
  "allow-host-fallback",
];

/** node's parseArgs over this command's options; its errors become usage errors. */
function parseOptions(argv: readonly string[], options: Record<string, { type: "string" | "boolean"; short?: string }>) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw usageError(`salesforce-cache-only: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, "")}`);
  }
}

function parse(argv: readonly string[]): { args: ParsedArgs; out?: string; jti?: string } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { ...MINE };
  for (const n of ACCEPTED) options[n] = OPTIONS[n] as { type: "string" | "boolean"; short?: string };
  const parsed = parseOptions(argv, options);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const given: ParsedArgs["given"] = [];
  for (const t of parsed.tokens ?? [])
    if (t.kind === "option" && (ACCEPTED as string[]).includes(t.name)) given.push({ name: t.name as OptionName, spelled: t.rawName });
  const { out, jti, ...rest } = values;
  return {
    args: { values: rest as ParsedArgs["values"], positionals: parsed.positionals, given },
    ...(typeof out === "string" ? { out } : {}),
    ...(typeof jti === "string" ? { jti } : {}),
  };
}

async function main(argv: readonly string[], io: Io): Promise<number> {
  const { args, out, jti } = parse(argv);
  const v = args.values;
  if (v.help) {
    io.out(SALESFORCE_CACHE_ONLY_HELP);
    return 0;
  }
  const [kid, certFile, ...extra] = args.positionals;
  if (kid === undefined || certFile === undefined) throw usageError("missing argument (usage: citool salesforce-cache-only <kid> <cert>)");
  if (extra.length > 0) throw usageError(`too many arguments: ${extra.join(" ")} (usage: citool salesforce-cache-only <kid> <cert>)`);
  if (v.force && out === undefined) throw usageError("--force only applies with --out FILE");
  assertCacheOnlyKid(kid);
  if (jti !== undefined && !/^[\x21-\x7e]{1,256}$/.test(jti)) throw usageError("--jti takes 1-256 printable ASCII characters without spaces");

  // Everything about the input is checked before the HSM is touched (a new key is never made for a
  // response that then cannot be written).
  const outPath = out !== undefined ? resolve(io.cwd, out) : undefined;
  if (outPath !== undefined && !v.force && existsSync(outPath)) {
    throw new CiopError("ERR_OUTPUT_EXISTS", `output file ${out} already exists; move it away or pass --force to replace it`, { details: { path: outPath } });
  }
  let certBytes: Buffer;
  try {
    certBytes = readFileSync(resolve(io.cwd, certFile));
  } catch (err) {
    throw usageError(`cannot read the certificate ${certFile}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const cert = checkCacheOnlyCertificate(certBytes, { ...(v["allow-invalid-certificate"] ? { allowInvalidCertificate: true } : {}) });
  const settings = loadSettings(args, io);

  const hsm = await openHsm(settings, io);
  let created = false;
  try {
    // reuses only a key ciop made as AES-256 (ERR_KEY_NOT_CIOP / ERR_KEY_TYPE_MISMATCH otherwise)
    const r = await hsm.getOrCreateKey(kid, "AES-256");
    const key = r.key;
    created = r.created;
    const res = await createCacheOnlyResponse({ hsm, key, kid, wrappingKey: cert.wrappingKey, ...(jti !== undefined ? { jti } : {}) });
    const body = `${res.body}\n`;
    if (outPath !== undefined) writeFileAtomic(outPath, body, { overwrite: v.force === true, mode: 0o644 });
    const ok = audit(settings, io, {
      operation: "salesforce-cache-only",
      key: kid,
      provider: "salesforce-cache-only",
      algorithm: "RSA-OAEP+A256GCM",
      wrappingKeySha256: cert.facts.sha256,
      hostFallback: res.hostFallback,
      keyCreated: created,
      token: tokenFacts(hsm).label,
      ...(outPath !== undefined ? { artefacts: [{ name: outPath, sha256: createHash("sha256").update(body).digest("hex") }] } : {}),
      outcome: "ok",
    });
    if (v.json) {
      printJson(io, {
        command: "salesforce-cache-only",
        kid,
        jwe: res.jwe,
        keyCreated: created,
        hostFallback: res.hostFallback,
        steps: res.steps,
        certificate: cert.facts,
        ...(outPath !== undefined ? { output: outPath } : {}),
      });
    } else if (outPath === undefined) {
      io.out(body);
    } else {
      io.err(`wrote ${outPath} (kid ${kid}, ${created ? "new" : "existing"} AES-256 key${res.hostFallback ? ", built with host fallback" : ""})\n`);
    }
    return ok ? 0 : 1;
  } catch (err) {
    audit(settings, io, {
      operation: "salesforce-cache-only",
      key: kid,
      provider: "salesforce-cache-only",
      outcome: "error",
      error: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL",
    });
    throw err;
  } finally {
    await hsm.close();
  }
}

/**
 * Index of the command word `salesforce-cache-only` when it is the first positional of `argv`
 * (options such as --hsm-lib PATH may come before it), else -1.
 */
export function salesforceCacheOnlyIndex(argv: readonly string[]): number {
  const takesValue = new Set<string>();
  for (const [name, spec] of Object.entries({ ...OPTIONS, ...MINE }) as Array<[string, { type: string; short?: string }]>) {
    if (spec.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (spec.short) takesValue.add(`-${spec.short}`);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return argv[i + 1] === "salesforce-cache-only" ? i + 1 : -1;
    if (a.startsWith("-") && a.length > 1) {
      if (takesValue.has(a)) i++;
      continue;
    }
    return a === "salesforce-cache-only" ? i : -1;
  }
  return -1;
}

/** Entry point from citool's dispatcher (argv without the command word). */
export async function runSalesforceCacheOnly(argv: readonly string[], io: Io): Promise<number> {
  try {
    return await main(argv, io);
  } catch (err) {
    const debug = argv.includes("--debug");
    io.err(`${makeStyle(io, io.stderrIsTTY).red(formatError(err, debug))}\n`);
    if (argv.includes("--json")) {
      printJson(io, {
        error: {
          code: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL",
          message: err instanceof Error ? err.message : String(err),
          exitCode: exitCodeFor(err),
        },
      });
    }
    return exitCodeFor(err);
  }
}
