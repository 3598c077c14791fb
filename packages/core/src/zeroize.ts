/**
 * Overwrites buffers that held key material. Accepts `undefined` so it can sit in `finally` blocks.
 * @public
 */
export function zeroize(...buffers: Array<Uint8Array | undefined | null>): void {
  for (const b of buffers) if (b) b.fill(0);
}
