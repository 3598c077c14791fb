/** Where the proxy's configuration file is: worked out here only (server, admin commands, Salesforce admin). */
import path from "node:path";

export const DEFAULT_CONFIG_FILE = "xks-proxy.toml";

export interface ConfigPath {
  /** Absolute path of the file. */
  file: string;
  /** Named by --config or the environment (false: the ./xks-proxy.toml default). */
  explicit: boolean;
}

/**
 * `flag` (--config), else $XKS_PROXY_CONFIG, else $XKS_PROXY_SETTINGS_TOML (the AWS sample proxy's
 * variable), else ./xks-proxy.toml. An empty variable counts as unset.
 */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigPath {
  const named = flag ?? (env.XKS_PROXY_CONFIG || undefined) ?? (env.XKS_PROXY_SETTINGS_TOML || undefined);
  return { file: path.resolve(named ?? DEFAULT_CONFIG_FILE), explicit: named !== undefined };
}
