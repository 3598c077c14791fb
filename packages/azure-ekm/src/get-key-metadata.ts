import { encodeBase64url } from "./base64url.js";
import type { EkmKeyDescription } from "./crypto.js";
import { EkmError } from "./errors.js";
import { EKM_KEY_SIZES, type EkmKeyMetadata } from "./types.js";

/** Drops leading zero bytes (the API wants the unsigned big-endian value, not a fixed width). */
function minimal(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/**
 * KeyMetadata of a key: type, size, `key_ops` exactly ["wrapKey","unwrapKey"], and `n`/`e` for RSA
 * as base64url of their unsigned big-endian bytes. A key the API cannot describe (another size) is
 * refused as 403 OperationNotSupported.
 * @public
 */
export function keyMetadata(d: EkmKeyDescription): EkmKeyMetadata {
  if (!EKM_KEY_SIZES[d.keyType]?.includes(d.keySize))
    throw new EkmError("OperationNotSupported", `a ${d.keyType} key of ${d.keySize} bits cannot serve this API`);
  const out: EkmKeyMetadata = { key_type: d.keyType, key_size: d.keySize, key_ops: ["wrapKey", "unwrapKey"] };
  if (d.keyType === "RSA") {
    if (!d.n || !d.e) throw new EkmError("InternalServerError", "the RSA key's public values are missing");
    out.n = encodeBase64url(minimal(d.n));
    out.e = encodeBase64url(minimal(d.e));
  }
  return out;
}
