/**
 * The GCM worker pool of an open token: made on the first async GCM call, closed with the sessions.
 * Kept beside the context (a WeakMap), so the context itself does not change shape.
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import type { HsmContext } from "../context.js";
import { GcmWorkers } from "./pool.js";

export { GcmWorkers, OffloadedCallError } from "./pool.js";

/** The context's workers, or null when it cannot have any (decided once per context). */
const pools = new WeakMap<HsmContext, GcmWorkers | null>();

/**
 * Whether another load of the module in this process sees the state the main thread set up. A
 * worker thread gets its function list the same way (its own dlopen + C_GetFunctionList); a module
 * that hands each caller an instance of its own — p11-kit's RPC client and proxy do — reports
 * CKR_CRYPTOKI_NOT_INITIALIZED there, and its sessions would not be ours.
 */
function sharesProcessState(library: string): boolean {
  const probe = new pkcs11js.PKCS11();
  try {
    probe.load(library);
    probe.C_GetInfo();
    return true;
  } catch {
    return false;
  } finally {
    try {
      probe.close();
    } catch {
      /* never loaded */
    }
  }
}

/** Checks `HsmOptions.gcmWorkers` (at open): a whole number from 0 to 256. */
export function checkGcmWorkers(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 256) {
    throw new CiopError("ERR_CONFIG_INVALID", `gcmWorkers must be a whole number from 0 to 256 (0: no worker threads), not ${String(value)}`);
  }
}

/** How many GCM worker threads a context runs: `gcmWorkers`, default one per pooled session. */
export function gcmWorkerCount(ctx: Pick<HsmContext, "options" | "poolSize">): number {
  return ctx.options.gcmWorkers ?? ctx.poolSize;
}

/**
 * The context's GCM workers, started on first use; undefined when they are off (`gcmWorkers: 0`),
 * the library was not initialised for calls from several threads (CKF_OS_LOCKING_OK), or a second
 * load of the module does not share the process's PKCS#11 state (p11-kit's RPC client).
 */
export function gcmWorkers(ctx: HsmContext): GcmWorkers | undefined {
  const known = pools.get(ctx);
  if (known !== undefined) return known ?? undefined;
  const n = gcmWorkerCount(ctx);
  if (n === 0 || !ctx.caps.asyncCalls || ctx.closed) return undefined;
  const w = sharesProcessState(ctx.lib.path) ? new GcmWorkers(ctx.lib.path, n) : null;
  pools.set(ctx, w);
  return w ?? undefined;
}

/** Terminates the context's GCM workers (Hsm.close, library restart); the next async call starts new ones. */
export function closeGcmWorkers(ctx: HsmContext): void {
  const w = pools.get(ctx);
  pools.delete(ctx);
  w?.close();
}
