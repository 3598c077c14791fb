/**
 * Issue 14, item 1: mTLS changed by a reload. node fixes requestCert/rejectUnauthorized when the
 * HTTPS server is created and setSecureContext does not touch them, so before the fix adding
 * `client_ca_file` by reload kept serving clients without a certificate (fail-open), adding CA +
 * subject refused every client, and removing the CA refused everyone. Every transition is driven
 * here through a reload of the config file, on both HTTP paths, and checked with real TLS clients.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { ciopToml, makeCerts, send, storeToml, testDir, type Certs } from "./proxy-helpers.js";

const C1 = generateXksCredential();
let dir: string;
let ca1: Certs;
let ca2: Certs;

beforeAll(() => {
  dir = testDir("mtls-reload");
  ca1 = makeCerts(path.join(dir, "pki1"));
  ca2 = makeCerts(path.join(dir, "pki2"));
});

/** The config text: TLS with ca1's server certificate and the given mTLS settings. */
function configText(mtls: { ca?: string; subject?: string } | "no-tls", fastPath: boolean): string {
  const base = ciopToml({ stores: storeToml("m", "", ["mtls-key"], [C1]), tls: mtls === "no-tls" ? undefined : ca1, healthKey: "mtls-health", fastPath });
  if (mtls === "no-tls") return base;
  const lines = [...(mtls.ca ? [`client_ca_file = "${mtls.ca}"`] : []), ...(mtls.subject ? [`client_subject = "${mtls.subject}"`] : [])];
  return base.replace(/(key_file = "[^"]+")/, `$1\n${lines.join("\n")}`);
}

type Client = "none" | "ca1-kms" | "ca1-other" | "ca2-kms";

describe.each([true, false])("fast_path = %s", (fastPath) => {
  let srv: RunningServer;
  let file: string;
  const logs: string[] = [];

  beforeAll(async () => {
    file = path.join(dir, `proxy-${fastPath}.toml`);
    writeFileSync(file, configText({}, fastPath));
    srv = await startServer(await loadConfig(file), { logSink: (l) => logs.push(l) });
  });
  afterAll(() => srv?.close());

  /** 200 when /ping is answered over a connection with that client certificate; "refused" when the connection is cut. */
  async function ping(client: Client): Promise<number | "refused"> {
    const creds =
      client === "none"
        ? {}
        : client === "ca1-kms"
          ? { cert: ca1.clientCert, key: ca1.clientKey }
          : client === "ca1-other"
            ? { cert: ca1.otherCert, key: ca1.otherKey }
            : { cert: ca2.clientCert, key: ca2.clientKey };
    try {
      const r = await send(srv.url, "/ping", "GET", {}, "", {
        ca: readFileSync(ca1.ca),
        ...(creds.cert ? { cert: readFileSync(creds.cert), key: readFileSync(creds.key!) } : {}),
      });
      return r.status;
    } catch {
      return "refused";
    }
  }
  async function reloadTo(mtls: { ca?: string; subject?: string } | "no-tls"): Promise<void> {
    writeFileSync(file, configText(mtls, fastPath));
    await srv.reload();
  }
  async function outcomes(): Promise<Record<Client, number | "refused">> {
    return { none: await ping("none"), "ca1-kms": await ping("ca1-kms"), "ca1-other": await ping("ca1-other"), "ca2-kms": await ping("ca2-kms") };
  }

  test("each mTLS transition applies to the next connection, and a reload that cannot apply a change keeps the running settings", async () => {
    // TLS, no mTLS: everyone (with or without a certificate) is served
    expect(await outcomes()).toEqual({ none: 200, "ca1-kms": 200, "ca1-other": 200, "ca2-kms": 200 });

    // off → CA: a certificate from that CA is required (before the fix: no certificate still served)
    await reloadTo({ ca: ca1.ca });
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": 200, "ca1-other": 200, "ca2-kms": "refused" });

    // CA → CA + subject: only that subject (before the fix with the subject at start-up: every client refused)
    await reloadTo({ ca: ca1.ca, subject: "cks.kms.eu-west-1.amazonaws.com" });
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": 200, "ca1-other": "refused", "ca2-kms": "refused" });

    // subject changed
    await reloadTo({ ca: ca1.ca, subject: "intruder.example.com" });
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": "refused", "ca1-other": 200, "ca2-kms": "refused" });

    // CA replaced: the old CA's certificates are refused
    await reloadTo({ ca: ca2.ca, subject: "cks.kms.eu-west-1.amazonaws.com" });
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": "refused", "ca1-other": "refused", "ca2-kms": 200 });

    // subject removed, CA kept
    await reloadTo({ ca: ca2.ca });
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": "refused", "ca1-other": "refused", "ca2-kms": 200 });

    // a reload whose CA file cannot be read fails and keeps the running mTLS settings
    await expect((async () => reloadTo({ ca: path.join(dir, "missing-ca.pem") }))()).rejects.toThrow();
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": "refused", "ca1-other": "refused", "ca2-kms": 200 });

    // TLS switched off by a reload: the listener cannot change without a restart, so TLS and its mTLS stay
    // (before the fix the config's missing TLS section dropped the mTLS check on the running TLS listener)
    await reloadTo("no-tls");
    expect(await outcomes()).toEqual({ none: "refused", "ca1-kms": "refused", "ca1-other": "refused", "ca2-kms": 200 });
    expect(logs.some((l) => l.includes('"reload-needs-restart"') && l.includes("TLS on/off"))).toBe(true);

    // CA → off: everyone is served again (before the fix: everyone refused)
    await reloadTo({});
    expect(await outcomes()).toEqual({ none: 200, "ca1-kms": 200, "ca1-other": 200, "ca2-kms": 200 });
    expect(logs.some((l) => l.includes('"mtls-refused"'))).toBe(true);
  });
});
