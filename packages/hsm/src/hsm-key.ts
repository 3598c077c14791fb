import type { KeyType } from "./types.js";

/** Magic prefix of the CKA_ID of every key ciop creates: "ciop" + format version 1. @public */
export const CIOP_ID_PREFIX: Uint8Array = Uint8Array.from([0x63, 0x69, 0x6f, 0x70, 0x01]);

/**
 * A key held in the HSM (a secret key, or the private half of a key pair). Opaque: pass it back to
 * {@link Hsm} methods. The object handle is cached and refreshed when the token says it went stale.
 * @public
 */
export class HsmKey {
  /** CKA_LABEL. */
  readonly name: string;
  readonly type: KeyType;
  /** "secret": raw bytes inside a wrap; "private": PKCS#8 DER inside a wrap. */
  readonly kind: "secret" | "private";
  /** CKA_ID, lower-case hex. */
  readonly id: string;
  /** CKA_ID starts with {@link CIOP_ID_PREFIX}. */
  readonly createdByCiop: boolean;
  /** A session object (ephemeral), not stored on the token. */
  readonly ephemeral: boolean;
  /** @internal PKCS#11 object handle of the secret or private key. */
  handle: Buffer;
  /** @internal Handle of the matching public key object, when looked up. */
  publicHandle: Buffer | undefined;

  /** @internal */
  constructor(init: {
    name: string;
    type: KeyType;
    kind: "secret" | "private";
    id: string;
    createdByCiop: boolean;
    ephemeral?: boolean;
    handle: Buffer;
    publicHandle?: Buffer;
  }) {
    this.name = init.name;
    this.type = init.type;
    this.kind = init.kind;
    this.id = init.id;
    this.createdByCiop = init.createdByCiop;
    this.ephemeral = init.ephemeral ?? false;
    this.handle = init.handle;
    this.publicHandle = init.publicHandle;
  }
}

/** A provider's RSA public key imported as a session object (CKA_WRAP, CKA_ENCRYPT). @public */
export class HsmPublicKey {
  readonly bits: number;
  /** SubjectPublicKeyInfo DER it was imported from. */
  readonly spki: Uint8Array;
  /** @internal */
  handle: Buffer | undefined;

  /** @internal */
  constructor(bits: number, spki: Uint8Array, handle: Buffer) {
    this.bits = bits;
    this.spki = spki;
    this.handle = handle;
  }
}
