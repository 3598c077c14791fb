/**
 * The proxy's Prometheus metrics: one registry, every series the server writes, and the gauges
 * and counters read from other parts when /metrics is scraped.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

const HEALTH_VALUE = { ACTIVE: 1, DEGRADED: 0.5, UNAVAILABLE: 0 } as const;

/** Values read from other parts at scrape time. */
export interface MetricsReads {
  sessionCopies(): number;
  droppedLogLines(): number;
  sampledOutLogLines(): number;
}

interface RequestSeries {
  duration: Histogram.Internal<"operation" | "status">;
  count: Counter.Internal;
}

/** A counter that, when scraped, adds what `total()` grew by since the last scrape. */
function counterFrom(registry: Registry, name: string, help: string, total: () => number): void {
  let counted = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const n = total() - counted;
      counted += n;
      if (n > 0) this.inc(n);
    },
  });
}

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly reqDuration: Histogram<"operation" | "status">;
  private readonly hsmDuration: Histogram<"operation" | "outcome">;
  private readonly requests: Counter<"operation" | "store" | "status">;
  private readonly errors: Counter<"operation" | "error_name">;
  private readonly health: Gauge;
  private readonly resets: Counter;
  private readonly refused: Counter<"reason">;
  private readonly throttled: Counter;
  private handedOffTotal: Counter | undefined;
  // prom-client children per label tuple, looked up once and reused (the label sets are small and bounded)
  // (nested by label, so a request builds no key string: operation → store → status)
  private readonly reqSeries = new Map<string, Map<string, Map<number, RequestSeries>>>();
  private readonly hsmSeries = new Map<string, Map<string, Histogram.Internal<"operation" | "outcome">>>();

  constructor(reads: MetricsReads) {
    const registers = [this.registry];
    this.reqDuration = new Histogram({
      name: "xks_proxy_request_duration_seconds",
      help: "XKS request latency by operation and HTTP status",
      labelNames: ["operation", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.hsmDuration = new Histogram({
      name: "xks_proxy_hsm_duration_seconds",
      help: "HSM call latency by operation and outcome",
      labelNames: ["operation", "outcome"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    this.requests = new Counter({
      name: "xks_proxy_requests_total",
      help: "XKS requests by operation, store and status",
      labelNames: ["operation", "store", "status"],
      registers,
    });
    this.errors = new Counter({ name: "xks_proxy_errors_total", help: "XKS error responses by errorName", labelNames: ["operation", "error_name"], registers });
    this.health = new Gauge({ name: "xks_proxy_health_status", help: "Deep health: 1 ACTIVE, 0.5 DEGRADED, 0 UNAVAILABLE", registers });
    this.resets = new Counter({ name: "xks_proxy_hsm_context_resets_total", help: "PKCS#11 context resets after device errors", registers });
    new Gauge({
      name: "xks_proxy_hsm_session_key_copies",
      help: "Keys whose AES-GCM calls run on a session-object copy in the HSM ([hsm] session_key_copies)",
      registers,
      collect() {
        this.set(reads.sessionCopies());
      },
    });
    this.refused = new Counter({
      name: "xks_proxy_connections_refused_total",
      help: "Connections closed at accept: max_connections, max_connections_per_source, or unauthenticated_rate (the source is over its unauthenticated request rate)",
      labelNames: ["reason"],
      registers,
    });
    this.throttled = new Counter({
      name: "xks_proxy_unauthenticated_throttled_total",
      help: "XKS requests answered 429 before any other work because their source sent too many requests that failed authentication",
      registers,
    });
    counterFrom(
      this.registry,
      "xks_proxy_log_lines_dropped_total",
      "Log lines dropped because stdout or the log file did not take them fast enough",
      reads.droppedLogLines,
    );
    counterFrom(
      this.registry,
      "xks_proxy_log_lines_sampled_out_total",
      "Request log lines of unauthenticated requests not written (per-source sampling; summed up in unauthenticated-requests-not-logged lines)",
      reads.sampledOutLogLines,
    );
  }

  /** One answered request: latency histogram, request counter, error counter. */
  request(operation: string, store: string, status: number, errorName: string | undefined, latencyMs: number): void {
    let byStore = this.reqSeries.get(operation);
    if (byStore === undefined) {
      byStore = new Map();
      this.reqSeries.set(operation, byStore);
    }
    let byStatus = byStore.get(store);
    if (byStatus === undefined) {
      byStatus = new Map();
      byStore.set(store, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      const st = String(status);
      series = { duration: this.reqDuration.labels(operation, st), count: this.requests.labels(operation, store, st) };
      byStatus.set(status, series);
    }
    series.duration.observe(latencyMs / 1000);
    series.count.inc();
    if (errorName) this.errors.inc({ operation, error_name: errorName });
  }

  /** One HSM call (the backend's observe hook). */
  readonly hsmCall = (operation: string, seconds: number, outcome: string): void => {
    let byOutcome = this.hsmSeries.get(operation);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.hsmSeries.set(operation, byOutcome);
    }
    let h = byOutcome.get(outcome);
    if (h === undefined) {
      h = this.hsmDuration.labels(operation, outcome);
      byOutcome.set(outcome, h);
    }
    h.observe(seconds);
  };

  healthStatus(status: keyof typeof HEALTH_VALUE): void {
    this.health.set(HEALTH_VALUE[status]);
  }

  hsmContextReset(): void {
    this.resets.inc();
  }

  connectionRefused(reason: string): void {
    this.refused.inc({ reason });
  }

  unauthenticatedThrottled(): void {
    this.throttled.inc();
  }

  /** The fast path's hand-off counter (registered only when the fast path runs). */
  countHandOffs(): () => void {
    this.handedOffTotal ??= new Counter({
      name: "xks_proxy_connections_handed_off_total",
      help: "Connections the XKS fast path passed to node's HTTP server (/ping, /metrics, route groups, or a request outside the strict subset)",
      registers: [this.registry],
    });
    const c = this.handedOffTotal;
    return () => c.inc();
  }
}
