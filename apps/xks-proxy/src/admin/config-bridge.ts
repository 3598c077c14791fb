/**
 * The slice of the proxy configuration the admin commands need: HSM settings and the key stores.
 * Reads the file with the server's own loader so admin and server can never disagree about it.
 */
import { CiopError } from "@ciop/core";
import type { HsmOptions } from "@ciop/hsm";
import type { XksCredential } from "@ciop/xks";

export interface AdminStore {
  name: string;
  uriPrefix: string;
  credentials: readonly XksCredential[];
  keys: readonly string[];
}

export interface AdminConfig {
  file: string;
  hsm: HsmOptions;
  stores: AdminStore[];
}

export async function loadProxyConfig(file: string): Promise<AdminConfig> {
  // TODO(xks-admin): wire loadConfig from ../config/index.js once the server commits it.
  throw new CiopError("ERR_CONFIG_INVALID", `cannot read ${file}: config support is not wired into the admin commands yet`);
}
