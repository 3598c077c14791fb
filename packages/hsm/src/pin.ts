import { readFileSync } from "node:fs";
import { CiopError } from "@ciop/core";
import type { PinSource } from "./types.js";

function readPinFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CiopError("ERR_PIN_MISSING", `cannot read the PIN file ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`, { cause: err });
  }
  const pin = text.replace(/\r?\n$/, "");
  if (pin === "") throw new CiopError("ERR_PIN_MISSING", `the PIN file ${file} is empty`);
  return pin;
}

/** Reads a PIN from one source. */
export async function readPin(source: PinSource, what: string): Promise<string> {
  if ("value" in source) return source.value;
  if ("env" in source) {
    const v = process.env[source.env];
    if (v === undefined || v === "") throw new CiopError("ERR_PIN_MISSING", `the environment variable ${source.env} (${what}) is not set`);
    return v;
  }
  if ("file" in source) return readPinFile(source.file);
  const v = await source.prompt(what);
  if (!v) throw new CiopError("ERR_PIN_MISSING", `no ${what} was entered`);
  return v;
}

/**
 * PIN lookup order: options.pin, env CIOP_PIN, env CIOP_PIN_FILE, the embedded token's PIN file.
 * Returns undefined when nothing is configured.
 */
export async function resolvePin(option: PinSource | undefined, what: string, embeddedPin: string | undefined): Promise<string | undefined> {
  if (option) return readPin(option, what);
  if (process.env.CIOP_PIN) return process.env.CIOP_PIN;
  if (process.env.CIOP_PIN_FILE) return readPinFile(process.env.CIOP_PIN_FILE);
  return embeddedPin;
}
