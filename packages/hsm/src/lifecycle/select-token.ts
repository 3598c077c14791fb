/**
 * Choosing the token: by label, serial or `#N` among the library's initialised tokens (never by slot
 * number, which SoftHSM derives from the serial), and telling a software token from a hardware one.
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import type { Handle } from "../context.js";
import { HsmError, call } from "../errors.js";
import { cleanText } from "../library.js";

/** Manufacturer/model/library strings of software tokens (host fallbacks are allowed on them). */
export const SOFTWARE_TOKEN_PATTERN = /softhsm|softokn|\bnss\b|mozilla|kryoptic|software/i;

/** CKR_GENERAL_ERROR from a read of SoftHSM's token files while another process rewrote them. */
export function isTransientStoreError(err: unknown): boolean {
  return err instanceof HsmError && err.ckr === "CKR_GENERAL_ERROR" && ["C_GetSlotList", "C_GetTokenInfo", "C_Login", "C_OpenSession"].includes(err.fn ?? "");
}

/** The slot and token info of the token `selector` names (or the only initialised token). */
export function selectToken(p: pkcs11js.PKCS11, selector: string | undefined): { slot: Handle; info: pkcs11js.TokenInfo } {
  const slots = call("C_GetSlotList", () => p.C_GetSlotList(true));
  const tokens = slots
    .map((slot) => ({ slot, info: call("C_GetTokenInfo", () => p.C_GetTokenInfo(slot)) }))
    .filter((t) => (t.info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0);
  const seen = () =>
    tokens.length ? tokens.map((t, i) => `#${i} '${cleanText(t.info.label)}' (serial ${cleanText(t.info.serialNumber)})`).join(", ") : "none";
  if (selector === undefined) {
    if (tokens.length === 1) return tokens[0]!;
    throw new CiopError(
      "ERR_TOKEN_NOT_FOUND",
      `${tokens.length} initialised tokens and no token selected: set CIOP_TOKEN / options.token to a label, serial or #index. Tokens seen: ${seen()}`,
      {
        details: { tokensSeen: tokens.length },
      },
    );
  }
  const idx = /^#(\d+)$/.exec(selector);
  if (idx) {
    const t = tokens[Number(idx[1])];
    if (t) return t;
  } else {
    const bySerial = tokens.filter((t) => cleanText(t.info.serialNumber) === selector);
    if (bySerial.length === 1) return bySerial[0]!;
    const byLabel = tokens.filter((t) => cleanText(t.info.label) === selector);
    if (byLabel.length === 1) return byLabel[0]!;
    if (byLabel.length > 1) {
      throw new CiopError("ERR_CONFIG_INVALID", `${byLabel.length} tokens are labelled '${selector}': select one by serial. Tokens seen: ${seen()}`);
    }
  }
  throw new CiopError("ERR_TOKEN_NOT_FOUND", `no token matches '${selector}' (by label, serial or #index). Tokens seen: ${seen()}`, {
    details: { tokensSeen: tokens.length },
  });
}
