/**
 * The package version, injected at build time by tsup (`define`); "dev" when running from source.
 */
declare const __CIOP_PROVIDERS_AZURE_VERSION__: string | undefined;

/** @internal */
export const VERSION: string = typeof __CIOP_PROVIDERS_AZURE_VERSION__ === "string" ? __CIOP_PROVIDERS_AZURE_VERSION__ : "dev";
