/**
 * The slice of the proxy configuration the admin commands need: HSM settings and the key stores.
 * Reads the file with the server's own loader (ciop TOML or the AWS sample proxy's settings TOML),
 * so admin and server never disagree about it.
 */
import type { HsmOptions } from "@ciop/hsm";
import type { XksCredential } from "@ciop/xks";
import { loadConfig } from "../config/index.js";

export interface AdminStore {
  name: string;
  uriPrefix: string;
  credentials: readonly XksCredential[];
  keys: readonly string[];
}

export interface AdminConfig {
  file: string;
  format: "ciop" | "aws-sample";
  hsm: HsmOptions;
  stores: AdminStore[];
  /** The deep-health key (never to be handed to KMS). */
  healthKey: string;
}

export async function loadProxyConfig(file: string): Promise<AdminConfig> {
  const cfg = await loadConfig(file);
  const hsm: HsmOptions = {};
  if (cfg.hsm.library !== undefined) hsm.library = cfg.hsm.library;
  if (cfg.hsm.token !== undefined) hsm.token = cfg.hsm.token;
  if (cfg.hsm.pin !== undefined) hsm.pin = cfg.hsm.pin;
  return {
    file: cfg.source.file ?? file,
    format: cfg.source.format,
    hsm,
    stores: cfg.stores.map((s) => ({ name: s.name, uriPrefix: s.uriPrefix, credentials: s.credentials, keys: s.keys })),
    healthKey: cfg.health.keyName,
  };
}
