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
    sum?: { lost_percent?: number; bits_per_second: number };
  };
}

/** iperf3 TCP for `seconds`: up (client → target) or down (`-R`), over `streams` streams. */
export async function tcpThroughput(
  s: Scenario,
  o: { seconds: number; streams: number; down: boolean },
): Promise<TcpThroughput> {
  const cpu0 = await totalCpuSeconds(s.sutPids);
  try {
    const out = await clientRun(s, o.seconds + KILL_SLACK_S, "iperf3", [
      "-c",
      s.target,
      "-p",
      "5201",
      "-t",
      String(o.seconds),
      "-P",
      String(o.streams),
      "--connect-timeout",
      "3000",
      "-J",
      ...(o.down ? ["-R"] : []),
    ]);
    const j = JSON.parse(out) as IperfEnd;
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
  /** Offered rate, Mbit/s. */
  offeredMbps: number;
  /** Loss reported by the receiver, percent (NaN when the run failed). */
  lossPercent: number;
  /** Received rate, Mbit/s. */
  receivedMbps: number;
}

/** Datagram payload: fits a 1420-byte tunnel MTU with IPv4 + UDP headers. */
const UDP_PAYLOAD = 1350;

/** iperf3 UDP at one offered rate. */
export async function udpAtRate(
  s: Scenario,
  o: { mbps: number; seconds: number; down: boolean },
): Promise<UdpStep> {
  try {
    const out = await clientRun(s, o.seconds + KILL_SLACK_S, "iperf3", [
      "-c",
      s.target,
      "-p",
      "5201",
      "-u",
      "-b",
      `${Math.round(o.mbps)}M`,
      "-l",
      String(UDP_PAYLOAD),
      "-t",
      String(o.seconds),
      "--connect-timeout",
      "3000",
      "-J",
      ...(o.down ? ["-R"] : []),
    ]);
    const j = JSON.parse(out) as IperfEnd;
    return {
      offeredMbps: o.mbps,
      lossPercent: j.end.sum?.lost_percent ?? NaN,
      receivedMbps: j.end.sum_received.bits_per_second / 1e6,
    };
  } catch (e) {
    console.error(`  iperf3 udp failed: ${(e as Error).message.slice(0, 300)}`);
    return { offeredMbps: o.mbps, lossPercent: NaN, receivedMbps: NaN };
  }
}

/** Result of the UDP rate search. */
export interface UdpSearch {
  /** Highest offered rate delivered with less than `maxLossPercent` loss, Mbit/s (0: none). */
  bestMbps: number;
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
  let good = 0, bad = Infinity, rate = o.startMbps ?? 250;
  const steps: UdpStep[] = [];
  for (let i = 0; i < o.maxSteps; i++) {
    const step = await udpAtRate(s, { mbps: rate, seconds: o.seconds, down: o.down });
    steps.push(step);
    if (step.lossPercent < maxLoss) good = Math.max(good, rate);
    else bad = Math.min(bad, rate);
    if (good >= cap) break;
    if (bad !== Infinity && bad - good <= 0.05 * bad) break;
    rate = bad === Infinity ? Math.min(rate * 2, cap) : (good + bad) / 2;
  }
  return { bestMbps: good, steps };
}

/** Sequential connect / 1 byte / echo / close. */
export interface ConnRate {
  /** Connections per second. */
  cps: number;
  /** Median latency from connect() to the echo, µs. */
  p50Us: number;
  /** 99th percentile of the same, µs. */
  p99Us: number;
  /** Failed attempts. */
  errors: number;
}

/** Runs the C connection-rate probe in the client namespace for `seconds`. */
export async function connRate(s: Scenario, tools: Tools, seconds: number): Promise<ConnRate> {
  try {
    const out = await clientRun(s, seconds + KILL_SLACK_S, tools.connProbe, [
      "rate",
      s.target,
      "7",
      String(seconds),
      "10000000",
    ]);
    const j = JSON.parse(out) as { cps: number; p50_us: number; p99_us: number; errors: number };
    return { cps: j.cps, p50Us: j.p50_us, p99Us: j.p99_us, errors: j.errors };
  } catch (e) {
    console.error(`  conn probe failed: ${(e as Error).message.slice(0, 300)}`);
    return { cps: NaN, p50Us: NaN, p99Us: NaN, errors: NaN };
  }
}

/** Memory of the system under test around a round of idle TCP flows. */
export interface IdleFlowMemory {
  /** Flows actually opened. */
  opened: number;
  /** RSS after a warm-up round of the same flows opened and closed, bytes. */
  baseRss: number;
  /** RSS with the flows open, bytes. */
  openRss: number;
  /** RSS after they closed and `settleMs` passed, bytes. */
  afterRss: number;
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
    const openRss = await totalRssBytes(s.sutPids);
    await p.writeLine("close");
    await p.nextJson(30_000, "closed");
    await sleep(settleMs);
    return { opened, openRss, afterRss: await totalRssBytes(s.sutPids) };
  } finally {
    await p.stop(500);
  }
}

/**
 * Opens `n` idle TCP flows (each checked by a 1-byte echo), closes them, and repeats: the first
 * round is the warm-up (wasm memory never shrinks, so the baseline is after it).
 */
export async function idleFlowMemory(
  s: Scenario,
  tools: Tools,
  o: { flows: number; settleMs: number },
): Promise<IdleFlowMemory> {
  try {
    const warm = await holdFlows(s, tools, o.flows, o.settleMs);
    const round = await holdFlows(s, tools, o.flows, o.settleMs);
    return {
      opened: Math.min(warm.opened, round.opened),
      baseRss: warm.afterRss,
      openRss: round.openRss,
      afterRss: round.afterRss,
    };
  } catch (e) {
    console.error(`  idle flows failed: ${(e as Error).message.slice(0, 300)}`);
    return { opened: 0, baseRss: NaN, openRss: NaN, afterRss: NaN };
  }
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
