import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { appendAuditRecord } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "ciop-audit-"));

test("each record is one JSON line with time/user/host, in a 0600 file under created 0700 parents", () => {
  const file = join(dir, "a", "b", "audit.log");
  appendAuditRecord(file, { operation: "export", key: "k1", outcome: "ok" });
  appendAuditRecord(file, { operation: "delete", key: "k1", outcome: "error", error: "ERR_KEY_NOT_FOUND" });
  const lines = readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines.map((l) => [l.operation, l.outcome])).toEqual([
    ["export", "ok"],
    ["delete", "error"],
  ]);
  expect(typeof lines[0].time).toBe("string");
  expect(typeof lines[0].host).toBe("string");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "a")).mode & 0o777).toBe(0o700);
});

test.each(["pin", "soPin", "password", "clientSecret", "plaintext", "passphrase"])("a record with a %s field is refused, nothing written", (field) => {
  const file = join(dir, `refused-${field}.log`);
  const nested = join(dir, `refused-${field}`, "audit.log");
  expect(() => appendAuditRecord(file, { operation: "x", outcome: "ok", [field]: "1234" })).toThrow(/never carry secrets/);
  expect(() => appendAuditRecord(nested, { operation: "x", outcome: "ok", [field]: "1234" })).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
  expect(() => statSync(file)).toThrow();
  expect(() => statSync(dirname(nested))).toThrow();
});

test("an unwritable place fails promptly with an error instead of hanging", () => {
  expect(() => appendAuditRecord("/proc/ciop-nonexistent/x/audit.log", { operation: "x", outcome: "ok" })).toThrow();
});
