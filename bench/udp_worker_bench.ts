/**
 * Worker-backed UDP socket vs the socket on the main thread (issue 7): datagrams a listening
 * Device takes from a C sender on loopback (bench/udp_flood.c), with an idle main thread and with
 * a busy one (10 µs of work per datagram, as decrypt + netstack would cost), counting the kernel's
 * receive-buffer drops (`RcvbufErrors` in /proc/net/snmp) and the worker ring's drops.
 *
 * Two offered loads: a flood (as fast as the kernel takes them) and bursts smaller than the ring
 * but far larger than the kernel's 208 KiB receive buffer — the shape wireguard-go sends in.
 *
 * Run: deno run -A --unstable-net bench/udp_worker_bench.ts [--quick]
 * Skipped without a C compiler. Loopback only.
 */
import { Device } from "../src/wireguard/device.ts";
import { generatePrivateKey } from "../src/wireguard/keys.ts";
import { getLogger } from "../src/log.ts";
import type { UdpRemote } from "../src/udp_socket.ts";
import type { UdpWorkerStats } from "../src/udp_worker/mod.ts";

/** One measured case. */
export interface UdpWorkerBenchRow {
  /** "worker" or "main thread". */
  socket: string;
  /** "flood" or "bursts". */
  load: string;
  /** Simulated work per datagram on the main thread, µs. */
  workUs: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams the device received. */
  received: number;
  /** Received per second over the sending + draining window. */
  perSecond: number;
  /** Kernel receive-buffer drops during the case (machine-wide counter). */
  kernelDrops: number;
  /** Datagrams dropped because the worker's ring was full. */
  ringDrops: number;
}

/** The kernel's UDP `RcvbufErrors` (all sockets in this network namespace). */
export async function rcvbufErrors(): Promise<number> {
  const text = await Deno.readTextFile("/proc/net/snmp");
  const lines = text.split("\n").filter((l) => l.startsWith("Udp:"));
  const names = (lines[0] ?? "").split(/\s+/);
  const values = (lines[1] ?? "").split(/\s+/);
  return Number(values[names.indexOf("RcvbufErrors")] ?? 0);
}

function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) { /* simulated per-datagram work */ }
}

async function settle(dev: Device): Promise<void> {
  // Drained when the counter stops moving for 50 ms (bounded: 200 checks).
  let last = -1;
  for (let i = 0; i < 200 && dev.counters.datagramsReceived !== last; i++) {
    last = dev.counters.datagramsReceived;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runCase(
  exe: string,
  worker: boolean,
  load: "flood" | "bursts",
  workUs: number,
  quick: boolean,
): Promise<UdpWorkerBenchRow> {
  const dev = new Device({ privateKey: generatePrivateKey(), logger: getLogger("bench-quiet") });
  if (workUs > 0) {
    const inner = dev.receiveDatagram.bind(dev);
    dev.receiveDatagram = (data: Uint8Array, from: UdpRemote) => {
      spin(workUs);
      inner(data, from);
    };
  }
  const addr = await dev.listen({ port: 0, hostname: "127.0.0.1", worker });
  const size = load === "flood" ? 148 : 1400;
  const bursts = load === "flood" ? 1 : (quick ? 5 : 20);
  const perBurst = load === "flood" ? (quick ? 100_000 : 400_000) : 2000;
  const drops0 = await rcvbufErrors();
  const t0 = performance.now();
  for (let b = 0; b < bursts; b++) {
    const sender = new Deno.Command(exe, {
      args: [String(addr.port), String(perBurst), String(size)],
    })
      .spawn();
    await sender.status;
    if (load === "bursts") await settle(dev); // the next burst after the device caught up
  }
  await settle(dev);
  const elapsed = performance.now() - t0 - 50;
  const received = dev.counters.datagramsReceived;
  const stats = dev.socket?.stats as Partial<UdpWorkerStats> | undefined;
  const row: UdpWorkerBenchRow = {
    socket: worker ? "worker" : "main thread",
    load,
    workUs,
    sent: bursts * perBurst,
    received,
    perSecond: received / (elapsed / 1000),
    kernelDrops: (await rcvbufErrors()) - drops0,
    ringDrops: stats?.rxRingDropped ?? 0,
  };
  dev.close();
  const closed = (dev.socket as { closed?: Promise<void> } | null)?.closed;
  if (closed) await closed;
  return row;
}

/** Runs every case; empty when there is no C compiler. */
export async function runUdpWorkerBench(quick = false): Promise<UdpWorkerBenchRow[]> {
  const dir = await Deno.makeTempDir();
  try {
    const exe = `${dir}/udp_flood`;
    const cc = await new Deno.Command("cc", {
      args: ["-O2", "-o", exe, new URL("./udp_flood.c", import.meta.url).pathname],
    }).output().catch(() => null);
    if (!cc?.success) return [];
    const rows: UdpWorkerBenchRow[] = [];
    for (const load of ["flood", "bursts"] as const) {
      for (const workUs of [0, 10]) {
        for (const worker of [false, true]) {
          rows.push(await runCase(exe, worker, load, workUs, quick));
        }
      }
    }
    return rows;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const rows = await runUdpWorkerBench(Deno.args.includes("--quick"));
  if (rows.length === 0) console.log("skipped: no C compiler");
  console.log(
    "socket       load    work/dgram        sent    received    received/s  kernel drops  ring drops",
  );
  for (const r of rows) {
    console.log(
      `${r.socket.padEnd(12)} ${r.load.padEnd(7)} ${`${r.workUs} µs`.padStart(10)} ` +
        `${String(r.sent).padStart(11)} ${String(r.received).padStart(11)} ` +
        `${r.perSecond.toFixed(0).padStart(13)} ${String(r.kernelDrops).padStart(13)} ` +
        `${String(r.ringDrops).padStart(11)}`,
    );
  }
}
