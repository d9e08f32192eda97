/**
 * End-to-end benchmark, side by side in one run (issue 7): (0) a plain veth, (A) wireguard-go on
 * both ends with the kernel delivering to the target, and (ours) @newt/proxy started from a
 * wg-quick config — TCP throughput (with the server's CPU per Gbit), UDP rate at < 1% loss,
 * connection rate and latency, memory with 1,000 idle flows, and TCP over an impaired path.
 * Needs root: it creates and removes its own network namespaces; traffic stays inside them.
 * The scenarios of a phase (plain path, impaired path) are up together and each run goes through
 * all of them in turn, so the host's drift over minutes is shared rather than one-sided.
 *
 *   deno run -A bench/e2e/main.ts [--quick] [--runs N] [--seconds S] [--scenarios plain,wg-go,ours]
 *     [--measures tcp,conn,rss,udp,impaired] [--udp-backend deno|node] [--out FILE | --no-out]
 *     (--quick writes no RESULTS.md unless --out FILE)
 *
 * For looking into a result (ours only): every TCP run logs the netstack's packet and recovery
 * counters; NEWT_BENCH_TCP_CASES=tcpUp1,tcpDown4 runs only those TCP cases;
 * NEWT_BENCH_CPU_PROF=DIR writes a V8 CPU profile of the proxy (main thread and UDP Worker);
 * NEWT_BENCH_MEMORY=1 logs V8's heap spaces at each memory reading; NEWT_BENCH_V8=,--flag adds V8
 * flags to the proxy's; NEWT_BENCH_STDOUT=FILE appends the processes' stdout to FILE (with
 * NEWT_BENCH_V8=,--trace-gc: the proxy's collections, young-generation bytes per connection);
 * NEWT_BENCH_PROXY="AcceptBeforeDial = on" adds lines (`;`-separated) to the proxy's [Proxy] section;
 * NEWT_BENCH_LATENCY_DIR=DIR has the connection probe write each connection's start
 * (CLOCK_MONOTONIC, as `perf record -k CLOCK_MONOTONIC` stamps samples) and latency to DIR.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { interopUnavailable, which } from "../../tests/interop/_netns.ts";
import {
  type ConnRate,
  connRate,
  echoLatency,
  idleFlowMemory,
  sleep,
  tcpThroughput,
  udpRateSearch,
} from "./measure.ts";
import { totalRssBytes } from "./proc_stats.ts";
import {
  formatText,
  type MachineInfo,
  median,
  perRunRatios,
  resultsMarkdown,
  type Row,
} from "./report.ts";
import { buildScenario, type Impairment, type Scenario, type ScenarioKind } from "./topology.ts";
import { buildTools, removeTools, type Tools } from "./tools.ts";
import { v8FlagsArg } from "../v8_flags.ts";

/**
 * The netstack's packet and loss-recovery counters over one run, and the client's messages that
 * never reached the proxy (`wg.rx_lost`), for the log ("" when not ours).
 */
function lossCounters(
  before: Record<string, number> | undefined,
  after: Record<string, number> | undefined,
): string {
  if (before === undefined || after === undefined) return "";
  const names = Object.keys(after).filter((k) =>
    /^(packets\.(in|out)$|wg\.rx_lost$|tcp\.(rto|fast_recoveries|sack_retransmits|partial_ack|model_held|lost_re|acks_co|window_|paced|send_limited|delayed_acks))/
      .test(
        k,
      )
  );
  return ` (${
    names.map((k) => `${k.replace(/^tcp\./, "")} ${after[k]! - (before[k] ?? 0)}`).join(", ")
  })`;
}

/** One iperf3 TCP run, with the netstack's counters over it for the log (ours only). */
async function throughputWithCounters(
  s: Scenario,
  opts: Parameters<typeof tcpThroughput>[1],
): Promise<{ t: Awaited<ReturnType<typeof tcpThroughput>>; counters: string }> {
  const before = await s.netstackStats();
  const t = await tcpThroughput(s, opts);
  return { t, counters: lossCounters(before, await s.netstackStats()) };
}

/** A group of measures that can be switched on or off. */
export type Measure = "tcp" | "conn" | "rss" | "udp" | "impaired";

/** Options of {@linkcode runE2E}. */
export interface E2EOptions {
  /** Runs per measure; the table shows medians. */
  runs: number;
  /** Duration of each iperf3 TCP run and of each connection-rate run, seconds. */
  seconds: number;
  /** Scenarios to run, in order. */
  scenarios: ScenarioKind[];
  /** Measures to take. */
  measures: Measure[];
  /** UDP backend of our proxy ("deno" adds --unstable-net; "node" is the no-flag default). */
  udpBackend: "deno" | "node";
  /** Idle TCP flows held for the memory measure. */
  idleFlows: number;
  /** Wait after flows close before reading RSS, ms. */
  settleMs: number;
  /** Most iperf3 runs in one UDP rate search. */
  udpSteps: number;
  /** Duration of one UDP search step, seconds. */
  udpSeconds: number;
  /** The impaired path. */
  impair: Impairment;
  /** Where to write the Markdown results; null: don't. */
  out: string | null;
}

/** Full run: medians of 3, iperf3 for 10 s. */
export const DEFAULT_E2E_OPTIONS: E2EOptions = {
  runs: 3,
  seconds: 10,
  scenarios: ["plain", "wg-go", "ours"],
  measures: ["tcp", "conn", "rss", "udp", "impaired"],
  udpBackend: "deno",
  idleFlows: 1000,
  settleMs: 5000,
  udpSteps: 7,
  udpSeconds: 3,
  impair: { upDelayMs: 10, downDelayMs: 0, lossPercent: 0.5, seed: 7 },
  out: new URL("../RESULTS.md", import.meta.url).pathname,
};

/**
 * `--quick`: one run of 3 s each, shorter UDP search — a smoke run, so it leaves bench/RESULTS.md
 * (the full run's table, quoted by the README) alone unless `--out FILE` asks for a file.
 */
export const QUICK_E2E_OPTIONS: Partial<E2EOptions> = {
  runs: 1,
  seconds: 3,
  udpSteps: 5,
  udpSeconds: 2,
  settleMs: 3000,
  out: null,
};

/** What {@linkcode runE2E} measured. */
export interface E2EResult {
  /** Machine and settings. */
  machine: MachineInfo;
  /** The table rows. */
  rows: Row[];
  /** The table as aligned text. */
  text: string;
  /** The RESULTS.md text. */
  markdown: string;
}

/** Why the benchmark cannot run here, or null. */
export async function e2eUnavailable(): Promise<string | null> {
  const base = await interopUnavailable();
  if (base) return base.replace("interop tests", "the e2e benchmark");
  for (const tool of ["iperf3", "gcc", "timeout", "sysctl"]) {
    if (!(await which(tool))) return `the e2e benchmark needs '${tool}'`;
  }
  return null;
}

/** Row names, in table order; the unit is in the name. */
const ROWS: Array<{ key: string; name: string; up: boolean; digits: number; max?: boolean }> = [
  { key: "tcpUp1", name: "TCP up, 1 stream (Mbit/s)", up: true, digits: 0 },
  { key: "tcpDown1", name: "TCP down, 1 stream (Mbit/s)", up: true, digits: 0 },
  { key: "tcpUp4", name: "TCP up, 4 streams (Mbit/s)", up: true, digits: 0 },
  { key: "tcpDown4", name: "TCP down, 4 streams (Mbit/s)", up: true, digits: 0 },
  { key: "cpuUp", name: "server CPU per Gbit, TCP up (CPU·s)", up: false, digits: 2 },
  { key: "cpuDown", name: "server CPU per Gbit, TCP down (CPU·s)", up: false, digits: 2 },
  { key: "udpUp", name: "UDP up, delivered at < 1% loss (Mbit/s)", up: true, digits: 0 },
  { key: "udpDown", name: "UDP down, delivered at < 1% loss (Mbit/s)", up: true, digits: 0 },
  { key: "cps", name: "TCP connect+echo+close per second", up: true, digits: 0 },
  { key: "p50", name: "connect→echo latency p50 (µs)", up: false, digits: 0 },
  { key: "p99", name: "connect→echo latency p99 (µs)", up: false, digits: 0 },
  { key: "cpuConn", name: "server CPU per connection (µs)", up: false, digits: 0 },
  { key: "echoP50", name: "echo on an open connection p50 (µs)", up: false, digits: 0 },
  { key: "echoP99", name: "echo on an open connection p99 (µs)", up: false, digits: 0 },
  // the plain path through a bare Deno TCP relay: the floor of any Deno proxy's second connection
  { key: "relayCps", name: "bare Deno TCP relay: connections per second", up: true, digits: 0 },
  { key: "relayP50", name: "bare Deno TCP relay: connect→echo p50 (µs)", up: false, digits: 0 },
  { key: "relayP99", name: "bare Deno TCP relay: connect→echo p99 (µs)", up: false, digits: 0 },
  { key: "relayCpu", name: "bare Deno TCP relay: CPU per connection (µs)", up: false, digits: 0 },
  { key: "rssStart", name: "server RSS after start (MB)", up: false, digits: 1 },
  { key: "rssPeak", name: "server RSS, highest sample (MB)", up: false, digits: 1, max: true },
  { key: "perFlow", name: "RSS per idle TCP flow (KB)", up: false, digits: 1 },
  { key: "afterClose", name: "RSS after flows close vs post-warm-up (%)", up: false, digits: 1 },
  { key: "impUp", name: "impaired TCP up, 1 stream (Mbit/s)", up: true, digits: 1 },
  { key: "impDown", name: "impaired TCP down, 1 stream (Mbit/s)", up: true, digits: 1 },
];

type Samples = Map<string, Partial<Record<ScenarioKind, number[]>>>;

function record(samples: Samples, key: string, kind: ScenarioKind, value: number): void {
  const row = samples.get(key) ?? {};
  (row[kind] ??= []).push(value);
  samples.set(key, row);
}

const MB = 1024 * 1024;

/** What every measure of a run shares: options, helpers, where samples go, how logs go. */
interface Bench {
  o: E2EOptions;
  tools: Tools;
  samples: Samples;
  log: (s: string) => void;
}

/** Samples the system under test's RSS for the "highest sample" row. */
async function peek({ samples }: Bench, s: Scenario): Promise<void> {
  if (s.sutPids.length > 0) {
    record(samples, "rssPeak", s.kind, (await totalRssBytes(s.sutPids)) / MB);
  }
}

/** RSS with rounds of idle flows open and after they close (the process must be fresh). */
async function measureIdleFlows(s: Scenario, { o, tools, samples, log }: Bench): Promise<void> {
  const m = await idleFlowMemory(s, tools, {
    flows: o.idleFlows,
    settleMs: o.settleMs,
    rounds: o.runs,
  });
  log(`  ${s.kind} idle flows: ${m.opened} open; after warm-up ${(m.baseRss / MB).toFixed(1)} MB`);
  for (const r of m.rounds) {
    const perFlow = (r.openRss - m.baseRss) / Math.max(1, m.opened) / 1024;
    log(
      `  ${s.kind} idle flows open ${(r.openRss / MB).toFixed(1)} MB, closed ${
        (r.afterRss / MB).toFixed(1)
      } MB`,
    );
    record(samples, "perFlow", s.kind, perFlow);
    record(samples, "afterClose", s.kind, (r.afterRss / m.baseRss - 1) * 100);
    record(samples, "rssPeak", s.kind, r.openRss / MB);
  }
}

/** A connection-rate run's rate, latency and errors, for the log. */
function connLine(c: ConnRate): string {
  return `conn/s ${c.cps.toFixed(0)} p50 ${c.p50Us.toFixed(0)} µs p99 ${
    c.p99Us.toFixed(0)
  } µs errors ${c.errors}`;
}

/** Seconds of the open connection's echo run after each connection-rate run (at most --seconds). */
const ECHO_SECONDS = 5;

/**
 * One connection-rate run (ours: with the netstack's packets per connection in the log), then
 * an echo run on one open connection.
 */
async function measureConn(s: Scenario, b: Bench): Promise<void> {
  const { o, tools, samples, log } = b;
  const before = await s.netstackStats();
  const c = await connRate(s, tools, o.seconds);
  const after = await s.netstackStats();
  // each packet is a datagram, an encryption and a thread hop
  const perConn = (k: string) => ((after![k]! - before![k]!) / Math.max(1, c.count)).toFixed(2);
  const packets = before && after
    ? ` packets in/out per connection ${perConn("packets.in")}/${perConn("packets.out")}, ` +
      `${perConn("udp.direct_received")} of ${perConn("udp.received")} received and ` +
      `${perConn("udp.direct_sent")} of ${perConn("udp.sent")} sent by the main thread`
    : "";
  log(`  ${s.kind} ${connLine(c)} server CPU ${c.cpuUsPerConn.toFixed(0)} µs/conn${packets}`);
  record(samples, "cps", s.kind, c.cps);
  if (s.sutPids.length > 0) record(samples, "cpuConn", s.kind, c.cpuUsPerConn);
  record(samples, "p50", s.kind, c.p50Us);
  record(samples, "p99", s.kind, c.p99Us);
  // and the data path alone: one connection, one byte at a time
  const e = await echoLatency(s, tools, Math.min(o.seconds, ECHO_SECONDS));
  log(
    `  ${s.kind} echo on an open connection: ${e.count} round trips, p50 ${
      e.p50Us.toFixed(0)
    } µs p99 ${e.p99Us.toFixed(0)} µs errors ${e.errors}`,
  );
  record(samples, "echoP50", s.kind, e.p50Us);
  record(samples, "echoP99", s.kind, e.p99Us);
  if (s.denoRelay) {
    // what a Deno proxy's second TCP connection costs at the least (bench/e2e/_deno_relay.ts)
    const r = await connRate(s, tools, o.seconds, s.denoRelay);
    log(
      `  ${s.kind} via a bare Deno TCP relay: ${connLine(r)} relay CPU ${
        r.cpuUsPerConn.toFixed(0)
      } µs/conn`,
    );
    record(samples, "relayCps", s.kind, r.cps);
    record(samples, "relayP50", s.kind, r.p50Us);
    record(samples, "relayP99", s.kind, r.p99Us);
    record(samples, "relayCpu", s.kind, r.cpuUsPerConn);
  }
  await peek(b, s);
}

/** One UDP rate search each way. */
async function measureUdp(s: Scenario, b: Bench): Promise<void> {
  const { o, samples, log } = b;
  for (const down of [false, true]) {
    const u = await udpRateSearch(s, { seconds: o.udpSeconds, down, maxSteps: o.udpSteps });
    const steps = u.steps.map((x) =>
      `${x.offeredMbps.toFixed(0)}→${x.receivedMbps.toFixed(0)}:${x.lossPercent.toFixed(2)}%`
    ).join(" ");
    const best = `${u.bestMbps.toFixed(0)}→${u.bestReceivedMbps.toFixed(0)}`;
    log(`  ${s.kind} udp ${down ? "down" : "up"} best ${best} Mbit/s (offer→got:loss ${steps})`);
    record(samples, down ? "udpDown" : "udpUp", s.kind, u.bestReceivedMbps);
  }
  await peek(b, s);
}

/** Runs the benchmark; prints progress on stderr and returns the table. */
export async function runE2E(options: Partial<E2EOptions> = {}): Promise<E2EResult> {
  const o: E2EOptions = { ...DEFAULT_E2E_OPTIONS, ...options };
  const why = await e2eUnavailable();
  if (why) throw new Error(why);
  const has = (m: Measure) => o.measures.includes(m);
  const log = (s: string) => console.error(s);
  const samples: Samples = new Map();
  const info: Record<string, unknown> = {};
  const tools = await buildTools();
  // Every scenario of a phase is up at once (each in its own namespaces; the idle ones cost
  // nothing) and the runs alternate between them, so the host's drift over minutes — large on
  // this shared VM — hits A and ours alike instead of whichever block ran in a slow spell.
  const live: Scenario[] = [];
  const closeAll = async () => {
    for (const s of live.splice(0)) await s.close();
  };
  const onSignal = async () => {
    log("interrupted: removing namespaces");
    await closeAll();
    await removeTools(tools);
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  // Bounds every helper's life: generous for a full run, and they also exit when we do.
  const maxSeconds = 3600;
  const bench: Bench = { o, tools, samples, log };
  try {
    const plainPath = o.measures.some((m) => m !== "impaired");
    for (const kind of plainPath ? o.scenarios : []) {
      log(`scenario ${kind}: building`);
      const s = await buildScenario({ kind, tools, udpBackend: o.udpBackend, maxSeconds });
      live.push(s);
      if (kind === "ours") {
        info.oursBackend = s.info.backend;
        log(`  ours: UDP backend ${s.info.backend}`);
      }
      if (s.sutPids.length > 0) {
        const rss = (await totalRssBytes(s.sutPids)) / MB;
        record(samples, "rssStart", kind, rss);
        record(samples, "rssPeak", kind, rss);
      }
      // Memory first: on a fresh process, before bulk traffic has grown the heaps (wasm memory
      // never shrinks and V8 keeps freed pages, which hides 1,000 flows' worth of memory).
      if (has("rss") && s.sutPids.length > 0) await measureIdleFlows(s, bench);
    }
    for (let r = 0; r < o.runs; r++) {
      log(`run ${r + 1} of ${o.runs}`);
      if (has("tcp")) {
        for (const s of live) await measureTcp(s, bench);
      }
      if (has("conn")) { for (const s of live) await measureConn(s, bench); }
      if (has("udp")) { for (const s of live) await measureUdp(s, bench); }
    }
    await closeAll();
    if (has("impaired")) {
      for (const kind of o.scenarios.filter((k) => k !== "plain")) {
        log(`scenario ${kind} over the impaired path: building`);
        live.push(
          await buildScenario({
            kind,
            tools,
            udpBackend: o.udpBackend,
            maxSeconds,
            impair: o.impair,
          }),
        );
      }
      for (let r = 0; r < o.runs; r++) {
        for (const s of live) {
          for (const down of [false, true]) {
            const { t, counters } = await throughputWithCounters(s, {
              seconds: o.seconds,
              streams: 1,
              down,
            });
            log(
              `  ${s.kind} impaired ${down ? "down" : "up"} ${t.mbps.toFixed(1)} Mbit/s${counters}`,
            );
            record(samples, down ? "impDown" : "impUp", s.kind, t.mbps);
          }
        }
      }
      await closeAll();
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await closeAll();
    await removeTools(tools);
  }

  const rows: Row[] = ROWS.filter((r) => samples.has(r.key)).map((r) => {
    const runs = samples.get(r.key)!;
    const perRun = r.max ? undefined : perRunRatios(runs["wg-go"], runs.ours);
    return {
      name: r.name,
      higherIsBetter: r.up,
      digits: r.digits,
      values: Object.fromEntries(
        Object.entries(runs).map(([k, v]) => [k, r.max ? Math.max(...v) : median(v)]),
      ) as Row["values"],
      ...(perRun ? { perRun } : {}),
    };
  });
  const machine = await machineInfo(o, info);
  const text = formatText(rows);
  const markdown = resultsMarkdown(machine, rows);
  if (o.out !== null) {
    await Deno.writeTextFile(o.out, markdown);
    // The repository's `deno fmt --check` covers Markdown: leave the file as fmt would.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", o.out], stderr: "null" })
      .output();
  }
  return { machine, rows, text, markdown };
}

/** One run of each iperf3 TCP case (1 and 4 streams, up and down). */
async function measureTcp(s: Scenario, b: Bench): Promise<void> {
  const { o, samples, log } = b;
  const cases = [
    { key: "tcpUp1", cpu: "cpuUp", streams: 1, down: false },
    { key: "tcpDown1", cpu: "cpuDown", streams: 1, down: true },
    { key: "tcpUp4", cpu: undefined, streams: 4, down: false },
    { key: "tcpDown4", cpu: undefined, streams: 4, down: true },
  ];
  // NEWT_BENCH_TCP_CASES=tcpUp1,… runs only those (e.g. with NEWT_BENCH_CPU_PROF, one profile)
  const only = Deno.env.get("NEWT_BENCH_TCP_CASES")?.split(",");
  for (const c of cases.filter((c) => !only || only.includes(c.key))) {
    const { t, counters } = await throughputWithCounters(s, {
      seconds: o.seconds,
      streams: c.streams,
      down: c.down,
    });
    log(
      `  ${s.kind} ${c.key} ${t.mbps.toFixed(0)} Mbit/s, server ${
        t.cpuPerGbit.toFixed(2)
      } CPU·s/Gbit${counters}`,
    );
    record(samples, c.key, s.kind, t.mbps);
    if (c.cpu && s.sutPids.length > 0) record(samples, c.cpu, s.kind, t.cpuPerGbit);
    await peek(b, s);
    await sleep(300);
  }
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return new TextDecoder().decode(r.stdout).split("\n")[0]!.trim();
  } catch {
    return "unknown";
  }
}

async function machineInfo(o: E2EOptions, info: Record<string, unknown>): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const i = o.impair;
  return {
    date: new Date().toISOString(),
    nproc: navigator.hardwareConcurrency,
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    notes: [
      `${await version("iperf3", ["--version"])}; ${await version("wireguard-go", ["--version"])}`,
      `runs per measure: ${o.runs}; iperf3 TCP and connection-rate runs: ${o.seconds} s, echo on ` +
      `an open connection ${Math.min(o.seconds, ECHO_SECONDS)} s; ` +
      `UDP: highest iperf3 -b offer with < 1% loss (doubling from 250 Mbit/s, then bisecting; ` +
      `≤ ${o.udpSteps} steps of ${o.udpSeconds} s, 1350-byte datagrams, -w 4M), the rate that ` +
      "arrived at that offer is shown",
      `ours: UDP backend "${info.oursBackend ?? o.udpBackend}"` +
      (o.udpBackend === "deno" ? " (--unstable-net)" : " (no unstable flag)") +
      "; FlowLog off, flow limits off ([Proxy] section of its wg-quick config); " +
      `${v8FlagsArg()} as \`deno task start\` runs it`,
      "server CPU: utime+stime from /proc of the server's WireGuard process (wireguard-go for A, " +
      "deno for ours) per Gbit received; kernel softirq work (A's TCP, everyone's UDP) is not included",
      `idle flows: ${o.idleFlows} TCP flows opened and closed once as warm-up, then once per run; ` +
      `per-flow = (RSS open − RSS after warm-up) / flows; after-close read ${o.settleMs} ms after ` +
      "they end; ours collects garbage (gc() via --expose-gc) before each reading. A's flows live in the kernel, so its process RSS hardly moves: not comparable",
      `impaired path: seeded UDP relay on the WireGuard path, +${i.upDelayMs} ms client→server, ` +
      `+${i.downDelayMs} ms server→client, ${i.lossPercent}% loss each way (seed ${i.seed})`,
      "targets: C echo server (TCP/UDP 7) and iperf3 -s on a veth address in the server " +
      "namespace; tcp_tw_reuse=1 and ports 1024-65535 in both namespaces",
      "bare Deno TCP relay (column 0): the plain path through bench/e2e/_deno_relay.ts in the " +
      "server namespace (Deno.listen, Deno.connect to the echo target, copy both ways; kernel TCP " +
      "on both sides, no WireGuard, none of our code; CPU is the relay's) — the least a Deno " +
      "proxy's second TCP connection costs",
    ],
  };
}

/** Parses command-line flags into options (unknown flags throw). */
export function parseE2EArgs(args: string[]): Partial<E2EOptions> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      runs: { type: "string" },
      seconds: { type: "string" },
      scenarios: { type: "string" },
      measures: { type: "string" },
      "udp-backend": { type: "string" },
      "idle-flows": { type: "string" },
      out: { type: "string" },
      "no-out": { type: "boolean" },
    },
    strict: true,
  });
  const o: Partial<E2EOptions> = values.quick ? { ...QUICK_E2E_OPTIONS } : {};
  const positive = (name: string, v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name} needs a positive number, got '${v}'`);
    return n;
  };
  if (values.runs) o.runs = Math.round(positive("runs", values.runs));
  if (values.seconds) o.seconds = positive("seconds", values.seconds);
  if (values["idle-flows"]) o.idleFlows = Math.round(positive("idle-flows", values["idle-flows"]));
  if (values.scenarios) {
    o.scenarios = values.scenarios.split(",").map((s) => {
      const k =
        ({ "0": "plain", plain: "plain", A: "wg-go", "wg-go": "wg-go", ours: "ours" } as Record<
          string,
          ScenarioKind
        >)[s.trim()];
      if (!k) throw new Error(`unknown scenario '${s}' (plain, wg-go, ours)`);
      return k;
    });
  }
  if (values.measures) {
    const all: Measure[] = ["tcp", "conn", "rss", "udp", "impaired"];
    o.measures = values.measures.split(",").map((m) => {
      if (!all.includes(m.trim() as Measure)) {
        throw new Error(`unknown measure '${m}' (${all.join(", ")})`);
      }
      return m.trim() as Measure;
    });
  }
  if (values["udp-backend"]) {
    if (values["udp-backend"] !== "deno" && values["udp-backend"] !== "node") {
      throw new Error("--udp-backend is deno or node");
    }
    o.udpBackend = values["udp-backend"];
  }
  if (values.out) o.out = values.out;
  if (values["no-out"]) o.out = null;
  return o;
}

if (import.meta.main) {
  try {
    const result = await runE2E(parseE2EArgs(Deno.args));
    console.log(result.text);
  } catch (e) {
    console.error(`bench/e2e: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
