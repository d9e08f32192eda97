/**
 * One benchmark scenario's network, built from scratch in fresh namespaces and torn down after:
 *
 * ```
 * client ns: kernel TCP/UDP (iperf3, conn_probe)     server ns: system under test on UDP 51820
 *   wgc (wireguard-go, 10.88.0.2) ──veth 10.201.0.0/30── (relay ns, impaired only) ──
 *                                                      targets on 10.202.0.1 (veth "dummy"):
 *                                                      iperf3 -s, echo_server (TCP/UDP 7)
 * ```
 * - "plain" (0): no WireGuard; the client routes 10.202.0.0/24 over the veth.
 * - "wg-go" (A): wireguard-go on both ends; the server kernel delivers to the target.
 * - "ours": @newt/proxy (bench/e2e/_proxy_sut.ts) terminates the flows and dials the target.
 * With `impair`, a third namespace sits on the WireGuard path running the seeded UDP relay.
 *
 * @module
 */
import { Netns } from "../../tests/interop/_netns.ts";
import { encodeKey, generatePrivateKey, publicKey } from "../../src/wireguard/keys.ts";
import { NsProcess } from "./ns_process.ts";
import { findProcessInNetns } from "./proc_stats.ts";
import type { Tools } from "./tools.ts";
import { v8FlagsArg } from "../v8_flags.ts";

/** Which system carries the traffic. */
export type ScenarioKind = "plain" | "wg-go" | "ours";

/** The impaired path's settings (per direction; "up" is client → server). */
export interface Impairment {
  /** Added delay client → server, ms. */
  upDelayMs: number;
  /** Added delay server → client, ms. */
  downDelayMs: number;
  /** Drop probability in each direction, percent. */
  lossPercent: number;
  /** PRNG seed: the same datagram positions drop in every run. */
  seed: number;
}

/** Options of {@linkcode buildScenario}. */
export interface ScenarioOptions {
  /** The system under test. */
  kind: ScenarioKind;
  /** Compiled helpers. */
  tools: Tools;
  /** Put the impairing relay on the WireGuard path. */
  impair?: Impairment | undefined;
  /** UDP backend of the proxy: "deno" runs it with --unstable-net, "node" without. */
  udpBackend: "deno" | "node";
  /** Upper bound on the scenario's lifetime, seconds (helpers exit after it). */
  maxSeconds: number;
}

/** A running scenario. */
export interface Scenario {
  /** The system under test. */
  readonly kind: ScenarioKind;
  /** Namespace of the client tools. */
  readonly client: Netns;
  /** Namespace of the system under test and the targets. */
  readonly server: Netns;
  /** The target address (iperf3 on 5201, echo on TCP/UDP 7). */
  readonly target: string;
  /** Pids of the system under test's processes (none for "plain"). */
  readonly sutPids: readonly number[];
  /**
   * "plain" only: a bare Deno TCP relay to the echo target (bench/e2e/_deno_relay.ts) — the floor
   * of any Deno proxy's second TCP connection, measured without WireGuard or our code.
   */
  readonly denoRelay?: { port: number; pid: number };
  /** What the system under test reported at start (the proxy's UDP backend). */
  readonly info: Record<string, unknown>;
  /** Asks the system under test to collect garbage (ours only; a no-op elsewhere). */
  collectGarbage(): Promise<void>;
  /** The netstack's counters (ours only; undefined elsewhere), to explain a measure. */
  netstackStats(): Promise<Record<string, number> | undefined>;
  /** Stops every process and removes the namespaces. */
  close(): Promise<void>;
}

/** Target address on the server's dummy interface. */
export const TARGET = "10.202.0.1";
/** The plain scenario's bare Deno relay listens here, on the target's address. */
const DENO_RELAY_PORT = 8007;
const WG_PORT = 51820;
const CLIENT_VETH = "10.201.0.1", SERVER_VETH = "10.201.0.2";
const RELAY_SERVER_SIDE = "10.203.0.1", SERVER_BEHIND_RELAY = "10.203.0.2";

/** Per-namespace sysctls for sustained connection rates (TIME_WAIT piles up on the closer). */
async function tuneTcp(ns: Netns): Promise<void> {
  await ns.exec("sysctl", ["-qw", "net.ipv4.ip_local_port_range=1024 65535"]);
  await ns.exec("sysctl", ["-qw", "net.ipv4.tcp_tw_reuse=1"]);
}

/** Builds and starts a scenario; on failure everything made so far is removed. */
export async function buildScenario(o: ScenarioOptions): Promise<Scenario> {
  const made: Netns[] = [];
  const procs: NsProcess[] = [];
  let relay: NsProcess | undefined;
  const close = async () => {
    for (const p of procs.reverse()) await p.stop(1000);
    for (const ns of made) await ns.cleanup();
    // The relay prints its counters as it exits: proof the impairment happened.
    const counters = await relay?.nextLine(100).catch(() => undefined);
    if (counters) console.error(`  relay counters: ${counters}`);
  };
  try {
    const client = await Netns.create("nbc");
    made.push(client);
    const server = await Netns.create("nbs");
    made.push(server);
    const endpoint = SERVER_VETH; // the server, or the relay in its place
    let peerEndpointAddr = CLIENT_VETH;
    if (o.impair) {
      const relayNs = await Netns.create("nbr");
      made.push(relayNs);
      await client.linkTo(relayNs, `${CLIENT_VETH}/30`, `${SERVER_VETH}/30`);
      await relayNs.linkTo(server, `${RELAY_SERVER_SIDE}/30`, `${SERVER_BEHIND_RELAY}/30`);
      const i = o.impair;
      const r = NsProcess.start(relayNs, o.tools.udpRelay, [
        SERVER_VETH,
        String(WG_PORT),
        SERVER_BEHIND_RELAY,
        String(WG_PORT),
        String(Math.round(i.upDelayMs * 1000)),
        String(Math.round(i.downDelayMs * 1000)),
        String(Math.round(i.lossPercent * 10_000)),
        String(i.seed),
        String(o.maxSeconds),
      ]);
      procs.push(r);
      await r.nextLine(5000, (l) => l === "ready");
      relay = r;
      peerEndpointAddr = RELAY_SERVER_SIDE;
    } else {
      await client.linkTo(server, `${CLIENT_VETH}/30`, `${SERVER_VETH}/30`);
    }
    await tuneTcp(client);
    await tuneTcp(server);
    await server.addDummy("tgt0", [`${TARGET}/24`]);

    const echo = NsProcess.start(server, o.tools.echoServer, [
      TARGET,
      "7",
      "7",
      String(o.maxSeconds),
    ]);
    procs.push(echo);
    await echo.nextLine(5000, (l) => l === "ready");
    const iperf = NsProcess.start(server, "iperf3", [
      "-s",
      "-B",
      TARGET,
      "-p",
      "5201",
      "--idle-timeout",
      "30",
    ]);
    procs.push(iperf);

    const serverKey = generatePrivateKey(), clientKey = generatePrivateKey();
    let sutPids: number[] = [];
    let info: Record<string, unknown> = {};
    let collectGarbage = () => Promise.resolve();
    let netstackStats = (): Promise<Record<string, number> | undefined> =>
      Promise.resolve(undefined);
    let denoRelay: Scenario["denoRelay"];
    if (o.kind === "plain") {
      await client.exec("ip", ["route", "add", "10.202.0.0/24", "via", SERVER_VETH]);
      const relay = NsProcess.start(server, Deno.execPath(), [
        "run",
        "--no-prompt",
        `--allow-net=${TARGET}`,
        v8FlagsArg(),
        new URL("./_deno_relay.ts", import.meta.url).pathname,
        TARGET,
        String(DENO_RELAY_PORT),
        TARGET,
        "7",
      ]);
      procs.push(relay);
      await relay.nextLine(30_000, (l) => l === "ready");
      denoRelay = { port: DENO_RELAY_PORT, pid: relay.pid };
    } else {
      if (o.kind === "wg-go") {
        const ifname = `wgs${crypto.randomUUID().slice(0, 8)}`;
        await server.addWireguardGo(ifname, {
          privateKey: encodeKey(serverKey),
          address: ["10.88.0.1/24"],
          listenPort: WG_PORT,
        });
        const clientPub = encodeKey(publicKey(clientKey));
        await server.wg(["set", ifname, "peer", clientPub, "allowed-ips", "10.88.0.2/32"]);
        const pid = await findProcessInNetns(["wireguard-go", ifname], server.name);
        if (pid === undefined) throw new Error("cannot find the server's wireguard-go process");
        sutPids = [pid];
      } else {
        const sut = await startOurs(server, serverKey, clientKey, peerEndpointAddr, o.udpBackend);
        procs.push(sut.process);
        sutPids = [sut.process.pid];
        info = sut.info;
        collectGarbage = async () => {
          await sut.process.writeLine("gc");
          const r = await sut.process.nextJson(10_000, "gc");
          if (Deno.env.get("NEWT_BENCH_MEMORY")) {
            console.error(`    memory ${JSON.stringify(r.memory)} ${JSON.stringify(r.spaces)}`);
          }
        };
        netstackStats = async () => {
          await sut.process.writeLine("stats");
          return (await sut.process.nextJson(10_000, "stats")).stats as Record<string, number>;
        };
      }
      const ifname = await client.addWireguardGo(`wgc${crypto.randomUUID().slice(0, 8)}`, {
        privateKey: encodeKey(clientKey),
        address: ["10.88.0.2/24"],
      });
      const serverPub = encodeKey(publicKey(serverKey));
      const peerArgs = `peer ${serverPub} endpoint ${endpoint}:${WG_PORT} ` +
        "allowed-ips 10.88.0.0/24,10.202.0.0/24";
      await client.wg(["set", ifname, ...peerArgs.split(" ")]);
      await client.exec("ip", ["route", "add", "10.202.0.0/24", "dev", ifname]);
    }
    await warmUp(client, o.tools);
    return {
      kind: o.kind,
      client,
      server,
      target: TARGET,
      sutPids,
      ...(denoRelay ? { denoRelay } : {}),
      info,
      collectGarbage,
      netstackStats,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Writes the wg-quick config and starts the proxy under a narrow --allow-net. */
async function startOurs(
  server: Netns,
  serverKey: Uint8Array,
  clientKey: Uint8Array,
  peerEndpointAddr: string,
  backend: "deno" | "node",
): Promise<{ process: NsProcess; info: Record<string, unknown> }> {
  const file = await Deno.makeTempFile({ prefix: "newt-bench-", suffix: ".conf" });
  await Deno.writeTextFile(
    file,
    [
      "[Interface]",
      `PrivateKey = ${encodeKey(serverKey)}`,
      `ListenPort = ${WG_PORT}`,
      "Address = 10.88.0.1/24",
      "MTU = 1420",
      "",
      "[Peer]",
      `PublicKey = ${encodeKey(publicKey(clientKey))}`,
      "AllowedIPs = 10.88.0.2/32",
      "",
      "[Proxy]",
      "LogLevel = warn",
      "FlowLog = off",
      "MaxFlows = off",
      "MaxFlowsPerPeer = off",
      "NewFlowRate = off",
      // NEWT_BENCH_PROXY: extra [Proxy] lines for looking into an option (main.ts)
      ...(Deno.env.get("NEWT_BENCH_PROXY")?.split(";").map((l) => l.trim()) ?? []),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  // UDP sends are permission-checked: the peer's endpoint (client or relay) must be granted.
  const allowNet = ["0.0.0.0", "[::]", peerEndpointAddr, TARGET].join(",");
  const process = NsProcess.start(server, Deno.execPath(), [
    "run",
    "--no-prompt",
    ...(backend === "deno" ? ["--unstable-net"] : []),
    `--allow-net=${allowNet}`,
    // NEWT_BENCH_PROXY="UdpBackend=ffi": the libc socket needs --allow-ffi
    ...(/UdpBackend\s*=\s*ffi/i.test(Deno.env.get("NEWT_BENCH_PROXY") ?? "")
      ? ["--allow-ffi"]
      : []),
    `--allow-read=${file}`,
    "--allow-env",
    // as deno task start runs it (bench/v8_flags.ts); NEWT_BENCH_V8 adds flags
    `${v8FlagsArg("--expose-gc")}${Deno.env.get("NEWT_BENCH_V8") ?? ""}`,
    // NEWT_BENCH_CPU_PROF=DIR: a V8 CPU profile of the proxy per run, to see where time goes
    ...(Deno.env.get("NEWT_BENCH_CPU_PROF")
      ? ["--cpu-prof", `--cpu-prof-dir=${Deno.env.get("NEWT_BENCH_CPU_PROF")}`]
      : []),
    new URL("./_proxy_sut.ts", import.meta.url).pathname,
    file,
  ]);
  try {
    const info = await process.nextJson(30_000, "event");
    return { process, info };
  } catch (e) {
    await process.stop(0);
    throw e;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** Completes the WireGuard handshake and the first flow (bounded: 15 s). */
async function warmUp(client: Netns, tools: Tools): Promise<void> {
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    const out = await client.exec(tools.connProbe, ["rate", TARGET, "7", "1", "20"]).catch(() =>
      ""
    );
    if (out && (JSON.parse(out) as { count: number }).count > 0) return;
  }
  throw new Error("warm-up: no echo through the path within 15 s");
}
