import { existsSync, readFileSync, writeFileSync, statSync, chmodSync, renameSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError, writeFileAtomic } from "@ciop/core";
import { call } from "./errors.js";
import { acquireLibrary, cleanText, loadedLibrary, paddedLabel, releaseLibrary } from "./library.js";
import { ensurePrivateDir, withFileLock } from "./lock.js";

/** Label of ciop's embedded SoftHSM2 token. @public */
export const EMBEDDED_TOKEN_LABEL = "ciop";

/** What the embedded token's state file (`token.json`, mode 0600) holds. */
export interface EmbeddedTokenState {
  version: 1;
  label: string;
  serial: string;
  pin: string;
  soPin: string;
}

export interface EmbeddedTokenPaths {
  dataDir: string;
  conf: string;
  tokenDir: string;
  stateFile: string;
  lockDir: string;
}

/** $XDG_DATA_HOME/ciop, else ~/.local/share/ciop. @public */
export function defaultDataDir(): string {
  const xdg = process.env.XDG_DATA_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".local", "share");
  return path.join(base, "ciop");
}

export function embeddedPaths(dataDir: string): EmbeddedTokenPaths {
  const dir = path.resolve(dataDir);
  return {
    dataDir: dir,
    conf: path.join(dir, "softhsm2.conf"),
    tokenDir: path.join(dir, "tokens"),
    stateFile: path.join(dir, "token.json"),
    lockDir: path.join(dir, "locks"),
  };
}

function readState(file: string): EmbeddedTokenState | undefined {
  if (!existsSync(file)) return undefined;
  const st = statSync(file);
  if ((st.mode & 0o077) !== 0) chmodSync(file, 0o600);
  const parsed = JSON.parse(readFileSync(file, "utf8")) as EmbeddedTokenState;
  if (parsed.version !== 1 || !parsed.serial || !parsed.pin) {
    throw new CiopError("ERR_CONFIG_INVALID", `the embedded token state file ${file} is not one ciop wrote (missing serial or PIN)`);
  }
  return parsed;
}

function writeConf(p: EmbeddedTokenPaths): void {
  const text = [
    "# Written by ciop (@ciop/hsm): the embedded SoftHSM2 token.",
    `directories.tokendir = ${p.tokenDir}`,
    "objectstore.backend = file",
    "log.level = ERROR",
    "slots.removable = false",
    "slots.mechanisms = ALL",
    "library.reset_on_fork = false",
    "",
  ].join("\n");
  if (existsSync(p.conf) && readFileSync(p.conf, "utf8") === text) return;
  writeFileSync(`${p.conf}.tmp`, text, { mode: 0o600 });
  // rename is atomic: a concurrent reader sees the old or the new file, never half of one
  renameSync(`${p.conf}.tmp`, p.conf);
}

/**
 * Makes sure the embedded token exists (creating it on first use) and points this process's SoftHSM
 * at its config. Idempotent; two processes starting at once create one token (lock file + re-check).
 */
export async function ensureEmbeddedToken(libraryPath: string, dataDir: string): Promise<{ paths: EmbeddedTokenPaths; state: EmbeddedTokenState }> {
  const p = embeddedPaths(dataDir);
  const current = process.env.SOFTHSM2_CONF;
  if (current !== undefined && current !== p.conf && loadedLibrary(libraryPath)) {
    throw new CiopError(
      "ERR_CONFIG_INVALID",
      `SoftHSM is already initialised in this process with SOFTHSM2_CONF=${current}; the embedded token (${p.conf}) cannot be opened next to it`,
    );
  }
  process.env.SOFTHSM2_CONF = p.conf;
  const fast = existsSync(p.conf) ? readState(p.stateFile) : undefined;
  if (fast) return { paths: p, state: fast };

  ensurePrivateDir(p.dataDir);
  ensurePrivateDir(p.lockDir);
  return withFileLock(path.join(p.lockDir, "init.lock"), async () => {
    ensurePrivateDir(p.tokenDir);
    writeConf(p);
    const again = readState(p.stateFile);
    if (again) return { paths: p, state: again };
    const state = initToken(libraryPath);
    await writeFileAtomic(p.stateFile, `${JSON.stringify(state, null, 2)}\n`, { overwrite: true, mode: 0o600 });
    return { paths: p, state };
  });
}

function initToken(libraryPath: string): EmbeddedTokenState {
  const pin = randomBytes(16).toString("base64url");
  const soPin = randomBytes(16).toString("base64url");
  const lib = acquireLibrary(libraryPath);
  const { p } = lib;
  let session: Buffer | undefined;
  try {
    const slots = call("C_GetSlotList", () => p.C_GetSlotList(true));
    const infos = slots.map((slot) => ({ slot, info: call("C_GetTokenInfo", () => p.C_GetTokenInfo(slot)) }));
    const orphan = infos.find((t) => (t.info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0 && cleanText(t.info.label) === EMBEDDED_TOKEN_LABEL);
    if (orphan) {
      // A token without its state file: an earlier run died between C_InitToken and saving the PINs.
      throw new CiopError(
        "ERR_CONFIG_INVALID",
        `the embedded token directory holds a '${EMBEDDED_TOKEN_LABEL}' token (serial ${cleanText(orphan.info.serialNumber)}) but its PIN file is missing; ` +
          `restore the PIN file or delete that token with softhsm2-util --delete-token --serial ${cleanText(orphan.info.serialNumber)}`,
      );
    }
    const free = infos.find((t) => (t.info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0)?.slot;
    if (!free) throw new CiopError("ERR_HSM", "SoftHSM offers no free slot to create the embedded token in");
    call("C_InitToken", () => p.C_InitToken(free, soPin, paddedLabel(EMBEDDED_TOKEN_LABEL)), "creating the embedded token");
    session = call("C_OpenSession", () => p.C_OpenSession(free, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    const s = session;
    call("C_Login", () => p.C_Login(s, pkcs11js.CKU_SO, soPin), "logging in as SO to set the user PIN");
    call("C_InitPIN", () => p.C_InitPIN(s, pin));
    call("C_Logout", () => p.C_Logout(s));
    const serial = cleanText(call("C_GetTokenInfo", () => p.C_GetTokenInfo(free)).serialNumber);
    return { version: 1, label: EMBEDDED_TOKEN_LABEL, serial, pin, soPin };
  } finally {
    if (session) {
      try {
        p.C_CloseSession(session);
      } catch {
        /* ignore */
      }
    }
    releaseLibrary(lib);
  }
}
