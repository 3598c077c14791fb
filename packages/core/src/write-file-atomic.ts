import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync, constants } from "node:fs";
import { dirname, basename, join } from "node:path";
import { CiopError } from "./errors.js";

/** @public */
export interface WriteFileAtomicOptions {
  /** Replace an existing file. Without it an existing file is an `ERR_OUTPUT_EXISTS` error. */
  overwrite?: boolean;
  /** File mode of the new file (default 0o644). */
  mode?: number;
}

/**
 * Writes `data` to `path` so that readers see either nothing or the whole file: the bytes go to a
 * temporary file in the same directory, are fsynced, and are then linked (no overwrite) or renamed
 * (overwrite) into place. On failure the temporary file is removed, so nothing partial remains.
 * @public
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, options: WriteFileAtomicOptions = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode ?? 0o644);
  try {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    if (options.overwrite) {
      renameSync(tmp, path);
    } else {
      try {
        linkSync(tmp, path); // fails with EEXIST instead of replacing: no check-then-write race
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") {
          throw new CiopError("ERR_OUTPUT_EXISTS", `${path} already exists (use --force to replace it)`, { details: { path } });
        }
        throw err;
      } finally {
        unlinkSync(tmp);
      }
    }
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}
