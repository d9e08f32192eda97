/**
 * The proxy under test, run inside the server namespace with the permissions the test gives it:
 *   deno run --allow-net=<…> tests/interop/_proxy_sut.ts '<json>'
 * Commands on stdin and reports on stdout are JSON lines (see _sut.ts).
 */
import { emit, stdinCommands } from "./_sut.ts";
import { startProxy } from "../../src/server.ts";
import { decodeKey } from "../../src/wireguard/keys.ts";
import { parseRule } from "../../src/proxy/policy.ts";
import { getLogger, MemoryHandler, setup } from "../../src/log.ts";

const opts = JSON.parse(Deno.args[0]!) as {
  privateKey: string;
  listenPort: number;
  addresses: string[];
  peers: Array<{ publicKey: string; allowedIPs: string[] }>;
  rules?: string[];
  tcpConnectTimeoutMs?: number;
  udpIdleTimeoutMs?: number;
};
const mem = new MemoryHandler("INFO");
setup({ handlers: { mem }, loggers: { sut: { level: "INFO", handlers: ["mem"] } } });
const handle = await startProxy({
  privateKey: decodeKey(opts.privateKey),
  listenPort: opts.listenPort,
  addresses: opts.addresses,
  peers: opts.peers.map((p) => ({ publicKey: decodeKey(p.publicKey), allowedIPs: p.allowedIPs })),
  proxy: {
    rules: (opts.rules ?? []).map(parseRule),
    timeouts: {
      ...(opts.tcpConnectTimeoutMs ? { tcpConnectTimeoutMs: opts.tcpConnectTimeoutMs } : {}),
      ...(opts.udpIdleTimeoutMs ? { udpIdleTimeoutMs: opts.udpIdleTimeoutMs } : {}),
    },
  },
  logger: getLogger("sut"),
});
const out = emit;
out({ event: "listening", port: handle.listenPort, backend: handle.device.socket?.backend });

for await (const cmd of stdinCommands()) {
  if (cmd.cmd === "stats") {
    const s = handle.stats();
    out({
      event: "stats",
      tcp: s.tcp,
      udp: s.udp,
      drops: s.drops,
      handshakes: s.device.handshakes,
      flowLines: mem.records.filter((r) => r.msg === "flow").map((r) => r.fields),
      rss: Deno.memoryUsage().rss,
    });
  } else if (cmd.cmd === "exit") {
    await handle.close(cmd.drainMs ?? 0);
    out({ event: "bye" });
    Deno.exit(0);
  }
}
