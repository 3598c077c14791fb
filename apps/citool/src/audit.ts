/**
 * Audit trail: one JSON line per generate/export/delete/enable/disable (see README "Audit log").
 * Only facts, never key material or PINs. A failure to write the log is reported but does not undo
 * the operation (the files are already there); it makes the exit status 1.
 */
import { appendAuditRecord } from "@ciop/core";
import type { AuditRecord } from "@ciop/core";
import type { Settings } from "./config.js";
import type { Io } from "./io.js";
import { printWarning } from "./output.js";

export function audit(settings: Settings, io: Io, record: AuditRecord): boolean {
  if (settings.auditLog === null) return true;
  try {
    appendAuditRecord(settings.auditLog, { tool: "citool", ...record });
    return true;
  } catch (err) {
    printWarning(io, `could not append to the audit log ${settings.auditLog}: ${(err as Error).message}`);
    return false;
  }
}
