/**
 * The parts every provider package's suites repeat: the describe block per engine with its
 * open/close, the request builder of the refusal tests, the refusal checks they all make (bad
 * wrapping-key files, unsafe key names, a step the token cannot do) and the export that must go
 * through, and the refusal a plan() call must raise. What each provider accepts or refuses stays in
 * its own test file; these only run and check it.
 */
import { CiopError } from "@ciop/core";
import { runExport, type ExportRequestInput, type KeyType, type ProviderModule, type ProviderOptions, type RunExportResult, type WrapEngine } from "@ciop/wrap";
import { engines, type EngineFixture } from "./engines.js";
import { expectRefused, notPossibleOn, type BadWrappingKey, type Hash, type Scheme } from "./matrix.js";

/**
 * Runs `fn`, which must throw a CiopError (a plan() call, or any other synchronous check that must
 * refuse), and returns the error's code and message. Fails the test when `fn` returns or throws
 * anything else.
 */
export function planFailure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(CiopError.isInstance(err)).toBe(true);
    return { code: (err as CiopError).code, message: (err as Error).message };
  }
  throw new Error("expected plan() to throw");
}

/**
 * Declares one describe block per engine of this run ({@link engines}), titled `title` (jest's
 * `$label` there names the engine), that opens the engine before its tests and closes it after
 * them. `body` declares the tests; `engine()` returns the open engine inside a test or hook.
 */
export function describeOnEachEngine(prefix: string, title: string, body: (fixture: EngineFixture, engine: () => WrapEngine) => void): void {
  describe.each(engines(prefix))(title, (fixture: EngineFixture) => {
    let engine: WrapEngine | undefined;
    beforeAll(async () => {
      engine = await fixture.open();
    });
    afterAll(async () => {
      await fixture.close();
    });
    body(fixture, () => {
      if (engine === undefined) throw new Error(`the ${fixture.label} engine is not open (use engine() inside a test)`);
      return engine;
    });
  });
}

/** Requests issued so far per fixture, so that every builder on one fixture names keys apart. */
const issued = new WeakMap<EngineFixture, number>();

/**
 * The request builder of a refusal test on one engine fixture: every request gets a key name under
 * the fixture's prefix that no earlier request on this fixture had (so a refusal that did create a
 * key is seen by name), then the test's defaults from `base()` (called each time, so it may read
 * keys the suite's beforeAll made), then `over`. `Options` (the provider options a request may
 * carry) is the loose default unless given, so a test can pass options the provider must refuse.
 */
export function exportRequests<Options extends ProviderOptions = ProviderOptions>(
  fixture: EngineFixture,
  base: () => Omit<ExportRequestInput<NoInfer<Options>>, "keyName">,
): (over?: Partial<ExportRequestInput<Options>>) => ExportRequestInput<Options> {
  return (over = {}) => {
    const n = issued.get(fixture) ?? 0;
    issued.set(fixture, n + 1);
    return { keyName: `${fixture.prefix}-${n}`, ...base(), ...over } as ExportRequestInput<Options>;
  };
}

/**
 * Each bad wrapping-key input (from {@link badWrappingKeys}) in the request `withKey` makes must be
 * refused with its code, creating no key; `labelPrefix` tells several services' checks apart.
 */
export async function expectBadWrappingKeysRefused<Options extends ProviderOptions>(
  fixture: EngineFixture,
  module: ProviderModule<Options>,
  bad: readonly BadWrappingKey[],
  withKey: (wrappingKey: BadWrappingKey["wrappingKey"]) => ExportRequestInput<Options>,
  labelPrefix = "",
): Promise<void> {
  for (const b of bad) await expectRefused(fixture, module as ProviderModule, withKey(b.wrappingKey) as ExportRequestInput, b.code, `${labelPrefix}${b.label}`);
}

/** Key names no provider may turn into file names: empty, a path up, a path down, a hidden file. */
export const UNSAFE_KEY_NAMES: readonly string[] = ["", "../x", "a/b", ".hidden"];

/** Each of {@link UNSAFE_KEY_NAMES} in the request `withName` makes must be refused (ERR_KEY_NAME_INVALID), creating no key. */
export async function expectUnsafeKeyNamesRefused<Options extends ProviderOptions>(
  fixture: EngineFixture,
  module: ProviderModule<Options>,
  withName: (keyName: string) => ExportRequestInput<Options>,
): Promise<void> {
  for (const keyName of UNSAFE_KEY_NAMES) {
    await expectRefused(
      fixture,
      module as ProviderModule,
      withName(keyName) as ExportRequestInput,
      "ERR_KEY_NAME_INVALID",
      `key name ${JSON.stringify(keyName)}`,
    );
  }
}

/**
 * For an export that needs `step` (scheme, hash, target key type): when the fixture's token cannot
 * do it at all ({@link notPossibleOn}, decided by the probe), checks that `request` is refused with
 * ERR_MECHANISM_UNSUPPORTED and leaves no key, and returns true (the test then stops); otherwise
 * returns false and checks nothing.
 */
export async function refusedWhereNotPossible<Options extends ProviderOptions>(
  fixture: EngineFixture,
  module: ProviderModule<Options>,
  request: ExportRequestInput<Options>,
  step: [Scheme, Hash, KeyType],
  label: string,
): Promise<boolean> {
  if (!notPossibleOn(fixture, ...step)) return false;
  await expectRefused(fixture, module as ProviderModule, request as ExportRequestInput, "ERR_MECHANISM_UNSUPPORTED", label);
  return true;
}

/** Runs `request`, which must go through and create its key in the fixture's key store; returns the result. */
export async function exportCreatingKey<Options extends ProviderOptions>(
  fixture: EngineFixture,
  module: ProviderModule<Options>,
  request: ExportRequestInput<Options>,
): Promise<RunExportResult> {
  const result = await runExport(module, request, fixture.source());
  expect(result.created).toBe(true);
  expect(fixture.keyExists(request.keyName)).toBe(true);
  return result;
}
