/**
 * Host-side fallback: the only place key material leaves the token for host memory. Every use is
 * checked against the policy (software token, or `allowHostFallback`), recorded (capped history,
 * exact count) and reported (`onHostFallback`, the "host-fallback" event); buffers are zeroed.
 */
import { createDecipheriv, createPrivateKey, createPublicKey, constants as cryptoConstants, publicEncrypt, randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError, zeroize } from "@ciop/core";
import { allowsHostFallback, ensureOpen, type Handle, type HsmContext } from "./context.js";
import { derLength } from "./der.js";
import { HsmError } from "./errors.js";
import type { HsmKey } from "./hsm-key.js";
import { KEY_SPECS } from "./key-specs.js";
import { requireEnabled } from "./keys/attributes.js";
import { createSessionAes, destroyHandle } from "./keys/session-keys.js";
import { hostKwpUnwrap } from "./mechanisms.js";
import type { HashName, HostFallbackEvent } from "./types.js";
import { wrapUnder } from "./wrap.js";

const MATERIAL_TEXT: Record<HostFallbackEvent["material"], string> = {
  "target-key": "the key itself",
  "ephemeral-key": "an ephemeral wrapping key",
  "public-key": "a public-key operation with the key's public half",
  "encoded-message": "the RSA-OAEP encoded message of a raw RSA decryption",
};

/** Checks the fallback policy, records the event and notifies listeners; throws ERR_HOST_FALLBACK_REFUSED when not allowed. */
export function recordHostFallback(
  ctx: HsmContext,
  operation: string,
  key: HsmKey,
  reason: string,
  material: HostFallbackEvent["material"],
  alternatives: string[],
): void {
  if (!allowsHostFallback(ctx)) {
    throw new CiopError(
      "ERR_HOST_FALLBACK_REFUSED",
      `${operation} of '${key.name}' would need a host-side step (${MATERIAL_TEXT[material]} in host memory) because ${reason}. ` +
        `That is refused for hardware token '${ctx.token.label}'. Alternatives: ${alternatives.join("; ")}`,
      { details: { operation, key: key.name, material } },
    );
  }
  const event: HostFallbackEvent = {
    operation,
    key: key.name,
    reason,
    material,
    token: `${ctx.token.label} (${ctx.token.serial})`,
    at: new Date().toISOString(),
  };
  ctx.fallbackCount++;
  if (ctx.fallbackHistory > 0) {
    ctx.fallbacks.push(event);
    if (ctx.fallbacks.length > ctx.fallbackHistory) ctx.fallbacks.splice(0, ctx.fallbacks.length - ctx.fallbackHistory);
  }
  ctx.options.onHostFallback?.(event);
  ctx.events?.emit("host-fallback", event);
}

/** The public choke point (Hsm.exportKeyToHost): the key's raw bytes or exact PKCS#8 in host memory. */
export function exportKeyToHost(ctx: HsmContext, key: HsmKey, reason: string): Buffer {
  ensureOpen(ctx);
  requireEnabled(ctx, key, "exporting");
  recordHostFallback(ctx, "exportKeyToHost", key, reason, "target-key", ["keep the operation inside the HSM (see capabilities())"]);
  return extractToHost(ctx, key);
}

/** Gets a key's value out under an ephemeral KEK (KWP, else KW) and unwraps it on the host. The caller zeroes the result. */
export function extractToHost(ctx: HsmContext, key: HsmKey): Buffer {
  const kekValue = randomBytes(32);
  let kek: Handle | undefined;
  let unwrapped: Buffer | undefined;
  try {
    kek = createSessionAes(ctx, kekValue, { wrap: true });
    const kwp = ctx.caps.aesKeyWrapPadMechanism;
    const mech = kwp ?? pkcs11js.CKM_AES_KEY_WRAP;
    const wrapped = wrapUnder(ctx, { mechanism: mech }, kek, key, `exporting '${key.name}' under an ephemeral key`);
    if (kwp !== null) {
      unwrapped = hostKwpUnwrap(kekValue, wrapped);
    } else {
      const d = createDecipheriv("id-aes256-wrap", kekValue, Buffer.from("a6a6a6a6a6a6a6a6", "hex"));
      unwrapped = Buffer.concat([d.update(wrapped), d.final()]);
    }
    if (key.kind === "secret") {
      const bytes = KEY_SPECS[key.type].bytes!;
      return Buffer.from(unwrapped.subarray(0, bytes));
    }
    const len = derLength(unwrapped);
    if (len === undefined || len > unwrapped.length || unwrapped[0] !== 0x30)
      throw new HsmError("ERR_HSM", `the token exported '${key.name}' in a form that is not PKCS#8 DER`);
    const pkcs8 = unwrapped.subarray(0, len);
    // An EC key leaves the host path as other tools write it: with its public key inside (RFC 5915's
    // optional publicKey, which SoftHSM leaves out). Providers size their checks by that form, and
    // Huawei Cloud KMS refuses the shorter one.
    if (KEY_SPECS[key.type].family === "ec") return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "der", type: "pkcs8" });
    return Buffer.from(pkcs8);
  } finally {
    zeroize(kekValue, unwrapped);
    if (kek) destroyHandle(ctx, kek);
  }
}

/** RSA-OAEP on the host (the hash for OAEP and MGF1), of an ephemeral key. */
export function hostOaep(spki: Uint8Array, hash: HashName, data: Uint8Array): Uint8Array {
  const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  return new Uint8Array(publicEncrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data));
}
