/**
 * Work deferred to the end of the current event-loop turn, after its I/O callbacks have run, in
 * two steps:
 *
 * 1. `"hsm"`: the synchronous HSM calls that this turn's requests queued, run back to back;
 * 2. `"write"`: the answers, written once per connection.
 *
 * Each step is its own `setImmediate` callback, and both are queued together, so node runs the
 * promise reactions that step 1 sets off (the rest of each request's pipeline, up to its queued
 * answer) before step 2, in the same turn. Under load one turn carries requests from several
 * connections: parsing and verifying them, then their HSM calls, then their answers, each group in
 * a row, keeps each kind of work's code and data in the CPU caches, where interleaving them per
 * request kept evicting SoftHSM's (see apps/xks-proxy/docs/bench.md, fifth round).
 */
export type TurnStep = "hsm" | "write";

const queued: Record<TurnStep, Array<() => void>> = { hsm: [], write: [] };
const scheduled: Record<TurnStep, boolean> = { hsm: false, write: false };

function run(step: TurnStep): void {
  scheduled[step] = false;
  const list = queued[step];
  queued[step] = [];
  for (const fn of list) fn();
}

const runHsm = (): void => run("hsm");
const runWrite = (): void => run("write");

/**
 * Runs `fn` at the end of this turn, in its step. An "hsm" step is always followed by a "write"
 * step in the same turn; work queued while its own step is running waits for the next turn.
 */
export function atEndOfTurn(step: TurnStep, fn: () => void): void {
  queued[step].push(fn);
  if (step === "hsm" && !scheduled.hsm) {
    scheduled.hsm = true;
    setImmediate(runHsm);
    // the answers need a write step after this one; one already pending would run before it
    // (then two run: the earlier one finds little or nothing to write)
    scheduled.write = true;
    setImmediate(runWrite);
  } else if (step === "write" && !scheduled.write) {
    scheduled.write = true;
    setImmediate(runWrite);
  }
}
