/** Total length (header + content) of the DER element at the start of `buf`, or undefined. */
export function derLength(buf: Uint8Array): number | undefined {
  if (buf.length < 2) return undefined;
  const first = buf[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || buf.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[2 + i]!;
  return 2 + n + len;
}

/** Strips trailing bytes after the first DER element (SoftHSM pads PKCS#8 with zeros). */
export function exactDer(buf: Uint8Array): Uint8Array {
  const len = derLength(buf);
  if (len === undefined || len > buf.length) throw new Error("not a DER element");
  return buf.subarray(0, len);
}

/** Removes the DER OCTET STRING wrapping of CKA_EC_POINT when present. */
export function ecPointRaw(value: Uint8Array, coordinateSize: number): Uint8Array {
  const rawLen = 1 + 2 * coordinateSize;
  if (value.length === rawLen && value[0] === 0x04) return value;
  if (value[0] === 0x04 && derLength(value) === value.length) {
    const header = value[1]! < 0x80 ? 2 : 2 + (value[1]! & 0x7f);
    return value.subarray(header);
  }
  return value;
}
