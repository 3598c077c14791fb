/**
 * Contract between the xks-proxy server and an optional route group (e.g. the Salesforce cache-only
 * key service). The server owns TLS, connection handling, logging, metrics and the HSM; a route group
 * owns its own config section, authentication and handlers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Hsm } from "@ciop/hsm";
import type { Registry } from "prom-client";
import type { NonceStore } from "./salesforce/replay.js";

export interface RouteGroupContext {
  /** The server's main-thread Hsm (opened from the server's [hsm] settings). */
  readonly hsm: Hsm;
  /** Runs `fn` with the server's HSM timeout; rejects with CiopError ERR_XKS_DEPENDENCY_TIMEOUT-like code on expiry. */
  withHsmTimeout<T>(operation: string, fn: () => Promise<T> | T): Promise<T>;
  /** One JSON log line (the server adds time and level). Never pass secrets, keys or plaintext. */
  log(record: Record<string, unknown>): void;
  /** The server's Prometheus registry: register the group's own metrics here. */
  readonly metrics: Registry;
  /** Directory of the config file (to resolve relative paths in the group's section). */
  readonly configDir: string;
  /**
   * Where replay nonces are kept beyond this process: the fleet's Redis (`[fleet]`) or the cluster
   * primary (`[server] processes` > 1). Absent: the group keeps them in its own memory.
   */
  readonly nonces?: NonceStore;
}

export interface RouteGroup {
  readonly name: string;
  /** URI path prefix this group serves (e.g. "/salesforce/keys"); the server routes by prefix. */
  readonly pathPrefix: string;
  /**
   * Handles one request whose path starts with `pathPrefix`. `body` is the whole request body.
   * The group writes the response itself (status, headers, JSON body) and returns a short summary
   * for the server's request log. `authenticated: false` marks a request that failed the group's
   * authentication: the server charges it to its source's unauthenticated budget (a source over it
   * is answered 429 before the group sees its requests, and its connections are closed) and samples
   * its log line per source, so the group should not log such requests itself. `cause` is a short
   * reason for the log (never credentials).
   */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<{ status: number; key?: string; errorName?: string; cause?: string; authenticated?: boolean }>;
  /** Re-reads the group's section after a config reload (SIGHUP / file change). */
  reload?(section: unknown): Promise<void>;
  close(): Promise<void>;
}

/** Builds a route group from its raw config section (the parsed TOML table, validated by the group). */
export type RouteGroupFactory = (section: unknown, ctx: RouteGroupContext) => Promise<RouteGroup>;

/**
 * What a route group declares to the proxy: its config section, how to read its switch, prefix and
 * reserved keys from the raw section, and how to build it. The config loader and the server know
 * route groups only through these (src/route-groups.ts lists the built-in ones).
 */
export interface RouteGroupRegistration {
  /** The top-level TOML table the group reads (e.g. "salesforce"); the loader hands it over untouched. */
  readonly section: string;
  /** Is the section switched on? A section switched off stays validated but is not mounted. */
  enabled(section: unknown): boolean;
  /** Validates the section strictly (ERR_CONFIG_INVALID), without building anything. */
  validate(section: unknown, configDir: string): void;
  /** The path prefix the section asks for, or undefined when it cannot be read (validate says why). */
  pathPrefix(section: unknown): string | undefined;
  /**
   * Token keys no key store may list, each with the reason (a sentence part: "the HSM key of ...").
   * Read when the config is loaded; absent = none.
   */
  reservedKeyIds?(section: unknown, configDir: string): ReadonlyMap<string, string>;
  /** Settings of the section that hold a secret in the file's own text (e.g. a password hash). */
  inlineSecrets?(section: unknown): string[];
  /** Why the log says the group is not served when the section is switched off. */
  readonly disabledNote: string;
  /** Builds the group from its section. */
  readonly create: RouteGroupFactory;
}
