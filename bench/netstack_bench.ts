/**
 * Netstack benchmark (not a test): bulk TCP throughput between two stacks in one process (a
 * reader with 256 KiB buffers, and one with 16 KiB buffers as a proxy copying in small chunks
 * reads), the same over an impaired link (10 ms each way, 0.5% seeded loss each way: the e2e
 * "impaired path" in miniature, where loss recovery decides the rate), and memory per idle TCP
 * connection.
 *
 *   deno run -A --v8-flags=--expose-gc bench/netstack_bench.ts [MB] [idle-connections] [impaired-MB]
 */
import { prng } from "../tests/netstack/_link.ts";
import { Netstack, type TcpConn } from "../src/netstack/mod.ts";

const MB = 1024 * 1024;
const size = Number(Deno.args[0] ?? 200) * MB;
const idle = Number(Deno.args[1] ?? 2000);
const impairedSize = Number(Deno.args[2] ?? 20) * MB;

/** A link impairment: fixed one-way delay and seeded random loss. */
interface Impairment {
  delayMs: number;
  loss: number;
  seed: number;
}

/** Counts of one link direction. */
interface LinkCounts {
  packets: number;
  lost: number;
}

/**
 * `from`'s output into `to.input`: in microtask batches, or — impaired — held for `delayMs` in a
 * FIFO released by one timer (order kept, as on a real path) after a seeded loss draw.
 */
function wire(from: Netstack, to: Netstack, impair?: Impairment): LinkCounts {
  const counts: LinkCounts = { packets: 0, lost: 0 };
  if (!impair) {
    let batch: Uint8Array[] = [];
    let scheduled = false;
    const deliver = () => {
      scheduled = false;
      const now = batch;
      batch = [];
      for (const p of now) to.input(p);
    };
    from.onOutput = (p) => {
      counts.packets++;
      batch.push(p.slice());
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(deliver);
      }
    };
    return counts;
  }
  const rnd = prng(impair.seed);
  const queue: { at: number; packet: Uint8Array }[] = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const release = () => {
    timer = undefined;
    const now = performance.now();
    while (head < queue.length && queue[head]!.at <= now + 0.5) to.input(queue[head++]!.packet);
    if (head > 4096) {
      queue.splice(0, head);
      head = 0;
    }
    if (head < queue.length) timer = setTimeout(release, queue[head]!.at - now);
  };
  from.onOutput = (p) => {
    counts.packets++;
    if (rnd() < impair.loss) {
      counts.lost++;
      return;
    }
    queue.push({ at: performance.now() + impair.delayMs, packet: p.slice() });
    timer ??= setTimeout(release, impair.delayMs);
  };
  return counts;
}

async function pair(impair?: Impairment) {
  const proxy = await Netstack.create({ addresses: ["10.88.0.1/24"] });
  const peer = await Netstack.create({ addresses: ["10.88.0.2/24"] });
  const toPeer = wire(proxy, peer, impair && { ...impair, seed: impair.seed * 2 });
  const toProxy = wire(peer, proxy, impair && { ...impair, seed: impair.seed * 2 + 1 });
  return { proxy, peer, toPeer, toProxy };
}

/**
 * MB/s and CPU seconds per GB of one bulk transfer (peer → proxy) of `bytes` whose reader uses
 * `readSize` buffers, over a clean or impaired link.
 */
async function throughput(
  readSize: number,
  bytes = size,
  impair?: Impairment,
): Promise<{ mbps: number; cpuPerGB: number; lost: number; packets: number }> {
  const { proxy, peer, toProxy } = await pair(impair);
  let accepted: Promise<TcpConn> | undefined;
  proxy.onTcpFlow = (r) => accepted = r.accept();
  const client = await peer.dialTcp({ hostname: "203.0.113.1", port: 5201 });
  while (!accepted) await new Promise((r) => setTimeout(r, 1));
  const server = await accepted;
  const chunk = new Uint8Array(256 * 1024).fill(0x5a);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const sender = (async () => {
    for (let sent = 0; sent < bytes; sent += chunk.length) await client.write(chunk);
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
  if (got !== bytes) throw new Error(`received ${got} of ${bytes}`);
  client.close();
  server.close();
  proxy.close();
  peer.close();
  return {
    mbps: bytes / MB / s,
    cpuPerGB: cpu / (bytes / (1024 * MB)),
    lost: toProxy.lost,
    packets: toProxy.packets,
  };
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
{
  const impair = { delayMs: 10, loss: 0.005, seed: 7 };
  const t = await throughput(256 * 1024, impairedSize, impair);
  console.log(
    `bulk TCP, impaired (10 ms each way, 0.5% loss each way), ${impairedSize / MB} MB: ` +
      `${t.mbps.toFixed(1)} MB/s (${t.lost} of ${t.packets} data-direction packets lost)`,
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
