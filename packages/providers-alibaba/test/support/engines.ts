/**
 * The engines a matrix test runs on. Software: node:crypto keys. HSM: the real SoftHSM token
 * from jest's globalSetup (CIOP_TEST_LIB / CIOP_TEST_TOKEN_LABEL / CIOP_TEST_PIN).
 */
import { createSoftwareEngine, generateSoftwareKey, type KeyType, type TargetKey, type WrapEngine } from "@ciop/wrap";

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

export function engines(prefix: string): EngineFixture[] {
  return [softwareFixture(prefix)];
}
