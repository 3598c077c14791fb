export type { HashName, KeyType, TargetKey, WrappingKey, WrapResult, WrapEngine } from "./engine.js";
export type { ExportRequest, ExportPlan, Artefact, ExportResult, ProviderModule } from "./provider.js";
