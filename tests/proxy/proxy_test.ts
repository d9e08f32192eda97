/**
 * The flow proxy with the netstack in-process: a "client" stack plays the peer's kernel, the
 * "server" stack runs the FlowProxy, and targets listen on 127.0.0.1 (allowed by explicit
 * rules, since loopback is in the built-in deny set).
 */
import assert from "node:assert/strict";
import { Netstack } from "../../src/netstack/mod.ts";
import { FlowProxy } from "../../src/proxy/proxy.ts";
import { parseRule } from "../../src/proxy/policy.ts";
import { getLogger, MemoryHandler, setup } from "../../src/log.ts";
import { wire } from "../netstack/_link.ts";

const mem = new MemoryHandler("DEBUG");
setup({ handlers: { mem }, loggers: { "proxy-test": { level: "DEBUG", handlers: ["mem"] } } });
const log = getLogger("proxy-test");

async function rig(
  rules: string[],
  extra: Partial<ConstructorParameters<typeof FlowProxy>[1]> = {},
) {
  const client = await Netstack.create({ addresses: ["10.66.0.2/24", "fd66::2/64"] });
  const server = await Netstack.create({ addresses: ["10.66.0.1/24", "fd66::1/64"] });
  wire(client, server);
  wire(server, client);
  const proxy = new FlowProxy(server, {
    rules: rules.map(parseRule),
    denyPrefixes: ["10.66.0.0/24"],
    permission: () => true,
    logger: log,
    peerOf: () => "peerA",
    ...extra,
  });
  proxy.enableTcp();
  proxy.enableUdp();
  return {
    client,
    server,
    proxy,
    async close() {
      await proxy.close();
      client.close();
      server.close();
    },
  };
}

async function readAll(r: { read(b: Uint8Array): Promise<number | null> }): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await r.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) (out.set(c, o), o += c.length);
  return out;
}

async function sha256(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(b)));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("proxy: TCP bytes cross intact both ways with half-close", async () => {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (target.addr as Deno.NetAddr).port;
  const r = await rig([`allow 127.0.0.1/32:${port} tcp`]);
  const payload = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
  // The target echoes everything, then closes after the client half-closes.
  const served = (async () => {
    const c = await target.accept();
    const got = await readAll(c);
    for (let o = 0; o < got.length;) o += await c.write(got.subarray(o));
    c.close();
    return got.length;
  })();
  const conn = await r.client.dialTcp({ hostname: "127.0.0.1", port });
  const writer = (async () => {
    await conn.write(payload);
    await conn.closeWrite();
  })();
  const echoed = await readAll(conn);
  await writer;
  assert.equal(await served, payload.length);
  assert.equal(echoed.length, payload.length);
  assert.equal(await sha256(echoed), await sha256(payload));
  conn.close();
  target.close();
  await new Promise((res) => setTimeout(res, 50));
  const s = r.proxy.stats.snapshot();
  assert.equal(s.tcp.total, 1);
  assert.equal(s.tcp.bytesUp, payload.length);
  assert.equal(s.tcp.bytesDown, payload.length);
  assert.ok(mem.records.some((rec) => rec.msg === "flow"), "a flow log line was written");
  await r.close();
});

Deno.test("proxy: denied or dead targets get a RST, and nothing reaches a denied target", async () => {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (target.addr as Deno.NetAddr).port;
  let accepted = 0;
  (async () => {
    for await (const c of target) (accepted++, c.close());
  })();
  const r = await rig([]); // no rule: loopback stays denied by the built-in set
  await assert.rejects(r.client.dialTcp({ hostname: "127.0.0.1", port }));
  assert.equal(accepted, 0);
  assert.equal(r.proxy.stats.tcp.refused["denied-builtin"], 1);
  // A port nobody listens on: the dial fails and the peer gets a RST, fast.
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (dead.addr as Deno.NetAddr).port;
  dead.close();
  const r2 = await rig([`allow 127.0.0.1/32 tcp`]);
  const t0 = performance.now();
  await assert.rejects(r2.client.dialTcp({ hostname: "127.0.0.1", port: deadPort }));
  assert.ok(performance.now() - t0 < 3000);
  assert.equal(r2.proxy.stats.tcp.refused["dial-refused"], 1);
  target.close();
  await r.close();
  await r2.close();
});

Deno.test("proxy: per-peer flow limit refuses the extra flow, others keep working", async () => {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (target.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of target) held.push(c);
  })();
  const r = await rig([`allow 127.0.0.1/32:${port} tcp`], { limits: { maxFlowsPerPeer: 3 } });
  const conns = [];
  for (let i = 0; i < 3; i++) conns.push(await r.client.dialTcp({ hostname: "127.0.0.1", port }));
  await assert.rejects(r.client.dialTcp({ hostname: "127.0.0.1", port }));
  assert.equal(r.proxy.stats.tcp.refused["limit-peer"], 1);
  await conns[0]!.write(new TextEncoder().encode("still fine"));
  for (const c of conns) c.close();
  await new Promise((res) => setTimeout(res, 100));
  for (const c of held) c.close();
  target.close();
  await r.close();
});

Deno.test("proxy: UDP round trip from the original destination; denied gets ICMP", async () => {
  const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (echo.addr as Deno.NetAddr).port;
  (async () => {
    for await (const [data, from] of echo) await echo.send(data, from);
  })().catch(() => {});
  const r = await rig([`allow 127.0.0.1/32:${port} udp`]);
  const sock = r.client.dialUdp({ hostname: "127.0.0.1", port });
  const msg = new TextEncoder().encode("ping over udp");
  await sock.send(msg);
  const [reply, from] = await sock.receive();
  assert.deepEqual(reply, msg);
  assert.equal(from.hostname, "127.0.0.1");
  assert.equal(from.port, port);
  assert.equal(r.proxy.stats.udp.total, 1);
  // A denied destination: dropped and counted (ICMP admin-prohibited goes back).
  const other = r.client.dialUdp({
    hostname: "127.0.0.1",
    port: port + 1 === 65536 ? 1 : port + 1,
  });
  await other.send(msg);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(r.proxy.stats.udp.dropped["denied"], 1);
  sock.close();
  other.close();
  echo.close();
  await r.close();
});

Deno.test("proxy: a per-flow bandwidth cap paces TCP through backpressure", async () => {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (target.addr as Deno.NetAddr).port;
  const r = await rig([`allow 127.0.0.1/32:${port} tcp`], {
    limits: { flowBytesPerSecond: 256 * 1024 },
  });
  const received = (async () => {
    const c = await target.accept();
    const got = await readAll(c);
    c.close();
    return got.length;
  })();
  const conn = await r.client.dialTcp({ hostname: "127.0.0.1", port });
  const t0 = performance.now();
  await conn.write(new Uint8Array(512 * 1024));
  await conn.closeWrite();
  assert.equal(await received, 512 * 1024);
  // 512 KiB at 256 KiB/s with a 32 KiB burst takes about 1.9 s; unpaced it takes milliseconds.
  assert.ok(performance.now() - t0 > 1000, `took ${performance.now() - t0} ms`);
  conn.close();
  target.close();
  await r.close();
});

Deno.test("proxy: accept-before-dial answers a warm target's SYN at once, and resets the peer if that dial fails", async () => {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (target.addr as Deno.NetAddr).port;
  const echoing = (async () => {
    for await (const c of target) {
      (async () => {
        const got = await readAll(c);
        for (let o = 0; o < got.length;) o += await c.write(got.subarray(o));
        c.close();
      })();
    }
  })();
  const rules = [`allow 127.0.0.1/32:${port} tcp`];
  const r = await rig(rules, { acceptBeforeDial: true });
  const plain = await rig(rules); // the default: dial first, always
  assert.equal(r.proxy.acceptBeforeDial, true);
  assert.equal(plain.proxy.acceptBeforeDial, false);
  // Cold, then warm: bytes written the moment the handshake ends cross intact either way (the
  // warm one's may arrive before its dial finished; the window holds them).
  for (let i = 0; i < 2; i++) {
    for (const rr of [r, plain]) {
      const conn = await rr.client.dialTcp({ hostname: "127.0.0.1", port });
      const payload = new Uint8Array(64 * 1024).map((_, j) => (j * 31 + i) & 0xff);
      const writing = (async () => {
        await conn.write(payload);
        await conn.closeWrite();
      })();
      assert.equal(await sha256(await readAll(conn)), await sha256(payload));
      await writing;
      conn.close();
    }
  }
  // The target goes away. Warm: the peer's connect completes (SYN-ACK before the dial), then the
  // failed dial resets it. Dial-first: the SYN itself gets the RST.
  target.close();
  await echoing;
  const reset = await r.client.dialTcp({ hostname: "127.0.0.1", port });
  const err = await reset.closed;
  assert.ok(err instanceof Error, "the accepted connection was reset");
  assert.equal(r.proxy.stats.tcp.refused["dial-refused"], 1);
  await assert.rejects(plain.client.dialTcp({ hostname: "127.0.0.1", port }));
  assert.equal(plain.proxy.stats.tcp.refused["dial-refused"], 1);
  // The failure made the target cold again: the next SYN waits for its dial and gets a RST.
  await assert.rejects(r.client.dialTcp({ hostname: "127.0.0.1", port }));
  assert.equal(r.proxy.stats.tcp.refused["dial-refused"], 2);
  reset.close();
  await r.close();
  await plain.close();
});
