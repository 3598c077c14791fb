/** Minimal DER framing helpers (length of the outer TLV), used to reject trailing bytes. */

/**
 * Total length (header + content) of the DER TLV at the start of `der`, or -1 when the header
 * is malformed or claims more bytes than are present.
 * @internal
 */
export function derTlvLength(der: Uint8Array): number {
  if (der.length < 2) return -1;
  const first = der[1]!;
  if (first < 0x80) return 2 + first <= der.length ? 2 + first : -1;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
  const total = 2 + n + len;
  return total <= der.length ? total : -1;
}

/** True when `der` is exactly one DER SEQUENCE with no trailing bytes. @internal */
export function isExactDerSequence(der: Uint8Array): boolean {
  return der.length > 0 && der[0] === 0x30 && derTlvLength(der) === der.length;
}
