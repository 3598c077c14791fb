/**
 * The cross-process locks of @ciop/hsm's writes to a token (one key per name, one writer per key
 * version record): files in the context's lock directory, named after the token itself
 * (manufacturer, model, serial) rather than the library path, so that processes reaching one token
 * through different modules (p11-kit's RPC, a fault or logging wrapper) take turns too.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import type { HsmContext } from "../context.js";
import { withFileLock } from "../lock.js";
import { track } from "../sessions.js";

/** Runs `f` holding the host-wide lock `kind`/`name` of this context's token. */
export function withTokenLock<T>(ctx: HsmContext, kind: "key" | "key-version", name: string, f: () => Promise<T>): Promise<T> {
  const t = ctx.token;
  const h = createHash("sha256").update(`${t.manufacturer}\0${t.model}\0${t.serial}\0${kind}\0${name}`).digest("hex").slice(0, 40);
  return track(ctx, withFileLock(path.join(ctx.lockDir, `${kind}-${h}.lock`), f));
}
