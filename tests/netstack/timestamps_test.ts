/**
 * TCP timestamps (RFC 7323; NetstackOptions.tcpTimestamps, tcp_timestamps.patch): a stack that
 * enables them answers a SYN that offers them with its own and then puts them on every segment,
 * echoing the peer's latest value; a SYN without them gets none, and neither does any SYN when
 * they are switched off. They are on by default. A Linux client's tcp_tw_reuse needs them to
 * reuse a port whose last connection to the same target is still in TIME_WAIT.
 */
import assert from "node:assert/strict";
import { Netstack, type NetstackOptions, type TcpConn } from "../../src/netstack/mod.ts";
import { exchangeMiB, stackPair } from "./_link.ts";
import { ACK, parsePacket, SYN, tcpPacket } from "./_packets.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };
const PEER = "10.88.0.2", TARGET = "198.51.100.9";

/** The timestamp option of a TCP segment (TSval, TSecr), or null. */
function timestamps(p: Uint8Array): { val: number; ecr: number } | null {
  const t = parsePacket(p).l4;
  const hl = (t[12]! >> 4) * 4;
  const dv = new DataView(t.buffer, t.byteOffset, t.length);
  for (let i = 20; i < hl;) {
    if (t[i] === 0) break;
    if (t[i] === 1) {
      i++;
      continue;
    }
    if (t[i] === 8 && t[i + 1] === 10) {
      return { val: dv.getUint32(i + 2), ecr: dv.getUint32(i + 6) };
    }
    i += Math.max(2, t[i + 1]!);
  }
  return null;
}

/** MSS 1380, SACK permitted, timestamps (TSval 0x01020304, TSecr 0), window scale 7. */
const WITH_TS = [2, 4, 0x05, 0x64, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7];

/**
 * Offers a SYN with `options` to a stack (the default options unless `stackOptions` says
 * otherwise) that accepts it; returns the stack's output.
 */
async function handshake(options: number[], stackOptions: Partial<NetstackOptions> = {}) {
  const stack = await Netstack.create({ ...stackOptions, addresses: ["10.88.0.1/24"] });
  const out: Uint8Array[] = [];
  stack.onOutput = (p) => out.push(p.slice());
  let accepted: Promise<TcpConn> | undefined;
  stack.onTcpFlow = (r) => accepted = r.accept();
  stack.input(tcpPacket(PEER, 40000, TARGET, 443, SYN, 1000, 0, new Uint8Array(0), options));
  for (let i = 0; !accepted && i < 100; i++) await new Promise((r) => setTimeout(r, 1));
  for (let i = 0; out.length === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 1));
  return { stack, out, accepted: accepted! };
}

Deno.test(
  "TCP timestamps (on by default): a SYN that offers them is answered with them, then every segment carries them",
  OPTS,
  async () => {
    const { stack, out, accepted } = await handshake(WITH_TS);
    const synAck = parsePacket(out[0]!).l4;
    assert.equal(synAck[13]! & (SYN | ACK), SYN | ACK);
    const ts = timestamps(out[0]!);
    assert.ok(ts, "the SYN-ACK carries the timestamp option");
    assert.equal(ts.ecr, 0x01020304, "and echoes the SYN's TSval");
    const iss = new DataView(synAck.buffer, synAck.byteOffset).getUint32(4);
    // the handshake's ACK with a newer TSval, then data the stack must acknowledge
    const tsOpt = (val: number) => [1, 1, 8, 10, 0, 0, val >> 8, val & 0xff, 0, 0, 0, 0];
    stack.input(tcpPacket(PEER, 40000, TARGET, 443, ACK, 1001, iss + 1, undefined, tsOpt(0x0505)));
    const conn = await accepted;
    const data = new TextEncoder().encode("hello");
    stack.input(tcpPacket(PEER, 40000, TARGET, 443, ACK, 1001, iss + 1, data, tsOpt(0x0606)));
    await conn.write(new TextEncoder().encode("world"));
    for (let i = 0; out.length < 2 && i < 100; i++) await new Promise((r) => setTimeout(r, 1));
    const later = out.slice(1).map(timestamps);
    assert.ok(later.length > 0 && later.every((t) => t !== null), "every later segment has them");
    assert.equal(later.at(-1)!.ecr, 0x0606, "echoing the peer's latest TSval");
    assert.ok(later.at(-1)!.val - ts.val >= 0, "our TSval does not go backwards");
    conn.reset();
    stack.close();
  },
);

/** The stack answers the SYN with a SYN-ACK that carries no timestamp option. */
async function assertSynAckWithoutTimestamps(
  options: number[],
  stackOptions: Partial<NetstackOptions>,
) {
  const { stack, out, accepted } = await handshake(options, stackOptions);
  try {
    assert.equal(parsePacket(out[0]!).l4[13]! & (SYN | ACK), SYN | ACK);
    assert.equal(timestamps(out[0]!), null);
  } finally {
    stack.close();
    await accepted.catch(() => {});
  }
}

Deno.test("TCP timestamps: a SYN without them gets a SYN-ACK without them", OPTS, async () => {
  await assertSynAckWithoutTimestamps([2, 4, 0x05, 0x64, 1, 1, 4, 2], { tcpTimestamps: true });
});

Deno.test(
  "TCP timestamps switched off: a SYN that offers them gets a SYN-ACK without them",
  OPTS,
  async () => {
    await assertSynAckWithoutTimestamps(WITH_TS, { tcpTimestamps: false });
  },
);

Deno.test(
  "TCP timestamps between two stacks: 1 MB each way intact, every segment timestamped, its data 12 bytes short of the MSS",
  OPTS,
  async () => {
    const { proxy, peer, close } = await stackPair({}, { tcpTimestamps: true });
    let withTs = 0, without = 0, largest = 0;
    for (const s of [proxy, peer]) {
      const forward = s.onOutput!;
      s.onOutput = (p) => {
        const t = parsePacket(p).l4;
        if (timestamps(p)) withTs++;
        else without++;
        largest = Math.max(largest, t.length - (t[12]! >> 4) * 4);
        forward(p);
      };
    }
    const x = await exchangeMiB(proxy, peer, "198.51.100.9");
    assert.deepEqual(x.received, x.sent);
    close();
    assert.ok(withTs > 1000, `${withTs} segments with timestamps`);
    assert.equal(without, 0, "a segment without them");
    assert.equal(largest, 1380 - 12, "MTU 1420: MSS 1380, less the option");
  },
);
