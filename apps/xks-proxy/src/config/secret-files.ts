/**
 * File permission checks for secrets: a file that holds a secret (PIN, SigV4 secret, password
 * hash) must not be writable by anyone but its owner, since whoever can write it chooses the
 * secret; one that others can read gets a warning. A config file that others can read and that
 * holds secrets inline gets a warning too.
 */
import { statSync } from "node:fs";
import { bad } from "./fields.js";

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, "0");

/**
 * Checks the file holding a secret. Refuses (ERR_CONFIG_INVALID) a file that is group- or
 * world-writable, or that cannot be read; returns a warning (for the log) when it is readable by
 * others (world-readable), else undefined. `what` names the setting, e.g. "[hsm] pin_file".
 * The Salesforce route group calls it for its own secret files.
 */
export function checkSecretFile(file: string, what: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    bad(`${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if ((mode & 0o022) !== 0) {
    bad(
      `${what}: ${file} is ${mode & 0o002 ? "world" : "group"}-writable (mode ${octal(mode)}); anyone who can write it chooses the secret. Run chmod go-w on it (0600 or 0640 is right)`,
    );
  }
  if ((mode & 0o004) !== 0) return `${what}: ${file} is readable by every user on this host (mode ${octal(mode)}); restrict it with chmod o-r (0600 or 0640)`;
  return undefined;
}

/**
 * Checks the configuration file itself: refuses one that is world-writable (anyone on the host
 * could add a credential or a key), and returns warnings for one that is group-writable, or
 * world-readable while holding secrets inline (`inlineSecrets`: the settings, e.g.
 * "stores[0].credentials[0].secret_access_key").
 */
export function checkConfigFile(file: string, inlineSecrets: readonly string[], moveHint = ""): string[] {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return []; // it was just read; a race with a rename is the reader's business
  }
  if ((mode & 0o002) !== 0)
    bad(
      `the configuration file ${file} is world-writable (mode ${octal(mode)}): anyone on this host could change credentials and key allow-lists. Run chmod o-w on it`,
    );
  const out: string[] = [];
  if ((mode & 0o020) !== 0)
    out.push(`the configuration file ${file} is group-writable (mode ${octal(mode)}): members of its group can change credentials and key allow-lists`);
  if ((mode & 0o004) !== 0 && inlineSecrets.length > 0) {
    out.push(
      `the configuration file ${file} is readable by every user on this host (mode ${octal(mode)}) and holds secrets inline (${inlineSecrets.join(", ")}): ` +
        `restrict it (chmod o-r)${moveHint}`,
    );
  }
  return out;
}
