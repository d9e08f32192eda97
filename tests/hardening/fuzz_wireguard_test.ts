/**
 * Fuzzes the WireGuard receive path (`Device.receiveDatagram`) of two devices that hold a live
 * session: random datagrams and mutations of captured messages of all four types (bit flips,
 * truncation, extension, type/reserved bytes, indices, counters), half of the handshake
 * mutations with a recomputed, valid MAC1 so they reach the Noise code. Every case must end as
 * a counted drop or an accepted packet, nothing may throw or hit 'internal-error', the index
 * table and staging queues stay bounded, and the session works afterwards.
 */
import assert from "node:assert/strict";
import { LABEL_MAC1, MessageType } from "../../src/wireguard/constants.ts";
import { hash, mac } from "../../src/wireguard/crypto.ts";
import { publicKey } from "../../src/wireguard/keys.ts";
import type { Device } from "../../src/wireguard/device.ts";
import type { UdpRemote } from "../../src/udp_socket.ts";
import { fuzzCases, fuzzSeed, mutate, Rng, total } from "./_fuzz.ts";
import { ipv4, WgNet, wgPair } from "./_wg_net.ts";

/** Everything a device counts per datagram: drops by reason plus accepted outcomes. */
function outcomes(d: Device): number {
  const c = d.counters;
  return total(d.drops) + c.packetsReceived + c.keepalivesReceived + c.handshakes;
}

/** Rewrites MAC1 so the message passes the cheap check for the device with `pub`. */
function fixMac1(msg: Uint8Array, pub: Uint8Array): void {
  if (msg.length !== 148 && msg.length !== 92) return;
  const key = hash(new TextEncoder().encode(LABEL_MAC1), pub);
  msg.set(mac(key, msg.subarray(0, msg.length - 32)), msg.length - 32);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test("hardening: WireGuard receive path survives 100k fuzzed datagrams", () => {
  const seed = fuzzSeed("fuzz/wireguard", 0x5eed_0801);
  const CASES = fuzzCases(100_000);
  const rng = new Rng(seed);
  const net = new WgNet();
  // No load threshold: every handshake with a valid MAC1 goes through the Noise code (the
  // cookie path is the flood test's job).
  const t = wgPair(net, { underLoadThreshold: Number.MAX_SAFE_INTEGER });

  // --- capture one valid message of each type ---
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 40));
  net.flush();
  t.b.sendPacket(ipv4([10, 0, 0, 2], [10, 0, 0, 1], 300));
  net.flush();
  assert.equal(t.gotB.length, 1);
  assert.equal(t.gotA.length, 1);
  // A cookie reply for A: a third device under load answers A's initiation with one.
  const addrC: UdpRemote = { address: "127.0.0.1", port: 3333 };
  const C = net.device(addrC, { underLoadThreshold: 0 });
  t.a.addPeer({ publicKey: publicKey(C.key), allowedIPs: ["10.0.0.3/32"], endpoint: addrC });
  C.device.addPeer({ publicKey: publicKey(t.keyA) });
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 3]));
  net.flush();
  assert.equal(net.sent(addrC.port, MessageType.CookieReply).length, 1, "C demanded a cookie");
  const transportAB = net.sent(t.addrA.port, MessageType.Transport).find((c) => c.data.length > 32)!
    .data;
  const transportBA = net.sent(t.addrB.port, MessageType.Transport).find((c) => c.data.length > 32)!
    .data;
  // A pending handshake on A with a matching, undelivered response from B: a rekey initiation
  // (REKEY_TIMEOUT after the last) reaches B by hand; B's response is kept back. Re-armed when
  // a mutated response that still authenticates completes it. The cookie reply is re-made the
  // way C makes it for A's latest initiation to C (A's cookie key follows its last MAC1).
  net.dropAll = true;
  const seedOf: Record<"init" | "response" | "cookie", Uint8Array> = {
    init: new Uint8Array(0),
    response: new Uint8Array(0),
    cookie: new Uint8Array(0),
  };
  let arms = 0;
  /** Changes made by arm() itself, kept out of the fuzz accounting. */
  const armed = { datagrams: 0, outcomes: new Map<Device, number>() };
  const arm = () => {
    const o0 = [outcomes(t.a), outcomes(t.b)];
    const d0 = t.a.counters.datagramsReceived + t.b.counters.datagramsReceived;
    arms++;
    net.clock.advance(6_000);
    net.clearQueue();
    t.peerB.sendHandshakeInitiation(false);
    seedOf.init = net.sent(t.addrA.port, MessageType.Initiation).at(-1)!.data;
    t.b.receiveDatagram(seedOf.init, t.addrA);
    seedOf.response = net.sent(t.addrB.port, MessageType.Response).at(-1)!.data;
    const toC = net.captured.filter((c) => c.to.port === addrC.port && c.data[0] === 1).at(-1)!;
    seedOf.cookie = C.device.cookieChecker.createReply(
      toC.data,
      new TextEncoder().encode(`${t.addrA.address}|${t.addrA.port}`),
    );
    armed.datagrams += t.a.counters.datagramsReceived + t.b.counters.datagramsReceived - d0;
    armed.outcomes.set(t.a, (armed.outcomes.get(t.a) ?? 0) + outcomes(t.a) - o0[0]!);
    armed.outcomes.set(t.b, (armed.outcomes.get(t.b) ?? 0) + outcomes(t.b) - o0[1]!);
  };
  arm();
  const init = seedOf.init, response = seedOf.response, cookie = seedOf.cookie;
  assert.equal(init.length, 148);
  assert.equal(response.length, 92);
  assert.equal(cookie.length, 64);

  // --- fuzz ---
  const seeds: Array<{ base: () => Uint8Array; to: Device; pub: Uint8Array }> = [
    { base: () => seedOf.init, to: t.b, pub: publicKey(t.keyB) },
    { base: () => seedOf.response, to: t.a, pub: publicKey(t.keyA) },
    { base: () => seedOf.cookie, to: t.a, pub: publicKey(t.keyA) },
    { base: () => transportAB, to: t.b, pub: publicKey(t.keyB) },
    { base: () => transportBA, to: t.a, pub: publicKey(t.keyA) },
  ];
  const sources: UdpRemote[] = [
    t.addrA,
    t.addrB,
    { address: "127.0.0.9", port: 9 },
    { address: "::1", port: 51820 },
    { address: "fe80::1", port: 1 },
  ];
  armed.datagrams = 0;
  armed.outcomes.clear();
  const before = new Map([[t.a, outcomes(t.a)], [t.b, outcomes(t.b)]]);
  const fed = new Map([[t.a, 0], [t.b, 0]]);
  const datagramsBefore = t.a.counters.datagramsReceived + t.b.counters.datagramsReceived;
  let thrown = 0;
  let handshakesAtArm = t.a.counters.handshakes;
  const started = performance.now();
  for (let i = 0; i < CASES; i++) {
    let data: Uint8Array;
    let to: Device;
    const kind = rng.int(10);
    if (kind === 0) {
      // random bytes, half with a plausible header (type 1..4, reserved zero, exact size)
      const type = 1 + rng.int(4);
      const len = rng.chance(0.5) ? [148, 92, 64, 32 + 16 * rng.int(90)][type - 1]! : rng.int(300);
      data = rng.bytes(len);
      if (len >= 4 && rng.chance(0.5)) data.set([type, 0, 0, 0]);
      to = rng.chance(0.5) ? t.a : t.b;
    } else {
      const s = rng.pick(seeds);
      const base = s.base();
      to = s.to;
      // header fields first: type, reserved, indices and counters live in bytes 0..16
      data = mutate(rng, base, rng.chance(0.6) ? 16 : base.length);
      if (data[0] !== MessageType.Transport && rng.chance(0.5)) fixMac1(data, s.pub);
      if (sameBytes(data, base)) data[rng.int(data.length)]! ^= 1 << rng.int(8);
    }
    fed.set(to, fed.get(to)! + 1);
    if (i % 500 === 0 && t.a.counters.handshakes !== handshakesAtArm && arms < 40) {
      arm();
      handshakesAtArm = t.a.counters.handshakes;
    }
    try {
      to.receiveDatagram(data, rng.pick(sources));
    } catch {
      thrown++;
    }
  }
  const ms = performance.now() - started;
  console.log(
    `fuzz/wireguard: ${CASES} cases in ${ms.toFixed(0)} ms, ${arms} re-arms; drops A ${
      JSON.stringify(Object.fromEntries(t.a.drops))
    } B ${JSON.stringify(Object.fromEntries(t.b.drops))}`,
  );

  assert.equal(thrown, 0, "receiveDatagram threw");
  assert.equal(t.a.drops.get("internal-error"), undefined);
  assert.equal(t.b.drops.get("internal-error"), undefined);
  assert.equal(
    t.a.counters.datagramsReceived + t.b.counters.datagramsReceived - datagramsBefore -
      armed.datagrams,
    CASES,
  );
  for (const d of [t.a, t.b]) {
    assert.equal(
      outcomes(d) - before.get(d)! - (armed.outcomes.get(d) ?? 0),
      fed.get(d),
      "every case is a drop or accepted",
    );
    assert.ok(d.indices.size <= 8, `index table bounded (${d.indices.size})`);
    assert.ok(d.drops.size < 40, `drop reasons bounded (${d.drops.size})`);
    for (const p of d.peers) assert.ok(p.stagedCount <= 128);
  }
  assert.ok((t.a.drops.get("cookie-bad") ?? 0) > 0, "cookie replies reached the cookie code");
  assert.ok((t.b.drops.get("initiation-decrypt-static") ?? 0) > 0, "initiations reached Noise");
  assert.ok((t.a.drops.get("response-decrypt-empty") ?? 0) > 0, "responses reached Noise");

  // --- the legitimate session still works, both ways ---
  // Mutated responses whose MAC1 was recomputed can complete A's pending rekey: the sender
  // index and the source address are not covered by the Noise transcript (as in wireguard-go),
  // so A may now hold a useless keypair and a spoofed endpoint. B's next authenticated packet
  // heals both (roaming, new handshake), which is what a real peer does: B speaks first.
  net.dropAll = false;
  net.clearQueue();
  const gotB = t.gotB.length, gotA = t.gotA.length;
  // An application retries once a second; handshakes are rate-limited to one per
  // REKEY_TIMEOUT, so this takes a few (manual) seconds.
  const retry = (send: () => void, done: () => boolean) => {
    for (let s = 0; s < 20 && !done(); s++) (send(), net.flush(), net.clock.advance(1_000));
  };
  retry(() => t.b.sendPacket(ipv4([10, 0, 0, 2], [10, 0, 0, 1], 100)), () => t.gotA.length > gotA);
  assert.ok(t.gotA.length > gotA, "B → A after the fuzz");
  const afterA = t.gotB.length;
  retry(
    () => t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 100)),
    () => t.gotB.length > afterA,
  );
  assert.ok(t.gotB.length > gotB, "A → B after the fuzz");
  // and now at once, both ways
  const nA = t.gotA.length, nB = t.gotB.length;
  t.a.sendPacket(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 100));
  t.b.sendPacket(ipv4([10, 0, 0, 2], [10, 0, 0, 1], 100));
  net.flush();
  assert.equal(t.gotB.length, nB + 1);
  assert.equal(t.gotA.length, nA + 1);
  t.a.close();
  t.b.close();
  C.device.close();
});
