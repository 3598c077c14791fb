/**
 * Salesforce replay nonces shared by every proxy of a fleet through Redis: a reservation is
 * `SET <prefix>:sf-nonce:<sha256(nonce)> <token> NX PX 30000`, a 200 turns it into a record for the
 * replay window, a failure deletes it (both only if the reservation is still this callout's).
 * Redis unreachable or slower than `command_timeout_ms` = "unavailable": the callout is refused
 * with a retryable 503, never answered without the check.
 */
import { createHash, randomBytes } from "node:crypto";
import { RESERVATION_TTL_MS, type NonceStore, type ReserveOutcome } from "../salesforce/replay.js";
import type { FleetRedis } from "./redis.js";

// KEYS[1] = nonce key; ARGV[1] = reservation token, ARGV[2] = window (ms)
const COMMIT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == false then
  redis.call('SET', KEYS[1], 'seen', 'PX', ARGV[2])
  return 1
end
return 0`;
// KEYS[1] = nonce key; ARGV[1] = reservation token
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisNonceStore implements NonceStore {
  constructor(private readonly redis: FleetRedis) {}

  private keyOf(nonce: string): string {
    return this.redis.key("sf-nonce", createHash("sha256").update(nonce).digest("hex"));
  }

  async reserve(nonce: string): Promise<ReserveOutcome> {
    if (!this.redis.available) return { outcome: "unavailable", reason: "redis unreachable" };
    const token = randomBytes(9).toString("base64url");
    try {
      const r = await this.redis.client.set(this.keyOf(nonce), token, "PX", RESERVATION_TTL_MS, "NX");
      return r === "OK" ? { outcome: "reserved", token } : { outcome: "replayed" };
    } catch (err) {
      return { outcome: "unavailable", reason: `redis: ${(err as Error).message.slice(0, 100)}` };
    }
  }

  async commit(nonce: string, token: string, windowMs: number): Promise<boolean> {
    try {
      return (await this.redis.client.eval(COMMIT, 1, this.keyOf(nonce), token, String(windowMs))) === 1;
    } catch {
      return false;
    }
  }

  async release(nonce: string, token: string): Promise<void> {
    // a release that does not reach Redis leaves the reservation to expire (RESERVATION_TTL_MS)
    await this.redis.client.eval(RELEASE, 1, this.keyOf(nonce), token).catch(() => undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
