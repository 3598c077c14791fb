/** Field readers shared by the main config parser and the [salesforce] section parser. */
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
