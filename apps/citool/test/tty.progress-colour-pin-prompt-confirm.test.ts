/**
 * What a person at a terminal sees (citool on a pseudo-terminal made by python's pty module):
 * the progress line while a new RSA key is generated (never with --json, never when stderr is not
 * a terminal), colours only without NO_COLOR, the hidden PIN prompt, and the typed confirmation of
 * `keys delete`.
 */
import { testToken } from "@ciop/testkit";
import { join } from "node:path";
import { assertBuilt, makeWrappingKeys, runCli, runOnTty, tempDir, tokenLabels, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;

beforeAll(async () => {
  assertBuilt();
  keys = await makeWrappingKeys(join(tempDir("tty"), "wk"), [3072]);
}, 120_000);

const ESC = "\u001b";

test("a new RSA key: a progress line with elapsed seconds on the terminal, then cleared; ASCII frames with NO_COLOR", async () => {
  const cwd = tempDir("tty-progress");
  const r = await runOnTty(["google-cloud-key-management", "tty-rsa", keys.pubPem[3072]!, "RSAES_OAEP_SHA_256", "-k", "RSA-2048"], { cwd });
  expect(r.code).toBe(0);
  expect(r.output).toMatch(/[-\\|/] generating RSA-2048 key 'tty-rsa' in the HSM \(\d+\.\d s\)/);
  expect(r.output).toContain(`\r${ESC}[2K`); // the line is cleared before the result is printed
  expect(r.output).not.toMatch(/[\u2800-\u28ff]/); // no braille spinner under NO_COLOR
  expect(r.output).toMatch(/Generated RSA-2048 key 'tty-rsa'/);
  // the key exists now: a second export has nothing slow to show
  const again = await runOnTty(["google-cloud-key-management", "tty-rsa", keys.pubPem[3072]!, "RSAES_OAEP_SHA_256", "-k", "RSA-2048", "--force"], { cwd });
  expect(again.code).toBe(0);
  expect(again.output).not.toContain("generating");
});

test("no progress line with --json on a terminal, nor when stderr is not a terminal", async () => {
  const j = await runOnTty(["google-cloud-key-management", "tty-rsa-json", keys.pubPem[3072]!, "RSAES_OAEP_SHA_256", "-k", "RSA-2048", "--json"], {
    cwd: tempDir("tty-json"),
  });
  expect(j.code).toBe(0);
  expect(j.output).not.toContain("generating");
  expect(j.output).toContain('"status": "created"');
  const p = await runCli(["google-cloud-key-management", "tty-rsa-pipe", keys.pubPem[3072]!, "RSAES_OAEP_SHA_256", "-k", "RSA-2048"], {
    cwd: tempDir("tty-pipe"),
  });
  expect(p.code).toBe(0);
  expect(p.stderr).not.toContain("generating");
  expect(p.stderr).not.toContain(ESC);
});

test("errors are red on a terminal, and plain when NO_COLOR is set to any non-empty value", async () => {
  const cwd = tempDir("tty-colour");
  const args = ["amazon", "x", keys.pubPem[3072]!, "RSAES_OAEP_SHA_1"];
  const coloured = await runOnTty(args, { cwd, noHsmArgs: true, env: { NO_COLOR: undefined, TERM: "xterm" } });
  expect(coloured.code).toBe(2);
  expect(coloured.output).toContain(`${ESC}[31mcitool: error: unknown provider 'amazon'`);
  // https://no-color.org: an empty NO_COLOR does not count
  const empty = await runOnTty(args, { cwd, noHsmArgs: true, env: { NO_COLOR: "", TERM: "xterm" } });
  expect(empty.output).toContain(`${ESC}[31mcitool: error:`);
  for (const value of ["1", "0", "yes"]) {
    const plain = await runOnTty(args, { cwd, noHsmArgs: true, env: { NO_COLOR: value, TERM: "xterm" } });
    expect(plain.code).toBe(2);
    expect(plain.output).toContain("citool: error: unknown provider 'amazon'");
    expect(plain.output).not.toContain(ESC);
  }
});

test("without CIOP_PIN, the PIN is asked for on the terminal and never echoed; a wrong one fails with exit 1", async () => {
  const t = testToken();
  const cwd = tempDir("tty-pin");
  const ok = await runOnTty(["aws", "tty-pin", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_256"], {
    cwd,
    env: { CIOP_PIN: undefined },
    answers: [["PIN of token 'ciop-test': ", t.pin]],
  });
  expect(ok.code).toBe(0);
  expect(ok.output).toContain("PIN of token 'ciop-test': ");
  expect(ok.output).not.toContain(t.pin);
  expect(ok.output).toMatch(/Generated AES-256 key 'tty-pin'/);
  const bad = await runOnTty(["aws", "tty-pin", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_256", "--force"], {
    cwd,
    env: { CIOP_PIN: undefined },
    answers: [["PIN of token", "not-the-pin"]],
  });
  expect(bad.code).toBe(1);
  expect(bad.output).toContain("[ERR_PIN_INCORRECT]");
  expect(bad.output).not.toContain("not-the-pin");
});

test("keys delete on a terminal asks for the key name: a wrong answer keeps the key, the right one deletes it", async () => {
  const cwd = tempDir("tty-delete");
  expect((await runCli(["aws", "tty-del", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_256"], { cwd })).code).toBe(0);
  const no = await runOnTty(["keys", "delete", "tty-del"], { cwd, answers: [["Type the key name to confirm: ", "tty-dell"]] });
  expect(no.code).toBe(1);
  expect(no.output).toContain("Not deleted.");
  expect(await tokenLabels()).toContain("tty-del");
  const yes = await runOnTty(["keys", "delete", "tty-del"], { cwd, answers: [["Type the key name to confirm: ", "tty-del"]] });
  expect(yes.code).toBe(0);
  expect(yes.output).toContain("Key 'tty-del' deleted.");
  expect(await tokenLabels()).not.toContain("tty-del");
});
