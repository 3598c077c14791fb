/** One SigV4 credential KMS signs with. @public */
export interface XksCredential {
  /** 20–30 characters of A–Z and 2–7. */
  accessKeyId: string;
  /** 43–64 characters of A–Z a–z 0–9 + / =. Never logged. */
  secretAccessKey: string;
}

/**
 * One logical external key store served by the proxy.
 * @public
 */
export interface XksKeyStore {
  /** Name for logs and metrics (default: the prefix, or "default"). */
  name?: string;
  /** URI path prefix before `/kms/xks/v1`: "" or e.g. "/tenant-a/xks". */
  uriPrefix: string;
  /** Accepted credentials; two during a rotation. */
  credentials: readonly XksCredential[];
  /** Signing regions accepted (the KMS Region calling). Absent or empty: any region. */
  regions?: readonly string[];
  /** External key ids this store may use. */
  keys: readonly string[] | ReadonlySet<string>;
}

/** The four XKS operations. @public */
export type XksOperation = "GetKeyMetadata" | "Encrypt" | "Decrypt" | "GetHealthStatus";

/** Sizes this implementation supports; anything larger is 501 UnsupportedOperationException. @public */
export interface XksLimits {
  /** Largest plaintext (encrypt) and ciphertext (decrypt) in bytes. Default 4300 (the spec minimum). */
  maxPlaintextBytes: number;
  /** Largest additionalAuthenticatedData in bytes. Default 8192 (the spec minimum). */
  maxAadBytes: number;
}

/** The spec's minimum sizes, used by default. @public */
export const DEFAULT_XKS_LIMITS: Readonly<XksLimits> = { maxPlaintextBytes: 4300, maxAadBytes: 8192 };
