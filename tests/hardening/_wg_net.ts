/**
 * An in-memory UDP "network" of WireGuard devices on a ManualClock: each device gets an
 * address:port; datagrams are queued and delivered by `flush()`; every datagram sent is captured.
 */
import { ManualClock } from "../../src/clock.ts";
import { Device, type DeviceOptions } from "../../src/wireguard/device.ts";
import { generatePrivateKey, type Key, publicKey } from "../../src/wireguard/keys.ts";
import type { UdpRemote } from "../../src/udp_socket.ts";
import { quietLogger } from "./_fuzz.ts";
import { ipv4 } from "../wireguard/_packets.ts";
export { ipv4 };

/** One datagram seen on the network. */
export interface Captured {
  from: UdpRemote;
  to: UdpRemote;
  data: Uint8Array;
}

/** A network of devices. */
export class WgNet {
  /** The shared clock (wall clock tied to it). */
  readonly clock: ManualClock = new ManualClock(1_000_000);
  /** Every datagram sent, in order. */
  readonly captured: Captured[] = [];
  /** Drop everything sent (captured still). */
  dropAll = false;
  /** Capture datagrams (turn off during floods to bound memory). */
  capture = true;
  #queue: Array<() => void> = [];
  #byEndpoint = new Map<string, Device>();

  /** Creates a device at `addr` on this network. */
  device(addr: UdpRemote, options: Partial<DeviceOptions> = {}): { device: Device; key: Key } {
    const key = options.privateKey ?? generatePrivateKey();
    const device = new Device({
      privateKey: key,
      clock: this.clock,
      logger: quietLogger,
      wallClock: () => this.clock.now(),
      ...options,
    });
    this.#byEndpoint.set(`${addr.address}|${addr.port}`, device);
    device.sendDatagram = (data, to) => {
      const copy = data.slice();
      if (this.capture) this.captured.push({ from: addr, to, data: copy });
      if (this.dropAll) return;
      const dst = this.#byEndpoint.get(`${to.address}|${to.port}`);
      if (dst) this.#queue.push(() => dst.receiveDatagram(copy, addr));
    };
    return { device, key };
  }

  /** Delivers queued datagrams (and those they cause), at most `max`. */
  flush(max = 10_000): number {
    let n = 0;
    while (n < max && this.#queue.length > 0) {
      this.#queue.shift()!();
      n++;
    }
    return n;
  }

  /** Forgets queued datagrams. */
  clearQueue(): void {
    this.#queue = [];
  }

  /** Captured datagrams of one message type sent from `from` (port). */
  sent(fromPort: number, type: number): Captured[] {
    return this.captured.filter((c) => c.from.port === fromPort && c.data[0] === type);
  }
}

/** Two devices (A initiator 10.0.0.1 at port 1111, B responder 10.0.0.2 at port 2222) peered. */
export function wgPair(net: WgNet, options: Partial<DeviceOptions> = {}) {
  const addrA: UdpRemote = { address: "127.0.0.1", port: 1111 };
  const addrB: UdpRemote = { address: "127.0.0.1", port: 2222 };
  const A = net.device(addrA, options), B = net.device(addrB, options);
  const peerB = A.device.addPeer({
    publicKey: publicKey(B.key),
    allowedIPs: ["10.0.0.2/32"],
    endpoint: addrB,
  });
  const peerA = B.device.addPeer({ publicKey: publicKey(A.key), allowedIPs: ["10.0.0.1/32"] });
  const gotA: Uint8Array[] = [], gotB: Uint8Array[] = [];
  A.device.onPacket = (p) => gotA.push(p.slice());
  B.device.onPacket = (p) => gotB.push(p.slice());
  return {
    a: A.device,
    b: B.device,
    keyA: A.key,
    keyB: B.key,
    peerA,
    peerB,
    addrA,
    addrB,
    gotA,
    gotB,
  };
}
