/**
 * The UDP Worker's loop for the ffi backend: one loop instead of two async ones. `poll` on the
 * socket and an eventfd blocks the thread until a datagram comes or the main thread queued sends
 * (it writes the eventfd instead of `Atomics.notify`), so a datagram costs no Deno op, no promise
 * and no event-loop turn here; receives and sends go in `recvmmsg` / `sendmmsg` batches. The loop
 * yields to the event loop every few milliseconds, for V8's own tasks.
 *
 * @module
 */

import type { FfiUdpSocket } from "../udp_ffi.ts";
import { drainEventFd } from "../udp_ffi.ts";
import { STAT_WORKER_RECEIVED, STAT_WORKER_SENT } from "./_protocol.ts";
import { RemoteDecoder } from "./remote_codec.ts";
import { type DatagramRing, RECORD_META_WORDS, TaskYielder } from "./ring.ts";

/** Datagrams sent from the ring before the socket is looked at again. */
const SEND_BATCH = 256;
/** Longest sleep in `poll`, a safety net: closing and sends wake the loop through the eventfd. */
const POLL_TIMEOUT_MS = 1000;
/**
 * The loop lets the event loop run at least this often: V8 finishes garbage collection work
 * (incremental marking, freeing array buffers) in tasks, and a thread that never yields grew by
 * ~23 MB a minute in the soak.
 */
const YIELD_MS = 5;

/**
 * Serves `sock` until the send ring is closed: kernel → `rx`, `tx` → kernel. `wakeFd` is the
 * eventfd the main thread signals after it queued sends into a sleeping loop's ring.
 */
export async function serveFfi(
  sock: FfiUdpSocket,
  rx: DatagramRing,
  tx: DatagramRing,
  wakeFd: number,
  words: Int32Array,
  publish: () => void,
): Promise<void> {
  const meta = new Int32Array(RECORD_META_WORDS);
  const buf = new Uint8Array(65536);
  const decoder = new RemoteDecoder();
  const address = new Int32Array(4);
  const yielder = new TaskYielder();
  let yielded = performance.now();
  sock.autoFlush = false; // this loop flushes (see FfiUdpSocket.autoFlush)
  while (!tx.closed) {
    const now = performance.now();
    if (now - yielded >= YIELD_MS) {
      await yielder.yield();
      yielded = performance.now();
    }
    let sent = 0;
    for (; sent < SEND_BATCH; sent++) {
      const len = tx.shiftInto(buf, meta);
      if (len < 0) break;
      sock.send(buf.subarray(0, len), decoder.decode(meta)); // copied into the send batch
    }
    if (sent > 0) {
      sock.flush();
      Atomics.add(words, STAT_WORKER_SENT, sent);
    }
    const got = sock.receiveNow();
    let pushed = 0;
    for (let i = 0; i < got; i++) {
      const { port, family } = sock.receivedSender(i, address);
      if (rx.tryPush(sock.receivedData(i), port, family, address)) pushed++;
    }
    if (got > 0) {
      if (pushed > 0) rx.wakeConsumer();
      Atomics.add(words, STAT_WORKER_RECEIVED, got);
    }
    if (sent > 0 || got > 0) {
      publish();
      continue;
    }
    // Nothing to do: announce the sleep on the send ring, look once more, then block.
    if (tx.prepareSleep()) {
      sock.waitReadable(wakeFd, POLL_TIMEOUT_MS);
      tx.cancelSleep();
      drainEventFd(wakeFd);
    }
  }
  rx.wakeConsumer();
  publish();
}
