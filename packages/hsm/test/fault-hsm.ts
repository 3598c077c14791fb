import { mkdtempSync } from "node:fs";
import path from "node:path";
import { Hsm, type HsmKey } from "../src/index.js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { uniqueName } from "./helpers.js";

/** What {@link useFaultModuleHsm} sets up; `hsm` and `key` are there once the file's beforeAll hooks ran. */
export interface FaultModuleHsm {
  /** A directory of this test file's own (the module copy and its control file live there). */
  dir: string;
  /** The fault rules read by the module (cleared after each test). */
  control: FaultControl;
  hsm: Hsm;
  /** An AES-256 token key (not extractable), deleted after the file's tests. */
  key: HsmKey;
}

/**
 * Registers the jest hooks that open an Hsm on the fault-injecting PKCS#11 module
 * (tools/pkcs11-fault) over the jest run's SoftHSM token and create one AES-256 key in it; rules are
 * cleared after each test, the key deleted and the Hsm closed after the file.
 */
export function useFaultModuleHsm(dirPrefix: string, keyPrefix: string): FaultModuleHsm {
  const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, dirPrefix));
  const fx = { dir, control: new FaultControl(path.join(dir, "faults")) } as FaultModuleHsm;
  beforeAll(async () => {
    fx.control.clear();
    const library = faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, control: fx.control.file }));
    fx.hsm = await Hsm.open({ library, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
    fx.key = (await fx.hsm.getOrCreateKey(uniqueName(keyPrefix), "AES-256", { extractable: false })).key;
  });
  afterEach(() => fx.control.clear());
  afterAll(async () => {
    fx.hsm.deleteKey(fx.key.name);
    await fx.hsm.close();
  });
  return fx;
}
