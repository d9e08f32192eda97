/**
 * The built-in resolver: turns one DNS query (bytes) into one response (bytes), answering A and
 * AAAA through `Deno.resolveDns` (or an injected {@linkcode ResolveFn}) with the proxy's policy
 * applied to the answers. {@linkcode serveDns} (server.ts) puts it on the stack's port 53.
 *
 * What it answers, and why:
 *  1. Unparseable bytes, and responses (QR set): no answer, counted (`malformed`, `not_query`) —
 *     answering garbage invites reflection games.
 *  2. Opcode other than QUERY: NOTIMP. Not exactly one question: FORMERR. Class other than IN
 *     (e.g. CHAOS `version.bind`): REFUSED. A name with bytes outside printable ASCII, `.` or `\`
 *     inside a label: REFUSED (it is not a host name and is not forwarded).
 *  3. QTYPE other than A/AAAA (HTTPS, MX, TXT, PTR, …): NOERROR with no answers ("no data").
 *     Not NOTIMP: browsers send HTTPS/SVCB queries beside A/AAAA, and an error there can make a
 *     stub resolver give up on the server; "no data" makes them fall back to A/AAAA.
 *  4. A/AAAA: from the cache, else upstream. The policy (`allowAnswer`) sees each address; denied
 *     ones are removed and the response is NOERROR with what remains — possibly nothing, as
 *     Unbound's `private-address` does. Not REFUSED: a client would try the next server or fail
 *     the whole name although the other family may have allowed addresses.
 *  5. Upstream failure or timeout: SERVFAIL (not cached). More than `maxInFlight` queries waiting
 *     on the upstream: SERVFAIL at once. Identical lookups in flight share one upstream query.
 *
 * `Deno.resolveDns` (Deno 2.9.6, measured against a fake upstream on 127.0.0.1) reports
 * NXDOMAIN, "no data", SERVFAIL and REFUSED alike as `Deno.errors.NotFound`, and gives no TTLs.
 * So with the default upstream a NotFound becomes NOERROR with no answers, cached for
 * `negativeTtlSeconds` (short, as it may have been a SERVFAIL), and addresses are cached and
 * answered with `answerTtlSeconds`. An injected {@linkcode ResolveFn} can return real TTLs and
 * NXDOMAIN. The upstream needs net permission for its `ip:port` (`--allow-net=1.1.1.1:53`).
 *
 * @example Answering a query with an injected upstream
 * ```ts
 * import { DnsResolver } from "./resolver.ts";
 * import { answerAddresses, buildQuery, DNS_TYPE, parseMessage } from "./message.ts";
 * const resolver = new DnsResolver({
 *   resolve: (_name, _type) => Promise.resolve({ addresses: ["192.0.2.7", "127.0.0.1"] }),
 *   allowAnswer: (addr) => addr[0] !== 127,
 * });
 * const response = await resolver.handle(buildQuery({ id: 1, name: "a.test", type: 1 }), "udp");
 * const parsed = parseMessage(response!);
 * if (!parsed.ok) throw new Error();
 * const got = answerAddresses(parsed.message, "a.test", DNS_TYPE.A).map((a) => a.address);
 * if (got.join() !== "192.0.2.7") throw new Error(got.join());
 * resolver.close();
 * ```
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { tryParseIp } from "../wire/ip_address.ts";
import { type CachedAnswer, DnsCache } from "./cache.ts";
import {
  buildResponse,
  canonicalName,
  DNS_CLASS_IN,
  DNS_OPCODE_QUERY,
  DNS_RCODE,
  DNS_TYPE,
  parseMessage,
  udpResponseLimit,
} from "./message.ts";

/** The record types the resolver looks up. */
export type AddressRecordType = "A" | "AAAA";

/** What an upstream lookup found. */
export interface ResolveResult {
  /** Addresses as IP text (entries that are not IP text of the asked family are skipped). */
  addresses: string[];
  /** TTL in seconds, if the upstream knows it (default: the resolver's `answerTtlSeconds`). */
  ttlSeconds?: number;
  /** The name does not exist (answered as NXDOMAIN). */
  nxdomain?: boolean;
}

/**
 * An upstream lookup. Reject with `Deno.errors.NotFound` for "no such records" (answered as
 * NOERROR with no answers) and with anything else for a failure (SERVFAIL).
 */
export type ResolveFn = (
  name: string,
  type: AddressRecordType,
  signal: AbortSignal,
) => Promise<ResolveResult>;

/** An upstream name server for `Deno.resolveDns`. */
export interface UpstreamServer {
  /** IP address text. */
  ipAddr: string;
  /** Port (default 53). */
  port?: number;
}

/** A {@linkcode ResolveFn} over `Deno.resolveDns`, to `upstream` or the system's resolver. */
export function denoResolve(upstream?: UpstreamServer): ResolveFn {
  const nameServer = upstream ? { ipAddr: upstream.ipAddr, port: upstream.port ?? 53 } : undefined;
  return async (name, type, signal) => {
    // The client already applied its search list: ask for the absolute name, so the system
    // resolver's own search domains are not tried on top.
    const fqdn = name.endsWith(".") ? name : `${name}.`;
    const options = nameServer ? { nameServer, signal } : { signal };
    return { addresses: await Deno.resolveDns(fqdn, type, options) };
  };
}

/** Options of {@linkcode DnsResolver}. */
export interface DnsResolverOptions {
  /** Upstream lookup (default {@linkcode denoResolve} of `upstream`). */
  resolve?: ResolveFn;
  /** Upstream server for the default `resolve` (default: the system's). */
  upstream?: UpstreamServer;
  /** Policy on answers: return false to leave an address (4 or 16 bytes) out. Default: all. */
  allowAnswer?: (address: Uint8Array) => boolean;
  /** Most cached lookups (default 4096). */
  cacheSize?: number;
  /** Most queries waiting on the upstream at once; beyond: SERVFAIL (default 256). */
  maxInFlight?: number;
  /** ms an upstream lookup may take before SERVFAIL (default 5000). */
  upstreamTimeoutMs?: number;
  /** TTL for addresses when the upstream gives none (default 30 s). */
  answerTtlSeconds?: number;
  /** TTL of "no such name/records" in the cache (default 5 s). */
  negativeTtlSeconds?: number;
  /** Cap on every TTL, cached and answered (default 3600 s). */
  maxTtlSeconds?: number;
  /** Time source for the cache and the upstream timeout (default the system clock). */
  clock?: Clock;
}

/** Counter names of {@linkcode DnsResolver.stats}. */
export const DNS_RESOLVER_STAT_NAMES = [
  "queries",
  "queries_udp",
  "queries_tcp",
  "malformed",
  "not_query",
  "responses_noerror",
  "responses_nxdomain",
  "responses_servfail",
  "responses_refused",
  "responses_notimp",
  "responses_formerr",
  "other_qtype",
  "cache_hits",
  "cache_misses",
  "coalesced",
  "upstream_lookups",
  "upstream_errors",
  "upstream_timeouts",
  "inflight_rejected",
  "answers_filtered",
  "policy_errors",
  "truncated",
] as const;

/** A counter name of the resolver. */
export type DnsResolverStatName = typeof DNS_RESOLVER_STAT_NAMES[number];
/** A snapshot of the resolver's counters. */
export type DnsResolverStats = Record<DnsResolverStatName | "in_flight" | "cache_entries", number>;

/** Thrown inside a lookup when the upstream timeout fires. */
class UpstreamTimeout extends Error {}

/** Answers DNS queries for A/AAAA from an upstream, with a TTL cache and an answer policy. */
export class DnsResolver {
  #resolve: ResolveFn;
  #allow: (address: Uint8Array) => boolean;
  #cache: DnsCache;
  #clock: Clock;
  #maxInFlight: number;
  #timeoutMs: number;
  #answerTtl: number;
  #negativeTtl: number;
  #maxTtl: number;
  #inFlight = 0;
  #lookups = new Map<string, Promise<CachedAnswer & { ttl: number }>>();
  #controllers = new Set<AbortController>();
  #closed = false;
  #counters = Object.fromEntries(DNS_RESOLVER_STAT_NAMES.map((n) => [n, 0])) as Record<
    DnsResolverStatName,
    number
  >;

  /** Creates a resolver; it has no sockets of its own. */
  constructor(options: DnsResolverOptions = {}) {
    this.#resolve = options.resolve ?? denoResolve(options.upstream);
    this.#allow = options.allowAnswer ?? (() => true);
    this.#clock = options.clock ?? systemClock;
    this.#cache = new DnsCache({ maxEntries: options.cacheSize ?? 4096, clock: this.#clock });
    this.#maxInFlight = options.maxInFlight ?? 256;
    this.#timeoutMs = options.upstreamTimeoutMs ?? 5000;
    this.#answerTtl = options.answerTtlSeconds ?? 30;
    this.#negativeTtl = options.negativeTtlSeconds ?? 5;
    this.#maxTtl = options.maxTtlSeconds ?? 3600;
  }

  /**
   * The response to `query` received over `transport` (UDP responses are kept within 512 bytes
   * or the query's EDNS size, else truncated with TC), or null when it gets none.
   */
  async handle(query: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    this.#counters.queries++;
    this.#counters[transport === "udp" ? "queries_udp" : "queries_tcp"]++;
    const parsed = parseMessage(query);
    if (!parsed.ok) {
      this.#counters.malformed++;
      return null;
    }
    const msg = parsed.message;
    if (msg.qr) {
      this.#counters.not_query++;
      return null;
    }
    const maxSize = transport === "udp" ? udpResponseLimit(msg) : 0xffff;
    const reply = (rcode: number, answers: Uint8Array[] = [], ttl = 0): Uint8Array => {
      this.#countRcode(rcode);
      const out = buildResponse(msg, {
        rcode,
        answers: answers.map((address) => ({ address, ttl })),
        maxSize,
      });
      if (answers.length > 0 && (out[2]! & 0x02) !== 0) this.#counters.truncated++;
      return out;
    };
    if (msg.opcode !== DNS_OPCODE_QUERY) return reply(DNS_RCODE.NOTIMP);
    const q = msg.questions[0];
    if (!q || msg.questions.length !== 1) return reply(DNS_RCODE.FORMERR);
    if (q.class !== DNS_CLASS_IN || q.name.includes("\\")) return reply(DNS_RCODE.REFUSED);
    if ((q.type !== DNS_TYPE.A && q.type !== DNS_TYPE.AAAA) || q.name === ".") {
      this.#counters.other_qtype++;
      return reply(DNS_RCODE.NOERROR);
    }
    const answer = await this.#lookup(canonicalName(q.name), q.type === DNS_TYPE.A ? "A" : "AAAA");
    if (this.#closed) return null;
    if (answer === null) return reply(DNS_RCODE.SERVFAIL);
    if (answer.nxdomain) return reply(DNS_RCODE.NXDOMAIN);
    return reply(DNS_RCODE.NOERROR, this.#filter(answer.addresses), answer.ttl);
  }

  /** A snapshot of the counters. */
  stats(): DnsResolverStats {
    return { ...this.#counters, in_flight: this.#inFlight, cache_entries: this.#cache.size };
  }

  /** Empties the cache (e.g. after a policy change, though answers are filtered on every use). */
  clearCache(): void {
    this.#cache.clear();
  }

  /** Stops answering and aborts upstream lookups in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#controllers) c.abort(new Error("resolver closed"));
    this.#controllers.clear();
    this.#cache.clear();
  }

  // ---- internals ----

  #countRcode(rcode: number): void {
    switch (rcode) {
      case DNS_RCODE.NOERROR:
        this.#counters.responses_noerror++;
        break;
      case DNS_RCODE.NXDOMAIN:
        this.#counters.responses_nxdomain++;
        break;
      case DNS_RCODE.SERVFAIL:
        this.#counters.responses_servfail++;
        break;
      case DNS_RCODE.REFUSED:
        this.#counters.responses_refused++;
        break;
      case DNS_RCODE.NOTIMP:
        this.#counters.responses_notimp++;
        break;
      case DNS_RCODE.FORMERR:
        this.#counters.responses_formerr++;
        break;
    }
  }

  #filter(addresses: Uint8Array[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const a of addresses) {
      let ok = false;
      try {
        ok = this.#allow(a) === true;
      } catch {
        this.#counters.policy_errors++;
      }
      if (ok) out.push(a);
      else this.#counters.answers_filtered++;
    }
    return out;
  }

  /** The cached or looked-up answer, or null for a failure (SERVFAIL). */
  async #lookup(
    name: string,
    type: AddressRecordType,
  ): Promise<(CachedAnswer & { ttl: number }) | null> {
    const key = `${name}|${type}`;
    const hit = this.#cache.get(key);
    if (hit) {
      this.#counters.cache_hits++;
      return hit;
    }
    this.#counters.cache_misses++;
    if (this.#inFlight >= this.#maxInFlight) {
      this.#counters.inflight_rejected++;
      return null;
    }
    this.#inFlight++;
    try {
      let pending = this.#lookups.get(key);
      if (pending) {
        this.#counters.coalesced++;
      } else {
        pending = this.#upstream(name, type, key);
        this.#lookups.set(key, pending);
        const clear = () => {
          if (this.#lookups.get(key) === pending) this.#lookups.delete(key);
        };
        pending.then(clear, clear);
      }
      return await pending;
    } catch {
      return null;
    } finally {
      this.#inFlight--;
    }
  }

  async #upstream(
    name: string,
    type: AddressRecordType,
    key: string,
  ): Promise<CachedAnswer & { ttl: number }> {
    this.#counters.upstream_lookups++;
    const controller = new AbortController();
    this.#controllers.add(controller);
    let timer = -1;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        const e = new UpstreamTimeout("upstream timed out");
        controller.abort(e);
        reject(e);
      }, this.#timeoutMs);
    });
    let result: ResolveResult;
    try {
      result = await Promise.race([this.#resolve(name, type, controller.signal), timeout]);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        const answer = { addresses: [], nxdomain: false };
        const ttl = Math.max(0, Math.min(this.#negativeTtl, this.#maxTtl));
        this.#cache.set(key, answer, ttl);
        return { ...answer, ttl };
      }
      if (e instanceof UpstreamTimeout || (e as Error)?.name === "TimeoutError") {
        this.#counters.upstream_timeouts++;
      } else this.#counters.upstream_errors++;
      throw e;
    } finally {
      this.#clock.clearTimeout(timer);
      this.#controllers.delete(controller);
    }
    const want = type === "A" ? 4 : 16;
    const addresses: Uint8Array[] = [];
    for (const text of result.addresses ?? []) {
      const bytes = typeof text === "string" ? tryParseIp(text) : undefined;
      if (bytes && bytes.length === want) addresses.push(bytes);
    }
    const nxdomain = result.nxdomain === true;
    const given = typeof result.ttlSeconds === "number" && Number.isFinite(result.ttlSeconds)
      ? Math.floor(result.ttlSeconds)
      : undefined;
    const wanted = nxdomain || addresses.length === 0
      ? Math.min(this.#negativeTtl, given ?? this.#negativeTtl)
      : given ?? this.#answerTtl;
    const ttl = Math.max(0, Math.min(this.#maxTtl, wanted));
    const answer = { addresses, nxdomain };
    this.#cache.set(key, answer, ttl);
    return { ...answer, ttl };
  }
}
