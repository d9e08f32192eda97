/**
 * Direct send (udp_worker_socket.ts): sparse replies leave on a main-thread socket that shares
 * the Worker's port, while everything incoming still reaches the Worker's socket. Linux only
 * (the kernel's choice between two sockets sharing a port is what it relies on).
 */
import assert from "node:assert/strict";
import {
  listenUdp,
  type UdpReceived,
  type UdpRemote,
  type UdpSocket,
} from "../../src/udp_socket.ts";
import {
  DIRECT_PER_RUN,
  DIRECT_PER_TASK,
  isUdpWorkerSocket,
  listenUdpWorker,
  type UdpWorkerSocket,
} from "../../src/udp_worker/mod.ts";
import { QUIET_HOLD_MS, QUIET_LEAVE_BURST_BYTES } from "../../src/udp_worker/udp_worker_socket.ts";
import { startProxy } from "../../src/server.ts";
import { interopUnavailable, Netns } from "../interop/_netns.ts";
import {
  burstReceiver,
  closeAll,
  receiveUntilClosed,
  sleep,
  until,
  withTimeout,
  workerSocket,
} from "./_helpers.ts";
import { generatePrivateKey } from "../../src/wireguard/keys.ts";

const linux = Deno.build.os === "linux";
/** The IPv6-only test runs in a namespace of its own: root and iproute2 (as the interop tests). */
const namespacesUnavailable = await interopUnavailable();
if (namespacesUnavailable !== null) {
  console.warn(`SKIP direct send where :: is IPv6-only: ${namespacesUnavailable}`);
}

/** A plain client socket, and what it received, with the sender's port. */
function client(hostname = "127.0.0.1") {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const got: { byte: number; port: number }[] = [];
  const done = (async () => {
    try {
      for (;;) {
        const [data, from] = await conn.receive();
        got.push({ byte: data[0]!, port: (from as Deno.NetAddr).port });
      }
    } catch {
      // closed
    }
  })();
  return {
    conn,
    got,
    port: (conn.addr as Deno.NetAddr).port,
    async close() {
      conn.close();
      await done;
    },
  };
}

/** Datagram `n` of a numbered burst. */
function numbered(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, n >> 8]);
}

/**
 * Waits for `marker`, sent once the ring has drained (so it cannot overtake), then asserts that
 * what arrived before it came in the order sent: a burst through a 208 KiB socket may lose some
 * datagrams, but never reorder them.
 */
async function assertInOrder(
  sock: UdpWorkerSocket,
  c: Awaited<ReturnType<typeof burstReceiver>>,
  from: number,
  marker: number,
): Promise<void> {
  await sleep(20);
  sock.send(numbered(marker), c.to);
  await until(() => c.numbers().includes(marker), 3000, () => `marker ${marker}`);
  const got = c.numbers();
  const burst = got.slice(got.findIndex((n) => n >= from), got.indexOf(marker));
  assert.ok(burst.length > 100, `${burst.length} arrived`);
  const inversions = burst.filter((n, i) => i > 0 && n <= burst[i - 1]!).length;
  assert.equal(inversions, 0, `reordered: ${burst.join(" ")}`);
}

/**
 * Sends datagrams `from` … `from` + 999 at a bulk transfer's rate: two a synchronous run, a timer
 * task every 50. Answers how many of them were sent direct.
 */
async function sendAtBulkRate(sock: UdpWorkerSocket, to: UdpRemote, from: number) {
  const before = sock.stats.directSent;
  for (let i = from; i < from + 1000; i++) {
    sock.send(numbered(i), to);
    if (i % 2 === 1) await Promise.resolve();
    if (i % 50 === 49) await sleep(0);
  }
  return sock.stats.directSent - before;
}

/** What a quiet-mode test works with (withQuietMode). */
interface QuietHarness {
  sock: UdpWorkerSocket;
  c: ReturnType<typeof client>;
  /** The receive loops of quiet mode's side sockets, one for each time it began. */
  sides: Promise<void>[];
  /** The socket's address, for the client's sends. */
  to: Deno.NetAddr;
  /** The client's address, for the socket's sends. */
  reply: UdpRemote;
}

/**
 * Runs `body` with a Worker socket whose datagrams, through the Worker or quiet mode's side
 * socket, go to `onDatagram`, and a client; closes everything after.
 */
async function withQuietMode(
  longPathDirect: boolean,
  onDatagram: (r: UdpReceived, buf: Uint8Array) => void,
  body: (h: QuietHarness) => Promise<void>,
): Promise<void> {
  const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, longPathDirect });
  const c = client();
  const receiveAll = (s: UdpSocket) => receiveUntilClosed(s, onDatagram, 65536);
  const sides: Promise<void>[] = [];
  const main = receiveAll(sock);
  sock.onSideSocket!((side) => sides.push(receiveAll(side)));
  const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: sock.localAddr.port };
  try {
    await body({ sock, c, sides, to, reply: { address: "127.0.0.1", port: c.port } });
  } finally {
    await c.close();
    await closeAll(sock);
    await main;
    await Promise.all(sides);
  }
}

Deno.test({
  name: "direct send: a sparse reply leaves from the Worker's port without the Worker",
  ignore: !linux,
  async fn() {
    for (const directSend of [true, false]) {
      const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, directSend });
      const c = client();
      try {
        await sleep(20); // the Worker's send loop is asleep
        sock.send(new Uint8Array([7]), { address: "127.0.0.1", port: c.port });
        await until(() => c.got.length === 1);
        assert.deepEqual(c.got[0], { byte: 7, port: sock.localAddr.port });
        assert.equal(sock.stats.directSent, directSend ? 1 : 0, `directSend ${directSend}`);
        assert.equal(sock.stats.sent, 1);
      } finally {
        await c.close();
        await closeAll(sock);
      }
    }
  },
});

Deno.test({
  name:
    "direct send: a burst sends its first datagrams direct, the rest through the ring, in order",
  ignore: !linux,
  async fn() {
    const sock = await workerSocket({ hostname: "127.0.0.1", port: 0 });
    const c = await burstReceiver();
    const to = c.to;
    try {
      await sleep(20);
      for (let i = 0; i < 10; i++) sock.send(numbered(i), to);
      await until(() => c.got.length === 10);
      assert.deepEqual(c.numbers(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(sock.stats.directSent, DIRECT_PER_RUN);
      // A burst in many runs without a task in between (a busy turn of the device): direct until
      // the task's budget is spent, then through the ring — in order, where Deno would have
      // deferred and reversed the sends beyond its first ~128 of a turn.
      await sleep(20);
      const before = sock.stats.directSent;
      for (let i = 1000; i < 1600; i++) {
        sock.send(numbered(i), to);
        if (i % 2 === 1) await Promise.resolve(); // new runs, each with its own budget
      }
      const direct = sock.stats.directSent - before;
      assert.ok(direct > 0 && direct <= DIRECT_PER_TASK, `${direct} of 600 sent direct`);
      await assertInOrder(sock, c, 1000, 1999);
      // Across timer tasks at a bulk transfer's rate: once the load window has
      // QUIET_MAX_DATAGRAMS the sends go through the ring, the load being what stops them.
      await sleep(20);
      const loaded = await sendAtBulkRate(sock, to, 2000);
      assert.ok(loaded > DIRECT_PER_TASK && loaded < 1000, `${loaded} of 1000 sent direct`);
      await assertInOrder(sock, c, 2000, 3999);
    } finally {
      await c.close();
      await closeAll(sock);
    }
  },
});

Deno.test({
  name: "direct send: everything incoming reaches the Worker's socket, IPv4 and IPv6 on ::",
  ignore: !linux,
  async fn() {
    const sock = await workerSocket({ hostname: "::", port: 0, dualStack: true });
    const v4 = client("127.0.0.1");
    const v6 = client("::1");
    const received: string[] = [];
    const reader = receiveUntilClosed(
      sock,
      (r, buf) => received.push(`${r.remote.address} ${buf[0]}`),
      64,
    );
    try {
      for (let i = 0; i < 50; i++) {
        await v4.conn.send(new Uint8Array([i]), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: sock.localAddr.port,
        });
        await v6.conn.send(new Uint8Array([i]), {
          transport: "udp",
          hostname: "::1",
          port: sock.localAddr.port,
        });
      }
      await until(() => received.length === 100);
      assert.equal(received.filter((r) => r.startsWith("127.0.0.1 ")).length, 50);
      assert.equal(received.filter((r) => r.startsWith("::1 ")).length, 50);
      assert.equal(sock.stats.directLost, 0);
      assert.equal(sock.stats.dropped, 0);
      // and replies to both families leave direct from the same port
      await sleep(20);
      sock.send(new Uint8Array([1]), { address: "127.0.0.1", port: v4.port });
      await sleep(0);
      sock.send(new Uint8Array([2]), { address: "::1", port: v6.port });
      await until(() => v4.got.length === 1 && v6.got.length === 1);
      assert.deepEqual(v4.got[0], { byte: 1, port: sock.localAddr.port });
      assert.deepEqual(v6.got[0], { byte: 2, port: sock.localAddr.port });
      assert.equal(sock.stats.directSent, 2);
    } finally {
      await v4.close();
      await v6.close();
      await closeAll(sock);
      await reader;
    }
  },
});

Deno.test({
  name: "direct send: the port stays closed to a plain bind; directSend false keeps it exclusive",
  ignore: !linux,
  async fn() {
    const shared = await workerSocket({ hostname: "127.0.0.1", port: 0 });
    const exclusive = await workerSocket({ hostname: "127.0.0.1", port: 0, directSend: false });
    const opened: UdpSocket[] = [];
    try {
      for (const sock of [shared, exclusive]) {
        const port = sock.localAddr.port;
        await assert.rejects(
          listenUdp({ hostname: "127.0.0.1", port, backend: "deno" }),
          Deno.errors.AddrInUse,
        );
        // a second proxy on the same port fails as before (its exclusive bind comes first)
        await assert.rejects(
          listenUdpWorker({ hostname: "127.0.0.1", port }),
          Deno.errors.AddrInUse,
        );
      }
      // The trade-off, pinned: beside direct send a socket that asks for SO_REUSEADDR may bind.
      opened.push(
        await listenUdp({
          hostname: "127.0.0.1",
          port: shared.localAddr.port,
          backend: "deno",
          reuseAddress: true,
        }),
      );
      await assert.rejects(
        listenUdp({
          hostname: "127.0.0.1",
          port: exclusive.localAddr.port,
          backend: "deno",
          reuseAddress: true,
        }),
        Deno.errors.AddrInUse,
      );
    } finally {
      for (const s of opened) s.close();
      await closeAll(shared);
      await closeAll(exclusive);
    }
  },
});

Deno.test({
  name: "direct send relies on it: of two sockets sharing a port, the newer one receives",
  ignore: !linux,
  async fn() {
    const older = await listenUdp({ hostname: "127.0.0.1", port: 0, reuseAddress: true });
    const newer = await listenUdp({
      hostname: "127.0.0.1",
      port: older.localAddr.port,
      reuseAddress: true,
    });
    const counts = [0, 0];
    const loops = [older, newer].map((s, i) => receiveUntilClosed(s, () => counts[i]!++, 16));
    try {
      for (let i = 0; i < 20; i++) {
        const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
        await c.send(new Uint8Array(1), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: older.localAddr.port,
        });
        c.close();
      }
      await until(() => counts[1] === 20);
      await sleep(20);
      assert.deepEqual(counts, [0, 20]);
    } finally {
      older.close();
      newer.close();
      await Promise.all(loops);
    }
  },
});

Deno.test({
  name: "direct send: startProxy's directSend option reaches the socket and its counters",
  ignore: !linux,
  async fn() {
    const base = {
      privateKey: generatePrivateKey(),
      listenPort: 0,
      listenHostname: "127.0.0.1",
      dnsResolver: false,
    };
    const on = await startProxy({ ...base, addresses: ["10.77.0.1/24"] });
    const off = await startProxy({ ...base, addresses: ["10.78.0.1/24"], directSend: false });
    const c = client();
    try {
      await sleep(20);
      for (const p of [on, off]) {
        p.device.socket!.send(new Uint8Array([3]), { address: "127.0.0.1", port: c.port });
        await sleep(0);
      }
      await until(() => c.got.length === 2);
      assert.equal(on.stats().socket.sentDirect, 1);
      assert.equal(off.stats().socket.sentDirect, 0);
      // and the main thread receives for itself (quiet mode) only with it
      await c.conn.send(new Uint8Array(1), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: on.listenPort,
      });
      await c.conn.send(new Uint8Array(1), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: off.listenPort,
      });
      await until(() => on.stats().socket.received === 1 && off.stats().socket.received === 1);
      assert.equal(on.stats().socket.receivedDirect, 1);
      assert.equal(off.stats().socket.receivedDirect, 0);
      // the netstack's word of a paced long path reaches the socket (bindDevice)
      on.net.stack.onLongPath!(true);
      assert.equal(on.stats().socket.longPaths, 1);
      on.net.stack.onLongPath!(false);
    } finally {
      await c.close();
      const socks = [on.device.socket, off.device.socket];
      await on.close(0);
      await off.close(0);
      for (const s of socks) {
        if (s && isUdpWorkerSocket(s)) await withTimeout(s.closed, 3000, "close");
      }
    }
  },
});

Deno.test({
  name:
    "quiet mode: the main thread receives on its own socket, hands back to the Worker under load, and takes over again",
  ignore: !linux,
  async fn() {
    const got: number[] = [];
    const record = (_: UdpReceived, buf: Uint8Array) => got.push(buf[0]! | buf[1]! << 8);
    await withQuietMode(false, record, async ({ sock, c, sides, to, reply }) => {
      let n = 0;
      const payload = new Uint8Array(1200); // full-size-ish: quiet mode counts bytes
      const sendSome = async (count: number) => {
        for (let i = 0; i < count; i++, n++) {
          payload[0] = n & 0xff;
          payload[1] = n >> 8;
          await c.conn.send(payload, to);
        }
      };
      await until(() => sock.stats.quietModes === 1 && sides.length === 1);
      await sendSome(20);
      await until(() => got.length === 20);
      assert.equal(sock.stats.directReceived, 20, "all on the main thread's socket");
      // A bulk rate (~6 MB/s, over QUIET_LEAVE_BYTES per two calm windows): the Worker's socket
      // takes over within ~100 ms. Bursts of 10 (12 KB) every 2 ms: a receiver starved for a
      // while on a busy host still finds room in its 208 KiB socket buffer (at 24 MB/s, in bursts
      // of 40, the full suite lost datagrams to overflow 1 run in 9).
      for (let burst = 0; burst < 150; burst++) {
        await sendSome(10);
        await sleep(2);
      }
      await withTimeout(sides[0]!, 3000, "the side socket's loop to end");
      await until(() => got.length >= n - 1);
      assert.ok(got.length >= n - 1, `${got.length} of ${n}: at most one lost at the change`);
      const viaWorker = sock.stats.received - sock.stats.directReceived;
      assert.ok(viaWorker > 100, `${viaWorker} through the Worker`);
      // Quiet again: a reply brings the main thread's socket back, once QUIET_HOLD_MS is over.
      await sleep(50);
      sock.send(new Uint8Array([9]), reply);
      await sleep(50);
      assert.equal(sock.stats.quietModes, 1, "not again so soon");
      await sleep(QUIET_HOLD_MS);
      sock.send(new Uint8Array([9]), reply);
      await until(() => sock.stats.quietModes === 2 && sides.length === 2);
      const before = sock.stats.directReceived;
      const start = n;
      await sendSome(10);
      await until(() => got.length >= start + 10 - 1 && got.includes(start + 9));
      assert.equal(sock.stats.directReceived - before, 10);
    });
  },
});

Deno.test({
  name:
    "quiet mode: begun again after a long transfer, the transfer's bytes do not end it (a connection run after a download)",
  ignore: !linux,
  async fn() {
    let bytes = 0;
    const tags: number[] = [];
    const record = (r: UdpReceived, buf: Uint8Array) => {
      bytes += r.length;
      tags.push(buf[0]!);
    };
    await withQuietMode(false, record, async ({ sock, c, sides, to, reply }) => {
      await until(() => sock.stats.quietModes === 1 && sides.length === 1);
      // A transfer (1.2 s of 16 KB datagrams, as fast as they go): quiet mode ends at its start
      // and the Worker takes the rest.
      const big = new Uint8Array(16 * 1024);
      const start = performance.now();
      while (performance.now() - start < 1200) {
        for (let i = 0; i < 8; i++) await c.conn.send(big, to);
        await sleep(0);
      }
      await withTimeout(sides[0]!, 3000, "the side socket's loop to end");
      const transferred = bytes;
      // Sparse replies: quiet mode begins again once QUIET_HOLD_MS is over and the calm windows
      // have seen the transfer end.
      for (let t = 0; t < 3000 && sock.stats.quietModes < 2; t += 50) {
        sock.send(new Uint8Array([9]), reply);
        await sleep(50);
      }
      await until(() => sock.stats.quietModes === 2 && sides.length === 2);
      // What a short window asked only now would make of the transfer: its bytes over the time
      // since it began, at least. Over the burst bound, or this test shows nothing.
      const stale = transferred * 10 / (performance.now() - start);
      assert.ok(stale > QUIET_LEAVE_BURST_BYTES, `the transfer moved only ${transferred} bytes`);
      const before = sock.stats.directReceived;
      const small = new Uint8Array(100);
      small[0] = 5;
      for (let i = 0; i < 10; i++) {
        await c.conn.send(small, to);
        await sleep(5);
      }
      await until(() => tags.filter((b) => b === 5).length === 10);
      assert.equal(sock.stats.directReceived - before, 10, "received on the main thread's socket");
      assert.equal(sides.length, 2);
      let ended = false;
      sides[1]!.then(() => ended = true);
      await sleep(20);
      assert.equal(ended, false, "quiet mode ended");
    });
  },
});

Deno.test({
  name:
    "long path (longPathDirect): a paced sender's datagrams leave direct whatever the load, in order, until it ends",
  ignore: !linux,
  async fn() {
    const sock = await workerSocket({ hostname: "127.0.0.1", port: 0, longPathDirect: true });
    const c = await burstReceiver();
    const to = c.to;
    // at a bulk transfer's rate, where the load bound sends most through the ring (burst test)
    const bulk = (from: number) => sendAtBulkRate(sock, to, from);
    try {
      await sleep(20);
      sock.setLongPath(true);
      sock.setLongPath(true);
      assert.equal(sock.stats.longPaths, 1);
      assert.equal(await bulk(0), 1000);
      await assertInOrder(sock, c, 0, 1999);
      sock.setLongPath(false);
      await sleep(20);
      const loaded = await bulk(2000);
      assert.ok(loaded < 1000, `${loaded} of 1000 sent direct after the long path ended`);
      await assertInOrder(sock, c, 2000, 3999);
      assert.equal(sock.stats.longPaths, 1);
    } finally {
      await c.close();
      await closeAll(sock);
    }
  },
});

Deno.test({
  name: "long path by default: counted, but its datagrams go as any bulk's (the ring carries most)",
  ignore: !linux,
  async fn() {
    const sock = await workerSocket({ hostname: "127.0.0.1", port: 0 });
    const c = await burstReceiver();
    try {
      await sleep(20);
      sock.setLongPath(true);
      sock.setLongPath(true);
      assert.equal(sock.stats.longPaths, 1);
      const direct = await sendAtBulkRate(sock, c.to, 0);
      assert.ok(direct < 1000, `${direct} of 1000 sent direct`);
      await assertInOrder(sock, c, 0, 1999);
      sock.setLongPath(false);
      sock.setLongPath(true);
      assert.equal(sock.stats.longPaths, 2);
    } finally {
      await c.close();
      await closeAll(sock);
    }
  },
});

Deno.test({
  name:
    "long path (longPathDirect): quiet mode counts only what arrives, so a paced download's sends do not end it",
  ignore: !linux,
  async fn() {
    const got: number[] = [];
    const record = (_: UdpReceived, buf: Uint8Array) => got.push(buf[0]!);
    await withQuietMode(true, record, async ({ sock, c, sides, to, reply }) => {
      let sideEnded = false;
      const payload = new Uint8Array(1200);
      // ~960 KB at once: over QUIET_LEAVE_BYTES per two calm windows when counted
      const sendBulk = () => {
        for (let i = 0; i < 800; i++) sock.send(payload, reply);
      };
      await until(() => sock.stats.quietModes === 1 && sides.length === 1);
      sides[0]!.then(() => sideEnded = true);
      sock.setLongPath(true);
      sendBulk();
      await c.conn.send(new Uint8Array([1]), to);
      await until(() => got.length === 1);
      await sleep(20);
      assert.equal(sock.stats.directReceived, 1, "received on the main thread's socket");
      assert.equal(sideEnded, false, "quiet mode ended");
      // Without the long path the same sends count, and the next datagram ends quiet mode (a few
      // tries: on a busy host the datagram may arrive after the calm windows moved on)
      sock.setLongPath(false);
      let tries = 0;
      while (!sideEnded && tries < 5) {
        tries++;
        sendBulk();
        await c.conn.send(new Uint8Array([2]), to);
        await until(() => got.length === 1 + tries);
        await sleep(50);
      }
      assert.ok(sideEnded, "quiet mode went on");
      assert.deepEqual(got, [1, ...new Array(tries).fill(2)]);
    });
  },
});

Deno.test({
  name: "direct send and quiet mode where `::` is IPv6-only (bindv6only=1, a test namespace)",
  ignore: !linux || namespacesUnavailable !== null,
  async fn() {
    const ns = await Netns.create("nwt6");
    try {
      await ns.exec("sysctl", ["-q", "-w", "net.ipv6.bindv6only=1"]);
      const child = ns.spawn(Deno.execPath(), [
        "run",
        "--no-prompt",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        "-A",
        "--unstable-net",
        new URL("./_v6only_child.ts", import.meta.url).pathname,
      ]);
      child.stdin.close();
      const out = await withTimeout(child.output(), 30_000, "the child");
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `child failed: ${stderr}`);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
        worker: true,
        quietModes: 1,
        v4: 10,
        v6: 10,
        directReceived: 20,
        replyPortsMatch: true,
        directSent: 2,
      });
    } finally {
      await ns.cleanup();
    }
  },
});
