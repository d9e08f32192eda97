/**
 * Floods: handshake initiations from many source ports (cookies engage, the legitimate peer
 * still gets through, work per bogus initiation stays bounded), replays of captured handshake
 * and transport messages, a SYN flood from an authenticated peer through the netstack and the
 * flow proxy, and UDP session exhaustion. All in-process; targets on 127.0.0.1 only.
 */
import assert from "node:assert/strict";
import { CookieGenerator } from "../../src/wireguard/cookie.ts";
import { MessageType } from "../../src/wireguard/constants.ts";
import { publicKey } from "../../src/wireguard/keys.ts";
import { Netstack } from "../../src/netstack/mod.ts";
import { FlowProxy } from "../../src/proxy/proxy.ts";
import { parseRule } from "../../src/proxy/policy.ts";
import { SYN, tcpPacket } from "../netstack/_packets.ts";
import { wire } from "../netstack/_link.ts";
import { quietLogger, Rng, sleep, waitUntil } from "./_fuzz.ts";
import { ipv4, WgNet, wgPair } from "./_wg_net.ts";

/** Handshake attempts that reached the Noise code (each costs at least one DH). */
function noiseWork(drops: Map<string, number>): number {
  let n = 0;
  for (const [k, v] of drops) if (k.startsWith("initiation-")) n += v;
  return n;
}

Deno.test("floods: handshake flood from many ports — cookies engage, the real peer gets through", () => {
  const net = new WgNet();
  net.capture = false;
  const t = wgPair(net); // default under-load threshold (256 handshake messages/s)
  const bPub = publicKey(t.keyB);
  const rng = new Rng(0x5eed_0804);
  const SECONDS = 10, PER_SECOND = 2_000;
  let cookieReplies = 0;
  const bSend = t.b.sendDatagram;
  t.b.sendDatagram = (d, to) => {
    if (d[0] === MessageType.CookieReply) cookieReplies++;
    if (to.address !== "192.0.2.66") bSend(d, to);
  };
  // Bogus initiations: half with a bad MAC1 (dropped before any DH), half with a valid MAC1
  // (the attacker knows B's public key) and no cookie.
  const gen = new CookieGenerator(bPub, () => net.clock.now());
  const bogus = (validMac1: boolean) => {
    const m = rng.bytes(148);
    m.set([1, 0, 0, 0]);
    if (validMac1) gen.addMacs(m);
    return m;
  };
  let legitStarted = false;
  for (let s = 0; s < SECONDS; s++) {
    for (let i = 0; i < PER_SECOND; i++) {
      const from = { address: "192.0.2.66", port: 1024 + rng.int(60_000) };
      t.b.receiveDatagram(bogus(i % 2 === 0), from);
      if (s === 2 && i === 1000 && !legitStarted) {
        legitStarted = true;
        t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
      }
      net.flush();
      net.clock.advance(1000 / PER_SECOND);
    }
  }
  const sent = SECONDS * PER_SECOND;
  const badMac1 = t.b.drops.get("bad-mac1") ?? 0;
  const cookieSent = t.b.drops.get("cookie-sent") ?? 0;
  const work = noiseWork(t.b.drops);
  console.log(
    `floods/handshake: ${sent} bogus initiations: bad-mac1 ${badMac1}, cookie-sent ${cookieSent}, ` +
      `reached Noise ${work}; legit handshakes ${t.b.counters.handshakes}`,
  );
  assert.equal(badMac1, sent / 2, "every bad-MAC1 initiation dropped before any DH");
  assert.ok(cookieSent >= sent / 2 - 256 * SECONDS, `cookies engaged (${cookieSent})`);
  assert.equal(cookieReplies, cookieSent, "each cookie-sent drop is one cookie reply");
  assert.ok(work <= 256 + 5, `Noise work bounded to the pre-load window (${work})`);
  // the legitimate peer completed its handshake during the flood (after a cookie round trip)
  assert.equal(t.b.counters.handshakes, 1, "legit peer got through");
  assert.ok(t.gotB.length >= 1, "and its packet arrived");
  t.a.close();
  t.b.close();
});

Deno.test("floods: attackers holding valid cookies are rate-limited per source address", () => {
  const net = new WgNet();
  net.capture = false;
  const t = wgPair(net, { underLoadThreshold: 0 }); // always under load
  const bPub = publicKey(t.keyB);
  const rng = new Rng(0x5eed_0805);
  // One cookie generator per attacker port, as a real attacker at 192.0.2.77 can do.
  const gens = new Map<number, CookieGenerator>();
  const replies = new Map<number, Uint8Array>();
  t.b.sendDatagram = (d, to) => {
    if (d[0] === MessageType.CookieReply) replies.set(to.port, d.slice());
  };
  const PORTS = 50, ROUNDS = 40;
  for (let r = 0; r < ROUNDS; r++) {
    for (let p = 0; p < PORTS; p++) {
      const port = 2000 + p;
      let g = gens.get(port);
      if (!g) gens.set(port, g = new CookieGenerator(bPub, () => net.clock.now()));
      const reply = replies.get(port);
      if (reply) (g.consumeReply(reply), replies.delete(port));
      const m = rng.bytes(148);
      m.set([1, 0, 0, 0]);
      g.addMacs(m);
      t.b.receiveDatagram(m, { address: "192.0.2.77", port });
    }
    net.clock.advance(50); // 40 rounds × 50 ms = 2 s of flood
  }
  const limited = t.b.drops.get("handshake-rate-limited") ?? 0;
  const work = noiseWork(t.b.drops);
  console.log(`floods/cookie-holders: limited ${limited}, reached Noise ${work}`);
  // wireguard-go's limiter: 20/s per source address with a burst of 5 → ≤ 5 + 20·2 + slack
  assert.ok(limited > 0, "rate limiter engaged");
  assert.ok(work <= 5 + 20 * 2 + 2, `Noise work per source address bounded (${work})`);
  assert.ok(t.b.handshakeLimiter.size <= 4, "limiter table bounded");
  t.a.close();
  t.b.close();
});

Deno.test("floods: replayed handshake and transport messages are rejected", () => {
  const net = new WgNet();
  const t = wgPair(net);
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  net.flush();
  t.b.sendPacket(ipv4([10, 0, 0, 2], [10, 0, 0, 1]));
  net.flush();
  const init = net.sent(t.addrA.port, MessageType.Initiation)[0]!.data;
  const resp = net.sent(t.addrB.port, MessageType.Response)[0]!.data;
  const dataAB = net.sent(t.addrA.port, MessageType.Transport);
  const dataBA = net.sent(t.addrB.port, MessageType.Transport);
  const handshakes = [t.a.counters.handshakes, t.b.counters.handshakes];
  const got = [t.gotA.length, t.gotB.length];
  net.clock.advance(1_000); // past the initiation-flood guard: only the timestamp can reject it
  for (let i = 0; i < 3; i++) {
    t.b.receiveDatagram(init, t.addrA);
    t.a.receiveDatagram(resp, t.addrB);
    for (const c of dataAB) t.b.receiveDatagram(c.data, t.addrA);
    for (const c of dataBA) t.a.receiveDatagram(c.data, t.addrB);
  }
  assert.equal(t.b.drops.get("initiation-replayed-timestamp"), 3);
  assert.equal(t.a.drops.get("response-unknown-index"), 3);
  assert.equal(t.b.drops.get("replayed"), 3 * dataAB.length);
  assert.equal(t.a.drops.get("replayed"), 3 * dataBA.length);
  assert.deepEqual([t.a.counters.handshakes, t.b.counters.handshakes], handshakes);
  assert.deepEqual([t.gotA.length, t.gotB.length], got, "nothing replayed reached the tunnel");
  // A replayed initiation must not have replaced B's session: traffic still flows.
  net.clearQueue();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  net.flush();
  assert.equal(t.gotB.length, got[1]! + 1);
  t.a.close();
  t.b.close();
});

async function proxyRig(
  options: ConstructorParameters<typeof FlowProxy>[1] = {},
  netstack: Parameters<typeof Netstack.create>[0] extends infer O ? Partial<O> : never = {},
) {
  const server = await Netstack.create({ addresses: ["10.66.0.1/24"], ...netstack });
  const good = await Netstack.create({ addresses: ["10.66.0.3/24"] });
  wire(good, server);
  // the server's output goes to the good peer only (RSTs for the attacker are counted)
  let toAttacker = 0;
  let toGood: (p: Uint8Array) => void = () => {};
  wire(server, good);
  toGood = server.onOutput!;
  server.onOutput = (p) => {
    if (p[0]! >> 4 === 4 && p[19] === 2) toAttacker++;
    else toGood(p);
  };
  const proxy = new FlowProxy(server, {
    denyPrefixes: ["10.66.0.0/24"],
    logger: quietLogger,
    flowLog: false,
    peerOf: (a) => (a === "10.66.0.2" ? "attacker" : "good"),
    ...options,
  });
  proxy.enableTcp();
  proxy.enableUdp();
  return { server, good, proxy, toAttacker: () => toAttacker };
}

async function transfer(conn: Deno.Conn | import("../../src/netstack/mod.ts").TcpConn, n: number) {
  const chunk = new Uint8Array(64 * 1024);
  for (let o = 0; o < n; o += chunk.length) {
    for (let w = 0; w < chunk.length;) w += await conn.write(chunk.subarray(w));
  }
  await conn.closeWrite();
}

Deno.test({
  name: "floods: 30k SYNs from one peer to many destinations — held SYNs and memory bounded",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tport = (target.addr as Deno.NetAddr).port;
  // The attacker's destinations are denied; the good peer's target on loopback is allowed.
  const r = await proxyRig({
    rules: [parseRule(`allow 127.0.0.1/32:${tport} tcp`)],
    permission: (host) => host === `127.0.0.1:${tport}`,
  });
  const SYNS = 30_000;
  const rng = new Rng(0x5eed_0806);
  const base = r.server.stats();
  let maxHeld = 0, maxPcbs = 0;
  // Baseline throughput of the good peer.
  const measure = async () => {
    const accepted = target.accept();
    const c = await r.good.dialTcp({ hostname: "127.0.0.1", port: tport });
    const t = await accepted;
    const t0 = performance.now();
    const sink = (async () => {
      const buf = new Uint8Array(65536);
      let n = 0;
      for (;;) {
        const k = await t.read(buf);
        if (k === null) break;
        n += k;
      }
      return n;
    })();
    await transfer(c, 8 << 20);
    const n = await sink;
    const ms = performance.now() - t0;
    t.close();
    c.close();
    return { n, mbps: (n * 8) / 1e3 / ms };
  };
  const before = await measure();
  const flood = (async () => {
    for (let i = 0; i < SYNS; i++) {
      const dst = `198.51.${rng.int(256)}.${rng.int(256)}`;
      r.server.input(tcpPacket("10.66.0.2", 1024 + (i % 60000), dst, 1 + rng.int(65535), SYN, i));
      if (i % 500 === 0) {
        const s = r.server.stats();
        maxHeld = Math.max(maxHeld, s["tcp.held"]);
        maxPcbs = Math.max(maxPcbs, s["pool.tcp_pcb_used"]);
        await sleep(0);
      }
    }
  })();
  const during = await measure();
  await flood;
  const after = r.server.stats();
  const refused = r.proxy.stats.perPeer.get("attacker")?.refused ?? {};
  console.log(
    `floods/syn: ${SYNS} SYNs: held max ${maxHeld}, pcbs max ${maxPcbs}, refused ${
      JSON.stringify(refused)
    }, RSTs ${r.toAttacker()}; good peer ${before.mbps.toFixed(0)} Mbit/s before, ` +
      `${during.mbps.toFixed(0)} Mbit/s during`,
  );
  const refusedTotal = Object.values(refused).reduce((a, b) => a + b, 0);
  assert.equal(refusedTotal, SYNS, "every SYN refused and counted");
  assert.ok(maxHeld <= 1024, "held SYNs bounded");
  assert.ok(maxPcbs <= base["pool.tcp_pcb_used"] + 8, "refused SYNs take no pcbs");
  assert.ok(after["pool.heap_used"] <= base["pool.heap_used"] + 1024 * 1024, "heap bounded");
  assert.equal(during.n, 8 << 20, "the good peer's transfer completed during the flood");
  assert.equal(r.proxy.stats.perPeer.get("good")?.refused["limit-rate"] ?? 0, 0);
  await waitUntil(() => r.proxy.liveFlows === 0, 2_000);
  assert.equal(r.proxy.liveFlows, 0);
  assert.equal(r.server.stats()["tcp.held"], 0);
  await r.proxy.close();
  r.server.close();
  r.good.close();
  target.close();
});

Deno.test({
  name: "floods: UDP session exhaustion — sources beyond maxSessions refused and counted",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const eport = (echo.addr as Deno.NetAddr).port;
  (async () => {
    for await (const [d, from] of echo) await echo.send(d, from);
  })().catch(() => {});
  const MAX = 40, SOURCES = 300;
  const r = await proxyRig({
    rules: [parseRule(`allow 127.0.0.1/32:${eport} udp`)],
    permission: () => true,
    udp: { maxSessions: MAX },
    timeouts: { udpIdleTimeoutMs: 1_000 },
    limits: { newFlowsPerSecond: 1e6, newFlowBurst: 1e6 },
  });
  const socks = [];
  for (let i = 0; i < SOURCES; i++) {
    const s = r.good.dialUdp({ hostname: "127.0.0.1", port: eport });
    socks.push(s);
    await s.send(new TextEncoder().encode(`hello ${i}`));
  }
  await sleep(300);
  const udp = r.proxy.stats.udp;
  console.log(`floods/udp: ${SOURCES} sources, max ${MAX}: ${JSON.stringify(udp)}`);
  assert.equal(udp.total, MAX, "sessions capped");
  assert.equal(udp.refused["limit-sessions"], SOURCES - MAX, "the rest refused and counted");
  assert.ok(udp.live <= MAX);
  // Sessions expire; then a new source gets a session again.
  await waitUntil(() => r.proxy.stats.udp.live === 0, 4_000, 100);
  assert.equal(r.proxy.stats.udp.live, 0, "idle sessions closed");
  const late = r.good.dialUdp({ hostname: "127.0.0.1", port: eport });
  await late.send(new TextEncoder().encode("late"));
  const [reply] = await late.receive();
  assert.equal(new TextDecoder().decode(reply), "late");
  for (const s of socks) s.close();
  late.close();
  await r.proxy.close();
  r.server.close();
  r.good.close();
  echo.close();
});
