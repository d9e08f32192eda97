/** A peer that resets during the handshake makes accept() fail at once, not at the timeout. */
import assert from "node:assert/strict";
import { FlowCancelledError, Netstack, type TcpFlowRequest } from "../../src/netstack/mod.ts";
import { ACK, RST, SYN, tcpPacket } from "./_packets.ts";

Deno.test("netstack: RST from the peer during the handshake rejects accept() promptly", async () => {
  const s = await Netstack.create({ addresses: ["10.88.0.1/24"], handshakeTimeoutMs: 60_000 });
  const out: Uint8Array[] = [];
  s.onOutput = (p) => out.push(p.slice());
  let req: TcpFlowRequest | null = null;
  s.onTcpFlow = (r) => req = r;
  s.input(tcpPacket("10.88.0.2", 40000, "203.0.113.5", 80, SYN, 1000));
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(req, "the SYN was held");
  const accepted = (req as TcpFlowRequest).accept();
  await new Promise((r) => setTimeout(r, 0));
  const synAck = out.find((p) => (p[33]! & (SYN | ACK)) === (SYN | ACK));
  assert.ok(synAck, "the SYN-ACK went out");
  const started = performance.now();
  s.input(tcpPacket("10.88.0.2", 40000, "203.0.113.5", 80, RST, 1001));
  await assert.rejects(accepted, FlowCancelledError);
  assert.ok(performance.now() - started < 5_000, "rejected well before the 60 s timeout");
  assert.equal(s.stats()["tcp.accept_peer_reset"], 1);
  s.close();
});
