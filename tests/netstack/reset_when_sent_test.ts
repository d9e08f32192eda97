/**
 * `resetWhenSent`: the RST follows every byte already written (a target's last bytes, then its
 * reset), where an immediate `reset` drops what the windows had not let out yet; a peer that
 * stops reading cannot hold the connection past the timeout.
 */
import assert from "node:assert/strict";
import { Netstack, type NetstackOptions, type TcpConn } from "../../src/netstack/mod.ts";
import { readUntilEnd, wire } from "./_link.ts";

/** A client stack dialing through a server stack that accepts every flow; returns both ends. */
async function pair(client: Partial<NetstackOptions> = {}) {
  const c = await Netstack.create({ addresses: ["10.66.0.2/24"], ...client });
  const s = await Netstack.create({ addresses: ["10.66.0.1/24"] });
  wire(c, s);
  wire(s, c);
  const accepted = new Promise<TcpConn>((resolve) => {
    s.onTcpFlow = (req) => void req.accept().then(resolve);
  });
  const peer = await c.dialTcp({ hostname: "192.0.2.9", port: 443 });
  return {
    peer,
    server: await accepted,
    close() {
      c.close();
      s.close();
    },
  };
}

const SIZE = 1024 * 1024;

Deno.test("netstack: resetWhenSent delivers every written byte, then the RST", async () => {
  const p = await pair();
  const reading = readUntilEnd(p.peer);
  await p.server.write(new Uint8Array(SIZE).fill(1));
  await p.server.resetWhenSent(10_000);
  assert.deepEqual(await reading, { bytes: SIZE, error: "ConnectionResetError" });
  assert.ok((await p.peer.closed) instanceof Error, "the peer saw a reset, not a close");
  p.close();
});

Deno.test("netstack: an immediate reset drops what was still queued (what resetWhenSent avoids)", async () => {
  const p = await pair();
  const reading = readUntilEnd(p.peer);
  await p.server.write(new Uint8Array(SIZE).fill(1));
  p.server.reset();
  const got = await reading;
  assert.equal(got.error, "ConnectionResetError");
  assert.ok(got.bytes < SIZE, `${got.bytes} bytes arrived before the RST`);
  p.close();
});

Deno.test("netstack: a peer that stops reading cannot hold resetWhenSent past its timeout", async () => {
  const p = await pair({ tcpWindow: 64 * 1024 }); // the peer's window fills and stays shut
  await p.server.write(new Uint8Array(SIZE));
  const t0 = performance.now();
  await p.server.resetWhenSent(300);
  const waited = performance.now() - t0;
  assert.ok(waited >= 250 && waited < 5_000, `reset after ${waited.toFixed(0)} ms`);
  assert.ok((await p.peer.closed) instanceof Error, "the peer was reset");
  p.close();
});
