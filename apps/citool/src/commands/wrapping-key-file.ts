/**
 * The wrapping key file given on the command line (export and inspect): read and parsed, with the
 * file named in every error, and its facts as --json prints them.
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { CiopError } from "@ciop/core";
import { parseWrappingKey, type WrappingKey } from "@ciop/wrap";
import { usageError } from "../errors.js";
import type { Io } from "../io.js";

/** Reads and parses the wrapping key file (a usage error when it is missing or unreadable). */
export function readWrappingKey(path: string, io: Io, allowInvalidCertificate: boolean): WrappingKey {
  const abs = resolve(io.cwd, path);
  let bytes: Buffer;
  try {
    if (statSync(abs).isDirectory()) throw usageError(`wrapping key ${path} is a directory; give the file the provider gave you`);
    bytes = readFileSync(abs);
  } catch (err) {
    if (CiopError.isInstance(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw usageError(`wrapping key file ${path} does not exist`);
    if (code === "EACCES") throw usageError(`wrapping key file ${path} is not readable (permission denied)`);
    throw usageError(`cannot read wrapping key file ${path}: ${(err as Error).message}`);
  }
  if (bytes.length === 0) {
    throw new CiopError("ERR_WRAPPING_KEY_INVALID", `wrapping key file ${path} is empty; give the provider's public wrapping key or certificate`);
  }
  try {
    return parseWrappingKey(bytes, { allowInvalidCertificate });
  } catch (err) {
    if (CiopError.isInstance(err)) {
      // name the file in the message: "wrapping key file X: <what was wrong>"
      throw new CiopError(err.code, `wrapping key file ${path}: ${err.message}`, { cause: err, details: { ...(err.details ?? {}), file: path } });
    }
    throw err;
  }
}

export function wrappingKeyFacts(wk: WrappingKey): Record<string, unknown> {
  return {
    type: wk.type,
    bits: wk.bits,
    sha256: wk.sha256,
    strength: wk.strength,
    ...(wk.certificate
      ? {
          certificate: {
            subject: wk.certificate.subject,
            issuer: wk.certificate.issuer,
            serialNumber: wk.certificate.serialNumber,
            notBefore: wk.certificate.notBefore.toISOString(),
            notAfter: wk.certificate.notAfter.toISOString(),
            validNow: Date.now() >= wk.certificate.notBefore.getTime() && Date.now() <= wk.certificate.notAfter.getTime(),
          },
        }
      : {}),
  };
}
