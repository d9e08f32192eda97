import assert from "node:assert/strict";
import type { TcpConn } from "../../src/netstack/mod.ts";
import { stackPair } from "./_link.ts";

Deno.test("1000 concurrent TCP connections (default options), each echoes its own bytes", async () => {
  const N = 1000;
  const { proxy, peer, close } = await stackPair();
  const servers: TcpConn[] = [];
  proxy.onTcpFlow = async (r) => {
    const conn = await r.accept();
    servers.push(conn);
  };
  // open all N first, so they are concurrently established
  const clients = await Promise.all(
    Array.from(
      { length: N },
      (_, i) => peer.dialTcp({ hostname: `198.18.${i >> 8}.${i & 0xff}`, port: 1000 + i }),
    ),
  );
  while (servers.length < N) await new Promise((r) => setTimeout(r, 5));
  assert.equal(proxy.stats()["tcp.connections"], N);
  assert.ok(proxy.stats()["pool.tcp_pcb_used"] >= N);
  // every server echoes what it reads, then the client checks its own bytes
  for (const s of servers) {
    (async () => {
      const buf = new Uint8Array(64);
      const n = await s.read(buf);
      if (n) await s.write(buf.subarray(0, n));
      await s.closeWrite();
    })();
  }
  await Promise.all(clients.map(async (c, i) => {
    const msg = new TextEncoder().encode(`hello ${i} via ${c.remoteAddr.hostname}`);
    await c.write(msg);
    const buf = new Uint8Array(64);
    let got = 0;
    while (true) {
      const n = await c.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    assert.deepEqual(buf.subarray(0, got), msg);
    c.close();
  }));
  for (const s of servers) s.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(proxy.stats()["tcp.connections"], 0);
  close();
});
