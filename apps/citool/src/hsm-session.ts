/**
 * Opening the HSM from the settings: library, token (-m / --token), protection model, PIN source.
 */
import { accessSync, constants, statSync } from "node:fs";
import { CiopError } from "@ciop/core";
import { usageError } from "./errors.js";
import type { Hsm, HsmOptions, PinSource } from "@ciop/hsm";
import type { Settings } from "./config.js";
import type { Io } from "./io.js";

/**
 * Where the PIN comes from, in order: --pin-file, $CIOP_PIN, $CIOP_PIN_FILE / config pin_file, a
 * prompt on the terminal (when a library or token was chosen, or a softcard/card set is used), and
 * otherwise the embedded token's own stored PIN (left to @ciop/hsm).
 */
export function pinSource(settings: Settings, io: Io): PinSource | undefined {
  const h = settings.hsm;
  if (h.pinFile !== undefined && io.env.CIOP_PIN === undefined) return { file: h.pinFile };
  if (h.pinEnv !== undefined) return { env: h.pinEnv };
  if (h.pinFile !== undefined) return { file: h.pinFile };
  const needsPin = h.library !== undefined || h.token !== undefined || h.protection.kind !== "module";
  if (needsPin && io.stdinIsTTY) {
    return {
      prompt: (what: string) => io.prompt(`${what || promptText(settings)}: `, { hidden: true }),
    };
  }
  return undefined;
}

function promptText(settings: Settings): string {
  const p = settings.hsm.protection;
  if (p.kind === "softcard") return `Passphrase of softcard ${p.name}`;
  if (p.kind === "ocs") return `PIN of card set ${p.name}`;
  return "User PIN of the token";
}

export function hsmOptions(settings: Settings, io: Io, token = settings.hsm.token, extra: Partial<HsmOptions> = {}): HsmOptions {
  const h = settings.hsm;
  const opts: HsmOptions = { ...extra, protection: h.protection, allowHostFallback: h.allowHostFallback };
  if (h.library !== undefined) opts.library = h.library;
  if (h.libraryParameters !== undefined) opts.libraryParameters = h.libraryParameters;
  if (token !== undefined) opts.token = token;
  if (h.dataDir !== undefined) opts.dataDir = h.dataDir;
  const pin = pinSource(settings, io);
  if (pin !== undefined) opts.pin = pin;
  return opts;
}

/**
 * Opens the HSM. A bare number given with -m (the seed's module number, counted from 1) is tried as
 * a label or serial first, then as the N-th initialised token.
 */
export async function openHsm(settings: Settings, io: Io, extra: Partial<HsmOptions> = {}): Promise<Hsm> {
  try {
    return await openHsmOnce(settings, io, extra);
  } catch (err) {
    // say it in command-line terms (the library's message speaks of API options)
    if (CiopError.isInstance(err) && err.code === "ERR_PIN_MISSING" && /options\.pin/.test(err.message)) {
      const what = /^no (.*?):/.exec(err.message)?.[1] ?? "PIN";
      throw new CiopError(
        "ERR_PIN_MISSING",
        `no ${what} given: set CIOP_PIN, pass --pin-file FILE (or pin_file in the config), or run citool on a terminal to be asked`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * A PIN file named on the command line, in the environment or in the config must be a readable
 * file: checked with the other arguments, before the HSM is opened.
 */
export function checkPinFile(settings: Settings): void {
  const f = settings.hsm.pinFile;
  if (f === undefined || settings.hsm.pinEnv !== undefined) return;
  try {
    if (!statSync(f).isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
    accessSync(f, constants.R_OK);
  } catch (err) {
    throw usageError(
      `PIN file ${f} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a readable file that holds the PIN`,
    );
  }
}

async function openHsmOnce(settings: Settings, io: Io, extra: Partial<HsmOptions>): Promise<Hsm> {
  // @ciop/hsm (and the pkcs11js addon under it) is loaded by the commands that open the HSM, not by
  // every command that shares this module
  const { Hsm } = await import("@ciop/hsm");
  try {
    return await Hsm.open(hsmOptions(settings, io, settings.hsm.token, extra));
  } catch (err) {
    const t = settings.hsm.token;
    if (
      CiopError.isInstance(err) &&
      err.code === "ERR_TOKEN_NOT_FOUND" &&
      settings.hsm.tokenFromModuleOption &&
      t !== undefined &&
      /^[1-9][0-9]{0,2}$/.test(t)
    ) {
      try {
        return await Hsm.open(hsmOptions(settings, io, `#${Number(t) - 1}`, extra));
      } catch (err2) {
        if (CiopError.isInstance(err2) && err2.code === "ERR_TOKEN_NOT_FOUND") throw err;
        throw err2;
      }
    }
    throw err;
  }
}

/** Token label and serial as shown to users (some libraries pad the label with spaces or NULs). */
export function tokenFacts(hsm: Hsm): { label: string; serial: string } {
  const clean = (v: string) => v.replace(/[\s\0]+$/u, "");
  return { label: clean(hsm.token.label), serial: clean(hsm.token.serial) };
}
