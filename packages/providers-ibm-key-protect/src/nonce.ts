/**
 * The import token's nonce as citool passes it (`providerOptions.nonce`): the `nonce` member of
 * `GET /api/v2/import_token`, standard base64. Checked strictly and with bounded work before
 * anything else happens.
 */
import { CiopError } from "@ciop/core";
import { IBM_KP_NONCE_BYTES } from "./rules.js";

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Longest base64 text that can hold the largest accepted nonce. */
const MAX_TEXT = Math.ceil(IBM_KP_NONCE_BYTES.max / 3) * 4;

/**
 * Decodes the nonce. Throws ERR_USAGE when it is missing, not a string, not canonical standard
 * base64 (padding included, no whitespace), or decodes to fewer than 8 or more than 64 bytes.
 * The message never repeats the value.
 * @public
 */
export function parseIbmNonce(value: unknown): Uint8Array {
  const bounds = `${IBM_KP_NONCE_BYTES.min} to ${IBM_KP_NONCE_BYTES.max} bytes`;
  if (value === undefined || value === "") {
    throw new CiopError(
      "ERR_USAGE",
      'IBM Key Protect needs the import token\'s nonce (provider option "nonce": the "nonce" member of GET /api/v2/import_token, or of `ibmcloud kp import-token show`).',
    );
  }
  if (typeof value !== "string") throw new CiopError("ERR_USAGE", `The IBM Key Protect nonce must be a base64 string, not ${typeof value}.`);
  if (value.length > MAX_TEXT) {
    throw new CiopError(
      "ERR_USAGE",
      `The IBM Key Protect nonce is ${value.length} characters long; a nonce of ${bounds} is at most ${MAX_TEXT} base64 characters.`,
    );
  }
  if (!B64.test(value) || value.length % 4 !== 0) {
    throw new CiopError("ERR_USAGE", "The IBM Key Protect nonce is not standard base64 (A-Z a-z 0-9 + / with = padding, as the import token gives it).");
  }
  const bytes = new Uint8Array(Buffer.from(value, "base64"));
  if (Buffer.from(bytes).toString("base64") !== value) {
    throw new CiopError("ERR_USAGE", "The IBM Key Protect nonce is not canonical base64 (its last character carries bits the decoding drops).");
  }
  if (bytes.length < IBM_KP_NONCE_BYTES.min || bytes.length > IBM_KP_NONCE_BYTES.max) {
    throw new CiopError("ERR_USAGE", `The IBM Key Protect nonce decodes to ${bytes.length} bytes; import-token nonces are ${bounds} (IBM's examples: 12).`);
  }
  return bytes;
}
