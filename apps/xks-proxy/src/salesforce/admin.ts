/**
 * `xks-proxy salesforce ...`: administration of Salesforce cache-only keys.
 *
 *   xks-proxy salesforce keys create <kid> [--cert FILE] [--allow-invalid-certificate]
 *   xks-proxy salesforce keys list [--json]
 *   xks-proxy salesforce keys disable <kid> | enable <kid>
 *   xks-proxy salesforce keys rotate <kid> [--new-kid KID] [--cert FILE]
 *   xks-proxy salesforce show-setup <kid> [--public-url URL] [--json]
 *   xks-proxy salesforce hash-password            (password on stdin; prints the scrypt hash)
 *
 * Common options: --config FILE (else $XKS_PROXY_CONFIG, $XKS_PROXY_SETTINGS_TOML, ./xks-proxy.toml),
 * --hsm-lib, --token, --pin-file (override the config's [hsm]). The [salesforce] section gives the
 * registry, audit log and certificates; without one, the defaults next to the config file apply.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { CiopError } from "@ciop/core";
import { Hsm } from "@ciop/hsm";
import { cacheOnlySetup } from "@ciop/providers-salesforce";
import { CacheOnlyKeyService, type CacheOnlyKeyStatus } from "@ciop/salesforce-cache-only";
import type { ProxyConfig } from "../config/index.js";
import { exitCodeFor } from "../exit-code.js";
import { adminHsmOptions } from "../hsm-options.js";
import { loadConfigIfPresent } from "../admin/config-bridge.js";
import { table } from "../admin/io.js";
import { HELP_OPTION, HSM_OPTIONS, parseGroupCommand, positionals, type Parsed, usageError as usage } from "../admin/options.js";
import { parseSalesforceSection, type SalesforceConfig } from "./config.js";
import { hashPassword } from "./password.js";

export interface SalesforceAdminIo {
  out(s: string): void;
  err(s: string): void;
  /** Reads all of stdin (hash-password); default: process.stdin. */
  readStdin?(): Promise<string>;
}

export const SALESFORCE_ADMIN_HELP = `usage: xks-proxy salesforce keys create <kid> [--cert FILE] [--allow-invalid-certificate]
       xks-proxy salesforce keys list [--json]
       xks-proxy salesforce keys disable <kid>
       xks-proxy salesforce keys enable <kid>
       xks-proxy salesforce keys rotate <kid> [--new-kid KID] [--cert FILE]
       xks-proxy salesforce show-setup <kid> [--public-url URL] [--json]
       xks-proxy salesforce hash-password < password.txt

Salesforce cache-only keys: each key identifier (kid) names an AES-256 data encryption key made in
the HSM (its label is the kid) and bound to the Salesforce BYOK certificate (4096-bit RSA) that
Salesforce decrypts the JWE with. The [salesforce] route group of the proxy answers Salesforce's
callout GET <named credential URL>/<kid> with that key wrapped for the certificate.

commands:
  keys create <kid>     make the key in the HSM and register it (kid: letters, digits, . _ -);
                        --cert binds it to the certificate downloaded from Salesforce (else the
                        [salesforce] certificate setting applies)
  keys list             registered keys: state, presence in the HSM, whether servable, certificate
  keys disable <kid>    stop serving the key (the proxy answers 423 KeyDisabled); the key stays
  keys enable <kid>     serve it again
  keys rotate <kid>     make a new key under a new kid (default <kid>.v2, .v3, ...) with the same
                        certificate unless --cert is given; the old kid keeps being served until
                        you disable it (after switching Salesforce to the new one)
  show-setup <kid>      what to enter in Salesforce: the Named Credential URL and the Unique Key
                        Identifier (--public-url or [salesforce] public_url gives the address
                        Salesforce reaches)
  hash-password         read a password on stdin and print the scrypt hash to put in
                        [salesforce.auth] basic_password_hash

options:
  --config FILE         proxy config (else $XKS_PROXY_CONFIG, $XKS_PROXY_SETTINGS_TOML, ./xks-proxy.toml)
  --hsm-lib PATH        PKCS#11 library (overrides [hsm] library)
  --hsm-params TEXT     C_Initialize parameters (NSS softokn needs them)
  --token TOKEN         token label, serial or #index (overrides [hsm] token)
  --pin-file FILE       file holding the user PIN (PINs are never taken from the command line)
  --json                machine-readable output (list, show-setup)
  -h, --help            this help
`;

const OPTIONS = {
  ...HELP_OPTION,
  ...HSM_OPTIONS,
  json: { type: "boolean" },
  cert: { type: "string" },
  "new-kid": { type: "string" },
  "allow-invalid-certificate": { type: "boolean" },
  "public-url": { type: "string" },
} as const;

type Values = Parsed<typeof OPTIONS>["values"];

const ALLOWED: Record<string, Array<keyof typeof OPTIONS>> = {
  "keys create": ["cert", "allow-invalid-certificate"],
  "keys list": ["json"],
  "keys disable": [],
  "keys enable": [],
  "keys rotate": ["cert", "new-kid", "allow-invalid-certificate"],
  "show-setup": ["json", "public-url"],
  "hash-password": [],
};

interface Loaded {
  proxy: ProxyConfig | undefined;
  sf: SalesforceConfig;
  configDir: string;
}

async function load(values: Values): Promise<Loaded> {
  // Without any config file, work with defaults in the current directory; a broken one is an error.
  const proxy = await loadConfigIfPresent(values.config);
  const configDir = proxy?.source.dir ?? process.cwd();
  const sf = parseSalesforceSection(proxy?.routeGroups.salesforce ?? {}, configDir, { requireAuth: false });
  return { proxy, sf, configDir };
}

async function withService<T>(values: Values, fn: (svc: CacheOnlyKeyService, l: Loaded) => Promise<T>): Promise<T> {
  const l = await load(values);
  const hsm = await Hsm.open(adminHsmOptions(l.proxy?.hsm, values));
  try {
    const svc = new CacheOnlyKeyService({
      hsm,
      registryPath: l.sf.registryPath,
      auditLog: l.sf.auditLog,
      tool: "xks-proxy",
      ...(l.sf.defaultCertificate !== undefined ? { defaultCertificate: l.sf.defaultCertificate } : {}),
      certificates: l.sf.certificates,
    });
    return await fn(svc, l);
  } finally {
    await hsm.close();
  }
}

function readCert(file: string): Buffer {
  try {
    return readFileSync(path.resolve(file));
  } catch (err) {
    throw usage(`cannot read the certificate ${file}: ${(err as Error).message}`);
  }
}

function one(pos: string[], what: string, cmd: string): string {
  return positionals(pos, [what], `xks-proxy salesforce ${cmd} <${what}>`)[0]!;
}

function listText(keys: CacheOnlyKeyStatus[]): string {
  if (keys.length === 0) return "no cache-only keys registered\n";
  const rows = [["KID", "STATE", "IN HSM", "SERVABLE", "CERTIFICATE", "VALID UNTIL", "ROTATION"]];
  for (const k of keys) {
    rows.push([
      k.kid,
      k.state,
      k.inHsm ? (k.hsmEnabled ? "yes" : "yes (disabled)") : "MISSING",
      k.servable ? "yes" : "no",
      k.certificate ? `${k.certificate.subject.replace(/\n/g, ", ")} (${k.certificate.source})` : "none",
      k.certificate ? k.certificate.notAfter : "-",
      k.rotatedTo ? `-> ${k.rotatedTo}` : k.rotatedFrom ? `<- ${k.rotatedFrom}` : "",
    ]);
  }
  return table(rows);
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

async function dispatch(argv: string[], io: SalesforceAdminIo): Promise<number> {
  const parsed = parseGroupCommand(argv, OPTIONS, "salesforce", ALLOWED);
  if (parsed.help !== undefined) {
    io.out(SALESFORCE_ADMIN_HELP);
    return parsed.help;
  }
  const { cmd, args, values } = parsed;

  switch (cmd) {
    case "hash-password": {
      if (args.length > 0) throw usage("hash-password takes no arguments: it reads the password on stdin");
      const text = await (io.readStdin ?? readAllStdin)();
      const password = text.replace(/\r?\n$/, "");
      if (password.length < 12) throw usage("the password must be at least 12 characters");
      io.out(`${await hashPassword(password)}\n`);
      return 0;
    }
    case "keys create": {
      const kid = one(args, "kid", cmd);
      const cert = values.cert !== undefined ? readCert(values.cert) : undefined;
      return withService(values, async (svc, l) => {
        const e = await svc.createKey(kid, {
          ...(cert ? { certificate: cert } : {}),
          ...(values["allow-invalid-certificate"] ? { allowInvalidCertificate: true } : {}),
        });
        io.out(`created cache-only key '${e.kid}' (AES-256 in the HSM, label '${e.hsmLabel}')\n`);
        io.out(
          e.certificate
            ? `bound to certificate ${e.certificate.subject} (valid until ${e.certificate.notAfter})\n`
            : `no certificate bound: the [salesforce] certificate setting will be used\n`,
        );
        io.out(`registry: ${l.sf.registryPath}\nnext: xks-proxy salesforce show-setup ${e.kid}\n`);
        return 0;
      });
    }
    case "keys list": {
      if (args.length > 0) throw usage(`unexpected argument '${args[0]}' (usage: xks-proxy salesforce keys list [--json])`);
      return withService(values, async (svc) => {
        const keys = svc.listKeys();
        io.out(values.json ? `${JSON.stringify({ keys }, null, 2)}\n` : listText(keys));
        return 0;
      });
    }
    case "keys disable":
    case "keys enable": {
      const kid = one(args, "kid", cmd);
      const enable = cmd === "keys enable";
      return withService(values, async (svc) => {
        await svc.setEnabled(kid, enable);
        io.out(`cache-only key '${kid}' ${enable ? "enabled" : "disabled"}${enable ? "" : " (callouts now get 423 KeyDisabled)"}\n`);
        return 0;
      });
    }
    case "keys rotate": {
      const kid = one(args, "kid", cmd);
      const cert = values.cert !== undefined ? readCert(values.cert) : undefined;
      return withService(values, async (svc) => {
        const e = await svc.rotateKey(kid, {
          ...(values["new-kid"] !== undefined ? { newKid: values["new-kid"] } : {}),
          ...(cert ? { certificate: cert } : {}),
          ...(values["allow-invalid-certificate"] ? { allowInvalidCertificate: true } : {}),
        });
        io.out(`rotated '${kid}' -> '${e.kid}' (new AES-256 key in the HSM)\n`);
        io.out(`'${kid}' is still served; enter '${e.kid}' in Salesforce, then: xks-proxy salesforce keys disable ${kid}\n`);
        return 0;
      });
    }
    case "show-setup": {
      const kid = one(args, "kid", cmd);
      const l = await load(values);
      const publicUrl = values["public-url"] ?? l.sf.publicUrl;
      const port = l.proxy?.server.port;
      const base = publicUrl ?? `https://<this-proxy-host>${port !== undefined && port !== 443 ? `:${port}` : ""}`;
      const setup =
        publicUrl !== undefined
          ? cacheOnlySetup(publicUrl, l.sf.pathPrefix, kid)
          : { namedCredentialUrl: `${base}${l.sf.pathPrefix}`, keyIdentifier: kid, calloutUrl: `${base}${l.sf.pathPrefix}/${kid}` };
      return withService(values, async (svc) => {
        const status = svc.listKeys().find((k) => k.kid === kid);
        if (!status)
          throw new CiopError(
            "ERR_KEY_NOT_FOUND",
            `no cache-only key '${kid}' in ${l.sf.registryPath} (create it with: xks-proxy salesforce keys create ${kid} --cert <file>)`,
          );
        const authKinds = [
          l.sf.auth.basic ? `Password Authentication, username '${l.sf.auth.basic.username}'` : undefined,
          l.sf.auth.jwt ? "JWT (signed by the key in [salesforce.auth] jwt_key)" : undefined,
          l.sf.auth.clientCertificate ? "client certificate (mTLS)" : undefined,
        ].filter((x): x is string => x !== undefined);
        if (values.json) {
          io.out(
            `${JSON.stringify(
              {
                ...setup,
                publicUrlKnown: publicUrl !== undefined,
                key: status,
                authentication: authKinds,
                replay: { queryParameter: l.sf.replay.queryParameter, header: l.sf.replay.header ?? null, windowSeconds: l.sf.replay.windowMs / 1000 },
              },
              null,
              2,
            )}\n`,
          );
          return 0;
        }
        const lines = [
          `Salesforce setup for cache-only key '${kid}'`,
          "",
          `1. Setup > Named Credentials > New:`,
          `     URL                    ${setup.namedCredentialUrl}`,
          `     Identity Type          Named Principal`,
          `     Authentication         ${authKinds.length ? authKinds.join(" or ") : "(none configured in [salesforce.auth])"}`,
          `2. Setup > Platform Encryption > Key Management > Bring Your Own Key > Use a Cache-Only Key:`,
          `     Certificate            ${status.certificate ? `${status.certificate.subject.replace(/\n/g, ", ")} (valid until ${status.certificate.notAfter})` : "NONE: bind one with keys create --cert or set [salesforce] certificate"}`,
          `     Named Credential       the one from step 1`,
          `     Unique Key Identifier  ${setup.keyIdentifier}`,
          "",
          `Salesforce will call: GET ${setup.calloutUrl}`,
          `Replay detection: the nonce is read from ?${l.sf.replay.queryParameter}=${l.sf.replay.header ? ` or the ${l.sf.replay.header} header` : ""} and echoed as jti (window ${l.sf.replay.windowMs / 1000} s).`,
          `Key state: ${status.state}${status.servable ? ", servable" : ", NOT servable now"}`,
        ];
        if (publicUrl === undefined)
          lines.push("", "Replace <this-proxy-host> with the address Salesforce reaches (set [salesforce] public_url or pass --public-url).");
        io.out(`${lines.join("\n")}\n`);
        return 0;
      });
    }
  }
  throw usage(`unknown command 'salesforce ${cmd}'`);
}

/** Runs `xks-proxy salesforce <argv...>`; returns the exit status (0 ok, 1 failure, 2 usage). */
export async function runSalesforceAdmin(argv: string[], io: SalesforceAdminIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    io.err(`xks-proxy salesforce: ${CiopError.isInstance(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.message : String(err)}\n`);
    return exitCodeFor(err);
  }
}
