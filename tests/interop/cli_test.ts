/**
 * The CLI end to end: the embedded default started in a server namespace prints a client
 * config; a wireguard-go peer in a client namespace is configured from exactly that text and
 * reaches a target through the proxy; SIGTERM drains and exits 0.
 */
import assert from "node:assert/strict";
import { interopUnavailable, Netns, which } from "./_netns.ts";
import { JsonLinesProcess } from "./_sut.ts";

const skip = await interopUnavailable() ??
  ((await which("curl")) ? null : "needs curl (apt-get install curl)");
if (skip) console.warn(`SKIP interop/cli: ${skip}`);

const here = (f: string) => new URL(f, import.meta.url).pathname;
const T = "10.202.0.1";

/** Reads stdout until the client config's [Peer] block is complete. */
async function readClientConfig(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = /\[Interface\][\s\S]*?\[Peer\][\s\S]*?PersistentKeepalive = \d+\n/.exec(text);
    if (m) {
      reader.releaseLock();
      return m[0];
    }
  }
  throw new Error(`no client config printed; got: ${text.slice(0, 500)}`);
}

Deno.test({
  name: "interop: the printed client config works in wireguard-go; SIGTERM exits 0",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const client = await Netns.create("nwc"), server = await Netns.create("nws");
  const state = await Deno.makeTempDir();
  let cli: Deno.ChildProcess | undefined;
  let targets: JsonLinesProcess | undefined;
  try {
    await client.linkTo(server, "10.201.0.1/30", "10.201.0.2/30");
    await server.addDummy("tgt0", [`${T}/24`]);
    targets = new JsonLinesProcess(
      server.spawn(Deno.execPath(), ["run", "-A", here("./_targets.ts"), T]),
    );
    const { sha256: sha } = await targets.next("ready", 20_000) as { sha256: string };
    cli = server.spawn(Deno.execPath(), [
      "run",
      "--no-prompt",
      "--allow-net",
      `--allow-read=${state}`,
      `--allow-write=${state}`,
      "--allow-env",
      here("../../mod.ts"),
      "run",
      "--state-dir",
      state,
      "--endpoint",
      "10.201.0.2",
      "--no-qr",
    ]);
    const stderr = new Response(cli.stderr).text();
    const conf = await readClientConfig(cli.stdout);
    assert.match(conf, /Endpoint = 10\.201\.0\.2:51820/);
    const address = /Address = ([^,\n]+)/.exec(conf)![1]!;

    // Configure wireguard-go from the printed text (wg-quick's own keys stripped as wg-quick does).
    await client.exec("wireguard-go", ["wgl0"]);
    const wgConf = conf.split("\n").filter((l) => !/^(Address|DNS)\s*=/.test(l)).join("\n");
    await client.exec("wg", ["setconf", "wgl0", "/dev/stdin"], wgConf);
    await client.exec("ip", ["address", "add", address, "dev", "wgl0"]);
    await client.exec("ip", ["link", "set", "wgl0", "up"]);
    await client.exec("ip", ["route", "add", "10.202.0.0/24", "dev", "wgl0"]);

    const body = await client.exec("curl", ["-sS", "--max-time", "20", `http://${T}:8080/`]);
    assert.equal(body, "hello through the tunnel\n");

    // SIGTERM mid-flow: the running download drains to completion, then the process exits 0.
    const download = client.exec("sh", [
      "-c",
      `curl -sS --max-time 30 --limit-rate 300k http://${T}:8080/big | sha256sum`,
    ]);
    await new Promise((res) => setTimeout(res, 700));
    cli.kill("SIGTERM");
    assert.equal((await download).split(" ")[0], sha);
    const status = await cli.status;
    assert.equal(status.code, 0, await stderr);
    const log = await stderr;
    assert.match(log, /flow .*dst=10\.202\.0\.1:8080/);
    // Secrets never reach the log.
    const priv = /PrivateKey = (\S+)/.exec(conf)![1]!;
    const psk = /PresharedKey = (\S+)/.exec(conf)![1]!;
    assert.ok(!log.includes(priv) && !log.includes(psk), "key material in the log");
  } finally {
    try {
      cli?.kill("SIGKILL");
    } catch { /* exited */ }
    await targets?.stop();
    await client.exec("ip", ["link", "del", "wgl0"]).catch(() => {});
    await client.cleanup();
    await server.cleanup();
    await Deno.remove(state, { recursive: true });
  }
});
