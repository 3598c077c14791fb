import { libraryConfig } from "../../tsup.preset";

// import.meta.url in the CommonJS build too (asn1-libs.ts loads the ASN.1 libraries on first use)
export default libraryConfig({ shims: true });
