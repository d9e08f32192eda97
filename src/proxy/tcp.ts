/**
 * The TCP forwarder. For each held SYN:
 *  1. admission limits, then the policy (rules, built-in deny set, Deno permission);
 *  2. dial the target with `Deno.connect` (connect timeout; the peer's RST cancels it);
 *  3. only then complete the handshake with the peer (`accept()`), or answer RST on failure
 *     (opt-in `acceptBeforeDial`: a target that accepted a connection lately is dialed while
 *     the SYN-ACK travels, and a failed dial resets the accepted connection — warm_targets.ts);
 *  4. copy both ways with one reused buffer per direction; when one side finishes, half-close
 *     the other and let the rest run under an idle timer that traffic resets;
 *  5. close both, free everything, write the flow's log line.
 *
 * @module
 */
import type { TcpConn, TcpFlowRequest } from "../netstack/mod.ts";
import type { CloseReason } from "./stats.ts";
import type { ProxyContext } from "./context.ts";
import { FlowPacer } from "./limits.ts";
import { parseIp } from "../wire/ip_address.ts";
import { formatHostPort } from "../wire/ip_address.ts";
import { flowTimers, type QueuedTimer } from "../timer_queue.ts";

/** Largest copy buffer per direction (the seed's 32 KiB). */
export const TCP_COPY_BUFFER = 32 * 1024;
/**
 * First copy buffer per direction. Idle flows are most flows, and a pending read pins its
 * buffer, so buffers start small and double up to TCP_COPY_BUFFER whenever a read fills one.
 */
export const TCP_COPY_BUFFER_INITIAL = 2 * 1024;

/** A read buffer that grows while reads keep filling it. */
class GrowingBuffer {
  buf: Uint8Array = new Uint8Array(TCP_COPY_BUFFER_INITIAL);

  /** Records a read of `n` bytes; grows the buffer for the next one if this one was full. */
  filled(n: number): void {
    if (n === this.buf.length && n < TCP_COPY_BUFFER) this.buf = new Uint8Array(n * 2);
  }
}

/** Why a dial failed, as a refusal reason. */
function dialFailureReason(err: unknown): string {
  const name = (err as Error)?.name ?? "";
  const msg = String((err as Error)?.message ?? err);
  if (name === "TimedOut" || /timed? ?out/i.test(msg)) return "dial-timeout";
  if (name === "ConnectionRefused") return "dial-refused";
  if (/too many open files|EMFILE|ENFILE|EADDRNOTAVAIL|no buffer space/i.test(msg)) {
    return "no-resources";
  }
  if (name === "NotCapable" || name === "PermissionDenied") return "denied-permission";
  return "dial-failed";
}

function cancelledError(): Error {
  const e = new Error("peer gave up");
  e.name = "Cancelled";
  return e;
}

/** Dials `host:port`, giving up after `timeoutMs` or when `signal` aborts. */
async function dialWithTimeout(
  hostname: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Deno.TcpConn> {
  if (signal.aborted) throw cancelledError();
  let timer: QueuedTimer | undefined;
  let onAbort: (() => void) | undefined;
  const pending = Deno.connect({ hostname, port, transport: "tcp" });
  const cancel = new Promise<never>((_, reject) => {
    timer = flowTimers.schedule(() => {
      const e = new Error(`connect to ${formatHostPort(hostname, port)} timed out`);
      e.name = "TimedOut";
      reject(e);
    }, timeoutMs);
    onAbort = () => reject(cancelledError());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([pending, cancel]);
  } catch (err) {
    pending.then((c) => c.close(), () => {}); // a late success must not leak
    throw err;
  } finally {
    flowTimers.cancel(timer);
    signal.removeEventListener("abort", onAbort!);
  }
}

/**
 * Completes the peer's handshake before the dial. The returned signal replaces the held SYN's
 * (which no longer fires once accepted): it aborts the dial when the peer resets the accepted
 * connection or the accept itself fails.
 */
function acceptEarly(req: TcpFlowRequest): { conn: Promise<TcpConn>; signal: AbortSignal } {
  const conn = req.accept();
  const gone = new AbortController();
  conn.then(
    (c) => c.closed.then((err) => err && gone.abort(err)),
    (err) => gone.abort(err),
  );
  return { conn, signal: gone.signal };
}

/** Handles one held SYN end to end. Never throws. */
export async function handleTcpFlow(ctx: ProxyContext, req: TcpFlowRequest): Promise<void> {
  const peer = ctx.peerOf(req.src.address);
  const dstText = formatHostPort(req.dst.address, req.dst.port);
  const limit = ctx.admission.admit(peer);
  if (limit) {
    ctx.stats.refused("tcp", peer, limit, dstText);
    req.refuse();
    return;
  }
  const started = ctx.now();
  let up = 0, down = 0;
  let reason: CloseReason = "eof";
  ctx.stats.opened("tcp", peer);
  let target: Deno.TcpConn | null = null;
  let conn: TcpConn | null = null;
  try {
    const verdict = ctx.policy.check("tcp", parseIp(req.dst.address), req.dst.port, peer);
    if (!verdict.allowed) {
      ctx.stats.refused("tcp", peer, verdict.reason, dstText);
      reason = "denied";
      req.refuse();
      return;
    }
    const { address, port } = req.dst;
    const early = ctx.warmTargets.has(address, port) ? acceptEarly(req) : null;
    // The SYN-ACK now waits in the socket's send queue, whose wake-up runs as a microtask: let it
    // go before the dial, whose synchronous part (~50 µs on loopback, where the kernel completes
    // the target's handshake inside connect) would otherwise hold it back.
    if (early) await Promise.resolve();
    try {
      target = await dialWithTimeout(
        address,
        port,
        ctx.timeouts.tcpConnectTimeoutMs,
        early?.signal ?? req.signal,
      );
    } catch (err) {
      const why = dialFailureReason(err);
      const cancelled = (err as Error).name === "Cancelled";
      if (!cancelled) ctx.warmTargets.forget(address, port);
      reason = cancelled
        ? "cancelled"
        : why === "no-resources"
        ? "no-resources"
        : why === "dial-timeout"
        ? "timeout"
        : "dial-failed";
      ctx.stats.refused("tcp", peer, why, dstText);
      if (why === "no-resources") ctx.admission.learnDescriptorLimit(ctx.log);
      if (early) (await early.conn.catch(() => null))?.reset();
      else req.refuse();
      return;
    }
    ctx.warmTargets.confirm(address, port);
    // Accept first: the peer's SYN-ACK need not wait for the two setsockopt calls.
    const accepted = early?.conn ?? req.accept();
    try {
      target.setNoDelay(true);
      target.setKeepAlive(true);
    } catch { /* socket already gone; the copy loop will notice */ }
    try {
      conn = await accepted;
    } catch {
      reason = "cancelled";
      return;
    }
    const copy = new FlowCopy(ctx, conn, target, (n) => {
      up += n;
      ctx.stats.bytes("tcp", peer, n, 0);
    }, (n) => {
      down += n;
      ctx.stats.bytes("tcp", peer, 0, n);
    });
    const flow = ctx.track(peer, () => copy.abort("shutdown"));
    try {
      reason = await copy.run();
    } finally {
      flow.done();
    }
  } catch (err) {
    reason = "error";
    ctx.log.error("tcp flow failed", { error: String(err), dst: dstText });
  } finally {
    try {
      target?.close();
    } catch { /* already closed */ }
    conn?.close();
    ctx.admission.release(peer);
    ctx.stats.closed({
      peer,
      proto: "tcp",
      src: formatHostPort(req.src.address, req.src.port),
      dst: dstText,
      bytesUp: up,
      bytesDown: down,
      durationMs: Math.round(ctx.now() - started),
      reason,
    });
  }
}

/**
 * How long the bytes a peer sent before its RST may take to reach the target before the target
 * is closed anyway (a stalled target would never take them).
 */
export const PEER_RESET_GRACE_MS = 1_000;

/**
 * Copies peer → target and target → peer until both directions end. A reset on one side resets
 * (or, towards a target, closes) the other, without losing what was already read from the side
 * that reset: the peer's RST follows the target's last bytes once the peer acknowledged them
 * (bounded by the idle timeout), and the target is closed once the bytes the peer sent before
 * its RST were written (bounded by PEER_RESET_GRACE_MS). `abort` ends both from outside.
 */
class FlowCopy {
  #reason: CloseReason = "eof";
  #idle: QueuedTimer | undefined;
  #halfClosed = false;
  #finished = false;
  /** The peer's RST waiting for its last bytes to be acknowledged (see abort). */
  #draining: Promise<void> | null = null;
  /** The peer → target loop (a peer's reset lets it finish; see abort). */
  #up: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly conn: TcpConn,
    private readonly target: Deno.TcpConn,
    private readonly onUp: (n: number) => void,
    private readonly onDown: (n: number) => void,
  ) {}

  /**
   * Ends both sides (RST to the peer); the first reason given is the one reported. A "reset"
   * lets the bytes already written towards the peer be delivered first; a later abort for
   * another reason (shutdown, idle) resets at once.
   */
  abort(why: CloseReason): void {
    if (this.#finished) return;
    if (this.#reason !== "eof") {
      if (why !== "reset") this.#cut(); // shutdown or idle during a reset's wait
      return;
    }
    this.#reason = why;
    if (why !== "reset") {
      this.#cut();
    } else if (this.conn.released) {
      // The peer reset it (lwIP freed the connection before anything here closed it): what it
      // sent before its RST is still queued for the upstream loop, which writes it to the target
      // and then ends.
      const grace = flowTimers.schedule(() => this.#closeTarget(), PEER_RESET_GRACE_MS);
      this.#up.finally(() => {
        flowTimers.cancel(grace);
        this.#closeTarget();
      });
    } else {
      // The target reset or failed: the peer gets the bytes already written towards it first.
      this.#closeTarget();
      this.#draining = this.conn.resetWhenSent(this.ctx.timeouts.tcpIdleTimeoutMs);
    }
  }

  /** Ends both sides now. */
  #cut(): void {
    this.#closeTarget();
    this.conn.reset();
  }

  #closeTarget(): void {
    try {
      this.target.close();
    } catch { /* closed */ }
  }

  /** After one side finished, traffic restarts the idle timer. */
  #touch(): void {
    if (!this.#halfClosed || this.#finished) return;
    flowTimers.cancel(this.#idle);
    this.#idle = flowTimers.schedule(() => this.abort("idle"), this.ctx.timeouts.tcpIdleTimeoutMs);
  }

  #halfClose(): void {
    this.#halfClosed = true;
    this.#touch();
  }

  /** A pacer for one direction when a per-flow bandwidth cap is set. */
  #pacer(): FlowPacer | null {
    const cap = this.ctx.admission.limits.flowBytesPerSecond;
    return cap > 0 ? new FlowPacer(cap, TCP_COPY_BUFFER, () => this.ctx.now()) : null;
  }

  async #upstream(): Promise<void> {
    const b = new GrowingBuffer();
    const pacer = this.#pacer();
    try {
      for (;;) {
        const buf = b.buf;
        const n = await this.conn.read(buf);
        if (n === null) break;
        await pacer?.pace(n);
        await writeAll(this.target, buf.subarray(0, n));
        b.filled(n);
        this.onUp(n);
        this.#touch();
      }
      try {
        await this.target.closeWrite();
      } catch { /* the target already closed: nothing left to tell it */ }
      this.#halfClose();
    } catch {
      this.abort("reset");
    }
  }

  async #downstream(): Promise<void> {
    const b = new GrowingBuffer();
    const pacer = this.#pacer();
    try {
      for (;;) {
        const buf = b.buf;
        const n = await this.target.read(buf);
        if (n === null) break;
        await pacer?.pace(n);
        await this.conn.write(buf.subarray(0, n));
        b.filled(n);
        this.onDown(n);
        this.#touch();
      }
      await this.conn.closeWrite();
      this.#halfClose();
    } catch {
      this.abort("reset");
    }
  }

  /** Runs both directions to their end; returns how the flow ended. */
  async run(): Promise<CloseReason> {
    // A copy loop stuck on a stalled target does not see the peer go: watch the tunnel side.
    this.conn.closed.then((err) => {
      if (err) this.abort("reset");
    });
    this.#up = this.#upstream();
    await Promise.all([this.#up, this.#downstream()]);
    await this.#draining;
    this.#finished = true;
    flowTimers.cancel(this.#idle);
    return this.#reason;
  }
}

async function writeAll(w: Deno.TcpConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}
