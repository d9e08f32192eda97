/**
 * The proxy under test, run inside the server namespace with the permissions the test gives it:
 *   deno run --allow-net=<…> tests/interop/_proxy_sut.ts '<json>'
 * Commands on stdin and reports on stdout are JSON lines (see _sut.ts).
 */
import { emit, stdinCommands } from "./_sut.ts";
import { sutProxyConfig } from "./_sut_options.ts";
import { startProxy } from "../../src/server.ts";
import { getLogger, MemoryHandler, setup } from "../../src/log.ts";

const mem = new MemoryHandler("INFO");
setup({ handlers: { mem }, loggers: { sut: { level: "INFO", handlers: ["mem"] } } });
const handle = await startProxy({ ...sutProxyConfig(Deno.args[0]!), logger: getLogger("sut") });
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
