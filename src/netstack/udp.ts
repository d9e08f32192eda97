/**
 * UDP on the netstack: datagrams to foreign destinations (`UdpDatagram`, delivered to
 * `Netstack.onUdp`) and small sockets on the stack's own addresses (`UdpSocket`).
 * @module
 */
import type { Family, FlowAddr } from "./addr.ts";
import { ClosedError } from "./errors.ts";

/** A datagram from a peer to any address:port (the proxy's view). */
export interface UdpDatagram {
  /** Address family. */
  family: Family;
  /** The peer. */
  src: FlowAddr;
  /** The original destination. */
  dst: FlowAddr;
  /** The payload (a copy; the receiver owns it). */
  data: Uint8Array;
}

/** What a socket needs from its stack (implemented by Netstack). */
export interface UdpDriver {
  /** Sends from socket `sid`; returns false if the stack dropped it. */
  udpSend(sid: number, data: Uint8Array, to: FlowAddr): boolean;
  /** Closes socket `sid`. */
  udpClose(sid: number): void;
}

/** Received datagrams a socket keeps before it drops new ones. */
const SOCKET_QUEUE_LIMIT = 512;

/** A UDP socket on the stack's own addresses, shaped like `Deno.DatagramConn`. */
export class UdpSocket implements AsyncIterable<[Uint8Array, Deno.NetAddr]> {
  /** The bound address (any-address of the family, and the port). */
  readonly addr: Deno.NetAddr;
  /** Datagrams dropped because nobody was receiving fast enough. */
  dropped = 0;
  #driver: UdpDriver;
  #sid: number;
  #default: FlowAddr | null;
  #queue: [Uint8Array, Deno.NetAddr][] = [];
  #waiter: ((d: [Uint8Array, Deno.NetAddr] | null) => void) | null = null;
  #closed = false;

  /** @internal Created by Netstack. */
  constructor(driver: UdpDriver, sid: number, addr: Deno.NetAddr, connectedTo: FlowAddr | null) {
    this.#driver = driver;
    this.#sid = sid;
    this.addr = addr;
    this.#default = connectedTo;
  }

  /** Sends `data` to `to` (or to the dialed address). Resolves to the byte count sent. */
  send(data: Uint8Array, to?: Deno.NetAddr | FlowAddr): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError("socket closed"));
    const dst = to
      ? { address: "hostname" in to ? to.hostname : to.address, port: to.port }
      : this.#default;
    if (!dst) return Promise.reject(new TypeError("no destination"));
    const ok = this.#driver.udpSend(this.#sid, data, dst);
    return Promise.resolve(ok ? data.length : 0);
  }

  /** Waits for the next datagram and its sender. */
  receive(): Promise<[Uint8Array, Deno.NetAddr]> {
    const d = this.#queue.shift();
    if (d) return Promise.resolve(d);
    if (this.#closed) return Promise.reject(new ClosedError("socket closed"));
    return new Promise((resolve, reject) => {
      this.#waiter = (x) => x ? resolve(x) : reject(new ClosedError("socket closed"));
    });
  }

  /** Closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#driver.udpClose(this.#sid);
    const w = this.#waiter;
    this.#waiter = null;
    w?.(null);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields datagrams until closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<[Uint8Array, Deno.NetAddr]> {
    while (true) {
      try {
        yield await this.receive();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  /** @internal A datagram arrived. */
  onDatagram(data: Uint8Array, from: Deno.NetAddr): void {
    if (this.#closed) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w([data, from]);
      return;
    }
    if (this.#queue.length >= SOCKET_QUEUE_LIMIT) {
      this.dropped++;
      return;
    }
    this.#queue.push([data, from]);
  }

  /** @internal The stack closed. */
  onStackClosed(): void {
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = null;
    w?.(null);
  }
}
