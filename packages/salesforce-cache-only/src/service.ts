/**
 * Cache-only key operations over an open @ciop/hsm `Hsm`: create a DEK (AES-256 token key labelled
 * by its kid), bind it to a Salesforce BYOK certificate, enable/disable/rotate it, and produce the
 * `{"kid","jwe"}` response Salesforce's callout expects. The rules (kid, certificate) come from
 * @ciop/providers-salesforce.
 */
import { readFileSync } from "node:fs";
import { appendAuditRecord, CiopError, type AuditRecord } from "@ciop/core";
import type { Hsm, HsmKey } from "@ciop/hsm";
import { createCacheOnlyJwe, createHsmEngine, hsmKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { assertCacheOnlyKid, checkCacheOnlyCertificate, isCacheOnlyKid, nextRotationKid, type CacheOnlyCertificateFacts } from "@ciop/providers-salesforce";
import { RegistryWatcher, updateRegistry, type CacheOnlyKeyEntry } from "./registry.js";

/** Provider name used in audit records. @public */
export const CACHE_ONLY_PROVIDER = "salesforce-cache-only";

/** A JWE response for one callout. @public */
export interface CacheOnlyResponse {
  kid: string;
  /** Compact JWE: RSA-OAEP (SHA-1) + A256GCM over the 32-byte DEK. */
  jwe: string;
  /** `{"kid": ..., "jwe": ...}` as sent to Salesforce. */
  body: string;
  /** True when the DEK was in host memory to build this JWE (token without C_WrapKey AES-GCM). */
  hostFallback: boolean;
  /** How the JWE was made, e.g. ["CKM_AES_KEY_GEN(session)", "CKM_AES_GCM", "CKM_RSA_PKCS_OAEP(SHA-1)"]. */
  steps: string[];
}

/** Input of {@link createCacheOnlyResponse}. @public */
export interface CacheOnlyResponseRequest {
  hsm: Hsm;
  /** The DEK (found by its label = kid). */
  key: HsmKey;
  kid: string;
  /** The Salesforce BYOK certificate's wrapping key (see checkCacheOnlyCertificate). */
  wrappingKey: WrappingKey;
  /** Replay nonce to echo as `jti`. */
  jti?: string;
  /** Reuse an engine (one per Hsm). */
  engine?: WrapEngine;
}

/**
 * Builds the JWE response for one DEK. Refuses a DEK that is not AES-256 or is disabled in the HSM.
 * In the HSM when the token can C_WrapKey with AES-GCM and OAEP SHA-1; otherwise through the Hsm's
 * host-fallback choke point (allowed only on software tokens or with allowHostFallback).
 * @throws CiopError ERR_KEY_TYPE_MISMATCH, ERR_KEY_DISABLED, ERR_HOST_FALLBACK_REFUSED, ERR_KID_INVALID.
 * @public
 */
export async function createCacheOnlyResponse(req: CacheOnlyResponseRequest): Promise<CacheOnlyResponse> {
  assertCacheOnlyKid(req.kid);
  if (req.key.type !== "AES-256") {
    throw new CiopError("ERR_KEY_TYPE_MISMATCH", `The cache-only key '${req.kid}' must be AES-256 (a 32-byte DEK); the HSM key is ${req.key.type}.`);
  }
  if (!req.hsm.keyInfo(req.key).enabled) {
    throw new CiopError("ERR_KEY_DISABLED", `The cache-only key '${req.kid}' is disabled in the HSM.`);
  }
  const engine = req.engine ?? createHsmEngine(req.hsm);
  const out = await createCacheOnlyJwe({
    engine,
    target: hsmKey(req.key),
    wrappingKey: req.wrappingKey,
    kid: req.kid,
    ...(req.jti !== undefined ? { jti: req.jti } : {}),
  });
  return { kid: req.kid, jwe: out.jwe, body: out.body, hostFallback: out.hostFallback, steps: out.steps };
}

/** Options of {@link CacheOnlyKeyService}. @public */
export interface CacheOnlyServiceOptions {
  hsm: Hsm;
  /** The binding registry (JSON). */
  registryPath: string;
  /** Audit log (JSON lines) for key operations and host fallbacks; null/absent = none. */
  auditLog?: string | null;
  /** Value of the audit records' `tool` field (e.g. "xks-proxy"). */
  tool?: string;
  /** Certificate file (PEM/DER) for keys whose registry entry has no bound certificate. */
  defaultCertificate?: string;
  /** Per-kid certificate files, for keys whose registry entry has no bound certificate. */
  certificates?: Record<string, string>;
  /** Clock (tests). */
  now?: () => Date;
}

/** A key as `list` shows it: the registry entry plus the HSM's view. @public */
export interface CacheOnlyKeyStatus {
  kid: string;
  state: "enabled" | "disabled";
  /** The DEK exists in the HSM with the recorded CKA_ID. */
  inHsm: boolean;
  /** CKA_ENCRYPT/CKA_DECRYPT of the DEK (false when missing). */
  hsmEnabled: boolean;
  /** Whether a callout would be answered now. */
  servable: boolean;
  createdAt: string;
  certificate: (CacheOnlyCertificateFacts & { source: "bound" | "configured" }) | null;
  rotatedFrom?: string;
  rotatedTo?: string;
}

/** Options of create/rotate. @public */
export interface CreateCacheOnlyKeyOptions {
  /** Salesforce BYOK certificate (PEM/DER bytes or text) to bind; absent = use the configured one. */
  certificate?: Uint8Array | string;
  allowInvalidCertificate?: boolean;
}

/**
 * The cache-only key service: registry + HSM. One per process; safe to share between requests.
 * @public
 */
export class CacheOnlyKeyService {
  readonly hsm: Hsm;
  readonly registryPath: string;
  private readonly watcher: RegistryWatcher;
  private readonly engine: WrapEngine;
  private readonly opts: CacheOnlyServiceOptions;
  private readonly certCache = new Map<string, { wrappingKey: WrappingKey; facts: CacheOnlyCertificateFacts }>();

  constructor(opts: CacheOnlyServiceOptions) {
    this.opts = opts;
    this.hsm = opts.hsm;
    this.registryPath = opts.registryPath;
    this.watcher = new RegistryWatcher(opts.registryPath);
    this.engine = createHsmEngine(opts.hsm);
    // Fail early on a configured certificate that cannot be read or is not a BYOK certificate
    // (validity is checked per request, since certificates expire while the server runs).
    if (opts.defaultCertificate !== undefined) this.configuredCertificate(opts.defaultCertificate);
    for (const p of Object.values(opts.certificates ?? {})) this.configuredCertificate(p);
  }

  private now(): Date {
    return this.opts.now ? this.opts.now() : new Date();
  }

  private audit(record: AuditRecord): void {
    if (!this.opts.auditLog) return;
    appendAuditRecord(this.opts.auditLog, { tool: this.opts.tool ?? "ciop", provider: CACHE_ONLY_PROVIDER, ...record });
  }

  /** Reads and checks a configured certificate file (cached; validity is checked at use). */
  private configuredCertificate(path: string): { wrappingKey: WrappingKey; facts: CacheOnlyCertificateFacts } {
    const hit = this.certCache.get(`file:${path}`);
    if (hit) return hit;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new CiopError("ERR_CONFIG_INVALID", `Cannot read the Salesforce BYOK certificate ${path}: ${(err as Error).message}`);
    }
    const checked = checkCacheOnlyCertificate(bytes, { now: this.now(), allowInvalidCertificate: true });
    const v = { wrappingKey: checked.wrappingKey, facts: checked.facts };
    this.certCache.set(`file:${path}`, v);
    return v;
  }

  private boundCertificate(
    entry: CacheOnlyKeyEntry,
  ): { wrappingKey: WrappingKey; facts: CacheOnlyCertificateFacts; source: "bound" | "configured" } | undefined {
    if (entry.certificate) {
      const cacheKey = `pem:${entry.certificate.sha256}:${entry.certificate.serialNumber}`;
      let hit = this.certCache.get(cacheKey);
      if (!hit) {
        const checked = checkCacheOnlyCertificate(entry.certificate.pem, { now: this.now(), allowInvalidCertificate: true });
        hit = { wrappingKey: checked.wrappingKey, facts: checked.facts };
        this.certCache.set(cacheKey, hit);
      }
      return { ...hit, source: "bound" };
    }
    const path = this.opts.certificates?.[entry.kid] ?? this.opts.defaultCertificate;
    return path === undefined ? undefined : { ...this.configuredCertificate(path), source: "configured" };
  }

  private entry(kid: string): CacheOnlyKeyEntry | undefined {
    const keys = this.watcher.get().keys;
    return Object.hasOwn(keys, kid) ? keys[kid] : undefined;
  }

  private hsmKeyFor(entry: CacheOnlyKeyEntry): HsmKey | undefined {
    const key = this.hsm.findKey(entry.hsmLabel);
    if (!key || (entry.hsmId && key.id !== entry.hsmId)) return undefined;
    return key;
  }

  /**
   * Creates the DEK for `kid` in the HSM (AES-256, token object, sensitive) and records it in the
   * registry, bound to `certificate` when given. Everything is checked before the key is made.
   * @throws CiopError ERR_KID_INVALID, ERR_KEY_EXISTS, certificate errors.
   */
  async createKey(kid: string, options: CreateCacheOnlyKeyOptions = {}, extra: { rotatedFrom?: string } = {}): Promise<CacheOnlyKeyEntry> {
    assertCacheOnlyKid(kid);
    const cert =
      options.certificate !== undefined
        ? checkCacheOnlyCertificate(options.certificate, { now: this.now(), ...(options.allowInvalidCertificate ? { allowInvalidCertificate: true } : {}) })
        : undefined;
    let made = false;
    try {
      const entry = await updateRegistry(this.registryPath, async (reg) => {
        if (Object.hasOwn(reg.keys, kid)) {
          throw new CiopError("ERR_KEY_EXISTS", `A cache-only key '${kid}' is already registered in ${this.registryPath}.`);
        }
        if (extra.rotatedFrom !== undefined && !Object.hasOwn(reg.keys, extra.rotatedFrom)) {
          throw new CiopError("ERR_KEY_NOT_FOUND", `No cache-only key '${extra.rotatedFrom}' to rotate.`);
        }
        // generateKey refuses (ERR_KEY_EXISTS) when the token already has a key with this label.
        const key = await this.hsm.generateKey(kid, "AES-256", { extractable: true });
        made = true;
        const at = this.now().toISOString();
        const e: CacheOnlyKeyEntry = {
          kid,
          hsmLabel: kid,
          hsmId: key.id,
          state: "enabled",
          createdAt: at,
          ...(cert ? { certificate: { ...cert.facts, pem: cert.pem } } : {}),
          ...(extra.rotatedFrom !== undefined ? { rotatedFrom: extra.rotatedFrom } : {}),
        };
        reg.keys[kid] = e;
        if (extra.rotatedFrom !== undefined) reg.keys[extra.rotatedFrom]!.rotatedTo = kid;
        return e;
      });
      this.audit({
        operation: extra.rotatedFrom !== undefined ? "cache-only-rotate" : "cache-only-create",
        key: kid,
        algorithm: "AES-256",
        ...(cert ? { wrappingKeySha256: cert.facts.sha256 } : {}),
        ...(extra.rotatedFrom !== undefined ? { rotatedFrom: extra.rotatedFrom } : {}),
        outcome: "ok",
      });
      return entry;
    } catch (err) {
      if (made && this.entry(kid) === undefined) {
        // The registry write failed after the key was made: do not leave an unregistered DEK behind.
        try {
          this.hsm.deleteKey(kid);
        } catch {
          /* reported through the original error */
        }
      }
      this.audit({
        operation: extra.rotatedFrom !== undefined ? "cache-only-rotate" : "cache-only-create",
        key: kid,
        outcome: "error",
        error: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL",
      });
      throw err;
    }
  }

  /**
   * Rotation: a new kid (default: `<kid>.v2`, `.v3`, ...) with a new DEK, bound to `certificate` or
   * to the old key's certificate. The old key stays servable until it is disabled.
   */
  async rotateKey(oldKid: string, options: CreateCacheOnlyKeyOptions & { newKid?: string } = {}): Promise<CacheOnlyKeyEntry> {
    assertCacheOnlyKid(oldKid);
    const old = this.entry(oldKid);
    if (!old) throw new CiopError("ERR_KEY_NOT_FOUND", `No cache-only key '${oldKid}' in ${this.registryPath}.`);
    const newKid = options.newKid ?? nextRotationKid(oldKid);
    const certificate = options.certificate ?? old.certificate?.pem;
    return this.createKey(
      newKid,
      { ...(certificate !== undefined ? { certificate } : {}), ...(options.allowInvalidCertificate ? { allowInvalidCertificate: true } : {}) },
      { rotatedFrom: oldKid },
    );
  }

  /** Enables or disables a key: in the registry and in the HSM (CKA_ENCRYPT/CKA_DECRYPT). */
  async setEnabled(kid: string, enabled: boolean): Promise<void> {
    assertCacheOnlyKid(kid);
    const op = enabled ? "cache-only-enable" : "cache-only-disable";
    try {
      await updateRegistry(this.registryPath, (reg) => {
        const e = Object.hasOwn(reg.keys, kid) ? reg.keys[kid] : undefined;
        if (!e) throw new CiopError("ERR_KEY_NOT_FOUND", `No cache-only key '${kid}' in ${this.registryPath}.`);
        const key = this.hsmKeyFor(e);
        if (key) this.hsm.setKeyEnabled(e.hsmLabel, enabled);
        else if (enabled) throw new CiopError("ERR_KEY_NOT_FOUND", `The DEK of cache-only key '${kid}' is missing from the HSM; it cannot be enabled.`);
        e.state = enabled ? "enabled" : "disabled";
        e.changedAt = this.now().toISOString();
      });
      this.audit({ operation: op, key: kid, outcome: "ok" });
    } catch (err) {
      this.audit({ operation: op, key: kid, outcome: "error", error: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL" });
      throw err;
    }
  }

  /** Every registered key with its HSM state, sorted by kid. */
  listKeys(): CacheOnlyKeyStatus[] {
    const out: CacheOnlyKeyStatus[] = [];
    for (const e of Object.values(this.watcher.get().keys)) {
      const key = this.hsmKeyFor(e);
      const hsmEnabled = key ? this.hsm.keyInfo(key).enabled : false;
      let certificate: CacheOnlyKeyStatus["certificate"] = null;
      try {
        const c = this.boundCertificate(e);
        if (c) certificate = { ...c.facts, source: c.source };
      } catch {
        certificate = null;
      }
      const certValid =
        certificate !== null && Date.parse(certificate.notBefore) <= this.now().getTime() && this.now().getTime() <= Date.parse(certificate.notAfter);
      out.push({
        kid: e.kid,
        state: e.state,
        inHsm: key !== undefined,
        hsmEnabled,
        servable: e.state === "enabled" && hsmEnabled && certValid,
        createdAt: e.createdAt,
        certificate,
        ...(e.rotatedFrom !== undefined ? { rotatedFrom: e.rotatedFrom } : {}),
        ...(e.rotatedTo !== undefined ? { rotatedTo: e.rotatedTo } : {}),
      });
    }
    return out.sort((a, b) => a.kid.localeCompare(b.kid));
  }

  /** The registry entry of `kid`, or undefined. */
  getKey(kid: string): CacheOnlyKeyEntry | undefined {
    return isCacheOnlyKid(kid) ? this.entry(kid) : undefined;
  }

  /**
   * Produces the callout response for `kid`, echoing `jti` when given.
   * @throws CiopError ERR_KID_INVALID (bad kid), ERR_KEY_NOT_FOUND (unknown kid or DEK missing),
   * ERR_KEY_DISABLED, ERR_CERTIFICATE_NOT_VALID, ERR_WRAPPING_KEY_INVALID (no certificate),
   * ERR_HOST_FALLBACK_REFUSED, ERR_USAGE (bad jti).
   */
  async produce(kid: string, options: { jti?: string } = {}): Promise<CacheOnlyResponse> {
    assertCacheOnlyKid(kid);
    const e = this.entry(kid);
    if (!e) throw new CiopError("ERR_KEY_NOT_FOUND", `No cache-only key '${kid}'.`);
    if (e.state !== "enabled") throw new CiopError("ERR_KEY_DISABLED", `The cache-only key '${kid}' is disabled.`);
    const key = this.hsmKeyFor(e);
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `The DEK of cache-only key '${kid}' is missing from the HSM.`);
    const cert = this.boundCertificate(e);
    if (!cert) {
      throw new CiopError("ERR_WRAPPING_KEY_INVALID", `The cache-only key '${kid}' has no Salesforce BYOK certificate (none bound, none configured).`);
    }
    const now = this.now();
    const nb = Date.parse(cert.facts.notBefore);
    const na = Date.parse(cert.facts.notAfter);
    if (now.getTime() < nb || now.getTime() > na) {
      throw new CiopError(
        "ERR_CERTIFICATE_NOT_VALID",
        `The Salesforce BYOK certificate of '${kid}' is not valid now (valid ${cert.facts.notBefore} to ${cert.facts.notAfter}).`,
      );
    }
    const res = await createCacheOnlyResponse({
      hsm: this.hsm,
      key,
      kid,
      wrappingKey: cert.wrappingKey,
      engine: this.engine,
      ...(options.jti !== undefined ? { jti: options.jti } : {}),
    });
    if (res.hostFallback) {
      this.audit({
        operation: "cache-only-jwe",
        key: kid,
        algorithm: "RSA-OAEP+A256GCM",
        wrappingKeySha256: cert.facts.sha256,
        hostFallback: true,
        steps: res.steps,
        outcome: "ok",
      });
    }
    return res;
  }
}
