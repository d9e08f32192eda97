/**
 * The cost of a long send queue: flows with megabytes queued behind their windows. The writer is
 * woken in low-water-mark steps rather than per ACK (glue.c on_sent), allocating a new segment
 * does not walk the blocks already queued (heap_next_fit.patch), and tcp_write does not walk the
 * queue to find its end (tcp_recovery.patch): in the benchmark's four-stream download these walks
 * were 13% of the proxy's main thread.
 */
import assert from "node:assert/strict";
import type { TcpConn } from "../../src/netstack/mod.ts";
import { content, drain, type Faults, sha256, stackPair } from "./_link.ts";

const MiB = 1024 * 1024;

/**
 * Opens `flows` proxied flows over a lossy link and sends `size` bytes on each from the proxy's
 * side; data behind each loss waits in the proxy's send queue until the hole is repaired. Checks
 * every byte; returns the proxy's counters.
 */
async function queued(flows: number, size: number, faults: Faults) {
  const { proxy, peer, close } = await stackPair(faults);
  const accepted: Promise<TcpConn>[] = [];
  proxy.onTcpFlow = (r) => accepted.push(r.accept());
  const clients: TcpConn[] = [];
  for (let i = 0; i < flows; i++) {
    clients.push(await peer.dialTcp({ hostname: "203.0.113.80", port: 8080 + i }));
  }
  while (accepted.length < flows) await new Promise((r) => setTimeout(r, 1));
  const servers = await Promise.all(accepted);
  const data = servers.map((_, i) => content(size, 10 + i));
  // Written as a target's socket hands data over: in small pieces that are not whole segments.
  const sent = servers.map(async (s, i) => {
    for (let off = 0; off < size; off += 2900) await s.write(data[i]!.subarray(off, off + 2900));
    await s.closeWrite();
  });
  const got = await Promise.all(clients.map((c) => drain(c)));
  await Promise.all(sent);
  for (const [i, g] of got.entries()) {
    assert.equal(g.bytes, size);
    assert.equal(g.sha256, await sha256(data[i]!));
  }
  const stats = proxy.stats();
  for (const c of [...clients, ...servers]) c.close();
  close();
  return stats;
}

Deno.test("send queue: a writer behind a full window is woken once a low-water mark is free, not per ACK", async () => {
  // 1% loss: data waits behind holes, the queue stays full, and most ACKs free a segment or two
  // while plenty is still queued to send. Woken per ACK, the writer queued that much per call.
  const stats = await queued(1, 4 * MiB, { loss: 0.01, seed: 5 });
  const held = stats["tcp.sent_held"];
  const acks = stats["packets.in"];
  console.log(`  sent callbacks held: ${held} of ${acks} packets in`);
  assert.ok(held > acks / 4, `only ${held} of ${acks} ACKs held back the writer's wake-up`);
});

Deno.test("send queue: allocating a segment does not walk the segments already queued", async () => {
  // Four flows with 1% loss: each flow's acknowledged segments free holes between the others'
  // queued ones. First fit took the lowest hole, an exact fit, then walked every queued block to
  // find the next lowest free one (9-11 blocks per packet here, 60 in the benchmark's download);
  // next fit looks at about one.
  const stats = await queued(4, 2 * MiB, { loss: 0.01, seed: 3 });
  const steps = stats["pool.heap_search_steps"];
  const out = stats["packets.out"];
  console.log(
    `  heap search steps: ${steps} for ${out} packets out (${(steps / out).toFixed(1)} each)`,
  );
  assert.ok(steps < 4 * out, `${steps} heap search steps for ${out} packets out`);
});

Deno.test("send queue: tcp_write finds the end of the queue without walking it", async () => {
  // Four flows with 1% loss keep thousands of segments queued. lwIP walked each flow's unsent
  // queue to its end on every tcp_write; the segment it appended last is the end while unsent.
  const stats = await queued(4, 2 * MiB, { loss: 0.01, seed: 3 });
  const steps = stats["tcp.unsent_steps"];
  const out = stats["packets.out"];
  console.log(`  unsent segments walked: ${steps} for ${out} packets out`);
  assert.ok(steps < out, `tcp_write walked ${steps} queued segments for ${out} packets out`);
});
