/**
 * Receive-window mechanics: what the stack announces must be what it has, so a slow reader
 * shrinks the peer's window instead of making the stack drop in-window data (which cost a 3 s
 * RTO stall per episode before the window was set ahead of the SYN-ACK).
 */
import assert from "node:assert/strict";
import type { Netstack, TcpConn } from "../../src/netstack/mod.ts";
import { content, sha256, stackPair } from "./_link.ts";
import { parsePacket, SYN } from "./_packets.ts";

/** The window field's unit: lwipopts.h sets TCP_RCV_SCALE 6. */
const WINDOW_SCALE = 1 << 6;
const OPTS = { sanitizeOps: true, sanitizeResources: true };
const KiB = 1024;

interface Segment {
  flags: number;
  seq: number;
  ack: number;
  win: number;
  len: number;
  wscale: number | null;
}

function parseSegment(p: Uint8Array): Segment | null {
  const ip = parsePacket(p);
  if (ip.proto !== 6) return null;
  const t = ip.l4;
  const dv = new DataView(t.buffer, t.byteOffset, t.length);
  const hl = (t[12]! >> 4) * 4;
  let wscale: number | null = null;
  for (let i = 20; i < hl;) {
    const kind = t[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (kind === 3) wscale = t[i + 2]!;
    i += Math.max(2, t[i + 1]!);
  }
  return {
    flags: t[13]!,
    seq: dv.getUint32(4),
    ack: dv.getUint32(8),
    win: dv.getUint16(14),
    len: t.length - hl,
    wscale,
  };
}

/** Records the TCP segments a stack emits (after the link's own handler). */
function tap(stack: Netstack): Segment[] {
  const seen: Segment[] = [];
  const forward = stack.onOutput!;
  stack.onOutput = (p) => {
    const s = parseSegment(p);
    if (s) seen.push(s);
    forward(p);
  };
  return seen;
}

/** Opens peer → proxy either to a listener (own address) or through accept-any. */
async function open(proxy: Netstack, peer: Netstack, via: "listener" | "accept-any") {
  if (via === "listener") {
    const l = proxy.listenTcp({ port: 80 });
    const [client, server] = await Promise.all([
      peer.dialTcp({ hostname: "10.88.0.1", port: 80 }),
      l.accept(),
    ]);
    l.close();
    return { client, server };
  }
  let accepted: Promise<TcpConn> | undefined;
  proxy.onTcpFlow = (r) => accepted = r.accept();
  const client = await peer.dialTcp({ hostname: "198.51.100.7", port: 443 });
  while (!accepted) await new Promise((r) => setTimeout(r, 1));
  return { client, server: await accepted };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `seen` stops growing for `quietMs`. */
/** Reads `conn` to its end after `first` was read already; the whole must equal `data`. */
async function readRestAndCompare(conn: TcpConn, data: Uint8Array, first: Uint8Array) {
  const buf = new Uint8Array(16 * KiB);
  const got = new Uint8Array(data.length);
  got.set(first, 0);
  let off = first.length;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    assert.ok(off + n <= data.length, `read ${off + n} of ${data.length} bytes`);
    got.set(buf.subarray(0, n), off);
    off += n;
  }
  assert.equal(off, data.length);
  assert.equal(await sha256(got), await sha256(data));
}

async function settle(seen: unknown[], quietMs = 60, maxMs = 3000): Promise<void> {
  const end = performance.now() + maxMs;
  let n = -1;
  while (n !== seen.length && performance.now() < end) {
    n = seen.length;
    await tick(quietMs);
  }
}

for (const via of ["listener", "accept-any"] as const) {
  for (const tcpWindow of [512 * KiB, 128 * KiB]) {
    Deno.test(
      `${via}, window ${tcpWindow / KiB} KiB: never announced beyond what the stack has`,
      OPTS,
      async () => {
        const { proxy, peer, close } = await stackPair({}, { tcpWindow });
        const fromProxy = tap(proxy);
        const { client, server } = await open(proxy, peer, via);
        const synAck = fromProxy.find((s) => s.flags & SYN);
        assert.ok(synAck, "no SYN-ACK seen");
        assert.ok(synAck.win <= tcpWindow, `SYN-ACK offers ${synAck.win}`);
        const scale = synAck.wscale ?? 0;
        // the reader holds off: the peer must stop at the window, not beyond it
        const data = content(3 * tcpWindow, 3);
        const writing = client.write(data).then(() => client.closeWrite());
        await settle(fromProxy);
        for (const s of fromProxy) {
          if (s.flags & SYN) continue;
          assert.ok(
            s.win * 2 ** scale <= tcpWindow,
            `announced ${s.win * 2 ** scale} bytes with a ${tcpWindow}-byte window`,
          );
        }
        await readRestAndCompare(server, data, new Uint8Array(0));
        await writing;
        client.close();
        server.close();
        close();
      },
    );
  }
}

/**
 * A flow whose reader on the proxy's side does not read: the peer writes 4 MiB (`seed`'s content)
 * until the window is full and the segments settle. `sent` is the data the peer sent by then.
 */
async function pausedReader(options: Parameters<typeof stackPair>[1], seed: number) {
  const { proxy, peer, close } = await stackPair({}, options);
  const fromPeer = tap(peer);
  const fromProxy = tap(proxy);
  const { client, server } = await open(proxy, peer, "accept-any");
  const data = content(4 * 1024 * KiB, seed);
  const writing = client.write(data).then(() => client.closeWrite());
  await settle(fromPeer);
  const sent = fromPeer.reduce((n, s) => n + s.len, 0);
  return { proxy, peer, close, fromPeer, fromProxy, client, server, data, writing, sent };
}

Deno.test("default window: a paused reader lets 3 MiB in", OPTS, async () => {
  // 3 MiB: what ~800 Mbit/s keeps in flight over a 15 ms round trip plus the round trip's worth
  // waiting behind a hole. With the 2 MiB of before, the bench's impaired upload (10 ms, 0.5%
  // loss) found the client's sender window-bound ~40% of the time (its kernel's rwnd_limited).
  const { server, client, close, data, writing, sent } = await pausedReader({}, 6);
  const window = 3 * 1024 * KiB;
  assert.ok(sent <= window && sent > window - 1460, `sent ${sent} into the default window`);
  await readRestAndCompare(server, data, new Uint8Array(0));
  await writing;
  client.close();
  server.close();
  close();
});

Deno.test(
  "paused reader: the sender fills the window exactly, nothing is retransmitted, a read reopens it at once",
  OPTS,
  async () => {
    const tcpWindow = 512 * KiB;
    const { peer, close, fromPeer, fromProxy, client, server, data, writing, sent } =
      await pausedReader({ tcpWindow }, 5);

    // the peer filled the window up to less than one segment (it sends no runt segments)
    assert.ok(sent <= tcpWindow && sent > tcpWindow - 1460, `sent ${sent} into ${tcpWindow}`);
    assert.ok(fromProxy.at(-1)!.win * WINDOW_SCALE < 1460, "the window is (nearly) closed");

    // consuming is what opens the window: the update leaves during read(), no timer involved
    const before = fromProxy.length;
    const buf = new Uint8Array(16 * KiB);
    assert.equal(await server.read(buf), buf.length);
    const update = fromProxy.slice(before).find((s) => s.win > 0);
    assert.ok(update, "no window update was sent when the reader consumed 16 KiB");
    assert.ok(update.win * WINDOW_SCALE >= buf.length);

    await readRestAndCompare(server, data, buf);
    await writing;

    // every data segment left the peer once: the receiver never dropped in-window data
    let next = fromPeer.find((s) => s.len > 0)!.seq;
    let retransmitted = 0;
    for (const s of fromPeer) {
      if (s.len === 0) continue;
      if (s.seq !== next) retransmitted++;
      else next = (next + s.len) >>> 0;
    }
    assert.equal(retransmitted, 0);
    // a window-limited writer is woken by ACKs: the retry timer is for shared-heap stalls only
    assert.equal(peer.stats()["tcp.write_retries"], 0);
    client.close();
    server.close();
    close();
  },
);

Deno.test(
  "closed window: a peer that probed and then resets ends the flow at once (challenge ACK)",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // a whole number of segments (MSS 1380 at MTU 1420): the window closes to exactly 0
    const tcpWindow = 48 * 1380;
    const { proxy, peer, close } = await stackPair({}, { tcpWindow });
    const fromPeer = tap(peer);
    const fromProxy = tap(proxy);
    const { client, server } = await open(proxy, peer, "accept-any");
    const writing = client.write(content(1024 * KiB, 6)).catch(() => {}); // never read: stalls
    // wait for a zero-window probe: a 1-byte segment at the window's edge (lwIP's persist timer)
    const end = performance.now() + 3_000;
    while (!fromPeer.some((s) => s.len === 1) && performance.now() < end) await tick(20);
    assert.ok(fromPeer.some((s) => s.len === 1), "the peer probed the closed window");
    console.log(
      `  last window ${fromProxy.at(-1)!.win}, probes ${
        fromPeer.filter((s) => s.len === 1).length
      }`,
    );
    // lwIP counted the probe's byte into snd_nxt, so its RST comes at rcv_nxt + 1
    const t0 = performance.now();
    client.reset();
    const outcome = await Promise.race([server.closed, tick(1_000).then(() => "still open")]);
    console.log(`  flow ended after ${(performance.now() - t0).toFixed(0)} ms: ${outcome}`);
    assert.ok(outcome instanceof Error, "the RST was taken (no keepalive needed)");
    await writing;
    server.close();
    close();
  },
);
