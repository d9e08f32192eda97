/**
 * The system under test for WireGuard interop, run inside a test namespace:
 *   deno run -A tests/interop/_wg_sut.ts '<json options>'
 * It runs our Device, answers ICMP echo for its tunnel address, and takes commands on stdin
 * (one JSON object a line); it reports on stdout (one JSON object a line).
 */
import { emit, stdinCommands } from "./_sut.ts";
import { Device } from "../../src/wireguard/device.ts";
import { decodeKey } from "../../src/wireguard/keys.ts";
import { echoReply, echoRequestV4 } from "./_icmp_echo.ts";

const opts = JSON.parse(Deno.args[0]!) as {
  privateKey: string;
  listenPort: number;
  peer: { publicKey: string; allowedIPs: string[]; endpoint?: { address: string; port: number } };
};
const device = new Device({ privateKey: decodeKey(opts.privateKey) });
const peer = device.addPeer({
  publicKey: decodeKey(opts.peer.publicKey),
  allowedIPs: opts.peer.allowedIPs,
  endpoint: opts.peer.endpoint,
});
let echoRepliesReceived = 0;
let echoRequestsAnswered = 0;
device.onPacket = (p) => {
  const reply = echoReply(p);
  if (reply) {
    echoRequestsAnswered++;
    device.sendPacket(reply);
  } else if ((p[0]! >> 4) === 4 && p[9] === 1 && p[20] === 0) {
    echoRepliesReceived++;
  }
};
const addr = await device.listen({ port: opts.listenPort });
const out = emit;
out({ event: "listening", port: addr.port, backend: device.socket?.backend });

for await (const cmd of stdinCommands()) {
  if (cmd.cmd === "ping") {
    device.sendPacket(echoRequestV4(cmd.src, cmd.dst, 7, cmd.seq ?? 1));
    out({ event: "pinged" });
  } else if (cmd.cmd === "rekey") {
    peer.sendHandshakeInitiation(false);
    out({ event: "rekeying" });
  } else if (cmd.cmd === "stats") {
    out({
      event: "stats",
      handshakes: peer.stats.handshakes,
      endpoint: peer.endpoint,
      echoRepliesReceived,
      echoRequestsAnswered,
      drops: Object.fromEntries(device.drops),
      counters: device.counters,
    });
  } else if (cmd.cmd === "exit") {
    device.close();
    out({ event: "bye" });
    Deno.exit(0);
  }
}
