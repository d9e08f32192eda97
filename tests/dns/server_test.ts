import assert from "node:assert/strict";
import dgram from "node:dgram";
import { serveDns } from "../../src/dns/server.ts";
import {
  answerAddresses,
  buildQuery,
  buildResponse,
  DNS_RCODE,
  type DnsMessage,
  parseMessage,
} from "../../src/dns/message.ts";
import { frameTcp, readFull } from "../../src/dns/_io.ts";
import { lookupHost, netstackTransport } from "../../src/dns/client.ts";
import type { TcpConn } from "../../src/netstack/mod.ts";
import { stackPair } from "../netstack/_link.ts";

const OPTS = { sanitizeOps: true, sanitizeResources: true };

const upstream = (name: string) =>
  name === "a.test"
    ? Promise.resolve({ addresses: ["192.0.2.1"] })
    : Promise.reject(new Deno.errors.NotFound("no"));

async function readMessage(conn: TcpConn): Promise<DnsMessage | null> {
  const prefix = new Uint8Array(2);
  if (!(await readFull(conn, prefix))) return null;
  const body = new Uint8Array((prefix[0]! << 8) | prefix[1]!);
  if (!(await readFull(conn, body))) return null;
  const p = parseMessage(body);
  assert.ok(p.ok);
  return p.message;
}

Deno.test(
  "server: TCP answers several pipelined queries in order on one connection",
  OPTS,
  async () => {
    const pair = await stackPair();
    const server = serveDns(pair.proxy, { resolve: upstream });
    try {
      const conn = await pair.peer.dialTcp({ hostname: "10.88.0.1", port: 53 });
      const q = (id: number, name: string) => frameTcp(buildQuery({ id, name, type: 1 }));
      const both = new Uint8Array([...q(1, "a.test"), ...q(2, "b.test"), ...q(3, "a.test")]);
      await conn.write(both);
      const got = [await readMessage(conn), await readMessage(conn), await readMessage(conn)];
      assert.deepEqual(got.map((m) => m?.id), [1, 2, 3]);
      assert.deepEqual(answerAddresses(got[0]!, "a.test", 1).map((a) => a.address), ["192.0.2.1"]);
      assert.equal(got[1]!.answers.length, 0);
      conn.close();
    } finally {
      await server.close();
      pair.close();
    }
  },
);

Deno.test("server: TCP idle timeout, short messages and the connection bound", OPTS, async () => {
  const pair = await stackPair();
  const server = serveDns(pair.proxy, {
    resolve: upstream,
    tcpIdleTimeoutMs: 100,
    maxTcpConnections: 2,
  });
  try {
    // idle: closed by the server after ~100 ms
    const idle = await pair.peer.dialTcp({ hostname: "10.88.0.1", port: 53 });
    const t0 = performance.now();
    assert.equal(await idle.read(new Uint8Array(2)), null);
    const took = performance.now() - t0;
    assert.ok(took >= 90 && took < 2000, `idle close after ${took} ms`);
    idle.close();

    // a length prefix below a header's size ends the connection
    const short = await pair.peer.dialTcp({ hostname: "10.88.0.1", port: 53 });
    await short.write(new Uint8Array([0, 3, 1, 2, 3]));
    // closed with the 3 bytes unread: FIN or, as here, RST (as Linux does)
    const end = await short.read(new Uint8Array(2)).catch((e: Error) => e.name);
    assert.ok(end === null || end === "ConnectionResetError", String(end));
    short.close();
    assert.equal(server.stats().tcp_aborted, 2);

    // two open connections, the third is reset
    const c1 = await pair.peer.dialTcp({ hostname: "10.88.0.1", port: 53 });
    const c2 = await pair.peer.dialTcp({ hostname: "10.88.0.1", port: 53 });
    const c3 = await pair.peer.dialTcp({ hostname: "10.88.0.1", port: 53 });
    await assert.rejects(c3.read(new Uint8Array(2)));
    c3.close();
    assert.equal(server.stats().tcp_rejected, 1);
    await c1.write(frameTcp(buildQuery({ id: 9, name: "a.test", type: 1 })));
    assert.equal((await readMessage(c1))?.id, 9);
    c1.close();
    c2.close();
  } finally {
    await server.close();
    pair.close();
  }
});

Deno.test(
  "server: malformed UDP datagrams are dropped and counted, not answered",
  OPTS,
  async () => {
    const pair = await stackPair();
    const server = serveDns(pair.proxy, { resolve: upstream, tcp: false });
    try {
      assert.equal(server.tcp, null);
      const sock = pair.peer.dialUdp({ hostname: "10.88.0.1", port: 53 });
      await sock.send(new Uint8Array([1, 2, 3, 4]));
      await sock.send(buildQuery({ id: 5, name: "a.test", type: 1 }));
      const [data] = await sock.receive();
      const p = parseMessage(data);
      assert.ok(p.ok && p.message.id === 5); // the first reply is to the valid query
      sock.close();
      assert.equal(server.stats().malformed, 1);
    } finally {
      await server.close();
      pair.close();
    }
  },
);

Deno.test(
  "server end to end with Deno.resolveDns and a fake upstream on 127.0.0.1",
  OPTS,
  async () => {
    // The fake upstream answers A for ok.test with TTL 77 and NXDOMAIN for everything else.
    const up = dgram.createSocket("udp4");
    await new Promise<void>((r) => up.bind(0, "127.0.0.1", () => r()));
    const port = (up.address() as { port: number }).port;
    const asked: string[] = [];
    up.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      const p = parseMessage(new Uint8Array(msg));
      if (!p.ok) return;
      const q = p.message.questions[0]!;
      asked.push(`${q.name}|${q.type}`);
      const ok = q.name === "ok.test" && q.type === 1;
      const out = buildResponse(p.message, {
        rcode: ok ? 0 : q.name === "ok.test" ? 0 : DNS_RCODE.NXDOMAIN,
        answers: ok
          ? [
            { address: new Uint8Array([203, 0, 113, 5]), ttl: 77 },
            { address: new Uint8Array([127, 0, 0, 1]), ttl: 77 },
          ]
          : [],
      });
      up.send(out, rinfo.port, rinfo.address);
    });
    const pair = await stackPair();
    const server = serveDns(pair.proxy, {
      upstream: { ipAddr: "127.0.0.1", port },
      allowAnswer: (a) => a[0] !== 127,
      upstreamTimeoutMs: 3000,
    });
    try {
      const o = {
        servers: ["10.88.0.1"],
        transport: netstackTransport(pair.peer),
        family: 4 as const,
      };
      assert.deepEqual(await lookupHost("ok.test", o), ["203.0.113.5"]);
      assert.deepEqual(await lookupHost("ok.test", o), ["203.0.113.5"]); // cached
      await assert.rejects(lookupHost("missing.test", o));
      assert.deepEqual(asked, ["ok.test|1", "missing.test|1"]);
      const s = server.stats();
      assert.equal(s.cache_hits, 1);
      assert.equal(s.answers_filtered, 2);
      assert.equal(s.upstream_lookups, 2);
    } finally {
      await server.close();
      pair.close();
      await new Promise<void>((r) => up.close(() => r()));
    }
  },
);
