/**
 * Issue 15 ("Export: one flow"): the provider kit replaces the five identical validate.ts copies
 * and adds what the copies lacked. Provider-specific options (Azure's kek, which used to be the
 * shared `azureKek` request field) are refused when a provider does not know them, instead of
 * being ignored; export() refuses a plan of another provider or a key of another type (also for
 * algorithm names that are Object prototype members); defineProvider freezes a module.
 * The request checks themselves are proven by every provider's plan and matrix tests.
 */
import { CiopError } from "@ciop/core";
import type { ExportPlan, TargetKey } from "@ciop/wrap";
import { checkProviderOptions, defineProvider, exportStep } from "@ciop/provider-kit";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return CiopError.isInstance(err) ? err.code : `not a CiopError: ${String(err)}`;
  }
  return undefined;
}

test("provider options: accepted members pass, unknown members and non-objects are usage errors naming them", () => {
  expect(checkProviderOptions(undefined, [], "AWS KMS")).toEqual({});
  expect(checkProviderOptions({ kek: "k" }, ["kek"], "Microsoft Azure")).toEqual({ kek: "k" });
  expect(codeOf(() => checkProviderOptions({ kek: "k" }, [], "AWS KMS"))).toBe("ERR_USAGE");
  expect(() => checkProviderOptions({ kek: "k" }, [], "AWS KMS")).toThrow(/AWS KMS takes no option "kek"\. It takes no provider options\./);
  expect(() => checkProviderOptions({ kek: "k", kekk: 1 }, ["kek"], "Microsoft Azure")).toThrow(/"kekk"\. Accepted: kek\./);
  for (const bad of [null, "kek", 3, ["kek"]]) expect({ bad, code: codeOf(() => checkProviderOptions(bad, ["kek"], "X")) }).toEqual({ bad, code: "ERR_USAGE" });
});

test("exportStep returns the step of a planned algorithm and refuses foreign algorithms and key types", () => {
  const steps = { OAEP_SHA1: { hash: "sha1" } } as const;
  const plan = { algorithm: "OAEP_SHA1", keyType: "AES-256" } as ExportPlan;
  const key = (type: string) => ({ name: "k", type }) as TargetKey;
  expect(exportStep(plan, key("AES-256"), steps, "Demo")).toEqual({ hash: "sha1" });
  expect(codeOf(() => exportStep({ ...plan, algorithm: "RSA_AES_KEY_WRAP_SHA_1" }, key("AES-256"), steps, "Demo"))).toBe("ERR_ALGORITHM_UNSUPPORTED");
  expect(codeOf(() => exportStep({ ...plan, algorithm: "constructor" }, key("AES-256"), steps, "Demo"))).toBe("ERR_ALGORITHM_UNSUPPORTED");
  expect(codeOf(() => exportStep(plan, key("AES-128"), steps, "Demo"))).toBe("ERR_KEY_TYPE_MISMATCH");
});

test("defineProvider returns a frozen module with a frozen name list", () => {
  const names = ["demo"];
  const m = defineProvider({
    names,
    algorithms: [],
    keyTypes: ["AES-256"],
    defaultKeyType: "AES-256",
    wrappingKeyBits: [2048],
    plan: () => {
      throw new Error("unused");
    },
    outputFiles: () => ["x"],
    export: async () => {
      throw new Error("unused");
    },
  });
  names.push("changed");
  expect(m.names).toEqual(["demo"]);
  expect(Object.isFrozen(m) && Object.isFrozen(m.names)).toBe(true);
  expect(m.outputFiles({} as ExportPlan)).toEqual(["x"]);
});
