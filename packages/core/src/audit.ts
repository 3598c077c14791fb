import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname } from "node:path";
import { CiopError } from "./errors.js";

/**
 * One line of the audit log. Only facts about the operation: never key material, PINs, plaintext
 * or credentials. Unknown extra fields are allowed for operation-specific facts.
 * @public
 */
export interface AuditRecord {
  operation: string;
  key?: string;
  provider?: string;
  algorithm?: string;
  wrappingKeySha256?: string;
  artefacts?: Array<{ name: string; sha256: string }>;
  hostFallback?: boolean;
  outcome: "ok" | "error";
  error?: string;
  [extra: string]: unknown;
}

/**
 * Appends one JSON line to the audit log at `path` (created 0600 if missing). A single `write` of a
 * line below PIPE_BUF with O_APPEND keeps concurrent writers from interleaving.
 * @public
 */
export function appendAuditRecord(path: string, record: AuditRecord): void {
  for (const name of Object.keys(record)) {
    if (SECRET_FIELD.test(name)) throw new CiopError("ERR_USAGE", `audit records never carry secrets; field "${name}" refused`);
  }
  makeParents(dirname(path));
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const line = JSON.stringify({ time: new Date().toISOString(), user, host: hostname(), pid: process.pid, ...record });
  appendFileSync(path, `${line}\n`, { mode: 0o600 });
}

/** Field names that would suggest a secret; such records are refused, not silently written. */
const SECRET_FIELD = /pin$|^pin|passphrase|password|secret|plaintext|privatekey|keymaterial/i;

/**
 * Creates missing parent directories one level at a time (0700). Node's recursive mkdir can loop
 * forever on some pseudo file systems (e.g. a path under /proc); stepping keeps the error honest.
 */
function makeParents(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m, { mode: 0o700 });
    } catch (err) {
      // another process appending its first record may have made it in between
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}
