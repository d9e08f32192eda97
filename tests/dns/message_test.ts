import assert from "node:assert/strict";
import {
  answerAddresses,
  buildQuery,
  buildResponse,
  canonicalName,
  DNS_RCODE,
  DNS_TYPE,
  type DnsMessage,
  encodeName,
  namesEqual,
  parseMessage,
  udpResponseLimit,
} from "../../src/dns/message.ts";
import { DnsNameError } from "../../src/dns/errors.ts";
import { prng } from "../netstack/_link.ts";

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const bytes = (...parts: (number | number[])[]) => new Uint8Array(parts.flat());

function parsed(buf: Uint8Array): DnsMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(`parse failed: ${r.error} at ${r.offset}`);
  return r.message;
}

/** A query for example.com A, id 0x1234, RD, assembled by hand from RFC 1035 4.1. */
const QUERY_EXAMPLE_A = bytes(
  [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  7,
  ascii("example"),
  3,
  ascii("com"),
  0,
  [0x00, 0x01, 0x00, 0x01],
);
/** The same with an EDNS0 OPT record: root owner, type 41, class 1232, TTL 0, RDLEN 0. */
const OPT_1232 = [0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

Deno.test("buildQuery: hand-assembled bytes, with and without EDNS", () => {
  assert.deepEqual(
    buildQuery({ id: 0x1234, name: "example.com", type: DNS_TYPE.A, ednsUdpSize: null }),
    QUERY_EXAMPLE_A,
  );
  const withOpt = QUERY_EXAMPLE_A.slice();
  withOpt[11] = 1; // ARCOUNT
  assert.deepEqual(
    buildQuery({ id: 0x1234, name: "example.com.", type: DNS_TYPE.A }),
    bytes([...withOpt], OPT_1232),
  );
  const noRd = buildQuery({
    id: 1,
    name: "a",
    type: DNS_TYPE.AAAA,
    recursionDesired: false,
    ednsUdpSize: null,
  });
  assert.deepEqual(
    noRd,
    bytes([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 1, ascii("a"), 0, [0, 28, 0, 1]),
  );
});

/** www.example.com A answered with a CNAME to example.com (compressed) and an A record. */
const RESPONSE_CNAME = bytes(
  [0xab, 0xcd, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00],
  // question at 12: www(12) example(16) com(24) root(28), type/class 29..32
  3,
  ascii("www"),
  7,
  ascii("example"),
  3,
  ascii("com"),
  0,
  [0x00, 0x01, 0x00, 0x01],
  // CNAME www.example.com -> example.com (pointer to 16), TTL 3600
  [0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x02, 0xc0, 0x10],
  // A example.com 93.184.216.34, TTL 300
  [0xc0, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 93, 184, 216, 34],
  // A for an unrelated owner "evil" + pointer to com (24): must be ignored by answerAddresses
  4,
  ascii("evil"),
  [0xc0, 0x18],
  [0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 6, 6, 6, 6],
);

Deno.test("parseMessage: hand-assembled response with compression and a CNAME chain", () => {
  const m = parsed(RESPONSE_CNAME);
  assert.equal(m.id, 0xabcd);
  assert.ok(m.qr && m.rd && m.ra && !m.tc && !m.aa);
  assert.equal(m.rcode, DNS_RCODE.NOERROR);
  assert.deepEqual(m.questions, [{ name: "www.example.com", type: 1, class: 1 }]);
  assert.equal(m.answers.length, 3);
  assert.equal(m.answers[0]!.target, "example.com");
  assert.equal(m.answers[0]!.ttl, 3600);
  assert.equal(m.answers[1]!.name, "example.com");
  assert.equal(m.answers[1]!.address, "93.184.216.34");
  assert.equal(m.answers[2]!.name, "evil.com");
  assert.deepEqual(answerAddresses(m, "WWW.Example.com.", DNS_TYPE.A), [
    { address: "93.184.216.34", ttl: 300 },
  ]);
  assert.deepEqual(answerAddresses(m, "www.example.com", DNS_TYPE.AAAA), []);
});

Deno.test("parseMessage: AAAA, EDNS, TTL with the top bit set, extended rcode", () => {
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const m = parsed(bytes(
    [0, 9, 0x81, 0x83, 0, 1, 0, 1, 0, 0, 0, 1],
    1,
    ascii("h"),
    0,
    [0, 28, 0, 1],
    [0xc0, 0x0c, 0, 28, 0, 1, 0x80, 0, 0, 1, 0, 16],
    v6,
    // OPT: udp 4096, extended rcode 1, version 0, DO set
    [0, 0, 41, 0x10, 0x00, 0x01, 0x00, 0x80, 0x00, 0, 0],
  ));
  assert.equal(m.answers[0]!.address, "2001:db8::1");
  assert.equal(m.answers[0]!.ttl, 0);
  assert.deepEqual(m.edns, { udpSize: 4096, extendedRcode: 1, version: 0, dnssecOk: true });
  assert.equal(m.rcode, (1 << 4) | 3);
  assert.equal(udpResponseLimit(m), 1232);
});

Deno.test("parseMessage: malformed inputs give a reason, never an exception", () => {
  const header = (qd: number, an = 0, ar = 0) => [0, 1, 0, 0, 0, qd, 0, an, 0, 0, 0, ar];
  const cases: [string, Uint8Array][] = [
    ["short-header", bytes([0, 1, 2])],
    ["truncated", bytes(header(1), 3, ascii("ab"))],
    ["pointer-loop", bytes(header(1), [0xc0, 0x0c], [0, 1, 0, 1])], // points at itself
    ["pointer-loop", bytes(header(1), 1, ascii("a"), [0xc0, 0x0c], [0, 1, 0, 1])], // back to its start
    ["pointer-loop", bytes(header(1), [0xc0, 0x0e], 0, [0, 1, 0, 1])], // forward pointer
    ["pointer-out-of-range", bytes(header(1), [0xc0, 0xff], [0, 1, 0, 1])],
    ["pointer-out-of-range", bytes(header(1), [0xc0, 0x05], [0, 1, 0, 1])], // into the header
    ["bad-label-type", bytes(header(1), [0x41, 0x00], [0, 1, 0, 1])],
    ["bad-label-type", bytes(header(1), [0x80, 0x00], [0, 1, 0, 1])],
    ["bad-rdata", bytes(header(0, 1), 0, [0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3])], // A of 3 bytes
    ["bad-rdata", bytes(header(0, 1), 0, [0, 5, 0, 1, 0, 0, 0, 1, 0, 3, 0, 0, 0])], // CNAME + junk
    ["bad-opt", bytes(header(0, 1), 0, [0, 41, 4, 0, 0, 0, 0, 0, 0, 0])], // OPT in answers
    [
      "bad-opt",
      bytes(header(0, 0, 2), 0, [0, 41, 4, 0, 0, 0, 0, 0, 0, 0], 0, [
        0,
        41,
        4,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
      ]),
    ],
  ];
  for (const [want, buf] of cases) {
    const r = parseMessage(buf);
    assert.equal(r.ok, false, want);
    if (!r.ok) assert.equal(r.error, want, `${want}: got ${r.error}`);
  }
  // 128 labels of 1 byte = 256 bytes of name: too long even though every read is in range
  const long = bytes(header(1), ...Array.from({ length: 128 }, () => [1, 0x61]), 0, [0, 1, 0, 1]);
  const r = parseMessage(long);
  assert.ok(!r.ok && r.error === "name-too-long");
});

Deno.test("parseMessage: a pointer chain leading backwards is fine, a cycle of two is not", () => {
  // Question "a.b" at 12; answer owner "c" (21) + pointer to 14 ("b"); its CNAME points at 21.
  const ok = bytes(
    [0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0],
    1,
    ascii("a"),
    1,
    ascii("b"),
    0,
    [0, 1, 0, 1],
    1,
    ascii("c"),
    [0xc0, 0x0e], // c.b
    [0, 5, 0, 1, 0, 0, 0, 9, 0, 2, 0xc0, 0x15], // CNAME -> pointer to "c.b" at 21
  );
  const m = parsed(ok);
  assert.equal(m.answers[0]!.name, "c.b");
  assert.equal(m.answers[0]!.target, "c.b");
  // Two names pointing at each other: 12 -> 16 is forward (loop), so 16 -> 12 -> 16 is caught.
  const cyc = bytes(
    [0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0],
    [0xc0, 0x10],
    [0, 1, 0, 1],
    [0xc0, 0x0c],
    [0, 1, 0, 1],
  );
  const r = parseMessage(cyc);
  assert.ok(!r.ok && r.error === "pointer-loop");
});

Deno.test("parseMessage: every strict prefix of a valid message fails cleanly", () => {
  for (const full of [RESPONSE_CNAME, QUERY_EXAMPLE_A]) {
    assert.ok(parseMessage(full).ok);
    for (let n = 0; n < full.length; n++) {
      const r = parseMessage(full.subarray(0, n));
      assert.equal(r.ok, false, `prefix ${n}`);
    }
  }
});

Deno.test("encodeName: label and name length limits, empty labels, escapes, non-ASCII", () => {
  const l63 = "a".repeat(63);
  assert.equal(encodeName(l63).length, 65);
  assert.throws(() => encodeName("a".repeat(64)), DnsNameError);
  // 3 x 63-byte labels + a 61-byte one: 3*64 + 62 + 1 = 255 bytes on the wire, the maximum
  const max = [l63, l63, l63, "b".repeat(61)].join(".");
  assert.equal(encodeName(max).length, 255);
  assert.throws(() => encodeName(max + "b"), DnsNameError);
  assert.throws(() => encodeName(max + ".c"), DnsNameError);
  assert.throws(() => encodeName("a..b"), DnsNameError);
  assert.throws(() => encodeName(".a"), DnsNameError);
  assert.throws(() => encodeName("bücher.de"), DnsNameError);
  assert.throws(() => encodeName("a\\"), DnsNameError);
  assert.throws(() => encodeName("a\\25"), DnsNameError);
  assert.throws(() => encodeName("a\\256"), DnsNameError);
  assert.deepEqual(encodeName("."), bytes(0));
  assert.deepEqual(encodeName(""), bytes(0));
  assert.deepEqual(encodeName("a\\.b.c"), bytes(3, ascii("a.b"), 1, ascii("c"), 0));
  assert.deepEqual(encodeName("\\000\\\\"), bytes(2, 0, 0x5c, 0));
});

Deno.test("names: wire text round trip keeps case and escapes; comparison ignores case", () => {
  for (const name of ["Example.COM", "a\\.b.c", "\\000\\255x.\\\\", "_srv._tcp.x", "."]) {
    const q = parsed(buildQuery({ id: 3, name, type: 1, ednsUdpSize: null }));
    assert.equal(q.questions[0]!.name, name);
  }
  assert.ok(namesEqual("Example.COM.", "example.com"));
  assert.ok(!namesEqual("example.com", "example.co"));
  assert.equal(canonicalName("A.b\\."), "a.b\\."); // an escaped final dot stays
  assert.equal(canonicalName("A.b\\\\."), "a.b\\\\"); // an escaped backslash, then the root dot
  assert.equal(canonicalName("."), ".");
});

Deno.test("buildResponse: hand-assembled bytes; copies id, RD, question case; OPT when asked", () => {
  const q = parsed(QUERY_EXAMPLE_A);
  const r = buildResponse(q, {
    rcode: DNS_RCODE.NOERROR,
    answers: [{ address: new Uint8Array([192, 0, 2, 1]), ttl: 60 }],
  });
  assert.deepEqual(
    r,
    bytes(
      [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0],
      [...QUERY_EXAMPLE_A.subarray(12)],
      [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1],
    ),
  );
  const q2 = parsed(buildQuery({ id: 77, name: "ExAmple.org", type: DNS_TYPE.AAAA }));
  const six = new Uint8Array(16);
  six[0] = 0xfd;
  six[15] = 1;
  const m = parsed(buildResponse(q2, { rcode: 0, answers: [{ address: six, ttl: 5 }] }));
  assert.equal(m.id, 77);
  assert.equal(m.questions[0]!.name, "ExAmple.org");
  assert.equal(m.answers[0]!.address, "fd00::1");
  assert.equal(m.edns?.udpSize, 1232);
  const nx = parsed(buildResponse(q2, { rcode: DNS_RCODE.NXDOMAIN, recursionAvailable: false }));
  assert.equal(nx.rcode, 3);
  assert.ok(!nx.ra && nx.answers.length === 0);
});

Deno.test("buildResponse: answers that do not fit are dropped and TC set", () => {
  const q = parsed(QUERY_EXAMPLE_A);
  const answers = Array.from({ length: 40 }, (_, i) => ({
    address: new Uint8Array([10, 0, 0, i]),
    ttl: 1,
  }));
  assert.equal(udpResponseLimit(q), 512);
  const udp = parsed(buildResponse(q, { rcode: 0, answers, maxSize: udpResponseLimit(q) }));
  assert.ok(udp.tc);
  assert.equal(udp.answers.length, 0);
  assert.equal(udp.questions.length, 1);
  const tcp = parsed(buildResponse(q, { rcode: 0, answers }));
  assert.ok(!tcp.tc);
  assert.equal(tcp.answers.length, 40);
});

/** Random but valid names for round trips. */
function randomName(rnd: () => number): string {
  const labels: string[] = [];
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(rnd() * 20);
    let s = "";
    for (let j = 0; j < len; j++) {
      const c = Math.floor(rnd() * 256);
      if (c === 0x2e || c === 0x5c) s += "\\" + String.fromCharCode(c);
      else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
      else s += "\\" + String(c).padStart(3, "0");
    }
    labels.push(s);
  }
  return labels.join(".");
}

Deno.test("names: 2000 random names survive query -> parse unchanged", () => {
  const rnd = prng(42);
  for (let i = 0; i < 2000; i++) {
    const name = randomName(rnd);
    const q = parsed(buildQuery({ id: i & 0xffff, name, type: 1 }));
    assert.equal(q.questions[0]!.name, name);
  }
});

Deno.test("parseMessage fuzz: 20 000 seeded mutations never throw and stay fast", () => {
  const rnd = prng(20251);
  const seeds = [
    RESPONSE_CNAME,
    QUERY_EXAMPLE_A,
    buildQuery({ id: 5, name: "fuzz.example", type: DNS_TYPE.AAAA }),
    buildResponse(parsed(QUERY_EXAMPLE_A), {
      rcode: 0,
      answers: [{ address: new Uint8Array([1, 2, 3, 4]), ttl: 9 }, {
        address: new Uint8Array(16),
        ttl: 9,
      }],
    }),
  ];
  let ok = 0, failed = 0;
  const t0 = performance.now();
  for (let i = 0; i < 20_000; i++) {
    const base = seeds[i % seeds.length]!;
    let buf: Uint8Array;
    const mode = Math.floor(rnd() * 5);
    if (mode === 0) {
      buf = new Uint8Array(Math.floor(rnd() * 600));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
      if (buf.length >= 12) buf[5] = Math.floor(rnd() * 4); // plausible counts
    } else {
      buf = base.slice();
      const flips = 1 + Math.floor(rnd() * 6);
      for (let j = 0; j < flips; j++) {
        const at = Math.floor(rnd() * buf.length);
        if (mode === 1) buf[at] = buf[at]! ^ (1 << Math.floor(rnd() * 8));
        else if (mode === 2) buf[at] = Math.floor(rnd() * 256);
        else if (mode === 3) buf[at] = 0xc0 | Math.floor(rnd() * 2); // pointer starts
      }
      if (mode === 4) buf = buf.subarray(0, Math.floor(rnd() * buf.length));
    }
    const r = parseMessage(buf); // must not throw
    if (r.ok) {
      ok++;
      for (const q of r.message.questions) assert.ok(encodeName(q.name).length <= 255);
    } else {
      failed++;
      assert.ok(r.offset >= 0 && r.offset <= buf.length);
    }
  }
  const ms = performance.now() - t0;
  assert.ok(ok > 100 && failed > 100, `ok ${ok} failed ${failed}`);
  assert.ok(ms < 10_000, `fuzz took ${ms} ms`);
});
