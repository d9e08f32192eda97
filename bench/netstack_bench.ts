/**
 * Netstack benchmark (not a test): bulk TCP throughput between two stacks in one process (a
 * reader with 256 KiB buffers, and one with 16 KiB buffers as a proxy copying in small chunks
 * reads), and memory per idle TCP connection.
 *
 *   deno run -A --v8-flags=--expose-gc bench/netstack_bench.ts [MB] [idle-connections]
 */
import { Netstack, type TcpConn } from "../src/netstack/mod.ts";

const MB = 1024 * 1024;
const size = Number(Deno.args[0] ?? 200) * MB;
const idle = Number(Deno.args[1] ?? 2000);

function wire(from: Netstack, to: Netstack): void {
  let batch: Uint8Array[] = [];
  let scheduled = false;
  const deliver = () => {
    scheduled = false;
    const now = batch;
    batch = [];
    for (const p of now) to.input(p);
  };
  from.onOutput = (p) => {
    batch.push(p.slice());
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(deliver);
    }
  };
}

async function pair() {
  const proxy = await Netstack.create({ addresses: ["10.88.0.1/24"] });
  const peer = await Netstack.create({ addresses: ["10.88.0.2/24"] });
  wire(proxy, peer);
  wire(peer, proxy);
  return { proxy, peer };
}

/** MB/s and CPU seconds per GB of one bulk transfer whose reader uses `readSize` buffers. */
async function throughput(readSize: number): Promise<{ mbps: number; cpuPerGB: number }> {
  const { proxy, peer } = await pair();
  let accepted: Promise<TcpConn> | undefined;
  proxy.onTcpFlow = (r) => accepted = r.accept();
  const client = await peer.dialTcp({ hostname: "203.0.113.1", port: 5201 });
  while (!accepted) await new Promise((r) => setTimeout(r, 1));
  const server = await accepted;
  const chunk = new Uint8Array(256 * 1024).fill(0x5a);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const sender = (async () => {
    for (let sent = 0; sent < size; sent += chunk.length) await client.write(chunk);
    await client.closeWrite();
  })();
  const buf = new Uint8Array(readSize);
  let got = 0;
  while (true) {
    const n = await server.read(buf);
    if (n === null) break;
    got += n;
  }
  await sender;
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  if (got !== size) throw new Error(`received ${got} of ${size}`);
  client.close();
  server.close();
  proxy.close();
  peer.close();
  return { mbps: size / MB / s, cpuPerGB: cpu / (size / (1024 * MB)) };
}

/** User + system CPU seconds of this process so far (Linux; NaN elsewhere). */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) { for (let i = 0; i < 3; i++) g(); }
}

async function idleMemory(): Promise<{ jsPerConn: number; pcbBytes: number }> {
  const { proxy, peer } = await pair();
  const servers: TcpConn[] = [];
  proxy.onTcpFlow = async (r) => servers.push(await r.accept());
  // warm up the code paths so JIT and first-use allocations are not counted
  const warm = await peer.dialTcp({ hostname: "198.18.0.1", port: 1 });
  while (servers.length < 1) await new Promise((r) => setTimeout(r, 1));
  gc();
  const before = Deno.memoryUsage();
  const clients: TcpConn[] = [];
  for (let i = 0; i < idle; i++) {
    clients.push(await peer.dialTcp({ hostname: `198.19.${i >> 8}.${i & 0xff}`, port: 80 }));
  }
  while (servers.length < idle + 1) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  gc();
  const after = Deno.memoryUsage();
  const delta = after.heapUsed - before.heapUsed + (after.external - before.external);
  const pcbBytes = proxy.stats()["pool.tcp_pcb_bytes"];
  for (const c of [...clients, warm]) c.close();
  for (const s of servers) s.close();
  proxy.close();
  peer.close();
  // the delta holds both ends (peer client + proxy server objects); one end is half of it
  return { jsPerConn: delta / idle / 2, pcbBytes };
}

for (
  const [label, readSize] of [["256 KiB reads", 256 * 1024], [
    "small reads (16 KiB)",
    16 * 1024,
  ]] as const
) {
  const t = await throughput(readSize);
  console.log(
    `bulk TCP, one direction, ${size / MB} MB, ${label}: ${t.mbps.toFixed(0)} MB/s, ` +
      `${t.cpuPerGB.toFixed(2)} CPU s/GB`,
  );
}
const m = await idleMemory();
console.log(
  `idle TCP connection (one end): ${(m.jsPerConn / 1024).toFixed(1)} KiB JS heap + ` +
    `${m.pcbBytes} B tcp_pcb in the fixed wasm pool ` +
    `(= ${((m.jsPerConn + m.pcbBytes) / 1024).toFixed(1)} KiB)`,
);
if (!(globalThis as { gc?: () => void }).gc) {
  console.log("(run with --v8-flags=--expose-gc for a stable memory figure)");
}
