/**
 * The files a reload re-reads, watched: the config file and the TLS files it names (a single
 * process watches them itself; with `processes` > 1 the cluster primary does, for every worker).
 */
import { unwatchFile, watchFile } from "node:fs";
import type { ProxyConfig } from "../config/index.js";

/** The config file and the certificate, key and client CA files it names. */
export function watchedFiles(c: ProxyConfig): string[] {
  const t = c.server.tls;
  return [c.source.file, t?.certFile, t?.keyFile, t?.clientCaFile].filter((f): f is string => f !== undefined);
}

/** Calls `onChange` (debounced by 100 ms) when a watched file's size or time changes. */
export class FileWatch {
  private readonly watched = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly intervalMs = 2000,
  ) {}

  /** Watches exactly `files` from now on (a reload may name new ones). */
  set(files: readonly string[]): void {
    const wanted = new Set(files);
    for (const f of this.watched) {
      if (wanted.has(f)) continue;
      unwatchFile(f);
      this.watched.delete(f);
    }
    for (const f of wanted) {
      if (this.watched.has(f)) continue;
      watchFile(f, { interval: this.intervalMs, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(this.onChange, 100);
        this.timer.unref();
      });
      this.watched.add(f);
    }
  }

  close(): void {
    this.set([]);
    if (this.timer) clearTimeout(this.timer);
  }
}
