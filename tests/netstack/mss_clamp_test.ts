import assert from "node:assert/strict";
import type { Netstack } from "../../src/netstack/mod.ts";
import { MssClamp } from "../../src/netstack/mss_clamp.ts";
import { exchangeMiB, stackPair } from "./_link.ts";
import { checksum, ipPacket, parsePacket, SYN } from "./_packets.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };

interface Seen {
  syn: boolean;
  mss: number | null;
  len: number;
}

function inspect(p: Uint8Array): Seen | null {
  const ip = parsePacket(p);
  if (ip.proto !== 6) return null;
  const t = ip.l4, hl = (t[12]! >> 4) * 4;
  let mss: number | null = null;
  for (let i = 20; i < hl;) {
    if (t[i] === 0) break;
    if (t[i] === 1) {
      i++;
      continue;
    }
    if (t[i] === 2) mss = (t[i + 2]! << 8) | t[i + 3]!;
    i += Math.max(2, t[i + 1]!);
  }
  return { syn: (t[13]! & SYN) !== 0, mss, len: t.length - hl };
}

function tap(stack: Netstack): Seen[] {
  const seen: Seen[] = [];
  const forward = stack.onOutput!;
  stack.onOutput = (p) => {
    const s = inspect(p);
    if (s) seen.push(s);
    forward(p);
  };
  return seen;
}

/**
 * One proxied flow peer → proxy, 1 MB each way; returns what each side put on the wire. Without
 * TCP timestamps, so that a full segment's data is the MSS (timestamps_test pins it 12 bytes short
 * with them).
 */
async function exchange(mssClamp: { prefix: string; mss: number }[], dst: string) {
  const { proxy, peer, close } = await stackPair({}, { mssClamp, tcpTimestamps: false });
  const fromProxy = tap(proxy), fromPeer = tap(peer);
  const x = await exchangeMiB(proxy, peer, dst);
  assert.deepEqual(x.received, x.sent);
  const stats = { proxy: proxy.stats(), peer: peer.stats() };
  close();
  const maxLen = (s: Seen[]) => Math.max(...s.map((x) => x.len));
  return {
    synAckMss: fromProxy.find((s) => s.syn)?.mss,
    proxySent: maxLen(fromProxy),
    peerSent: maxLen(fromPeer),
    stats,
  };
}

Deno.test("MSS clamp for a peer prefix: both directions stay within it (v4)", OPTS, async () => {
  const r = await exchange([{ prefix: "10.88.0.2/32", mss: 1200 }], "198.51.100.9");
  assert.equal(r.synAckMss, 1200, "SYN-ACK to the clamped peer carries the clamp");
  assert.equal(r.proxySent, 1200, "the stack sends the peer segments of at most 1200 bytes");
  assert.equal(r.peerSent, 1200, "the peer sends segments of at most 1200 bytes");
  assert.equal(r.stats.proxy["tcp.mss_clamped"], 2); // the peer's SYN in, our SYN-ACK out
  assert.equal(r.stats.proxy["drop.tcp_checksum"], 0);
  assert.equal(r.stats.peer["drop.tcp_checksum"], 0);
});

Deno.test("MSS clamp (v6) and peers outside the prefix keep the MTU's MSS", OPTS, async () => {
  const v6 = await exchange([{ prefix: "fd88::2/128", mss: 1000 }], "2001:db8::9");
  assert.equal(v6.synAckMss, 1000);
  assert.equal(v6.proxySent, 1000);
  assert.equal(v6.peerSent, 1000);
  const other = await exchange([{ prefix: "10.88.0.99/32", mss: 1000 }], "198.51.100.9");
  assert.equal(other.synAckMss, 1380); // MTU 1420 - 40
  assert.equal(other.proxySent, 1380);
  assert.equal(other.stats.proxy["tcp.mss_clamped"], 0);
});

/** A SYN with options [MSS 1460, NOP, NOP, SACK-permitted] (independent builder). */
function syn(src: string, dst: string, mss = 1460): Uint8Array {
  const t = new Uint8Array(28);
  const dv = new DataView(t.buffer);
  dv.setUint16(0, 40000);
  dv.setUint16(2, 443);
  dv.setUint32(4, 12345);
  t[12] = (28 / 4) << 4;
  t[13] = SYN;
  dv.setUint16(14, 65535);
  t.set([2, 4, mss >> 8, mss & 0xff, 1, 1, 4, 2], 20);
  return ipPacket(src, dst, 6, t);
}

function tcpChecksumOk(p: Uint8Array): boolean {
  const ip = parsePacket(p);
  const pseudo = new Uint8Array(ip.src.length * 2 + 4);
  pseudo.set(ip.src, 0);
  pseudo.set(ip.dst, ip.src.length);
  const n = ip.l4.length;
  pseudo.set([0, 6, n >> 8, n & 0xff], ip.src.length * 2);
  const all = new Uint8Array(pseudo.length + n);
  all.set(pseudo);
  all.set(ip.l4, pseudo.length);
  return checksum(all) === 0;
}

Deno.test("MssClamp rewrites only matching SYNs above the clamp, keeping checksums valid", () => {
  const clamp = new MssClamp([
    { prefix: "10.1.0.0/16", mss: 1200 },
    { prefix: "fd00::/8", mss: 1100 },
  ]);
  const p = syn("10.1.2.3", "192.0.2.1");
  assert.ok(clamp.apply(p, 0, p.length, true));
  assert.equal(inspect(p)!.mss, 1200);
  assert.ok(tcpChecksumOk(p));

  const v6 = syn("fd00::5", "2001:db8::1");
  assert.ok(clamp.apply(v6, 0, v6.length, true));
  assert.equal(inspect(v6)!.mss, 1100);
  assert.ok(tcpChecksumOk(v6));

  // outbound matches the destination, inbound the source
  const out = syn("192.0.2.1", "10.1.9.9");
  assert.ok(!clamp.apply(out.slice(), 0, out.length, true));
  assert.ok(clamp.apply(out, 0, out.length, false));

  // not in a prefix, already small enough, not a SYN, or a bad checksum: untouched
  const cases = [
    syn("10.2.0.1", "192.0.2.1"),
    syn("10.1.0.1", "192.0.2.1", 1000),
    (() => {
      const q = syn("10.1.0.1", "192.0.2.1");
      q[20 + 13] = 0x10; // ACK only (checksum now wrong too, but the flag check comes first)
      return q;
    })(),
    (() => {
      const q = syn("10.1.0.1", "192.0.2.1");
      q[20 + 17] = q[20 + 17]! ^ 0xff; // corrupt the checksum
      return q;
    })(),
  ];
  for (const q of cases) {
    const before = q.slice();
    assert.ok(!clamp.apply(q, 0, q.length, true));
    assert.deepEqual(q, before);
  }
  // truncated packets never throw
  const whole = syn("10.1.0.1", "192.0.2.1");
  for (let n = 0; n < whole.length; n++) clamp.apply(whole.slice(0, n), 0, n, true);

  assert.throws(() => new MssClamp([{ prefix: "10.0.0.0/33", mss: 1200 }]), TypeError);
  assert.throws(() => new MssClamp([{ prefix: "10.0.0.0/8", mss: 10 }]), RangeError);
});

Deno.test("MSS clamp behind an IPv6 hop-by-hop header", () => {
  const clamp = new MssClamp([{ prefix: "fd00::/8", mss: 1100 }]);
  const plain = syn("fd00::5", "2001:db8::1");
  // insert an 8-byte hop-by-hop header (PadN) between the IPv6 header and TCP
  const p = new Uint8Array(plain.length + 8);
  p.set(plain.subarray(0, 40));
  p[6] = 0; // next header: hop-by-hop
  const plen = plain.length - 40 + 8;
  p[4] = plen >> 8;
  p[5] = plen & 0xff;
  p.set([6, 0, 1, 4, 0, 0, 0, 0], 40); // next: TCP, len 0 (8 bytes), PadN(4)
  p.set(plain.subarray(40), 48);
  assert.ok(clamp.apply(p, 0, p.length, true));
  assert.equal((p[48 + 22]! << 8) | p[48 + 23]!, 1100);
});
