/**
 * `xks-proxy azure-ekm ...`: the keys behind Azure Managed HSM external keys, and what the Azure
 * side needs to reach them.
 */
import { createPublicKey } from "node:crypto";
import { CiopError } from "@ciop/core";
import { EKM_KEY_NAME } from "@ciop/azure-ekm";
import { Hsm, type HsmKey, type KeyType } from "@ciop/hsm";
import type { ProxyConfig } from "../config/index.js";
import { adminHsmOptions } from "../hsm-options.js";
import { loadConfigIfPresent } from "../admin/config-bridge.js";
import { table } from "../admin/io.js";
import { HELP_OPTION, HSM_OPTIONS, parseGroupCommand, positionals, type Parsed, usageError as usage } from "../admin/options.js";
import { parseAzureEkmSection, type AzureEkmConfig } from "./config.js";

export interface AzureEkmAdminIo {
  out(s: string): void;
  err(s: string): void;
}

export const AZURE_EKM_ADMIN_HELP = `usage: xks-proxy azure-ekm keys create <name> [--type AES-256|RSA-2048|RSA-3072|RSA-4096]
       xks-proxy azure-ekm keys list [--json]
       xks-proxy azure-ekm keys disable <name>
       xks-proxy azure-ekm keys enable <name>
       xks-proxy azure-ekm show-setup [<name>] [--public-host HOST] [--json]

Azure Managed HSM external keys (API 0.1-preview, a gated preview on the Azure side): each name is
an HSM key whose label is the external key identifier you give 'az keyvault key create
--external-key-id'. The [azure_ekm] route group serves wrapkey/unwrapkey with it inside the HSM.

commands:
  keys create <name>   make the key in the HSM: sensitive, never extractable. AES-256 (default;
                       A256KW/A256KWP) or an RSA key pair (RSA-OAEP/RSA-OAEP-256). <name>: 1 to 64
                       letters, digits and '-'. Add it to [azure_ekm] keys to serve it.
  keys list            HSM keys that can serve the API, their state and whether [azure_ekm] lists them
  keys disable <name>  refuse wrap and unwrap with the key (the API answers 403 KeyDisabled); the
                       token itself refuses the operations, for every proxy sharing it
  keys enable <name>   serve it again
  show-setup [<name>]  what to enter on the Azure side: the proxy host and path prefix, the client
                       certificate subject and CA this proxy accepts, and per key its identifier,
                       type and (RSA) public key as JWK and PEM

options:
  --config FILE        proxy config (else $XKS_PROXY_CONFIG, $XKS_PROXY_SETTINGS_TOML, ./xks-proxy.toml)
  --hsm-lib PATH       PKCS#11 library (overrides [hsm] library)
  --hsm-params TEXT    C_Initialize parameters (NSS softokn needs them)
  --token TOKEN        token label, serial or #index (overrides [hsm] token)
  --pin-file FILE      file holding the user PIN (PINs are never taken from the command line)
  --type TYPE          key type for keys create (default AES-256)
  --public-host HOST   host name Managed HSM connects to (else [azure_ekm] public_host)
  --json               machine-readable output (list, show-setup)
  -h, --help           this help
`;

const OPTIONS = {
  ...HELP_OPTION,
  ...HSM_OPTIONS,
  json: { type: "boolean" },
  type: { type: "string" },
  "public-host": { type: "string" },
} as const;

type Values = Parsed<typeof OPTIONS>["values"];

const ALLOWED: Record<string, Array<keyof typeof OPTIONS>> = {
  "keys create": ["type"],
  "keys list": ["json"],
  "keys disable": [],
  "keys enable": [],
  "show-setup": ["json", "public-host"],
};
const TYPES: readonly KeyType[] = ["AES-256", "RSA-2048", "RSA-3072", "RSA-4096"];

interface Loaded {
  proxy: ProxyConfig | undefined;
  ekm: AzureEkmConfig | undefined;
}

async function load(values: Values): Promise<Loaded> {
  const proxy = await loadConfigIfPresent(values.config);
  const raw = proxy?.routeGroups.azure_ekm;
  const ekm = raw !== undefined && proxy ? parseAzureEkmSection(raw, proxy.source.dir) : undefined;
  return { proxy, ekm };
}

async function withHsm<T>(values: Values, fn: (hsm: Hsm, l: Loaded) => Promise<T> | T): Promise<T> {
  const l = await load(values);
  const hsm = await Hsm.open(adminHsmOptions(l.proxy?.hsm, values));
  try {
    return await fn(hsm, l);
  } finally {
    await hsm.close();
  }
}

function one(pos: string[], cmd: string): string {
  return positionals(pos, ["name"], `xks-proxy azure-ekm ${cmd} <name>`)[0]!;
}

function ekmKey(hsm: Hsm, name: string): HsmKey {
  const key = hsm.findKey(name);
  if (key === undefined) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${hsm.token.label}'`);
  if (!TYPES.includes(key.type))
    throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${name}' is ${key.type}: an Azure external key is AES-256 or RSA-2048/3072/4096`);
  return key;
}

interface KeyRow {
  name: string;
  type: string;
  keyType: "oct" | "RSA";
  enabled: boolean;
  wrapping: boolean;
  served: boolean;
}

function rowOf(hsm: Hsm, key: HsmKey, l: Loaded): KeyRow {
  const info = hsm.keyInfo(key);
  const usage = hsm.keyUsage(key);
  const aes = key.type === "AES-256";
  return {
    name: key.name,
    type: key.type,
    keyType: aes ? "oct" : "RSA",
    enabled: info.enabled && (!aes || (usage.wrap && usage.unwrap)),
    wrapping: aes ? usage.wrap && usage.unwrap : true,
    served: l.ekm?.keys.includes(key.name) ?? false,
  };
}

function publicKeyText(hsm: Hsm, key: HsmKey): { jwk: Record<string, unknown>; pem: string } {
  const pub = createPublicKey({ key: Buffer.from(hsm.publicKeyOf(key)), format: "der", type: "spki" });
  const jwk = pub.export({ format: "jwk" }) as Record<string, unknown>;
  return {
    jwk: { kty: "RSA", kid: key.name, key_ops: ["wrapKey", "unwrapKey"], n: jwk.n, e: jwk.e },
    pem: pub.export({ format: "pem", type: "spki" }).toString(),
  };
}

async function dispatch(argv: string[], io: AzureEkmAdminIo): Promise<number> {
  const parsed = parseGroupCommand(argv, OPTIONS, "azure-ekm", ALLOWED);
  if (parsed.help !== undefined) {
    io.out(AZURE_EKM_ADMIN_HELP);
    return parsed.help;
  }
  const { cmd, args, values } = parsed;

  switch (cmd) {
    case "keys create": {
      const name = one(args, cmd);
      if (!EKM_KEY_NAME.test(name)) throw usage(`'${name.slice(0, 80)}' is not an external key identifier: 1 to 64 letters, digits and '-'`);
      const type = (values.type ?? "AES-256") as KeyType;
      if (!TYPES.includes(type)) throw usage(`--type must be one of ${TYPES.join(", ")}`);
      return withHsm(values, async (hsm, l) => {
        const key = await hsm.generateKey(name, type, { extractable: false });
        if (type === "AES-256") {
          try {
            hsm.setAesKeyWrapping(key, true);
          } catch (err) {
            // a key that cannot wrap must not stay behind looking like an external key
            hsm.deleteKey(name);
            throw err;
          }
        }
        io.out(`created Azure external key '${name}' (${type} in the HSM, not extractable)\n`);
        if (!l.ekm?.keys.includes(name)) io.out(`add "${name}" to [azure_ekm] keys to serve it\n`);
        io.out(`next: xks-proxy azure-ekm show-setup ${name}\n`);
        return 0;
      });
    }
    case "keys list": {
      if (args.length > 0) throw usage("keys list takes no arguments");
      return withHsm(values, (hsm, l) => {
        const rows: KeyRow[] = [];
        for (const k of hsm.listKeys()) {
          if (!TYPES.includes(k.type) || !EKM_KEY_NAME.test(k.name)) continue;
          const key = hsm.findKey(k.name);
          if (key === undefined) continue;
          const row = rowOf(hsm, key, l);
          // an AES key without CKA_WRAP is an XKS or other key, not an external key, unless listed
          if (row.keyType === "oct" && !row.wrapping && !row.served) continue;
          rows.push(row);
        }
        if (values.json) {
          io.out(`${JSON.stringify({ keys: rows }, null, 2)}\n`);
          return 0;
        }
        if (rows.length === 0) {
          io.out("no Azure external keys on the token\n");
          return 0;
        }
        io.out(
          table([
            ["NAME", "TYPE", "STATE", "SERVED ([azure_ekm] keys)"],
            ...rows.map((r) => [r.name, r.type, r.enabled ? "enabled" : "disabled", r.served ? "yes" : "no"]),
          ]),
        );
        return 0;
      });
    }
    case "keys disable":
    case "keys enable": {
      const name = one(args, cmd);
      const on = cmd === "keys enable";
      return withHsm(values, (hsm) => {
        const key = ekmKey(hsm, name);
        hsm.setKeyEnabled(name, on);
        if (key.type === "AES-256") hsm.setAesKeyWrapping(key, on);
        io.out(`Azure external key '${name}' is now ${on ? "enabled" : "disabled"} in the HSM\n`);
        return 0;
      });
    }
    case "show-setup": {
      if (args.length > 1) throw usage("show-setup takes at most one <name>");
      return withHsm(values, (hsm, l) => {
        const ekm = l.ekm;
        const host = values["public-host"] ?? ekm?.publicHost;
        const names = args.length === 1 ? [args[0]!] : (ekm?.keys ?? []);
        const missing: string[] = [];
        const keys = names.flatMap((n) => {
          // a listed key not made yet is left out of the list (keys list shows what exists)
          if (args.length === 0 && hsm.findKey(n) === undefined) {
            missing.push(n);
            return [];
          }
          const key = ekmKey(hsm, n);
          const base = { externalKeyId: n, type: key.type, keyType: key.type === "AES-256" ? "oct" : "RSA", served: ekm?.keys.includes(n) ?? false };
          return key.type === "AES-256" ? base : { ...base, publicKey: publicKeyText(hsm, key) };
        });
        const setup = {
          proxyHost: host ?? null,
          port: ekm?.port ?? null,
          pathPrefix: ekm?.pathPrefix || null,
          proxyUrl: host !== undefined ? `https://${host}${ekm?.pathPrefix ?? ""}` : null,
          acceptedClientSubjects: ekm?.tls.clientSubjects ?? [],
          clientCaFile: ekm?.tls.clientCaFile ?? null,
          serverCertificateChain: ekm?.tls.certFile ?? null,
          keys,
          listedButNotInHsm: missing,
        };
        if (values.json) {
          io.out(`${JSON.stringify(setup, null, 2)}\n`);
          return 0;
        }
        const o: string[] = [];
        o.push("Azure Managed HSM external key management (API 0.1-preview, gated preview)");
        o.push("");
        if (ekm === undefined) o.push("note: the config has no [azure_ekm] section; the proxy does not serve the API yet");
        o.push(`proxy host (--host):        ${host ?? "(set [azure_ekm] public_host or pass --public-host)"}`);
        if (ekm !== undefined && ekm.port !== 443) o.push(`  note: Managed HSM connects to port 443; this proxy listens on ${ekm.port} (forward 443 to it)`);
        o.push(`path prefix (--path-prefix): ${ekm?.pathPrefix || "(none)"}`);
        o.push(`server CA (--server-ca-certificate): the root CA that issued ${ekm?.tls.certFile ?? "[azure_ekm.tls] cert_file"}`);
        o.push(`accepted client subject CN: ${(ekm?.tls.clientSubjects ?? []).join(", ") || "(none configured)"}`);
        o.push(`accepted client CA file:    ${ekm?.tls.clientCaFile ?? "(none configured)"}`);
        o.push("");
        o.push(
          `  az keyvault ekm-connection create --hsm-name <hsm> --host ${host ?? "<host>"} --server-ca-certificate <root-ca.pem>${ekm?.pathPrefix ? ` --path-prefix ${ekm.pathPrefix}` : ""}`,
        );
        o.push("  az keyvault ekm-connection check --hsm-name <hsm>");
        if (missing.length > 0) o.push("", `listed in [azure_ekm] keys but not in the HSM (make them with 'keys create'): ${missing.join(", ")}`);
        for (const k of keys) {
          o.push("");
          o.push(`key ${k.externalKeyId}: ${k.type} (key_type ${k.keyType})${k.served ? "" : "  -- not in [azure_ekm] keys: not served"}`);
          o.push(`  az keyvault key create --hsm-name <hsm> --name <key-ref-name> --external-key-id ${k.externalKeyId}`);
          if ("publicKey" in k) {
            o.push(`  public key (JWK): ${JSON.stringify(k.publicKey.jwk)}`);
            o.push(k.publicKey.pem.trimEnd().replace(/^/gm, "  "));
          }
        }
        io.out(`${o.join("\n")}\n`);
        return 0;
      });
    }
  }
  throw usage(`unknown command 'azure-ekm ${cmd}'`);
}

/** Runs `xks-proxy azure-ekm ...`; errors are the caller's to print (admin/index.ts). */
export function runAzureEkmAdmin(argv: string[], io: AzureEkmAdminIo): Promise<number> {
  return dispatch(argv, io);
}
