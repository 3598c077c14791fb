import { EkmError } from "./errors.js";

/**
 * The `request_context` every request carries, kept for the audit and request logs. The values
 * are client text: each is cut to 128 characters and anything outside printable ASCII becomes "?".
 * @public
 */
export interface EkmRequestContext {
  request_id?: string;
  correlation_id: string;
  pool_name: string;
}

const MAX = 128;

/** Printable ASCII, at most 128 characters. */
export function cleanContextValue(v: string): string {
  const s = v.length > MAX ? v.slice(0, MAX) : v;
  return s.replace(/[^\x20-\x7e]/g, "?");
}

/**
 * Reads `request_context` from a parsed body: an object with string `correlation_id` and
 * `pool_name` and an optional string `request_id`. Missing or mistyped → BadRequest.
 * @public
 */
export function parseRequestContext(body: Record<string, unknown>): EkmRequestContext {
  const rc = body.request_context;
  if (typeof rc !== "object" || rc === null || Array.isArray(rc)) throw new EkmError("BadRequest", "request_context is required and must be an object");
  const t = rc as Record<string, unknown>;
  for (const k of ["correlation_id", "pool_name"]) {
    if (typeof t[k] !== "string") throw new EkmError("BadRequest", `request_context.${k} is required and must be a string`);
  }
  if (t.request_id !== undefined && t.request_id !== null && typeof t.request_id !== "string")
    throw new EkmError("BadRequest", "request_context.request_id must be a string");
  return {
    ...(typeof t.request_id === "string" ? { request_id: cleanContextValue(t.request_id) } : {}),
    correlation_id: cleanContextValue(t.correlation_id as string),
    pool_name: cleanContextValue(t.pool_name as string),
  };
}

/**
 * The context fields of a body that could not be parsed or validated, best effort (for logs only).
 * @public
 */
export function salvageRequestContext(body: unknown): Partial<EkmRequestContext> {
  if (typeof body !== "object" || body === null) return {};
  const rc = (body as Record<string, unknown>).request_context;
  if (typeof rc !== "object" || rc === null) return {};
  const out: Partial<EkmRequestContext> = {};
  for (const k of ["request_id", "correlation_id", "pool_name"] as const) {
    const v = (rc as Record<string, unknown>)[k];
    if (typeof v === "string") out[k] = cleanContextValue(v);
  }
  return out;
}
