/**
 * DER framing checks (is this exactly one SEQUENCE, nothing trailing?), decoded by asn1js (the
 * decoder under @peculiar/asn1-schema, without the schema layer's load time) rather than by hand.
 */
import { asn1jsLib } from "./asn1-libs.js";

/** The parts of an asn1js element this module reads. */
interface DecodedElement {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  lenBlock: { isIndefiniteForm: boolean };
  valueBeforeDecodeView: Uint8Array;
}

/**
 * The framing facts of the outer element as decoded (never the content, which may be private key
 * material).
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
    const decoded = asn1jsLib().fromBER(copy);
    if (decoded.result.error) return false;
    const outer = new OuterElement().fromASN(decoded.result as unknown as DecodedElement);
    return outer.universalSequence && outer.definiteLength && outer.encodedLength === der.length;
  } catch {
    return false;
  } finally {
    view.fill(0);
  }
}
