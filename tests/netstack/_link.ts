/**
 * Test helpers: two netstacks wired back to back through an in-memory link with optional,
 * seeded loss / duplication / reordering. Packets are delivered in batches on a microtask so
 * no stack is ever re-entered from its own output.
 */
import { Netstack, type NetstackOptions, type TcpConn } from "../../src/netstack/mod.ts";

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fault injection of one link direction. */
export interface Faults {
  /** Probability a packet is lost. */
  loss?: number;
  /** Probability a packet is delivered twice. */
  duplicate?: number;
  /** Probability a packet is held back and delivered after the next batch. */
  reorder?: number;
  /** PRNG seed. */
  seed?: number;
}

/** Counts of what a link did. */
export interface LinkCounters {
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
}

/** Wires `from`'s output to `to.input`, in batches, with faults. Returns its counters. */
export function wire(from: Netstack, to: Netstack, faults: Faults = {}): LinkCounters {
  const rnd = prng(faults.seed ?? 1);
  const counters: LinkCounters = { delivered: 0, lost: 0, duplicated: 0, reordered: 0 };
  let batch: Uint8Array[] = [];
  let late: Uint8Array[] = [];
  let scheduled = false;
  const deliver = () => {
    scheduled = false;
    const now = batch;
    batch = [];
    const held = late;
    late = [];
    for (const p of now) {
      if (faults.reorder && rnd() < faults.reorder) {
        counters.reordered++;
        late.push(p);
        continue;
      }
      to.input(p);
      counters.delivered++;
    }
    for (const p of held) {
      to.input(p);
      counters.delivered++;
    }
    if (late.length > 0 && !scheduled) {
      scheduled = true;
      setTimeout(deliver, 0);
    }
  };
  from.onOutput = (packet) => {
    if (faults.loss && rnd() < faults.loss) {
      counters.lost++;
      return;
    }
    const copy = packet.slice();
    batch.push(copy);
    if (faults.duplicate && rnd() < faults.duplicate) {
      counters.duplicated++;
      batch.push(copy);
    }
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(deliver);
    }
  };
  return counters;
}

/** Two stacks: `proxy` (10.88.0.1, fd88::1) and `peer` (10.88.0.2, fd88::2), wired. */
export async function stackPair(
  faults: Faults = {},
  options: Partial<NetstackOptions> = {},
): Promise<{ proxy: Netstack; peer: Netstack; close(): void }> {
  const proxy = await Netstack.create({ addresses: ["10.88.0.1/24", "fd88::1/64"], ...options });
  const peer = await Netstack.create({ addresses: ["10.88.0.2/24", "fd88::2/64"], ...options });
  wire(proxy, peer, { ...faults, seed: (faults.seed ?? 1) * 2 });
  wire(peer, proxy, { ...faults, seed: (faults.seed ?? 1) * 2 + 1 });
  return {
    proxy,
    peer,
    close() {
      proxy.close();
      peer.close();
    },
  };
}

/** Reads a connection to its end; returns the byte count and SHA-256 (hex). */
export async function drain(
  conn: { read(b: Uint8Array): Promise<number | null> },
): Promise<{ bytes: number; sha256: string }> {
  const { createHash } = await import("node:crypto");
  const h = createHash("sha256");
  const buf = new Uint8Array(256 * 1024);
  let bytes = 0;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
    bytes += n;
  }
  return { bytes, sha256: h.digest("hex") };
}

/**
 * Reads a connection until its end or an error; returns the byte count and the error's name
 * (null at a clean end): for tests of how a connection ends, where {@link drain} would throw.
 */
export async function readUntilEnd(
  conn: { read(b: Uint8Array): Promise<number | null> },
): Promise<{ bytes: number; error: string | null }> {
  const buf = new Uint8Array(65536);
  let bytes = 0;
  try {
    for (let n; (n = await conn.read(buf)) !== null;) bytes += n;
    return { bytes, error: null };
  } catch (e) {
    return { bytes, error: (e as Error).name };
  }
}

/** Deterministic pseudo-random content of `size` bytes. */
export function content(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  const rnd = prng(seed);
  const words = new Uint32Array(out.buffer, 0, Math.floor(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = (rnd() * 4294967296) >>> 0;
  for (let i = words.length * 4; i < size; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

/** SHA-256 (hex) of bytes. */
export async function sha256(data: Uint8Array): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(data).digest("hex");
}

/**
 * One flow from `peer` to `dst`:443 through `proxy`, 1 MiB each way at once, both half-closed;
 * returns the SHA-256 each side sent and received, and closes both ends.
 */
export async function exchangeMiB(
  proxy: Netstack,
  peer: Netstack,
  dst: string,
): Promise<{ sent: [string, string]; received: [string, string] }> {
  let accepted: Promise<TcpConn> | undefined;
  proxy.onTcpFlow = (r) => accepted = r.accept();
  const client = await peer.dialTcp({ hostname: dst, port: 443 });
  while (!accepted) await new Promise((r) => setTimeout(r, 1));
  const server = await accepted;
  const up = content(1 << 20, 1), down = content(1 << 20, 2);
  const send = async (c: TcpConn, d: Uint8Array) => {
    await c.write(d);
    await c.closeWrite();
  };
  const [, , atServer, atClient] = await Promise.all([
    send(client, up),
    send(server, down),
    drain(server),
    drain(client),
  ]);
  client.close();
  server.close();
  return {
    sent: [await sha256(up), await sha256(down)],
    received: [atServer.sha256, atClient.sha256],
  };
}
