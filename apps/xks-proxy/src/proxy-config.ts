/**
 * The proxy's configuration as its entry points read it: config/ with the built-in route groups
 * registered (config/ itself knows route groups only through their registration).
 */
import { parseConfigText, readConfigFile, type ProxyConfig } from "./config/index.js";
import { BUILT_IN_ROUTE_GROUPS } from "./route-groups.js";

export * from "./config/index.js";

/** Parses TOML text (either format, auto-detected). */
export function parseConfig(text: string, options: { file?: string; dir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProxyConfig> {
  return parseConfigText(text, { ...options, routeGroups: BUILT_IN_ROUTE_GROUPS });
}

/**
 * Loads the configuration: `file`, else $XKS_PROXY_CONFIG, else $XKS_PROXY_SETTINGS_TOML (the AWS
 * sample proxy's variable), else ./xks-proxy.toml (config/path.ts).
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyConfig> {
  return readConfigFile(file, { env, routeGroups: BUILT_IN_ROUTE_GROUPS });
}
