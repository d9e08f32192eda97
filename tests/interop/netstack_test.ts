/**
 * The netstack against the Linux kernel's TCP/IP stack: a wireguard-go interface in a test
 * namespace (curl, ping and Deno probes use the kernel's TCP) talks to our WireGuard Device
 * bound to a netstack (src/tun.ts bindDevice) in a subprocess in the same namespace. The stack
 * serves HTTP and an echo on its own addresses (tests/interop/_netstack_sut.ts).
 * Skips with a clear message when not root or when a tool is missing. iperf3 is not used: the
 * stack would have to speak iperf3's control protocol; curl transfers give the throughput.
 */
import assert from "node:assert/strict";
import { interopUnavailable, Netns, which } from "./_netns.ts";
import { JsonLinesProcess } from "./_sut.ts";
import { encodeKey, generatePrivateKey, publicKey } from "../../src/wireguard/keys.ts";

const skip = await interopUnavailable() ??
  ((await which("curl")) ? null : "needs curl (apt-get install curl)");
if (skip) console.warn(`SKIP interop/netstack: ${skip}`);

const here = (f: string) => new URL(f, import.meta.url).pathname;
const V4 = "10.79.0.1", V6 = "fd79::1";

Deno.test({
  name:
    "interop: kernel TCP through wireguard-go into the netstack (curl, ping v4/v6, echo, 500 flows)",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const ns = await Netns.create("nwn");
  let sut: JsonLinesProcess | undefined;
  try {
    const ours = generatePrivateKey(), theirs = generatePrivateKey();
    const port = 40000 + Math.floor(Math.random() * 20000);
    await ns.addWireguardGo("wgn0", {
      privateKey: encodeKey(theirs),
      address: ["10.79.0.2/24", "fd79::2/64"],
      mtu: 1420,
    });
    const wgPort = Number((await ns.wg(["show", "wgn0", "listen-port"])).trim());
    await ns.wg([
      "set",
      "wgn0",
      "peer",
      encodeKey(publicKey(ours)),
      "endpoint",
      `127.0.0.1:${port}`,
      "allowed-ips",
      `${V4}/32,${V6}/128`,
    ]);
    // UDP sends need permission for their destination: grant the listen socket and the peer.
    const allow = [`0.0.0.0:${port}`, `[::]:${port}`, `127.0.0.1:${wgPort}`].join(",");
    sut = new JsonLinesProcess(ns.spawn(Deno.execPath(), [
      "run",
      "--no-prompt",
      `--allow-net=${allow}`,
      "--allow-env",
      "--unstable-net",
      here("./_netstack_sut.ts"),
      JSON.stringify({
        privateKey: encodeKey(ours),
        listenPort: port,
        addresses: [`${V4}/24`, `${V6}/64`],
        mtu: 1420,
        peer: {
          publicKey: encodeKey(publicKey(theirs)),
          allowedIPs: ["10.79.0.2/32", "fd79::2/128"],
          endpoint: { address: "127.0.0.1", port: wgPort },
        },
      }),
    ]));
    const ready = await sut.next("listening", 20_000);
    const curl = (args: string[]) => ns.exec("curl", ["-sS", "--max-time", "30", ...args]);
    const sh = (script: string) => ns.exec("sh", ["-c", script]);

    await t.step("ping the stack's own addresses, v4 and v6", async () => {
      assert.match(await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "3", V4]), /3 received/);
      assert.match(await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "3", V6]), /3 received/);
    });

    await t.step("curl GET of a 4 MiB body, v4 and v6: sha256 matches", async () => {
      for (const url of [`http://${V4}/body`, `http://[${V6}]/body`]) {
        const sha = (await sh(`curl -sS -g --max-time 30 '${url}' | sha256sum`)).split(" ")[0];
        assert.equal(sha, ready.bodySha256, url);
      }
    });

    await t.step("curl POST of 4 MiB: the stack hashes exactly what the kernel sent", async () => {
      const file = await Deno.makeTempFile();
      try {
        const data = new Uint8Array(4 << 20).map((_, i) => (i * 31 + 7) & 0xff);
        await Deno.writeFile(file, data);
        const want = [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
          .map((b) => b.toString(16).padStart(2, "0")).join("");
        assert.equal(await curl(["--data-binary", `@${file}`, `http://${V4}/upload`]), want);
      } finally {
        await Deno.remove(file);
      }
    });

    await t.step("half-close echo from the kernel's TCP", async () => {
      const r = JSON.parse(
        await ns.exec(Deno.execPath(), [
          "run",
          "-A",
          here("./_client.ts"),
          "echo",
          V4,
          "7",
          "300000",
        ]),
      );
      assert.deepEqual(r, { ok: true, length: 300_003 });
    });

    await t.step("500 concurrent kernel connections to the stack's echo", async () => {
      const r = JSON.parse(
        await ns.exec(Deno.execPath(), [
          "run",
          "-A",
          here("./_client.ts"),
          "concurrent",
          V4,
          "7",
          "500",
        ]),
      );
      assert.equal(r.ok, 500);
    });

    await t.step("throughput: 64 MiB down and up (recorded, not asserted)", async () => {
      const down = await curl([
        "-o",
        "/dev/null",
        "-w",
        "%{size_download} %{speed_download}",
        `http://${V4}/zero?mib=64`,
      ]);
      const [dBytes, dSpeed] = down.split(" ").map(Number) as [number, number];
      assert.equal(dBytes, 64 << 20);
      const up = await sh(
        `head -c ${64 << 20} /dev/zero | curl -sS --max-time 60 -o /dev/null ` +
          `-w '%{size_upload} %{speed_upload}' -H 'Content-Length: ${64 << 20}' ` +
          `--data-binary @- http://${V4}/upload`,
      );
      const [uBytes, uSpeed] = up.split(" ").map(Number) as [number, number];
      assert.equal(uBytes, 64 << 20);
      const mbit = (bps: number) => (bps * 8 / 1e6).toFixed(0);
      console.log(
        `  kernel → wireguard-go → netstack: down ${mbit(dSpeed)} Mbit/s, up ${
          mbit(uSpeed)
        } Mbit/s`,
      );
    });

    const s = await sut.ask({ cmd: "stats" }, "stats");
    assert.equal(s.errors, 0);
    assert.equal(s.tcpChecksumDrops, 0);
    assert.ok((s.echo as number) >= 501);
  } finally {
    await sut?.stop();
    await ns.cleanup();
  }
});
