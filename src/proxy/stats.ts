/**
 * Proxy counters and the connection log: live flows, totals, bytes, refusals by reason, per
 * peer; and one structured line per finished flow.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { BoundedCache } from "../bounded_cache.ts";

/** How a flow ended, or why it never started. */
export type CloseReason =
  | "eof"
  | "reset"
  | "timeout"
  | "idle"
  | "denied"
  | "limit"
  | "dial-failed"
  | "no-resources"
  | "cancelled"
  | "shutdown"
  | "error";

/** Counters of one peer (or of the whole proxy). */
export interface FlowCounters {
  /** Flows open now. */
  live: number;
  /** Flows opened in total. */
  total: number;
  /** Bytes from peers to targets. */
  bytesUp: number;
  /** Bytes from targets to peers. */
  bytesDown: number;
  /** Refused flows by reason ("denied-permission", "limit-peer", …). */
  refused: Record<string, number>;
  /** Dropped datagrams by reason. */
  dropped: Record<string, number>;
}

function newCounters(): FlowCounters {
  return { live: 0, total: 0, bytesUp: 0, bytesDown: 0, refused: {}, dropped: {} };
}

/** A finished flow, as the connection log records it. */
export interface FlowRecord {
  /** Short peer key ("" if unknown). */
  peer: string;
  /** tcp or udp. */
  proto: "tcp" | "udp";
  /** Peer's tunnel address:port. */
  src: string;
  /** Target address:port. */
  dst: string;
  /** Bytes peer → target. */
  bytesUp: number;
  /** Bytes target → peer. */
  bytesDown: number;
  /** Lifetime in ms. */
  durationMs: number;
  /** How it ended. */
  reason: CloseReason;
}

/** Aggregates refusal log lines per (peer, reason) so a port scan is not thousands of lines. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Proxy statistics and connection log. */
export class ProxyStats {
  /** Totals over all peers, per protocol. */
  readonly tcp: FlowCounters = newCounters();
  /** UDP totals (flows = sessions). */
  readonly udp: FlowCounters = newCounters();
  /** Per-peer totals (both protocols). */
  readonly perPeer: Map<string, FlowCounters> = new Map();
  /** Whether to write one line per finished flow. */
  flowLog = true;
  #refusalWindow = new BoundedCache<string, { count: number; first: number; sample: string }>(
    4096,
  );

  /** Creates the stats; `log` receives flow and refusal lines. */
  constructor(private readonly log: Logger, private readonly now: () => number = Date.now) {}

  #peer(peer: string): FlowCounters {
    let c = this.perPeer.get(peer);
    if (!c) this.perPeer.set(peer, c = newCounters());
    return c;
  }

  /** A flow opened. */
  opened(proto: "tcp" | "udp", peer: string): void {
    const t = this[proto], p = this.#peer(peer);
    t.live++, t.total++, p.live++, p.total++;
  }

  /** Bytes moved on a flow. */
  bytes(proto: "tcp" | "udp", peer: string, up: number, down: number): void {
    const t = this[proto], p = this.#peer(peer);
    t.bytesUp += up, t.bytesDown += down, p.bytesUp += up, p.bytesDown += down;
  }

  /** A flow closed: counts it down and writes its log line. */
  closed(rec: FlowRecord): void {
    this[rec.proto].live--;
    this.#peer(rec.peer).live--;
    if (this.flowLog) this.log.info("flow", { ...rec });
  }

  /** A flow was refused before it opened; logged once per peer and reason per 10 s. */
  refused(proto: "tcp" | "udp", peer: string, reason: string, detail: string): void {
    const t = this[proto], p = this.#peer(peer);
    t.refused[reason] = (t.refused[reason] ?? 0) + 1;
    p.refused[reason] = (p.refused[reason] ?? 0) + 1;
    const key = `${peer}|${reason}`;
    const now = this.now();
    const w = this.#refusalWindow.get(key);
    if (!w || now - w.first >= REFUSAL_LOG_INTERVAL_MS) {
      if (w && w.count > 1) {
        this.log.warn("flows refused", { peer, reason, count: w.count - 1, sample: w.sample });
      }
      this.#refusalWindow.set(key, { count: 1, first: now, sample: detail });
      this.log.warn("flow refused", { peer, proto, reason, dst: detail });
    } else {
      w.count++;
    }
  }

  /** A datagram was dropped. */
  dropped(proto: "tcp" | "udp", peer: string, reason: string): void {
    const t = this[proto], p = this.#peer(peer);
    t.dropped[reason] = (t.dropped[reason] ?? 0) + 1;
    p.dropped[reason] = (p.dropped[reason] ?? 0) + 1;
  }

  /** Forgets a removed peer's counters. */
  forgetPeer(peer: string): void {
    this.perPeer.delete(peer);
  }

  /** A plain-object snapshot. */
  snapshot(): { tcp: FlowCounters; udp: FlowCounters; perPeer: Record<string, FlowCounters> } {
    const clone = (c: FlowCounters) => structuredClone(c);
    return {
      tcp: clone(this.tcp),
      udp: clone(this.udp),
      perPeer: Object.fromEntries([...this.perPeer].map(([k, v]) => [k, clone(v)])),
    };
  }
}
