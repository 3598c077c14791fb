/**
 * Settings: command line, then environment, then the TOML config file, then defaults.
 *
 * Config file (first found): --config <file>, $CIOP_CONFIG, $XDG_CONFIG_HOME/ciop/citool.toml
 * (~/.config/ciop/citool.toml). See README.md for the keys.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { CiopError } from "@ciop/core";
import type { ParsedArgs } from "./args.js";
import { flag, str } from "./args.js";
import { usageError } from "./errors.js";
import type { Io } from "./io.js";

export type ProtectionSetting = { kind: "module" } | { kind: "softcard"; name: string } | { kind: "ocs"; name: string };

export interface Settings {
  configFile: string | undefined;
  hsm: {
    library: string | undefined;
    /** C_Initialize library parameters (NSS softokn needs them); from --hsm-params, CIOP_PKCS11_PARAMS or hsm.library_parameters. */
    libraryParameters: string | undefined;
    /** Token selector (label, serial, #index); from --token, -m or config. */
    token: string | undefined;
    /** True when the selector came from -m (a bare number then also means "module N"). */
    tokenFromModuleOption: boolean;
    pinFile: string | undefined;
    /** Name of the env var holding the PIN, when it is set. */
    pinEnv: string | undefined;
    dataDir: string | undefined;
    allowHostFallback: boolean;
    protection: ProtectionSetting;
  };
  outDir: string;
  /** Audit log path, or null when disabled ("off"). */
  auditLog: string | null;
}

const CONFIG_KEYS: Record<string, readonly string[]> = {
  hsm: ["library", "library_parameters", "token", "pin_file", "data_dir", "allow_host_fallback", "softcard", "ocs"],
  output: ["dir"],
  audit: ["log"],
};

interface FileConfig {
  hsm?: {
    library?: string;
    library_parameters?: string;
    token?: string;
    pin_file?: string;
    data_dir?: string;
    allow_host_fallback?: boolean;
    softcard?: string;
    ocs?: string;
  };
  output?: { dir?: string };
  audit?: { log?: string };
}

function configHome(env: Io["env"]): string {
  return env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), ".config");
}

/** Per-user data directory root ($XDG_DATA_HOME or ~/.local/share). */
export function dataHome(env: Io["env"]): string {
  return env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(env.HOME ?? homedir(), ".local", "share");
}

export function defaultConfigPath(env: Io["env"]): string {
  return join(configHome(env), "ciop", "citool.toml");
}

export function defaultAuditLogPath(env: Io["env"]): string {
  return join(dataHome(env), "ciop", "audit.log");
}

/** The TOML parser, loaded only when there is a config file to read (most runs have none). */
function parseToml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)("smol-toml") as typeof import("smol-toml");
  return parse(text);
}

function readConfigFile(path: string, explicit: boolean): FileConfig {
  if (!existsSync(path)) {
    if (explicit) throw new CiopError("ERR_CONFIG_INVALID", `config file ${path} does not exist`);
    return {};
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    const line = (err as { line?: number }).line;
    throw new CiopError("ERR_CONFIG_INVALID", `config file ${path} is not valid TOML${line ? ` (line ${line})` : ""}: ${firstLine((err as Error).message)}`);
  }
  for (const [section, value] of Object.entries(doc)) {
    const keys = CONFIG_KEYS[section];
    if (!keys) {
      throw new CiopError(
        "ERR_CONFIG_INVALID",
        `config file ${path}: unknown section [${section}]; accepted: ${Object.keys(CONFIG_KEYS)
          .map((s) => `[${s}]`)
          .join(", ")}`,
      );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new CiopError("ERR_CONFIG_INVALID", `config file ${path}: [${section}] must be a table`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (!keys.includes(k)) {
        throw new CiopError("ERR_CONFIG_INVALID", `config file ${path}: unknown key ${section}.${k}; accepted in [${section}]: ${keys.join(", ")}`);
      }
      const wantBool = k === "allow_host_fallback";
      if (wantBool ? typeof v !== "boolean" : typeof v !== "string") {
        throw new CiopError("ERR_CONFIG_INVALID", `config file ${path}: ${section}.${k} must be a ${wantBool ? "boolean (true/false)" : "string"}`);
      }
    }
  }
  return doc as FileConfig;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

function truthyEnv(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v);
}

export function loadSettings(args: ParsedArgs, io: Io): Settings {
  const env = io.env;
  const explicitConfig = str(args, "config") ?? env.CIOP_CONFIG;
  const configFile = explicitConfig ? resolve(io.cwd, explicitConfig) : defaultConfigPath(env);
  const file = readConfigFile(configFile, explicitConfig !== undefined);
  const fileDir = configFile.replace(/[/\\][^/\\]*$/, "");
  const fromFile = (p: string | undefined) => (p === undefined ? undefined : resolve(fileDir, p));
  const fromCwd = (p: string | undefined) => (p === undefined ? undefined : resolve(io.cwd, p));

  // protection: -O / -S / -M are mutually exclusive; config softcard/ocs is the default
  const ocs = str(args, "ocs");
  const softcard = str(args, "softcard");
  const modProt = flag(args, "module-protection");
  if ([ocs !== undefined, softcard !== undefined, modProt].filter(Boolean).length > 1) {
    throw usageError("options -O/--ocs, -S/--softcard and -M/--module-protection exclude each other; give at most one");
  }
  for (const [name, v] of [
    ["-O/--ocs", ocs],
    ["-S/--softcard", softcard],
  ] as const) {
    if (v !== undefined && v.trim() === "") throw usageError(`option ${name} needs a non-empty card set or softcard name`);
  }
  let protection: ProtectionSetting;
  if (ocs !== undefined) protection = { kind: "ocs", name: ocs };
  else if (softcard !== undefined) protection = { kind: "softcard", name: softcard };
  else if (modProt) protection = { kind: "module" };
  else if (file.hsm?.softcard && file.hsm?.ocs) throw new CiopError("ERR_CONFIG_INVALID", `config file ${configFile}: give hsm.softcard or hsm.ocs, not both`);
  else if (file.hsm?.softcard) protection = { kind: "softcard", name: file.hsm.softcard };
  else if (file.hsm?.ocs) protection = { kind: "ocs", name: file.hsm.ocs };
  else protection = { kind: "module" };

  const moduleOpt = str(args, "module");
  const tokenOpt = str(args, "token");
  if (moduleOpt !== undefined && tokenOpt !== undefined && moduleOpt !== tokenOpt) {
    throw usageError("options -m/--module and --token both select the token; give one of them");
  }
  for (const [name, v] of [
    ["-m/--module", moduleOpt],
    ["--token", tokenOpt],
    ["--hsm-lib", str(args, "hsm-lib")],
    ["--hsm-params", str(args, "hsm-params")],
  ] as const) {
    if (v !== undefined && v.trim() === "") throw usageError(`option ${name} needs a non-empty value`);
  }
  const token = moduleOpt ?? tokenOpt ?? env.CIOP_TOKEN ?? file.hsm?.token;

  const pinFile = fromCwd(str(args, "pin-file")) ?? fromCwd(env.CIOP_PIN_FILE) ?? fromFile(file.hsm?.pin_file);
  const pinEnv = str(args, "pin-file") === undefined && env.CIOP_PIN !== undefined ? "CIOP_PIN" : undefined;

  const auditRaw = str(args, "audit-log") ?? env.CIOP_AUDIT_LOG ?? file.audit?.log;
  const auditLog =
    auditRaw === undefined
      ? defaultAuditLogPath(env)
      : /^(off|none|)$/i.test(auditRaw)
        ? null
        : resolve(str(args, "audit-log") !== undefined || env.CIOP_AUDIT_LOG !== undefined ? io.cwd : fileDir, auditRaw);

  return {
    configFile: existsSync(configFile) ? configFile : undefined,
    hsm: {
      library: fromCwd(str(args, "hsm-lib")) ?? fromCwd(env.CIOP_PKCS11_LIB) ?? fromFile(file.hsm?.library),
      libraryParameters: str(args, "hsm-params") ?? (env.CIOP_PKCS11_PARAMS || undefined) ?? file.hsm?.library_parameters,
      token,
      tokenFromModuleOption: moduleOpt !== undefined,
      pinFile,
      pinEnv,
      dataDir: fromCwd(str(args, "data-dir")) ?? fromCwd(env.CIOP_DATA_DIR) ?? fromFile(file.hsm?.data_dir),
      allowHostFallback: flag(args, "allow-host-fallback") || truthyEnv(env.CIOP_ALLOW_HOST_FALLBACK) || file.hsm?.allow_host_fallback === true,
      protection,
    },
    outDir: fromCwd(str(args, "out-dir")) ?? fromCwd(env.CIOP_OUT_DIR) ?? fromFile(file.output?.dir) ?? io.cwd,
    auditLog,
  };
}
