import { randomFillSync } from "node:crypto";

const IV_BYTES = 12;
const POOL_IVS = 512;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A fresh 12-byte AES-GCM IV from node's CSPRNG. The random bytes are drawn 512 IVs at a time:
 * one CSPRNG call per 512 encryptions instead of one each (a call costs several microseconds,
 * more than the rest of IV handling). Each IV is copied out and used once; IVs are not secret.
 */
export function randomGcmIv(): Uint8Array {
  if (offset + IV_BYTES > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(IV_BYTES * POOL_IVS));
    offset = 0;
  }
  const iv = new Uint8Array(IV_BYTES);
  iv.set(pool.subarray(offset, offset + IV_BYTES));
  offset += IV_BYTES;
  return iv;
}
