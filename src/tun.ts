/**
 * The Go original's API in TypeScript: `createNetTun` / `createNetTunWithOptions` give a `tun`
 * (the packet interface a WireGuard device binds to, like wireguard-go's `tun.Device`) and a
 * `net` (the network inside the tunnel: proxying switches, dial/listen on the stack).
 *
 * @example Pattern 1 — a proxying netstack bound to a WireGuard device
 * ```ts ignore
 * import { bindDevice, createNetTunWithOptions, Device, generatePrivateKey } from "@newt/proxy";
 * const { tun, net } = await createNetTunWithOptions(["10.88.0.1/24"], [], 1420, {
 *   enableTcpProxy: true,
 *   enableUdpProxy: true,
 * });
 * const device = new Device({ privateKey: generatePrivateKey() });
 * bindDevice(device, tun);
 * await device.listen({ port: 51820 });
 * ```
 *
 * @module
 */
import { Netstack, type NetstackOptions, type TcpConn, type TcpListener } from "./netstack/mod.ts";
import type { UdpSocket as StackUdpSocket } from "./netstack/mod.ts";
import { FlowProxy, type FlowProxyOptions } from "./proxy/proxy.ts";
import type { Device } from "./wireguard/device.ts";
import { lookupHost, netstackTransport } from "./dns/client.ts";
import { parseHostPort, parseIp, tryParseIp } from "./wire/ip_address.ts";

/** The packet side of the tunnel: IP packets in and out of the netstack. */
export interface Tun {
  /** The interface MTU. */
  readonly mtu: number;
  /** Feeds IP packets from the WireGuard side into the stack (copied; reuse the buffers). */
  write(packets: Uint8Array | Uint8Array[]): void;
  /** Receives each IP packet the stack sends; the bytes are valid only during the call. */
  onRead: ((packet: Uint8Array) => void) | null;
  /** Closes the stack. */
  close(): void;
  /**
   * Set by the link that writes (see {@linkcode bindDevice}): whether more packets are about to
   * be written at once. The stack then wakes a flow's reader once for the batch instead of per
   * segment, so the target gets fewer, larger writes.
   */
  morePending?: (() => boolean) | null;
  /**
   * Called by the stack when a flow on a long path begins (true) or ends (false) sending in bulk
   * at the pacer's pace (`Netstack.onLongPath`); {@linkcode bindDevice} passes it to the
   * device's socket.
   */
  onLongPath?: ((active: boolean) => void) | null;
}

/** Options of {@linkcode createNetTunWithOptions}. */
export interface NetTunOptions {
  /** Proxy TCP flows to their real targets. */
  enableTcpProxy?: boolean;
  /** Proxy UDP datagrams to their real targets. */
  enableUdpProxy?: boolean;
  /** Proxy policy, limits, timeouts and logging. */
  proxy?: FlowProxyOptions;
  /** Netstack tuning (windows, held-SYN bounds, keepalive). */
  netstack?: Omit<NetstackOptions, "addresses" | "mtu">;
}

/** Where to dial: "host:port" text or an object. */
export type DialTarget = string | { hostname: string; port: number };

/** The network inside the tunnel. */
export class Net {
  /** The TCP/IP stack. */
  readonly stack: Netstack;
  /** The flow proxy (stats, policy, timeouts). */
  readonly proxy: FlowProxy;
  /** DNS servers for {@linkcode Net.lookupHost} (inside the tunnel). */
  readonly dnsServers: readonly string[];

  /** @internal Use createNetTun. */
  constructor(stack: Netstack, proxy: FlowProxy, dnsServers: string[]) {
    this.stack = stack;
    this.proxy = proxy;
    this.dnsServers = dnsServers;
  }

  /** Starts proxying TCP flows to their real targets. */
  enableTcpProxy(): void {
    this.proxy.enableTcp();
  }
  /** Stops proxying new TCP flows (SYNs get RST). */
  disableTcpProxy(): void {
    this.proxy.disableTcp();
  }
  /** Starts proxying UDP datagrams. */
  enableUdpProxy(): void {
    this.proxy.enableUdp();
  }
  /** Stops proxying UDP (datagrams get ICMP port unreachable). */
  disableUdpProxy(): void {
    this.proxy.disableUdp();
  }

  /** Resolves a name through the tunnel's DNS servers (IP literals resolve to themselves). */
  async lookupHost(name: string): Promise<string[]> {
    if (tryParseIp(name)) return [name];
    return await lookupHost(name, {
      servers: [...this.dnsServers],
      transport: netstackTransport(this.stack),
    });
  }

  /** Opens a TCP connection from the stack into the tunnel ("10.0.0.5:80", "[fd00::5]:80", "name:80"). */
  async dialTcp(target: DialTarget): Promise<TcpConn> {
    const { hostname, port } = dialTarget(target);
    const [addr] = tryParseIp(hostname) ? [hostname] : await this.lookupHost(hostname);
    if (!addr) throw new Error(`no address for ${hostname}`);
    return this.stack.dialTcp({ hostname: addr, port });
  }

  /** Listens for TCP inside the tunnel on the stack's own addresses. */
  listenTcp(options: { port: number; hostname?: string }): TcpListener {
    return this.stack.listenTcp(options);
  }

  /** A UDP socket connected to a tunnel address. */
  dialUdp(target: DialTarget): StackUdpSocket {
    const t = dialTarget(target);
    parseIp(t.hostname);
    return this.stack.dialUdp(t);
  }

  /** A UDP socket on the stack's own addresses. */
  listenUdp(options: { port: number; hostname?: string }): StackUdpSocket {
    return this.stack.listenUdp(options);
  }

  /** Closes the proxy (draining up to `drainMs`) and the stack. */
  async close(drainMs = 0): Promise<void> {
    await this.proxy.close(drainMs);
    this.stack.close();
  }
}

function dialTarget(t: DialTarget): { hostname: string; port: number } {
  if (typeof t !== "string") return t;
  const hp = parseHostPort(t);
  return { hostname: hp.host, port: hp.port };
}

function withPrefix(a: string): string {
  return a.includes("/") ? a : `${a}/${a.includes(":") ? 128 : 32}`;
}

/**
 * Creates a netstack with the given addresses and a `Net` whose proxy is on or off as asked
 * (pattern 1). Addresses may carry a prefix ("10.88.0.1/24"); without one they are host routes.
 */
export async function createNetTunWithOptions(
  localAddresses: string[],
  dnsServers: string[],
  mtu: number,
  options: NetTunOptions = {},
): Promise<{ tun: Tun; net: Net }> {
  const addresses = localAddresses.map(withPrefix);
  const stack = await Netstack.create({ ...options.netstack, addresses, mtu });
  const proxy = new FlowProxy(stack, {
    ...options.proxy,
    denyPrefixes: [...addresses, ...(options.proxy?.denyPrefixes ?? [])],
  });
  const net = new Net(stack, proxy, dnsServers);
  if (options.enableTcpProxy) proxy.enableTcp();
  if (options.enableUdpProxy) proxy.enableUdp();
  else proxy.disableUdp();
  const tun: Tun = {
    mtu,
    write(packets) {
      if (packets instanceof Uint8Array) stack.input(packets);
      else for (const p of packets) stack.input(p);
    },
    onRead: null,
    close: () => void net.close(),
  };
  stack.onOutput = (p) => tun.onRead?.(p);
  stack.inputPending = () => tun.morePending?.() ?? false;
  stack.onLongPath = (active) => tun.onLongPath?.(active);
  return { tun, net };
}

/** Creates a netstack with proxying off, as the Go original's `CreateNetTUN` (pattern 2, 3). */
export function createNetTun(
  localAddresses: string[],
  dnsServers: string[],
  mtu: number,
): Promise<{ tun: Tun; net: Net }> {
  return createNetTunWithOptions(localAddresses, dnsServers, mtu, {});
}

/** Connects a WireGuard device and a tun: decrypted packets in, routed packets out. */
export function bindDevice(device: Device, tun: Tun): void {
  device.onPacket = (p) => tun.write(p);
  tun.onRead = (p) => device.sendPacket(p);
  tun.morePending = () => device.receivePending();
  tun.onLongPath = (active) => device.socket?.setLongPath?.(active);
}
