/**
 * Where the admin commands find the HSM: command-line options first (--hsm-lib, --token,
 * --pin-file), then the proxy's config file (--config, $XKS_PROXY_CONFIG or
 * $XKS_PROXY_SETTINGS_TOML), then @ciop/hsm's own defaults ($CIOP_PKCS11_LIB, $CIOP_TOKEN,
 * $CIOP_PIN / $CIOP_PIN_FILE). PINs never come from argv.
 */
import { existsSync } from "node:fs";
import { Hsm } from "@ciop/hsm";
import type { HsmOptions } from "@ciop/hsm";
import { checkSecretFile } from "../config/index.js";
import { loadProxyConfig, type AdminConfig } from "./config-bridge.js";

export interface HsmFlags {
  config?: string;
  "hsm-lib"?: string;
  token?: string;
  "pin-file"?: string;
}

/** The config file named by --config or the environment, or undefined. */
export function configPath(flags: HsmFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return flags.config ?? (env.XKS_PROXY_CONFIG || undefined) ?? (env.XKS_PROXY_SETTINGS_TOML || undefined);
}

export async function loadAdminConfig(flags: HsmFlags): Promise<AdminConfig | undefined> {
  const file = configPath(flags);
  return file === undefined ? undefined : loadProxyConfig(file);
}

export function hsmOptions(flags: HsmFlags, config: AdminConfig | undefined): HsmOptions {
  const opts: HsmOptions = { ...(config?.hsm ?? {}) };
  if (flags["hsm-lib"] !== undefined) opts.library = flags["hsm-lib"];
  if (flags.token !== undefined) opts.token = flags.token;
  if (flags["pin-file"] !== undefined) {
    // as for [hsm] pin_file: a PIN file others can write is refused (a missing one is @ciop/hsm's to report)
    if (existsSync(flags["pin-file"])) checkSecretFile(flags["pin-file"], "--pin-file");
    opts.pin = { file: flags["pin-file"] };
  }
  // one session is plenty for admin work
  opts.sessionPoolSize = 1;
  return opts;
}

export async function openAdminHsm(flags: HsmFlags, config: AdminConfig | undefined): Promise<Hsm> {
  return Hsm.open(hsmOptions(flags, config));
}
