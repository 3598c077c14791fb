import { appendFileSync, mkdirSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname } from "node:path";

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
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let user = "unknown";
  try { user = userInfo().username; } catch { /* no passwd entry */ }
  const line = JSON.stringify({ time: new Date().toISOString(), user, host: hostname(), pid: process.pid, ...record });
  appendFileSync(path, line + "\n", { mode: 0o600 });
}
