/**
 * The netstack of @newt/proxy: lwIP 2.1.3 compiled to WebAssembly, accepting TCP and UDP to
 * any destination, with `Deno.Conn`-shaped connections.
 *
 * @example Two stacks back to back
 * ```ts
 * import { Netstack } from "./mod.ts";
 * const a = await Netstack.create({ addresses: ["10.88.0.1/24"] });
 * const b = await Netstack.create({ addresses: ["10.88.0.2/24"] });
 * a.onOutput = (p) => { const c = p.slice(); queueMicrotask(() => b.input(c)); };
 * b.onOutput = (p) => { const c = p.slice(); queueMicrotask(() => a.input(c)); };
 * const listener = b.listenTcp({ port: 80 });
 * const [client, server] = await Promise.all([
 *   a.dialTcp({ hostname: "10.88.0.2", port: 80 }),
 *   listener.accept(),
 * ]);
 * await client.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(2);
 * await server.read(buf);
 * client.close(); server.close(); listener.close(); a.close(); b.close();
 * ```
 * @module
 */
export {
  Netstack,
  NETSTACK_LIMITS,
  type NetstackOptions,
  type TcpFlowRequest,
  type UnreachableTarget,
} from "./stack.ts";
export { TcpConn, TcpListener } from "./tcp.ts";
export type { MssClampRule } from "./mss_clamp.ts";
export { type UdpDatagram, UdpSocket } from "./udp.ts";
export type { UnreachableKind } from "./icmp.ts";
export type { Family, FlowAddr } from "./addr.ts";
export type { NetstackStats, StatName } from "./stats.ts";
export {
  ClosedError,
  ConnectError,
  ConnectionResetError,
  FlowCancelledError,
  NetstackError,
  NetstackFatalError,
  StackClosedError,
} from "./errors.ts";
