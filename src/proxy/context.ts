/**
 * What the TCP and UDP forwarders share: policy, limits, stats, timeouts, logging and the map
 * from a peer's tunnel address to its identity.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { FlowAdmission } from "./limits.ts";
import type { Policy } from "./policy.ts";
import type { ProxyStats } from "./stats.ts";
import type { WarmTargets } from "./warm_targets.ts";

/** Timeouts, adjustable at runtime. */
export interface ProxyTimeouts {
  /** Target connect timeout (ms). Default 5 000. */
  tcpConnectTimeoutMs: number;
  /** Idle time allowed after one side of a TCP flow finished (ms). Default 60 000. */
  tcpIdleTimeoutMs: number;
  /** UDP session idle timeout (ms). Default 60 000. */
  udpIdleTimeoutMs: number;
}

/** The seed's defaults. */
export const DEFAULT_TIMEOUTS: ProxyTimeouts = {
  tcpConnectTimeoutMs: 5_000,
  tcpIdleTimeoutMs: 60_000,
  udpIdleTimeoutMs: 60_000,
};

/** A live flow's handle for shutdown. */
export interface TrackedFlow {
  /** The flow ended by itself. */
  done(): void;
}

/** Shared state of the forwarders. */
export interface ProxyContext {
  /** The allow-list. */
  readonly policy: Policy;
  /** Admission limits. */
  readonly admission: FlowAdmission;
  /** Counters and connection log. */
  readonly stats: ProxyStats;
  /** Current timeouts (read at use, so changes apply to running flows' next timer). */
  readonly timeouts: ProxyTimeouts;
  /** Logger. */
  readonly log: Logger;
  /** Recently reachable targets; enabled only in the opt-in accept-before-dial mode. */
  readonly warmTargets: WarmTargets;
  /** Milliseconds clock. */
  now(): number;
  /** The short key of the peer owning a tunnel source address ("" if none). */
  peerOf(address: string): string;
  /** Registers a live flow of `peer` with its abort function (for shutdown and peer removal). */
  track(peer: string, abort: () => void): TrackedFlow;
}
