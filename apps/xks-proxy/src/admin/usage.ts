/**
 * Key usage (CKA_ENCRYPT / CKA_DECRYPT) of an AES key, read and written in the HSM, and the key
 * state the proxy derives from it (same rule as the server's hsm-backend):
 * - a key ciop created with neither usage is DISABLED (that is how `keys disable` switches it off);
 * - any other key reports its usages as they are (a foreign key with neither is a "no usage" key).
 *
 * The public Hsm API sets both usages together (setKeyEnabled); a single usage goes through the
 * same internal attribute helpers the Hsm class uses for that.
 */
import { CiopError } from "@ciop/core";
import type { Hsm, HsmKey, KeyInfo } from "@ciop/hsm";

const CKA_ENCRYPT = 0x104;
const CKA_DECRYPT = 0x105;

export interface Usage {
  encrypt: boolean;
  decrypt: boolean;
}

export type UsageName = "encrypt-decrypt" | "encrypt-only" | "decrypt-only" | "none";

export function usageName(u: Usage): UsageName {
  return u.encrypt && u.decrypt ? "encrypt-decrypt" : u.encrypt ? "encrypt-only" : u.decrypt ? "decrypt-only" : "none";
}

export function usageFrom(name: Exclude<UsageName, "none">): Usage {
  return { encrypt: name !== "decrypt-only", decrypt: name !== "encrypt-only" };
}

interface HsmInternals {
  withHandle<T>(key: HsmKey, f: (h: Buffer) => T): T;
  attrs(h: Buffer, types: number[], context: string): Map<number, Buffer>;
  setAttrs(h: Buffer, template: Array<{ type: number; value: boolean }>, context: string): void;
}

function internals(hsm: Hsm): HsmInternals {
  const h = hsm as unknown as Partial<HsmInternals>;
  if (typeof h.withHandle !== "function" || typeof h.attrs !== "function" || typeof h.setAttrs !== "function") {
    throw new CiopError("ERR_INTERNAL", "this @ciop/hsm version cannot read or set a single key usage");
  }
  return h as HsmInternals;
}

export function readUsage(hsm: Hsm, key: HsmKey): Usage {
  const i = internals(hsm);
  const a = i.withHandle.call(hsm, key, (h: Buffer) => i.attrs.call(hsm, h, [CKA_ENCRYPT, CKA_DECRYPT], `reading the usage of '${key.name}'`)) as Map<
    number,
    Buffer
  >;
  return { encrypt: a.get(CKA_ENCRYPT)?.[0] === 1, decrypt: a.get(CKA_DECRYPT)?.[0] === 1 };
}

export function writeUsage(hsm: Hsm, key: HsmKey, u: Usage): void {
  const i = internals(hsm);
  i.withHandle.call(hsm, key, (h: Buffer) =>
    i.setAttrs.call(
      hsm,
      h,
      [
        { type: CKA_ENCRYPT, value: u.encrypt },
        { type: CKA_DECRYPT, value: u.decrypt },
      ],
      `setting the usage of '${key.name}'`,
    ),
  );
}

/** The proxy's view of an AES key: enabled or not, and what it may do. */
export function proxyState(info: Pick<KeyInfo, "createdByCiop">, u: Usage): { enabled: boolean; usage: UsageName } {
  const disabled = info.createdByCiop && !u.encrypt && !u.decrypt;
  return { enabled: !disabled, usage: disabled ? "none" : usageName(u) };
}
