/**
 * The allow-list: decides, before anything is dialed, whether a flow from a peer may reach its
 * destination. Three layers, all of which must allow:
 *
 *  1. our rules (`allow`/`deny` by CIDR, port range, protocol and peer, first match wins),
 *  2. the built-in deny set (what only the proxy host itself should reach), which an `allow`
 *     rule naming the target with a non-zero prefix overrides,
 *  3. Deno's own net permission for `ip:port` (`--allow-net` / `--deny-net`), queried without
 *     ever prompting.
 *
 * IPv4-mapped and -embedded IPv6 (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) is checked as the
 * IPv4 address it carries, so no spelling of 127.0.0.1 slips through.
 *
 * @module
 */
import {
  type Cidr,
  cidrContains,
  embeddedV4,
  formatHostPort,
  formatIp,
  isV4Mapped,
  parseCidr,
  unmapV4,
} from "../wire/ip_address.ts";
import { BoundedCache } from "../bounded_cache.ts";

/** Transport protocol of a flow. */
export type Proto = "tcp" | "udp";

/** One allow/deny rule. Absent fields match anything. */
export interface PolicyRule {
  /** What a match does. */
  action: "allow" | "deny";
  /** Destination prefix. */
  cidr?: Cidr;
  /** Lowest destination port. */
  portLow?: number;
  /** Highest destination port. */
  portHigh?: number;
  /** Protocol. */
  proto?: Proto;
  /** Peer public key (base64). */
  peer?: string;
  /** The rule as written, for logs. */
  text?: string;
}

/** Why a flow was refused. */
export type DenyReason = "denied-rule" | "denied-builtin" | "denied-permission";

/** The decision for one flow. */
export type Verdict =
  | { allowed: true; rule?: PolicyRule }
  | { allowed: false; reason: DenyReason; detail: string };

/** Thrown for a rule text that does not parse. */
export class RuleSyntaxError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RuleSyntaxError";
  }
}

/**
 * Parses a rule: `allow|deny <cidr|any>[:<port>[-<port>]] [tcp|udp] [peer=<base64 key>]`,
 * e.g. `allow 10.0.0.0/8:80-443 tcp`, `deny any:25`, `allow [fd00::]/8:53 udp peer=AbC…=`.
 */
export function parseRule(text: string): PolicyRule {
  const parts = text.trim().split(/\s+/);
  const action = parts[0]?.toLowerCase();
  if (action !== "allow" && action !== "deny") {
    throw new RuleSyntaxError(`rule "${text}": must start with allow or deny`);
  }
  const target = parts[1];
  if (!target) throw new RuleSyntaxError(`rule "${text}": missing destination (CIDR or any)`);
  const rule: PolicyRule = { action, text: text.trim() };
  // Split host and port: "[v6]/len:ports", "v4/len:ports", "any:ports".
  let host = target, ports: string | undefined;
  const m = /^\[([^\]]+)\](\/\d+)?(?::(.+))?$/.exec(target);
  if (m) {
    host = m[1]! + (m[2] ?? "");
    ports = m[3];
  } else if (!target.includes("::") && target.split(":").length === 2) {
    [host, ports] = target.split(":") as [string, string];
  } else if (target.split(":").length > 2) {
    host = target; // bare IPv6 without port
  }
  if (host.toLowerCase() !== "any") {
    try {
      rule.cidr = parseCidr(
        host.includes("/") ? host : host + (host.includes(":") ? "/128" : "/32"),
      );
    } catch (e) {
      throw new RuleSyntaxError(`rule "${text}": ${(e as Error).message}`);
    }
  }
  if (ports !== undefined) {
    const pm = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(ports);
    const lo = pm ? Number(pm[1]) : NaN, hi = pm?.[2] ? Number(pm[2]) : lo;
    if (!pm || lo > 65535 || hi > 65535 || lo > hi) {
      throw new RuleSyntaxError(`rule "${text}": bad port or range "${ports}"`);
    }
    rule.portLow = lo;
    rule.portHigh = hi;
  }
  for (const extra of parts.slice(2)) {
    const e = extra.toLowerCase();
    if (e === "tcp" || e === "udp") rule.proto = e;
    else if (e.startsWith("peer=")) rule.peer = extra.slice(5);
    else {throw new RuleSyntaxError(
        `rule "${text}": unknown word "${extra}" (tcp, udp or peer=KEY)`,
      );}
  }
  return rule;
}

const cidrs = (...list: string[]) => list.map((t) => parseCidr(t));

/**
 * Destinations refused even when Deno grants them: this host's own wildcard, loopback,
 * link-local (incl. 169.254.169.254 metadata), multicast, broadcast and reserved ranges, and
 * cloud metadata addresses outside link-local.
 */
export const BUILTIN_DENY: readonly Cidr[] = cidrs(
  "0.0.0.0/8",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "100.100.100.200/32",
  "168.63.129.16/32",
  "::/128",
  "::1/128",
  "fe80::/10",
  "ff00::/8",
  "fd00:ec2::254/128",
);

/** Options of a {@linkcode Policy}. */
export interface PolicyOptions {
  /** Rules, evaluated in order; first match wins. No match = allowed (if Deno grants). */
  rules?: PolicyRule[];
  /** Extra prefixes to refuse like the built-in set: the tunnel's own prefixes, for instance. */
  extraDeny?: Cidr[];
  /** This host's own endpoints the proxy listens on (WireGuard port, metrics): refused. */
  ownEndpoints?: Array<{ addr?: Uint8Array; port: number; proto: Proto }>;
  /** Replaces Deno's permission query (tests). Must not prompt. */
  permission?: (host: string) => boolean;
}

/**
 * Targets Deno said yes to. A query costs ~10 µs on every new flow; a cached yes cannot let
 * anything through that Deno would refuse, because the dial itself is checked again by Deno
 * (a permission revoked at run time makes it fail with `NotCapable`: a refused flow). A no is
 * never cached.
 */
const granted = new BoundedCache<string, true>(4096);

/** Deno's answer for dialing `host` ("ip:port"): only "granted" counts; never prompts. */
export function denoGrantsNet(host: string): boolean {
  if (granted.has(host)) return true;
  let ok: boolean;
  try {
    ok = Deno.permissions.querySync({ name: "net", host }).state === "granted";
  } catch {
    ok = false;
  }
  if (ok) {
    granted.set(host, true);
  }
  return ok;
}

/** The allow-list. */
export class Policy {
  #rules: PolicyRule[];
  #deny: Cidr[];
  #own: Array<{ addr?: Uint8Array; port: number; proto: Proto }>;
  #permission: (host: string) => boolean;

  /** Creates a policy. */
  constructor(options: PolicyOptions = {}) {
    this.#rules = options.rules ?? [];
    this.#deny = [...BUILTIN_DENY, ...(options.extraDeny ?? [])];
    this.#own = options.ownEndpoints ?? [];
    this.#permission = options.permission ?? denoGrantsNet;
  }

  /** The rules in force. */
  get rules(): readonly PolicyRule[] {
    return this.#rules;
  }

  /** Replaces the rules at runtime; flows already open are not affected. */
  setRules(rules: PolicyRule[]): void {
    this.#rules = [...rules];
  }

  /**
   * Whether an address may be reached at all, port aside: the built-in deny set and deny rules
   * with no port or protocol. The built-in resolver uses it to leave such answers out.
   */
  addressAllowed(addr: Uint8Array, peer?: string): boolean {
    const v4 = addr.length === 16 ? (isV4Mapped(addr) ? unmapV4(addr) : embeddedV4(addr)) : addr;
    const forms = v4 && v4 !== addr ? [addr, v4] : [addr];
    for (const rule of this.#rules) {
      if (rule.portLow !== undefined || rule.proto) continue;
      if (!forms.some((a) => matches(rule, "tcp", a, 0, peer))) continue;
      if (rule.action === "deny") return false;
      if (rule.cidr && rule.cidr.bits > 0) return true;
      break;
    }
    return !forms.some((a) => this.#deny.some((c) => cidrContains(c, a)));
  }

  /** Decides one flow to `addr:port` (addr 4 or 16 bytes) from peer `peer` (base64 key). */
  check(proto: Proto, addr: Uint8Array, port: number, peer?: string): Verdict {
    const v4 = addr.length === 16 ? (isV4Mapped(addr) ? unmapV4(addr) : embeddedV4(addr)) : addr;
    const forms = v4 && v4 !== addr ? [addr, v4] : [addr];
    let explicit: PolicyRule | undefined;
    for (const rule of this.#rules) {
      if (!forms.some((a) => matches(rule, proto, a, port, peer))) continue;
      if (rule.action === "deny") {
        return { allowed: false, reason: "denied-rule", detail: rule.text ?? "deny rule" };
      }
      if (rule.cidr && rule.cidr.bits > 0) explicit = rule;
      break;
    }
    if (!explicit) {
      for (const a of forms) {
        const hit = this.#deny.find((c) => cidrContains(c, a));
        if (hit) return { allowed: false, reason: "denied-builtin", detail: formatIp(hit.addr) };
        for (const o of this.#own) {
          if (o.port === port && o.proto === proto && (!o.addr || sameAddr(o.addr, a))) {
            return { allowed: false, reason: "denied-builtin", detail: "proxy's own endpoint" };
          }
        }
      }
    }
    // Deno dials the address as given; a v4-mapped address is dialed as its IPv4 form.
    const dial = isV4Mapped(addr) ? unmapV4(addr) : addr;
    const host = formatHostPort(dial, port);
    if (!this.#permission(host)) {
      return { allowed: false, reason: "denied-permission", detail: host };
    }
    return explicit ? { allowed: true, rule: explicit } : { allowed: true };
  }
}

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function matches(
  r: PolicyRule,
  proto: Proto,
  addr: Uint8Array,
  port: number,
  peer?: string,
): boolean {
  if (r.proto && r.proto !== proto) return false;
  if (r.peer && r.peer !== peer) return false;
  if (r.portLow !== undefined && (port < r.portLow || port > r.portHigh!)) return false;
  if (r.cidr && (r.cidr.addr.length !== addr.length || !cidrContains(r.cidr, addr))) return false;
  return true;
}
