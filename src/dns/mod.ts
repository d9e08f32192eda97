/**
 * DNS for @newt/proxy: the wire format, a stub resolver for in-tunnel lookups (the seed's
 * `dnsServers`), and the built-in resolver the proxy serves on the stack's own address.
 *
 * Permissions and rules are IP/CIDR based: flows arrive as addresses, so a name in
 * `--allow-net=api.example.com` can never match one. The built-in resolver applies the policy to
 * its answers instead.
 *
 * @example Message round trip
 * ```ts
 * import { buildQuery, DNS_TYPE, parseMessage } from "./mod.ts";
 * const r = parseMessage(buildQuery({ id: 1, name: "example.com", type: DNS_TYPE.A }));
 * if (!r.ok || r.message.questions.length !== 1) throw new Error();
 * ```
 * @module
 */
export {
  answerAddresses,
  buildQuery,
  buildResponse,
  canonicalName,
  DNS_CLASS_IN,
  DNS_HEADER_LEN,
  DNS_OPCODE_QUERY,
  DNS_RCODE,
  DNS_TYPE,
  DNS_UDP_MAX_PLAIN,
  type DnsAddressAnswer,
  type DnsAnswerAddress,
  type DnsEdns,
  type DnsMessage,
  type DnsParseFailure,
  type DnsParseResult,
  type DnsQueryOptions,
  type DnsQuestion,
  type DnsRecord,
  type DnsResponseOptions,
  EDNS_UDP_SIZE,
  encodeName,
  MAX_LABEL_LEN,
  MAX_NAME_WIRE_LEN,
  namesEqual,
  parseMessage,
  udpResponseLimit,
} from "./message.ts";
export {
  type DnsClientStack,
  type DnsTransport,
  lookupHost,
  type LookupHostOptions,
  netstackTransport,
} from "./client.ts";
export {
  type AddressRecordType,
  denoResolve,
  DNS_RESOLVER_STAT_NAMES,
  DnsResolver,
  type DnsResolverOptions,
  type DnsResolverStatName,
  type DnsResolverStats,
  type ResolveFn,
  type ResolveResult,
  type UpstreamServer,
} from "./resolver.ts";
export {
  DnsServer,
  type DnsServerOptions,
  type DnsServerSocketStats,
  type DnsServerStack,
  serveDns,
} from "./server.ts";
export { type CachedAnswer, type CacheHit, DnsCache, type DnsCacheOptions } from "./cache.ts";
export {
  DnsError,
  DnsNameError,
  DnsNotFoundError,
  DnsServerError,
  DnsTimeoutError,
} from "./errors.ts";
