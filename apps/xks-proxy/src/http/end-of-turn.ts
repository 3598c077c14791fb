/**
 * Work deferred to the end of the current event-loop turn, after its I/O callbacks have run, in
 * three steps (see DESIGN.md in this folder):
 *
 * 1. `"handle"`: the requests the fast path read in this turn, each through the XKS pipeline
 *    (SigV4, JSON, key state) up to its HSM call;
 * 2. `"hsm"`: the synchronous HSM calls those requests queued, run back to back;
 * 3. `"write"`: the answers, written once per connection.
 *
 * Each step is its own `setImmediate` callback, queued together with the steps after it, so node
 * runs the promise reactions a step sets off (for step 2: the rest of each request's pipeline, up
 * to its queued answer) before the next step, in the same turn. One {@link EndOfTurn} is made by
 * the server and handed to the parts that queue work in it (the fast path, the HSM backend), so
 * their steps interleave as one schedule.
 */
export type TurnStep = "handle" | "hsm" | "write";

const HANDLE = 0;
const HSM = 1;
const WRITE = 2;

function indexOf(step: TurnStep): number {
  return step === "handle" ? HANDLE : step === "hsm" ? HSM : WRITE;
}

/** One end-of-turn schedule: queues of work per step, each step run once per turn. */
export class EndOfTurn {
  private readonly queued: Array<Array<() => void>> = [[], [], []];
  private readonly scheduled = [false, false, false];
  private readonly runners: ReadonlyArray<() => void> = [() => this.run(HANDLE), () => this.run(HSM), () => this.run(WRITE)];

  /**
   * Runs `fn` at the end of this turn, in its step. A step is always followed by every later step
   * in the same turn; work queued while its own step is running waits for the next turn.
   */
  at(step: TurnStep, fn: () => void): void {
    const i = indexOf(step);
    this.queued[i]!.push(fn);
    if (this.scheduled[i]) return;
    // this step and every later one, in order (a later step already pending would run before this
    // one: then it runs twice, the first time finding little or nothing to do)
    for (let s = i; s <= WRITE; s++) {
      this.scheduled[s] = true;
      setImmediate(this.runners[s]!);
    }
  }

  private run(i: number): void {
    this.scheduled[i] = false;
    const list = this.queued[i]!;
    if (list.length === 0) return;
    this.queued[i] = [];
    // one callback that throws must not drop the others queued with it (their requests would hang);
    // the first error is thrown again afterwards, as it would have been without the queue
    let failed: { err: unknown } | undefined;
    for (let k = 0; k < list.length; k++) {
      try {
        list[k]!();
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  }
}
