/**
 * The engines a matrix test runs on. Software: node:crypto keys. HSM: the real SoftHSM token
 * from jest's globalSetup (CIOP_TEST_LIB / CIOP_TEST_TOKEN_LABEL / CIOP_TEST_PIN), keys generated
 * in the token.
 */
import { Hsm } from "@ciop/hsm";
import { createHsmEngine, createSoftwareEngine, generateSoftwareKey, hsmKey, type KeyType, type TargetKey, type WrapEngine } from "@ciop/wrap";

export interface EngineFixture {
  label: "software" | "hsm";
  /** Prefix for key names, unique per test file and engine. */
  prefix: string;
  open(): Promise<WrapEngine>;
  /** Creates a target key of `type` named `name`. */
  key(name: string, type: KeyType): Promise<TargetKey>;
  close(): Promise<void>;
}

export function softwareFixture(prefix: string): EngineFixture {
  return {
    label: "software",
    prefix: `${prefix}-sw`,
    open: async () => createSoftwareEngine(),
    key: async (name, type) => generateSoftwareKey(name, type),
    close: async () => undefined,
  };
}

/** Opens the jest run's SoftHSM token. */
export function openTestHsm(): Promise<Hsm> {
  return Hsm.open({
    library: process.env.CIOP_TEST_LIB!,
    token: process.env.CIOP_TEST_TOKEN_LABEL!,
    pin: { value: process.env.CIOP_TEST_PIN! },
  });
}

export function hsmFixture(prefix: string): EngineFixture {
  let hsm: Hsm | undefined;
  return {
    label: "hsm",
    prefix: `${prefix}-hsm-${process.pid}`,
    open: async () => {
      hsm = await openTestHsm();
      return createHsmEngine(hsm);
    },
    key: async (name, type) => hsmKey(await hsm!.generateKey(name, type)),
    close: async () => {
      await hsm?.close();
    },
  };
}

export function engines(prefix: string): EngineFixture[] {
  return [softwareFixture(prefix), hsmFixture(prefix)];
}
