/**
 * The tests' own statement of which ciop key types HashiCorp Vault and OpenBao transit import, and
 * as which transit key type (from transit's import documentation, not from the provider code).
 * Shared by the plan and matrix tests of this package.
 */
import type { KeyType } from "@ciop/wrap";

export const TRANSIT_TYPE: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-128": "aes128-gcm96",
  "AES-256": "aes256-gcm96",
  "HMAC-256": "hmac",
  "HMAC-384": "hmac",
  "HMAC-512": "hmac",
  "RSA-2048": "rsa-2048",
  "RSA-3072": "rsa-3072",
  "RSA-4096": "rsa-4096",
  "EC-NISTP256": "ecdsa-p256",
  "EC-NISTP384": "ecdsa-p384",
  "EC-NISTP521": "ecdsa-p521",
};
