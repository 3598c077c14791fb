/**
 * The body of software-engine.ec-keygen-and-parse-survive-gc-pressure.test.ts. Not a test file of
 * its own (it does not end in .test.ts): that test runs it in a child jest, in band, in a node with
 * a 1 MiB young generation, so that allocations made by node:crypto's native code run garbage
 * collections often.
 *
 * Each round generates EC key pairs the way the software engine does (generateKeyPairSync("ec"))
 * and has the engine check them at once, while the KeyGenJob that made them is already garbage:
 * through generateSoftwareKey, and through softwareKey() on copies of the fresh private key received
 * over a MessagePort (copies share the generated key's native data and its mutex, which is what a
 * key handed over from a worker thread looks like). It also parses EC and RSA wrapping keys.
 * When the check read KeyObject.asymmetricKeyDetails, Node 20.20.2 deadlocked here within the
 * first few hundred rounds (main thread in GetEcKeyDetail -> GC -> ~KeyGenJob -> mutex wait).
 */
import { writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import type { KeyType } from "@ciop/hsm";
import { generateSoftwareKey, parseWrappingKey, softwareKey } from "../../src/index.js";

const ROUNDS = Number(process.env.CIOP_GC_STRESS_ROUNDS ?? "300");
const COPIES = Number(process.env.CIOP_GC_STRESS_COPIES ?? "100");
const PROGRESS = process.env.CIOP_GC_STRESS_PROGRESS;

const EC: ReadonlyArray<readonly [KeyType, string]> = [
  ["EC-NISTP256", "prime256v1"],
  ["EC-NISTP384", "secp384r1"],
  ["EC-SECP256K1", "secp256k1"],
];

it(`EC keys generated and checked ${ROUNDS} times under frequent GCs`, () => {
  const rsaSpki = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "der", type: "spki" });
  const { port1, port2 } = new MessageChannel();
  const copy = <T>(value: T): T => {
    port1.postMessage(value);
    return receiveMessageOnPort(port2)!.message as T;
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const [type, curve] = EC[round % EC.length]!;
      expect(generateSoftwareKey(`g${round}`, type).type).toBe(type);
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      for (let i = 0; i < COPIES; i++) softwareKey(`c${round}`, type, copy(privateKey));
      expect(parseWrappingKey(publicKey.export({ format: "der", type: "spki" })).type).toBe("EC");
      expect(parseWrappingKey(rsaSpki).bits).toBe(2048);
      if (PROGRESS && round % 50 === 0) writeFileSync(PROGRESS, `${round}\n`);
    }
  } finally {
    port1.close();
  }
  if (PROGRESS) writeFileSync(PROGRESS, `done ${ROUNDS}\n`);
});
