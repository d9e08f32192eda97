/**
 * Soak: many short and long flows with churn through a wireguard-go peer in a test namespace,
 * for `seconds` (default 600), reporting the proxy's RSS, open file descriptors and netstack
 * counters at the start, during and at the end — which must return to the baseline once the
 * flows end. Targets listen inside the server namespace only.
 *
 *   deno run -A --unstable-net bench/soak.ts [seconds]        (root; Linux; wireguard-go, wg, ip)
 *   NEWT_SOAK_UDP_BACKEND=ffi …                                 (the opt-in ffi socket)
 *
 * Prints one JSON summary as its last line; exits 0 when everything returned to baseline, 1 if
 * not, and 0 with `{"skipped": …}` where namespaces are unavailable.
 */
import { interopUnavailable, Netns } from "../tests/interop/_netns.ts";
import { JsonLinesProcess } from "../tests/interop/_sut.ts";
import { encodeKey, generatePrivateKey, publicKey } from "../src/wireguard/keys.ts";
import { v8FlagsArg } from "./v8_flags.ts";

const seconds = Number(Deno.args[0] ?? "600");
/** NEWT_SOAK_UDP_BACKEND=ffi: the proxy on the opt-in ffi socket (--udp-ffi) instead. */
const FFI = Deno.env.get("NEWT_SOAK_UDP_BACKEND") === "ffi";
const here = (f: string) => new URL(f, import.meta.url).pathname;
const T = "10.212.0.1";

interface Sample {
  t: number;
  rssMiB: number;
  fds: number;
  fdKinds: FdKinds;
  liveFlows: number;
  netstack: Record<string, number>;
  /** UDP sessions the proxy opened so far, and its drop counters. */
  udpSessions: number;
  drops: unknown;
  /** WireGuard messages from the client received, and lost on the way in (counter gaps). */
  inbound: { received: number; lost: number };
}

/** Open descriptors by kind ("socket", "anon_inode:[eventfd]", a path…): what a leak is. */
type FdKinds = Record<string, number>;

/**
 * RSS and open descriptors. Deno duplicates its stdio pipes on demand and closes the copies
 * again, so a copy of fd 0–2 is counted apart ("stdio copy") and not in `fds`: it is no flow's
 * resource, and it made the baseline differ from the end by one either way.
 */
function procSample(pid: number): { rssMiB: number; fds: number; fdKinds: FdKinds } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  const link = (fd: string) => {
    try {
      return Deno.readLinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return "?"; // closed while listing
    }
  };
  const stdio = new Set(["0", "1", "2"].map(link));
  const fdKinds: FdKinds = {};
  let fds = 0;
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    const target = link(e.name);
    const copy = Number(e.name) > 2 && stdio.has(target);
    const kind = copy ? "stdio copy" : target.replace(/:\[\d+\]$/, "");
    fdKinds[kind] = (fdKinds[kind] ?? 0) + 1;
    if (!copy) fds++;
  }
  return { rssMiB: Math.round(rssKb / 102.4) / 10, fds, fdKinds };
}

async function main(): Promise<number> {
  const skip = await interopUnavailable();
  if (skip) {
    console.log(JSON.stringify({ skipped: skip }));
    return 0;
  }
  const client = await Netns.create("nsc"), server = await Netns.create("nss");
  const procs: JsonLinesProcess[] = [];
  const started = performance.now();
  try {
    await client.linkTo(server, "10.211.0.1/30", "10.211.0.2/30");
    await server.addDummy("tgt0", [`${T}/24`]);
    const serverKey = generatePrivateKey(), clientKey = generatePrivateKey();
    await client.addWireguardGo("wgs0", {
      privateKey: encodeKey(clientKey),
      address: ["10.98.0.2/24"],
    });
    await client.wg([
      "set",
      "wgs0",
      "peer",
      encodeKey(publicKey(serverKey)),
      "endpoint",
      "10.211.0.2:51820",
      "allowed-ips",
      "10.98.0.0/24,10.212.0.0/24",
    ]);
    await client.exec("ip", ["route", "add", "10.212.0.0/24", "dev", "wgs0"]);
    const targets = new JsonLinesProcess(
      server.spawn(Deno.execPath(), ["run", "-A", here("../tests/interop/_targets.ts"), T]),
    );
    procs.push(targets);
    await targets.next("ready", 20_000);
    const allow = ["0.0.0.0", "[::]", "10.211.0.1", `${T}:7`, `${T}:8080`].join(",");
    const sut = new JsonLinesProcess(server.spawn(Deno.execPath(), [
      "run",
      "--no-prompt",
      // as deno task start runs it (bench/v8_flags.ts)
      v8FlagsArg(),
      `--allow-net=${allow}`,
      "--allow-env",
      ...(FFI ? ["--allow-ffi"] : []),
      here("../tests/hardening/_soak_sut.ts"),
      JSON.stringify({
        privateKey: encodeKey(serverKey),
        listenPort: 51820,
        addresses: ["10.98.0.1/24"],
        peers: [{ publicKey: encodeKey(publicKey(clientKey)), allowedIPs: ["10.98.0.2/32"] }],
        udpIdleTimeoutMs: 2_000,
        ...(FFI ? { udpBackend: "ffi" } : {}),
      }),
    ]));
    procs.push(sut);
    await sut.next("listening", 20_000);
    const pid = sut.child.pid;
    const sample = async (): Promise<Sample> => {
      const s = await sut.ask({ cmd: "stats" }, "stats");
      return {
        t: Math.round((performance.now() - started) / 100) / 10,
        ...procSample(pid),
        liveFlows: s.liveFlows as number,
        netstack: s.netstack as Record<string, number>,
        udpSessions: (s.udp as { total: number }).total,
        drops: s.drops,
        inbound: s.inbound as Sample["inbound"],
      };
    };
    const show = (label: string, s: Sample) =>
      console.error(
        `soak ${label.padEnd(6)} t=${s.t}s rss=${s.rssMiB} MiB fds=${s.fds} live=${s.liveFlows} ` +
          `netstack=${JSON.stringify(s.netstack)}`,
      );
    // Warm up (handshake, JIT, first sockets), then take the baseline.
    await client.exec(Deno.execPath(), [
      "run",
      "-A",
      here("../tests/hardening/_soak_client.ts"),
      T,
      "2",
      "2",
      "1",
    ]);
    await new Promise((r) => setTimeout(r, 3_000));
    const baseline = await sample();
    show("start", baseline);
    const kernelBefore = await udpSnmp(server);
    console.error(`soak start  fds by kind ${JSON.stringify(baseline.fdKinds)}`);

    const load = client.spawn(Deno.execPath(), [
      "run",
      "-A",
      here("../tests/hardening/_soak_client.ts"),
      T,
      String(seconds),
      "16",
      "4",
    ]);
    const loadOut = new Response(load.stdout).text();
    const loadErr = new Response(load.stderr).text();
    let peak = baseline;
    const every = Math.max(2, Math.min(30, Math.floor(seconds / 10)));
    const during: Sample[] = [];
    for (let t = every; t < seconds; t += every) {
      await new Promise((r) => setTimeout(r, every * 1000));
      const s = await sample();
      during.push(s);
      if (s.rssMiB > peak.rssMiB) peak = s;
      show("during", s);
    }
    const status = await load.status;
    const result = JSON.parse((await loadOut).trim().split("\n").at(-1) || "{}");
    if (!status.success) console.error(await loadErr);
    // Flows end: UDP sessions after their 2 s idle timeout; give TIME_WAIT and GC time too.
    let end = await sample();
    for (let i = 0; i < 40; i++) {
      end = await sample();
      const n = end.netstack;
      if (
        end.liveFlows === 0 && n["connections"] === 0 && end.fds <= baseline.fds &&
        n["tcpPcbs"]! <= baseline.netstack["tcpPcbs"]! &&
        n["heapUsed"]! <= baseline.netstack["heapUsed"]!
      ) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    show("end", end);
    console.error(
      `soak end    proxy udp sessions during load=${end.udpSessions - baseline.udpSessions} drops=${
        JSON.stringify(end.drops)
      } kernel udp (server namespace) ${
        JSON.stringify(diffCounts(await udpSnmp(server), kernelBefore))
      }`,
    );
    const lost = end.inbound.lost - baseline.inbound.lost;
    const sent = lost + end.inbound.received - baseline.inbound.received;
    console.error(
      `soak end    client messages that never reached the proxy (counter gaps) ${lost} of ${sent} ` +
        `(${(100 * lost / Math.max(1, sent)).toFixed(1)}%)`,
    );
    console.error(`soak end    fds by kind ${JSON.stringify(end.fdKinds)}`);
    const checks = {
      flowsEnded: end.liveFlows === 0 && end.netstack["connections"] === 0,
      fdsBack: end.fds <= baseline.fds,
      pcbsBack: end.netstack["tcpPcbs"]! <= baseline.netstack["tcpPcbs"]!,
      stackHeapBack: end.netstack["heapUsed"]! <= baseline.netstack["heapUsed"]!,
      // RSS: V8 keeps some heap it grew into; bound the growth instead of demanding equality.
      // V8 keeps the pages its heap grew into, so RSS never falls back to a cold start; what
      // must not happen is growth after the load saturated: compare the end with the highest
      // sample of the run's first half.
      rssBounded: end.rssMiB <= firstHalfPeak(during, baseline, seconds) * 1.1 + 32,
      loadRan: (result.short ?? 0) > 0 && (result.long ?? 0) > 0 && (result.udp ?? 0) > 0,
      noTcpErrors: (result.errors ?? 1) === 0,
      // UDP has no retransmission: under CPU load the WireGuard sockets on both ends drop some
      // datagrams (the kernel counters printed above), so echoes are lost; most must come back.
      udpMostlyAnswered: (result.udp ?? 0) > (result.udpLost ?? 0),
    };
    const ok = Object.values(checks).every(Boolean);
    console.log(JSON.stringify({ ok, seconds, checks, load: result, baseline, peak, end }));
    return ok ? 0 : 1;
  } finally {
    for (const p of procs) await p.stop();
    await client.cleanup();
    await server.cleanup();
  }
}

Deno.exit(await main());

/** A namespace's kernel UDP counters (RcvbufErrors: datagrams dropped at a full socket). */
async function udpSnmp(ns: Netns): Promise<Record<string, number>> {
  const lines = (await ns.exec("cat", ["/proc/net/snmp"])).split("\n").filter((l) =>
    l.startsWith("Udp:")
  );
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  return Object.fromEntries((names ?? []).map((n, i) => [n, Number(values?.[i] ?? 0)]));
}

/** Counters that changed between two readings, as differences. */
function diffCounts(
  now: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(now).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0),
  );
}

/** Highest RSS sampled in the first half of the load (the baseline if none). */
function firstHalfPeak(
  during: Array<{ t: number; rssMiB: number }>,
  baseline: { t: number; rssMiB: number },
  seconds: number,
): number {
  const half = baseline.t + seconds / 2;
  return Math.max(baseline.rssMiB, ...during.filter((s) => s.t <= half).map((s) => s.rssMiB));
}
