/**
 * Key-state reads off the event loop: runs a key lookup written as reads (keys/handles.ts
 * {@link Steps}) read by read in a worker thread, on a pooled session. Where the context has no
 * workers (`gcmWorkers: 0`, a library not initialised for threads, p11-kit's RPC client), the reads
 * run synchronously on the object session, as the sync methods do.
 */
import type { HsmContext } from "../context.js";
import { toHsmError } from "../errors.js";
import { runSync, type Read, type Steps } from "../keys/handles.js";
import { acquireSession, dropSession, releaseSession, track } from "../sessions.js";
import { gcmWorkers } from "./index.js";
import type { GcmWorkers } from "./pool.js";

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Runs `steps` with each read made in a worker thread (or synchronously when there are no workers). */
export function runOffloaded<T>(ctx: HsmContext, steps: Steps<T>): Promise<T> {
  const w = gcmWorkers(ctx);
  if (!w) return Promise.resolve().then(() => runSync(ctx, steps));
  return track(ctx, drive(ctx, w, steps));
}

async function drive<T>(ctx: HsmContext, w: GcmWorkers, steps: Steps<T>): Promise<T> {
  const s = await acquireSession(ctx);
  // Whether a token read failed, not whether the lookup ended in an error: a lookup's own refusal
  // (an ambiguous label, a key type ciop does not handle) leaves a healthy session, while a failed
  // read may leave a search active on it, even when the lookup handles that failure.
  let readFailed = false;
  try {
    let r = steps.next();
    while (!r.done) {
      let value: unknown;
      let failed = false;
      try {
        value = await readIn(w, s, r.value);
      } catch (err) {
        failed = readFailed = true;
        value = err;
      }
      r = failed ? steps.throw(value) : steps.next(value);
    }
    return r.value;
  } finally {
    if (readFailed) dropSession(ctx, s);
    else releaseSession(ctx, s);
  }
}

/** One read in a worker, answered and failing as the synchronous read does (keys/handles.ts find/attrs). */
async function readIn(w: GcmWorkers, session: Buffer, r: Read): Promise<unknown> {
  if (r.op === "find") {
    try {
      const handles = (await w.read({ read: "find", session, template: r.template, max: r.max })) as Uint8Array[];
      return handles.map(buf);
    } catch (err) {
      throw toHsmError(err, "C_FindObjects");
    }
  }
  if (r.op === "attrs") {
    try {
      const res = (await w.read({ read: "attrs", session, h: r.h, types: r.types })) as { type: number; value: Uint8Array }[];
      return new Map(res.map((a) => [a.type, buf(a.value)]));
    } catch (err) {
      throw toHsmError(err, "C_GetAttributeValue", r.context);
    }
  }
  return w.read({ read: "sessionInfo", session });
}
