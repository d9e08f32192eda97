import assert from "node:assert/strict";
import { type DnsTransport, lookupHost, netstackTransport } from "../../src/dns/client.ts";
import {
  DnsNameError,
  DnsNotFoundError,
  DnsServerError,
  DnsTimeoutError,
} from "../../src/dns/errors.ts";
import { buildResponse, DNS_RCODE, parseMessage } from "../../src/dns/message.ts";
import type { ResolveFn, ResolveResult } from "../../src/dns/resolver.ts";
import { serveDns } from "../../src/dns/server.ts";
import { stackPair } from "../netstack/_link.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };

const RECORDS: Record<string, ResolveResult> = {
  "both.test|A": { addresses: ["192.0.2.1", "192.0.2.2"] },
  "both.test|AAAA": { addresses: ["2001:db8::1"] },
  "v6only.test|AAAA": { addresses: ["2001:db8::6"] },
  "gone.test|A": { addresses: [], nxdomain: true },
  "gone.test|AAAA": { addresses: [], nxdomain: true },
  "big.test|A": { addresses: Array.from({ length: 100 }, (_, i) => `10.1.0.${i + 1}`) },
  "mixed.test|A": { addresses: ["127.0.0.1", "192.0.2.77"] },
};

const injected: ResolveFn = (name, type) => {
  const r = RECORDS[`${name}|${type}`];
  return r ? Promise.resolve(r) : Promise.reject(new Deno.errors.NotFound("no records"));
};

/** Peer stack (10.88.0.2, fd88::2) as the client; the resolver on the proxy stack's port 53. */
async function setup() {
  const pair = await stackPair();
  const server = serveDns(pair.proxy, {
    resolve: injected,
    allowAnswer: (a) => !(a.length === 4 && a[0] === 127),
  });
  const transport = netstackTransport(pair.peer);
  return {
    pair,
    server,
    transport,
    async close() {
      await server.close();
      pair.close();
    },
  };
}

Deno.test("lookupHost over two netstacks: A and AAAA, IPv4 first or IPv6 first", OPTS, async () => {
  const t = await setup();
  try {
    const o = { servers: ["10.88.0.1"], transport: t.transport };
    assert.deepEqual(await lookupHost("both.test", o), ["192.0.2.1", "192.0.2.2", "2001:db8::1"]);
    assert.deepEqual(await lookupHost("both.test", { ...o, order: "ipv6first" }), [
      "2001:db8::1",
      "192.0.2.1",
      "192.0.2.2",
    ]);
    assert.deepEqual(await lookupHost("BOTH.test.", { ...o, family: 6 }), ["2001:db8::1"]);
    assert.deepEqual(await lookupHost("v6only.test", o), ["2001:db8::6"]);
    // the server over IPv6
    assert.deepEqual(await lookupHost("both.test", { ...o, servers: ["fd88::1"], family: 4 }), [
      "192.0.2.1",
      "192.0.2.2",
    ]);
    const s = t.server.stats();
    assert.ok(s.queries_udp >= 8, JSON.stringify(s));
    assert.equal(s.malformed, 0);
  } finally {
    await t.close();
  }
});

Deno.test("lookupHost: NXDOMAIN and no data are DnsNotFoundError", OPTS, async () => {
  const t = await setup();
  try {
    const o = { servers: ["10.88.0.1"], transport: t.transport };
    await assert.rejects(lookupHost("gone.test", o), DnsNotFoundError);
    await assert.rejects(lookupHost("nothing.test", o), DnsNotFoundError);
  } finally {
    await t.close();
  }
});

Deno.test("lookupHost: truncated UDP answer is retried over TCP and complete", OPTS, async () => {
  const t = await setup();
  try {
    const got = await lookupHost("big.test", {
      servers: ["10.88.0.1"],
      transport: t.transport,
      family: 4,
    });
    assert.equal(got.length, 100);
    assert.equal(got[99], "10.1.0.100");
    const s = t.server.stats();
    assert.equal(s.truncated, 1);
    assert.equal(s.queries_tcp, 1);
    assert.equal(s.tcp_connections, 1);
  } finally {
    await t.close();
  }
});

Deno.test("lookupHost: the server's policy removed the denied answer", OPTS, async () => {
  const t = await setup();
  try {
    const got = await lookupHost("mixed.test", { servers: ["10.88.0.1"], transport: t.transport });
    assert.deepEqual(got, ["192.0.2.77"]);
    assert.equal(t.server.stats().answers_filtered, 1);
  } finally {
    await t.close();
  }
});

Deno.test("lookupHost: a silent server times out; the next server answers", OPTS, async () => {
  const t = await setup();
  try {
    const silent = { servers: ["10.88.0.9"], transport: t.transport, timeoutMs: 150, attempts: 1 };
    const t0 = performance.now();
    await assert.rejects(lookupHost("both.test", silent), DnsTimeoutError);
    const took = performance.now() - t0;
    assert.ok(took >= 140 && took < 2000, `took ${took}`);
    const got = await lookupHost("both.test", {
      ...silent,
      servers: ["10.88.0.9", "10.88.0.1"],
      family: 4,
    });
    assert.deepEqual(got, ["192.0.2.1", "192.0.2.2"]);
  } finally {
    await t.close();
  }
});

Deno.test(
  "lookupHost: IP literals return without a query; bad names fail up front",
  OPTS,
  async () => {
    let queries = 0;
    const counting: DnsTransport = {
      udpQuery: () => (queries++, Promise.reject(new Error("no"))),
      tcpQuery: () => (queries++, Promise.reject(new Error("no"))),
    };
    const o = { servers: ["10.88.0.1"], transport: counting };
    assert.deepEqual(await lookupHost("192.0.2.1", o), ["192.0.2.1"]);
    assert.deepEqual(await lookupHost("[2001:DB8::1]", o), ["2001:db8::1"]);
    assert.deepEqual(await lookupHost("::ffff:1.2.3.4", o), ["::ffff:1.2.3.4"]);
    await assert.rejects(lookupHost("a..b", o), DnsNameError);
    await assert.rejects(lookupHost("x".repeat(64) + ".test", o), DnsNameError);
    assert.equal(queries, 0);
    await assert.rejects(lookupHost("ok.test", o), DnsServerError);
    assert.equal(queries, 4); // A and AAAA, 2 attempts each
  },
);

/** A scripted transport: answers each UDP query with what `script` builds from it. */
function scripted(
  script: (server: string, query: Uint8Array) => Uint8Array | Error,
): DnsTransport & { log: string[] } {
  const log: string[] = [];
  const go = (kind: string) => (server: string, query: Uint8Array) => {
    log.push(`${kind} ${server}`);
    const r = script(server, query);
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  };
  return { log, udpQuery: go("udp"), tcpQuery: go("tcp") };
}

function reply(
  query: Uint8Array,
  rcode: number,
  addrs: number[][] = [],
  tweak?: (m: Uint8Array) => void,
) {
  const p = parseMessage(query);
  if (!p.ok) throw new Error("bad query");
  const out = buildResponse(p.message, {
    rcode,
    answers: addrs.map((a) => ({ address: new Uint8Array(a), ttl: 30 })),
  });
  tweak?.(out);
  return out;
}

const isA = (q: Uint8Array) => {
  const p = parseMessage(q);
  return p.ok && p.message.questions[0]!.type === 1;
};

Deno.test("lookupHost: SERVFAIL/REFUSED move to the next server; NXDOMAIN stops", async () => {
  const tr = scripted((server, q) => {
    if (server === "10.0.0.1") return reply(q, DNS_RCODE.SERVFAIL);
    if (server === "10.0.0.2") return reply(q, DNS_RCODE.REFUSED);
    return isA(q) ? reply(q, 0, [[198, 51, 100, 1]]) : reply(q, 0);
  });
  const got = await lookupHost("x.test", {
    servers: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    transport: tr,
  });
  assert.deepEqual(got, ["198.51.100.1"]);
  assert.equal(tr.log.filter((l) => l === "udp 10.0.0.3").length, 2);

  const nx = scripted((_s, q) => reply(q, DNS_RCODE.NXDOMAIN));
  await assert.rejects(
    lookupHost("x.test", { servers: ["10.0.0.1", "10.0.0.2"], transport: nx }),
    DnsNotFoundError,
  );
  assert.equal(nx.log.length, 2); // one per type, the second server never asked

  const allFail = scripted((_s, q) => reply(q, DNS_RCODE.SERVFAIL));
  await assert.rejects(
    lookupHost("x.test", { servers: ["10.0.0.1"], transport: allFail, attempts: 3 }),
    (e: unknown) => e instanceof DnsServerError && e.rcode === DNS_RCODE.SERVFAIL,
  );
  assert.equal(allFail.log.length, 6);
});

Deno.test("lookupHost: mismatched id, question or a non-response are rejected", async () => {
  const cases: ((m: Uint8Array) => void)[] = [
    (m) => m[1] = m[1]! ^ 1, // id
    (m) => m[2] = m[2]! & 0x7f, // QR cleared
    (m) => m[13] = "z".charCodeAt(0), // question name x.test -> z.test
  ];
  for (const tweak of cases) {
    const tr = scripted((_s, q) => reply(q, 0, isA(q) ? [[192, 0, 2, 1]] : [], tweak));
    await assert.rejects(
      lookupHost("x.test", { servers: ["10.0.0.1"], transport: tr, attempts: 1 }),
      DnsServerError,
    );
  }
  // garbage
  const junk = scripted(() => new Uint8Array([1, 2, 3]));
  await assert.rejects(
    lookupHost("x.test", { servers: ["10.0.0.1"], transport: junk, attempts: 1 }),
    DnsServerError,
  );
  // one type failing does not hide the other's addresses
  const half = scripted((_s, q) => isA(q) ? reply(q, 0, [[192, 0, 2, 5]]) : new Error("lost"));
  assert.deepEqual(await lookupHost("x.test", { servers: ["10.0.0.1"], transport: half }), [
    "192.0.2.5",
  ]);
});

Deno.test("lookupHost: TC over UDP asks the same server over TCP", async () => {
  const tr = scripted((_s, q) => {
    if (!isA(q)) return reply(q, 0);
    return reply(q, 0, [[192, 0, 2, 8]]);
  });
  const udp = tr.udpQuery;
  tr.udpQuery = (s, q, ms) =>
    udp(s, q, ms).then((r) => {
      if (isA(q)) {
        const p = parseMessage(q);
        if (!p.ok) throw new Error();
        return buildResponse(p.message, {
          rcode: 0,
          answers: [{ address: new Uint8Array([192, 0, 2, 8]), ttl: 1 }],
          maxSize: 20,
        });
      }
      return r;
    });
  const got = await lookupHost("x.test", { servers: ["10.0.0.1"], transport: tr });
  assert.deepEqual(got, ["192.0.2.8"]);
  assert.ok(tr.log.includes("tcp 10.0.0.1"));
});
