/**
 * Child of secure_defaults_test.ts, run under `ulimit -n 256`: a client netstack opens `n` TCP
 * flows through a FlowProxy to 127.0.0.1:<port> (the parent's listener, which holds them), then
 * UDP sessions, and prints one JSON line with what happened.
 *   deno run --allow-net --unstable-net _fd_limit_child.ts <port> <n> <tcp|udp|both> [maxFlows]
 */
import { Netstack } from "../../src/netstack/mod.ts";
import { FlowProxy } from "../../src/proxy/proxy.ts";
import { parseRule } from "../../src/proxy/policy.ts";
import { wire } from "../netstack/_link.ts";
import { quietLogger, total } from "./_fuzz.ts";

const port = Number(Deno.args[0]);
const n = Number(Deno.args[1] ?? "400");
const mode = Deno.args[2] ?? "both";
const maxFlows = Deno.args[3] ? Number(Deno.args[3]) : undefined;
let uncaught = 0;
globalThis.addEventListener("error", (e) => (uncaught++, e.preventDefault()));
globalThis.addEventListener("unhandledrejection", (e) => (uncaught++, e.preventDefault()));

const server = await Netstack.create({ addresses: ["10.77.0.1/24"] });
const client = await Netstack.create({ addresses: ["10.77.0.2/24"], connectTimeoutMs: 8000 });
wire(client, server);
wire(server, client);
const proxy = new FlowProxy(server, {
  rules: [parseRule(`allow 127.0.0.1/32 tcp`), parseRule(`allow 127.0.0.1/32 udp`)],
  logger: quietLogger,
  flowLog: false,
  limits: { newFlowsPerSecond: 1e6, newFlowBurst: 1e6, ...(maxFlows ? { maxFlows } : {}) },
  udp: maxFlows ? { maxSessions: maxFlows } : {},
});
proxy.enableTcp();
proxy.enableUdp();

const conns = [];
let opened = 0, failed = 0;
for (let i = 0; i < (mode !== "udp" ? n : 0); i++) {
  try {
    conns.push(await client.dialTcp({ hostname: "127.0.0.1", port }));
    opened++;
  } catch {
    failed++;
  }
}
// UDP sessions: one host socket each, far more than fds left.
const udp = [];
for (let i = 0; i < (mode !== "tcp" ? n : 0); i++) {
  const s = client.dialUdp({ hostname: "127.0.0.1", port: 9 });
  await s.send(new Uint8Array([1, 2, 3]));
  udp.push(s);
}
await new Promise((r) => setTimeout(r, 500));
const tcpRefused = { ...proxy.stats.tcp.refused };
const udpStats = proxy.stats.udp;
// Free everything; a new flow must work again.
for (const c of conns) c.close();
for (const s of udp) s.close();
await proxy.close();
await new Promise((r) => setTimeout(r, 300));
const proxy2 = new FlowProxy(server, {
  rules: [parseRule(`allow 127.0.0.1/32 tcp`)],
  logger: quietLogger,
  flowLog: false,
});
proxy2.enableTcp();
let afterOk = false;
try {
  const c = await client.dialTcp({ hostname: "127.0.0.1", port });
  afterOk = true;
  c.close();
} catch { /* reported */ }
await proxy2.close();
console.log(JSON.stringify({
  tcpOpened: opened,
  tcpFailed: failed,
  tcpRefused,
  tcpRefusedTotal: total(tcpRefused),
  udpSessions: udpStats.total,
  udpBindFailed: udpStats.dropped["bind-failed"] ?? 0,
  udpRefused: udpStats.refused,
  uncaught,
  afterOk,
}));
server.close();
client.close();
Deno.exit(0);
