/**
 * A [salesforce] path_prefix that overlaps a key store's XKS routes (<uri_prefix>/kms/xks/v1/...) or
 * the server's /ping and /metrics is a config error naming both sides: at load, at start with a
 * config built in code, and at reload (where the running server keeps its old config).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { CiopError } from "@ciop/core";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig, parseConfig, type ProxyConfig } from "../src/proxy-config.js";
import type { RouteGroupFactory } from "../src/route-group.js";
import { startServer, type RunningServer } from "../src/server.js";
import { ciopToml, md, post, send, storeToml, testDir } from "./proxy-helpers.js";

const C = generateXksCredential();
let dir: string;
let srv: RunningServer | undefined;

beforeAll(() => {
  dir = testDir("sf-overlap");
});
afterAll(async () => {
  await srv?.close();
});

/** A ciop TOML with stores (name → uri_prefix) and a [salesforce] section (path_prefix absent when undefined). */
function toml(stores: Record<string, string>, sfPrefix: string | undefined): string {
  const st = Object.entries(stores)
    .map(([name, prefix]) => storeToml(name, prefix, ["ov-key"], [C]))
    .join("\n");
  const sf = ["[salesforce]", ...(sfPrefix !== undefined ? [`path_prefix = "${sfPrefix}"`] : [])].join("\n");
  return ciopToml({ stores: st, extra: sf, healthKey: "ov-health" });
}

async function configError(text: string): Promise<string | undefined> {
  try {
    await parseConfig(text, { dir });
    return undefined;
  } catch (err) {
    if (!CiopError.isInstance(err)) throw err;
    expect((err as CiopError).code).toBe("ERR_CONFIG_INVALID");
    return (err as Error).message;
  }
}

/** A stand-in route group that answers 200 under its prefix (the real Salesforce group needs keys and certificates). */
const stubGroups = (prefix?: string): Record<string, RouteGroupFactory> => ({
  salesforce: async (section) => ({
    name: "salesforce",
    pathPrefix: prefix ?? String((section as { path_prefix?: string }).path_prefix ?? "/salesforce/keys"),
    handle: async (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" }).end("stub");
      return { status: 200 };
    },
    close: async () => undefined,
  }),
});

describe("at config load", () => {
  test.each([
    ["the prefix of a store", { t: "/tenant" }, "/tenant", "'/tenant'", "'t'"],
    ["above a store's XKS routes", { t: "/tenant/xks" }, "/tenant", "'/tenant'", "'t'"],
    ["equal to a store's XKS base path", { t: "/tenant/xks" }, "/tenant/xks/kms/xks/v1", "'/tenant/xks/kms/xks/v1'", "'t'"],
    ["below a store's XKS routes", { root: "" }, "/kms/xks/v1/sf", "'/kms/xks/v1/sf'", "'root'"],
    ["the default prefix over a store", { sfstore: "/salesforce/keys" }, undefined, "'/salesforce/keys'", "'sfstore'"],
    ["below /ping", { t: "/tenant" }, "/ping/sf", "'/ping/sf'", "/ping"],
    ["below /metrics", { t: "/tenant" }, "/metrics/sf", "'/metrics/sf'", "/metrics"],
  ])("refused: %s", async (_title, stores, prefix, sfWord, otherWord) => {
    const msg = await configError(toml(stores, prefix));
    expect(msg).toBeDefined();
    expect(msg).toContain("[salesforce] path_prefix");
    expect(msg).toContain(sfWord);
    expect(msg).toContain(otherWord);
  });

  test.each([
    ["a sibling of the store prefix", { t: "/tenant/xks" }, "/tenant/sf"],
    ["a name that only starts like the store prefix", { t: "/sf" }, "/sfx"],
    ["the default prefix next to the default store", { root: "" }, undefined],
    ["a store under the salesforce parent", { t: "/salesforce" }, "/salesforce/keys"],
    ["a prefix that only starts like ping", { root: "" }, "/pingx"],
  ])("accepted: %s", async (_title, stores, prefix) => {
    expect(await configError(toml(stores, prefix))).toBeUndefined();
  });
});

describe("server start and reload", () => {
  test("a config built in code is checked at start; so are the prefixes the groups really serve", async () => {
    const cfg: ProxyConfig = await parseConfig(toml({ t: "/tenant/xks" }, "/sf"), { dir });
    const overlapping: ProxyConfig = { ...cfg, stores: [{ ...cfg.stores[0]!, name: "moved", uriPrefix: "/sf" }] };
    await expect(startServer(overlapping, { routeGroups: stubGroups(), logSink: () => undefined })).rejects.toThrow(
      /path_prefix '\/sf' overlaps key store 'moved'/,
    );
    // the section says /sf, the group serves /tenant: refused, and nothing is left listening
    await expect(startServer(cfg, { routeGroups: stubGroups("/tenant"), logSink: () => undefined })).rejects.toThrow(
      /path_prefix '\/tenant' overlaps key store 't'/,
    );
  });

  test("reload refuses an overlapping prefix and keeps serving the old config", async () => {
    const file = path.join(dir, "reload.toml");
    writeFileSync(file, toml({ t: "/tenant/xks" }, "/sf"));
    srv = await startServer(await loadConfig(file), { routeGroups: stubGroups(), logSink: () => undefined });
    const health = () => post(srv!.url, "/tenant/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C });
    expect((await health()).status).toBe(200);
    expect((await send(srv.url, "/sf/k1", "GET", {}, "")).status).toBe(200);

    writeFileSync(file, toml({ t: "/tenant/xks" }, "/tenant"));
    await expect(srv.reload()).rejects.toThrow(/\[salesforce\] path_prefix '\/tenant' overlaps key store 't'/);
    // a config object handed to reload() is checked too
    const cfg = await parseConfig(toml({ t: "/tenant/xks" }, "/sf"), { dir });
    await expect(srv.reload({ ...cfg, stores: [{ ...cfg.stores[0]!, uriPrefix: "/sf/inner" }] })).rejects.toThrow(/overlaps key store 't'/);

    // still the old routes: XKS under /tenant/xks, the group under /sf
    expect((await health()).status).toBe(200);
    expect((await send(srv.url, "/sf/k1", "GET", {}, "")).status).toBe(200);
  });
});
