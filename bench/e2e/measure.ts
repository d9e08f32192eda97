/**
 * The measures, each one run against a built {@linkcode Scenario}: iperf3 TCP throughput with the
 * system under test's CPU per Gbit, a bounded UDP rate search, the connection-rate probe, and
 * memory with idle flows open and after they close. Every external command is bounded by
 * `timeout -s KILL`; a failed run yields NaN (reported as "—") instead of ending the benchmark.
 *
 * @module
 */
import { NsProcess } from "./ns_process.ts";
import { totalCpuSeconds, totalRssBytes } from "./proc_stats.ts";
import type { Scenario } from "./topology.ts";
import type { Tools } from "./tools.ts";

/** Slack beyond a command's own duration before `timeout` kills it, seconds. */
const KILL_SLACK_S = 20;

/** Runs a command in the client namespace, killed after `limitS` seconds. */
function clientRun(s: Scenario, limitS: number, cmd: string, args: string[]): Promise<string> {
  return s.client.exec("timeout", ["-s", "KILL", String(Math.ceil(limitS)), cmd, ...args]);
}

/** One TCP throughput figure. */
export interface TcpThroughput {
  /** Received rate, Mbit/s. */
  mbps: number;
  /** SUT CPU seconds per Gbit moved (NaN without a SUT process). */
  cpuPerGbit: number;
}

interface IperfEnd {
  end: {
    sum_received: { bits_per_second: number; bytes: number };
    sum_sent?: { bits_per_second: number };
    sum?: { lost_percent?: number; bits_per_second: number };
  };
}

/** How often a run that found the iperf3 server still busy with the last one is tried again. */
const IPERF_BUSY_TRIES = 20;
const IPERF_BUSY_WAIT_MS = 500;

/**
 * Runs iperf3 for `seconds` and returns its report. The server takes one test at a time and
 * ends the last one only when the client's final message reaches it, which over the impaired
 * path can come after the next run starts: such a run is tried again (logged with the wait).
 */
async function iperfRun(s: Scenario, seconds: number, args: string): Promise<IperfEnd> {
  for (let i = 1;; i++) {
    const out = await clientRun(s, seconds + KILL_SLACK_S, "iperf3", args.split(" "));
    const j = JSON.parse(out) as Partial<IperfEnd> & { error?: string };
    if (j.end?.sum_received !== undefined) {
      if (i > 1) console.error(`  iperf3: the server was busy for ${i - 1} tries`);
      return j as IperfEnd;
    }
    if (!/busy/.test(j.error ?? "") || i === IPERF_BUSY_TRIES) {
      throw new Error(`iperf3 reported no totals: ${j.error ?? "no error given"}`);
    }
    await sleep(IPERF_BUSY_WAIT_MS);
  }
}

/** iperf3 TCP for `seconds`: up (client → target) or down (`-R`), over `streams` streams. */
export async function tcpThroughput(
  s: Scenario,
  o: { seconds: number; streams: number; down: boolean },
): Promise<TcpThroughput> {
  const cpu0 = await totalCpuSeconds(s.sutPids);
  try {
    const args = `-c ${s.target} -p 5201 -t ${o.seconds} -P ${o.streams} ` +
      `--connect-timeout 3000 -J${o.down ? " -R" : ""}`;
    const j = await iperfRun(s, o.seconds, args);
    const cpu = (await totalCpuSeconds(s.sutPids)) - cpu0;
    const gbit = (j.end.sum_received.bytes * 8) / 1e9;
    return {
      mbps: j.end.sum_received.bits_per_second / 1e6,
      cpuPerGbit: s.sutPids.length > 0 && gbit > 0 ? cpu / gbit : NaN,
    };
  } catch (e) {
    console.error(`  iperf3 tcp failed: ${(e as Error).message.slice(0, 300)}`);
    return { mbps: NaN, cpuPerGbit: NaN };
  }
}

/** One UDP step: offered rate and what arrived. */
export interface UdpStep {
  /** Offered rate (iperf3 -b), Mbit/s. */
  offeredMbps: number;
  /** What the sender managed to send, Mbit/s (below the offer when the sender is the limit). */
  sentMbps: number;
  /** Loss reported by the receiver, percent (NaN when the run failed). */
  lossPercent: number;
  /** Received rate, Mbit/s. */
  receivedMbps: number;
}

/** Datagram payload: fits a 1420-byte tunnel MTU with IPv4 + UDP headers. */
const UDP_PAYLOAD = 1350;
/**
 * iperf3's socket buffers (-w, both ends): with the 208 KB default the receiving iperf3 itself
 * dropped 11% at 400 Mbit/s on a plain veth here; with 4 MB (rmem_max) it dropped none.
 */
const UDP_SOCKET_BUFFER = "4M";

/** iperf3 UDP at one offered rate. */
export async function udpAtRate(
  s: Scenario,
  o: { mbps: number; seconds: number; down: boolean },
): Promise<UdpStep> {
  try {
    const args = `-c ${s.target} -p 5201 -u -b ${Math.round(o.mbps)}M -l ${UDP_PAYLOAD} ` +
      `-t ${o.seconds} -w ${UDP_SOCKET_BUFFER} --connect-timeout 3000 -J${o.down ? " -R" : ""}`;
    const j = await iperfRun(s, o.seconds, args);
    const sent = j.end.sum_sent?.bits_per_second;
    return {
      offeredMbps: o.mbps,
      sentMbps: sent === undefined ? NaN : sent / 1e6,
      lossPercent: j.end.sum?.lost_percent ?? NaN,
      receivedMbps: j.end.sum_received.bits_per_second / 1e6,
    };
  } catch (e) {
    console.error(`  iperf3 udp failed: ${(e as Error).message.slice(0, 300)}`);
    return { offeredMbps: o.mbps, sentMbps: NaN, lossPercent: NaN, receivedMbps: NaN };
  }
}

/** Result of the UDP rate search. */
export interface UdpSearch {
  /** Highest offered rate delivered with less than `maxLossPercent` loss, Mbit/s (0: none). */
  bestMbps: number;
  /** What arrived at that rate, Mbit/s (0: none). */
  bestReceivedMbps: number;
  /** The steps taken, in order. */
  steps: UdpStep[];
}

/**
 * Finds the highest offered UDP rate delivered with < `maxLossPercent` loss: doubling from
 * `startMbps` until a rate fails, then bisecting; at most `maxSteps` iperf3 runs, and it stops
 * once the bracket is within 5%.
 */
export async function udpRateSearch(
  s: Scenario,
  o: {
    seconds: number;
    down: boolean;
    maxSteps: number;
    startMbps?: number;
    capMbps?: number;
    maxLossPercent?: number;
  },
): Promise<UdpSearch> {
  const cap = o.capMbps ?? 8000, maxLoss = o.maxLossPercent ?? 1;
  let good = 0, goodReceived = 0, bad = Infinity, rate = o.startMbps ?? 250;
  const steps: UdpStep[] = [];
  for (let i = 0; i < o.maxSteps; i++) {
    const step = await udpAtRate(s, { mbps: rate, seconds: o.seconds, down: o.down });
    steps.push(step);
    if (step.lossPercent < maxLoss) {
      if (rate > good) (good = rate, goodReceived = step.receivedMbps);
    } else bad = Math.min(bad, rate);
    if (good >= cap) break;
    if (bad !== Infinity && bad - good <= 0.05 * bad) break;
    rate = bad === Infinity ? Math.min(rate * 2, cap) : (good + bad) / 2;
  }
  return { bestMbps: good, bestReceivedMbps: goodReceived, steps };
}

/** Sequential connect / 1 byte / echo / close. */
export interface ConnRate {
  /** Connections completed. */
  count: number;
  /** Connections per second. */
  cps: number;
  /** Median latency from connect() to the echo, µs. */
  p50Us: number;
  /** 99th percentile of the same, µs. */
  p99Us: number;
  /** Failed attempts. */
  errors: number;
  /** The system under test's CPU time per completed connection, µs (NaN without its pids). */
  cpuUsPerConn: number;
}

/**
 * The probe's p50/p99 in µs; NaN when it measured nothing (it prints 0 then, which would read as
 * the best).
 */
function probeLatency(j: { count: number; p50_us: number; p99_us: number }) {
  const none = j.count === 0;
  return { p50Us: none ? NaN : j.p50_us, p99Us: none ? NaN : j.p99_us };
}

/** Runs the C connection-rate probe in the client namespace for `seconds`. */
export async function connRate(
  s: Scenario,
  tools: Tools,
  seconds: number,
  via?: Scenario["denoRelay"],
): Promise<ConnRate> {
  // `via`: through the plain scenario's bare Deno relay, its CPU counted as the server's
  const pids = via ? [via.pid] : s.sutPids;
  try {
    const cpu0 = pids.length > 0 ? await totalCpuSeconds(pids) : NaN;
    // NEWT_BENCH_LATENCY_DIR: each connection's start and latency, to line up with `perf record`
    const dir = Deno.env.get("NEWT_BENCH_LATENCY_DIR");
    const out = await clientRun(s, seconds + KILL_SLACK_S, tools.connProbe, [
      "rate",
      s.target,
      String(via?.port ?? 7),
      String(seconds),
      "10000000",
      ...(dir ? [`${dir}/${s.kind}-${Date.now()}.txt`] : []),
    ]);
    const cpu = pids.length > 0 ? await totalCpuSeconds(pids) - cpu0 : NaN;
    const j = JSON.parse(out) as {
      count: number;
      cps: number;
      p50_us: number;
      p99_us: number;
      errors: number;
    };
    const cpuUsPerConn = j.count > 0 ? cpu / j.count * 1e6 : NaN;
    const { count, cps, errors } = j;
    return { count, cps, ...probeLatency(j), errors, cpuUsPerConn };
  } catch (e) {
    console.error(`  conn probe failed: ${(e as Error).message.slice(0, 300)}`);
    return { count: 0, cps: NaN, p50Us: NaN, p99Us: NaN, errors: NaN, cpuUsPerConn: NaN };
  }
}

/** Round trips of one byte over one open connection. */
export interface EchoLatency {
  /** Round trips completed. */
  count: number;
  /** Median round trip, µs. */
  p50Us: number;
  /** 99th percentile of the same, µs. */
  p99Us: number;
  /** Failed attempts (the connection, or a round trip that ended it). */
  errors: number;
}

/**
 * Runs the C probe's echo mode in the client namespace for `seconds`: the data path's latency,
 * without a connection's set-up (the proxy's dial) and teardown.
 */
export async function echoLatency(
  s: Scenario,
  tools: Tools,
  seconds: number,
): Promise<EchoLatency> {
  try {
    const out = await clientRun(s, seconds + KILL_SLACK_S, tools.connProbe, [
      "echo",
      s.target,
      "7",
      String(seconds),
      "10000000",
    ]);
    const j = JSON.parse(out) as { count: number; p50_us: number; p99_us: number; errors: number };
    return { count: j.count, ...probeLatency(j), errors: j.errors };
  } catch (e) {
    console.error(`  echo probe failed: ${(e as Error).message.slice(0, 300)}`);
    return { count: 0, p50Us: NaN, p99Us: NaN, errors: NaN };
  }
}

/** Memory of the system under test around rounds of idle TCP flows. */
export interface IdleFlowMemory {
  /** Fewest flows opened in any round. */
  opened: number;
  /** RSS after a warm-up round of the same flows opened and closed, bytes. */
  baseRss: number;
  /** Each measured round: RSS with the flows open, and after they closed and settled (bytes). */
  rounds: Array<{ openRss: number; afterRss: number }>;
}

async function holdFlows(
  s: Scenario,
  tools: Tools,
  n: number,
  settleMs: number,
): Promise<{ opened: number; openRss: number; afterRss: number }> {
  const p = NsProcess.start(s.client, tools.connProbe, ["hold", s.target, "7", String(n)]);
  try {
    const opened = Number((await p.nextJson(150_000, "open")).open);
    await sleep(1000); // let delayed ACKs and timers run
    await s.collectGarbage();
    const openRss = await totalRssBytes(s.sutPids);
    await p.writeLine("close");
    await p.nextJson(30_000, "closed");
    await sleep(settleMs);
    await s.collectGarbage();
    return { opened, openRss, afterRss: await totalRssBytes(s.sutPids) };
  } finally {
    await p.stop(500);
  }
}

/**
 * Opens `flows` idle TCP flows (each checked by a 1-byte echo) and closes them: once as a
 * warm-up (wasm memory never shrinks, so the baseline is after it), then `rounds` times.
 */
export async function idleFlowMemory(
  s: Scenario,
  tools: Tools,
  o: { flows: number; settleMs: number; rounds: number },
): Promise<IdleFlowMemory> {
  try {
    const warm = await holdFlows(s, tools, o.flows, o.settleMs);
    let opened = warm.opened;
    const rounds: IdleFlowMemory["rounds"] = [];
    for (let i = 0; i < o.rounds; i++) {
      const r = await holdFlows(s, tools, o.flows, o.settleMs);
      opened = Math.min(opened, r.opened);
      rounds.push({ openRss: r.openRss, afterRss: r.afterRss });
    }
    return { opened, baseRss: warm.afterRss, rounds };
  } catch (e) {
    console.error(`  idle flows failed: ${(e as Error).message.slice(0, 300)}`);
    return { opened: 0, baseRss: NaN, rounds: [] };
  }
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
