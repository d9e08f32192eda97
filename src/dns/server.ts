/**
 * The built-in resolver on the netstack: UDP and TCP port 53 on the stack's own addresses (the
 * address a client config's `DNS=` names), each query handed to a {@linkcode DnsResolver}.
 *
 * UDP: every datagram is answered on its own (no head-of-line wait on a slow upstream); the
 * resolver bounds the work in flight. TCP (RFC 7766): 2-byte length-prefixed messages, several
 * per connection and answered in order, an idle timeout, and a bound on open connections (over
 * it, new ones are reset). A message shorter than a header ends its connection.
 *
 * @example
 * ```ts ignore
 * import { Netstack } from "../netstack/mod.ts";
 * import { serveDns } from "./server.ts";
 * const stack = await Netstack.create({ addresses: ["10.88.0.1/24"] });
 * const dns = serveDns(stack, { upstream: { ipAddr: "1.1.1.1" } });
 * // … peers query 10.88.0.1:53 through the tunnel …
 * await dns.close();
 * ```
 * @module
 */
import type { TcpConn, TcpListener, UdpSocket } from "../netstack/mod.ts";
import { frameTcp, readFull } from "./_io.ts";
import { DNS_HEADER_LEN } from "./message.ts";
import { DnsResolver, type DnsResolverOptions, type DnsResolverStats } from "./resolver.ts";

/** The parts of a Netstack the server uses. */
export interface DnsServerStack {
  /** Opens a UDP socket on the stack's own addresses. */
  listenUdp(options: { port: number; hostname?: string }): UdpSocket;
  /** Listens for TCP on the stack's own addresses. */
  listenTcp(options: { port: number; hostname?: string }): TcpListener;
}

/** Options of {@linkcode serveDns}. */
export interface DnsServerOptions extends DnsResolverOptions {
  /** Port on the stack (default 53). */
  port?: number;
  /** Also serve TCP (default true). */
  tcp?: boolean;
  /** Most open TCP connections (default 64). */
  maxTcpConnections?: number;
  /** ms a TCP connection may sit without a complete query before it is closed (default 10 000). */
  tcpIdleTimeoutMs?: number;
  /** Most queries answered on one TCP connection before it is closed (default 100). */
  maxQueriesPerTcpConnection?: number;
}

/** Counters of the server's sockets (the resolver's are beside them in `stats()`). */
export interface DnsServerSocketStats {
  /** UDP responses the stack did not send. */
  udp_send_failed: number;
  /** TCP connections accepted. */
  tcp_connections: number;
  /** TCP connections reset because too many were open. */
  tcp_rejected: number;
  /** TCP connections closed for a bad length prefix, idleness or an error. */
  tcp_aborted: number;
}

/** A running built-in resolver; `close()` stops it. */
export class DnsServer {
  /** The resolver answering the queries. */
  readonly resolver: DnsResolver;
  /** The UDP socket. */
  readonly udp: UdpSocket;
  /** The TCP listener, if TCP is served. */
  readonly tcp: TcpListener | null;
  #conns = new Set<TcpConn>();
  #counters: DnsServerSocketStats = {
    udp_send_failed: 0,
    tcp_connections: 0,
    tcp_rejected: 0,
    tcp_aborted: 0,
  };
  #closed = false;
  #loops: Promise<void>[] = [];
  #options: Required<
    Pick<DnsServerOptions, "maxTcpConnections" | "tcpIdleTimeoutMs" | "maxQueriesPerTcpConnection">
  >;

  /** @internal Use {@linkcode serveDns}. */
  constructor(stack: DnsServerStack, options: DnsServerOptions = {}) {
    const port = options.port ?? 53;
    this.#options = {
      maxTcpConnections: options.maxTcpConnections ?? 64,
      tcpIdleTimeoutMs: options.tcpIdleTimeoutMs ?? 10_000,
      maxQueriesPerTcpConnection: options.maxQueriesPerTcpConnection ?? 100,
    };
    this.udp = stack.listenUdp({ port });
    try {
      this.tcp = options.tcp === false ? null : stack.listenTcp({ port });
    } catch (e) {
      this.udp.close();
      throw e;
    }
    this.resolver = new DnsResolver(options);
    this.#loops.push(this.#udpLoop());
    if (this.tcp) this.#loops.push(this.#tcpLoop(this.tcp));
  }

  /** Resolver and socket counters. */
  stats(): DnsResolverStats & DnsServerSocketStats {
    return { ...this.resolver.stats(), ...this.#counters };
  }

  /** Closes the sockets, open TCP connections and the resolver; resolves once all loops ended. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.udp.close();
      this.tcp?.close();
      for (const c of this.#conns) c.close();
      this.resolver.close();
    }
    await Promise.allSettled(this.#loops);
  }

  // ---- UDP ----

  async #udpLoop(): Promise<void> {
    for await (const [data, from] of this.udp) {
      if (this.#closed) break;
      void this.#answerUdp(data, from);
    }
  }

  async #answerUdp(data: Uint8Array, from: Deno.NetAddr): Promise<void> {
    const response = await this.resolver.handle(data, "udp");
    if (!response || this.#closed) return;
    try {
      if ((await this.udp.send(response, from)) === 0) this.#counters.udp_send_failed++;
    } catch {
      this.#counters.udp_send_failed++;
    }
  }

  // ---- TCP ----

  async #tcpLoop(listener: TcpListener): Promise<void> {
    for await (const conn of listener) {
      if (this.#closed || this.#conns.size >= this.#options.maxTcpConnections) {
        this.#counters.tcp_rejected++;
        conn.reset();
        continue;
      }
      this.#counters.tcp_connections++;
      this.#conns.add(conn);
      void this.#serveTcp(conn).finally(() => {
        this.#conns.delete(conn);
        conn.close();
      });
    }
  }

  async #serveTcp(conn: TcpConn): Promise<void> {
    let idle: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        this.#counters.tcp_aborted++;
        conn.close(); // wakes a pending read with end-of-stream
      }, this.#options.tcpIdleTimeoutMs);
    };
    const prefix = new Uint8Array(2);
    try {
      for (let n = 0; n < this.#options.maxQueriesPerTcpConnection && !this.#closed; n++) {
        arm();
        if (!(await readFull(conn, prefix))) return;
        const len = (prefix[0]! << 8) | prefix[1]!;
        if (len < DNS_HEADER_LEN) {
          this.#counters.tcp_aborted++;
          return;
        }
        const query = new Uint8Array(len);
        if (!(await readFull(conn, query))) return;
        clearTimeout(idle);
        const response = await this.resolver.handle(query, "tcp");
        if (!response || this.#closed) return;
        await conn.write(frameTcp(response));
      }
      await conn.closeWrite();
    } catch {
      this.#counters.tcp_aborted++;
    } finally {
      clearTimeout(idle);
    }
  }
}

/** Starts the built-in resolver on `stack`'s UDP (and TCP) port 53. */
export function serveDns(stack: DnsServerStack, options: DnsServerOptions = {}): DnsServer {
  return new DnsServer(stack, options);
}
