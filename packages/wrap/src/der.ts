/**
 * DER framing checks (is this exactly one SEQUENCE, nothing trailing?), decoded by
 * @peculiar/asn1-schema (asn1js underneath) rather than by hand.
 */
import { AsnParser } from "@peculiar/asn1-schema";

/** The parts of an asn1js element this module reads. */
interface DecodedElement {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  lenBlock: { isIndefiniteForm: boolean };
  valueBeforeDecodeView: Uint8Array;
}

/**
 * An asn1-schema "convertible": the parser hands it the outer element as decoded, and it keeps only
 * the framing facts (never the content, which may be private key material).
 */
class OuterElement {
  universalSequence = false;
  definiteLength = false;
  encodedLength = -1;

  fromASN(asn: DecodedElement): this {
    this.universalSequence = asn.idBlock.tagClass === 1 && asn.idBlock.tagNumber === 16 && asn.idBlock.isConstructed;
    this.definiteLength = !asn.lenBlock.isIndefiniteForm;
    this.encodedLength = asn.valueBeforeDecodeView.byteLength;
    return this;
  }

  toASN(): never {
    throw new Error("OuterElement is read-only");
  }
}

/**
 * True when `der` is exactly one definite-length SEQUENCE with no trailing bytes.
 * The decoder works on a private copy that is zeroed before returning (the input may be a
 * PKCS#8 private key, and the decoder keeps views into the buffer it is given).
 * @internal
 */
export function isExactDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const copy = new ArrayBuffer(der.length);
  const view = new Uint8Array(copy);
  view.set(der);
  try {
    const outer = AsnParser.parse(copy, OuterElement);
    return outer.universalSequence && outer.definiteLength && outer.encodedLength === der.length;
  } catch {
    return false;
  } finally {
    view.fill(0);
  }
}
