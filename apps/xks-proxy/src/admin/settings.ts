/**
 * Where the admin commands find the HSM: command-line options first (--hsm-lib, --hsm-params,
 * --token, --pin-file), then the proxy's config file (--config, $XKS_PROXY_CONFIG or
 * $XKS_PROXY_SETTINGS_TOML), then @ciop/hsm's own defaults ($CIOP_PKCS11_LIB, $CIOP_TOKEN,
 * $CIOP_PIN / $CIOP_PIN_FILE). PINs never come from argv.
 */
import { Hsm } from "@ciop/hsm";
import type { HsmOptions } from "@ciop/hsm";
import { resolveConfigPath } from "../config/path.js";
import { adminHsmOptions } from "../hsm-options.js";
import { loadProxyConfig, type AdminConfig } from "./config-bridge.js";

export interface HsmFlags {
  config?: string;
  "hsm-lib"?: string;
  "hsm-params"?: string;
  token?: string;
  "pin-file"?: string;
}

/** The config file named by --config or the environment, or undefined (no ./xks-proxy.toml default here). */
export function configPath(flags: HsmFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const p = resolveConfigPath(flags.config, env);
  return p.explicit ? p.file : undefined;
}

export async function loadAdminConfig(flags: HsmFlags): Promise<AdminConfig | undefined> {
  const file = configPath(flags);
  return file === undefined ? undefined : loadProxyConfig(file);
}

export function hsmOptions(flags: HsmFlags, config: AdminConfig | undefined): HsmOptions {
  return adminHsmOptions(config?.hsm, flags);
}

export async function openAdminHsm(flags: HsmFlags, config: AdminConfig | undefined): Promise<Hsm> {
  return Hsm.open(hsmOptions(flags, config));
}
