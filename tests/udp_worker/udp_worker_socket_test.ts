import assert from "node:assert/strict";
import { hasDenoDatagram, listenUdp, type UdpSocket } from "../../src/udp_socket.ts";
import {
  isUdpWorkerSocket,
  listenUdpWorker,
  udpWorkerSupported,
} from "../../src/udp_worker/mod.ts";
import { ffiUdpSupported } from "../../src/udp_ffi.ts";
import { Device } from "../../src/wireguard/device.ts";
import { socketCounters, socketDropsSince, startProxy } from "../../src/server.ts";
import { generatePrivateKey } from "../../src/wireguard/keys.ts";
import { getLogger } from "../../src/log.ts";
import { closeAll, until, withTimeout, workerSocket } from "./_helpers.ts";

Deno.test("udp worker: supported in this runtime", () => {
  assert.ok(udpWorkerSupported());
});

Deno.test("udp worker: IPv4 round trip both ways; sender address as text", async () => {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0 });
  const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.equal(sock.localAddr.hostname, "127.0.0.1");
    assert.ok(sock.localAddr.port > 0);
    assert.equal(sock.backend, hasDenoDatagram() ? "deno" : "node");
    peer.send(new Uint8Array([1, 2, 3]), { address: "127.0.0.1", port: sock.localAddr.port });
    const buf = new Uint8Array(1500);
    const got = await withTimeout(sock.receive(buf));
    assert.deepEqual(got, {
      length: 3,
      remote: { address: "127.0.0.1", port: peer.localAddr.port },
    });
    assert.deepEqual([...buf.subarray(0, 3)], [1, 2, 3]);
    sock.send(new Uint8Array([4, 5]), got!.remote);
    const back = await withTimeout(peer.receive(buf));
    assert.equal(back?.length, 2);
    assert.deepEqual(back?.remote, { address: "127.0.0.1", port: sock.localAddr.port });
    assert.equal(sock.stats.received, 1);
    assert.equal(sock.stats.sent, 1);
    assert.equal(sock.stats.sendErrors, 0);
  } finally {
    await closeAll(sock, peer);
  }
});

Deno.test("udp worker: dual-stack on :: serves IPv6 and IPv4 senders", async () => {
  const sock = await workerSocket({ hostname: "::", port: 0, dualStack: true });
  const v6 = await listenUdp({ hostname: "::1", port: 0 });
  const v4 = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  try {
    const buf = new Uint8Array(100);
    v6.send(new Uint8Array([6]), { address: "::1", port: sock.localAddr.port });
    const a = await withTimeout(sock.receive(buf));
    assert.deepEqual(a?.remote, { address: "::1", port: v6.localAddr.port });
    v4.send(new Uint8Array([4]), { address: "127.0.0.1", port: sock.localAddr.port });
    const b = await withTimeout(sock.receive(buf));
    assert.deepEqual(b?.remote, { address: "127.0.0.1", port: v4.localAddr.port });
    // Replies go out by family.
    sock.send(new Uint8Array([60]), a!.remote);
    sock.send(new Uint8Array([40]), b!.remote);
    assert.equal((await withTimeout(v6.receive(buf)))?.length, 1);
    assert.equal(buf[0], 60);
    assert.equal((await withTimeout(v4.receive(buf)))?.length, 1);
    assert.equal(buf[0], 40);
  } finally {
    await closeAll(sock, v6, v4);
  }
});

/** Sends `n` numbered datagrams from `from` to `to`, paced below the kernel's buffer. */
async function sendNumbered(from: UdpSocket, to: UdpSocket, n: number): Promise<void> {
  const dest = { address: "127.0.0.1", port: to.localAddr.port };
  for (let i = 0; i < n; i++) {
    from.send(new Uint8Array([i & 0xff, i >> 8, 0, 0, 0, 0, 0, 0]), dest);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
  }
}

/** Receives until `n` arrived or 300 ms pass without one; returns the numbers in order. */
async function receiveNumbered(sock: UdpSocket, n: number): Promise<number[]> {
  const buf = new Uint8Array(64);
  const seen: number[] = [];
  while (seen.length < n) {
    const r = await withTimeout(sock.receive(buf), 300).catch(() => null);
    if (r === null) break;
    seen.push(buf[0]! | (buf[1]! << 8));
  }
  return seen;
}

function assertIncreasing(seen: number[], what: string): void {
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i]! > seen[i - 1]!, `${what}: ${seen[i]} after ${seen[i - 1]}`);
  }
}

for (const backend of ["deno", "ffi"] as const) {
  Deno.test({
    name: `udp worker (${backend}): 2000 datagrams keep their order, received and sent`,
    // The node backend's own sends neither keep order nor survive a burst (Deno 2.9.6 node:dgram).
    ignore: !hasDenoDatagram() || (backend === "ffi" && !ffiUdpSupported()),
  }, async () => {
    const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, backend });
    const plain = await listenUdp({ hostname: "127.0.0.1", port: 0 });
    try {
      assert.equal(sock.backend, backend);
      const n = 2000;
      // Receive side: the ring hands datagrams out exactly in the kernel's order.
      // (The sender awaits each send: Deno reorders un-awaited sends that have to wait.)
      const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const sendAwaited = async () => {
        for (let i = 0; i < n; i++) {
          const d = new Uint8Array([i & 0xff, i >> 8, 0, 0, 0, 0, 0, 0]);
          await conn.send(d, {
            transport: "udp",
            hostname: "127.0.0.1",
            port: sock.localAddr.port,
          });
          if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2)); // within the kernel buffer
        }
      };
      const [, got] = await Promise.all([sendAwaited(), receiveNumbered(sock, n)]);
      conn.close();
      assertIncreasing(got, "received");
      assert.equal(got.length, n, `all received (ring drops: ${sock.stats.dropped})`);
      // Send side: the worker sends in ring order.
      const [, back] = await Promise.all([sendNumbered(sock, plain, n), receiveNumbered(plain, n)]);
      assertIncreasing(back, "sent");
      assert.ok(back.length > n * 0.9, `${back.length} of ${n} arrived`);
    } finally {
      await closeAll(sock, plain);
    }
  });
}

Deno.test({
  name:
    "udp worker (ffi): close wakes the blocked loop, a pending receive gets null, the port is freed",
  ignore: !ffiUdpSupported(),
}, async () => {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, backend: "ffi" });
  const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  const pending = sock.receive(new Uint8Array(100));
  // The worker sleeps in poll() (1 s at most): a send wakes it through the eventfd at once.
  await new Promise((r) => setTimeout(r, 50));
  let t = performance.now();
  sock.send(new Uint8Array([42]), { address: "127.0.0.1", port: peer.localAddr.port });
  const buf = new Uint8Array(8);
  assert.equal((await withTimeout(peer.receive(buf)))?.length, 1);
  assert.ok(performance.now() - t < 500, `sent after ${performance.now() - t} ms`);
  peer.close();
  await new Promise((r) => setTimeout(r, 50));
  t = performance.now();
  sock.close();
  assert.equal(await withTimeout(pending), null);
  await withTimeout(sock.closed, 3000, "closed");
  // Woken through the eventfd too, not by the poll timeout or the 2 s grace.
  assert.ok(performance.now() - t < 500, `closed after ${performance.now() - t} ms`);
  const again = await listenUdp({ hostname: "127.0.0.1", port: sock.localAddr.port });
  again.close();
});

Deno.test("udp worker: a full receive ring drops and counts", async () => {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, ringBytes: 1024 });
  const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  try {
    const n = 100; // ~100 KiB of kernel buffer at most: the kernel keeps them all
    for (let i = 0; i < n; i++) {
      peer.send(new Uint8Array(100).fill(i), { address: "127.0.0.1", port: sock.localAddr.port });
    }
    await until(() => sock.stats.rxRingDropped > 0);
    await new Promise((r) => setTimeout(r, 100)); // let the worker take the rest
    const buf = new Uint8Array(200);
    let got = 0;
    while (sock.stats.received + sock.stats.rxRingDropped < n) {
      await withTimeout(sock.receive(buf));
      got++;
    }
    assert.ok(got >= 1 && got <= 1024 / 124, `ring holds at most 8 such datagrams, got ${got}`);
    assert.equal(sock.stats.received + sock.stats.rxRingDropped, n);
    assert.equal(sock.stats.dropped, sock.stats.rxRingDropped);
  } finally {
    await closeAll(sock, peer);
  }
});

Deno.test("udp worker: close() resolves a pending receive with null; later calls too", async () => {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0 });
  const pending = sock.receive(new Uint8Array(100));
  await new Promise((r) => setTimeout(r, 20));
  sock.close();
  assert.equal(await withTimeout(pending), null);
  assert.equal(await sock.receive(new Uint8Array(100)), null);
  sock.close(); // idempotent
  await withTimeout(sock.closed, 3000, "closed");
  // The port is free again once `closed` resolved.
  const again = await listenUdp({ hostname: "127.0.0.1", port: sock.localAddr.port });
  again.close();
});

Deno.test("udp worker: send never throws; errors are counted with their text", async () => {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0 });
  try {
    sock.send(new Uint8Array(1), { address: "127.0.0.1", port: 70000 });
    assert.equal(sock.stats.sendErrors, 1);
    assert.match(sock.stats.lastSendError ?? "", /invalid port/);
    sock.send(new Uint8Array(1), { address: "not-an-ip", port: 9 });
    assert.equal(sock.stats.sendErrors, 2);
    // An IPv6 destination from an IPv4 socket fails inside the worker, asynchronously.
    sock.send(new Uint8Array(1), { address: "::1", port: 9 });
    await until(() => sock.stats.sendErrors === 3);
    await until(() =>
      sock.stats.lastSendError !== undefined && !/invalid port/.test(sock.stats.lastSendError)
    );
    assert.equal(sock.stats.sent, 3);
  } finally {
    await closeAll(sock);
  }
  sock.send(new Uint8Array(1), { address: "127.0.0.1", port: 9 });
  assert.equal(sock.stats.sendErrors, 4);
});

Deno.test("udp worker: a bind error arrives with its class", async () => {
  const holder = await listenUdp({ hostname: "127.0.0.1", port: 0, backend: "node" });
  try {
    await assert.rejects(
      listenUdpWorker({ hostname: "127.0.0.1", port: holder.localAddr.port, backend: "node" }),
      (err: Error) => /EADDRINUSE|AddrInUse|in use/i.test(`${err.name} ${err.message}`),
    );
  } finally {
    holder.close();
  }
});

Deno.test("udp worker: Device.listen uses it by default, worker: false does not", async () => {
  const dev = new Device({
    privateKey: generatePrivateKey(),
    logger: getLogger("udp-worker-test"),
  });
  const plain = new Device({
    privateKey: generatePrivateKey(),
    logger: getLogger("udp-worker-test"),
  });
  try {
    await dev.listen({ port: 0, hostname: "127.0.0.1" });
    await plain.listen({ port: 0, hostname: "127.0.0.1", worker: false });
    assert.ok(isUdpWorkerSocket(dev.socket!));
    assert.ok(!isUdpWorkerSocket(plain.socket!));
    // A datagram reaches the device's receive path through the worker.
    const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
    const junk = new Uint8Array(148);
    junk[0] = 4; // a transport message for an unknown index: counted, then dropped
    peer.send(junk, { address: "127.0.0.1", port: dev.socket!.localAddr.port });
    await until(() => dev.counters.datagramsReceived === 1);
    peer.close();
  } finally {
    dev.close();
    plain.close();
    const s = dev.socket;
    if (s && isUdpWorkerSocket(s)) await withTimeout(s.closed, 3000, "close");
  }
});

Deno.test("udp worker: startProxy's udpWorker option (UdpWorker = off) keeps the socket on the main thread", async () => {
  const base = { privateKey: generatePrivateKey(), listenPort: 0, listenHostname: "127.0.0.1" };
  const inWorker = await startProxy({ ...base, addresses: ["10.77.0.1/24"], dnsResolver: false });
  const onMain = await startProxy({
    ...base,
    addresses: ["10.78.0.1/24"],
    dnsResolver: false,
    udpWorker: false,
  });
  try {
    assert.ok(isUdpWorkerSocket(inWorker.device.socket!), "the default: a Worker");
    assert.ok(!isUdpWorkerSocket(onMain.device.socket!), "udpWorker: false: the main thread");
  } finally {
    const s = inWorker.device.socket;
    await inWorker.close(0);
    await onMain.close(0);
    if (s && isUdpWorkerSocket(s)) await withTimeout(s.closed, 3000, "close");
  }
});

Deno.test("udp worker: socketCounters reports ring drops, failed sends and the datagrams in between", async () => {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, ringBytes: 1024 });
  const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  try {
    const n = 100;
    for (let i = 0; i < n; i++) {
      peer.send(new Uint8Array(100), { address: "127.0.0.1", port: sock.localAddr.port });
    }
    await until(() => sock.stats.rxRingDropped > 0);
    const buf = new Uint8Array(200);
    while (sock.stats.received + sock.stats.rxRingDropped < n) await withTimeout(sock.receive(buf));
    // Sends: one refused at once (bad port), then more than the 1 KiB send ring holds in one go.
    sock.send(new Uint8Array(1), { address: "127.0.0.1", port: 0 });
    for (let i = 0; i < 20; i++) {
      sock.send(new Uint8Array(200), { address: "127.0.0.1", port: peer.localAddr.port });
    }
    const c = socketCounters(sock);
    assert.equal(c.worker, true);
    assert.equal(c.backend, sock.backend);
    assert.equal(c.received + c.receiveQueueFull, n);
    assert.ok(c.receiveQueueFull > 0);
    assert.equal(c.sent, 21);
    assert.ok(c.sendQueueFull > 0 && c.sendQueueFull < 20, `send ring full ${c.sendQueueFull}`);
    assert.equal(c.sendFailed, 1, "the bad port");
    assert.equal(c.truncated, 0);
    assert.match(c.lastSendError ?? "", /send ring full/);
  } finally {
    await closeAll(sock, peer);
  }
  assert.equal(socketCounters(null).backend, null);
});

Deno.test("udp worker: startProxy's stats() carry the WireGuard socket's counters", async () => {
  const handle = await startProxy({
    privateKey: generatePrivateKey(),
    listenPort: 0,
    listenHostname: "127.0.0.1",
    addresses: ["10.79.0.1/24"],
    dnsResolver: false,
  });
  const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  const s = handle.device.socket;
  try {
    const junk = new Uint8Array(148);
    junk[0] = 4; // a transport message for an unknown index
    peer.send(junk, { address: "127.0.0.1", port: handle.listenPort });
    await until(() => handle.stats().socket.received === 1);
    const c = handle.stats().socket;
    assert.equal(c.worker, true);
    assert.equal(c.receiveQueueFull + c.sendQueueFull + c.sendFailed + c.truncated, 0);
  } finally {
    peer.close();
    await handle.close(0);
    if (s && isUdpWorkerSocket(s)) await withTimeout(s.closed, 3000, "close");
  }
});

Deno.test("socketDropsSince: only the drop counters that grew, null when none did", () => {
  const base = socketCounters(null);
  assert.equal(socketDropsSince(base, { ...base, received: 500, sent: 400 }), null);
  assert.deepEqual(
    socketDropsSince(
      { ...base, receiveQueueFull: 3, sendFailed: 1 },
      { ...base, receiveQueueFull: 10, sendFailed: 1, truncated: 2 },
    ),
    { receiveQueueFull: 7, truncated: 2 },
  );
});

Deno.test({
  name: "udp worker: startProxy's udpBackend ffi runs the libc socket on the Worker",
  ignore: !ffiUdpSupported(),
  fn: async () => {
    const handle = await startProxy({
      privateKey: generatePrivateKey(),
      listenPort: 0,
      listenHostname: "127.0.0.1",
      addresses: ["10.80.0.1/24"],
      dnsResolver: false,
      udpBackend: "ffi",
    });
    const peer = await listenUdp({ hostname: "127.0.0.1", port: 0 });
    const s = handle.device.socket;
    try {
      assert.ok(s && isUdpWorkerSocket(s));
      assert.equal(s.backend, "ffi");
      const junk = new Uint8Array(148);
      junk[0] = 4; // a transport message for an unknown index
      peer.send(junk, { address: "127.0.0.1", port: handle.listenPort });
      await until(() => handle.device.counters.datagramsReceived === 1);
      assert.deepEqual(handle.stats().socket.backend, "ffi");
    } finally {
      peer.close();
      await handle.close(0);
      if (s && isUdpWorkerSocket(s)) await withTimeout(s.closed, 3000, "close");
    }
  },
});
