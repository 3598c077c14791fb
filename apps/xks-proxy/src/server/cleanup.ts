/**
 * The server's one cleanup path: each part registers how it is undone as it is started, and the
 * registered steps run in reverse order, once, whether the start failed half way or close() was
 * called. A failing step does not stop the ones after it.
 */
export class Cleanup {
  private readonly steps: Array<{ name: string; run: () => unknown }> = [];
  private running: Promise<void> | undefined;

  /** Registers the undoing of a part just started. */
  add(name: string, run: () => unknown): void {
    this.steps.push({ name, run });
  }

  /** Runs every step, last registered first; `onError` hears of the ones that failed. */
  run(onError?: (name: string, err: unknown) => void): Promise<void> {
    this.running ??= (async () => {
      for (let i = this.steps.length - 1; i >= 0; i--) {
        const step = this.steps[i]!;
        try {
          await step.run();
        } catch (err) {
          onError?.(step.name, err);
        }
      }
    })();
    return this.running;
  }
}
