/**
 * A stub resolver for in-tunnel networking (pattern 3: `net.lookupHost`, `net.dialTcp("name:port")`),
 * as wireguard-go's netstack does with its `dnsServers`: A and AAAA asked in parallel over UDP,
 * again over TCP when the answer comes back truncated, each query with a timeout, servers tried in
 * order for `attempts` rounds. Names are absolute (no search list); IP literals are returned
 * without a query.
 *
 * The transport is an interface so the same client runs over the netstack
 * ({@linkcode netstackTransport}) or anything else that can carry a query to a server.
 *
 * Outcome of a lookup: the addresses found (IPv4 first unless `order` says otherwise) if either
 * type gave any — a failure of the other type is then ignored, as Go's resolver does;
 * {@linkcode DnsNotFoundError} for NXDOMAIN or no addresses at all; otherwise the last
 * failure ({@linkcode DnsTimeoutError} or {@linkcode DnsServerError}).
 *
 * @example
 * ```ts ignore
 * import { lookupHost, netstackTransport } from "./client.ts";
 * const addrs = await lookupHost("example.com", {
 *   servers: ["10.88.0.1"],
 *   transport: netstackTransport(stack),
 * });
 * ```
 * @module
 */
import { formatIp, tryParseIp } from "../wire/ip_address.ts";
import { frameTcp, readFull } from "./_io.ts";
import { DnsError, DnsNotFoundError, DnsServerError, DnsTimeoutError } from "./errors.ts";
import {
  answerAddresses,
  buildQuery,
  DNS_RCODE,
  DNS_TYPE,
  type DnsMessage,
  namesEqual,
  parseMessage,
} from "./message.ts";

/** Carries one query to one server and brings back the response bytes. */
export interface DnsTransport {
  /**
   * Sends `query` by UDP to `server` (IP text) and resolves to the first datagram from that
   * server whose id matches; rejects with {@linkcode DnsTimeoutError} after `timeoutMs`.
   */
  udpQuery(server: string, query: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** The same over TCP (2-byte length prefix), connection and answer within `timeoutMs`. */
  tcpQuery(server: string, query: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

/** Options of {@linkcode lookupHost}. */
export interface LookupHostOptions {
  /** Name servers, IP text, tried in order. */
  servers: readonly string[];
  /** How queries travel. */
  transport: DnsTransport;
  /** ms per query (default 2000). */
  timeoutMs?: number;
  /** Rounds over the server list (default 2). */
  attempts?: number;
  /** Address order in the result (default "ipv4first"). */
  order?: "ipv4first" | "ipv6first";
  /** Ask only for one family (default both). */
  family?: 4 | 6;
}

/** The response to `query` for `name`/`type`, or a failure to try the next server with. */
function checkResponse(raw: Uint8Array, id: number, name: string, type: number): DnsMessage {
  const parsed = parseMessage(raw);
  if (!parsed.ok) throw new DnsServerError(`malformed DNS response (${parsed.error})`);
  const m = parsed.message;
  const q = m.questions[0];
  if (!m.qr || m.id !== id) throw new DnsServerError("DNS response does not match the query");
  // RFC 5452 9.1: the question must be echoed (a FORMERR may omit it, and is a failure anyway).
  if (m.rcode === DNS_RCODE.NOERROR || m.rcode === DNS_RCODE.NXDOMAIN) {
    if (!q || m.questions.length !== 1 || q.type !== type || !namesEqual(q.name, name)) {
      throw new DnsServerError("DNS response is for another question");
    }
  }
  return m;
}

function randomId(): number {
  const b = new Uint16Array(1);
  crypto.getRandomValues(b);
  return b[0]!;
}

/** Addresses of one type, or `null` for NXDOMAIN; throws the last failure. */
async function queryType(
  name: string,
  type: typeof DNS_TYPE.A | typeof DNS_TYPE.AAAA,
  o: Required<Omit<LookupHostOptions, "family">>,
): Promise<string[] | null> {
  let last: Error = new DnsServerError("no DNS servers configured");
  for (let attempt = 0; attempt < o.attempts; attempt++) {
    for (const server of o.servers) {
      const id = randomId();
      const query = buildQuery({ id, name, type });
      try {
        let m = checkResponse(
          await o.transport.udpQuery(server, query, o.timeoutMs),
          id,
          name,
          type,
        );
        if (m.tc) {
          m = checkResponse(await o.transport.tcpQuery(server, query, o.timeoutMs), id, name, type);
        }
        if (m.rcode === DNS_RCODE.NXDOMAIN) return null;
        if (m.rcode === DNS_RCODE.NOERROR) {
          return answerAddresses(m, name, type).map((a) => a.address);
        }
        last = new DnsServerError(`DNS server ${server} answered rcode ${m.rcode}`, m.rcode);
      } catch (e) {
        last = e instanceof DnsError
          ? e
          : new DnsServerError(`DNS query to ${server} failed: ${(e as Error)?.message}`, -1, {
            cause: e,
          });
      }
    }
  }
  throw last;
}

/**
 * Resolves `name` to IP addresses (canonical text) through `servers`. An IP literal (IPv6 with or
 * without brackets) is returned as is, in canonical form, without a query.
 */
export async function lookupHost(name: string, options: LookupHostOptions): Promise<string[]> {
  const literal = tryParseIp(name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name);
  if (literal) return [formatIp(literal)];
  buildQuery({ id: 0, name, type: DNS_TYPE.A }); // throws DnsNameError for a bad name, up front
  const o = {
    servers: options.servers,
    transport: options.transport,
    timeoutMs: options.timeoutMs ?? 2000,
    attempts: Math.max(1, options.attempts ?? 2),
    order: options.order ?? "ipv4first",
  };
  const types = options.family === 4
    ? [DNS_TYPE.A]
    : options.family === 6
    ? [DNS_TYPE.AAAA]
    : o.order === "ipv6first"
    ? [DNS_TYPE.AAAA, DNS_TYPE.A]
    : [DNS_TYPE.A, DNS_TYPE.AAAA];
  const results = await Promise.allSettled(types.map((t) => queryType(name, t, o)));
  const found: string[] = [];
  let nxdomain = false;
  for (const r of results) {
    if (r.status !== "fulfilled") continue;
    if (r.value === null) nxdomain = true;
    else for (const a of r.value) if (!found.includes(a)) found.push(a);
  }
  if (found.length > 0) return found;
  if (nxdomain) throw new DnsNotFoundError(name);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  throw new DnsNotFoundError(name, "no addresses");
}

// ---------------------------------------------------------------------------------------------
// Transport over the netstack

/** The parts of a Netstack the transport uses. */
export interface DnsClientStack {
  /** Opens a UDP socket toward `hostname:port`. */
  dialUdp(options: { hostname: string; port: number }): {
    send(data: Uint8Array): Promise<number>;
    receive(): Promise<[Uint8Array, Deno.NetAddr]>;
    close(): void;
  };
  /** Opens a TCP connection to `hostname:port`. */
  dialTcp(options: { hostname: string; port: number }): Promise<{
    read(b: Uint8Array): Promise<number | null>;
    write(b: Uint8Array): Promise<number>;
    close(): void;
  }>;
}

/** Stray datagrams (wrong source or id) a UDP query skips before it gives up on the server. */
const MAX_STRAY_DATAGRAMS = 16;

/** Runs `work` with a deadline: on expiry `onExpire` runs and the result is a timeout error. */
function withDeadline<T>(
  timeoutMs: number,
  onExpire: () => void,
  work: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      try {
        onExpire();
      } finally {
        reject(new DnsTimeoutError(`DNS query timed out after ${timeoutMs} ms`));
      }
    }, timeoutMs);
    work().then((v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    }, (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(e);
    });
  });
}

function sameAddress(a: string, b: string): boolean {
  const x = tryParseIp(a), y = tryParseIp(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}

/** A {@linkcode DnsTransport} over a netstack: queries leave from the stack's own address. */
export function netstackTransport(
  stack: DnsClientStack,
  options: { port?: number } = {},
): DnsTransport {
  const port = options.port ?? 53;
  return {
    udpQuery(server, query, timeoutMs) {
      const sock = stack.dialUdp({ hostname: server, port });
      return withDeadline(timeoutMs, () => sock.close(), async () => {
        try {
          await sock.send(query);
          for (let i = 0; i < MAX_STRAY_DATAGRAMS; i++) {
            const [data, from] = await sock.receive();
            if (from.port !== port || !sameAddress(from.hostname, server)) continue;
            if (data.length < 2 || data[0] !== query[0] || data[1] !== query[1]) continue;
            return data;
          }
          throw new DnsServerError(`too many stray datagrams waiting for ${server}`);
        } finally {
          sock.close();
        }
      });
    },
    tcpQuery(server, query, timeoutMs) {
      let conn: { close(): void } | null = null;
      let expired = false;
      return withDeadline(timeoutMs, () => {
        expired = true;
        conn?.close();
      }, async () => {
        const c = await stack.dialTcp({ hostname: server, port });
        conn = c;
        if (expired) {
          c.close();
          throw new DnsTimeoutError();
        }
        try {
          await c.write(frameTcp(query));
          const prefix = new Uint8Array(2);
          if (!(await readFull(c, prefix))) throw new DnsServerError("TCP answer ended early");
          const body = new Uint8Array((prefix[0]! << 8) | prefix[1]!);
          if (!(await readFull(c, body))) throw new DnsServerError("TCP answer ended early");
          return body;
        } finally {
          c.close();
        }
      });
    },
  };
}
