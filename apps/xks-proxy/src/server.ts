/**
 * The xks-proxy HTTP(S) server (stub: full implementation follows).
 */
import type { ProxyConfig } from "./config/index.js";

export interface StartServerOptions {
  /** Re-read the config file on change (main.ts sets it). */
  watchConfig?: boolean;
}

export interface RunningServer {
  url: string;
  pingUrl?: string;
  reload(): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(_config: ProxyConfig, _opts: StartServerOptions = {}): Promise<RunningServer> {
  throw new Error("not implemented yet");
}
