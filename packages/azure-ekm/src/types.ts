/** The API version this package implements. @public */
export const EKM_API_VERSION = "0.1-preview";

/** Wrapping algorithms of the API. @public */
export type EkmAlgorithm = "A256KW" | "A256KWP" | "RSA-OAEP" | "RSA-OAEP-256";

/** Key types of the API. @public */
export type EkmKeyType = "oct" | "RSA";

/** The algorithms each key type accepts. @public */
export const EKM_ALGORITHMS: Readonly<Record<EkmKeyType, readonly EkmAlgorithm[]>> = {
  oct: ["A256KW", "A256KWP"],
  RSA: ["RSA-OAEP", "RSA-OAEP-256"],
};

/** Key sizes in bits the API allows per key type. @public */
export const EKM_KEY_SIZES: Readonly<Record<EkmKeyType, readonly number[]>> = {
  oct: [256],
  RSA: [2048, 3072, 4096],
};

/** The four operations. @public */
export type EkmOperation = "info" | "metadata" | "wrapkey" | "unwrapkey";

/** KeyMetadata as the API defines it. @public */
export interface EkmKeyMetadata {
  key_type: EkmKeyType;
  key_size: number;
  key_ops: ["wrapKey", "unwrapKey"];
  n?: string;
  e?: string;
}

/** ProxyInfo as the API defines it. @public */
export interface EkmProxyInfo {
  api_version: string;
  proxy_vendor: string;
  proxy_name: string;
  ekm_vendor: string;
  ekm_product: string;
}
