/**
 * OCI Vault (Oracle Cloud Infrastructure Key Management) import rules: wrapping algorithms,
 * importable key types, the vault wrapping-key size, the key shapes and the artefact file names.
 * Sources are listed in the package README.
 */
import { rsaKeyBits, secretKeyLength } from "@ciop/wrap";
import type { HashName, KeyType } from "@ciop/wrap";

/** Provider name on citool's command line. @public */
export const OCI_PROVIDER_NAME = "oci";

/**
 * Wrapping algorithms, spelled as OCI's `WrappedImportKey.wrappingAlgorithm` spells them.
 * - `RSA_OAEP_AES_SHA256`: RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) of a temporary AES-256
 *   key, followed by the RFC 5649 AES key wrap (with padding) of the target under that key; the
 *   OAEP block comes first. The target is the raw AES key or the RSA private key as PKCS#8 DER.
 * - `RSA_OAEP_SHA256`: RSA-OAEP (SHA-256) of the target itself; AES keys only (an RSA private key
 *   never fits in one OAEP block).
 * @public
 */
export const OCI_ALGORITHMS = ["RSA_OAEP_AES_SHA256", "RSA_OAEP_SHA256"] as const;

/** @public */
export type OciAlgorithm = (typeof OCI_ALGORITHMS)[number];

/**
 * Key types OCI Vault imports: AES of 16, 24 or 32 bytes and RSA of 2048, 3072 or 4096 bits.
 * OCI documents that ECDSA keys cannot be imported, so EC targets are refused.
 * @public
 */
export const OCI_KEY_TYPES: readonly KeyType[] = ["AES-128", "AES-192", "AES-256", "RSA-2048", "RSA-3072", "RSA-4096"];

/** Default target: a 256-bit AES key (OCI's usual master encryption key). @public */
export const OCI_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** Every vault's wrapping key is a 4096-bit RSA key (`oci kms management wrapping-key get`). @public */
export const OCI_WRAPPING_KEY_BITS: readonly number[] = [4096];

/** How each algorithm is carried out. @internal */
export const OCI_ALGORITHM_STEPS: Readonly<Record<OciAlgorithm, { kind: "rsa-aes" | "oaep"; hash: HashName }>> = {
  RSA_OAEP_AES_SHA256: { kind: "rsa-aes", hash: "sha256" },
  RSA_OAEP_SHA256: { kind: "oaep", hash: "sha256" },
};

/**
 * OCI's `KeyShape` for a target type, as `--key-shape` takes it: `algorithm` (`AES` or `RSA`) and
 * `length` in BYTES (AES 16/24/32, RSA 256/384/512). No `curveId` (that is for ECDSA keys only).
 * @throws Error for a key type OCI does not import (plan() refuses those first).
 * @public
 */
export function ociKeyShape(keyType: KeyType): { algorithm: "AES" | "RSA"; length: number } {
  if (!OCI_KEY_TYPES.includes(keyType)) throw new Error(`OCI Vault has no key shape for ${keyType}.`);
  const secret = secretKeyLength(keyType);
  if (secret !== undefined) return { algorithm: "AES", length: secret };
  return { algorithm: "RSA", length: rsaKeyBits(keyType)! / 8 };
}

/** The base64 `keyMaterial` (wrapped key material), on one line with no newline. @public */
export function ociKeyMaterialFileName(keyName: string): string {
  return `${keyName}.keymaterial.b64`;
}

/** The `--wrapped-import-key` JSON: `{"keyMaterial": …, "wrappingAlgorithm": …}`. @public */
export function ociWrappedImportKeyFileName(keyName: string): string {
  return `${keyName}.wrapped-import-key.json`;
}

/** The `--key-shape` JSON: `{"algorithm": …, "length": <bytes>}`. @public */
export function ociKeyShapeFileName(keyName: string): string {
  return `${keyName}.key-shape.json`;
}

/** The three files of an OCI export, in the order export() returns them. @public */
export function ociOutputFiles(keyName: string): readonly string[] {
  return [ociKeyMaterialFileName(keyName), ociWrappedImportKeyFileName(keyName), ociKeyShapeFileName(keyName)];
}
