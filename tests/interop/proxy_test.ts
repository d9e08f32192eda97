/**
 * End to end through a real WireGuard client: a wireguard-go interface with the kernel's own
 * TCP/UDP stack (curl, iperf3, Deno client probes) in a client namespace, joined by veth to a
 * server namespace where the proxy runs under a narrow `--allow-net` and the targets listen on
 * a dummy interface. All addresses live inside the namespaces this test creates.
 */
import assert from "node:assert/strict";
import { interopUnavailable, Netns, which } from "./_netns.ts";
import { JsonLinesProcess } from "./_sut.ts";
import { encodeKey, generatePrivateKey, publicKey } from "../../src/wireguard/keys.ts";

const skip = await interopUnavailable() ??
  ((await which("curl")) ? null : "needs curl (apt-get install curl)");
if (skip) console.warn(`SKIP interop/proxy: ${skip}`);

const here = (f: string) => new URL(f, import.meta.url).pathname;
const T = "10.202.0.1"; // target address on the server's dummy interface
const BLACKHOLE = "10.202.0.3"; // on the dummy prefix, no host: SYNs vanish

Deno.test({
  name: "interop: curl, iperf3 and probes through wireguard-go → proxy → targets",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const client = await Netns.create("nwc"), server = await Netns.create("nws");
  const procs: JsonLinesProcess[] = [];
  try {
    await client.linkTo(server, "10.201.0.1/30", "10.201.0.2/30");
    await server.addDummy("tgt0", [`${T}/24`]);
    const serverKey = generatePrivateKey(), clientKey = generatePrivateKey();
    const port = 51820;
    await client.addWireguardGo("wgc0", {
      privateKey: encodeKey(clientKey),
      address: ["10.88.0.2/24"],
    });
    await client.wg([
      "set",
      "wgc0",
      "peer",
      encodeKey(publicKey(serverKey)),
      "endpoint",
      `10.201.0.2:${port}`,
      "allowed-ips",
      "10.88.0.0/24,10.202.0.0/24",
    ]);
    await client.exec("ip", ["route", "add", "10.202.0.0/24", "dev", "wgc0"]);

    const targets = new JsonLinesProcess(
      server.spawn(Deno.execPath(), ["run", "-A", here("./_targets.ts"), T]),
    );
    procs.push(targets);
    const ready = await targets.next("ready", 20_000);
    // UDP sends need permission for their destination: the peer's endpoint must be granted.
    const allow = [
      "0.0.0.0",
      "[::]",
      "10.201.0.1",
      `${T}:8080`,
      `${T}:7`,
      `${T}:5201`,
      `${T}:7777`,
      `${BLACKHOLE}:80`,
    ].join(",");
    const sut = new JsonLinesProcess(server.spawn(Deno.execPath(), [
      "run",
      "--no-prompt",
      "--unstable-net", // the Deno UDP backend (deno task start); cli_test covers node:dgram
      `--allow-net=${allow}`,
      "--allow-env",
      here("./_proxy_sut.ts"),
      JSON.stringify({
        privateKey: encodeKey(serverKey),
        listenPort: port,
        addresses: ["10.88.0.1/24"],
        peers: [{ publicKey: encodeKey(publicKey(clientKey)), allowedIPs: ["10.88.0.2/32"] }],
        tcpConnectTimeoutMs: 1500,
        udpIdleTimeoutMs: 1500,
      }),
    ]));
    procs.push(sut);
    await sut.next("listening", 20_000);
    const curl = (args: string[]) => client.exec("curl", ["-sS", "--max-time", "20", ...args]);
    const probe = async (...args: string[]) =>
      JSON.parse(await client.exec(Deno.execPath(), ["run", "-A", here("./_client.ts"), ...args]));

    await t.step("HTTP GET and a 1 MiB body arrive intact (sha256)", async () => {
      assert.equal(await curl([`http://${T}:8080/`]), "hello through the tunnel\n");
      const sha =
        (await client.exec("sh", ["-c", `curl -sS --max-time 20 http://${T}:8080/big | sha256sum`]))
          .split(" ")[0];
      assert.equal(sha, ready.sha256);
    });

    await t.step("upload 4 MiB: the target hashes exactly what the client sent", async () => {
      const file = await Deno.makeTempFile();
      const data = new Uint8Array(4 << 20).map((_, i) => (i * 31 + 7) & 0xff);
      await Deno.writeFile(file, data);
      const want = [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
        .map((b) => b.toString(16).padStart(2, "0")).join("");
      assert.equal(await curl(["--data-binary", `@${file}`, `http://${T}:8080/upload`]), want);
      await Deno.remove(file);
    });

    await t.step("half-close: client FIN, target keeps sending, then closes", async () => {
      const r = await probe("echo", T, "7", String(300_000));
      assert.deepEqual(r, { ok: true, length: 300_003 });
    });

    await t.step(
      "denied by --allow-net: refused, and no connection reaches the target",
      async () => {
        const r = await probe("connect", T, "9999");
        assert.equal(r.ok, false);
        assert.equal(r.error, "ConnectionRefused");
        const s = await targets.ask({ cmd: "stats" }, "stats");
        assert.equal(s.forbiddenAccepts, 0);
      },
    );

    await t.step("target down: RST fast; blackholed: RST after the connect timeout", async () => {
      const down = await probe("connect", T, "7777");
      assert.equal(down.error, "ConnectionRefused");
      assert.ok(down.ms < 1000, `refused in ${down.ms} ms`);
      const hole = await probe("connect", BLACKHOLE, "80");
      assert.equal(hole.error, "ConnectionRefused");
      assert.ok(hole.ms >= 1400 && hole.ms < 5000, `blackhole refused after ${hole.ms} ms`);
    });

    await t.step("UDP echo comes back from the target's address; the session expires", async () => {
      const r = await probe("udp", T, "7");
      assert.equal(r.reply, `datagram through the tunnel|${T}:7`);
      await new Promise((res) => setTimeout(res, 3000));
      const s = await sut.ask({ cmd: "stats" }, "stats");
      assert.equal((s.udp as { live: number }).live, 0);
      assert.ok(
        (s.flowLines as Array<{ proto: string; reason: string }>).some((f) =>
          f.proto === "udp" && f.reason === "idle"
        ),
      );
    });

    await t.step("a slow reader and the peer roaming mid-transfer: bytes intact", async () => {
      // curl reads at 200 KB/s (backpressure through the tunnel window); halfway through, the
      // wireguard-go peer moves to a new source port and the proxy must follow it.
      const download = client.exec("sh", [
        "-c",
        `curl -sS --max-time 30 --limit-rate 200k http://${T}:8080/big | sha256sum`,
      ]);
      await new Promise((res) => setTimeout(res, 1200));
      await client.wg(["set", "wgc0", "listen-port", "40999"]);
      assert.equal((await download).split(" ")[0], ready.sha256);
    });

    await t.step("200 concurrent flows", async () => {
      const r = await probe("concurrent", T, "7", "200");
      assert.equal(r.ok, 200);
    });

    if (await which("iperf3")) {
      await t.step("iperf3 up and down (throughput recorded)", async () => {
        const srv = server.spawn("iperf3", ["-s", "-B", T, "-p", "5201"]);
        type IperfResult = {
          error?: string;
          end: { sum_received: { bits_per_second: number; bytes: number } };
        };
        // The server may not listen yet on a loaded host: a refused start is tried again.
        const iperf = async (extra: string[]): Promise<IperfResult> => {
          for (let attempt = 1;; attempt++) {
            await new Promise((res) => setTimeout(res, 500));
            const out = await client.exec("iperf3", [
              "-c",
              T,
              "-p",
              "5201",
              "-t",
              "3",
              "-J",
              ...extra,
            ])
              .catch((e) => String(e));
            let j: IperfResult | undefined;
            try {
              j = JSON.parse(out.slice(out.indexOf("{")));
            } catch { /* not JSON: the error text below */ }
            if (j?.end?.sum_received !== undefined) return j;
            if (attempt >= 5) {
              throw new Error(`iperf3 ${extra.join(" ")} failed: ${j?.error ?? out}`);
            }
          }
        };
        try {
          const up = await iperf([]);
          const down = await iperf(["-R"]);
          const mbit = (j: IperfResult) => (j.end.sum_received.bits_per_second / 1e6).toFixed(1);
          console.log(
            `iperf3 through wireguard-go → proxy: up ${mbit(up)} Mbit/s, down ${mbit(down)} Mbit/s`,
          );
          assert.ok(up.end.sum_received.bytes > 0 && down.end.sum_received.bytes > 0);
        } finally {
          srv.kill("SIGTERM");
          await srv.status;
        }
      });
    }

    const s = await sut.ask({ cmd: "stats" }, "stats");
    assert.ok((s.tcp as { total: number }).total >= 200);
  } finally {
    for (const p of procs) await p.stop();
    await client.cleanup();
    await server.cleanup();
  }
});
