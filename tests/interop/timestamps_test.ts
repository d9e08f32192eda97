/**
 * TCP timestamps with a real kernel peer: with `tcpTimestamps` on, the Linux TCP of a client
 * behind wireguard-go negotiates them with the proxy's netstack — its connection's MSS (`ss -ti`)
 * is the 1,380 bytes our SYN-ACK offers (MTU 1420) less the 12-byte option — and a throttled
 * download arrives intact; without, the same client's MSS is the whole 1,380. (This ss does not
 * print the `ts` flag itself, not even for loopback connections.) All addresses live inside the
 * namespaces this test creates.
 */
import assert from "node:assert/strict";
import { interopUnavailable, Netns, which } from "./_netns.ts";
import { JsonLinesProcess } from "./_sut.ts";
import { encodeKey, generatePrivateKey, publicKey } from "../../src/wireguard/keys.ts";

const skip = await interopUnavailable() ??
  ((await which("curl")) ? null : "needs curl (apt-get install curl)") ??
  ((await which("ss")) ? null : "needs ss (apt-get install iproute2)");
if (skip) console.warn(`SKIP interop/timestamps: ${skip}`);

const here = (f: string) => new URL(f, import.meta.url).pathname;
const T = "10.202.0.1";

Deno.test({
  name: "interop: a kernel client negotiates TCP timestamps with the netstack only when enabled",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const client = await Netns.create("nwc"), server = await Netns.create("nws");
  const procs: JsonLinesProcess[] = [];
  try {
    await client.linkTo(server, "10.201.0.1/30", "10.201.0.2/30");
    await server.addDummy("tgt0", [`${T}/24`]);
    const clientKey = generatePrivateKey();
    await client.addWireguardGo("wgt0", {
      privateKey: encodeKey(clientKey),
      address: ["10.88.0.2/24"],
    });
    let serverPublic: string | undefined;
    const targets = new JsonLinesProcess(
      server.spawn(Deno.execPath(), ["run", "-A", here("./_targets.ts"), T]),
    );
    procs.push(targets);
    const ready = await targets.next("ready", 20_000);

    for (const tcpTimestamps of [true, false]) {
      // a fresh server key each round: the client then handshakes at once instead of waiting
      // out the old session
      const serverKey = generatePrivateKey();
      if (serverPublic) await client.wg(["set", "wgt0", "peer", serverPublic, "remove"]);
      serverPublic = encodeKey(publicKey(serverKey));
      await client.wg([
        "set",
        "wgt0",
        "peer",
        serverPublic,
        "endpoint",
        "10.201.0.2:51820",
        "allowed-ips",
        "10.88.0.0/24,10.202.0.0/24",
      ]);
      await client.exec("ip", ["route", "replace", "10.202.0.0/24", "dev", "wgt0"]);
      const sut = new JsonLinesProcess(server.spawn(Deno.execPath(), [
        "run",
        "--no-prompt",
        "--unstable-net",
        `--allow-net=0.0.0.0,[::],10.201.0.1,${T}:8080`,
        "--allow-env",
        here("./_proxy_sut.ts"),
        JSON.stringify({
          privateKey: encodeKey(serverKey),
          listenPort: 51820,
          addresses: ["10.88.0.1/24"],
          peers: [{ publicKey: encodeKey(publicKey(clientKey)), allowedIPs: ["10.88.0.2/32"] }],
          tcpTimestamps,
        }),
      ]));
      procs.push(sut);
      await sut.next("listening", 20_000);
      // the handshake and a first flow, so the download below starts at once
      const hello = await client.exec("curl", ["-sS", "--max-time", "20", `http://${T}:8080/`]);
      assert.equal(hello, "hello through the tunnel\n");
      // 1 MiB at 300 KB/s: the connection is open long enough to look at it
      const download = client.exec("sh", [
        "-c",
        `curl -sS --max-time 30 --limit-rate 300k http://${T}:8080/big | sha256sum`,
      ]);
      let info = "", mss = NaN;
      for (let i = 0; i < 60 && Number.isNaN(mss); i++) {
        await new Promise((res) => setTimeout(res, 50));
        info = await client.exec("ss", ["-tin", "dst", `${T}:8080`]);
        // an established connection's (a SYN-SENT one shows the kernel's default)
        if (/^(ESTAB|CLOSE-WAIT)/m.test(info)) mss = Number(/\bmss:(\d+)/.exec(info)?.[1]);
      }
      assert.equal(
        mss,
        tcpTimestamps ? 1380 - 12 : 1380,
        `tcpTimestamps ${tcpTimestamps}: ${info}`,
      );
      assert.equal((await download).split(" ")[0], ready.sha256);
      await sut.stop();
      procs.pop();
    }
  } finally {
    for (const p of procs) await p.stop();
    await client.cleanup();
    await server.cleanup();
  }
});
