/** Field readers shared by the config parsers and the [salesforce] section parser. */
import path from "node:path";
import { CiopError } from "@ciop/core";

export type Table = Record<string, unknown>;

export function bad(msg: string): never {
  throw new CiopError("ERR_CONFIG_INVALID", msg);
}

export function bool(t: Table, k: string, where: string): boolean | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") bad(`${where}.${k} must be true or false`);
  return v;
}

export function table(v: unknown, where: string): Table {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) bad(`${where} must be a table`);
  return v as Table;
}

export function str(t: Table, k: string, where: string): string | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "string") bad(`${where}.${k} must be a string`);
  return v;
}

export function num(t: Table, k: string, where: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) bad(`${where}.${k} must be a number from ${min} to ${max}`);
  return v;
}

export function strList(t: Table, k: string, where: string): string[] | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) bad(`${where}.${k} must be a list of strings`);
  return v as string[];
}

export function resolvePath(dir: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : path.resolve(dir, p);
}

export function decodeB64(s: string, where: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) bad(`${where} is not standard Base64`);
  return new Uint8Array(Buffer.from(s, "base64"));
}
