/**
 * The size facts of an asymmetric key (RSA modulus length and public exponent, EC curve), read
 * from the key's SubjectPublicKeyInfo DER.
 *
 * ciop never reads node:crypto's `KeyObject.asymmetricKeyDetails`: on Node 20 that getter takes the
 * key's mutex and then allocates on the V8 heap; when the allocation runs a garbage collection that
 * finalises the job which generated the key, the job's destructor waits for the same mutex and the
 * thread never wakes up (see the README, "Node versions"). Exporting the SPKI does not hold that
 * mutex across an allocation, and the SPKI of a public key holds no secret.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { asn1jsLib } from "./asn1-libs.js";

/** What {@link spkiFacts} reads. @internal */
export interface PublicKeyFacts {
  /** The SPKI algorithm identifier (dotted OID). */
  algorithm: string;
  /** RSA and RSASSA-PSS keys: the modulus size in bits (leading zero bits not counted, as OpenSSL counts them); DSA keys: the size of p. */
  modulusLength?: number;
  /** RSA and RSASSA-PSS keys: the public exponent. */
  publicExponent?: bigint;
  /** DSA keys with parameters: the size of q in bits (DSA's `modulusLength` is the size of p). */
  divisorLength?: number;
  /**
   * EC keys with a named curve: OpenSSL's short name of the curve (the name node:crypto uses, e.g.
   * `prime256v1`), or the dotted OID of a curve OpenSSL has no name for. Undefined for explicit
   * curve parameters.
   */
  namedCurve?: string;
}

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const DSA = "1.2.840.10040.4.1";

/** OpenSSL's short names of the named curves, by OID arc and last arc number. */
const CURVE_ARCS: ReadonlyArray<readonly [string, Readonly<Record<number, string>>]> = [
  ["1.2.840.10045.3.1.", { 1: "prime192v1", 2: "prime192v2", 3: "prime192v3", 4: "prime239v1", 5: "prime239v2", 6: "prime239v3", 7: "prime256v1" }],
  [
    "1.3.132.0.",
    {
      1: "sect163k1",
      2: "sect163r1",
      3: "sect239k1",
      4: "sect113r1",
      5: "sect113r2",
      6: "secp112r1",
      7: "secp112r2",
      8: "secp160r1",
      9: "secp160k1",
      10: "secp256k1",
      15: "sect163r2",
      16: "sect283k1",
      17: "sect283r1",
      22: "sect131r1",
      23: "sect131r2",
      24: "sect193r1",
      25: "sect193r2",
      26: "sect233k1",
      27: "sect233r1",
      28: "secp128r1",
      29: "secp128r2",
      30: "secp160r2",
      31: "secp192k1",
      32: "secp224k1",
      33: "secp224r1",
      34: "secp384r1",
      35: "secp521r1",
      36: "sect409k1",
      37: "sect409r1",
      38: "sect571k1",
      39: "sect571r1",
    },
  ],
  [
    "1.3.36.3.3.2.8.1.1.",
    {
      1: "brainpoolP160r1",
      2: "brainpoolP160t1",
      3: "brainpoolP192r1",
      4: "brainpoolP192t1",
      5: "brainpoolP224r1",
      6: "brainpoolP224t1",
      7: "brainpoolP256r1",
      8: "brainpoolP256t1",
      9: "brainpoolP320r1",
      10: "brainpoolP320t1",
      11: "brainpoolP384r1",
      12: "brainpoolP384t1",
      13: "brainpoolP512r1",
      14: "brainpoolP512t1",
    },
  ],
  [
    "1.2.840.10045.3.0.",
    {
      1: "c2pnb163v1",
      2: "c2pnb163v2",
      3: "c2pnb163v3",
      4: "c2pnb176v1",
      5: "c2tnb191v1",
      6: "c2tnb191v2",
      7: "c2tnb191v3",
      10: "c2pnb208w1",
      11: "c2tnb239v1",
      12: "c2tnb239v2",
      13: "c2tnb239v3",
      16: "c2pnb272w1",
      17: "c2pnb304w1",
      18: "c2tnb359v1",
      19: "c2pnb368w1",
      20: "c2tnb431r1",
    },
  ],
  ["2.23.43.1.4.", Object.fromEntries([1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((n) => [n, `wap-wsg-idm-ecid-wtls${n}`]))],
];

function curveName(oid: string): string {
  for (const [arc, names] of CURVE_ARCS) {
    if (!oid.startsWith(arc)) continue;
    const last = oid.slice(arc.length);
    if (/^\d+$/.test(last)) return names[Number(last)] ?? oid;
  }
  return oid;
}

/** The parts of an asn1js element read here. */
interface Element {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  valueBlock: { value?: Element[]; valueHexView?: Uint8Array; toString(): string };
}

const isUniversal = (e: Element | undefined, tag: number): e is Element => e !== undefined && e.idBlock.tagClass === 1 && e.idBlock.tagNumber === tag;

/** An OBJECT IDENTIFIER (the EC parameters when they name a curve); undefined for anything else. */
class OidElement {
  oid: string | undefined;
  fromASN(asn: Element): this {
    this.oid = isUniversal(asn, 6) && !asn.idBlock.isConstructed ? asn.valueBlock.toString() : undefined;
    return this;
  }
}

/**
 * A SEQUENCE of INTEGERs: RSAPublicKey { modulus, publicExponent } (RFC 8017) and Dss-Parms { p, q, g }
 * (RFC 3279). `integers` is undefined when anything else is found.
 */
class IntegerSequence {
  integers: Uint8Array[] | undefined;
  fromASN(asn: Element): this {
    const parts = isUniversal(asn, 16) ? (asn.valueBlock.value ?? []) : [];
    const ints = parts.map((p) => (isUniversal(p, 2) ? p.valueBlock.valueHexView : undefined));
    this.integers = ints.every((i): i is Uint8Array => i !== undefined) ? ints : undefined;
    return this;
  }
}

/** The element a DER encoding decodes to (asn1js). */
function decode(der: Uint8Array): Element {
  const decoded = asn1jsLib().fromBER(der);
  if (decoded.result.error) throw new Error(decoded.result.error);
  return decoded.result as unknown as Element;
}

function integers(asn: Element, count: number, what: string): Uint8Array[] {
  const ints = new IntegerSequence().fromASN(asn).integers;
  if (ints === undefined || ints.length !== count) throw new Error(`${what} is not a SEQUENCE of ${count} INTEGERs`);
  return ints;
}

/**
 * SubjectPublicKeyInfo (RFC 5280): SEQUENCE { algorithm SEQUENCE { OBJECT IDENTIFIER, parameters
 * ANY OPTIONAL }, subjectPublicKey BIT STRING }. Parameters that are NULL count as absent.
 */
function readSpki(asn: Element): { algorithm: string; parameters: Element | undefined; subjectPublicKey: Uint8Array } {
  const [alg, key, ...extra] = isUniversal(asn, 16) ? (asn.valueBlock.value ?? []) : [];
  const [oid, parameters, ...more] = isUniversal(alg, 16) ? (alg.valueBlock.value ?? []) : [];
  const subjectPublicKey = isUniversal(key, 3) ? key.valueBlock.valueHexView : undefined;
  if (!isUniversal(oid, 6) || subjectPublicKey === undefined || extra.length > 0 || more.length > 0) {
    throw new Error("not a SubjectPublicKeyInfo");
  }
  return { algorithm: oid.valueBlock.toString(), parameters: isUniversal(parameters, 5) ? undefined : parameters, subjectPublicKey };
}

/** Bit length of a non-negative big-endian INTEGER's content octets. */
function bitLength(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

/** DER header of the element at `at` (content `start`..`end`), or undefined when it does not fit before `limit`. */
function element(der: Uint8Array, at: number, limit: number): { tag: number; start: number; end: number } | undefined {
  if (at + 2 > limit) return undefined;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length >= 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[start + i]!;
    start += n;
  }
  return start + length <= limit ? { tag: der[at]!, start, end: start + length } : undefined;
}

const hex = (der: Uint8Array, from: number, to: number) => Buffer.from(der.buffer, der.byteOffset + from, to - from).toString("hex");

/** AlgorithmIdentifier { rsaEncryption, NULL }, as node:crypto writes it. */
const RSA_ALGORITHM_DER = "300d06092a864886f70d0101010500";
/** AlgorithmIdentifier { id-ecPublicKey, namedCurve } of the curves wrapping keys use, as node:crypto writes them. */
const EC_ALGORITHM_DER: Readonly<Record<string, string>> = {
  "301306072a8648ce3d020106082a8648ce3d030107": "prime256v1",
  "301006072a8648ce3d020106052b8104000a": "secp256k1",
  "301006072a8648ce3d020106052b81040022": "secp384r1",
  "301006072a8648ce3d020106052b81040023": "secp521r1",
};

/**
 * The facts of the two SPKI shapes a cold export meets (node:crypto's export of an RSA key, or of
 * an EC key on one of the four wrapping-key curves), read from the exact bytes node:crypto writes
 * for them, without loading the ASN.1 decoder: its module and first decode were about a tenth of a
 * cold `citool` export (bench/citool). Undefined for anything else, which the decoder then reads.
 */
function commonSpkiFacts(spki: Uint8Array): PublicKeyFacts | undefined {
  const outer = element(spki, 0, spki.length);
  if (outer?.tag !== 0x30 || outer.end !== spki.length) return undefined;
  const alg = element(spki, outer.start, outer.end);
  const key = alg && element(spki, alg.end, outer.end);
  if (alg?.tag !== 0x30 || key?.tag !== 0x03 || key.end !== outer.end || spki[key.start] !== 0) return undefined;
  const algorithm = hex(spki, outer.start, alg.end);
  const namedCurve = EC_ALGORITHM_DER[algorithm];
  if (namedCurve !== undefined) return { algorithm: EC_PUBLIC_KEY, namedCurve };
  if (algorithm !== RSA_ALGORITHM_DER) return undefined;
  const rsa = element(spki, key.start + 1, key.end);
  const modulus = rsa?.tag === 0x30 && rsa.end === key.end ? element(spki, rsa.start, rsa.end) : undefined;
  const exponent = modulus?.tag === 0x02 ? element(spki, modulus.end, rsa!.end) : undefined;
  if (exponent?.tag !== 0x02 || exponent.end !== rsa!.end) return undefined;
  return {
    algorithm: RSA_ENCRYPTION,
    modulusLength: bitLength(spki.subarray(modulus!.start, modulus!.end)),
    publicExponent: toBigInt(spki.subarray(exponent.start, exponent.end)),
  };
}

/**
 * Reads the algorithm and size facts of a DER SubjectPublicKeyInfo.
 * @throws Error when the bytes are not an SPKI (callers pass node:crypto's own export).
 * @internal
 */
export function spkiFacts(spki: Uint8Array): PublicKeyFacts {
  const common = commonSpkiFacts(spki);
  if (common) return common;
  const info = readSpki(decode(spki));
  const facts: PublicKeyFacts = { algorithm: info.algorithm };
  if (facts.algorithm === RSA_ENCRYPTION || facts.algorithm === RSASSA_PSS) {
    const [modulus, exponent] = integers(decode(info.subjectPublicKey), 2, "the RSA public key");
    facts.modulusLength = bitLength(modulus!);
    facts.publicExponent = toBigInt(exponent!);
  } else if (facts.algorithm === DSA && info.parameters) {
    const [p, q] = integers(info.parameters, 3, "the DSA parameters");
    facts.modulusLength = bitLength(p!);
    facts.divisorLength = bitLength(q!);
  } else if (facts.algorithm === EC_PUBLIC_KEY && info.parameters) {
    const oid = new OidElement().fromASN(info.parameters).oid;
    if (oid !== undefined) facts.namedCurve = curveName(oid);
  }
  return facts;
}

/**
 * {@link spkiFacts} of a node:crypto key (public, or private: its public half is exported).
 * @internal
 */
export function keyObjectFacts(key: KeyObject): PublicKeyFacts {
  const pub = key.type === "public" ? key : createPublicKey(key);
  return spkiFacts(pub.export({ format: "der", type: "spki" }));
}
