/**
 * The `[azure_ekm]` section (see index.ts for the reference). Read with the tracked-table reader:
 * a key nobody reads is refused with the nearest accepted key. Transport settings the API fixes
 * (TLS 1.3 only, its two suites, mTLS) are not settings: they are always on.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { isEkmPathPrefix, EKM_KEY_NAME } from "@ciop/azure-ekm";
import { bad, bool, num, str, strList, table, type Table } from "../config/fields.js";
import { refuseUnread, track } from "../config/tracked.js";
import { XKS_TLS_CIPHERS } from "../server/listeners.js";

export const SECTION = "azure_ekm";
/** The two TLS 1.3 suites the API names, and nothing else. */
export const EKM_TLS_SUITES = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

export interface AzureEkmTls {
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  /** Accepted client certificate subject CNs (exact, compared without regard to ASCII case). */
  clientSubjects: string[];
}

export interface AzureEkmConfig {
  /** "" (no prefix) or "/a/b". */
  pathPrefix: string;
  ip: string;
  port: number;
  maxConnections: number;
  /** Connections at once from one source (IPv4 address, IPv6 /64), refused before TLS; 0 = no limit. */
  maxConnectionsPerSource: number;
  keys: string[];
  auditLog: string | null;
  /** Public host name (and port when not 443) Managed HSM reaches, for show-setup. */
  publicHost?: string;
  tls: AzureEkmTls;
}

/** `[azure_ekm] enabled` (default true). */
export function azureEkmEnabled(section: unknown): boolean {
  if (typeof section !== "object" || section === null || Array.isArray(section)) return true;
  return (section as Table).enabled !== false;
}

/**
 * Why the proxy's main listener cannot carry this API, from its fixed TLS settings: it accepts
 * TLS 1.2 (the XKS spec needs it) and offers the XKS spec's suites, and its mTLS is optional.
 */
export function sharedListenerRefusal(): string {
  const tls13 = XKS_TLS_CIPHERS.split(":").filter((s) => s.startsWith("TLS_"));
  const missing = EKM_TLS_SUITES.split(":").filter((s) => !tls13.includes(s));
  return (
    `${SECTION}.listener = "shared" is refused: the main listener serves the XKS spec's TLS, which also accepts TLS 1.2 ` +
    `and offers the TLS 1.3 suites ${tls13.join(", ")}${missing.length > 0 ? ` (not ${missing.join(", ")})` : ""}, and its client certificate check is optional; ` +
    `the Azure EKM proxy API needs TLS 1.3 only with ${EKM_TLS_SUITES.replace(":", " and ")} and mandatory mTLS. ` +
    `Use listener = "own" (the default) with its own ip/port and [${SECTION}.tls]`
  );
}

/** The listener's secure context: TLS 1.3 only, the API's two suites, the client CA. */
export function ekmSecureContextOptions(t: AzureEkmTls): SecureContextOptions {
  return {
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
    ca: readFileSync(t.clientCaFile),
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ciphers: EKM_TLS_SUITES,
  };
}

function readable(file: string, what: string): void {
  try {
    readFileSync(file);
  } catch (err) {
    bad(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Validates the raw `[azure_ekm]` table strictly; relative paths are resolved against `configDir`. */
export function parseAzureEkmSection(section: unknown, configDir: string): AzureEkmConfig {
  const tracker = track({ [SECTION]: table(section, `[${SECTION}]`) });
  const t = tracker.doc[SECTION] as Table;
  const w = SECTION;
  bool(t, "enabled", w);
  const rel = (p: string) => path.resolve(configDir, p);

  const listener = str(t, "listener", w) ?? "own";
  if (listener === "shared") bad(sharedListenerRefusal());
  if (listener !== "own") bad(`${w}.listener must be "own" (its own TLS 1.3 mTLS listener); got ${JSON.stringify(listener)}`);

  const rawPrefix = str(t, "path_prefix", w) ?? "";
  const pathPrefix = rawPrefix === "" ? "" : `/${rawPrefix.replace(/^\/+|\/+$/g, "")}`;
  if (rawPrefix.length > 64 || !/^[A-Za-z0-9/-]*$/.test(rawPrefix) || !isEkmPathPrefix(pathPrefix) || /\/\//.test(pathPrefix))
    bad(
      `${w}.path_prefix must be at most 64 letters, digits, '/' and '-' (e.g. "/contoso/prod"), without empty segments; got ${JSON.stringify(rawPrefix.slice(0, 80))}`,
    );

  const ip = str(t, "ip", w) ?? "0.0.0.0";
  const port = num(t, "port", w, 0, 65535) ?? 443;
  if (!Number.isInteger(port)) bad(`${w}.port must be a whole number`);
  const maxConnections = num(t, "max_connections", w, 1, 100_000) ?? 256;
  if (!Number.isInteger(maxConnections)) bad(`${w}.max_connections must be a whole number`);
  // one source (IPv4 address or IPv6 /64) must not hold every connection with handshakes it never finishes
  const maxConnectionsPerSource = num(t, "max_connections_per_source", w, 0, 100_000) ?? Math.min(32, maxConnections);
  if (!Number.isInteger(maxConnectionsPerSource)) bad(`${w}.max_connections_per_source must be a whole number (0 = no limit)`);
  if (maxConnectionsPerSource > maxConnections)
    bad(`${w}.max_connections_per_source (${maxConnectionsPerSource}) must not exceed ${w}.max_connections (${maxConnections})`);

  const keys = strList(t, "keys", w);
  if (keys === undefined) bad(`${w}.keys is required: the external key names this route serves (HSM key labels), e.g. keys = ["ekm-aes-1"]`);
  for (const k of keys)
    if (!EKM_KEY_NAME.test(k)) bad(`${w}.keys: ${JSON.stringify(k.slice(0, 80))} is not an external key identifier (1 to 64 letters, digits and '-')`);
  if (new Set(keys).size !== keys.length) bad(`${w}.keys lists a key twice`);

  const auditRaw = str(t, "audit_log", w);
  const publicHost = str(t, "public_host", w);
  if (publicHost !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(publicHost))
    bad(`${w}.public_host must be a host name, optionally with :port (e.g. "ekm.contoso.com")`);

  if (t.tls === undefined) bad(`[${w}.tls] is required: the API needs TLS 1.3 with mutual TLS (cert_file, key_file, client_ca_file, client_subjects)`);
  const tt = table(t.tls, `[${w}.tls]`);
  const tw = `${w}.tls`;
  const certFile = str(tt, "cert_file", tw);
  const keyFile = str(tt, "key_file", tw);
  const clientCaFile = str(tt, "client_ca_file", tw);
  const clientSubjects = strList(tt, "client_subjects", tw);
  if (certFile === undefined || keyFile === undefined) bad(`${tw}.cert_file (the server certificate chain, PEM) and ${tw}.key_file are required`);
  if (clientCaFile === undefined)
    bad(`${tw}.client_ca_file is required: mTLS is mandatory for the Azure EKM API (the root CAs of 'az keyvault ekm-connection certificate show', PEM)`);
  if (clientSubjects === undefined || clientSubjects.length === 0 || clientSubjects.some((s) => s.trim() === ""))
    bad(`${tw}.client_subjects is required: the accepted client certificate subject CNs (subjectCommonName of 'az keyvault ekm-connection certificate show')`);
  const tls: AzureEkmTls = { certFile: rel(certFile), keyFile: rel(keyFile), clientCaFile: rel(clientCaFile), clientSubjects };
  readable(tls.certFile, `${tw}.cert_file`);
  readable(tls.keyFile, `${tw}.key_file`);
  readable(tls.clientCaFile, `${tw}.client_ca_file`);
  if (!/-----BEGIN CERTIFICATE-----/.test(readFileSync(tls.clientCaFile, "utf8"))) bad(`${tw}.client_ca_file ${tls.clientCaFile} holds no PEM certificate`);
  try {
    createSecureContext(ekmSecureContextOptions(tls));
  } catch (err) {
    bad(`[${tw}]: the certificate, key and client CA do not make a TLS context: ${(err as Error).message.slice(0, 200)}`);
  }

  refuseUnread(tracker, "ciop configuration");
  return {
    pathPrefix,
    ip,
    port,
    maxConnections,
    maxConnectionsPerSource,
    keys,
    auditLog: auditRaw === undefined ? rel("azure-ekm-audit.log") : /^(off|none)$/i.test(auditRaw) ? null : rel(auditRaw),
    ...(publicHost !== undefined ? { publicHost } : {}),
    tls,
  };
}
