/**
 * Issue 15 ("Export: one flow"): runExport is the whole export, with hooks where an app acts
 * between the steps. On the real SoftHSM token: `planned` sees the declared files before the key
 * source is even opened (a refusal there opens nothing and creates nothing); an existing disabled
 * key is refused (ERR_KEY_DISABLED) and kept; a failing `deliver` discards the key this call made
 * and `failed` is told so, after it happened; a provider whose artefacts differ from the files it
 * declared, or that declares an unusable file name, is an internal error and leaves no key.
 * Before this change runExport had no hooks, no declared files and wrapped disabled keys.
 */
import { CiopError } from "@ciop/core";
import { Hsm } from "@ciop/hsm";
import { hsmKeySource, runExport, type ExportFailure, type ExportPlan, type ExportRequest, type KeySource, type ProviderModule } from "../src/index.js";
import { makeWrappingKeyPair, type WrappingKeyPair } from "./support/openssl.js";
import { codeOf } from "./support/code-of.js";

/** AES-256 under RSA-OAEP SHA-1, writing `<key>-wrapped`; `files` overrides what it declares. */
function demo(files?: (plan: ExportPlan) => string[]): ProviderModule {
  return {
    names: ["demo"],
    algorithms: ["OAEP_SHA1"],
    keyTypes: ["AES-256"],
    defaultKeyType: "AES-256",
    wrappingKeyBits: [2048],
    plan: (r: ExportRequest): ExportPlan => ({
      provider: "demo",
      keyName: r.keyName,
      keyType: "AES-256",
      algorithm: "OAEP_SHA1",
      wrappingKey: r.wrappingKey,
      warnings: [],
      extra: {},
    }),
    outputFiles: files ?? ((plan) => [`${plan.keyName}-wrapped`]),
    async export(plan, engine, target) {
      const out = await engine.rsaOaep(plan.wrappingKey, target, "sha1");
      return {
        plan,
        artefacts: [{ fileName: `${plan.keyName}-wrapped`, bytes: out.bytes, encoding: "binary", usage: "test" }],
        hostFallback: out.hostFallback,
        steps: out.steps,
      };
    },
  };
}

let hsm: Hsm;
let kp: WrappingKeyPair;
const name = (s: string) => `hooks-${process.pid}-${s}`;
const req = (keyName: string) => ({ provider: "demo", keyName, wrappingKey: kp.spkiDer, algorithm: "OAEP_SHA1" });

beforeAll(async () => {
  kp = makeWrappingKeyPair(2048);
  hsm = await Hsm.open({ library: process.env.CIOP_TEST_LIB!, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
});
afterAll(async () => {
  await hsm?.close();
});

test("planned sees the declared files before the key source is opened; refusing there opens and creates nothing", async () => {
  const keyName = name("planned");
  const order: string[] = [];
  const open = (): KeySource => {
    order.push("open");
    return hsmKeySource(hsm);
  };
  const refuse = async () => {
    order.push("planned");
    throw new CiopError("ERR_OUTPUT_EXISTS", "test: the file is there");
  };
  expect(await codeOf(runExport(demo(), req(keyName), open, { planned: refuse }))).toBe("ERR_OUTPUT_EXISTS");
  expect(order).toEqual(["planned"]);
  expect(hsm.findKey(keyName)).toBeUndefined();

  const seen: Array<readonly string[]> = [];
  const r = await runExport(demo(), req(keyName), open, {
    planned: (_plan, files) => {
      order.push("planned");
      seen.push(files);
    },
    keyReady: (c) => {
      order.push(`keyReady:${c.created}:${c.enabled}`);
    },
    deliver: (res) => {
      order.push(`deliver:${res.files.join(",")}`);
    },
  });
  expect(seen).toEqual([[`${keyName}-wrapped`]]);
  expect(order.slice(1)).toEqual(["planned", "open", "keyReady:true:true", `deliver:${keyName}-wrapped`]);
  expect(r.files).toEqual([`${keyName}-wrapped`]);
});

test("an existing disabled key is refused before anything is wrapped, and kept", async () => {
  const keyName = name("disabled");
  await runExport(demo(), req(keyName), hsmKeySource(hsm));
  hsm.setKeyEnabled(keyName, false);
  const contexts: Array<{ created: boolean; enabled: boolean | undefined }> = [];
  const failures: ExportFailure[] = [];
  const code = await codeOf(
    runExport(demo(), req(keyName), hsmKeySource(hsm), {
      keyReady: (c) => {
        contexts.push({ created: c.created, enabled: c.enabled });
      },
      deliver: () => {
        throw new Error("must not be reached");
      },
      failed: (f) => {
        failures.push(f);
      },
    }),
  );
  expect(code).toBe("ERR_KEY_DISABLED");
  expect(contexts).toEqual([{ created: false, enabled: false }]);
  expect(failures.map((f) => ({ created: f.created, discarded: f.discarded, code: (f.error as CiopError).code }))).toEqual([
    { created: false, discarded: false, code: "ERR_KEY_DISABLED" },
  ]);
  expect(hsm.findKey(keyName)).toBeDefined();
  hsm.setKeyEnabled(keyName, true);
  expect((await runExport(demo(), req(keyName), hsmKeySource(hsm))).created).toBe(false);
});

test("a failing deliver discards the key this call created; failed is told after the discard", async () => {
  const keyName = name("deliver");
  let existedWhenFailed: boolean | undefined;
  const failures: Array<Pick<ExportFailure, "created" | "discarded">> = [];
  const code = await codeOf(
    runExport(demo(), req(keyName), hsmKeySource(hsm), {
      deliver: () => {
        throw new CiopError("ERR_OUTPUT_EXISTS", "test: cannot write");
      },
      failed: (f) => {
        existedWhenFailed = hsm.findKey(keyName) !== undefined;
        failures.push({ created: f.created, discarded: f.discarded });
      },
    }),
  );
  expect(code).toBe("ERR_OUTPUT_EXISTS");
  expect(failures).toEqual([{ created: true, discarded: true }]);
  expect(existedWhenFailed).toBe(false);
  expect(hsm.findKey(keyName)).toBeUndefined();
});

test("artefacts that differ from the declared files, or an unusable declared name, are internal errors and leave no key", async () => {
  const other = name("mismatch");
  expect(
    await codeOf(
      runExport(
        demo((p) => [`${p.keyName}-other`]),
        req(other),
        hsmKeySource(hsm),
      ),
    ),
  ).toBe("ERR_INTERNAL");
  expect(hsm.findKey(other)).toBeUndefined();
  for (const bad of [["../escape"], ["a/b"], [""], ["x", "x"], []]) {
    const keyName = name(`unusable-${bad.length}`);
    let opened = false;
    const open = () => {
      opened = true;
      return hsmKeySource(hsm);
    };
    expect({
      bad,
      code: await codeOf(
        runExport(
          demo(() => bad),
          req(keyName),
          open,
        ),
      ),
      opened,
    }).toEqual({ bad, code: "ERR_INTERNAL", opened: false });
    expect(hsm.findKey(keyName)).toBeUndefined();
  }
});
