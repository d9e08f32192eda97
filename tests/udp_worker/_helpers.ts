/** Helpers shared by the UDP Worker socket tests. */
import assert from "node:assert/strict";
import type { UdpReceived, UdpSocket } from "../../src/udp_socket.ts";
import { ffiUdpSupported, listenUdpFfi } from "../../src/udp_ffi.ts";
import {
  isUdpWorkerSocket,
  listenUdpWorker,
  type UdpWorkerSocket,
} from "../../src/udp_worker/mod.ts";

/** `p`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms = 3000, what = "receive"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A Worker socket; fails the test if listenUdpWorker fell back to a plain one. */
export async function workerSocket(
  opts: Parameters<typeof listenUdpWorker>[0],
): Promise<UdpWorkerSocket> {
  const sock = await listenUdpWorker(opts);
  assert.ok(isUdpWorkerSocket(sock), "expected the worker socket, not the fallback");
  return sock;
}

/** Closes the sockets, and waits until each Worker has released its port. */
export async function closeAll(...socks: UdpSocket[]): Promise<void> {
  for (const s of socks) s.close();
  for (const s of socks) if (isUdpWorkerSocket(s)) await withTimeout(s.closed, 3000, "close");
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 10 ms, at most `ms`; `what` says what was awaited in the failure. */
export async function until(
  cond: () => boolean,
  ms = 3000,
  what: () => string = () => "",
): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await sleep(10);
  assert.ok(cond(), `condition not reached in time ${what()}`);
}

/**
 * Receives on `sock` until it resolves null (closed), handing each datagram and the buffer it
 * filled to `onDatagram`.
 */
export async function receiveUntilClosed(
  sock: UdpSocket,
  onDatagram: (r: UdpReceived, buf: Uint8Array) => void,
  bufBytes = 2048,
): Promise<void> {
  const buf = new Uint8Array(bufBytes);
  for (;;) {
    const r = await sock.receive(buf);
    if (r === null) return;
    onDatagram(r, buf);
  }
}

/**
 * A receiver that holds a whole burst sent in one turn (this thread does not yield to read):
 * the ffi socket's 4 MiB kernel buffer where it is granted (root), else a socket drained by a
 * Worker of its own. Records every datagram it gets, in arrival order.
 */
export async function burstReceiver() {
  let rx: UdpSocket | undefined;
  if (ffiUdpSupported()) {
    const ffi = listenUdpFfi({ hostname: "127.0.0.1", port: 0 });
    if (ffi.bufferBytes.receive >= 2 * 1024 * 1024) rx = ffi;
    else ffi.close();
  }
  rx ??= await listenUdpWorker({ hostname: "127.0.0.1", port: 0, directSend: false });
  const sock = rx;
  const got: Uint8Array[] = [];
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    for (;;) {
      const r = await sock.receive(buf);
      if (r === null) return;
      got.push(buf.slice(0, r.length));
    }
  })();
  return {
    got,
    /** The numbers (first two bytes) of what arrived, in order. */
    numbers: () => got.map((d) => d[0]! | d[1]! << 8),
    to: { address: "127.0.0.1", port: sock.localAddr.port },
    async close() {
      sock.close();
      await reading;
      if (isUdpWorkerSocket(sock)) await withTimeout(sock.closed, 3000, "close");
    },
  };
}
