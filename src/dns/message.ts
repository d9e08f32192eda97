/**
 * DNS messages on the wire (RFC 1035 section 4, EDNS0 from RFC 6891): queries built, responses
 * parsed and built. Only what a stub resolver and a small forwarder need: A, AAAA, CNAME and OPT
 * records are decoded; every other record is kept as raw RDATA.
 *
 * Parsing untrusted bytes never throws: {@linkcode parseMessage} returns a result with a
 * {@linkcode DnsParseFailure} reason and the offset where reading stopped. Every read is checked
 * against the length, and a compression pointer must point strictly before the labels that lead
 * to it (RFC 1035 4.1.4: "a pointer to a prior occurrence"), so a pointer loop is impossible and
 * name decoding ends after at most 255 bytes of name.
 *
 * Names are text: labels joined by `.`, the root is `.`, and bytes that are not printable ASCII,
 * or are `.` or `\` inside a label, are written as master-file escapes (`\.`, `\\`, `\DDD`), so
 * {@linkcode encodeName} restores exactly the bytes {@linkcode parseMessage} read, case included.
 *
 * @example Build a query and read back its question
 * ```ts
 * import { buildQuery, DNS_TYPE, parseMessage } from "./message.ts";
 * const q = buildQuery({ id: 7, name: "Example.COM", type: DNS_TYPE.AAAA });
 * const r = parseMessage(q);
 * if (!r.ok || r.message.questions[0]?.name !== "Example.COM") throw new Error();
 * if (r.message.edns?.udpSize !== 1232) throw new Error();
 * ```
 * @module
 */
import { formatIp } from "../wire/ip_address.ts";
import { DnsNameError } from "./errors.ts";

/** Record types this module knows by name (RFC 1035, RFC 3596, RFC 6891). */
export const DNS_TYPE = {
  /** IPv4 address. */
  A: 1,
  /** Name server. */
  NS: 2,
  /** Canonical name (alias). */
  CNAME: 5,
  /** Start of authority. */
  SOA: 6,
  /** Domain name pointer. */
  PTR: 12,
  /** Mail exchange. */
  MX: 15,
  /** Text. */
  TXT: 16,
  /** IPv6 address. */
  AAAA: 28,
  /** EDNS0 pseudo-record. */
  OPT: 41,
  /** Any type (a QTYPE only). */
  ANY: 255,
} as const;

/** The Internet class. */
export const DNS_CLASS_IN = 1;

/** Response codes (RFC 1035 4.1.1; BADVERS from RFC 6891 needs EDNS). */
export const DNS_RCODE = {
  /** No error. */
  NOERROR: 0,
  /** The query was malformed. */
  FORMERR: 1,
  /** The server failed. */
  SERVFAIL: 2,
  /** The name does not exist. */
  NXDOMAIN: 3,
  /** The kind of query is not implemented. */
  NOTIMP: 4,
  /** Refused by policy. */
  REFUSED: 5,
} as const;

/** Opcode of a standard query. */
export const DNS_OPCODE_QUERY = 0;
/** Length of the fixed header. */
export const DNS_HEADER_LEN = 12;
/** Largest UDP payload a message may have without EDNS (RFC 1035 4.2.1). */
export const DNS_UDP_MAX_PLAIN = 512;
/**
 * The EDNS UDP payload size we advertise and honour at most: 1232 bytes fits a 1280-byte IPv6
 * MTU without fragmentation (DNS flag day 2020).
 */
export const EDNS_UDP_SIZE = 1232;
/** Longest label (RFC 1035 2.3.4). */
export const MAX_LABEL_LEN = 63;
/** Longest name on the wire, length bytes and root included (RFC 1035 2.3.4). */
export const MAX_NAME_WIRE_LEN = 255;

/** Why bytes are not a DNS message. */
export type DnsParseFailure =
  | "short-header"
  | "truncated"
  | "bad-label-type"
  | "name-too-long"
  | "pointer-out-of-range"
  | "pointer-loop"
  | "bad-rdata"
  | "bad-opt";

/** A question (RFC 1035 4.1.2). */
export interface DnsQuestion {
  /** The name as text (see the module doc for escapes). */
  name: string;
  /** QTYPE. */
  type: number;
  /** QCLASS. */
  class: number;
}

/** A resource record (RFC 1035 4.1.3). */
export interface DnsRecord {
  /** Owner name. */
  name: string;
  /** TYPE. */
  type: number;
  /** CLASS (for OPT: the UDP payload size). */
  class: number;
  /** TTL in seconds; values with the top bit set read as 0 (RFC 2181 8). For OPT: raw. */
  ttl: number;
  /** Raw RDATA (a copy). */
  data: Uint8Array;
  /** A/AAAA: the address as canonical text. */
  address?: string;
  /** CNAME: the target name. */
  target?: string;
}

/** The EDNS0 OPT pseudo-record of a message (RFC 6891 6.1.3). */
export interface DnsEdns {
  /** Requestor's UDP payload size (values under 512 read as 512). */
  udpSize: number;
  /** EDNS version. */
  version: number;
  /** Upper 8 bits of the 12-bit rcode. */
  extendedRcode: number;
  /** DNSSEC OK bit. */
  dnssecOk: boolean;
}

/** A parsed message. */
export interface DnsMessage {
  /** Transaction id. */
  id: number;
  /** QR: this is a response. */
  qr: boolean;
  /** Opcode (0 = QUERY). */
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated: the answer did not fit; ask again over TCP. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** Response code, including the EDNS extended bits when an OPT record is present. */
  rcode: number;
  /** Question section. */
  questions: DnsQuestion[];
  /** Answer section. */
  answers: DnsRecord[];
  /** Authority section. */
  authorities: DnsRecord[];
  /** Additional section, without the OPT record. */
  additionals: DnsRecord[];
  /** The OPT record, if present. */
  edns: DnsEdns | null;
}

/** Result of {@linkcode parseMessage}: the message, or why not and where. */
export type DnsParseResult =
  | { ok: true; message: DnsMessage }
  | { ok: false; error: DnsParseFailure; offset: number };

// ---------------------------------------------------------------------------------------------
// Names: text <-> wire

const BACKSLASH = 0x5c;
const DOT = 0x2e;

/** Appends label bytes as text, escaping what is not printable or is `.`/`\`. */
function labelText(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === DOT || c === BACKSLASH) s += "\\" + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += "\\" + String(c).padStart(3, "0");
  }
  return s;
}

/**
 * Encodes a name as wire labels ending in the root label. A trailing dot is optional; `.` or ""
 * is the root. Throws {@linkcode DnsNameError} for an empty label, a label over 63 bytes, a name
 * over 255 bytes on the wire, a non-ASCII character or a bad escape.
 */
export function encodeName(name: string): Uint8Array {
  const out = new Uint8Array(MAX_NAME_WIRE_LEN);
  if (name === "." || name === "") return out.slice(0, 1);
  let w = 0; // start of the current label's length byte
  let len = 0;
  let i = 0;
  const fail = (reason: string): never => {
    throw new DnsNameError(name, reason);
  };
  const put = (byte: number) => {
    if (len === MAX_LABEL_LEN) fail(`label longer than ${MAX_LABEL_LEN} bytes`);
    if (w + 1 + len + 1 >= MAX_NAME_WIRE_LEN) fail(`longer than ${MAX_NAME_WIRE_LEN} bytes`);
    out[w + 1 + len] = byte;
    len++;
  };
  const endLabel = () => {
    if (len === 0) fail("empty label");
    out[w] = len;
    w += 1 + len;
    len = 0;
  };
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c === DOT) {
      endLabel();
      i++;
      if (i === name.length) break; // trailing dot: absolute name
      continue;
    }
    if (c === BACKSLASH) {
      const d0 = name.charCodeAt(i + 1);
      if (Number.isNaN(d0)) fail("escape at end");
      if (d0 >= 0x30 && d0 <= 0x39) {
        const digits = name.slice(i + 1, i + 4);
        if (!/^[0-9]{3}$/.test(digits)) fail("\\DDD escape needs three digits");
        const v = Number(digits);
        if (v > 255) fail("\\DDD escape above 255");
        put(v);
        i += 4;
      } else {
        if (d0 > 0x7f) fail("non-ASCII character");
        put(d0);
        i += 2;
      }
      continue;
    }
    if (c > 0x7f) fail("non-ASCII character (use punycode)");
    put(c);
    i++;
  }
  if (len > 0) endLabel();
  out[w] = 0;
  return out.slice(0, w + 1);
}

/** Compares names as DNS does: ASCII case-insensitive. */
export function namesEqual(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** Lower-cases ASCII letters and drops one trailing dot (not of the root): a cache/compare key. */
export function canonicalName(name: string): string {
  let n = name;
  if (n.length > 1 && n.endsWith(".")) {
    let slashes = 0; // an odd run of backslashes before the dot escapes it
    while (slashes < n.length - 1 && n[n.length - 2 - slashes] === "\\") slashes++;
    if (slashes % 2 === 0) n = n.slice(0, -1);
  }
  return n.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Thrown inside the parser only; turned into a result by parseMessage. */
class Fail {
  constructor(readonly error: DnsParseFailure, readonly offset: number) {}
}

function need(buf: Uint8Array, off: number, n: number): void {
  if (off + n > buf.length) throw new Fail("truncated", off);
}

function u16(buf: Uint8Array, off: number): number {
  need(buf, off, 2);
  return (buf[off]! << 8) | buf[off + 1]!;
}

function u32(buf: Uint8Array, off: number): number {
  need(buf, off, 4);
  return ((buf[off]! << 24) >>> 0) + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
}

/** Reads a possibly compressed name at `off`; returns it and the offset after it. */
function readName(buf: Uint8Array, off: number): { name: string; end: number } {
  let pos = off;
  let runStart = off; // a pointer must land strictly before the run of labels it ends
  let end = -1;
  let wireLen = 0;
  let name = "";
  // Each iteration consumes a label (wireLen grows) or jumps strictly backwards: bounded.
  for (;;) {
    need(buf, pos, 1);
    const b = buf[pos]!;
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      need(buf, pos, 2);
      const target = ((b & 0x3f) << 8) | buf[pos + 1]!;
      if (target < DNS_HEADER_LEN || target >= buf.length) {
        throw new Fail("pointer-out-of-range", pos);
      }
      if (target >= runStart) throw new Fail("pointer-loop", pos);
      if (end < 0) end = pos + 2;
      pos = target;
      runStart = target;
      continue;
    }
    if (kind !== 0) throw new Fail("bad-label-type", pos);
    wireLen += 1 + b;
    if (wireLen > MAX_NAME_WIRE_LEN) throw new Fail("name-too-long", pos);
    if (b === 0) {
      pos++;
      break;
    }
    need(buf, pos + 1, b);
    if (name !== "") name += ".";
    name += labelText(buf, pos + 1, pos + 1 + b);
    pos += 1 + b;
  }
  return { name: name === "" ? "." : name, end: end < 0 ? pos : end };
}

function readRecord(buf: Uint8Array, off: number): { record: DnsRecord; end: number } {
  const { name, end: fixed } = readName(buf, off);
  need(buf, fixed, 10);
  const type = u16(buf, fixed);
  const klass = u16(buf, fixed + 2);
  const rawTtl = u32(buf, fixed + 4);
  const rdlen = u16(buf, fixed + 8);
  const rdStart = fixed + 10;
  need(buf, rdStart, rdlen);
  const record: DnsRecord = {
    name,
    type,
    class: klass,
    ttl: type === DNS_TYPE.OPT ? rawTtl : rawTtl > 0x7fffffff ? 0 : rawTtl,
    data: buf.slice(rdStart, rdStart + rdlen),
  };
  if (klass === DNS_CLASS_IN && (type === DNS_TYPE.A || type === DNS_TYPE.AAAA)) {
    if (rdlen !== (type === DNS_TYPE.A ? 4 : 16)) throw new Fail("bad-rdata", rdStart);
    record.address = formatIp(record.data);
  } else if (type === DNS_TYPE.CNAME) {
    const t = readName(buf, rdStart);
    if (t.end !== rdStart + rdlen) throw new Fail("bad-rdata", rdStart);
    record.target = t.name;
  }
  return { record, end: rdStart + rdlen };
}

/**
 * Parses a DNS message. Never throws: malformed input gives `{ ok: false, error, offset }`.
 * Bytes after the last record are ignored.
 */
export function parseMessage(buf: Uint8Array): DnsParseResult {
  try {
    return { ok: true, message: parseUnchecked(buf) };
  } catch (e) {
    if (e instanceof Fail) return { ok: false, error: e.error, offset: e.offset };
    throw e; // a bug, not bad input
  }
}

function parseUnchecked(buf: Uint8Array): DnsMessage {
  if (buf.length < DNS_HEADER_LEN) throw new Fail("short-header", 0);
  const flags = u16(buf, 2);
  const counts = [u16(buf, 4), u16(buf, 6), u16(buf, 8), u16(buf, 10)] as const;
  let off = DNS_HEADER_LEN;
  const questions: DnsQuestion[] = [];
  // Counts are bounded by the bytes: every question takes at least 5, every record 11.
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = readName(buf, off);
    questions.push({ name, type: u16(buf, end), class: u16(buf, end + 2) });
    off = end + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  let edns: DnsEdns | null = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const at = off;
      const { record, end } = readRecord(buf, off);
      off = end;
      if (record.type === DNS_TYPE.OPT) {
        // RFC 6891 6.1.1: only in the additional section, once, owned by the root.
        if (s !== 2 || edns !== null || record.name !== ".") throw new Fail("bad-opt", at);
        edns = {
          udpSize: Math.max(DNS_UDP_MAX_PLAIN, record.class),
          extendedRcode: record.ttl >>> 24,
          version: (record.ttl >>> 16) & 0xff,
          dnssecOk: (record.ttl & 0x8000) !== 0,
        };
        continue;
      }
      sections[s]!.push(record);
    }
  }
  const extended: number = edns === null ? 0 : edns.extendedRcode;
  return {
    id: u16(buf, 0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: (extended << 4) | (flags & 0xf),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    edns,
  };
}

/** An address answer: its text and TTL. */
export interface DnsAddressAnswer {
  /** Canonical IP text. */
  address: string;
  /** TTL in seconds (the smallest along the CNAME chain that led to it). */
  ttl: number;
}

/**
 * The A or AAAA addresses a response gives for `name`, following CNAMEs in the answer section
 * (at most 16 hops). Records owned by names outside the chain are ignored, as a stub resolver
 * must (they could be injected).
 */
export function answerAddresses(
  message: DnsMessage,
  name: string,
  type: typeof DNS_TYPE.A | typeof DNS_TYPE.AAAA,
): DnsAddressAnswer[] {
  let owner = canonicalName(name);
  let chainTtl = 0x7fffffff;
  for (let hop = 0; hop < 16; hop++) {
    const alias = message.answers.find((r) =>
      r.type === DNS_TYPE.CNAME && r.target !== undefined && canonicalName(r.name) === owner
    );
    if (!alias) break;
    owner = canonicalName(alias.target!);
    chainTtl = Math.min(chainTtl, alias.ttl);
  }
  const out: DnsAddressAnswer[] = [];
  for (const r of message.answers) {
    if (r.type !== type || r.class !== DNS_CLASS_IN || r.address === undefined) continue;
    if (canonicalName(r.name) !== owner) continue;
    out.push({ address: r.address, ttl: Math.min(chainTtl, r.ttl) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Building

/** A growable byte buffer for message building. */
class Writer {
  buf = new Uint8Array(512);
  len = 0;
  #room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void {
    this.#room(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.#room(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }
  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeOpt(w: Writer, udpSize: number, extendedRcode = 0): void {
  w.u8(0); // root owner
  w.u16(DNS_TYPE.OPT);
  w.u16(udpSize);
  w.u32((extendedRcode & 0xff) << 24); // version 0, DO clear
  w.u16(0); // no options
}

/** Options of {@linkcode buildQuery}. */
export interface DnsQueryOptions {
  /** Transaction id (0-65535); pick it at random. */
  id: number;
  /** The name to look up. */
  name: string;
  /** QTYPE, e.g. {@linkcode DNS_TYPE}.A. */
  type: number;
  /** QCLASS (default IN). */
  class?: number;
  /** Set RD (default true). */
  recursionDesired?: boolean;
  /** Add an EDNS0 OPT record advertising this UDP payload size (default 1232); null: no OPT. */
  ednsUdpSize?: number | null;
}

/** Builds a standard query with one question. Throws {@linkcode DnsNameError} for a bad name. */
export function buildQuery(options: DnsQueryOptions): Uint8Array {
  const qname = encodeName(options.name);
  const edns = options.ednsUdpSize === undefined ? EDNS_UDP_SIZE : options.ednsUdpSize;
  const w = new Writer();
  w.u16(options.id);
  w.u16(options.recursionDesired === false ? 0 : 0x0100);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(edns === null ? 0 : 1);
  w.bytes(qname);
  w.u16(options.type);
  w.u16(options.class ?? DNS_CLASS_IN);
  if (edns !== null) writeOpt(w, edns);
  return w.done();
}

/** One address to put in a response. */
export interface DnsAnswerAddress {
  /** 4 bytes (an A record) or 16 bytes (AAAA). */
  address: Uint8Array;
  /** TTL in seconds. */
  ttl: number;
}

/** Options of {@linkcode buildResponse}. */
export interface DnsResponseOptions {
  /** Response code (0-15; the extended range is not used). */
  rcode: number;
  /** Address records, all owned by the first question's name. */
  answers?: readonly DnsAnswerAddress[];
  /** Set RA (default true). */
  recursionAvailable?: boolean;
  /**
   * Largest message allowed (UDP: 512, or the query's EDNS size capped at 1232). If the answers
   * do not fit, they are all left out and TC is set, so the client asks again over TCP.
   * Default 65535 (TCP).
   */
  maxSize?: number;
}

/**
 * Builds the response to a parsed query: its id, opcode, RD and first question copied as they
 * were (case included), QR set, answers pointing back at the question's name (compression), and
 * an OPT record when the query had one.
 */
export function buildResponse(query: DnsMessage, options: DnsResponseOptions): Uint8Array {
  const question = query.questions[0];
  const answers = question ? options.answers ?? [] : [];
  const maxSize = options.maxSize ?? 0xffff;
  const write = (withAnswers: boolean): Uint8Array => {
    const w = new Writer();
    const n = withAnswers ? answers.length : 0;
    w.u16(query.id);
    let flags = 0x8000 | ((query.opcode & 0xf) << 11) | (options.rcode & 0xf);
    if (query.rd) flags |= 0x0100;
    if (options.recursionAvailable !== false) flags |= 0x0080;
    if (!withAnswers && answers.length > 0) flags |= 0x0200;
    w.u16(flags);
    w.u16(question ? 1 : 0);
    w.u16(n);
    w.u16(0);
    w.u16(query.edns ? 1 : 0);
    if (question) {
      w.bytes(encodeName(question.name));
      w.u16(question.type);
      w.u16(question.class);
    }
    for (let i = 0; i < n; i++) {
      const a = answers[i]!;
      w.u16(0xc000 | DNS_HEADER_LEN); // the question's name
      w.u16(a.address.length === 4 ? DNS_TYPE.A : DNS_TYPE.AAAA);
      w.u16(DNS_CLASS_IN);
      w.u32(Math.max(0, Math.min(0x7fffffff, Math.floor(a.ttl))));
      w.u16(a.address.length);
      w.bytes(a.address);
    }
    if (query.edns) writeOpt(w, EDNS_UDP_SIZE);
    return w.done();
  };
  const full = write(true);
  return full.length <= maxSize || answers.length === 0 ? full : write(false);
}

/** The largest UDP response a query allows: 512, or its EDNS size capped at 1232. */
export function udpResponseLimit(query: DnsMessage): number {
  if (!query.edns) return DNS_UDP_MAX_PLAIN;
  return Math.min(EDNS_UDP_SIZE, Math.max(DNS_UDP_MAX_PLAIN, query.edns.udpSize));
}
