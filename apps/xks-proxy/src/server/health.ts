/**
 * Deep health: a background encrypt + decrypt round trip on the health key every
 * `[health] interval_secs`, and the GetHealthStatus answer built from its last result.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { CiopError } from "@ciop/core";
import type { HsmKey } from "@ciop/hsm";
import { DependencyTimeoutException, HealthMonitor, type EkmFleetMember, type GetHealthStatusResponse } from "@ciop/xks";
import type { HealthConfig } from "../config/index.js";
import type { HsmBackend } from "../hsm-backend.js";
import type { Logger } from "../logger.js";
import type { ProxyMetrics } from "./metrics.js";

const HEALTH_AAD = Buffer.from("ciop-xks-health-probe");

export class Health {
  private key: HsmKey | undefined;
  private readonly monitor: HealthMonitor;
  private intervalMs = 0;

  constructor(
    private readonly backend: HsmBackend,
    private readonly config: () => HealthConfig,
    private readonly logger: Logger,
    private readonly metrics: ProxyMetrics,
  ) {
    this.monitor = new HealthMonitor(() =>
      this.probe().catch((err: unknown): EkmFleetMember["healthStatus"] => {
        logger.log("warn", {
          msg: "health-probe-failed",
          error: `${(err as CiopError).code ?? "Error"}: ${(err as Error).message ?? String(err)}`.slice(0, 300),
        });
        // an HSM that answers, only too slowly, is still serving: DEGRADED rather than UNAVAILABLE
        if (err instanceof DependencyTimeoutException) return "DEGRADED";
        throw err;
      }),
    );
  }

  /**
   * Creates or finds the health key before the first probe, outside the per-call timeout (key
   * generation can take longer than an encrypt), then probes every `interval_secs`.
   */
  async start(): Promise<void> {
    try {
      this.key = await this.findKey();
    } catch (err) {
      this.logger.log("warn", { msg: "health-key-unavailable", key: this.config().keyName, error: (err as CiopError).code ?? "Error" });
    }
    this.apply();
  }

  /** Takes up a reloaded `[health] interval_secs` (the key, vendor and fleet size are read per use). */
  apply(): void {
    const interval = this.config().intervalMs;
    if (interval === this.intervalMs) return;
    this.intervalMs = interval;
    this.monitor.start(interval);
  }

  stop(): void {
    this.monitor.stop();
  }

  /** The GetHealthStatus answer. */
  readonly report = async (): Promise<GetHealthStatusResponse> => {
    const { status } = await this.monitor.status();
    this.metrics.healthStatus(status);
    const cfg = this.config();
    const t = this.backend.hsm.token;
    const member: EkmFleetMember = {
      id: (t.label || t.serial).slice(0, 128),
      model: `${t.model} (${t.libraryDescription})`.slice(0, 128),
      healthStatus: status,
    };
    return {
      xksProxyFleetSize: cfg.fleetSize,
      xksProxyVendor: cfg.vendor,
      xksProxyModel: cfg.model,
      ekmVendor: `${t.manufacturer} serial ${t.serial}`.slice(0, 128),
      ekmFleetDetails: [member],
    };
  };

  private async findKey(): Promise<HsmKey> {
    const { keyName, createKey } = this.config();
    const hsm = this.backend.hsm;
    const found = hsm.findKey(keyName);
    if (found) return found;
    if (!createKey) throw new CiopError("ERR_KEY_NOT_FOUND", `health key '${keyName}' is missing`);
    return (await hsm.getOrCreateKey(keyName, "AES-256", { extractable: false })).key;
  }

  private async probe(): Promise<EkmFleetMember["healthStatus"]> {
    const b = this.backend;
    this.key = this.key && b.hsm.findKey(this.config().keyName) === this.key ? this.key : await b.withTimeout("health", () => this.findKey());
    const key = this.key;
    const pt = randomBytes(32);
    // the IV the token's GCM profile allows (its own on CloudHSM/nShield/Luna-style tokens)
    const { iv, ciphertextAndTag: ct } = await b.withTimeout("health-encrypt", () => b.hsm.sealAesGcmAsync(key, pt, HEALTH_AAD));
    const back = await b.withTimeout("health-decrypt", () => b.hsm.decryptAesGcmAsync(key, iv, ct, HEALTH_AAD));
    if (back.length !== pt.length || !timingSafeEqual(back, pt)) throw new Error("health round trip mismatch");
    return "ACTIVE";
  }
}
