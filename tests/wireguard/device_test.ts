import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { Device } from "../../src/wireguard/device.ts";
import { generatePrivateKey, publicKey } from "../../src/wireguard/keys.ts";
import { getLogger } from "../../src/log.ts";
import { ipv4 } from "./_packets.ts";
import type { UdpRemote } from "../../src/udp_socket.ts";
import {
  KEEPALIVE_TIMEOUT,
  REJECT_AFTER_TIME,
  REKEY_AFTER_TIME,
  REKEY_TIMEOUT,
} from "../../src/wireguard/constants.ts";

/** Two devices wired back to back through an in-memory "network" with a manual clock. */
function pair(opts: { psk?: boolean; cryptoB?: "wasm" | "node" } = {}) {
  const clock = new ManualClock(1_000_000);
  const log = getLogger("test-quiet");
  const kA = generatePrivateKey(), kB = generatePrivateKey();
  const wallClock = () => clock.now();
  const a = new Device({ privateKey: kA, clock, logger: log, wallClock });
  const b = new Device({
    privateKey: kB,
    clock,
    logger: log,
    wallClock,
    crypto: opts.cryptoB ?? "wasm",
  });
  const addrA: UdpRemote = { address: "127.0.0.1", port: 1111 };
  let addrB: UdpRemote = { address: "127.0.0.1", port: 2222 };
  const inflight: Array<() => void> = [];
  const wire = { dropAll: false, captured: [] as Uint8Array[] };
  a.sendDatagram = (d, to) => {
    wire.captured.push(d);
    if (!wire.dropAll && to.port === addrB.port) inflight.push(() => b.receiveDatagram(d, addrA));
  };
  b.sendDatagram = (d, to) => {
    if (!wire.dropAll && to.port === addrA.port) inflight.push(() => a.receiveDatagram(d, addrB));
  };
  const psk = opts.psk ? generatePrivateKey() : undefined;
  const peerB = a.addPeer({
    publicKey: publicKey(kB),
    presharedKey: psk,
    allowedIPs: ["10.0.0.2/32"],
    endpoint: addrB,
  });
  const peerA = b.addPeer({
    publicKey: publicKey(kA),
    presharedKey: psk,
    allowedIPs: ["10.0.0.1/32"],
  });
  const gotA: Uint8Array[] = [], gotB: Uint8Array[] = [];
  a.onPacket = (p) => gotA.push(p.slice());
  b.onPacket = (p) => gotB.push(p.slice());
  const flush = () => {
    for (let i = 0; i < 10_000 && inflight.length; i++) inflight.shift()!();
  };
  const roamB = (port: number) => (addrB = { address: "127.0.0.1", port });
  const step = () => inflight.shift()?.();
  return { clock, a, b, peerA, peerB, gotA, gotB, flush, step, wire, roamB, addrB: () => addrB };
}

Deno.test("device: a wasm-crypto device and a node:crypto device talk", () => {
  const t = pair({ cryptoB: "node" });
  const p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1000);
  t.a.sendPacket(p);
  t.flush();
  t.b.sendPacket(ipv4([10, 0, 0, 2], [10, 0, 0, 1], 77));
  t.flush();
  assert.deepEqual(t.gotB, [p]);
  assert.equal(t.gotA.length, 1);
  t.a.close();
  t.b.close();
});

Deno.test("device: handshake on demand, data both ways, padding trimmed", () => {
  for (const psk of [false, true]) {
    const t = pair({ psk });
    const p1 = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 33);
    t.a.sendPacket(p1); // staged, triggers initiation
    t.flush();
    assert.equal(t.gotB.length, 1);
    assert.deepEqual(t.gotB[0], p1);
    const p2 = ipv4([10, 0, 0, 2], [10, 0, 0, 1], 1300);
    t.b.sendPacket(p2);
    t.flush();
    assert.deepEqual(t.gotA, [p2]);
    assert.equal(t.a.counters.handshakes, 1);
    assert.equal(t.b.counters.handshakes, 1);
    t.a.close();
    t.b.close();
  }
});

Deno.test("device: cryptokey routing drops wrong inner sources and unroutable packets", () => {
  const t = pair();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 99])); // no peer owns it
  assert.equal(t.a.drops.get("no-route"), 1);
  // B sends with a source that A's peer entry does not allow.
  t.b.sendPacket(ipv4([10, 0, 0, 66], [10, 0, 0, 1]));
  t.flush();
  assert.equal(t.gotA.length, 0);
  assert.equal(t.a.drops.get("inner-source-not-allowed"), 1);
  t.a.close();
  t.b.close();
});

Deno.test("device: counter gaps count inbound loss; late arrivals and replays do not", () => {
  const t = pair();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush(); // handshake done, first data delivered
  const s = t.peerA.stats;
  const before = { messages: s.rxMessages, gaps: s.rxGaps, late: s.rxLate };
  assert.equal(before.gaps, 0);
  t.wire.dropAll = true; // capture the next six without delivering them
  const start = t.wire.captured.length;
  for (let i = 0; i < 6; i++) t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 20 + i));
  const sent = t.wire.captured.slice(start);
  assert.equal(sent.length, 6);
  const from = { address: "127.0.0.1", port: 1111 };
  // Delivered 0, 3, 1, 5 and 3 again: 2 and 4 never arrive, 1 comes late.
  for (const i of [0, 3, 1, 5, 3]) t.b.receiveDatagram(sent[i]!, from);
  assert.equal(t.gotB.length, 5); // the first packet and four of these (the replay is dropped)
  assert.equal(s.rxMessages - before.messages, 4);
  assert.equal(s.rxGaps - before.gaps, 3); // 1 and 2 missing when 3 came, 4 when 5 came
  assert.equal(s.rxLate - before.late, 1);
  assert.equal(t.b.drops.get("replayed"), 1);
  t.a.close();
  t.b.close();
});

Deno.test("device: replayed transport packets and garbage are counted drops", () => {
  const t = pair();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  const data = t.wire.captured.at(-1)!;
  assert.equal(data[0], 4);
  t.b.receiveDatagram(data, { address: "127.0.0.1", port: 1111 });
  assert.equal(t.b.drops.get("replayed"), 1);
  const tampered = data.slice();
  tampered[40]! ^= 0x80;
  t.b.receiveDatagram(tampered, { address: "127.0.0.1", port: 1111 });
  assert.equal(t.b.drops.get("replayed"), 1);
  assert.equal(t.b.drops.get("bad-tag"), 1);
  t.b.receiveDatagram(new Uint8Array([1, 0, 0, 0, 5]), { address: "1.2.3.4", port: 1 });
  t.b.receiveDatagram(new Uint8Array([9, 0, 0, 0]), { address: "1.2.3.4", port: 1 });
  t.b.receiveDatagram(new Uint8Array(148).fill(0).map((_, i) => i === 0 ? 1 : 0), {
    address: "1.2.3.4",
    port: 1,
  });
  assert.equal(t.b.drops.get("malformed-bad-size"), 1);
  assert.equal(t.b.drops.get("malformed-unknown-type"), 1);
  assert.equal(t.b.drops.get("bad-mac1"), 1);
  // Seeded random garbage never throws out of the receive path.
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(rnd() * 200);
    const g = new Uint8Array(len).map(() => Math.floor(rnd() * 256));
    if (len > 0) g[0] = 1 + Math.floor(rnd() * 4);
    if (len > 3) g[1] = g[2] = g[3] = 0;
    t.b.receiveDatagram(g, { address: "1.2.3.4", port: 9 });
  }
  assert.equal(t.b.drops.get("internal-error"), undefined);
  t.a.close();
  t.b.close();
});

Deno.test("device: keepalive after data received, rekey after REKEY_AFTER_TIME", () => {
  const t = pair();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  const before = t.a.counters.keepalivesReceived;
  t.clock.advance(KEEPALIVE_TIMEOUT + 1); // B received data and sent nothing: keepalive
  t.flush();
  assert.equal(t.a.counters.keepalivesReceived, before + 1);
  // The initiator rekeys when its keypair is older than REKEY_AFTER_TIME and it sends.
  t.clock.advance(REKEY_AFTER_TIME);
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  assert.equal(t.a.counters.handshakes, 2);
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  assert.equal(t.gotB.length, 3);
  t.a.close();
  t.b.close();
});

Deno.test("device: retransmits unanswered initiations and gives up after REKEY_ATTEMPT_TIME", () => {
  const t = pair();
  t.wire.dropAll = true;
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  const initiations = () => t.wire.captured.filter((d) => d[0] === 1).length;
  assert.equal(initiations(), 1);
  t.clock.advance(REKEY_TIMEOUT + 400);
  assert.equal(initiations(), 2);
  t.clock.advance(120_000);
  // The first initiation + 19 retries (wireguard-go gives up once attempts > MAX_TIMER_HANDSHAKES).
  assert.equal(initiations(), 20);
  t.clock.advance(60_000);
  assert.equal(initiations(), 20);
  assert.equal(t.peerB.stagedCount, 0);
  t.a.close();
  t.b.close();
});

Deno.test("device: keys expire after REJECT_AFTER_TIME without a new handshake", () => {
  const t = pair();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  t.wire.dropAll = true;
  t.clock.advance(REJECT_AFTER_TIME + 1);
  t.wire.dropAll = false;
  // A's current keypair is unusable: the packet waits for a fresh handshake.
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  assert.equal(t.peerB.stagedCount, 1);
  t.flush();
  assert.equal(t.peerB.stagedCount, 0);
  assert.equal(t.gotB.length, 2);
  t.a.close();
  t.b.close();
});

Deno.test("device: the peer's endpoint follows its last authenticated packet (roaming)", () => {
  const t = pair();
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  t.roamB(3333);
  t.b.sendPacket(ipv4([10, 0, 0, 2], [10, 0, 0, 1]));
  t.flush();
  assert.equal(t.peerB.endpoint?.port, 3333);
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  t.flush();
  assert.equal(t.gotB.length, 2);
  t.a.close();
  t.b.close();
});

Deno.test("device: under load, initiations need a cookie (MAC2) and still complete", () => {
  const clock = new ManualClock(0);
  const log = getLogger("test-quiet");
  const kA = generatePrivateKey(), kB = generatePrivateKey();
  const a = new Device({ privateKey: kA, clock, logger: log });
  const b = new Device({ privateKey: kB, clock, logger: log, underLoadThreshold: 0 });
  const q: Array<() => void> = [];
  const sent: Uint8Array[] = [];
  a.sendDatagram = (d) => q.push(() => b.receiveDatagram(d, { address: "127.0.0.1", port: 1 }));
  b.sendDatagram = (
    d,
  ) => (sent.push(d), q.push(() => a.receiveDatagram(d, { address: "127.0.0.1", port: 2 })));
  a.addPeer({
    publicKey: publicKey(kB),
    allowedIPs: ["10.0.0.2/32"],
    endpoint: { address: "127.0.0.1", port: 2 },
  });
  b.addPeer({ publicKey: publicKey(kA), allowedIPs: ["10.0.0.1/32"] });
  let got = 0;
  b.onPacket = () => got++;
  a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2]));
  while (q.length) q.shift()!();
  assert.equal(sent[0]?.[0], 3, "first answer is a cookie reply");
  assert.equal(b.drops.get("cookie-sent"), 1);
  clock.advance(REKEY_TIMEOUT + 400); // retransmit carries MAC2
  while (q.length) q.shift()!();
  assert.equal(got, 1);
  a.close();
  b.close();
});

Deno.test("device: with a copying socket, messages share one buffer and padding stays zero", () => {
  const t = pair();
  const sent: Uint8Array[] = [], copies: Uint8Array[] = [];
  const deliver = t.a.sendDatagram;
  t.a.sendCopies = true; // as the Worker socket: it copies before send() returns
  t.a.sendDatagram = (d, to) => {
    sent.push(d);
    if (d[0] === 4) copies.push(d.slice());
    deliver(d.slice(), to);
  };
  // a long packet, then short ones: the reused buffer holds old ciphertext past their end
  const packets = [1300, 33, 200, 17].map((n, i) => ipv4([10, 0, 0, 1], [10, 0, 0, 2], n + i));
  for (const p of packets) {
    t.a.sendPacket(p);
    t.flush();
  }
  assert.deepEqual(t.gotB, packets);
  const transport = sent.filter((d) => d[0] === 4);
  assert.ok(transport.length >= 3);
  assert.ok(
    transport.slice(1).every((d) => d.buffer === transport[0]!.buffer),
    "one buffer is reused",
  );
  // the receiver's view: decrypt each message again and check the padding after the IP packet
  const kp = t.peerA.keypairs.current!;
  let counter = 0;
  for (const p of packets) {
    const msg = copies.shift()!;
    const plain = t.b.aead.open(kp.receiveKey, counter++, msg.subarray(16), new Uint8Array(2048))!;
    assert.ok(plain, "message opens");
    assert.deepEqual(plain.subarray(0, p.length), p);
    assert.ok(plain.subarray(p.length).every((x) => x === 0), "padding is zero");
  }
  t.a.close();
  t.b.close();
});

Deno.test("device: the packet that confirms a responder's session arrives intact past staged ones", () => {
  // b answers a's initiation, then has a packet of its own to send: with no current keypair yet
  // it is staged. a's first data message promotes b's keypair and flushes the stage; sealing
  // those reused the memory the received packet was decrypted into, before it was delivered.
  const t = pair();
  const p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 300);
  const q = ipv4([10, 0, 0, 2], [10, 0, 0, 1], 500);
  t.a.sendPacket(p); // initiation to b; p waits at a
  t.step(); // b responds
  t.b.sendPacket(q); // staged at b
  t.flush();
  assert.deepEqual(t.gotB, [p]);
  assert.deepEqual(t.gotA, [q]);
  assert.equal(t.b.drops.get("inner-malformed"), undefined);
  t.a.close();
  t.b.close();
});
