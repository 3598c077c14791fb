export { CiopError, USAGE_ERROR_CODES } from "./errors.js";
export type { CiopErrorCode } from "./errors.js";
export { zeroize } from "./zeroize.js";
export { writeFileAtomic } from "./write-file-atomic.js";
export type { WriteFileAtomicOptions } from "./write-file-atomic.js";
export { appendAuditRecord } from "./audit.js";
export type { AuditRecord } from "./audit.js";
