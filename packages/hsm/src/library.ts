import { existsSync } from "node:fs";
import pkcs11js from "pkcs11js";
import { HsmError, isCkr, toHsmError } from "./errors.js";

/** Where Debian/Ubuntu (and friends) install SoftHSM2. */
export const SOFTHSM_LIBRARY_CANDIDATES = [
  "/usr/lib/softhsm/libsofthsm2.so",
  "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
  "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
  "/usr/local/lib/softhsm/libsofthsm2.so",
  "/opt/homebrew/lib/softhsm/libsofthsm2.so",
];

export function defaultLibraryPath(): string {
  return SOFTHSM_LIBRARY_CANDIDATES.find((p) => existsSync(p)) ?? SOFTHSM_LIBRARY_CANDIDATES[0]!;
}

/**
 * A fixed-width PKCS#11 text field (label, serial, manufacturer...) without its padding. The spec
 * pads with spaces, but some writers (pkcs11js's C_InitToken among them) leave NULs.
 */
export function cleanText(s: string): string {
  return s.replace(/[\s\0]+$/u, "").replace(/^[\s\0]+/u, "");
}

/** A token label padded to the 32 bytes PKCS#11 expects (blank padded). */
export function paddedLabel(label: string): string {
  const bytes = Buffer.byteLength(label);
  if (bytes > 32) throw new RangeError(`a token label is at most 32 bytes (got ${bytes})`);
  return label + " ".repeat(32 - bytes);
}

export function isSoftHsmLibrary(path: string): boolean {
  return /softhsm/i.test(path);
}

/** One loaded + initialised PKCS#11 library, shared by every Hsm of this thread. */
export interface LoadedLibrary {
  readonly p: pkcs11js.PKCS11;
  readonly path: string;
  refs: number;
  /** We called C_Initialize (so we call C_Finalize); false when another user in the process did. */
  readonly initializedByUs: boolean;
  /** C_Initialize was given CKF_OS_LOCKING_OK (async calls are safe). */
  readonly osLocking: boolean;
  /** SOFTHSM2_CONF at C_Initialize (SoftHSM reads it once). */
  readonly softhsmConf: string | undefined;
  /** The library parameters given to C_Initialize (NSS softokn needs them), or undefined. */
  readonly parameters: string | undefined;
  /**
   * Tokens this thread is logged in to (key: slot id hex): a digest of the PIN used and how many
   * open Hsm instances share the login. PKCS#11 login state is per application and token, so the
   * second Hsm on a token does not log in again; it must present the same PIN.
   */
  readonly logins: Map<string, { pinDigest: Buffer; refs: number }>;
}

const REGISTRY_KEY = Symbol.for("ciop.hsm.libraries");
type Registry = Map<string, LoadedLibrary>;
function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  let r = g[REGISTRY_KEY];
  if (r === undefined) {
    r = new Map();
    g[REGISTRY_KEY] = r;
  }
  return r;
}

/** The library already loaded in this thread for `path`, if any. */
export function loadedLibrary(path: string): LoadedLibrary | undefined {
  return registry().get(path);
}

/** The C_Initialize arguments: CKF_OS_LOCKING_OK, plus the library parameters when there are some. */
export function initializeOptions(parameters: string | undefined, osLocking = true): pkcs11js.InitializationOptions | undefined {
  const o: pkcs11js.InitializationOptions = {};
  if (osLocking) o.flags = pkcs11js.CKF_OS_LOCKING_OK;
  if (parameters !== undefined) o.libraryParameters = parameters;
  return Object.keys(o).length > 0 ? o : undefined;
}

/**
 * Loads the library (once per thread) and calls C_Initialize with CKF_OS_LOCKING_OK and, when
 * given, the library parameters (the reserved field of CK_C_INITIALIZE_ARGS, as NSS softokn reads
 * it). CKR_CRYPTOKI_ALREADY_INITIALIZED (another worker thread got there first) is fine. A library
 * already loaded in this thread with other parameters is refused: C_Initialize runs once, so the
 * second set would be silently ignored. The parameters never appear in an error message.
 */
export function acquireLibrary(path: string, parameters?: string): LoadedLibrary {
  const reg = registry();
  const existing = reg.get(path);
  if (existing) {
    if (existing.parameters !== parameters) {
      throw new HsmError(
        "ERR_HSM_LIBRARY",
        `the PKCS#11 library ${path} is already initialised in this process with other library parameters; it reads them once, at C_Initialize. Use the same parameters for every token opened through it`,
      );
    }
    existing.refs++;
    return existing;
  }
  if (!existsSync(path)) {
    throw new HsmError(
      "ERR_HSM_LIBRARY",
      `PKCS#11 library not found at ${path}. Install SoftHSM2 (apt-get install softhsm2) or set CIOP_PKCS11_LIB / options.library to your HSM vendor's PKCS#11 library`,
    );
  }
  const p = new pkcs11js.PKCS11();
  try {
    p.load(path);
  } catch (err) {
    throw new HsmError("ERR_HSM_LIBRARY", `cannot load the PKCS#11 library ${path}: ${(err as Error).message}`, { cause: err });
  }
  let initializedByUs = true;
  let osLocking = true;
  try {
    p.C_Initialize(initializeOptions(parameters));
  } catch (err) {
    if (isCkr(err, "CKR_CRYPTOKI_ALREADY_INITIALIZED")) {
      initializedByUs = false;
    } else if (isCkr(err, "CKR_CANT_LOCK")) {
      try {
        p.C_Initialize(initializeOptions(parameters, false));
        osLocking = false;
      } catch (err2) {
        throw wrapLoad(err2, path, parameters);
      }
    } else {
      throw wrapLoad(err, path, parameters);
    }
  }
  const lib: LoadedLibrary = { p, path, refs: 1, initializedByUs, osLocking, softhsmConf: process.env.SOFTHSM2_CONF, parameters, logins: new Map() };
  reg.set(path, lib);
  return lib;
}

function wrapLoad(err: unknown, path: string, parameters: string | undefined): HsmError {
  const e = toHsmError(err, "C_Initialize", `initialising ${path}`);
  // The parameters themselves stay out of the message (a vendor's may hold a secret).
  const hint =
    e.ckr === "CKR_ARGUMENTS_BAD" && parameters === undefined
      ? ". Some libraries (NSS softokn) need library parameters: set CIOP_PKCS11_PARAMS or options.libraryParameters"
      : "";
  return new HsmError("ERR_HSM_LIBRARY", e.message + hint, { cause: err, ckr: e.ckr, ckrCode: e.ckrCode, fn: "C_Initialize" });
}

/** Drops one reference; the last one finalises (if we initialised) and unloads. */
export function releaseLibrary(lib: LoadedLibrary): void {
  lib.refs--;
  if (lib.refs > 0) return;
  registry().delete(lib.path);
  if (lib.initializedByUs) {
    try {
      lib.p.C_Finalize();
    } catch {
      /* already finalised */
    }
  }
  try {
    lib.p.close();
  } catch {
    /* ignore */
  }
}
