/**
 * What the main thread and the UDP Worker say to each other. Datagrams never travel as messages
 * (they go through the rings); messages carry only start-up, rare error text, and shutdown.
 *
 * @module
 */

import type { ListenUdpOptions, UdpBackend } from "../udp_socket.ts";

/** Main → worker: bind and start serving the rings. */
export interface StartMessage {
  /** Discriminator. */
  type: "start";
  /** Passed to `listenUdp` inside the worker. */
  options: ListenUdpOptions;
  /** Buffer of the receive ring (worker produces). */
  rx: SharedArrayBuffer;
  /** Buffer of the send ring (main produces). */
  tx: SharedArrayBuffer;
  /** Counters the worker publishes (indices below). */
  stats: SharedArrayBuffer;
  /**
   * ffi backend: an eventfd of the main thread's, which the worker's loop blocks on with the
   * socket; the main thread signals it, instead of `Atomics.notify`, when it queued sends into a
   * sleeping loop's ring, and closes it once the worker is gone.
   */
  wakeFd?: number;
}

/** Worker → main: bound. */
export interface ReadyMessage {
  /** Discriminator. */
  type: "ready";
  /** The inner socket's bound address. */
  localAddr: { hostname: string; port: number };
  /** The inner socket's backend. */
  backend: UdpBackend;
}

/** Worker → main: the bind failed (error class name and text, to re-create it). */
export interface ErrorMessage {
  /** Discriminator. */
  type: "error";
  /** `err.name`, e.g. "AddrInUse", "NotCapable". */
  name: string;
  /** `err.message`. */
  message: string;
}

/** Worker → main: the inner socket's latest send error text changed. */
export interface SendErrorMessage {
  /** Discriminator. */
  type: "sendError";
  /** The error text. */
  text: string;
}

/** Worker → main: the inner socket is closed; the worker may be terminated. */
export interface ClosedMessage {
  /** Discriminator. */
  type: "closed";
}

/** Anything the worker posts. */
export type WorkerMessage = ReadyMessage | ErrorMessage | SendErrorMessage | ClosedMessage;

/** Index of the inner socket's `sendErrors` in the stats words. */
export const STAT_SEND_ERRORS = 0;
/** Index of the inner socket's `dropped` (node backend queue) in the stats words. */
export const STAT_INNER_DROPPED = 1;
/** Index of the inner socket's `truncated` in the stats words. */
export const STAT_INNER_TRUNCATED = 2;
/** Index of datagrams the worker handed to the inner socket's `send`. */
export const STAT_WORKER_SENT = 3;
/** Index of datagrams the worker took from the inner socket. */
export const STAT_WORKER_RECEIVED = 4;
/** Bytes of the stats buffer. */
export const STATS_BYTES = 64;
