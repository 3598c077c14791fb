import { generateSoftwareKey, createSoftwareEngine } from "../src/index.js";
import { engineConformance } from "./support/engine-conformance.js";

let n = 0;
engineConformance("software engine", async () => ({
  engine: createSoftwareEngine(),
  target: async (type) => generateSoftwareKey(`sw-${type}-${n++}`, type),
  expectHostFallback: () => false,
}));
