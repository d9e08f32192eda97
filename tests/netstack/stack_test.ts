import assert from "node:assert/strict";
import { Netstack, type TcpFlowRequest, type UdpDatagram } from "../../src/netstack/mod.ts";
import { stackPair } from "./_link.ts";
import {
  ACK,
  echoRequest,
  isAddr,
  parsePacket,
  RST,
  SYN,
  tcpPacket,
  udpPacket,
} from "./_packets.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };

async function single(extra: Partial<Parameters<typeof Netstack.create>[0]> = {}) {
  const s = await Netstack.create({ addresses: ["10.88.0.1/24", "fd88::1/64"], ...extra });
  const out: Uint8Array[] = [];
  s.onOutput = (p) => out.push(p.slice());
  return { s, out };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

type AcceptedConn = Promise<import("../../src/netstack/mod.ts").TcpConn>;

/** The oldest flow `onTcpFlow` accepted into `accepted`, waiting for one at most ~1 s. */
async function nextAccepted(accepted: AcceptedConn[]): AcceptedConn {
  for (let i = 0; i < 1000 && accepted.length === 0; i++) await tick(1);
  assert.ok(accepted.length > 0, "no flow was accepted");
  return accepted.shift()!;
}

Deno.test("ICMP echo is answered for own addresses only (v4 and v6)", OPTS, async () => {
  const { s, out } = await single();
  s.input(echoRequest("10.88.0.2", "10.88.0.1", 7, 1));
  assert.deepEqual(out.length, 1);
  const r4 = parsePacket(out[0]!);
  assert.deepEqual(r4.proto, 1);
  assert.deepEqual(r4.l4[0], 0); // echo reply
  assert.ok(isAddr(r4.src, "10.88.0.1") && isAddr(r4.dst, "10.88.0.2"));

  s.input(echoRequest("fd88::2", "fd88::1", 7, 2));
  assert.deepEqual(out.length, 2);
  const r6 = parsePacket(out[1]!);
  assert.deepEqual(r6.proto, 58);
  assert.deepEqual(r6.l4[0], 129); // echo reply
  assert.ok(isAddr(r6.src, "fd88::1") && isAddr(r6.dst, "fd88::2"));

  // never for a foreign address or the rest of the prefix
  s.input(echoRequest("10.88.0.2", "8.8.8.8", 7, 3));
  s.input(echoRequest("10.88.0.2", "10.88.0.9", 7, 4));
  s.input(echoRequest("fd88::2", "2001:db8::1", 7, 5));
  s.input(echoRequest("fd88::2", "fd88::9", 7, 6));
  assert.deepEqual(out.length, 2);
  assert.ok(s.stats()["drop.foreign_protocol"] >= 2);
  s.close();
});

Deno.test("multicast and broadcast are dropped silently and counted", OPTS, async () => {
  const { s, out } = await single();
  const data = new Uint8Array(10);
  s.input(udpPacket("10.88.0.2", 5353, "224.0.0.251", 5353, data));
  s.input(udpPacket("10.88.0.2", 1900, "239.255.255.250", 1900, data));
  s.input(udpPacket("10.88.0.2", 9, "255.255.255.255", 9, data));
  s.input(udpPacket("10.88.0.2", 9, "10.88.0.255", 9, data));
  s.input(udpPacket("fd88::2", 5353, "ff02::fb", 5353, data));
  let udp = 0;
  s.onUdp = () => udp++;
  await tick();
  assert.deepEqual(out.length, 0);
  assert.deepEqual(udp, 0);
  assert.deepEqual(s.stats()["drop.multicast"], 5);
  s.close();
});

Deno.test(
  "a SYN with no onTcpFlow handler is answered with RST from the destination",
  OPTS,
  async () => {
    const { s, out } = await single();
    s.input(tcpPacket("10.88.0.2", 40000, "93.184.216.34", 443, SYN, 1000));
    await tick();
    assert.deepEqual(out.length, 1);
    const r = parsePacket(out[0]!);
    assert.deepEqual(r.proto, 6);
    assert.ok(isAddr(r.src, "93.184.216.34") && isAddr(r.dst, "10.88.0.2"));
    const dv = new DataView(r.l4.buffer);
    assert.deepEqual(dv.getUint16(0), 443);
    assert.deepEqual(dv.getUint16(2), 40000);
    assert.deepEqual(r.l4[13]! & (RST | ACK), RST | ACK);
    assert.deepEqual(dv.getUint32(8), 1001); // ACK = SEG.SEQ + SEG.LEN (the SYN)
    assert.deepEqual(s.stats()["tcp.refused_no_handler"], 1);
    s.close();
  },
);

Deno.test(
  "held SYN: no SYN-ACK until accepted; retransmit absorbed; new ISN replaces",
  OPTS,
  async () => {
    const { s, out } = await single();
    const reqs: TcpFlowRequest[] = [];
    s.onTcpFlow = (r) => reqs.push(r);
    s.input(tcpPacket("10.88.0.2", 40001, "1.1.1.1", 80, SYN, 5000));
    await tick();
    assert.deepEqual(reqs.length, 1);
    assert.deepEqual(out.length, 0); // held: nothing answered yet
    assert.deepEqual(reqs[0]!.src, { address: "10.88.0.2", port: 40001 });
    assert.deepEqual(reqs[0]!.dst, { address: "1.1.1.1", port: 80 });
    s.input(tcpPacket("10.88.0.2", 40001, "1.1.1.1", 80, SYN, 5000)); // retransmit
    s.input(tcpPacket("10.88.0.2", 40001, "1.1.1.1", 80, SYN, 9000)); // new ISN
    await tick();
    assert.deepEqual(reqs.length, 1);
    const st = s.stats();
    assert.deepEqual(st["tcp.syn_retransmits_absorbed"], 1);
    assert.deepEqual(st["tcp.syn_isn_replaced"], 1);
    assert.deepEqual(st["tcp.held"], 1);
    // the request shows the SYN as last received (what an ICMP error would quote)
    assert.deepEqual(new DataView(parsePacket(reqs[0]!.packet).l4.buffer).getUint32(4), 9000);
    // accept: the SYN-ACK acknowledges the replacing ISN
    const accepted = reqs[0]!.accept();
    await tick();
    assert.deepEqual(out.length, 1);
    const synack = parsePacket(out[0]!);
    assert.deepEqual(synack.l4[13]! & (SYN | ACK), SYN | ACK);
    assert.ok(isAddr(synack.src, "1.1.1.1"));
    assert.deepEqual(new DataView(synack.l4.buffer).getUint32(8), 9001);
    const iss = new DataView(synack.l4.buffer).getUint32(4);
    s.input(tcpPacket("10.88.0.2", 40001, "1.1.1.1", 80, ACK, 9001, iss + 1));
    const conn = await accepted;
    assert.deepEqual(conn.localAddr.hostname, "1.1.1.1");
    assert.deepEqual(conn.localAddr.port, 80);
    assert.deepEqual(conn.remoteAddr.hostname, "10.88.0.2");
    conn.reset();
    s.close();
  },
);

Deno.test("held SYN: peer RST cancels, hold timeout refuses, limits refuse", OPTS, async () => {
  const { s, out } = await single({ synHoldTimeoutMs: 50, maxHeldSynsPerSource: 2 });
  const reqs: TcpFlowRequest[] = [];
  s.onTcpFlow = (r) => reqs.push(r);
  s.input(tcpPacket("10.88.0.2", 40002, "1.1.1.1", 80, SYN, 1));
  await tick();
  s.input(tcpPacket("10.88.0.2", 40002, "1.1.1.1", 80, RST, 2));
  await tick();
  assert.ok(reqs[0]!.signal.aborted);
  await assert.rejects(() => reqs[0]!.accept());
  assert.deepEqual(s.stats()["tcp.held_peer_cancelled"], 1);
  assert.deepEqual(out.length, 0);

  // per-source limit 2: the third SYN from the same source is refused with RST
  s.input(tcpPacket("10.88.0.2", 40010, "1.1.1.1", 80, SYN, 1));
  s.input(tcpPacket("10.88.0.2", 40011, "1.1.1.1", 80, SYN, 1));
  s.input(tcpPacket("10.88.0.2", 40012, "1.1.1.1", 80, SYN, 1));
  await tick();
  assert.deepEqual(reqs.length, 3);
  assert.deepEqual(out.length, 1);
  assert.deepEqual(parsePacket(out[0]!).l4[13]! & RST, RST);
  assert.deepEqual(s.stats()["tcp.held_over_limit"], 1);
  // the two held ones time out and are refused
  await tick(120);
  assert.deepEqual(s.stats()["tcp.held_timed_out"], 2);
  assert.deepEqual(out.length, 3);
  assert.ok(reqs[1]!.signal.aborted && reqs[2]!.signal.aborted);
  s.close();
});

Deno.test("refuse() answers RST: the dialing stack sees a reset", OPTS, async () => {
  const { proxy, peer, close } = await stackPair();
  proxy.onTcpFlow = (r) => r.refuse();
  await assert.rejects(() => peer.dialTcp({ hostname: "203.0.113.5", port: 22 }));
  assert.deepEqual(proxy.stats()["tcp.refused"], 1);
  close();
});

Deno.test("own listeners take precedence; own prefix is never proxied", OPTS, async () => {
  const { proxy, peer, close } = await stackPair();
  const flows: TcpFlowRequest[] = [];
  proxy.onTcpFlow = (r) => {
    flows.push(r);
    r.refuse();
  };
  const listener = proxy.listenTcp({ port: 80 });
  const [c, server] = await Promise.all([
    peer.dialTcp({ hostname: "10.88.0.1", port: 80 }),
    listener.accept(),
  ]);
  assert.deepEqual(server.localAddr.hostname, "10.88.0.1");
  assert.deepEqual(flows.length, 0);
  // same port on a foreign address goes to the flow handler, not the listener
  await assert.rejects(() => peer.dialTcp({ hostname: "8.8.8.8", port: 80 }));
  assert.deepEqual(flows.length, 1);
  // the rest of the prefix: RST, not proxied
  await assert.rejects(() => peer.dialTcp({ hostname: "10.88.0.7", port: 80 }));
  assert.deepEqual(flows.length, 1);
  c.close();
  server.close();
  listener.close();
  close();
});

Deno.test("TcpConn.released: open until closed here or reset by the peer", OPTS, async () => {
  const { proxy, peer, close } = await stackPair();
  const accepted: AcceptedConn[] = [];
  proxy.onTcpFlow = (r) => accepted.push(r.accept());
  const c = await peer.dialTcp({ hostname: "198.51.100.1", port: 7 });
  const s = await nextAccepted(accepted);
  assert.equal(s.released, false);
  assert.equal(c.released, false);
  c.reset(); // the peer's RST frees the accepted side inside lwIP
  assert.equal(c.released, true);
  assert.ok((await s.closed) instanceof Error);
  assert.equal(s.released, true);
  const c2 = await peer.dialTcp({ hostname: "198.51.100.1", port: 7 });
  const s2 = await nextAccepted(accepted);
  s2.close();
  assert.equal(s2.released, true);
  assert.equal(c2.released, false, "the other end only sees a FIN");
  c2.close();
  close();
});

Deno.test("half-close in each direction", OPTS, async () => {
  const { proxy, peer, close } = await stackPair();
  const enc = new TextEncoder(), dec = new TextDecoder();
  const accepted: AcceptedConn[] = [];
  proxy.onTcpFlow = (r) => accepted.push(r.accept());
  for (const clientFirst of [true, false]) {
    const c = await peer.dialTcp({ hostname: "198.51.100.1", port: 7 });
    const s = await nextAccepted(accepted);
    const [first, second] = clientFirst ? [c, s] : [s, c];
    await first.write(enc.encode("request"));
    await first.closeWrite();
    const buf = new Uint8Array(64);
    const n = await second.read(buf);
    assert.deepEqual(dec.decode(buf.subarray(0, n!)), "request");
    assert.deepEqual(await second.read(buf), null); // FIN seen
    // the other direction still works after the half-close
    await second.write(enc.encode("response"));
    await second.closeWrite();
    const m = await first.read(buf);
    assert.deepEqual(dec.decode(buf.subarray(0, m!)), "response");
    assert.deepEqual(await first.read(buf), null);
    c.close();
    s.close();
  }
  close();
});

Deno.test(
  "streams: readable/writable with backpressure and half-close on writable.close()",
  OPTS,
  async () => {
    const { proxy, peer, close } = await stackPair();
    let server: Promise<import("../../src/netstack/mod.ts").TcpConn> | undefined;
    proxy.onTcpFlow = (r) => server = r.accept();
    const c = await peer.dialTcp({ hostname: "192.0.2.10", port: 9 });
    while (!server) await tick(1);
    const s = await server;
    const writer = c.writable.getWriter();
    await writer.write(new Uint8Array(300_000).fill(1));
    await writer.close();
    let total = 0;
    for await (const chunk of s.readable) total += chunk.length;
    assert.deepEqual(total, 300_000);
    s.close();
    c.close();
    close();
  },
);

Deno.test(
  "UDP to any destination, v4 and v6; replies come from the original destination",
  OPTS,
  async () => {
    const { proxy, peer, close } = await stackPair();
    const got: UdpDatagram[] = [];
    proxy.onUdp = (d) => {
      got.push(d);
      proxy.sendUdp(
        d.dst,
        d.src,
        new TextEncoder().encode("reply:" + new TextDecoder().decode(d.data)),
      );
    };
    for (const [host, family] of [["9.9.9.9", 4], ["2001:db8::53", 6]] as const) {
      const sock = peer.dialUdp({ hostname: host, port: 53 });
      await sock.send(new TextEncoder().encode("q" + family));
      const [data, from] = await sock.receive();
      assert.deepEqual(new TextDecoder().decode(data), "reply:q" + family);
      assert.deepEqual(from.hostname, host);
      assert.deepEqual(from.port, 53);
      const d = got.at(-1)!;
      assert.deepEqual(d.family, family);
      assert.deepEqual(d.dst, { address: host, port: 53 });
      assert.deepEqual(d.src.port, sock.addr.port);
      sock.close();
    }
    close();
  },
);

Deno.test("large UDP replies are fragmented and reassembled (v4 and v6)", OPTS, async () => {
  const { proxy, peer, close } = await stackPair();
  const big = new Uint8Array(4000).map((_, i) => i & 0xff);
  proxy.onUdp = (d) => proxy.sendUdp(d.dst, d.src, big);
  for (const host of ["9.9.9.9", "2001:db8::53"]) {
    const sock = peer.dialUdp({ hostname: host, port: 53 });
    await sock.send(new Uint8Array([1]));
    const [data] = await sock.receive();
    assert.deepEqual(data, big);
    sock.close();
  }
  close();
});

Deno.test(
  "UDP to the stack's own address reaches listenUdp; ICMP unreachable reaches the peer",
  OPTS,
  async () => {
    const { proxy, peer, close } = await stackPair();
    const server = proxy.listenUdp({ port: 5000 });
    const client = peer.dialUdp({ hostname: "10.88.0.1", port: 5000 });
    await client.send(new Uint8Array([42]));
    const [data, from] = await server.receive();
    assert.deepEqual(data, new Uint8Array([42]));
    await server.send(new Uint8Array([43]), from);
    assert.deepEqual((await client.receive())[0], new Uint8Array([43]));
    server.close();
    client.close();

    // a denied datagram gets an ICMP admin-prohibited quoting it
    const { s, out } = await single();
    let d: UdpDatagram | undefined;
    s.onUdp = (x) => d = x;
    s.input(udpPacket("10.88.0.2", 1234, "203.0.113.9", 53, new Uint8Array([1, 2, 3])));
    await tick();
    if (!d) throw new Error("no datagram");
    assert.ok(s.sendIcmpUnreachable(d, "admin-prohibited"));
    const icmp = parsePacket(out.at(-1)!);
    assert.deepEqual(icmp.proto, 1);
    assert.deepEqual([icmp.l4[0], icmp.l4[1]], [3, 13]);
    assert.ok(isAddr(icmp.dst, "10.88.0.2"));
    const quoted = parsePacket(icmp.l4.subarray(8));
    assert.ok(isAddr(quoted.dst, "203.0.113.9"));
    s.close();
    close();
  },
);

Deno.test("pool sizes are what lwipopts.h says (stats layout matches glue.c)", OPTS, async () => {
  const { s } = await single();
  const st = s.stats();
  assert.deepEqual(st["pool.tcp_pcb_size"], 4096);
  assert.deepEqual(st["pool.pbuf_size"], 6144);
  assert.deepEqual(st["pool.tcp_seg_size"], 16384);
  assert.deepEqual(st["pool.heap_size"], 16 * 1024 * 1024);
  s.close();
});

Deno.test(
  "the first dial from a stack whose random port start is the range's last port succeeds",
  OPTS,
  async () => {
    // lwIP draws the first ephemeral port from its RNG (SipHash keyed by Netstack.create's random
    // bytes 16..32; tcp_init takes the second draw). This key makes that draw 0xffff: lwIP 2.1.3
    // wrapped it to 0 and failed the dial with ERR_BUF, and later dials took ports 1, 2, ...
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setBigUint64(16, 16336n, true);
    const getRandomValues = crypto.getRandomValues;
    crypto.getRandomValues = <T extends ArrayBufferView | null>(a: T): T => {
      (a as unknown as Uint8Array).set(seed.subarray(0, (a as unknown as Uint8Array).length));
      return a;
    };
    let pair;
    try {
      pair = await stackPair();
    } finally {
      crypto.getRandomValues = getRandomValues;
    }
    const ports: number[] = [];
    pair.proxy.onTcpFlow = (r) => {
      ports.push(r.src.port);
      r.accept().then((c) => c.close(), () => {});
    };
    try {
      for (let i = 0; i < 2; i++) {
        const c = await pair.peer.dialTcp({ hostname: "203.0.113.80", port: 80 });
        c.close();
      }
    } finally {
      pair.close();
    }
    assert.equal(ports.length, 2);
    for (const p of ports) assert.ok(p >= 0xc000 && p <= 0xffff, `ephemeral port ${p}`);
  },
);
