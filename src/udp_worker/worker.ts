/**
 * The UDP Worker: owns the real socket (`listenUdp`, backend "auto"), spends its thread on the
 * receive and send syscalls, and meets the main thread only through two rings.
 *
 * Two loops share this thread's event loop: receive → RX ring, TX ring → send. Deno 2.9.6
 * completes a ready `receive`/`send` op eagerly (its promise settles in a microtask), so a busy
 * loop would never let the other run; each loop therefore yields a task every {@link BATCH}
 * datagrams.
 *
 * @module
 */

import { listenUdp, type UdpSocket } from "../udp_socket.ts";
import {
  type ErrorMessage,
  type ReadyMessage,
  type SendErrorMessage,
  type StartMessage,
  STAT_INNER_DROPPED,
  STAT_INNER_TRUNCATED,
  STAT_SEND_ERRORS,
  STAT_WORKER_RECEIVED,
  STAT_WORKER_SENT,
  type WorkerMessage,
} from "./_protocol.ts";
import { AddressEncoder, RemoteDecoder } from "./remote_codec.ts";
import { FfiUdpSocket } from "../udp_ffi.ts";
import { serveFfi } from "./ffi_loop.ts";
import { DatagramRing, RECORD_META_WORDS, settlesSoon, TaskYielder } from "./ring.ts";

/** Datagrams a loop handles before yielding a task to the other loop. */
const BATCH = 64;
/** Datagrams pushed before a sleeping main thread is woken even while more keep coming. */
const WAKE_BATCH = 32;
/** Counters reach the main thread at least this often (and after every batch). */
const STATS_INTERVAL_MS = 100;
/** Receive buffer: the largest UDP payload. */
const RECEIVE_BUFFER_BYTES = 65536;

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: WorkerMessage): void;
  close(): void;
}
const scope = self as unknown as WorkerScope;

/** Inner socket counters → shared words, and a changed last error → one message. */
class StatsPublisher {
  readonly #words: Int32Array;
  readonly #sock: UdpSocket;
  #lastError: string | undefined;

  constructor(words: Int32Array, sock: UdpSocket) {
    this.#words = words;
    this.#sock = sock;
  }

  publish(): void {
    const s = this.#sock.stats;
    Atomics.store(this.#words, STAT_SEND_ERRORS, s.sendErrors);
    Atomics.store(this.#words, STAT_INNER_DROPPED, s.dropped);
    Atomics.store(this.#words, STAT_INNER_TRUNCATED, s.truncated);
    if (s.lastSendError !== this.#lastError && s.lastSendError !== undefined) {
      this.#lastError = s.lastSendError;
      scope.postMessage({ type: "sendError", text: s.lastSendError } satisfies SendErrorMessage);
    }
  }
}

/**
 * Kernel → RX ring. A sleeping main thread is woken once per {@link WAKE_BATCH} datagrams, or as
 * soon as the next receive would wait — never per datagram while more are already queued.
 */
async function receiveLoop(
  sock: UdpSocket,
  ring: DatagramRing,
  words: Int32Array,
  stats: StatsPublisher,
): Promise<void> {
  const buf = new Uint8Array(RECEIVE_BUFFER_BYTES);
  const encoder = new AddressEncoder();
  const yielder = new TaskYielder();
  let n = 0;
  let unwoken = 0;
  while (!ring.closed) {
    let r;
    try {
      const next = sock.receive(buf);
      if (unwoken > 0 && !(await settlesSoon(next))) {
        ring.wakeConsumer();
        unwoken = 0;
      }
      r = await next;
    } catch {
      if (ring.closed) break;
      await yielder.yield(); // a transient receive error: do not spin on it
      continue;
    }
    if (r === null) break;
    const addr = encoder.encode(r.remote.address);
    // tryPush counts a full ring itself; an unparseable sender cannot happen with listenUdp.
    if (
      addr !== null &&
      ring.tryPush(buf.subarray(0, r.length), r.remote.port, addr.family, addr.words) &&
      ++unwoken >= WAKE_BATCH
    ) {
      ring.wakeConsumer();
      unwoken = 0;
    }
    if (++n >= BATCH) {
      Atomics.add(words, STAT_WORKER_RECEIVED, n);
      n = 0;
      stats.publish();
      await yielder.yield();
    }
  }
  ring.wakeConsumer();
  Atomics.add(words, STAT_WORKER_RECEIVED, n);
}

async function sendLoop(
  sock: UdpSocket,
  ring: DatagramRing,
  words: Int32Array,
  stats: StatsPublisher,
): Promise<void> {
  const meta = new Int32Array(RECORD_META_WORDS);
  const decoder = new RemoteDecoder();
  const yielder = new TaskYielder();
  const buf = new Uint8Array(RECEIVE_BUFFER_BYTES);
  // The deno backend copies into buffers of its own; another may read the bytes after send()
  // returns, when this buffer holds the next datagram: it gets a copy of its own.
  const copies = sock.copiesOnSend === true;
  while (!ring.closed) {
    let n = 0;
    for (; n < BATCH; n++) {
      const len = ring.shiftInto(buf, meta);
      if (len < 0) break;
      const data = buf.subarray(0, len);
      sock.send(copies ? data : data.slice(), decoder.decode(meta));
    }
    if (n > 0) {
      Atomics.add(words, STAT_WORKER_SENT, n);
      stats.publish();
    }
    if (n < BATCH && ring.prepareSleep()) await ring.sleep();
    else await yielder.yield();
    sock.turnEnded?.(); // at most BATCH sends a turn: the socket need not wake itself to count
  }
}

async function serve(msg: StartMessage): Promise<void> {
  let sock: UdpSocket;
  try {
    sock = await listenUdp({ ...msg.options, backend: msg.options.backend ?? "auto" });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    scope.postMessage({ type: "error", name: e.name, message: e.message } satisfies ErrorMessage);
    scope.close();
    return;
  }
  const rx = new DatagramRing(msg.rx);
  const tx = new DatagramRing(msg.tx);
  const words = new Int32Array(msg.stats);
  const stats = new StatsPublisher(words, sock);
  scope.postMessage(
    { type: "ready", localAddr: sock.localAddr, backend: sock.backend } satisfies ReadyMessage,
  );
  if (sock instanceof FfiUdpSocket && msg.wakeFd !== undefined) {
    // One loop blocking in poll() (ffi_loop.ts) until the main thread closes the rings.
    await serveFfi(sock, rx, tx, msg.wakeFd, words, () => stats.publish());
    sock.close();
  } else {
    const receiving = receiveLoop(sock, rx, words, stats);
    // Send errors surface asynchronously, after the batch that caused them was published.
    const publisher = setInterval(() => stats.publish(), STATS_INTERVAL_MS);
    await sendLoop(sock, tx, words, stats); // returns once the main thread closed the rings
    sock.close();
    await receiving;
    clearInterval(publisher);
    // node:dgram releases the port one task after close() (Deno 2.9.6): "closed" promises it free.
    await new Promise((r) => setTimeout(r, 0));
  }
  stats.publish();
  scope.postMessage({ type: "closed" });
  scope.close();
}

scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as StartMessage;
  if (msg?.type === "start") {
    scope.onmessage = null;
    serve(msg);
  }
};
