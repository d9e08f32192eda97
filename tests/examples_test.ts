/** The examples run as written, with only `--allow-net=127.0.0.1`, and show a real round trip. */
import assert from "node:assert/strict";

async function runExample(file: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      new URL(`../examples/${file}`, import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${file} failed: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

Deno.test("example: pattern 1 reaches 127.0.0.1 through WireGuard and the proxy", async () => {
  const out = await runExample("proxy_pattern1.ts");
  assert.match(out, /hello from 127\.0\.0\.1, through WireGuard and the proxy/);
});

Deno.test("example: pattern 2 refuses with the proxy off, proxies once enabled", async () => {
  const out = await runExample("proxy_pattern2.ts");
  assert.match(out, /proxy off: ConnectError/);
  assert.match(out, /proxy on: proxied after enableTcpProxy\(\)/);
});

Deno.test("example: pattern 3 serves inside the tunnel over IPv4 and IPv6", async () => {
  const out = await runExample("netstack_pattern3.ts");
  assert.match(out, /echo: hello 10\.88\.0\.1:7/);
  assert.match(out, /echo: hello \[fd88::1\]:7/);
});
