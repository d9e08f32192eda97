/**
 * Fuzzes the wg-quick parser: byte, token and line mutations of valid configs. The parser must
 * return a config or throw a ConfigError whose line number is within the text — nothing else —
 * and no single input may take long (no pathological regular-expression backtracking).
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/wireguard/config.ts";
import { fuzzCases, fuzzSeed, mutate, Rng } from "./_fuzz.ts";

const K1 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const K2 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const K3 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";

const BASES = [
  `[Interface]
PrivateKey = ${K1}
Address = 10.88.0.1/24, fd88::1/64
ListenPort = 51820
MTU = 1420
DNS = 10.88.0.1, example.internal

[Peer]
PublicKey = ${K2}
PresharedKey = ${K3}
AllowedIPs = 10.88.0.2/32, fd88::2/128
Endpoint = 192.0.2.7:51820
PersistentKeepalive = 25
`,
  `# client
[Interface]
PrivateKey=${K2}
Address=10.88.0.2/32

[Peer]
PublicKey=${K1}
AllowedIPs=0.0.0.0/0,::/0
Endpoint=[2001:db8::1]:51820
`,
  `[Interface]\r\nPrivateKey = ${K3}\r\nTable = off\r\nFwMark = 0x1234\r\n[Proxy]\r\nrule = allow any:443\r\n`,
];

/** Values that break parsers: empty, signs, bounds, odd spellings, long and strange text. */
const TOKENS = [
  "",
  " ",
  "=",
  "#",
  "[",
  "]",
  "[Peer]",
  "[Interface]",
  "[ Peer ]",
  "[Proxy]",
  "0",
  "-1",
  "65535",
  "65536",
  "4294967296",
  "99999999999999999999",
  "1e3",
  "0x10",
  "0x",
  "NaN",
  "::",
  "::/0",
  "0.0.0.0/0",
  "10.0.0.1/33",
  "fd00::/129",
  "999.1.1.1",
  "1.2.3",
  "[::1]",
  "[::1]:0",
  "[::1]:65536",
  "host:",
  ":51820",
  "[fe80::1%eth0]:51820",
  "a".repeat(253) + ":1",
  "a".repeat(300),
  ("a-".repeat(120)) + "!",
  ("a.".repeat(126)) + "!",
  "x".repeat(10_000),
  "=".repeat(500),
  "\u0000",
  "\uFEFF",
  "é",
  "\u{1F600}",
  "\\",
  '"quoted"',
  K1.slice(0, 43),
  K1.replace("=", "A"),
  K1 + K1,
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  ",",
  ",,,",
  "10.0.0.1,",
  "on",
  "off",
  "auto",
];
const KEYS = [
  "PrivateKey",
  "ListenPort",
  "Address",
  "DNS",
  "MTU",
  "Table",
  "FwMark",
  "SaveConfig",
  "PostUp",
  "PublicKey",
  "PresharedKey",
  "AllowedIPs",
  "Endpoint",
  "PersistentKeepalive",
  "Unknown",
  "privatekey",
  "",
];

function lineMutation(rng: Rng, text: string): string {
  const lines = text.split("\n");
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    const i = rng.int(lines.length);
    switch (rng.int(7)) {
      case 0: // replace a value with a token
        lines[i] = `${lines[i]!.split("=")[0]} = ${rng.pick(TOKENS)}`;
        break;
      case 1: // a random key with a random value
        lines.splice(i, 0, `${rng.pick(KEYS)} = ${rng.pick(TOKENS)}`);
        break;
      case 2: // delete a line
        lines.splice(i, 1);
        break;
      case 3: // duplicate a line
        lines.splice(i, 0, lines[i] ?? "");
        break;
      case 4: // swap two lines
        {
          const j = rng.int(lines.length);
          [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
        }
        break;
      case 5: // a token alone on a line
        lines.splice(i, 0, rng.pick(TOKENS));
        break;
      default: // append a list item
        lines[i] = `${lines[i]}, ${rng.pick(TOKENS)}`;
    }
  }
  return lines.join(rng.chance(0.1) ? "\r\n" : "\n");
}

Deno.test("hardening: wg-quick parser survives 100k mutated configs", () => {
  const seed = fuzzSeed("fuzz/config", 0x5eed_0803);
  const CASES = fuzzCases(100_000);
  const rng = new Rng(seed);
  const enc = new TextEncoder(), dec = new TextDecoder();
  let ok = 0, configErrors = 0, slowest = 0, slowestCase = "";
  const unexpected: string[] = [];
  const started = performance.now();
  for (let i = 0; i < CASES; i++) {
    const base = rng.pick(BASES);
    let text: string;
    const kind = rng.int(4);
    if (kind === 0) text = dec.decode(mutate(rng, enc.encode(base)));
    else if (kind === 1) text = dec.decode(rng.bytes(rng.int(400)));
    else text = lineMutation(rng, base);
    const options = rng.chance(0.3) ? { allowSections: ["Proxy"] } : {};
    const t0 = performance.now();
    try {
      parseConfig(text, options);
      ok++;
    } catch (e) {
      if (!(e instanceof ConfigError)) {
        if (unexpected.length < 5) unexpected.push(`${String(e)} <- ${JSON.stringify(text)}`);
      } else {
        configErrors++;
        const lines = text.split(/\r?\n/).length;
        if (!Number.isInteger(e.line) || e.line < 0 || e.line > lines) {
          unexpected.push(`line ${e.line} outside 0..${lines}: ${e.message}`);
        }
        if (e.message === "") unexpected.push("empty ConfigError message");
      }
    }
    const dt = performance.now() - t0;
    if (dt > slowest) (slowest = dt, slowestCase = text.slice(0, 120));
  }
  const ms = performance.now() - started;
  console.log(
    `fuzz/config: ${CASES} cases in ${ms.toFixed(0)} ms: ${ok} parsed, ${configErrors} ` +
      `ConfigError; slowest ${slowest.toFixed(2)} ms`,
  );
  assert.deepEqual(unexpected, [], "only ConfigError (with a line in range) or success");
  assert.equal(ok + configErrors, CASES);
  assert.ok(ok > 0 && configErrors > 0, "both outcomes exercised");
  assert.ok(slowest < 250, `no input takes long (slowest ${slowest} ms: ${slowestCase})`);
});
