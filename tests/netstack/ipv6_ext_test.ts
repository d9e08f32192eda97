import assert from "node:assert/strict";
import { Netstack, type TcpFlowRequest, type UdpDatagram } from "../../src/netstack/mod.ts";
import { SYN, tcpPacket, udpPacket } from "./_packets.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };

/**
 * Re-frames a plain IPv6 packet with extension headers (8 bytes each, PadN options) between
 * the fixed header and the transport header: `kinds` e.g. [0] (hop-by-hop) or [0, 60].
 */
function withExtensions(plain: Uint8Array, kinds: number[]): Uint8Array {
  const out = new Uint8Array(plain.length + 8 * kinds.length);
  out.set(plain.subarray(0, 40));
  const transport = plain[6]!;
  const plen = plain.length - 40 + 8 * kinds.length;
  out[4] = plen >> 8;
  out[5] = plen & 0xff;
  out[6] = kinds[0]!;
  kinds.forEach((_, i) => {
    const next = i + 1 < kinds.length ? kinds[i + 1]! : transport;
    out.set([next, 0, 1, 4, 0, 0, 0, 0], 40 + 8 * i); // PadN(4) fills the 8 bytes
  });
  out.set(plain.subarray(40), 40 + 8 * kinds.length);
  return out;
}

for (const kinds of [[0], [0, 60]]) {
  Deno.test(
    `TCP and UDP behind IPv6 extension headers ${JSON.stringify(kinds)}`,
    OPTS,
    async () => {
      const s = await Netstack.create({ addresses: ["fd88::1/64"] });
      const out: Uint8Array[] = [];
      s.onOutput = (p) => out.push(p.slice());
      const flows: TcpFlowRequest[] = [];
      const datagrams: UdpDatagram[] = [];
      s.onTcpFlow = (r) => flows.push(r);
      s.onUdp = (d) => datagrams.push(d);

      s.input(withExtensions(tcpPacket("fd88::2", 40000, "2001:db8::80", 443, SYN, 1000), kinds));
      s.input(
        withExtensions(
          udpPacket("fd88::2", 5000, "2001:db8::53", 53, new Uint8Array([1, 2, 3])),
          kinds,
        ),
      );
      await new Promise((r) => setTimeout(r, 0));

      assert.equal(flows.length, 1);
      assert.deepEqual(flows[0]!.dst, { address: "2001:db8::80", port: 443 });
      assert.deepEqual(flows[0]!.src, { address: "fd88::2", port: 40000 });
      assert.equal(datagrams.length, 1);
      assert.deepEqual(datagrams[0]!.dst, { address: "2001:db8::53", port: 53 });
      assert.deepEqual([...datagrams[0]!.data], [1, 2, 3]);
      flows[0]!.refuse();
      await new Promise((r) => setTimeout(r, 0));
      assert.equal(out.length, 1, "one RST for the refused SYN");
      s.close();
    },
  );
}
