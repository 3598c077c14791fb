/**
 * defineProvider: one provider module from its rules and its three steps, frozen.
 */
import type { ProviderModule, ProviderOptions } from "@ciop/wrap";

/**
 * Builds a frozen {@link ProviderModule}. The spec is the module itself; this only freezes it (and
 * its name list) so an app cannot change a provider's rules at run time.
 *
 * @example
 * ```ts
 * export const awsKms = defineProvider({
 *   names: ["aws"], algorithms: AWS_ALGORITHMS, keyTypes: AWS_KEY_TYPES, defaultKeyType: "AES-256",
 *   wrappingKeyBits: [2048, 3072, 4096], plan: planAws, outputFiles: (p) => [`${p.keyName}-wrapped`], export: exportAws,
 * });
 * ```
 * @public
 */
export function defineProvider<Options extends ProviderOptions = ProviderOptions>(spec: ProviderModule<Options>): ProviderModule<Options> {
  return Object.freeze({
    names: Object.freeze([...spec.names]),
    algorithms: spec.algorithms,
    keyTypes: spec.keyTypes,
    defaultKeyType: spec.defaultKeyType,
    wrappingKeyBits: spec.wrappingKeyBits,
    plan: spec.plan,
    outputFiles: spec.outputFiles,
    export: spec.export,
  });
}
