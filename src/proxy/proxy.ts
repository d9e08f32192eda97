/**
 * The flow proxy: the forwarder seam on the netstack. It takes every TCP SYN and UDP datagram
 * to a non-local destination, runs it through limits and the allow-list, and hands it to the
 * TCP or UDP forwarder. TCP and UDP proxying can be switched on and off at runtime; while off,
 * SYNs get a RST and datagrams an ICMP port unreachable, as a host with nothing there would.
 *
 * @module
 */
import type { Netstack } from "../netstack/mod.ts";
import { getLogger, type Logger } from "../log.ts";
import { type Cidr, parseCidr } from "../wire/ip_address.ts";
import { DEFAULT_TIMEOUTS, type ProxyContext, type ProxyTimeouts } from "./context.ts";
import { DEFAULT_FLOW_LIMITS, FlowAdmission, type FlowLimits } from "./limits.ts";
import { boundsForFdLimit, readFdLimit } from "./fd_limit.ts";
import { Policy, type PolicyRule, type Proto } from "./policy.ts";
import { ProxyStats } from "./stats.ts";
import { handleTcpFlow } from "./tcp.ts";
import { UdpProxy, type UdpProxyOptions } from "./udp.ts";
import { WarmTargets } from "./warm_targets.ts";
import { LazyDeleteMap } from "../lazy_delete_map.ts";

/** Options of a {@linkcode FlowProxy}. */
export interface FlowProxyOptions {
  /** Allow/deny rules evaluated before the built-in deny set and Deno's permission. */
  rules?: PolicyRule[];
  /** Prefixes never proxied (the tunnel's own prefixes are added by the caller). */
  denyPrefixes?: Array<Cidr | string>;
  /** The proxy host's own listen endpoints (refused). */
  ownEndpoints?: Array<{ addr?: Uint8Array; port: number; proto: Proto }>;
  /** Replaces Deno's permission query (tests). */
  permission?: (host: string) => boolean;
  /** Flow limits. */
  limits?: Partial<FlowLimits>;
  /** Timeouts. */
  timeouts?: Partial<ProxyTimeouts>;
  /** UDP forwarder options. */
  udp?: UdpProxyOptions;
  /** Logger for flow lines and refusals. */
  logger?: Logger;
  /** Whether to log one line per finished flow. Default true. */
  flowLog?: boolean;
  /** The open-file limit to stay below (default: read from /proc when permitted; null = unknown). */
  fdLimit?: number | null;
  /** Maps a peer's tunnel address to its short key (default: ""). */
  peerOf?: (address: string) => string;
  /**
   * Opt-in (default false): a SYN to a target that accepted a connection in the last 30 s gets
   * its SYN-ACK at once, and the target is dialed meanwhile; should that dial fail, the peer's
   * connection is reset. Other SYNs are held until their dial succeeds, as by default.
   */
  acceptBeforeDial?: boolean;
}

/** Proxies flows from a netstack to their real targets. */
export class FlowProxy {
  /** Counters and connection log. */
  readonly stats: ProxyStats;
  /** The allow-list. */
  readonly policy: Policy;
  /** Admission limits. */
  readonly admission: FlowAdmission;
  #stack: Netstack;
  #ctx: ProxyContext;
  #udp: UdpProxy;
  #timeouts: ProxyTimeouts;
  #live = new LazyDeleteMap<number, { peer: string; abort: () => void }>();
  #nextFlow = 1;
  #tcpOn = false;
  #udpOn = false;
  #drained: Array<() => void> = [];

  /** Creates the proxy on `stack` (disabled until `enableTcp`/`enableUdp`). */
  constructor(stack: Netstack, options: FlowProxyOptions = {}) {
    this.#stack = stack;
    const log = options.logger ?? getLogger("proxy");
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.policy = new Policy({
      rules: options.rules ?? [],
      extraDeny: (options.denyPrefixes ?? []).map((c) => typeof c === "string" ? parseCidr(c) : c),
      ownEndpoints: options.ownEndpoints ?? [],
      ...(options.permission ? { permission: options.permission } : {}),
    });
    // Keep flows below the open-file limit where it can be read (--allow-read=/proc/self/limits).
    const fdLimit = options.fdLimit === undefined ? readFdLimit() : options.fdLimit;
    const fdBounds = fdLimit === null ? null : boundsForFdLimit(fdLimit);
    const limits = { ...options.limits };
    if (fdBounds) {
      limits.maxFlows = Math.min(
        limits.maxFlows ?? DEFAULT_FLOW_LIMITS.maxFlows,
        fdBounds.maxFlows,
      );
    }
    this.admission = new FlowAdmission(limits);
    this.stats = new ProxyStats(log);
    this.stats.flowLog = options.flowLog ?? true;
    const peerOf = options.peerOf ?? (() => "");
    const now = () => performance.now();
    const warmTargets = new WarmTargets(now);
    warmTargets.enabled = options.acceptBeforeDial ?? false;
    this.#ctx = {
      policy: this.policy,
      admission: this.admission,
      stats: this.stats,
      timeouts: this.#timeouts,
      log,
      warmTargets,
      now,
      peerOf,
      track: (peer, abort) => {
        const id = this.#nextFlow++;
        this.#live.set(id, { peer, abort });
        return {
          done: () => {
            this.#live.delete(id);
            if (this.#live.size === 0) { for (const w of this.#drained.splice(0)) w(); }
          },
        };
      },
    };
    const udp = { ...options.udp };
    if (fdBounds) udp.maxSessions = Math.min(udp.maxSessions ?? 1024, fdBounds.maxUdpSessions);
    this.#udp = new UdpProxy(this.#ctx, stack, udp);
  }

  /** Starts proxying TCP. */
  enableTcp(): void {
    this.#tcpOn = true;
    this.#stack.onTcpFlow = (req) => void handleTcpFlow(this.#ctx, req);
  }

  /** Stops taking new TCP flows (open ones continue); new SYNs get a RST. */
  disableTcp(): void {
    this.#tcpOn = false;
    this.#stack.onTcpFlow = null;
  }

  /** Starts proxying UDP. */
  enableUdp(): void {
    this.#udpOn = true;
    this.#stack.onUdp = (d) => this.#udp.handle(d);
  }

  /** Stops taking new UDP datagrams; they get ICMP port unreachable. */
  disableUdp(): void {
    this.#udpOn = false;
    this.#stack.onUdp = (d) => this.#stack.sendIcmpUnreachable(d, "port-unreachable");
  }

  /** Whether TCP / UDP proxying is on. */
  get enabled(): { tcp: boolean; udp: boolean } {
    return { tcp: this.#tcpOn, udp: this.#udpOn };
  }

  /** Whether SYNs to recently reachable targets are accepted before the dial (see options). */
  get acceptBeforeDial(): boolean {
    return this.#ctx.warmTargets.enabled;
  }
  /** Switches accept-before-dial at runtime; switching it off forgets the warm targets. */
  set acceptBeforeDial(on: boolean) {
    this.#ctx.warmTargets.enabled = on;
  }

  /** Current timeouts. */
  get timeouts(): ProxyTimeouts {
    return { ...this.#timeouts };
  }

  /** Changes timeouts at runtime; running flows use the new values at their next timer. */
  setTimeouts(t: Partial<ProxyTimeouts>): void {
    for (const [k, v] of Object.entries(t)) {
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        throw new RangeError(`timeout ${k} must be a positive number of ms`);
      }
    }
    Object.assign(this.#timeouts, t);
  }

  /** Flows (TCP connections and UDP sessions) open now. */
  get liveFlows(): number {
    return this.#live.size;
  }

  /** Ends every flow and session of a removed peer. */
  closePeer(peer: string): void {
    for (const f of [...this.#live.values()]) if (f.peer === peer) f.abort();
    this.#udp.closePeer(peer);
  }

  /**
   * Stops taking flows, waits up to `drainMs` for open ones to finish, then aborts the rest
   * (TCP gets RST, UDP sessions close).
   */
  async close(drainMs = 0): Promise<void> {
    this.disableTcp();
    this.#stack.onUdp = null;
    if (this.#live.size > 0 && drainMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#drained.push(r)),
        new Promise<void>((r) => timer = setTimeout(r, drainMs)),
      ]);
      clearTimeout(timer);
    }
    for (const f of [...this.#live.values()]) f.abort();
    this.#udp.close();
  }
}
