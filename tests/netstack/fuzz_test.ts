import assert from "node:assert/strict";
import { Netstack } from "../../src/netstack/mod.ts";
import { prng } from "./_link.ts";
import { ACK, echoRequest, SYN, tcpPacket, udpPacket } from "./_packets.ts";

Deno.test("fuzz: 20k garbage, truncated and mutated packets never throw; drops are counted", async () => {
  const s = await Netstack.create({ addresses: ["10.88.0.1/24", "fd88::1/64"] });
  let outputs = 0;
  s.onOutput = () => outputs++;
  s.onTcpFlow = (r) => r.refuse();
  s.onUdp = () => {};
  const rnd = prng(20240601);
  const seeds = [
    tcpPacket("10.88.0.2", 1111, "8.8.8.8", 443, SYN, 1),
    tcpPacket("10.88.0.2", 1111, "10.88.0.1", 80, ACK, 1, 1, new Uint8Array(40)),
    tcpPacket("fd88::2", 1111, "2001:db8::1", 443, SYN, 1),
    udpPacket("10.88.0.2", 53, "9.9.9.9", 53, new Uint8Array(30)),
    udpPacket("fd88::2", 53, "2001:db8::53", 53, new Uint8Array(30)),
    echoRequest("10.88.0.2", "10.88.0.1", 1, 1),
    echoRequest("fd88::2", "fd88::1", 1, 1),
  ];
  const CASES = 20_000;
  for (let i = 0; i < CASES; i++) {
    const kind = i % 4;
    let p: Uint8Array;
    const base = seeds[Math.floor(rnd() * seeds.length)]!;
    if (kind === 0) {
      // pure garbage with a plausible version nibble half the time
      p = new Uint8Array(1 + Math.floor(rnd() * 1500)).map(() => Math.floor(rnd() * 256));
      if (rnd() < 0.5) p[0] = (rnd() < 0.5 ? 0x45 : 0x60) | (p[0]! & 0x0f);
    } else if (kind === 1) {
      // truncated
      p = base.slice(0, Math.floor(rnd() * base.length) + 1);
    } else {
      // a few random bytes flipped (headers, lengths, checksums, options)
      p = base.slice();
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) {
        p[Math.floor(rnd() * Math.min(p.length, kind === 2 ? 64 : p.length))] = Math.floor(
          rnd() * 256,
        );
      }
    }
    s.input(p);
  }
  await new Promise((r) => setTimeout(r, 50));
  const st = s.stats();
  const dropped = Object.entries(st)
    .filter(([k]) => k.startsWith("drop."))
    .reduce((a, [, v]) => a + v, 0);
  assert.equal(st["packets.in"], CASES);
  assert.ok(dropped > CASES / 4, `drops counted: ${dropped}`);
  // the stack still works afterwards
  let replied = false;
  s.onOutput = () => replied = true;
  s.input(echoRequest("10.88.0.2", "10.88.0.1", 9, 9));
  assert.ok(replied);
  s.close();
});
