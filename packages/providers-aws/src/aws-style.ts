/**
 * The "AWS-style" import: the GetParametersForImport / ImportKeyMaterial shape AWS KMS introduced
 * and Tencent Cloud KMS, Open Telekom Cloud KMS and Huawei Cloud KMS copy. The cloud hands out an
 * RSA wrapping public key and an import token for one wrapping algorithm; the key material is
 * RSA-encrypted directly (RSAES_*), or, for key pairs, an ephemeral AES-256 key is RSA-OAEP
 * encrypted and the PKCS#8 private key is wrapped under it with RFC 5649.
 *
 * One definition holds what differs between those clouds (names, algorithms and what each carries,
 * key types and their key-spec names, wrapping-key sizes, legacy algorithms, file names and
 * encoding, the usage text) and {@link defineAwsStyleProvider} turns it into a provider module;
 * AWS KMS itself is defined this way (see rules.ts).
 */
import { CiopError } from "@ciop/core";
import {
  checkAlgorithmGiven,
  checkCertificate,
  checkKeyName,
  checkKeyType,
  checkProvider,
  checkProviderOptions,
  checkTargetType,
  checkWrappingKeyShape,
  defineProvider,
  oaepCapacity,
  pkcs1Capacity,
  plaintextSize,
  wrapStep,
} from "@ciop/provider-kit";
import { checkWrappingStrength, keyKind, keyTypeStrength, toBase64 } from "@ciop/wrap";
import type { Artefact, ExportPlan, ExportRequest, ExportResult, HashName, KeyType, ProviderModule, TargetKey, WrapEngine } from "@ciop/wrap";

/**
 * How one algorithm wraps one kind of key: `oaep` = RSA-OAEP of the material (OAEP and MGF1 with
 * `hash`, empty label); `pkcs1` = RSA PKCS#1 v1.5 of the material; `rsa-aes` = RSA-OAEP (`hash`) of
 * an ephemeral AES-256 key followed by the RFC 5649 wrap of the material under it.
 * @public
 */
export interface AwsStyleStep {
  readonly kind: "oaep" | "rsa-aes" | "pkcs1";
  readonly hash: HashName;
}

/**
 * One wrapping algorithm, under the cloud's own name. A kind of key the algorithm has no step for
 * is refused with it (ERR_ALGORITHM_UNSUPPORTED, naming the algorithms that do carry it).
 * @public
 */
export interface AwsStyleAlgorithm {
  /** AES and HMAC keys (raw bytes). */
  readonly secret?: AwsStyleStep;
  /** EC private keys (PKCS#8 DER). */
  readonly ec?: AwsStyleStep;
  /** RSA private keys (PKCS#8 DER). */
  readonly rsa?: AwsStyleStep;
  /** Set for a retired algorithm: refused unless `allowLegacy`, then this text is a warning. */
  readonly legacy?: string;
  /** A note every plan with this algorithm carries as a warning. */
  readonly warning?: string;
}

/** What the usage text of an artefact may refer to. @public */
export interface AwsStyleUsage {
  readonly plan: ExportPlan;
  /** The cloud's key spec for the target (rules.keySpecs), or the ciop key type. */
  readonly keySpec: string;
  readonly step: AwsStyleStep;
  /** The files of this export, in order (the key-material file, then the private-key file if any). */
  readonly files: readonly string[];
}

/**
 * The artefacts: one file holding the whole wrap, or (with `privateKeyFileName`) an `rsa-aes` wrap
 * split in two files the way Open Telekom Cloud / Huawei Cloud take it: the RSA-OAEP encrypted
 * ephemeral key in `fileName` and the RFC 5649 wrapped private key in `privateKeyFileName`.
 * @public
 */
export interface AwsStyleOutput {
  /** `binary` (what AWS's `fileb://` and console take) or `base64` text (what a JSON API takes). */
  readonly encoding: "binary" | "base64";
  fileName(keyName: string): string;
  privateKeyFileName?(keyName: string): string;
  /**
   * Least size in bytes the cloud's API takes for the wrapped private key file (Huawei's
   * `encrypted_privatekey`: 200 base64 characters, so 150 bytes): a token whose PKCS#8 leaves out
   * the EC public key makes a shorter one, which is refused here rather than at the cloud.
   */
  readonly privateKeyMinBytes?: number;
  /** The operator's instructions, with the exact console step and CLI/API call. */
  usage(u: AwsStyleUsage): string;
}

/**
 * One cloud's AWS-style import rules.
 * @public
 */
export interface AwsStyleRules<Algorithm extends string = string> {
  /** Name used in messages, e.g. "AWS KMS". */
  readonly label: string;
  /** Provider names the module answers to. */
  readonly names: readonly string[];
  /** Accepted wrapping algorithms, in the order they are listed to the user. */
  readonly algorithms: Readonly<Record<Algorithm, AwsStyleAlgorithm>>;
  readonly keyTypes: readonly KeyType[];
  readonly defaultKeyType: KeyType;
  /** The cloud's key spec for each key type (for the usage text). */
  readonly keySpecs: Readonly<Partial<Record<KeyType, string>>>;
  /** Wrapping key sizes the cloud issues (RSA bits). */
  readonly wrappingKeyBits: readonly number[];
  /**
   * Names the cloud offers that ciop does not produce (e.g. SM2 algorithms, SM4 keys), each with
   * the reason it is refused; requesting one gives that reason instead of a generic refusal.
   */
  readonly notOffered?: {
    readonly algorithms?: Readonly<Record<string, string>>;
    readonly keyTypes?: Readonly<Record<string, string>>;
  };
  /**
   * Warn when a key pair is stronger than the strongest wrapping key the cloud issues (the
   * transfer is then only as strong as that wrapping key).
   */
  readonly noteCappedStrength?: boolean;
  readonly output: AwsStyleOutput;
}

const FAMILY_KIND = { AES: "secret", HMAC: "secret", EC: "ec", RSA: "rsa" } as const;

/** Which member of an {@link AwsStyleAlgorithm} applies to a key type. */
function keyClass(keyType: KeyType): "secret" | "ec" | "rsa" {
  const family = keyType.split("-")[0] as keyof typeof FAMILY_KIND;
  return FAMILY_KIND[family];
}

function lookup(table: Readonly<Record<string, string>> | undefined, name: string | undefined): string | undefined {
  return table !== undefined && name !== undefined && Object.hasOwn(table, name) ? table[name] : undefined;
}

function algorithmNames(rules: AwsStyleRules): string[] {
  return Object.keys(rules.algorithms);
}

function algorithmOf(rules: AwsStyleRules, name: string): AwsStyleAlgorithm | undefined {
  return Object.hasOwn(rules.algorithms, name) ? (rules.algorithms as Record<string, AwsStyleAlgorithm>)[name] : undefined;
}

/**
 * The step `algorithm` takes for `keyType` under these rules, or undefined when the algorithm does
 * not carry that kind of key (or is not one of the rules' algorithms).
 * @public
 */
export function awsStyleStep(rules: AwsStyleRules, algorithm: string, keyType: KeyType): AwsStyleStep | undefined {
  return algorithmOf(rules, algorithm)?.[keyClass(keyType)];
}

/**
 * Validates a request against AWS-style rules and returns the plan. Checks, in this order:
 * provider name, key name, provider options (none are taken), algorithm (given, known, legacy
 * allowed), key type, algorithm x key type, wrapping key (RSA, an issued size, certificate
 * validity), plaintext fit for direct RSA encryption, wrapping-key strength.
 * @throws CiopError ERR_PROVIDER_UNKNOWN, ERR_KEY_NAME_INVALID, ERR_USAGE, ERR_ALGORITHM_UNSUPPORTED,
 * ERR_KEY_TYPE_UNSUPPORTED, ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE,
 * ERR_CERTIFICATE_NOT_VALID, ERR_WRAPPING_KEY_TOO_WEAK.
 * @public
 */
export function planAwsStyle(rules: AwsStyleRules, request: ExportRequest): ExportPlan {
  const { label } = rules;
  const provider = checkProvider(request.provider, rules.names);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], label);
  const names = algorithmNames(rules);
  const notOfferedAlgorithm = lookup(rules.notOffered?.algorithms, request.algorithm);
  if (notOfferedAlgorithm !== undefined && algorithmOf(rules, request.algorithm!) === undefined) {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${label}: ciop does not produce ${request.algorithm}: ${notOfferedAlgorithm} Accepted: ${names.join(", ")}.`,
    );
  }
  const algorithm = checkAlgorithmGiven(request.algorithm, names, label);
  const spec = algorithmOf(rules, algorithm)!;
  const warnings: string[] = [];
  if (spec.legacy !== undefined) {
    if (request.allowLegacy !== true) {
      throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${spec.legacy} To produce it anyway, explicitly allow legacy algorithms.`);
    }
    warnings.push(spec.legacy);
  }
  if (spec.warning !== undefined) warnings.push(spec.warning);
  const notOfferedType = lookup(rules.notOffered?.keyTypes, request.keyType);
  if (notOfferedType !== undefined) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `${label}: ciop does not produce key type "${request.keyType}": ${notOfferedType} Accepted: ${rules.keyTypes.join(", ")}.`,
    );
  }
  const keyType = checkKeyType(request.keyType, rules.keyTypes, rules.defaultKeyType, label);
  const step = awsStyleStep(rules, algorithm, keyType);
  if (step === undefined) {
    const carriers = names.filter((n) => awsStyleStep(rules, n, keyType) !== undefined);
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${algorithm} cannot carry ${keyType} keys for ${label}; ${label} imports ${keyType} only with ${carriers.join(" or ")}.`,
    );
  }
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, rules.wrappingKeyBits, label);
  warnings.push(...checkCertificate(wrappingKey, request.allowInvalidCertificate));
  if (step.kind !== "rsa-aes") {
    const size = plaintextSize(keyType) ?? Infinity;
    const capacity = step.kind === "oaep" ? oaepCapacity(wrappingKey.bits, step.hash) : pkcs1Capacity(wrappingKey.bits);
    if (size > capacity) {
      const wider = names.filter((n) => awsStyleStep(rules, n, keyType)?.kind === "rsa-aes");
      throw new CiopError(
        "ERR_WRAPPING_KEY_SIZE",
        `${keyType} key material (up to ${size} bytes) does not fit in one ${algorithm} block of an RSA-${wrappingKey.bits} wrapping key (at most ${capacity} bytes). ` +
          `Use a larger wrapping key${wider.length > 0 ? ` or ${wider.join(" / ")}` : ""}.`,
      );
    }
  }
  const maxBits = Math.max(...rules.wrappingKeyBits);
  const strengthWarnings = checkWrappingStrength({
    wrappingKey,
    targetType: keyType,
    providerMaxBits: maxBits,
    allowWeak: request.allowWeakWrappingKey === true,
  });
  warnings.push(...strengthWarnings);
  if (rules.noteCappedStrength === true && keyKind(keyType) === "private" && strengthWarnings.length === 0 && keyTypeStrength(keyType) > wrappingKey.strength) {
    warnings.push(
      `The RSA-${wrappingKey.bits} wrapping key (${wrappingKey.strength}-bit security) is weaker than ${keyType} (${keyTypeStrength(keyType)}-bit); ` +
        `${label} issues no larger wrapping key, so the transfer is only as strong as the wrapping key.`,
    );
  }
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: {} };
}

/**
 * The files an export of `plan` returns, in order: the key-material file, and the private-key file
 * when the rules split an `rsa-aes` wrap.
 * @public
 */
export function awsStyleOutputFiles(rules: AwsStyleRules, plan: ExportPlan): string[] {
  const { output } = rules;
  const step = awsStyleStep(rules, plan.algorithm, plan.keyType);
  const files = [output.fileName(plan.keyName)];
  if (step?.kind === "rsa-aes" && output.privateKeyFileName !== undefined) files.push(output.privateKeyFileName(plan.keyName));
  return files;
}

function encode(bytes: Uint8Array, encoding: "binary" | "base64"): Uint8Array {
  return encoding === "binary" ? bytes : new TextEncoder().encode(toBase64(bytes));
}

/**
 * Wraps `target` as `plan` says and returns the artefacts (see {@link AwsStyleOutput}). Writes nothing.
 * @throws CiopError ERR_ALGORITHM_UNSUPPORTED (a plan made for other rules), ERR_KEY_TYPE_MISMATCH,
 * and the engine's errors.
 * @public
 */
export async function exportAwsStyle(rules: AwsStyleRules, plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  if (algorithmOf(rules, plan.algorithm) === undefined) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `Plan algorithm "${plan.algorithm}" is not a wrapping algorithm of ${rules.label}.`);
  }
  checkTargetType(plan, target);
  const step = awsStyleStep(rules, plan.algorithm, plan.keyType);
  if (step === undefined) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${plan.algorithm} does not carry ${plan.keyType} keys for ${rules.label}.`);
  }
  const result = await wrapStep(engine, plan.wrappingKey, target, step);
  const files = awsStyleOutputFiles(rules, plan);
  let parts: Uint8Array[] = [result.bytes];
  if (files.length === 2) {
    // OAEP(ephemeral AES key) is exactly one modulus long; the RFC 5649 wrap of the key follows.
    const k = plan.wrappingKey.bits / 8;
    if (result.bytes.length <= k) {
      throw new CiopError(
        "ERR_INTERNAL",
        `${rules.label}: an RSA-AES wrap of ${result.bytes.length} bytes is too short for an RSA-${plan.wrappingKey.bits} key.`,
      );
    }
    parts = [result.bytes.subarray(0, k), result.bytes.subarray(k)];
    const min = rules.output.privateKeyMinBytes;
    if (min !== undefined && parts[1]!.length < min) {
      throw new CiopError(
        "ERR_MECHANISM_UNSUPPORTED",
        `${rules.label} takes a wrapped private key of at least ${min} bytes, but the token's wrap of this ${plan.keyType} key is ${parts[1]!.length}: ` +
          "the token writes the key's PKCS#8 without its public key (RFC 5915 allows that; the cloud's API does not). " +
          "Use a token that includes it, or a key whose wrap goes through the host (where ciop adds it).",
      );
    }
  }
  const usage = rules.output.usage({ plan, keySpec: rules.keySpecs[plan.keyType] ?? plan.keyType, step, files });
  const artefacts: Artefact[] = files.map((fileName, i) => ({
    fileName,
    bytes: encode(parts[i]!, rules.output.encoding),
    encoding: rules.output.encoding,
    usage,
  }));
  return { plan, artefacts, hostFallback: result.hostFallback, steps: result.steps };
}

/**
 * Builds a frozen provider module from AWS-style rules.
 *
 * @example
 * ```ts
 * export const tencentKms = defineAwsStyleProvider(TENCENT_RULES);
 * const plan = tencentKms.plan({ provider: "tencent", keyName: "k1", wrappingKey, algorithm: "RSAES_OAEP_SHA_256" });
 * ```
 * @public
 */
export function defineAwsStyleProvider(rules: AwsStyleRules): ProviderModule {
  return defineProvider({
    names: rules.names,
    algorithms: Object.freeze(algorithmNames(rules)),
    keyTypes: rules.keyTypes,
    defaultKeyType: rules.defaultKeyType,
    wrappingKeyBits: rules.wrappingKeyBits,
    plan: (request) => planAwsStyle(rules, request),
    outputFiles: (plan) => awsStyleOutputFiles(rules, plan),
    export: (plan, engine, target) => exportAwsStyle(rules, plan, engine, target),
  });
}
