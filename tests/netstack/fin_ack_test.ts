/**
 * The ACK of a peer's FIN waits briefly (ACK coalescing on, the default): an application that
 * closes at once sends one FIN|ACK segment instead of an ACK and then a FIN — one datagram, one
 * encryption and one thread hop fewer per connection. An application that does not close still
 * acknowledges the FIN on lwIP's fast timer.
 */
import assert from "node:assert/strict";
import { Netstack, type TcpConn, type TcpFlowRequest } from "../../src/netstack/mod.ts";
import { ACK, FIN, parsePacket, SYN, tcpPacket } from "./_packets.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };
const PEER = "10.88.0.2", PORT = 40100, TARGET = "192.0.2.7";
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A stack with one accepted connection from the peer; returns what the peer's next seq is. */
async function connected(ackCoalescing: boolean) {
  const s = await Netstack.create({ addresses: ["10.88.0.1/24"], ackCoalescing });
  const out: Uint8Array[] = [];
  s.onOutput = (p) => out.push(p.slice());
  const reqs: TcpFlowRequest[] = [];
  s.onTcpFlow = (r) => reqs.push(r);
  s.input(tcpPacket(PEER, PORT, TARGET, 80, SYN, 1000));
  await tick();
  const accepted = reqs[0]!.accept();
  await tick();
  const synack = parsePacket(out.shift()!);
  const iss = new DataView(synack.l4.buffer).getUint32(4);
  s.input(tcpPacket(PEER, PORT, TARGET, 80, ACK, 1001, iss + 1));
  const conn: TcpConn = await accepted;
  return { s, out, conn, seq: 1001, ack: iss + 1 };
}

/** {@link connected}, then the peer sends its FIN; `finSeq` is the FIN's sequence number. */
async function afterPeerFin(ackCoalescing: boolean) {
  const c = await connected(ackCoalescing);
  c.s.input(tcpPacket(PEER, PORT, TARGET, 80, FIN | ACK, c.seq, c.ack));
  return { ...c, finSeq: c.seq };
}

/** Asserts `out` holds exactly one segment with `flags` (among FIN and ACK) acknowledging `ack`. */
function assertSegment(out: Uint8Array[], flags: number, ack: number): void {
  assert.equal(out.length, 1);
  const h = tcpHeader(out[0]!);
  assert.equal(h.flags & (FIN | ACK), flags);
  assert.equal(h.ack, ack);
}

function tcpHeader(p: Uint8Array): { flags: number; seq: number; ack: number } {
  const v = new DataView(parsePacket(p).l4.buffer);
  return { flags: v.getUint8(13), seq: v.getUint32(4), ack: v.getUint32(8) };
}

Deno.test("FIN: the application's prompt close carries the ACK (one FIN|ACK)", OPTS, async () => {
  const { s, out, conn, finSeq } = await afterPeerFin(true);
  await tick();
  assert.equal(out.length, 0, "no bare ACK for the FIN yet");
  assert.equal(await conn.read(new Uint8Array(16)), null); // the application sees the EOF
  await conn.closeWrite();
  await tick();
  assertSegment(out, FIN | ACK, finSeq + 1); // our FIN carrying the ACK of theirs
  conn.close();
  s.close();
});

Deno.test("FIN: without a close the fast timer still acknowledges it", OPTS, async () => {
  const { s, out, conn, finSeq } = await afterPeerFin(true);
  const deadline = Date.now() + 2000;
  while (out.length === 0 && Date.now() < deadline) await tick(5);
  assertSegment(out, ACK, finSeq + 1);
  conn.reset();
  s.close();
});

Deno.test("FIN: with ACK coalescing off the ACK leaves at once", OPTS, async () => {
  const { s, out, conn, finSeq } = await afterPeerFin(false);
  assertSegment(out, ACK, finSeq + 1);
  conn.reset();
  s.close();
});
