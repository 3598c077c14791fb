/**
 * The settings a running process cannot change: its listeners, its PKCS#11 library and sessions,
 * its process model, its fleet connection and log file. This one list decides both what a reload
 * applies (each keeps its running value) and what the `reload-needs-restart` warning names.
 *
 * `fixed` is the configuration the process started with, as it runs (no ping listener when none was
 * started, metrics off when its listener was not started); `running` the one in force now.
 */
import { metricsAddress, type ProxyConfig } from "../config/index.js";

export interface Now {
  fixed: ProxyConfig;
  running: ProxyConfig;
}

export interface RestartOnlySetting {
  /** As the warning names it. */
  name: string;
  /** Does `next` ask for something else than what runs? */
  changed(now: Now, next: ProxyConfig): boolean;
  /** `next` with this setting's running value (applied only when {@link changed}). */
  keep(now: Now, next: ProxyConfig): ProxyConfig;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A setting held in `[server]` or `[hsm]` under `keys`, compared and kept key by key. */
function sectionSetting<S extends "server" | "hsm">(name: string, section: S, keys: ReadonlyArray<keyof ProxyConfig[S]>): RestartOnlySetting {
  return {
    name,
    changed: ({ fixed }, next) => keys.some((k) => !same(fixed[section][k], next[section][k])),
    keep: ({ fixed }, next) => {
      const kept: Record<string, unknown> = { ...next[section] };
      for (const k of keys as ReadonlyArray<string>) {
        const v = (fixed[section] as unknown as Record<string, unknown>)[k];
        if (v === undefined) delete kept[k];
        else kept[k] = v;
      }
      return { ...next, [section]: kept };
    },
  };
}

const pingPortOf = (c: ProxyConfig): number | undefined => (c.server.ping ? c.server.pingPort : undefined);

export const RESTART_ONLY: readonly RestartOnlySetting[] = [
  sectionSetting("server address", "server", ["ip", "port"]),
  sectionSetting("server fast_path", "server", ["fastPath"]),
  sectionSetting("server processes", "server", ["processes"]),
  sectionSetting("server tcp_keepalive_secs", "server", ["tcpKeepAliveMs"]),
  {
    // the listener is made with or without TLS; certificates and every mTLS setting do reload
    name: "TLS on/off",
    changed: ({ fixed }, next) => (fixed.server.tls === undefined) !== (next.server.tls === undefined),
    keep: ({ running }, next) => ({ ...next, server: { ...next.server, ...(running.server.tls ? { tls: running.server.tls } : { tls: undefined }) } }),
  },
  {
    // the own-port /ping listener keeps its port; switching /ping off applies at once (it answers 404)
    name: "ping port",
    changed: ({ fixed }, next) => next.server.ping && pingPortOf(next) !== fixed.server.pingPort,
    keep: ({ fixed }, next) => ({
      ...next,
      server: { ...next.server, ...(fixed.server.pingPort !== undefined ? { pingPort: fixed.server.pingPort } : { pingPort: undefined }) },
    }),
  },
  {
    // the /metrics listener keeps its address, and stays absent when it was not started; switching
    // /metrics off applies at once (it answers 404), and on again while the listener runs
    name: "metrics listener",
    changed: ({ fixed }, next) => next.metrics.enabled && (!fixed.metrics.enabled || !same(metricsAddress(fixed.metrics), metricsAddress(next.metrics))),
    keep: ({ fixed }, next) => ({
      ...next,
      metrics: { ...next.metrics, ...metricsAddress(fixed.metrics), enabled: next.metrics.enabled && fixed.metrics.enabled },
    }),
  },
  sectionSetting("hsm library/token/pool", "hsm", ["library", "token", "sessionPool", "workers"]),
  sectionSetting("hsm allow_host_fallback", "hsm", ["allowHostFallback"]),
  // probed or checked against the token when it is opened
  sectionSetting("hsm profile", "hsm", ["profile", "gcmIvSource"]),
  // used when the PKCS#11 context is re-opened: a new PIN source would apply at some later device error
  sectionSetting("hsm pin", "hsm", ["pin"]),
  sectionSetting("hsm library environment", "hsm", ["env"]),
  {
    name: "fleet",
    changed: ({ fixed }, next) => !same(fixed.fleet, next.fleet),
    keep: ({ fixed }, next) => {
      const { fleet: _ignored, ...rest } = next;
      return fixed.fleet ? { ...rest, fleet: fixed.fleet } : rest;
    },
  },
  {
    name: "logging file",
    changed: ({ fixed }, next) => fixed.logging.file !== next.logging.file,
    keep: ({ fixed }, next) => {
      const { file: _ignored, ...logging } = next.logging;
      return { ...next, logging: fixed.logging.file !== undefined ? { ...logging, file: fixed.logging.file } : logging };
    },
  },
];

/** The restart-only settings `next` changes, by name. */
export function restartNeeded(now: Now, next: ProxyConfig): string[] {
  return RESTART_ONLY.filter((s) => s.changed(now, next)).map((s) => s.name);
}

/** `next` with every restart-only setting at its running value: the configuration a reload applies. */
export function keepRunning(now: Now, next: ProxyConfig): ProxyConfig {
  return RESTART_ONLY.reduce((c, s) => (s.changed(now, next) ? s.keep(now, c) : c), next);
}
