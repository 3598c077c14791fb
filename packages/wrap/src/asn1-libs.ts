/**
 * The ASN.1 and X.509 libraries (@peculiar/asn1-schema, @peculiar/asn1-x509, @peculiar/x509 with
 * reflect-metadata), loaded on first use instead of when @ciop/wrap is imported. They are some
 * two hundred CommonJS modules whose loading took most of a cold `citool` export's start-up; an
 * export under a plain public key needs only asn1js (DER framing and SPKI facts), never the rest.
 *
 * They are CommonJS packages (no ESM entry for Node), so a synchronous `require` gives the same
 * module objects an `import` would, and the callers stay synchronous.
 */
import { createRequire } from "node:module";
import type * as Asn1js from "asn1js";
import type * as Asn1Schema from "@peculiar/asn1-schema";
import type * as Asn1X509 from "@peculiar/asn1-x509";
import type * as X509 from "@peculiar/x509";

// (the CommonJS build gets import.meta.url from tsup's shims; jest's swc transform rewrites it)
const load = createRequire(import.meta.url);

let asn1js: typeof Asn1js | undefined;
let schema: typeof Asn1Schema | undefined;
let asn1X509: typeof Asn1X509 | undefined;
let x509: typeof X509 | undefined;

/** asn1js, the BER/DER decoder under @peculiar/asn1-schema: three small modules, for DER checks and SPKI facts. @internal */
export function asn1jsLib(): typeof Asn1js {
  asn1js ??= load("asn1js") as typeof Asn1js;
  return asn1js;
}

/** @peculiar/asn1-schema (AsnParser, AsnConvert). @internal */
export function asn1SchemaLib(): typeof Asn1Schema {
  schema ??= load("@peculiar/asn1-schema") as typeof Asn1Schema;
  return schema;
}

/** @peculiar/asn1-x509 (Certificate, SubjectPublicKeyInfo, Name). @internal */
export function asn1X509Lib(): typeof Asn1X509 {
  asn1X509 ??= load("@peculiar/asn1-x509") as typeof Asn1X509;
  return asn1X509;
}

/** @peculiar/x509 (X509Certificate), after the Reflect metadata polyfill its tsyringe needs at load time. @internal */
export function x509Lib(): typeof X509 {
  if (x509 === undefined) {
    load("reflect-metadata");
    x509 = load("@peculiar/x509") as typeof X509;
  }
  return x509;
}
