/**
 * Interop with wireguard-go: a wireguard-go interface in a test namespace, with the Linux kernel's
 * own IP stack behind it, against our Device running in the same namespace on loopback.
 * Skips with a clear message when not root or when wireguard-go/wg/ip are missing.
 */
import assert from "node:assert/strict";
import { interopUnavailable, Netns, waitFor } from "./_netns.ts";
import { JsonLinesProcess } from "./_sut.ts";
import { encodeKey, generatePrivateKey, publicKey } from "../../src/wireguard/keys.ts";

const skip = await interopUnavailable();
if (skip) console.warn(`SKIP interop/wireguard: ${skip}`);

const SUT = new URL("./_wg_sut.ts", import.meta.url).pathname;

async function setup(opts: { weInitiate: boolean }) {
  const ns = await Netns.create();
  const ours = generatePrivateKey(), theirs = generatePrivateKey();
  const port = 40000 + Math.floor(Math.random() * 20000);
  await ns.addWireguardGo("wgi0", {
    privateKey: encodeKey(theirs),
    address: ["10.77.0.2/24"],
  });
  const wgPort = Number((await ns.wg(["show", "wgi0", "listen-port"])).trim());
  const peerArgs = [
    "set",
    "wgi0",
    "peer",
    encodeKey(publicKey(ours)),
    "allowed-ips",
    "10.77.0.1/32",
  ];
  if (!opts.weInitiate) peerArgs.push("endpoint", `127.0.0.1:${port}`);
  await ns.wg(peerArgs);
  const child = ns.spawn(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    "--unstable-net",
    SUT,
    JSON.stringify({
      privateKey: encodeKey(ours),
      listenPort: port,
      peer: {
        publicKey: encodeKey(publicKey(theirs)),
        allowedIPs: ["10.77.0.2/32"],
        ...(opts.weInitiate ? { endpoint: { address: "127.0.0.1", port: wgPort } } : {}),
      },
    }),
  ]);
  const sut = new JsonLinesProcess(child);
  await sut.next("listening", 20_000);
  return { ns, sut, port, wgPort };
}

Deno.test({
  name: "interop: wireguard-go initiates; kernel ping answered through our device; rekey; roaming",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const { ns, sut, port } = await setup({ weInitiate: false });
  try {
    const out = await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", "10.77.0.1"]);
    assert.match(out, /3 received/);
    let stats = await sut.ask({ cmd: "stats" }, "stats");
    assert.equal(stats.handshakes, 1);
    assert.ok((stats.echoRequestsAnswered as number) >= 3);
    const hs = (await ns.wg(["show", "wgi0", "latest-handshakes"])).trim().split(/\s+/)[1];
    assert.ok(Number(hs) > 0, "wireguard-go recorded the handshake");

    // Rekey: we start a new handshake as initiator on a live session (after REKEY_TIMEOUT).
    await new Promise((r) => setTimeout(r, 5200));
    await sut.ask({ cmd: "rekey" }, "rekeying");
    await waitFor(
      async () => (await sut.ask({ cmd: "stats" }, "stats")).handshakes === 2,
      8000,
      "rekey",
    );
    assert.match(
      await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "2", "10.77.0.1"]),
      /2 received/,
    );

    // Roaming: wireguard-go moves to a new source port, then to IPv6 loopback.
    await ns.wg(["set", "wgi0", "listen-port", "34567"]);
    assert.match(
      await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "2", "10.77.0.1"]),
      /2 received/,
    );
    stats = await sut.ask({ cmd: "stats" }, "stats");
    assert.deepEqual(stats.endpoint, { address: "127.0.0.1", port: 34567 });
    const theirKey = (await ns.wg(["show", "wgi0", "peers"])).trim();
    await ns.wg(["set", "wgi0", "peer", theirKey, "endpoint", `[::1]:${port}`]);
    assert.match(
      await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "2", "10.77.0.1"]),
      /2 received/,
    );
    stats = await sut.ask({ cmd: "stats" }, "stats");
    assert.equal((stats.endpoint as { address: string }).address, "::1");
  } finally {
    await sut.stop();
    await ns.cleanup();
  }
});

Deno.test({
  name: "interop: our device initiates; the kernel answers our ping",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const { ns, sut } = await setup({ weInitiate: true });
  try {
    for (let seq = 1; seq <= 3; seq++) {
      await sut.ask({ cmd: "ping", src: [10, 77, 0, 1], dst: [10, 77, 0, 2], seq }, "pinged");
    }
    const stats = await waitFor(
      async () => {
        const s = await sut.ask({ cmd: "stats" }, "stats");
        return (s.echoRepliesReceived as number) >= 3 ? s : null;
      },
      8000,
      "echo replies from the kernel",
    );
    assert.equal(stats!.handshakes, 1);
  } finally {
    await sut.stop();
    await ns.cleanup();
  }
});
