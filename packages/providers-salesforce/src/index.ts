/**
 * @ciop/providers-salesforce: Salesforce Shield Platform Encryption BYOK rules and artefacts.
 * @packageDocumentation
 */
export { salesforceByok, planSalesforce, exportSalesforce } from "./salesforce.js";
export {
  SALESFORCE_PROVIDER_NAME,
  SALESFORCE_ALGORITHMS,
  SALESFORCE_KEY_TYPES,
  SALESFORCE_DEFAULT_KEY_TYPE,
  SALESFORCE_WRAPPING_KEY_BITS,
  salesforceWrappedFileName,
  salesforceHashFileName,
} from "./rules.js";
export type { SalesforceAlgorithm } from "./rules.js";
export * from "./cache-only/index.js";
