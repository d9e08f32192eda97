/**
 * wg-quick configuration files: parse and write.
 *
 * Follows wg-quick's reading rules: `[Interface]` once, `[Peer]` any number of times, `Key = Value`
 * lines with case-insensitive keys and section names, `#` starts a comment anywhere on a line,
 * blank lines ignored, and `Address`, `DNS`, `AllowedIPs` (comma lists) and the `PreUp`…`PostDown`
 * hooks accumulate over repeated lines. Everything else is strict: an unknown section or key, a
 * repeated single-valued key or a bad value throws a {@link ConfigError} naming the line, e.g.
 * `line 7: invalid AllowedIPs '10.0.0.0/33': prefix length out of range (0-32)`.
 *
 * Extension: `allowSections: ["Proxy"]` returns such sections raw (key, value, line) in
 * {@link WgConfig.sections}; `extraSections: { Proxy: handler }` also calls a handler per entry and
 * turns what it throws into a {@link ConfigError} on that line.
 *
 * `Table`, `PreUp`, `PostUp`, `PreDown`, `PostDown`, `SaveConfig` and `FwMark` are parsed and kept
 * (so writing a config loses nothing) but have no effect on a userspace device.
 *
 * @example
 * ```ts
 * import { parseConfig, writeConfig } from "./config.ts";
 * const text = `[Interface]
 * PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
 * Address = 10.0.0.1/24
 *
 * [Peer]
 * PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
 * AllowedIPs = 10.0.0.2/32
 * `;
 * const cfg = parseConfig(text);
 * if (cfg.peers.length !== 1) throw new Error();
 * if (parseConfig(writeConfig(cfg)).peers[0]?.allowedIps.length !== 1) throw new Error();
 * ```
 * @module
 */

import {
  type Cidr,
  formatCidr,
  formatHostPort,
  formatIp,
  IpParseError,
  parseCidr,
  parseHostPort,
  tryParseIp,
} from "../wire/ip_address.ts";
import { formatKey, KeyFormatError, parseKey } from "./key_text.ts";

/** A bad configuration file: `line` is 1-based (0 when the problem is the file as a whole). */
export class ConfigError extends Error {
  /** 1-based line number, or 0 for the whole file. */
  readonly line: number;
  /** What is wrong, without the line prefix. */
  readonly reason: string;
  /** Creates `line N: reason`. */
  constructor(line: number, reason: string) {
    super(line > 0 ? `line ${line}: ${reason}` : reason);
    this.name = "ConfigError";
    this.line = line;
    this.reason = reason;
  }
}

/** A peer's endpoint: a host name or IP literal (no brackets) and a port. */
export interface Endpoint {
  /** Host name or address text. */
  host: string;
  /** UDP port 1-65535. */
  port: number;
}

/** The `[Interface]` section. */
export interface InterfaceConfig {
  /** 32-byte private key. */
  privateKey: Uint8Array;
  /** UDP listen port; undefined means any free port. */
  listenPort?: number;
  /** Interface addresses with their prefix lengths; host bits kept (`10.0.0.1/24`). */
  addresses: Cidr[];
  /** DNS server addresses. */
  dns: Uint8Array[];
  /** DNS search domains (non-address `DNS` entries, as wg-quick treats them). */
  dnsSearch: string[];
  /** Interface MTU. */
  mtu?: number;
  /** wg-quick `Table` (kept, ignored). */
  table?: string;
  /** wg-quick `PreUp` commands (kept, never run). */
  preUp: string[];
  /** wg-quick `PostUp` commands (kept, never run). */
  postUp: string[];
  /** wg-quick `PreDown` commands (kept, never run). */
  preDown: string[];
  /** wg-quick `PostDown` commands (kept, never run). */
  postDown: string[];
  /** wg-quick `SaveConfig` (kept, ignored). */
  saveConfig?: boolean;
  /** `FwMark`; 0 is off (kept, ignored). */
  fwMark?: number;
}

/** One `[Peer]` section. */
export interface PeerConfig {
  /** 32-byte public key. */
  publicKey: Uint8Array;
  /** Optional 32-byte preshared key. */
  presharedKey?: Uint8Array;
  /** Prefixes routed to and accepted from this peer (host bits masked). */
  allowedIps: Cidr[];
  /** Where to send until the peer roams. */
  endpoint?: Endpoint;
  /** Persistent keepalive interval in seconds; 0 is off. */
  persistentKeepalive: number;
  /** Line of the `[Peer]` header (for later errors such as overlapping AllowedIPs). */
  line?: number;
}

/** One `Key = Value` line of an extension section. */
export interface RawEntry {
  /** Key as written (trimmed). */
  key: string;
  /** Value as written (trimmed, comment removed). */
  value: string;
  /** 1-based line number. */
  line: number;
}

/** An extension section kept raw. */
export interface RawSection {
  /** Section name as given in the parse options (e.g. `"Proxy"`). */
  name: string;
  /** Line of the header. */
  line: number;
  /** Its entries, in file order. */
  entries: RawEntry[];
}

/** A parsed wg-quick file. */
export interface WgConfig {
  /** The `[Interface]` section. */
  interface: InterfaceConfig;
  /** The `[Peer]` sections, in file order. */
  peers: PeerConfig[];
  /** Extension sections (only those allowed by the options), in file order. */
  sections: RawSection[];
  /** Accepted but suspicious input, e.g. AllowedIPs with host bits set. */
  warnings: ConfigError[];
}

/** Called for each entry of an extension section; throw to reject it (the line is added). */
export type SectionHandler = (entry: RawEntry, section: RawSection) => void;

/** Options for {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Extension section names to accept and return raw (case-insensitive). */
  allowSections?: string[];
  /** Extension sections with a per-entry handler; these are accepted and returned raw too. */
  extraSections?: Record<string, SectionHandler>;
}

const INTERFACE_KEYS = [
  "PrivateKey",
  "ListenPort",
  "Address",
  "DNS",
  "MTU",
  "Table",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
  "SaveConfig",
  "FwMark",
] as const;
const PEER_KEYS = [
  "PublicKey",
  "PresharedKey",
  "AllowedIPs",
  "Endpoint",
  "PersistentKeepalive",
] as const;
/** Keys that may repeat: their values accumulate. */
const REPEATABLE = new Set([
  "Address",
  "DNS",
  "AllowedIPs",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
]);

function canonicalKey(keys: readonly string[], key: string): string | undefined {
  const lower = key.toLowerCase();
  return keys.find((k) => k.toLowerCase() === lower);
}

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function parseUint(text: string, min: number, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function splitList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function ipReason(e: unknown, value: string): string {
  if (e instanceof IpParseError) return e.input === value ? e.reason : e.message;
  throw e;
}

interface PeerDraft {
  line: number;
  seen: Map<string, number>;
  cfg: Partial<PeerConfig> & { allowedIps: Cidr[]; persistentKeepalive: number };
}

interface InterfaceDraft {
  line: number;
  seen: Map<string, number>;
  cfg: Partial<InterfaceConfig> & Omit<InterfaceConfig, "privateKey">;
}

/** Parses wg-quick text; throws {@link ConfigError} on the first problem. */
export function parseConfig(text: string, options: ParseConfigOptions = {}): WgConfig {
  const extraNames = new Map<string, string>();
  for (const name of options.allowSections ?? []) extraNames.set(name.toLowerCase(), name);
  for (const name of Object.keys(options.extraSections ?? {})) {
    extraNames.set(name.toLowerCase(), name);
  }
  const handlers = options.extraSections ?? {};

  let iface: InterfaceDraft | undefined;
  const peers: PeerDraft[] = [];
  const sections: RawSection[] = [];
  const warnings: ConfigError[] = [];
  let current: { kind: "interface"; d: InterfaceDraft } | { kind: "peer"; d: PeerDraft } | {
    kind: "raw";
    s: RawSection;
  } | undefined;

  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fail = (reason: string): never => {
      throw new ConfigError(lineNo, reason);
    };
    const hash = (lines[i] as string).indexOf("#");
    const stripped = (hash >= 0 ? (lines[i] as string).slice(0, hash) : lines[i] as string).trim();
    if (stripped === "") continue;

    if (stripped.startsWith("[")) {
      const m = /^\[\s*([A-Za-z0-9_-]+)\s*\]$/.exec(stripped);
      if (m === null) fail(`malformed section header '${stripped}'`);
      const name = (m as RegExpExecArray)[1] as string;
      const lower = name.toLowerCase();
      if (lower === "interface") {
        if (iface !== undefined) {
          fail(`duplicate [Interface] section (first on line ${iface.line})`);
        }
        iface = {
          line: lineNo,
          seen: new Map(),
          cfg: {
            addresses: [],
            dns: [],
            dnsSearch: [],
            preUp: [],
            postUp: [],
            preDown: [],
            postDown: [],
          },
        };
        current = { kind: "interface", d: iface };
      } else if (lower === "peer") {
        const d: PeerDraft = {
          line: lineNo,
          seen: new Map(),
          cfg: { allowedIps: [], persistentKeepalive: 0 },
        };
        peers.push(d);
        current = { kind: "peer", d };
      } else {
        const extra = extraNames.get(lower);
        if (extra === undefined) fail(`unknown section [${name}]`);
        const s: RawSection = { name: extra as string, line: lineNo, entries: [] };
        sections.push(s);
        current = { kind: "raw", s };
      }
      continue;
    }

    const eq = stripped.indexOf("=");
    if (eq < 0) fail(`expected 'Key = Value', got '${stripped}'`);
    const rawKey = stripped.slice(0, eq).trim();
    const value = stripped.slice(eq + 1).trim();
    if (rawKey === "") fail("missing key before '='");
    if (current === undefined) fail(`'${rawKey}' appears before any [Interface] or [Peer] section`);
    const cur = current as NonNullable<typeof current>;

    if (cur.kind === "raw") {
      const entry: RawEntry = { key: rawKey, value, line: lineNo };
      cur.s.entries.push(entry);
      const handler = handlers[cur.s.name];
      if (handler !== undefined) {
        try {
          handler(entry, cur.s);
        } catch (e) {
          if (e instanceof ConfigError) throw e;
          fail(e instanceof Error ? e.message : String(e));
        }
      }
      continue;
    }

    const sectionName = cur.kind === "interface" ? "Interface" : "Peer";
    const key = canonicalKey(cur.kind === "interface" ? INTERFACE_KEYS : PEER_KEYS, rawKey);
    if (key === undefined) fail(`unknown key '${rawKey}' in [${sectionName}]`);
    const k = key as string;
    const first = cur.d.seen.get(k);
    if (first !== undefined && !REPEATABLE.has(k)) {
      fail(`duplicate ${k} (first set on line ${first})`);
    }
    cur.d.seen.set(k, lineNo);
    if (value === "" && !REPEATABLE.has(k)) fail(`${k} has no value`);
    const bad = (reason: string): never => fail(`invalid ${k} '${value}': ${reason}`);

    if (cur.kind === "interface") {
      const c = cur.d.cfg;
      switch (k) {
        case "PrivateKey":
          c.privateKey = parseKeyValue(value, bad);
          break;
        case "ListenPort": {
          const port = parseUint(value, 0, 65535);
          if (port === undefined) bad("must be a port number 0-65535");
          c.listenPort = port as number;
          break;
        }
        case "Address":
          for (const item of splitList(value)) {
            try {
              const a = parseCidr(item, { allowBare: true, mask: false });
              c.addresses.push({ addr: a.addr, bits: a.bits });
            } catch (e) {
              fail(`invalid Address '${item}': ${ipReason(e, item)}`);
            }
          }
          break;
        case "DNS":
          for (const item of splitList(value)) {
            const ip = tryParseIp(item);
            if (ip !== undefined) c.dns.push(ip);
            else if (HOSTNAME_RE.test(item) && !/^[0-9.]+$/.test(item)) c.dnsSearch.push(item);
            else fail(`invalid DNS '${item}': neither an IP address nor a search domain`);
          }
          break;
        case "MTU": {
          const mtu = parseUint(value, 576, 65535);
          if (mtu === undefined) bad("must be a number 576-65535");
          c.mtu = mtu as number;
          break;
        }
        case "Table":
          c.table = value;
          break;
        case "PreUp":
        case "PostUp":
        case "PreDown":
        case "PostDown": {
          const hook = (k.charAt(0).toLowerCase() + k.slice(1)) as
            | "preUp"
            | "postUp"
            | "preDown"
            | "postDown";
          if (value !== "") c[hook].push(value);
          break;
        }
        case "SaveConfig": {
          const v = value.toLowerCase();
          if (v !== "true" && v !== "false") bad("must be true or false");
          c.saveConfig = v === "true";
          break;
        }
        case "FwMark": {
          if (value.toLowerCase() === "off") {
            c.fwMark = 0;
            break;
          }
          const n = /^0x[0-9a-f]{1,8}$/i.test(value)
            ? parseInt(value.slice(2), 16)
            : parseUint(value, 0, 0xffffffff);
          if (n === undefined) bad("must be off or a 32-bit number (decimal or 0x hex)");
          c.fwMark = n as number;
          break;
        }
      }
    } else {
      const c = cur.d.cfg;
      switch (k) {
        case "PublicKey":
          c.publicKey = parseKeyValue(value, bad);
          break;
        case "PresharedKey":
          c.presharedKey = parseKeyValue(value, bad);
          break;
        case "AllowedIPs":
          for (const item of splitList(value)) {
            let cidr;
            try {
              cidr = parseCidr(item, { allowBare: true });
            } catch (e) {
              fail(`invalid AllowedIPs '${item}': ${ipReason(e, item)}`);
            }
            const parsed = cidr as NonNullable<typeof cidr>;
            if (parsed.hostBitsSet) {
              warnings.push(
                new ConfigError(
                  lineNo,
                  `AllowedIPs '${item}' has host bits set; using ${formatCidr(parsed)}`,
                ),
              );
            }
            c.allowedIps.push({ addr: parsed.addr, bits: parsed.bits });
          }
          break;
        case "Endpoint": {
          let hp;
          try {
            hp = parseHostPort(value);
          } catch (e) {
            bad(ipReason(e, value));
          }
          const ep = hp as NonNullable<typeof hp>;
          if (ep.port === 0) bad("port must be 1-65535");
          c.endpoint = { host: ep.ip !== undefined ? formatIp(ep.ip) : ep.host, port: ep.port };
          break;
        }
        case "PersistentKeepalive": {
          if (value.toLowerCase() === "off") {
            c.persistentKeepalive = 0;
            break;
          }
          const n = parseUint(value, 0, 65535);
          if (n === undefined) bad("must be off or a number of seconds 0-65535");
          c.persistentKeepalive = n as number;
          break;
        }
      }
    }
  }

  if (iface === undefined) throw new ConfigError(0, "missing [Interface] section");
  if (iface.cfg.privateKey === undefined) {
    throw new ConfigError(iface.line, "[Interface] has no PrivateKey");
  }
  const seenKeys = new Map<string, number>();
  const outPeers: PeerConfig[] = [];
  for (const p of peers) {
    if (p.cfg.publicKey === undefined) throw new ConfigError(p.line, "[Peer] has no PublicKey");
    const text = formatKey(p.cfg.publicKey);
    const dup = seenKeys.get(text);
    if (dup !== undefined) {
      throw new ConfigError(p.line, `duplicate peer ${text} (first on line ${dup})`);
    }
    seenKeys.set(text, p.line);
    outPeers.push({ ...p.cfg, publicKey: p.cfg.publicKey, line: p.line });
  }
  return {
    interface: { ...iface.cfg, privateKey: iface.cfg.privateKey },
    peers: outPeers,
    sections,
    warnings,
  };
}

function parseKeyValue(value: string, bad: (reason: string) => never): Uint8Array {
  try {
    return parseKey(value);
  } catch (e) {
    if (e instanceof KeyFormatError) bad(e.message);
    throw e;
  }
}

/**
 * Writes canonical wg-quick text: fixed key order and spelling, one comma list per list key,
 * canonical addresses, IPv6 endpoints bracketed. `parseConfig(writeConfig(c))` equals `c` (apart
 * from line numbers and warnings).
 */
export function writeConfig(cfg: WgConfig): string {
  const out: string[] = ["[Interface]"];
  const i = cfg.interface;
  out.push(`PrivateKey = ${formatKey(i.privateKey)}`);
  if (i.listenPort !== undefined) out.push(`ListenPort = ${i.listenPort}`);
  if (i.addresses.length > 0) out.push(`Address = ${i.addresses.map(formatCidr).join(", ")}`);
  const dns = [...i.dns.map(formatIp), ...i.dnsSearch];
  if (dns.length > 0) out.push(`DNS = ${dns.join(", ")}`);
  if (i.mtu !== undefined) out.push(`MTU = ${i.mtu}`);
  if (i.table !== undefined) out.push(`Table = ${i.table}`);
  for (const cmd of i.preUp) out.push(`PreUp = ${cmd}`);
  for (const cmd of i.postUp) out.push(`PostUp = ${cmd}`);
  for (const cmd of i.preDown) out.push(`PreDown = ${cmd}`);
  for (const cmd of i.postDown) out.push(`PostDown = ${cmd}`);
  if (i.saveConfig !== undefined) out.push(`SaveConfig = ${i.saveConfig}`);
  if (i.fwMark !== undefined) {
    out.push(`FwMark = ${i.fwMark === 0 ? "off" : `0x${i.fwMark.toString(16)}`}`);
  }
  for (const p of cfg.peers) {
    out.push("", "[Peer]", `PublicKey = ${formatKey(p.publicKey)}`);
    if (p.presharedKey !== undefined) out.push(`PresharedKey = ${formatKey(p.presharedKey)}`);
    if (p.allowedIps.length > 0) {
      out.push(`AllowedIPs = ${p.allowedIps.map(formatCidr).join(", ")}`);
    }
    if (p.endpoint !== undefined) {
      out.push(`Endpoint = ${formatHostPort(p.endpoint.host, p.endpoint.port)}`);
    }
    if (p.persistentKeepalive > 0) out.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  for (const s of cfg.sections) {
    out.push("", `[${s.name}]`);
    for (const e of s.entries) out.push(`${e.key} = ${e.value}`);
  }
  return out.join("\n") + "\n";
}
