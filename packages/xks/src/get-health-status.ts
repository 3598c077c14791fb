import type { GetHealthStatusRequest } from "./schema.js";

/** Health of one key manager (HSM) instance. @public */
export interface EkmFleetMember {
  id: string;
  model: string;
  healthStatus: "ACTIVE" | "DEGRADED" | "UNAVAILABLE";
}

/** GetHealthStatus response body (every member required by the spec). @public */
export interface GetHealthStatusResponse {
  xksProxyFleetSize: number;
  xksProxyVendor: string;
  xksProxyModel: string;
  ekmVendor: string;
  ekmFleetDetails: EkmFleetMember[];
}

/**
 * GetHealthStatus: never subject to the key allow-list or secondary authorization; the body
 * comes from `report` (normally a {@link HealthMonitor}).
 * @public
 */
export async function handleGetHealthStatus(
  _req: GetHealthStatusRequest,
  report: () => Promise<GetHealthStatusResponse> | GetHealthStatusResponse,
): Promise<GetHealthStatusResponse> {
  const r = await report();
  if (!(r.xksProxyFleetSize > 0) || r.ekmFleetDetails.length < 1 || r.ekmFleetDetails.length > 10) {
    throw new RangeError("health report out of the spec's ranges (fleet size > 0, 1 to 10 fleet members)");
  }
  return r;
}

/** Options for {@link HealthMonitor}. @public */
export interface HealthMonitorOptions {
  /** A cached result is never served when older than this (default and spec maximum 60 000 ms). */
  maxAgeMs?: number;
  /** A result younger than this is served without probing again (default 10 000 ms). */
  freshMs?: number;
  /** How long a caller waits for a running probe before falling back to the cache (default 200 ms, inside KMS's 250 ms). */
  budgetMs?: number;
  /** Reported when no result younger than maxAgeMs exists and the probe is still running (default DEGRADED). */
  unknownStatus?: EkmFleetMember["healthStatus"];
  /** Clock (ms), for tests. */
  now?: () => number;
}

/**
 * Runs a deep health probe (a real encrypt/decrypt on a health key) and caches its outcome, so
 * GetHealthStatus always answers within the budget with a result no older than `maxAgeMs`.
 * The probe resolves to the status (ACTIVE/DEGRADED) or throws (→ UNAVAILABLE).
 * @public
 */
export class HealthMonitor {
  private last: { status: EkmFleetMember["healthStatus"]; at: number } | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxAge: number;
  private readonly fresh: number;
  private readonly budget: number;
  private readonly unknown: EkmFleetMember["healthStatus"];
  private readonly now: () => number;

  constructor(
    private readonly probe: () => Promise<EkmFleetMember["healthStatus"]>,
    options: HealthMonitorOptions = {},
  ) {
    this.maxAge = Math.min(options.maxAgeMs ?? 60_000, 60_000);
    this.fresh = Math.min(options.freshMs ?? 10_000, this.maxAge);
    this.budget = options.budgetMs ?? 200;
    this.unknown = options.unknownStatus ?? "DEGRADED";
    this.now = options.now ?? Date.now;
  }

  /** Starts one probe unless one is already running. */
  refresh(): Promise<void> {
    if (!this.running) {
      this.running = this.probe()
        .then(
          (status) => {
            this.last = { status, at: this.now() };
          },
          () => {
            this.last = { status: "UNAVAILABLE", at: this.now() };
          },
        )
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  /** Probes in the background every `intervalMs` (unref'd), so requests always find a fresh result. */
  start(intervalMs = 15_000): void {
    this.stop();
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The current status, answered within the budget. */
  async status(): Promise<{ status: EkmFleetMember["healthStatus"]; ageMs: number | undefined }> {
    const t = this.now();
    if (this.last && t - this.last.at <= this.fresh) return { status: this.last.status, ageMs: t - this.last.at };
    const run = this.refresh();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      run.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.budget);
      }),
    ]);
    if (timer) clearTimeout(timer);
    const t2 = this.now();
    if (this.last && t2 - this.last.at <= this.maxAge) return { status: this.last.status, ageMs: t2 - this.last.at };
    return { status: timedOut ? this.unknown : "UNAVAILABLE", ageMs: undefined };
  }
}
