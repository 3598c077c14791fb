/**
 * Opening a token: resolve the library, the token (creating ciop's embedded SoftHSM2 token on first
 * use) and the PIN, initialise the library once per thread, log in, probe the capabilities. SoftHSM's
 * transient store errors (a token file rewritten by another process at that moment) are retried.
 */
import type pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { HsmContext, type Handle } from "../context.js";
import { defaultDataDir, embeddedPaths, ensureEmbeddedToken } from "../embedded-token.js";
import { call } from "../errors.js";
import { checkGcmWorkers } from "../offload/index.js";
import { acquireLibrary, cleanText, defaultLibraryPath, isSoftHsmLibrary, releaseLibrary } from "../library.js";
import { resolvePin } from "../pin.js";
import { probeCapabilities } from "../probe.js";
import { checkGcmProfileOption } from "../gcm-profile.js";
import { login } from "../sessions.js";
import type { HsmOptions, TokenInfo } from "../types.js";
import { closeContext } from "./restart.js";
import { SOFTWARE_TOKEN_PATTERN, isTransientStoreError, selectToken } from "./select-token.js";

/**
 * The C_Initialize library parameters: options.libraryParameters, else env CIOP_PKCS11_PARAMS; an
 * empty string counts as none. Refused when not a string or too long for a sane module config.
 */
function libraryParametersOf(options: HsmOptions): string | undefined {
  const v: unknown = options.libraryParameters !== undefined ? options.libraryParameters : process.env.CIOP_PKCS11_PARAMS;
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string") throw new CiopError("ERR_CONFIG_INVALID", "libraryParameters must be a string");
  if (v.length > 4096 || v.includes("\0")) {
    throw new CiopError("ERR_CONFIG_INVALID", "libraryParameters must be at most 4096 characters with no NUL byte");
  }
  return v;
}

/** Opens and logs in to a token; see Hsm.open and the README for the resolution order. */
export async function openContext(options: HsmOptions): Promise<HsmContext> {
  const history = options.hostFallbackHistory;
  if (history !== undefined && (!Number.isSafeInteger(history) || history < 0)) {
    throw new CiopError("ERR_CONFIG_INVALID", `hostFallbackHistory must be a whole number of events (0 or more), not ${String(history)}`);
  }
  checkGcmWorkers(options.gcmWorkers);
  const libraryPath = options.library ?? process.env.CIOP_PKCS11_LIB ?? defaultLibraryPath();
  const libraryParameters = libraryParametersOf(options);
  const protection = options.protection ?? { kind: "module" as const };
  let selector = protection.kind !== "module" ? protection.name : (options.token ?? process.env.CIOP_TOKEN);
  let embedded: Awaited<ReturnType<typeof ensureEmbeddedToken>> | undefined;
  if (selector === undefined && isSoftHsmLibrary(libraryPath)) {
    const dataDir = options.dataDir ?? defaultDataDir();
    const conf = process.env.SOFTHSM2_CONF;
    if (options.dataDir !== undefined || conf === undefined || conf === embeddedPaths(dataDir).conf) {
      embedded = await ensureEmbeddedToken(libraryPath, dataDir);
      selector = embedded.state.serial;
    }
  }
  let lib = acquireLibrary(libraryPath, libraryParameters);
  let held = true;
  let ctx: HsmContext | undefined;
  try {
    let selected: { slot: Handle; info: pkcs11js.TokenInfo } | undefined;
    for (let attempt = 1; !selected; attempt++) {
      try {
        selected = selectToken(lib.p, selector);
      } catch (err) {
        // SoftHSM reads its token directory once, at C_Initialize. A token file that another
        // process was rewriting at that moment is skipped, so the token looks absent: when this
        // process is the library's only user, initialise it afresh and look again.
        // SoftHSM also rewrites token.object at every login (PIN counter flags); reading it at that
        // moment gives CKR_GENERAL_ERROR. Both are transient.
        // Only when the token must exist (the embedded one) or no token was readable at all, so a
        // mistyped selector still fails at once.
        const notFound =
          CiopError.isInstance(err) && err.code === "ERR_TOKEN_NOT_FOUND" && (embedded !== undefined || (err as CiopError).details?.tokensSeen === 0);
        const soleUser = lib.initializedByUs && lib.refs === 1;
        const retry = attempt < 4 && isSoftHsmLibrary(libraryPath) && ((notFound && soleUser) || isTransientStoreError(err));
        if (!retry) throw err;
        if (soleUser) {
          releaseLibrary(lib);
          held = false;
        }
        await new Promise((r) => setTimeout(r, 50 * attempt + Math.floor(Math.random() * 50)));
        if (!held) {
          lib = acquireLibrary(libraryPath, libraryParameters);
          held = true;
        }
      }
    }
    const { slot, info } = selected;
    const label = cleanText(info.label);
    const moduleInfo = call("C_GetInfo", () => lib.p.C_GetInfo());
    const facts = `${info.manufacturerID} ${info.model} ${moduleInfo.manufacturerID} ${moduleInfo.libraryDescription}`;
    const token: TokenInfo = {
      libraryPath,
      libraryDescription: cleanText(moduleInfo.libraryDescription),
      manufacturer: cleanText(info.manufacturerID),
      model: cleanText(info.model),
      label,
      serial: cleanText(info.serialNumber),
      isSoftware: SOFTWARE_TOKEN_PATTERN.test(facts) && options.assumeHardwareToken !== true,
      embedded: embedded !== undefined,
    };
    const what =
      protection.kind === "softcard"
        ? `passphrase of softcard '${protection.name}'`
        : protection.kind === "ocs"
          ? `PIN of card set '${protection.name}'`
          : `PIN of token '${label}'`;
    const pin = await resolvePin(options.pin, what, embedded?.state.pin);
    if (pin === undefined) {
      // Keep "no <what>:" first and the words "options.pin": citool recognises this message by them.
      throw new CiopError(
        "ERR_PIN_MISSING",
        `no ${what}: set CIOP_PIN to the PIN or CIOP_PIN_FILE to a file holding it, or enter it when a PIN prompt asks; ` +
          `programs calling Hsm.open can give it as options.pin ({ env }, { file }, { prompt } or { value }). A PIN is never taken from the command line alone`,
      );
    }
    ctx = new HsmContext(lib, slot, token, options, embedded?.paths);
    for (let attempt = 1; ; attempt++) {
      try {
        login(ctx, pin);
        ctx.pinBuf = Buffer.from(pin, "utf8");
        break;
      } catch (err) {
        if (attempt >= 3 || !isSoftHsmLibrary(libraryPath) || !isTransientStoreError(err)) throw err;
        await new Promise((r) => setTimeout(r, 30 * attempt + Math.floor(Math.random() * 30)));
      }
    }
    const gcmProfile = checkGcmProfileOption(options.gcmProfile);
    // A token that fails while being probed (a CKR from C_CreateObject, C_OpenSession...) is an HSM
    // failure named with its CKR, not an internal error.
    ctx.caps = call("probe", () => probeCapabilities(lib.p, slot, lib.osLocking && lib.initializedByUs, gcmProfile), "probing the token's mechanisms at open");
    return ctx;
  } catch (err) {
    if (ctx) await closeContext(ctx);
    else if (held) releaseLibrary(lib);
    throw err;
  }
}
