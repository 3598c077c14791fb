/**
 * Work deferred to the end of the current event-loop turn, after its I/O callbacks have run, in
 * three steps:
 *
 * 1. `"handle"`: the requests the fast path read in this turn, each through the XKS pipeline
 *    (SigV4, JSON, key state) up to its HSM call;
 * 2. `"hsm"`: the synchronous HSM calls those requests queued, run back to back;
 * 3. `"write"`: the answers, written once per connection.
 *
 * Each step is its own `setImmediate` callback, queued together with the steps after it, so node
 * runs the promise reactions a step sets off (for step 2: the rest of each request's pipeline, up
 * to its queued answer) before the next step, in the same turn. Under load one turn carries
 * requests from several connections; doing each kind of work for all of them in a row keeps that
 * work's code and data in the CPU caches, where interleaving them per request kept evicting
 * SoftHSM's and the pipeline's (apps/xks-proxy/docs/bench.md, fifth round).
 */
export type TurnStep = "handle" | "hsm" | "write";

const STEPS: readonly TurnStep[] = ["handle", "hsm", "write"];
const queued: Record<TurnStep, Array<() => void>> = { handle: [], hsm: [], write: [] };
const scheduled: Record<TurnStep, boolean> = { handle: false, hsm: false, write: false };

function run(step: TurnStep): void {
  scheduled[step] = false;
  const list = queued[step];
  queued[step] = [];
  // one callback that throws must not drop the others queued with it (their requests would hang);
  // the first error is thrown again afterwards, as it would have been without the queue
  let failed: { err: unknown } | undefined;
  for (const fn of list) {
    try {
      fn();
    } catch (err) {
      failed ??= { err };
    }
  }
  if (failed) throw failed.err;
}

const runners: Record<TurnStep, () => void> = { handle: () => run("handle"), hsm: () => run("hsm"), write: () => run("write") };

/**
 * Runs `fn` at the end of this turn, in its step. A step is always followed by every later step in
 * the same turn; work queued while its own step is running waits for the next turn.
 */
export function atEndOfTurn(step: TurnStep, fn: () => void): void {
  queued[step].push(fn);
  if (scheduled[step]) return;
  // this step and every later one, in order (a later step already pending would run before this
  // one: then it runs twice, the first time finding little or nothing to do)
  for (let i = STEPS.indexOf(step); i < STEPS.length; i++) {
    const s = STEPS[i]!;
    scheduled[s] = true;
    setImmediate(runners[s]);
  }
}
