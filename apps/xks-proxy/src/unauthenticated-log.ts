/**
 * Bounded logging of requests nobody authenticated. Any client can send them as fast as it likes,
 * so their log lines are sampled per source: the first `perWindow` lines of each source in each
 * window are written, the rest only counted, and at the end of the window one summary line per
 * source says how many were not written. The table is bounded (`maxSources`); sources past it are
 * counted together under "other sources". So the log grows by at most
 * (`maxSources` + 1) × (`perWindow` + 1) lines per window, whatever the request rate.
 */

export interface SamplerOptions {
  /** Lines logged per source per window (default 20). */
  perWindow?: number;
  /** Window length in ms (default 10,000). */
  windowMs?: number;
  /** Sources tracked per window (default 256). */
  maxSources?: number;
}

const OTHER = "";

export class UnauthenticatedLogSampler {
  private readonly counts = new Map<string, { logged: number; notLogged: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly perWindow: number;
  private readonly windowMs: number;
  private readonly maxSources: number;
  /** Lines not written since the start (the `xks_proxy_log_lines_sampled_out_total` metric). */
  notLoggedTotal = 0;

  constructor(
    /** Writes a summary record. */
    private readonly emit: (record: Record<string, unknown>) => void,
    opts: SamplerOptions = {},
  ) {
    this.perWindow = opts.perWindow ?? 20;
    this.windowMs = opts.windowMs ?? 10_000;
    this.maxSources = opts.maxSources ?? 256;
  }

  /** May this source's unauthenticated request be logged now? (Counts it either way.) */
  allow(source: string): boolean {
    let c = this.counts.get(source);
    if (c === undefined) {
      const key = this.counts.size >= this.maxSources ? OTHER : source;
      c = this.counts.get(key);
      if (c === undefined) {
        c = { logged: 0, notLogged: 0 };
        this.counts.set(key, c);
        if (this.timer === undefined) this.timer = setInterval(() => this.flush(), this.windowMs).unref();
      }
    }
    if (c.logged < this.perWindow) {
      c.logged++;
      return true;
    }
    c.notLogged++;
    this.notLoggedTotal++;
    return false;
  }

  /** Ends the window: a summary line per source with lines not logged, and a fresh count. */
  flush(): void {
    for (const [source, c] of this.counts) {
      if (c.notLogged === 0) continue;
      this.emit({
        msg: "unauthenticated-requests-not-logged",
        ...(source === OTHER ? { source: "other sources" } : { source }),
        notLogged: c.notLogged,
        windowSecs: this.windowMs / 1000,
      });
    }
    const idle = this.counts.size === 0;
    this.counts.clear();
    if (idle) this.stop();
  }

  /** Writes the pending summaries and stops the window timer. */
  close(): void {
    this.flush();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
