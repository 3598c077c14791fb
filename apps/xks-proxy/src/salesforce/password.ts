/**
 * Stored password hashes for HTTP Basic (what the Salesforce named credential sends):
 * `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`, made by `xks-proxy salesforce hash-password`.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { CiopError } from "@ciop/core";

function scrypt(password: Buffer, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export interface ScryptHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const FORMAT = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Parses a stored hash; ERR_CONFIG_INVALID when malformed or with unsafe parameters. */
export function parsePasswordHash(text: string, where: string): ScryptHash {
  const m = FORMAT.exec(text.trim());
  if (!m)
    throw new CiopError(
      "ERR_CONFIG_INVALID",
      `${where} is not a password hash of the form scrypt$<logN>$<r>$<p>$<salt>$<hash> (make one with: xks-proxy salesforce hash-password)`,
    );
  const h: ScryptHash = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]), salt: Buffer.from(m[4]!, "base64"), hash: Buffer.from(m[5]!, "base64") };
  if (h.logN < 14 || h.logN > 20 || h.r < 8 || h.r > 32 || h.p < 1 || h.p > 16 || h.salt.length < 16 || h.hash.length < 32) {
    throw new CiopError(
      "ERR_CONFIG_INVALID",
      `${where}: scrypt parameters too weak or out of range (need logN 14-20, r 8-32, p 1-16, salt >= 16 bytes, hash >= 32 bytes)`,
    );
  }
  return h;
}

function memFor(h: { logN: number; r: number; p: number }): number {
  return 128 * h.r * 2 ** h.logN * 2 + 1024 * 1024 * h.p;
}

/** Makes a stored hash for `password` (default N = 2^15, r = 8, p = 1). */
export async function hashPassword(password: string, params: { logN?: number; r?: number; p?: number } = {}): Promise<string> {
  if (password.length === 0) throw new CiopError("ERR_USAGE", "the password must not be empty");
  const logN = params.logN ?? 15;
  const r = params.r ?? 8;
  const p = params.p ?? 1;
  const salt = randomBytes(16);
  const pw = Buffer.from(password, "utf8");
  try {
    const hash = await scrypt(pw, salt, 32, { N: 2 ** logN, r, p, maxmem: memFor({ logN, r, p }) });
    return `scrypt$${logN}$${r}$${p}$${salt.toString("base64")}$${hash.toString("base64")}`;
  } finally {
    pw.fill(0);
  }
}

/** Constant-time check of `password` against a parsed stored hash. */
export async function verifyPassword(password: Buffer, stored: ScryptHash): Promise<boolean> {
  const got = await scrypt(password, stored.salt, stored.hash.length, { N: 2 ** stored.logN, r: stored.r, p: stored.p, maxmem: memFor(stored) });
  return timingSafeEqual(got, stored.hash);
}
