/**
 * The slice of the proxy configuration the admin commands need: HSM settings and the key stores.
 * Reads the file with the server's own loader (ciop TOML or the AWS sample proxy's settings TOML),
 * so admin and server never disagree about it.
 */
import type { XksCredential } from "@ciop/xks";
import type { HsmConfig, ProxyConfig } from "../config/index.js";
import { resolveConfigPath } from "../config/path.js";
import { loadConfig } from "../proxy-config.js";

export interface AdminStore {
  name: string;
  uriPrefix: string;
  credentials: readonly XksCredential[];
  keys: readonly string[];
}

export interface AdminConfig {
  file: string;
  format: "ciop" | "aws-sample";
  /** The file's [hsm] settings (the admin commands build their @ciop/hsm options from them: hsm-options.ts). */
  hsm: HsmConfig;
  stores: AdminStore[];
  /** The deep-health key (never to be handed to KMS). */
  healthKey: string;
}

export async function loadProxyConfig(file: string): Promise<AdminConfig> {
  const cfg = await loadConfig(file);
  return {
    file: cfg.source.file ?? file,
    format: cfg.source.format,
    hsm: cfg.hsm,
    stores: cfg.stores.map((s) => ({ name: s.name, uriPrefix: s.uriPrefix, credentials: s.credentials, keys: s.keys })),
    healthKey: cfg.health.keyName,
  };
}

/**
 * The proxy configuration `--config` (else the environment, else ./xks-proxy.toml) names, or
 * undefined when no file was named and the default one does not exist; a named file that cannot be
 * read, or any broken file, is an error.
 */
export async function loadConfigIfPresent(flag: string | undefined): Promise<ProxyConfig | undefined> {
  const { file, explicit } = resolveConfigPath(flag);
  try {
    return await loadConfig(file);
  } catch (err) {
    if (explicit || !/cannot read the configuration file/.test((err as Error).message)) throw err;
    return undefined;
  }
}
