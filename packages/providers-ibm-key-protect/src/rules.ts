/**
 * IBM Key Protect import-token rules: the one wrapping algorithm, the root-key types and sizes, the
 * import token's RSA key size, the nonce's bounds and the names of the files ciop writes.
 * Sources are listed in the package README.
 */
import type { HashName, KeyType } from "@ciop/wrap";

/** Provider name on citool's command line. @public */
export const IBM_KP_PROVIDER_NAME = "ibm-key-protect";

/**
 * Wrapping algorithms, as Key Protect's create-key API names them (`encryptionAlgorithm`):
 * `RSAES_OAEP_SHA_256`, RSA-OAEP with SHA-256 for OAEP and MGF1 and an empty label, of the raw key.
 * (`RSAES_OAEP_SHA_1` is Hyper Protect Crypto Services'; Key Protect's CLI docs say not to use it for
 * Key Protect root keys, so it is refused.)
 * @public
 */
export const IBM_KP_ALGORITHMS = ["RSAES_OAEP_SHA_256"] as const;

/** @public */
export type IbmKeyProtectAlgorithm = (typeof IBM_KP_ALGORITHMS)[number];

/** The algorithm used when the request names none (there is only one). @public */
export const IBM_KP_DEFAULT_ALGORITHM: IbmKeyProtectAlgorithm = "RSAES_OAEP_SHA_256";

/** Root keys Key Protect imports: 16, 24 or 32 bytes of AES key material. @public */
export const IBM_KP_KEY_TYPES: readonly KeyType[] = ["AES-128", "AES-192", "AES-256"];

/** The default target: a 256-bit key, what IBM's docs recommend. @public */
export const IBM_KP_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** The import token's key pair is RSA-4096 (generated in Key Protect's HSMs). @public */
export const IBM_KP_WRAPPING_KEY_BITS: readonly number[] = [4096];

/**
 * Bounds of the import token's nonce, in bytes after base64 decoding. IBM's documentation does not
 * state its length; every example it shows is 12 bytes (16 base64 characters). ciop accepts 8 to
 * 64 bytes and refuses anything else as not a nonce Key Protect issued.
 * @public
 */
export const IBM_KP_NONCE_BYTES: Readonly<{ min: number; max: number }> = Object.freeze({ min: 8, max: 64 });

/** Key Protect key names are 2 to 90 characters; the key's name in the create-key body is ciop's key name. @public */
export const IBM_KP_KEY_NAME_LENGTH: Readonly<{ min: number; max: number }> = Object.freeze({ min: 2, max: 90 });

/** How each algorithm is carried out (OAEP hash of the key material). @internal */
export const IBM_KP_ALGORITHM_STEPS: Readonly<Record<IbmKeyProtectAlgorithm, { hash: HashName }>> = {
  RSAES_OAEP_SHA_256: { hash: "sha256" },
};

/** Content type of Key Protect's key resources (and of the create-key request). @public */
export const IBM_KP_KEY_CONTENT_TYPE = "application/vnd.ibm.kms.key+json";

/**
 * The files of one export, in order: `payload` (base64 RSA-OAEP of the key), `encryptedNonce`
 * (base64 AES-GCM ciphertext ‖ tag of the nonce under the key), `iv` (base64 12-byte GCM IV) and
 * the create-key request body (JSON).
 * @public
 */
export function ibmKeyProtectFileNames(keyName: string): readonly [payload: string, encryptedNonce: string, iv: string, body: string] {
  return [`${keyName}-payload`, `${keyName}-encryptedNonce`, `${keyName}-iv`, `${keyName}-create-key.json`];
}
