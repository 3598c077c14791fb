/**
 * The fleet's shared store: one Redis (or Valkey) connection per proxy process, from
 * `[fleet] redis_url`. Commands are never queued while the connection is down (they fail at once,
 * and the caller falls back: replay checks refuse with a retryable 503, rate limits go local), and
 * each has `command_timeout_ms`. The connection retries in the background; every change between
 * reachable and unreachable is logged once (the URL without its credentials).
 */
import { Redis } from "ioredis";
import type { FleetConfig } from "../config/index.js";

export type FleetLog = (level: "info" | "warn", record: Record<string, unknown>) => void;

/** The URL as it may be logged: scheme, host, port and database, never a user or password. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

export class FleetRedis {
  readonly client: Redis;
  private state: "connecting" | "up" | "down" = "connecting";
  private readonly where: string;

  constructor(
    readonly cfg: FleetConfig,
    private readonly log: FleetLog,
  ) {
    this.where = redactRedisUrl(cfg.redisUrl);
    this.client = new Redis(cfg.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: cfg.commandTimeoutMs,
      connectTimeout: Math.max(1000, cfg.commandTimeoutMs),
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      // ioredis reports every failed reconnect as an "error" event; the log gets transitions only
      showFriendlyErrorStack: false,
    });
    this.client.on("ready", () => this.mark("up"));
    this.client.on("error", (err: Error) => this.mark("down", err.message));
    this.client.on("close", () => this.mark("down", "connection closed"));
  }

  private mark(next: "up" | "down", why?: string): void {
    if (this.state === next) return;
    const from = this.state;
    this.state = next;
    if (next === "up") this.log("info", { msg: "fleet-redis-connected", redis: this.where, ...(from === "down" ? { recovered: true } : {}) });
    else
      this.log("warn", {
        msg: "fleet-redis-unavailable",
        redis: this.where,
        error: (why ?? "").slice(0, 200),
        effect: "Salesforce callouts with a nonce get 503; store rate limits are enforced locally (1/fleet_size each)",
      });
  }

  /** True while commands can be sent. */
  get available(): boolean {
    return this.client.status === "ready";
  }

  /** A key under the fleet's prefix. */
  key(...parts: string[]): string {
    return [this.cfg.keyPrefix, ...parts].join(":");
  }

  /** Waits until connected, at most `ms` (true when connected). */
  ready(ms: number): Promise<boolean> {
    if (this.available) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.client.off("ready", onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(this.available), ms);
      timer.unref();
      this.client.on("ready", onReady);
    });
  }

  async close(): Promise<void> {
    this.state = "up"; // no "unavailable" line for our own close
    this.client.removeAllListeners("close");
    this.client.removeAllListeners("error");
    this.client.on("error", () => undefined);
    if (this.client.status === "ready") {
      await Promise.race([this.client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
    }
    this.client.disconnect();
  }
}
