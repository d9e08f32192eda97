/**
 * Proxied connections in one process (not a test): a client netstack plays the peer's kernel and
 * runs the e2e connection probe's loop (connect, 1 byte, its echo, close) through a second
 * netstack with the FlowProxy, which dials a loopback echo target with `Deno.connect`. It prints
 * connections per second and, from V8's own trace of the run (`--trace-gc-nvp`, read by this
 * script running itself as a child), what each connection leaves to the garbage collector: bytes
 * promoted to the old generation and the old generation's growth per 1,000 connections, young
 * collections' median pause, and full collections. Per-connection objects that live past a young
 * collection were the largest part of the connection run's collector work (the twentieth
 * session's fixes took promotion from ~160 to ~3 KB a collection in this loop); this shows such a
 * regression where the end-to-end figures only blur it. It runs twice: on a fresh process, and after
 * 1,000 flows were held open together and closed — a proxy that once had many flows must not pay
 * for them afterwards (V8's allocation-site pretenuring had, see bench/v8_flags.ts).
 *
 *   deno run -A bench/proxy_conn_bench.ts [connections] [idle-flows]
 *
 * @module
 */
import { Netstack } from "../src/netstack/mod.ts";
import { FlowProxy } from "../src/proxy/proxy.ts";
import { parseRule } from "../src/proxy/policy.ts";
import { getLogger } from "../src/log.ts";
import { wire } from "../tests/netstack/_link.ts";
import { v8FlagsArg } from "./v8_flags.ts";

const CHILD = "--child";

/** One young- or old-generation collection from `--trace-gc-nvp`. */
interface GcLine {
  gc: string;
  pause: number;
  promoted?: number;
  end_object_size: number;
}

async function child(connections: number, idleFlows: number): Promise<void> {
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (target.addr as Deno.NetAddr).port;
  (async () => {
    for await (const c of target) {
      (async () => {
        const b = new Uint8Array(64);
        for (let n = await c.read(b); n !== null; n = await c.read(b)) {
          await c.write(b.subarray(0, n));
        }
        c.close();
      })().catch(() => {});
    }
  })();
  const client = await Netstack.create({ addresses: ["10.66.0.2/24"] });
  const server = await Netstack.create({ addresses: ["10.66.0.1/24"] });
  wire(client, server);
  wire(server, client);
  const proxy = new FlowProxy(server, {
    rules: [parseRule(`allow 127.0.0.1/32:${port} tcp`)],
    denyPrefixes: ["10.66.0.0/24"],
    permission: () => true,
    logger: getLogger("proxy-conn-bench"),
    peerOf: () => "peer",
    flowLog: false,
    limits: { newFlowsPerSecond: 1e9, newFlowBurst: 1e9 },
  });
  proxy.enableTcp();
  const one = new Uint8Array([120]);
  const buf = new Uint8Array(16);
  // the probe's connection: connect, 1 byte, its echo (left open)
  const echoOnce = async () => {
    const c = await client.dialTcp({ hostname: "127.0.0.1", port });
    await c.write(one);
    await c.read(buf);
    return c;
  };
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) (await echoOnce()).close();
  };
  if (idleFlows > 0) {
    // many flows at once, held long enough to outlive young-generation collections, then closed
    const open = [];
    for (let i = 0; i < idleFlows; i++) open.push(await echoOnce());
    await new Promise((r) => setTimeout(r, 500));
    for (const c of open.splice(0)) c.close();
    await new Promise((r) => setTimeout(r, 1_000));
  }
  await run(Math.min(2_000, connections)); // warm-up: the JIT, the tables' sizes
  const startMs = performance.now();
  await run(connections);
  const endMs = performance.now();
  // on stderr: V8 writes its trace to stdout, and a line of ours could land inside one of its
  console.error(JSON.stringify({ connections, startMs, endMs }));
  await proxy.close();
  client.close();
  server.close();
  target.close();
  Deno.exit(0);
}

/** What {@link measureProxyConnections} reports. */
export interface ProxyConnResult {
  /** Connections timed (after a warm-up of up to 2,000). */
  connections: number;
  /** Their wall time, ms. */
  ms: number;
  /** Young-generation collections during them, and their median pause (ms). */
  youngCollections: number;
  youngPauseMs: number;
  /** Old-generation (full) collections during them. */
  fullCollections: number;
  /** Bytes promoted to the old generation, per connection. */
  promotedPerConnection: number;
  /** The old generation's growth between young collections, per connection (bytes). */
  oldGrowthPerConnection: number;
}

/**
 * Sums V8's `--trace-gc-nvp` lines (`stdout`) over the timed part that the child reported on
 * `stderr` (its `performance.now()` at start and end; V8 stamps its lines in ms since the isolate
 * began, the same origin within a few ms).
 */
export function summarizeGcTrace(stdout: string, stderr: string): ProxyConnResult {
  const report = stderr.split("\n").map((l) => l.trim()).find((l) => l.startsWith("{"));
  if (!report) throw new Error("no timed part in the output");
  const { connections, startMs, endMs } = JSON.parse(report) as {
    connections: number;
    startMs: number;
    endMs: number;
  };
  const gcs: GcLine[] = [];
  for (const l of stdout.split("\n")) {
    const m = /(\d+) ms: GC: (\{.*\})\s*$/.exec(l);
    if (!m || Number(m[1]) < startMs || Number(m[1]) > endMs) continue;
    try {
      gcs.push(JSON.parse(m[2]!) as GcLine);
    } catch { /* a line cut by other output */ }
  }
  const young = gcs.filter((g) => g.gc === "s");
  let growth = 0;
  for (let i = 1; i < young.length; i++) {
    const d = young[i]!.end_object_size - young[i - 1]!.end_object_size;
    if (d > 0) growth += d;
  }
  const pauses = young.map((g) => g.pause).sort((a, b) => a - b);
  return {
    connections,
    ms: endMs - startMs,
    youngCollections: young.length,
    youngPauseMs: pauses[pauses.length >> 1] ?? 0,
    fullCollections: gcs.length - young.length,
    promotedPerConnection: young.reduce((a, g) => a + (g.promoted ?? 0), 0) / connections,
    oldGrowthPerConnection: growth / connections,
  };
}

/**
 * Runs the loop in a child process with V8's collection trace and summarises it; with
 * `idleFlows`, that many flows are first held open together and closed.
 */
export async function measureProxyConnections(
  connections: number,
  idleFlows = 0,
): Promise<ProxyConnResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      v8FlagsArg("--trace-gc-nvp"),
      new URL(import.meta.url).pathname,
      CHILD,
      String(connections),
      String(idleFlows),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`child exited with ${out.code}: ${stderr.slice(-500)}`);
  return summarizeGcTrace(new TextDecoder().decode(out.stdout), stderr);
}

if (import.meta.main) {
  if (Deno.args[0] === CHILD) await child(Number(Deno.args[1]), Number(Deno.args[2] ?? 0));
  else {
    const connections = Number(Deno.args[0] ?? 20_000);
    const idleFlows = Number(Deno.args[1] ?? 1_000);
    for (const idle of [0, idleFlows]) {
      const r = await measureProxyConnections(connections, idle);
      console.log(idle === 0 ? "fresh process:" : `after ${idle} flows held open together:`);
      console.log(
        `  connections: ${r.connections} in ${r.ms.toFixed(0)} ms (${
          (r.connections / r.ms * 1000).toFixed(0)
        }/s, one core for both stacks, the proxy and the target)`,
      );
      console.log(
        `  young collections: ${r.youngCollections}, median pause ${
          r.youngPauseMs.toFixed(3)
        } ms; full collections: ${r.fullCollections}`,
      );
      console.log(
        `  per connection: promoted ${r.promotedPerConnection.toFixed(0)} B, old generation grew ${
          r.oldGrowthPerConnection.toFixed(0)
        } B`,
      );
    }
  }
}
