/**
 * The proxy under soak, run inside the server namespace with the permissions the soak gives it:
 *   deno run --allow-net=<…> tests/hardening/_soak_sut.ts '<json>'
 * Like tests/interop/_proxy_sut.ts, plus netstack counters and live flows in its stats answer.
 * Commands on stdin and reports on stdout are JSON lines.
 */
import { startProxy } from "../../src/server.ts";
import { decodeKey } from "../../src/wireguard/keys.ts";
import { parseRule } from "../../src/proxy/policy.ts";
import { Logger } from "../../src/log.ts";

const opts = JSON.parse(Deno.args[0]!) as {
  privateKey: string;
  listenPort: number;
  addresses: string[];
  peers: Array<{ publicKey: string; allowedIPs: string[] }>;
  rules?: string[];
  udpIdleTimeoutMs?: number;
  udpBackend?: "ffi";
};
const handle = await startProxy({
  privateKey: decodeKey(opts.privateKey),
  listenPort: opts.listenPort,
  addresses: opts.addresses,
  peers: opts.peers.map((p) => ({ publicKey: decodeKey(p.publicKey), allowedIPs: p.allowedIPs })),
  proxy: {
    rules: (opts.rules ?? []).map(parseRule),
    flowLog: false,
    timeouts: opts.udpIdleTimeoutMs ? { udpIdleTimeoutMs: opts.udpIdleTimeoutMs } : {},
    limits: { newFlowsPerSecond: 5_000, newFlowBurst: 5_000 },
  },
  logger: new Logger("soak-quiet", "CRITICAL"),
  ...(opts.udpBackend ? { udpBackend: opts.udpBackend } : {}),
});
const out = (o: unknown) => console.log(JSON.stringify(o));
out({ event: "listening", port: handle.listenPort });

let buf = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const cmd = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (cmd.cmd === "stats") {
      const s = handle.stats();
      const n = s.netstack;
      out({
        event: "stats",
        liveFlows: handle.net.proxy.liveFlows,
        tcp: { live: s.tcp.live, total: s.tcp.total, refused: s.tcp.refused },
        udp: { live: s.udp.live, total: s.udp.total, refused: s.udp.refused },
        drops: s.drops,
        handshakes: s.device.handshakes,
        netstack: {
          connections: n["tcp.connections"],
          held: n["tcp.held"],
          tcpPcbs: n["pool.tcp_pcb_used"],
          udpPcbs: n["pool.udp_pcb_used"],
          heapUsed: n["pool.heap_used"],
          pbufs: n["pool.pbuf_used"],
          segs: n["pool.tcp_seg_used"],
        },
        heap: Deno.memoryUsage().heapUsed,
      });
    } else if (cmd.cmd === "exit") {
      await handle.close(cmd.drainMs ?? 0);
      out({ event: "bye" });
      Deno.exit(0);
    }
  }
}
