/**
 * The one place @ciop/hsm options are built from the proxy's `[hsm]` settings: for the server's
 * backend (its session pool and host-fallback switch) and for the admin commands (one session, with
 * --hsm-lib, --token and --pin-file over the file's settings). PINs never come from argv.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HsmOptions } from "@ciop/hsm";
import { checkSecretFile, type HsmConfig } from "./config/index.js";

/** Command-line overrides of the admin commands. */
export interface HsmOverrides {
  "hsm-lib"?: string | undefined;
  "hsm-params"?: string | undefined;
  token?: string | undefined;
  "pin-file"?: string | undefined;
}

/** Which token, which library, which PIN: the file's settings, then the command line's. */
function tokenOptions(cfg: Partial<HsmConfig> | undefined, overrides: HsmOverrides = {}): HsmOptions {
  const opts: HsmOptions = {};
  if (cfg?.library !== undefined) opts.library = cfg.library;
  if (cfg?.libraryParameters !== undefined) opts.libraryParameters = cfg.libraryParameters;
  if (cfg?.token !== undefined) opts.token = cfg.token;
  if (cfg?.pin !== undefined) opts.pin = cfg.pin;
  // [hsm] profile, else the IV source the AWS sample proxy's [hsm_capabilities] asks for, else "auto"
  if (cfg?.profile !== undefined && cfg.profile !== "auto") opts.gcmProfile = cfg.profile;
  else if (cfg?.gcmIvSource !== undefined) opts.gcmProfile = { ivSource: cfg.gcmIvSource };
  if (overrides["hsm-lib"] !== undefined) {
    // the file's library parameters belong to the file's library: another library gets --hsm-params
    // or, without it, @ciop/hsm's default ($CIOP_PKCS11_PARAMS)
    if (overrides["hsm-lib"] !== cfg?.library) delete opts.libraryParameters;
    opts.library = overrides["hsm-lib"];
  }
  if (overrides["hsm-params"] !== undefined) opts.libraryParameters = overrides["hsm-params"];
  if (overrides.token !== undefined) opts.token = overrides.token;
  const pinFile = overrides["pin-file"];
  if (pinFile !== undefined) {
    // as for [hsm] pin_file: a PIN file others can write is refused (a missing one is @ciop/hsm's to report)
    if (existsSync(pinFile)) checkSecretFile(pinFile, "--pin-file");
    opts.pin = { file: path.resolve(pinFile) };
  }
  return opts;
}

/**
 * The server's options: its session pool and host-fallback switch, plus `extra` (tests). The
 * library's environment (`env`, e.g. the sample proxy's [pkcs11_logger]) is set here, before the
 * library loads; variables already set win.
 */
export function serverHsmOptions(cfg: HsmConfig, extra: Partial<HsmOptions> = {}): HsmOptions {
  for (const [k, v] of Object.entries(cfg.env ?? {})) if (process.env[k] === undefined) process.env[k] = v;
  const opts: HsmOptions = { ...extra, ...tokenOptions(cfg), sessionPoolSize: cfg.sessionPool, allowHostFallback: cfg.allowHostFallback };
  if (cfg.workers !== undefined) opts.gcmWorkers = cfg.workers;
  return opts;
}

/** An admin command's options: one session is plenty. */
export function adminHsmOptions(cfg: Partial<HsmConfig> | undefined, overrides: HsmOverrides): HsmOptions {
  return { ...tokenOptions(cfg, overrides), sessionPoolSize: 1 };
}
