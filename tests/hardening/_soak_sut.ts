/**
 * The proxy under soak, run inside the server namespace with the permissions the soak gives it:
 *   deno run --allow-net=<…> tests/hardening/_soak_sut.ts '<json>'
 * Like tests/interop/_proxy_sut.ts, plus netstack counters and live flows in its stats answer.
 * Commands on stdin and reports on stdout are JSON lines.
 */
import { emit as out, stdinCommands } from "../interop/_sut.ts";
import { sutProxyConfig } from "../interop/_sut_options.ts";
import { startProxy } from "../../src/server.ts";
import { Logger } from "../../src/log.ts";

const config = sutProxyConfig(Deno.args[0]!);
const handle = await startProxy({
  ...config,
  proxy: {
    ...config.proxy,
    flowLog: false,
    limits: { newFlowsPerSecond: 5_000, newFlowBurst: 5_000 },
  },
  logger: new Logger("soak-quiet", "CRITICAL"),
});
out({ event: "listening", port: handle.listenPort });

for await (const cmd of stdinCommands()) {
  if (cmd.cmd === "stats") {
    const s = handle.stats();
    const n = s.netstack;
    out({
      event: "stats",
      liveFlows: handle.net.proxy.liveFlows,
      tcp: { live: s.tcp.live, total: s.tcp.total, refused: s.tcp.refused },
      udp: { live: s.udp.live, total: s.udp.total, refused: s.udp.refused },
      drops: s.drops,
      // messages the client sent that never arrived (counter gaps): here, our socket's drops
      inbound: {
        received: s.peers.reduce((a, p) => a + p.rxMessages, 0),
        lost: s.peers.reduce((a, p) => a + p.rxLost, 0),
      },
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
