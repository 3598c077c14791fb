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

/** One DER element: tag, where its content starts and ends in the buffer. */
export interface DerNode {
  tag: number;
  start: number;
  end: number;
}

/** The DER element at `at` (definite lengths only), or undefined when it does not fit in `buf`. */
export function derAt(buf: Uint8Array, at: number, limit = buf.length): DerNode | undefined {
  if (at + 2 > limit) return undefined;
  const tag = buf[at]!;
  const first = buf[at + 1]!;
  let header = 2;
  let len = first;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
    header = 2 + n;
  }
  const start = at + header;
  if (start + len > limit) return undefined;
  return { tag, start, end: start + len };
}

/** The elements inside a constructed element's content, or undefined when they do not parse. */
export function derChildren(buf: Uint8Array, node: DerNode): DerNode[] | undefined {
  const out: DerNode[] = [];
  for (let at = node.start; at < node.end; ) {
    const child = derAt(buf, at, node.end);
    if (!child) return undefined;
    out.push(child);
    at = child.end;
  }
  return out;
}

/**
 * Length of the private scalar in an EC PKCS#8 (PrivateKeyInfo → OCTET STRING → ECPrivateKey →
 * privateKey OCTET STRING), or undefined when `pkcs8` is not shaped like that.
 */
export function ecPkcs8ScalarLength(pkcs8: Uint8Array): number | undefined {
  const top = derAt(pkcs8, 0);
  if (top?.tag !== 0x30) return undefined;
  const info = derChildren(pkcs8, top);
  const wrapped = info?.[2];
  if (wrapped?.tag !== 0x04) return undefined;
  const ecKey = derAt(pkcs8, wrapped.start, wrapped.end);
  if (ecKey?.tag !== 0x30) return undefined;
  const d = derChildren(pkcs8, ecKey)?.[1];
  if (d?.tag !== 0x04) return undefined;
  return d.end - d.start;
}
