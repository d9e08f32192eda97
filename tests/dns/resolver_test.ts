import assert from "node:assert/strict";
import { DnsResolver, type ResolveFn, type ResolveResult } from "../../src/dns/resolver.ts";
import {
  answerAddresses,
  buildQuery,
  DNS_RCODE,
  DNS_TYPE,
  type DnsMessage,
  parseMessage,
} from "../../src/dns/message.ts";
import { ManualClock } from "../../src/clock.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };

async function ask(
  r: DnsResolver,
  name: string,
  type: number = DNS_TYPE.A,
  opts: { transport?: "udp" | "tcp"; edns?: number | null; id?: number } = {},
): Promise<DnsMessage> {
  const q = buildQuery({ id: opts.id ?? 99, name, type, ednsUdpSize: opts.edns ?? null });
  const raw = await r.handle(q, opts.transport ?? "udp");
  assert.ok(raw, "expected a response");
  const p = parseMessage(raw);
  assert.ok(p.ok);
  return p.message;
}

const addrs = (m: DnsMessage, name: string, type: 1 | 28 = 1) =>
  answerAddresses(m, name, type).map((a) => a.address);

/** An upstream from a table; counts calls. */
function table(entries: Record<string, ResolveResult | Error>) {
  const calls: string[] = [];
  const resolve: ResolveFn = (name, type) => {
    calls.push(`${name}|${type}`);
    const e = entries[`${name}|${type}`];
    if (e === undefined) return Promise.reject(new Deno.errors.NotFound("no records"));
    return e instanceof Error ? Promise.reject(e) : Promise.resolve(e);
  };
  return { resolve, calls };
}

Deno.test(
  "resolver: A and AAAA answered with upstream TTLs; question echoed as sent",
  OPTS,
  async () => {
    const up = table({
      "example.com|A": { addresses: ["192.0.2.1", "192.0.2.2"], ttlSeconds: 120 },
      "example.com|AAAA": { addresses: ["2001:db8::5"], ttlSeconds: 7 },
    });
    const r = new DnsResolver({ resolve: up.resolve, clock: new ManualClock() });
    const a = await ask(r, "ExAmPle.COM", DNS_TYPE.A, { id: 4242 });
    assert.equal(a.id, 4242);
    assert.equal(a.questions[0]!.name, "ExAmPle.COM");
    assert.equal(a.rcode, 0);
    assert.ok(a.qr && a.ra && a.rd);
    assert.deepEqual(addrs(a, "example.com"), ["192.0.2.1", "192.0.2.2"]);
    assert.equal(a.answers[0]!.ttl, 120);
    const aaaa = await ask(r, "example.com", DNS_TYPE.AAAA);
    assert.deepEqual(addrs(aaaa, "example.com", 28), ["2001:db8::5"]);
    assert.equal(aaaa.answers[0]!.ttl, 7);
    assert.deepEqual(up.calls, ["example.com|A", "example.com|AAAA"]);
    r.close();
  },
);

Deno.test(
  "resolver: policy drops denied answers; none left gives NOERROR with no answers",
  OPTS,
  async () => {
    const up = table({
      "mixed.test|A": { addresses: ["192.0.2.1", "127.0.0.1", "169.254.169.254", "198.51.100.4"] },
      "local.test|A": { addresses: ["127.0.0.1"] },
      "mapped.test|AAAA": { addresses: ["::ffff:127.0.0.1", "2001:db8::1"] },
    });
    const seen: number[] = [];
    const r = new DnsResolver({
      resolve: up.resolve,
      clock: new ManualClock(),
      allowAnswer: (a) => {
        seen.push(a.length);
        const v4 = a.length === 16 && a[10] === 0xff && a[11] === 0xff ? a.subarray(12) : a;
        return !(v4.length === 4 && (v4[0] === 127 || (v4[0] === 169 && v4[1] === 254)));
      },
    });
    const m = await ask(r, "mixed.test");
    assert.equal(m.rcode, DNS_RCODE.NOERROR);
    assert.deepEqual(addrs(m, "mixed.test"), ["192.0.2.1", "198.51.100.4"]);
    const none = await ask(r, "local.test");
    assert.equal(none.rcode, DNS_RCODE.NOERROR);
    assert.equal(none.answers.length, 0);
    const six = await ask(r, "mapped.test", DNS_TYPE.AAAA);
    assert.deepEqual(addrs(six, "mapped.test", 28), ["2001:db8::1"]);
    assert.equal(r.stats().answers_filtered, 4);
    assert.deepEqual(seen, [4, 4, 4, 4, 4, 16, 16]);
    // the filter runs on cached answers too (policy can change at runtime)
    await ask(r, "local.test");
    assert.equal(r.stats().answers_filtered, 5);
    assert.equal(r.stats().cache_hits, 1);
    r.close();
  },
);

Deno.test("resolver: a throwing policy denies that answer and is counted", OPTS, async () => {
  const up = table({ "x.test|A": { addresses: ["192.0.2.1"] } });
  const r = new DnsResolver({
    resolve: up.resolve,
    clock: new ManualClock(),
    allowAnswer: () => {
      throw new Error("boom");
    },
  });
  const m = await ask(r, "x.test");
  assert.equal(m.answers.length, 0);
  assert.equal(r.stats().policy_errors, 1);
  r.close();
});

Deno.test(
  "resolver: cache honours the TTL (injected clock), answers count down",
  OPTS,
  async () => {
    const clock = new ManualClock();
    const up = table({ "c.test|A": { addresses: ["192.0.2.9"], ttlSeconds: 10 } });
    const r = new DnsResolver({ resolve: up.resolve, clock });
    assert.equal((await ask(r, "c.test")).answers[0]!.ttl, 10);
    clock.advance(4_000);
    const hit = await ask(r, "C.TEST.");
    assert.equal(hit.answers[0]!.ttl, 6);
    assert.equal(up.calls.length, 1);
    clock.advance(6_000);
    await ask(r, "c.test");
    assert.equal(up.calls.length, 2);
    const s = r.stats();
    assert.equal(s.cache_hits, 1);
    assert.equal(s.cache_misses, 2);
    r.close();
  },
);

Deno.test("resolver: default TTL when the upstream gives none; max TTL caps", OPTS, async () => {
  const clock = new ManualClock();
  const up = table({
    "d.test|A": { addresses: ["192.0.2.1"] },
    "long.test|A": { addresses: ["192.0.2.2"], ttlSeconds: 86400 },
  });
  const r = new DnsResolver({
    resolve: up.resolve,
    clock,
    answerTtlSeconds: 42,
    maxTtlSeconds: 600,
  });
  assert.equal((await ask(r, "d.test")).answers[0]!.ttl, 42);
  assert.equal((await ask(r, "long.test")).answers[0]!.ttl, 600);
  r.close();
});

Deno.test(
  "resolver: NotFound is NOERROR/no data, nxdomain is NXDOMAIN, both cached briefly",
  OPTS,
  async () => {
    const clock = new ManualClock();
    const up = table({ "gone.test|A": { addresses: [], nxdomain: true, ttlSeconds: 300 } });
    const r = new DnsResolver({ resolve: up.resolve, clock, negativeTtlSeconds: 5 });
    const nodata = await ask(r, "nodata.test");
    assert.equal(nodata.rcode, DNS_RCODE.NOERROR);
    assert.equal(nodata.answers.length, 0);
    const nx = await ask(r, "gone.test");
    assert.equal(nx.rcode, DNS_RCODE.NXDOMAIN);
    await ask(r, "nodata.test");
    await ask(r, "gone.test");
    assert.equal(up.calls.length, 2);
    clock.advance(5_000);
    await ask(r, "gone.test");
    assert.equal(up.calls.length, 3);
    assert.equal(r.stats().responses_nxdomain, 3);
    r.close();
  },
);

Deno.test(
  "resolver: upstream failure is SERVFAIL and not cached; wrong-family text skipped",
  OPTS,
  async () => {
    const up = table({
      "fail.test|A": new Error("connection refused"),
      "odd.test|A": { addresses: ["2001:db8::1", "not-an-ip", "192.0.2.3"] },
    });
    const r = new DnsResolver({ resolve: up.resolve, clock: new ManualClock() });
    assert.equal((await ask(r, "fail.test")).rcode, DNS_RCODE.SERVFAIL);
    assert.equal((await ask(r, "fail.test")).rcode, DNS_RCODE.SERVFAIL);
    assert.equal(up.calls.length, 2);
    assert.equal(r.stats().upstream_errors, 2);
    assert.deepEqual(addrs(await ask(r, "odd.test"), "odd.test"), ["192.0.2.3"]);
    r.close();
  },
);

Deno.test(
  "resolver: upstream timeout (injected clock) gives SERVFAIL and aborts the lookup",
  OPTS,
  async () => {
    const clock = new ManualClock();
    let aborted = false;
    const r = new DnsResolver({
      clock,
      upstreamTimeoutMs: 1000,
      resolve: (_n, _t, signal) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
    });
    const pending = ask(r, "slow.test");
    await Promise.resolve();
    assert.equal(r.stats().in_flight, 1);
    clock.advance(1000);
    const m = await pending;
    assert.equal(m.rcode, DNS_RCODE.SERVFAIL);
    assert.ok(aborted);
    assert.equal(r.stats().upstream_timeouts, 1);
    assert.equal(r.stats().in_flight, 0);
    r.close();
  },
);

Deno.test(
  "resolver: in-flight bound gives SERVFAIL at once; identical lookups coalesce",
  OPTS,
  async () => {
    const waiting: ((v: ResolveResult) => void)[] = [];
    let calls = 0;
    let release = false;
    const r = new DnsResolver({
      clock: new ManualClock(),
      maxInFlight: 3,
      resolve: () => {
        calls++;
        if (release) return Promise.resolve({ addresses: ["192.0.2.2"] });
        return new Promise((resolve) => waiting.push(resolve));
      },
    });
    const a1 = ask(r, "same.test");
    const a2 = ask(r, "SAME.test");
    const b = ask(r, "b.test");
    await Promise.resolve();
    assert.equal(calls, 2); // same.test shared
    assert.equal(r.stats().coalesced, 1);
    const over = await ask(r, "c.test");
    assert.equal(over.rcode, DNS_RCODE.SERVFAIL);
    assert.equal(r.stats().inflight_rejected, 1);
    release = true;
    for (const w of waiting) w({ addresses: ["192.0.2.1"] });
    for (const m of await Promise.all([a1, a2, b])) assert.equal(m.answers.length, 1);
    assert.equal(r.stats().in_flight, 0);
    assert.equal((await ask(r, "c.test")).rcode, 0); // room again
    r.close();
  },
);

Deno.test("resolver: other qtypes, opcodes, classes, question counts", OPTS, async () => {
  const up = table({});
  const r = new DnsResolver({ resolve: up.resolve, clock: new ManualClock() });
  for (const t of [DNS_TYPE.MX, DNS_TYPE.TXT, 65, DNS_TYPE.ANY]) {
    const m = await ask(r, "x.test", t);
    assert.equal(m.rcode, DNS_RCODE.NOERROR);
    assert.equal(m.answers.length, 0);
  }
  assert.equal(up.calls.length, 0);
  assert.equal(r.stats().other_qtype, 4);

  const chaos = buildQuery({ id: 1, name: "version.bind", type: 16, class: 3, ednsUdpSize: null });
  const chaosAnswer = parseMessage((await r.handle(chaos, "udp"))!);
  assert.ok(chaosAnswer.ok && chaosAnswer.message.rcode === DNS_RCODE.REFUSED);

  const status = buildQuery({ id: 2, name: "x.test", type: 1, ednsUdpSize: null });
  status[2] = (2 << 3) | 1; // opcode STATUS, RD
  const st = parseMessage((await r.handle(status, "udp"))!);
  assert.ok(st.ok && st.message.rcode === DNS_RCODE.NOTIMP && st.message.opcode === 2);

  const noQuestion = new Uint8Array([0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const fe = parseMessage((await r.handle(noQuestion, "udp"))!);
  assert.ok(fe.ok && fe.message.rcode === DNS_RCODE.FORMERR && fe.message.questions.length === 0);

  const escaped = await ask(r, "a\\000b.test");
  assert.equal(escaped.rcode, DNS_RCODE.REFUSED);
  assert.equal(up.calls.length, 0);
  r.close();
});

Deno.test(
  "resolver: malformed queries and responses get no answer and are counted",
  OPTS,
  async () => {
    const r = new DnsResolver({ resolve: table({}).resolve, clock: new ManualClock() });
    assert.equal(await r.handle(new Uint8Array([1, 2, 3]), "udp"), null);
    assert.equal(await r.handle(new Uint8Array(12 + 2).fill(0xc0), "tcp"), null);
    const response = buildQuery({ id: 1, name: "x.test", type: 1 });
    response[2]! |= 0x80; // QR
    assert.equal(await r.handle(response, "udp"), null);
    const s = r.stats();
    assert.equal(s.malformed, 2);
    assert.equal(s.not_query, 1);
    assert.equal(s.queries, 3);
    r.close();
    assert.equal(await r.handle(buildQuery({ id: 1, name: "x.test", type: 1 }), "udp"), null);
  },
);

Deno.test(
  "resolver: UDP truncates to 512 (or the EDNS size); TCP carries everything",
  OPTS,
  async () => {
    const many = Array.from({ length: 100 }, (_, i) => `10.0.${i >> 8}.${i & 0xff}`);
    const r = new DnsResolver({
      resolve: table({ "big.test|A": { addresses: many } }).resolve,
      clock: new ManualClock(),
    });
    const plain = await ask(r, "big.test");
    assert.ok(plain.tc);
    assert.equal(plain.answers.length, 0);
    const edns = await ask(r, "big.test", DNS_TYPE.A, { edns: 4096 });
    assert.ok(edns.tc, "100 x 16 bytes exceed our 1232-byte cap");
    const tcp = await ask(r, "big.test", DNS_TYPE.A, { transport: "tcp" });
    assert.ok(!tcp.tc);
    assert.deepEqual(addrs(tcp, "big.test"), many);
    assert.equal(r.stats().truncated, 2);
    const few = new DnsResolver({
      resolve: table({ "mid.test|A": { addresses: many.slice(0, 50) } }).resolve,
      clock: new ManualClock(),
    });
    assert.ok((await ask(few, "mid.test")).tc);
    assert.equal((await ask(few, "mid.test", DNS_TYPE.A, { edns: 1232 })).answers.length, 50);
    r.close();
    few.close();
  },
);
