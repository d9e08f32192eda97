/**
 * The system under test for scenario "ours": @newt/proxy started from a wg-quick server config
 * (`[Interface]`, `[Peer]`, `[Proxy]`), the way the CLI starts it, inside the server namespace:
 *   deno run --allow-net=<…> --allow-read=<config> bench/e2e/_proxy_sut.ts <config-file>
 * Prints one JSON line when listening; answers "gc" and "stats" lines; closes and exits when
 * stdin closes.
 */
import v8 from "node:v8";
import { startProxy } from "../../src/server.ts";
import { flowProxyOptions, transportOptions } from "../../src/cli/proxy_wiring.ts";
import { parseServerConfig, toPeerOptions } from "../../src/cli/server_config.ts";
import { ConsoleHandler, getLogger, setup } from "../../src/log.ts";
import { formatCidr } from "../../src/wire/ip_address.ts";

const config = parseServerConfig(await Deno.readTextFile(Deno.args[0]!));
setup({
  handlers: { stderr: new ConsoleHandler(config.proxy.logLevel) },
  loggers: { bench: { level: config.proxy.logLevel, handlers: ["stderr"] } },
});
const iface = config.wg.interface;
const handle = await startProxy({
  privateKey: iface.privateKey,
  listenPort: iface.listenPort ?? 51820,
  addresses: iface.addresses.map(formatCidr),
  ...(iface.mtu !== undefined ? { mtu: iface.mtu } : {}),
  peers: config.wg.peers.map(toPeerOptions),
  proxy: flowProxyOptions(config.proxy),
  ...transportOptions(config.proxy),
  logger: getLogger("bench"),
});
console.log(JSON.stringify({
  event: "listening",
  pid: Deno.pid,
  port: handle.listenPort,
  backend: handle.device.socket?.backend,
}));
// Runs until stdin closes. "gc" (with --v8-flags=--expose-gc) collects garbage first, so memory
// readings count what the proxy holds rather than when V8 last collected.
const gc = (globalThis as { gc?: () => void }).gc;
for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (line.includes("stats")) {
    const s = handle.stats();
    // with the netstack's counters, the client's messages that never arrived (counter gaps)
    const rxLost = s.peers.reduce((a, p) => a + p.rxLost, 0);
    // and the UDP socket's: how much of it the main thread received and sent itself
    const u = handle.device.socket?.stats as Partial<Record<string, number>> | undefined;
    console.log(JSON.stringify({
      stats: {
        ...s.netstack,
        "wg.rx_lost": rxLost,
        "udp.received": u?.received ?? 0,
        "udp.direct_received": u?.directReceived ?? 0,
        "udp.sent": u?.sent ?? 0,
        "udp.direct_sent": u?.directSent ?? 0,
      },
    }));
  } else if (line.includes("gc")) {
    gc?.();
    gc?.();
    const spaces = Object.fromEntries(
      v8.getHeapSpaceStatistics().filter((x) => x.space_size > 0).map((
        x,
      ) => [
        x.space_name,
        `${(x.space_size / 1e6).toFixed(1)}/${(x.space_used_size / 1e6).toFixed(1)}`,
      ]),
    );
    console.log(JSON.stringify({ gc: gc !== undefined, memory: Deno.memoryUsage(), spaces }));
  }
}
await handle.close(0);
Deno.exit(0);
