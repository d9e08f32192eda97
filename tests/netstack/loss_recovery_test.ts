/**
 * TCP loss recovery of the lwIP sender (src/netstack/wasm/tcp_recovery.patch), asserted on the
 * wire: two stacks joined by a link with a one-way delay (RTT ≈ 20 ms) that drops chosen or
 * seeded data segments and records every data segment the sender transmits. Mechanisms, not
 * speeds: holes are repaired from SACK information without a retransmission timeout, and data
 * the receiver already has is never sent again (a timeout's go-back-N would resend it).
 */
import assert from "node:assert/strict";
import { Netstack, type NetstackOptions, type TcpConn } from "../../src/netstack/mod.ts";
import { LONG_PATH_HOLD_MS } from "../../src/netstack/stack.ts";
import { content, drain, prng, sha256 } from "./_link.ts";

const DELAY_MS = 10;

/** One data segment as the sender put it on the wire. */
interface Sent {
  seq: number;
  len: number;
  at: number;
  dropped: boolean;
  /** Its sequence range had been sent before. */
  retransmission: boolean;
  /** Its first byte had already been delivered once (a useless resend). */
  redelivery: boolean;
}

/** TCP view of an IPv4 packet: header fields and the SACK blocks (left, right) it carries. */
function parseTcp(p: Uint8Array) {
  if (p.length < 40 || p[0]! >> 4 !== 4 || p[9] !== 6) return null;
  const ihl = (p[0]! & 15) * 4;
  const total = (p[2]! << 8) | p[3]!;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const thl = (p[ihl + 12]! >> 4) * 4;
  const sack: [number, number][] = [];
  for (let o = ihl + 20; o < ihl + thl;) {
    const kind = p[o]!;
    if (kind === 0) break;
    if (kind === 1) {
      o++;
      continue;
    }
    const len = p[o + 1]!;
    if (len < 2) break;
    if (kind === 5) {
      for (let b = o + 2; b + 8 <= o + len; b += 8) sack.push([v.getUint32(b), v.getUint32(b + 4)]);
    }
    o += len;
  }
  return {
    seq: v.getUint32(ihl + 4),
    ack: v.getUint32(ihl + 8),
    flags: p[ihl + 13]!,
    dataLen: total - ihl - thl,
    sack,
  };
}

/**
 * One link direction: delivers after DELAY_MS in order (a FIFO behind one timer) unless `drop`
 * says otherwise for the n-th first transmission of a data segment (n from 0). Records every
 * data segment sent and every packet's TCP view. With `bytesPerMs` the link also has that rate:
 * packets queue behind each other (a bottleneck with an unbounded queue). With `everyMs` it
 * delivers only at multiples of that time, what is due all at once (ACKs compressed in batches).
 */
function delayedLink(
  from: Netstack,
  to: Netstack,
  drop: (firstSendIndex: number) => boolean,
  bytesPerMs = Infinity,
  everyMs = 0,
  delayMs: () => number = () => DELAY_MS,
) {
  let free = 0; // when the bottleneck has sent everything queued
  /** How long each data packet waited behind the bottleneck (ms), in sending order. */
  const queued: number[] = [];
  const sent: Sent[] = [];
  const packets: NonNullable<ReturnType<typeof parseTcp>>[] = [];
  const seen = new Set<number>();
  const delivered = new Set<number>();
  let firstSends = 0;
  const queue: { at: number; packet: Uint8Array; seq: number; ack: number }[] = [];
  /** When each packet reached `to`, with its ACK number (-1 for a non-TCP packet). */
  const arrivals: { at: number; ack: number }[] = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const release = () => {
    timer = undefined;
    if (closed) return;
    const now = performance.now();
    while (head < queue.length && queue[head]!.at <= now + 0.5) {
      const q = queue[head++]!;
      if (q.seq >= 0) delivered.add(q.seq);
      arrivals.push({ at: performance.now(), ack: q.ack });
      to.input(q.packet);
    }
    if (head > 1024) {
      queue.splice(0, head);
      head = 0;
    }
    if (head < queue.length) timer = setTimeout(release, queue[head]!.at - now);
  };
  from.onOutput = (packet) => {
    const t = parseTcp(packet);
    if (t) packets.push(t);
    let seq = -1;
    let dropped = false;
    if (t && t.dataLen > 0) {
      seq = t.seq;
      const retransmission = seen.has(seq);
      if (!retransmission) dropped = drop(firstSends++);
      sent.push({
        seq,
        len: t.dataLen,
        at: performance.now(),
        dropped,
        retransmission,
        redelivery: retransmission && delivered.has(seq),
      });
      seen.add(seq);
    }
    if (dropped) return;
    const now = performance.now();
    if (seq >= 0 && bytesPerMs !== Infinity) queued.push(Math.max(free - now, 0));
    free = Math.max(free, now) + packet.length / bytesPerMs;
    let at = (bytesPerMs === Infinity ? now : free) + delayMs();
    if (everyMs > 0) at = Math.ceil(at / everyMs) * everyMs;
    queue.push({ at, packet: packet.slice(), seq, ack: t ? t.ack : -1 });
    timer ??= setTimeout(release, at - now);
  };
  return {
    sent,
    packets,
    arrivals,
    queued,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/** Sends `data` from `peer` to `proxy` over delayed links; returns what each link saw. */
async function transfer(
  data: Uint8Array,
  dropData: (firstSendIndex: number) => boolean,
  dropAcks: (index: number) => boolean = () => false,
  ackCoalescing = true,
  bytesPerMs = Infinity,
  ackEveryMs = 0,
  senderOptions: Partial<NetstackOptions> = {},
  receiverOptions: Partial<NetstackOptions> = {},
  delayMs: () => number = () => DELAY_MS,
  /** Sees the sending stack once made; and how long to keep both open after the transfer. */
  watch: { sender?: (peer: Netstack) => void; lingerMs?: number } = {},
) {
  const proxy = await Netstack.create({
    ...receiverOptions,
    addresses: ["10.88.0.1/24"],
    ackCoalescing,
  });
  const peer = await Netstack.create({
    ...senderOptions,
    addresses: ["10.88.0.2/24"],
    ackCoalescing,
  });
  watch.sender?.(peer);
  const dataLink = delayedLink(peer, proxy, dropData, bytesPerMs, 0, delayMs);
  let acks = 0;
  const ackLink = delayedLink(proxy, peer, () => false, Infinity, ackEveryMs, delayMs);
  const ackOutput = proxy.onOutput!;
  proxy.onOutput = (p) => {
    if (dropAcks(acks++)) return;
    ackOutput(p);
  };
  try {
    let accepted: Promise<TcpConn> | undefined;
    proxy.onTcpFlow = (r) => accepted = r.accept();
    const client = await peer.dialTcp({ hostname: "203.0.113.9", port: 9000 });
    for (let i = 0; !accepted && i < 1000; i++) await new Promise((r) => setTimeout(r, 1));
    assert.ok(accepted, "no flow reached the proxy stack");
    const server = await accepted;
    const send = (async () => {
      for (let off = 0; off < data.length; off += 64 * 1024) {
        await client.write(data.subarray(off, off + 64 * 1024));
      }
      await client.closeWrite();
    })();
    const [, got] = await Promise.all([send, drain(server)]);
    client.close();
    server.close();
    if (watch.lingerMs) await new Promise((r) => setTimeout(r, watch.lingerMs));
    return {
      got,
      sent: dataLink.sent,
      queued: dataLink.queued,
      acks: ackLink.packets,
      ackArrivals: ackLink.arrivals,
      senderStats: peer.stats(),
      receiverStats: proxy.stats(),
    };
  } finally {
    dataLink.close();
    ackLink.close();
    proxy.close();
    peer.close();
  }
}

Deno.test("two holes in the last flight: both retransmitted once, without an RTO, nothing else resent", async () => {
  // 300 KiB in one write: flights of 10, 20, 40, 80 segments (IW10, slow start), then the last
  // ~60. Drop the 151st and 161st first transmissions: after the first hole is repaired the ACK
  // is partial and nothing new is left to send, so no dupacks can come for the second hole —
  // only SACK (or NewReno's partial-ACK rule) repairs it before the retransmission timeout.
  const data = content(300 * 1024, 11);
  const { got, sent, ackArrivals } = await transfer(data, (i) => i === 150 || i === 160);
  assert.equal(got.bytes, data.length);
  assert.equal(got.sha256, await sha256(data));

  const dropped = sent.filter((s) => s.dropped);
  assert.equal(dropped.length, 2);
  const rexmits = sent.filter((s) => s.retransmission);
  for (const d of dropped) {
    const r = rexmits.filter((s) => s.seq === d.seq);
    assert.equal(r.length, 1, `dropped segment ${d.seq} retransmitted ${r.length} times`);
    const after = r[0]!.at - d.at;
    console.log(`  hole at ${d.seq}: retransmitted ${after.toFixed(0)} ms after the drop`);
    // recovery takes about one RTT (20 ms); a retransmission timeout at least 200 ms
    assert.ok(after < 150, `hole ${d.seq} repaired after ${after.toFixed(0)} ms`);
  }
  assert.equal(rexmits.length, 2, "only the two holes are retransmitted");
  // SACK shows both holes as their later data arrives, so the second is repaired before any ACK
  // past the first hole reaches the sender; NewReno would learn of the second hole only from
  // that (partial) ACK, a full RTT after the first retransmission. Asserted on the order of
  // events rather than on milliseconds: timers run late on a loaded host. (When both repairs
  // arrive before the receiver acknowledges, that ACK may still be on its way when the transfer
  // ends: then it cannot have prompted either repair.)
  const [first, second] = [...dropped].sort((a, b) => ((a.seq - b.seq) | 0));
  const secondRepair = rexmits.find((s) => s.seq === second!.seq)!;
  const firstAdvance = ackArrivals.find((a) => a.ack >= 0 && ((a.ack - first!.seq) | 0) > 0);
  if (firstAdvance !== undefined) {
    assert.ok(
      secondRepair.at < firstAdvance.at,
      `second hole retransmitted ${(secondRepair.at - firstAdvance.at).toFixed(0)} ms after the ` +
        "ACK of the first repair reached the sender: it was learned from that ACK, not from SACK",
    );
  }
});

Deno.test("seeded 1% loss each way: content intact, every hole repaired without a timeout, nothing resent needlessly", async () => {
  // 1% rather than the e2e bench's 0.5%: more windows with several losses, which is where
  // lwIP 2.1.3 fell back to its retransmission timer. The seed puts no loss among the last
  // three segments of the transfer, where only a timeout can help (there is no tail-loss probe).
  const data = content(3 * 1024 * 1024, 12);
  const lose = prng(2026);
  const loseAck = prng(7);
  const { got, sent, senderStats } = await transfer(
    data,
    () => lose() < 0.01,
    () => loseAck() < 0.01,
  );
  assert.equal(got.bytes, data.length);
  assert.equal(got.sha256, await sha256(data));
  const dropped = sent.filter((s) => s.dropped);
  assert.ok(dropped.length >= 10, `the seed drops data segments (${dropped.length})`);
  const repair = dropped.map((d) =>
    sent.find((s) => s.retransmission && s.seq === d.seq && s.at > d.at)!.at - d.at
  );
  const redelivered = sent.filter((s) => s.redelivery).length;
  console.log(
    `  ${dropped.length} data segments dropped, ${redelivered} resent needlessly; ` +
      `repairs after ${repair.map((t) => t.toFixed(0)).join(", ")} ms`,
  );
  // a retransmission timeout is at least 200 ms; recovery takes one or two RTTs (20-40 ms)
  assert.ok(Math.max(...repair) < 150, "a hole waited for the retransmission timeout");
  assert.equal(redelivered, 0, `${redelivered} segments the receiver already had were resent`);
  // random loss on a path that does not queue: the path model kept the window where a plain
  // loss-based cut would have shrunk it (tcp_recovery.patch, newt_tcp_loss_ssthresh)
  assert.ok(senderStats["tcp.fast_recoveries"] > 0);
  assert.ok(senderStats["tcp.model_held_window"] > 0, "no loss response was held by the model");
  assert.equal(senderStats["tcp.rto"], 0);
});

Deno.test("the receiving stack SACKs out-of-order data (LWIP_TCP_SACK_OUT)", async () => {
  const data = content(512 * 1024, 13);
  // without coalescing: a dupack per out-of-order segment, as RFC 5681 asks
  const { got, sent, acks } = await transfer(data, (i) => i === 40, () => false, false);
  assert.equal(got.sha256, await sha256(data));
  const hole = sent.find((s) => s.dropped)!;
  // the segment after the hole, once received, is reported in a SACK block
  const next = hole.seq + hole.len;
  const sacking = acks.filter((a) => a.ack === hole.seq && a.sack.some(([l]) => l === next));
  assert.ok(sacking.length >= 3, `${sacking.length} ACKs at the hole carry a SACK block for it`);
});

Deno.test("ACK coalescing behind a hole: the first dupack at once, the rest one per batch, SACK blocks complete", async () => {
  const data = content(512 * 1024, 13);
  const run = (coalesce: boolean) => transfer(data, (i) => i === 40, () => false, coalesce);
  const plain = await run(false);
  const coalesced = await run(true);
  assert.equal(coalesced.got.sha256, await sha256(data));
  const dupacks = (r: typeof plain) => {
    const hole = r.sent.find((s) => s.dropped)!;
    return { hole, acks: r.acks.filter((a) => a.ack === hole.seq && a.sack.length > 0) };
  };
  const p = dupacks(plain), c = dupacks(coalesced);
  console.log(`  dupacks at the hole: ${p.acks.length} plain, ${c.acks.length} coalesced`);
  assert.ok(c.acks.length >= 1, "the hole is reported");
  assert.ok(c.acks.length < p.acks.length, "later dupacks of a batch are merged");
  // the last dupack's first block covers everything received above the hole so far
  const last = c.acks.at(-1)!;
  const above = coalesced.sent.filter((s) =>
    !s.dropped && s.seq > c.hole.seq && s.seq < last.sack[0]![1]
  );
  assert.ok(last.sack[0]![0] === c.hole.seq + c.hole.len, "the block starts right above the hole");
  assert.ok(above.length >= 3, `the block reports ${above.length} segments (a SACK sender's 3)`);
  // only the hole is retransmitted: the merged ACKs lost no information the sender needed
  assert.equal(coalesced.sent.filter((s) => s.retransmission).length, 1);
});

Deno.test("ACK coalescing: one ACK per input batch (at most 16 segments), not per two segments", async () => {
  // The delayed link delivers whatever is due in one synchronous run: an input batch.
  const data = content(2 * 1024 * 1024, 14);
  const count = async (coalesce: boolean) => {
    const { got, sent, acks } = await transfer(data, () => false, () => false, coalesce);
    assert.equal(got.sha256, await sha256(data));
    assert.equal(sent.filter((s) => s.retransmission).length, 0, "nothing is retransmitted");
    return { segments: sent.length, acks: acks.filter((a) => a.dataLen === 0).length };
  };
  const plain = await count(false);
  const coalesced = await count(true);
  console.log(
    `  ${plain.segments} segments: ${plain.acks} ACKs plain, ${coalesced.acks} coalesced`,
  );
  assert.ok(plain.acks >= plain.segments / 3, `lwIP acknowledges every second segment`);
  assert.ok(coalesced.acks * 3 < plain.acks, "coalescing cuts the ACKs at least threefold");
  assert.ok(coalesced.acks >= coalesced.segments / 17, "no more than 16 segments per ACK");
});

Deno.test("pacing: once the sender knows the path's rate, no burst beyond a tenth of the round trip's worth of it (8 segments at least), even when ACKs arrive in 20 ms batches", async () => {
  // A 2 KiB/ms (16 Mbit/s) bottleneck, RTT 20 ms, and ACKs delivered in batches every 20 ms
  // (compressed, as batching receivers and tunnels do): each batch frees ~40 KiB at once.
  // Unpaced, that leaves back to back; paced (tcp_recovery.patch, newt_tcp_pace_credit) it is
  // spread at 5/4 of the delivery rate on a microsecond clock, banking at most 2 ms of it here
  // (a tenth of the lowest RTT, and the bank's 2 ms), 8 segments at least.
  const rate = 2 * 1024;
  const data = content(2 * 1024 * 1024, 15);
  const { got, sent, senderStats } = await transfer(data, () => false, () => false, true, rate, 20);
  assert.equal(got.sha256, await sha256(data));
  // after slow start
  const start = sent[0]!.at + 400;
  const steady = sent.filter((s) => s.at >= start);
  assert.ok(steady.length > 300, `${steady.length} segments after slow start`);
  // for each segment, the bytes sent in the millisecond up to it; the 98th percentile of that,
  // so that one burst after a stall of this (shared, timer-driven) host does not decide it:
  // a pacer that fails lets every ACK batch out at once, and then nearly all segments are in
  // bursts
  const windows: number[] = [];
  for (let i = 0, j = 0, bytes = 0; i < steady.length; i++) {
    bytes += steady[i]!.len;
    while (steady[i]!.at - steady[j]!.at >= 1) bytes -= steady[j++]!.len;
    windows.push(bytes);
  }
  windows.sort((a, b) => a - b);
  const most = windows[Math.floor(windows.length * 0.98)]!;
  // the bank (8 segments here: more than 2 ms of this rate), one segment of overdraft, and 1 ms
  // of refill at up to twice the paced rate (the sender's estimate of the rate comes from
  // compressed ACKs and runs high). Unpaced, ~70 KB leave within a millisecond.
  const paced = 1.25 * rate;
  const bound = 8 * 1460 + 1460 + 2 * paced;
  console.log(
    `  sent within 1 ms, 98th percentile: ${most} bytes, highest ${windows.at(-1)} ` +
      `(bound ${bound}); paced ${senderStats["tcp.paced"]}`,
  );
  assert.ok(senderStats["tcp.paced"] > 0, "the pacer never held the sender");
  assert.ok(most <= bound, `${most} bytes left within one millisecond`);
});

Deno.test("pace timer: on a long path with clumped ACKs a paced flow keeps the bottleneck busy", async () => {
  // The pacing test's path (RTT 20 ms, 2 KiB/ms, ACKs in batches every 20 ms). Without a timer
  // a paced sender sends only while it handles an ACK batch, a burst's worth, then waits for the
  // next batch (or lwIP's 25 ms timer): half the bottleneck's rate (1 MiB in ~1,220 ms). With
  // it (newt_tcp_paced_hook) the credit that accrues between batches is released every
  // millisecond or two: ~610 ms, 84% of the rate counting slow start (574-730 ms alone, 788 once
  // in the full suite on a loaded host). Since the long path's pacer cycles (1x of the measured
  // rate but for a probe round and a drain round), runs whose start-up ended early read up to
  // ~880 ms (58%): the timers are real, hence a bound at 50%, ~1,020 ms.
  const rate = 2 * 1024;
  const data = content(1024 * 1024, 17);
  const { got, sent, senderStats } = await transfer(data, () => false, () => false, true, rate, 20);
  assert.equal(got.sha256, await sha256(data));
  const ms = sent.at(-1)!.at - sent[0]!.at;
  console.log(
    `  1 MiB sent in ${ms.toFixed(0)} ms: ${(data.length / ms / rate * 100).toFixed(0)}% of ` +
      `the bottleneck; paced ${senderStats["tcp.paced"]}, pacer cycle rounds ${
        senderStats["tcp.probe_rounds"] + senderStats["tcp.drain_rounds"]
      }`,
  );
  assert.ok(senderStats["tcp.paced"] > 0, "the pacer never held the sender");
  assert.ok(data.length / ms > 0.5 * rate, `1 MiB took ${ms.toFixed(0)} ms`);
});

Deno.test("long path: onLongPath tells when a paced flow on a long path sends in bulk, and when it stopped", async () => {
  // The pace timer's path (RTT 20 ms, 2 KiB/ms): the pacer holds the flow, the timer ticks, and
  // the link below (the UDP Worker's socket) hears of it to send such output at once.
  const events: { active: boolean; at: number }[] = [];
  const sender = (peer: Netstack) => {
    peer.onLongPath = (active) => events.push({ active, at: performance.now() });
  };
  const lingerMs = LONG_PATH_HOLD_MS * 8; // the check is a timer: late on a busy host
  const data = content(1024 * 1024, 18);
  const { got, sent } = await transfer(
    data,
    () => false,
    () => false,
    true,
    2 * 1024,
    20,
    {},
    {},
    undefined,
    { sender, lingerMs },
  );
  assert.equal(got.sha256, await sha256(data));
  const last = sent.at(-1)!.at;
  assert.ok(events.length >= 2, JSON.stringify(events));
  assert.equal(events[0]!.active, true);
  assert.ok(events[0]!.at < last, "told only after the transfer");
  assert.equal(events.at(-1)!.active, false, "still active after the transfer");
  const end = events.at(-1)!.at - last;
  assert.ok(end > 0 && end < lingerMs, `told ${end.toFixed(0)} ms after the last data`);
  for (let i = 1; i < events.length; i++) assert.notEqual(events[i]!.active, events[i - 1]!.active);
});

Deno.test("a path without a queue holds most losses at the path model's floor", async () => {
  // A 2 ms round trip, 2% random loss, no bottleneck: nothing queues, so a loss is taken for
  // random loss (TCP Veno's rule) and held at the model's floor (1.5 times the delivery rate
  // times the lowest RTT) rather than cut below it. Not every one: a cut to 7/10 of the flight
  // that stays above the floor is not counted as held, and segments that waited behind a
  // repaired hole lengthen the smoothed RTT, which can make the rule see a queue (0-5 cuts below
  // the floor per seed). A loaded host can stretch this path past the 4 ms of a long one, where
  // no loss is cut below the floor.
  // Before the long path's pacer (0df5e08) this test ran on the 20 ms path and counted how often
  // the window stopped the sender, to show the window raised back to the floor at each round's
  // end. There start-up now paces at twice the rate past losses, bounded by the window at the
  // floor, so the count no longer says it; on a 2 ms path timer noise hides it (369-648 stops
  // over four seeds without the raise, 289-324 with it, 680 once in a loaded full suite).
  const data = content(4 * 1024 * 1024, 18);
  let recoveries = 0, held = 0;
  for (const seed of [99, 13, 7, 42]) {
    const lose = prng(seed);
    const { got, senderStats } = await transfer(
      data,
      () => lose() < 0.02,
      () => false,
      true,
      Infinity,
      0,
      {},
      {},
      () => 1,
    );
    assert.equal(got.sha256, await sha256(data));
    const s = senderStats;
    console.log(
      `  seed ${seed}: recoveries ${s["tcp.fast_recoveries"]}, held ${
        s["tcp.model_held_window"]
      }, cut below the floor ${s["tcp.congestion_cuts"]}, window stops ${
        s["tcp.send_limited_cwnd"]
      }, paced ${s["tcp.paced"]}`,
    );
    assert.ok(s["tcp.fast_recoveries"] >= 5, "the seed loses too little");
    assert.equal(s["tcp.rto"], 0);
    recoveries += s["tcp.fast_recoveries"]!;
    held += s["tcp.model_held_window"]!;
  }
  // Over all seeds, not per seed: two busy processes beside the suite once stretched one seed's
  // round trips into a queue (9 of 50 held, 28 cut below the floor; the other seeds 29 of 34 and
  // 34 of 36). Unloaded the seeds hold 124 of 143; with the rule broken, none would be held.
  assert.ok(2 * held >= recoveries, `${held} of ${recoveries} losses held`);
});

Deno.test("long path: a loss is held at the model's floor even while the path queues", async () => {
  // A 32 Mbit/s bottleneck with an unbounded queue, a 20 ms round trip, two first transmissions
  // lost. The queue makes the smoothed RTT well above the lowest, which on a short path is taken
  // for congestion and cut below the floor (TCP Veno's rule). On a long path the pacer drains what
  // it queues (its probe/drain cycle) and the smoothed RTT mostly measures segments that waited
  // behind a repaired hole, so every loss is held at the floor: the code before held neither of
  // these two (0 of 2), which over the bench's impaired path cut the window each round trip and
  // kept the download near half of the delivery rate it had measured.
  const data = content(4 * 1024 * 1024, 18);
  const { got, senderStats } = await transfer(
    data,
    (i) => i === 1500 || i === 2500,
    () => false,
    true,
    4000,
  );
  assert.equal(got.sha256, await sha256(data));
  const s = senderStats;
  console.log(
    `  losses held at the floor: ${s["tcp.model_held_window"]} of ${s["tcp.fast_recoveries"]}, ` +
      `cut below it: ${s["tcp.congestion_cuts"]}`,
  );
  assert.equal(s["tcp.fast_recoveries"], 2);
  assert.equal(s["tcp.rto"], 0);
  assert.equal(s["tcp.model_held_window"], 2);
  assert.equal(s["tcp.congestion_cuts"], 0);
});

Deno.test("long path: start-up ends at the bottleneck's rate, the pacer cycles, and no standing queue is left", async () => {
  // No loss at all, a 32 Mbit/s bottleneck with an unbounded queue, 20 ms round trip. Slow start
  // alone never ended here (no loss sets a threshold), the window followed the smoothed RTT that
  // its own queue lengthened, and the median packet of the transfer's second half waited 46-49 ms
  // in the queue. Now start-up ends once three rounds did not raise the rate by a quarter, and
  // the pacer cycles: 3/2 of the rate for a round, 3/4 the next, then 1x.
  const data = content(4 * 1024 * 1024, 18);
  const { got, senderStats, queued } = await transfer(data, () => false, () => false, true, 4000);
  assert.equal(got.sha256, await sha256(data));
  const late = queued.slice(Math.floor(queued.length / 2)).sort((a, b) => a - b);
  const median = late[Math.floor(late.length / 2)]!;
  const s = senderStats;
  console.log(
    `  start-ups ended ${s["tcp.startups_ended"]}, probe rounds ${s["tcp.probe_rounds"]}, drain ${
      s["tcp.drain_rounds"]
    }; median queue in the second half ${median.toFixed(1)} ms`,
  );
  // (a probe that finds the rate a quarter higher starts it up again, so once or twice)
  assert.ok(s["tcp.startups_ended"] >= 1, "start-up never ended");
  assert.ok(s["tcp.probe_rounds"] >= 1 && s["tcp.drain_rounds"] >= 1, "the pacer did not cycle");
  // Alone this reads 13-17 ms, beside three CPU hogs 18-26 (the simulated path runs on timers, and
  // one fresh-clone CI run read 26.8); the standing queue it guards against read 46-49.
  assert.ok(median < 35, `a standing queue: the median packet waited ${median.toFixed(1)} ms`);
});

Deno.test("send limits: the window that held data back is counted, the peer's or the congestion window", async () => {
  const data = content(512 * 1024, 16);
  const noLoss = () => false;
  // a 20 ms round trip and a receive window as large as the transfer: slow start, where the
  // congestion window holds the sender, while the peer's window never does
  const open = await transfer(data, noLoss, noLoss, true, Infinity, 0, {}, {
    tcpWindow: 1024 * 1024,
  });
  // the same with the smallest receive window the stack allows (4 segments)
  const narrow = await transfer(data, noLoss, noLoss, true, Infinity, 0, {}, {
    tcpWindow: 4 * 1460,
  });
  for (const r of [open, narrow]) assert.equal(r.got.sha256, await sha256(data));
  const count = (r: typeof open) =>
    `cwnd ${r.senderStats["tcp.send_limited_cwnd"]}, rwnd ${
      r.senderStats["tcp.send_limited_rwnd"]
    }, paced ${r.senderStats["tcp.paced"]}`;
  console.log(`  open window: ${count(open)}; narrow window: ${count(narrow)}`);
  assert.ok(open.senderStats["tcp.send_limited_cwnd"] > 0, "slow start never held the sender");
  assert.equal(open.senderStats["tcp.send_limited_rwnd"], 0);
  assert.ok(
    narrow.senderStats["tcp.send_limited_rwnd"] > narrow.senderStats["tcp.send_limited_cwnd"],
    "a 4-segment receive window was not what held the sender",
  );
});

/**
 * The most data a transfer of `data` sent beyond the highest cumulative ACK the sender had
 * received by then, over the data segments after the first `skip`.
 */
async function mostInFlight(
  data: Uint8Array,
  drop: (firstSendIndex: number) => boolean,
  options: Partial<NetstackOptions>,
  skip = 0,
): Promise<number> {
  const { got, sent, ackArrivals } = await transfer(
    data,
    drop,
    () => false,
    true,
    Infinity,
    0,
    options,
  );
  assert.equal(got.sha256, await sha256(data));
  let acked = sent[0]!.seq;
  let a = 0;
  let most = 0;
  for (const [i, s] of sent.entries()) {
    while (a < ackArrivals.length && ackArrivals[a]!.at <= s.at) {
      const ack = ackArrivals[a++]!.ack;
      if (ack >= 0 && ((ack - acked) | 0) > 0) acked = ack;
    }
    if (i >= skip) most = Math.max(most, (s.seq + s.len - acked) | 0);
  }
  return most;
}

/** A small base quota (256 KiB), so that growing past it shows on a short in-memory transfer. */
const BASE = 256 * 1024;

Deno.test("send quota: on a 20 ms path the quota grows past its base with the path model, unless tcpSendQuotaMax fixes it", async () => {
  // Data after a lost segment stays queued until the repair is acknowledged, a round trip or
  // two later. The quota grows with the sender's path model (twice its window, up to
  // tcpSendQuotaMax), so the receiver's 3 MiB window, not the base quota, bounds the flight.
  // Every 1000th first transmission is lost: a hole now and then.
  const data = content(12 * 1024 * 1024, 16);
  const drop = (i: number) => i > 0 && i % 1000 === 0;
  const grown = await mostInFlight(data, drop, { tcpSendQuota: BASE });
  const fixed = await mostInFlight(data, drop, { tcpSendQuota: BASE, tcpSendQuotaMax: BASE });
  console.log(`  most in flight: ${grown} bytes (grown), ${fixed} (fixed at ${BASE})`);
  assert.ok(fixed <= BASE, `a fixed quota let ${fixed} bytes out`);
  assert.ok(grown > 3 * BASE, `the quota did not grow (${grown} bytes in flight)`);
});

Deno.test("send quota: a path that loses often keeps the grown quota", async () => {
  // One first transmission in 12 lost: resends are a twelfth of the data. What waits behind
  // those holes is what the quota bounds; a quota held at its base there capped a 20 ms path
  // at base / round trip (~100 Mbit/s at 256 KiB, ~350 at the default 1 MiB).
  const data = content(6 * 1024 * 1024, 16);
  const drop = (i: number) => i > 0 && i % 12 === 0;
  const grown = await mostInFlight(data, drop, { tcpSendQuota: BASE });
  console.log(`  most in flight with 1/12 lost: ${grown} bytes (base quota ${BASE})`);
  assert.ok(grown > 2 * BASE, `the quota did not grow (${grown} bytes in flight)`);
});

Deno.test("receive queue: segments behind a hole are queued without walking the queue", async () => {
  // One first transmission in 100 lost on a 20 ms path: each hole has a round trip of segments
  // arriving behind it. lwIP walked the whole out-of-sequence queue to queue each of them, and
  // again to check the queue's limits (~1,200 segments looked at per packet in the benchmark's
  // impaired upload, ~20% of the proxy's main thread); one that goes to the end is now queued there.
  // ~2.4 a packet; 3.4-4.1 since the long path's start-up keeps more in flight past losses (a
  // repair lands mid-queue more often), 296 without the appending path: bound 8.
  const data = content(6 * 1024 * 1024, 23);
  const { got, receiverStats } = await transfer(data, (i) => i > 0 && i % 100 === 0);
  assert.equal(got.sha256, await sha256(data));
  const steps = receiverStats["tcp.ooseq_steps"];
  const packets = receiverStats["packets.in"];
  console.log(
    `  queued segments looked at: ${steps} for ${packets} packets in (${
      (steps / packets).toFixed(1)
    } each)`,
  );
  assert.ok(steps < 8 * packets, `${steps} queued segments looked at for ${packets} packets in`);
});

Deno.test("a round trip that grows under a flow (another flow's queue) does not starve it", async () => {
  // 1 ms each way while the sender learns the lowest RTT, then 10 ms each way, as when another
  // flow fills a queue on the path. The path model caps the window outside recovery at 1.5 times
  // the delivery rate times the round trip; with the lowest RTT (2 ms, + 2 ms slack) the cap
  // shrank each round a window-bound flow delivered less (a 20 ms round delivers a window, the
  // cap allows 0.3 of it) until the window sat at 4 segments, ~0.3 MB/s, until the lowest RTT
  // expired 10 s later. The cap now uses the smoothed RTT when that is longer.
  const data = content(8 * 1024 * 1024, 21);
  let switchAt = Infinity;
  const delay = () => {
    const now = performance.now();
    if (switchAt === Infinity) switchAt = now + 300;
    return now < switchAt ? 1 : DELAY_MS;
  };
  const { got, sent, senderStats } = await transfer(
    data,
    () => false,
    () => false,
    true,
    8 * 1024, // a 64 Mbit/s bottleneck: the transfer takes about a second
    0,
    {},
    {},
    delay,
  );
  assert.equal(got.sha256, await sha256(data));
  const after = sent.filter((s) => s.at >= switchAt);
  const ms = after.at(-1)!.at - switchAt;
  const bytes = after.reduce((n, s) => n + s.len, 0);
  console.log(
    `  ${(bytes / 1e6).toFixed(1)} MB sent in the ${ms.toFixed(0)} ms after the round trip grew; ` +
      `window stops ${senderStats["tcp.send_limited_cwnd"]}`,
  );
  assert.ok(bytes > 1e6, "the switch came after most of the transfer");
  assert.ok(bytes / ms > 2_000, `${(bytes / ms).toFixed(0)} bytes/ms after the round trip grew`);
});
