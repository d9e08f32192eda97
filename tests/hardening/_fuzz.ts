/**
 * Shared pieces of the hardening tests: a seeded PRNG whose seed is printed (and can be set with
 * `FUZZ_SEED=<n>` or `FUZZ_SEED=random`), a case-count override (`FUZZ_CASES=<n>`), byte
 * mutators, a quiet logger and a count of this process's open file descriptors.
 */
import { Logger } from "../../src/log.ts";

import { prng } from "../netstack/_link.ts";
export { prng };

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The seed of fuzz target `name`: `FUZZ_SEED` if set, else `fallback`. Printed either way. */
export function fuzzSeed(name: string, fallback: number): number {
  const text = env("FUZZ_SEED");
  let seed = fallback >>> 0;
  if (text === "random") seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  else if (text && /^\d+$/.test(text)) seed = Number(text) >>> 0;
  console.log(`${name}: seed ${seed} (reproduce: FUZZ_SEED=${seed})`);
  return seed;
}

/** Cases to run: `FUZZ_CASES` if set (at least 1), else `fallback`. */
export function fuzzCases(fallback: number): number {
  const text = env("FUZZ_CASES");
  return text && /^\d+$/.test(text) ? Math.max(1, Number(text)) : fallback;
}

/** Random helpers over one PRNG. */
export class Rng {
  /** The underlying generator. */
  readonly next: () => number;
  /** Creates helpers over a seeded generator. */
  constructor(seed: number) {
    this.next = prng(seed);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** Interesting byte values: boundaries of 8/16-bit fields. */
const MAGIC = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/**
 * A mutation of `base`: bit flips, byte sets (random or boundary values), 16/32-bit boundary
 * words, truncation, extension, a chunk duplicated or removed. `focus` bounds where the
 * byte-level edits land (headers are where parsers break).
 */
export function mutate(rng: Rng, base: Uint8Array, focus = base.length): Uint8Array {
  let p: Uint8Array = base.slice();
  const span = () => Math.max(1, Math.min(focus, p.length));
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const op = rng.int(9);
    if (p.length === 0) p = rng.bytes(1 + rng.int(64));
    if (op <= 2) {
      const i = rng.int(span());
      p[i] = p[i]! ^ (1 << rng.int(8));
    } else if (op === 3) {
      p[rng.int(span())] = rng.int(256);
    } else if (op === 4) {
      p[rng.int(span())] = rng.pick(MAGIC);
    } else if (op === 5 && p.length >= 2) {
      const i = rng.int(Math.max(1, span() - 1));
      const v = rng.pick([0, 1, 0x7fff, 0x8000, 0xffff, p.length, p.length + 1, p.length - 1]);
      p[i] = (v >> 8) & 0xff;
      if (i + 1 < p.length) p[i + 1] = v & 0xff;
    } else if (op === 6) {
      p = p.slice(0, rng.int(p.length + 1));
    } else if (op === 7) {
      const extra = rng.chance(0.5) ? new Uint8Array(1 + rng.int(64)) : rng.bytes(1 + rng.int(64));
      const out = new Uint8Array(p.length + extra.length);
      out.set(p);
      out.set(extra, p.length);
      p = out;
    } else if (p.length > 4) {
      const a = rng.int(p.length), len = 1 + rng.int(Math.min(32, p.length - a));
      const out = new Uint8Array(p.length - len);
      out.set(p.subarray(0, a));
      out.set(p.subarray(a + len), a);
      p = out;
    }
  }
  return p;
}

/** A logger with no handlers: nothing is formatted or printed. */
export const quietLogger: Logger = new Logger("hardening-quiet", "CRITICAL");

/** Inodes of the sockets this process holds (through a child `ls`: Deno 2.9.6 wants --allow-all
 * to read /proc/<pid> once --allow-run is granted). */
export function socketInodes(): Set<string> {
  const out = new Deno.Command("sh", {
    args: ["-c", `ls -l /proc/${Deno.pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  return new Set([...text.matchAll(/socket:\[(\d+)\]/g)].map((m) => m[1]!));
}

/** The kernel's socket tables: inode → the ports at its two ends ([] for a unix socket). */
function listedSockets(): Map<string, number[]> {
  const listed = new Map<string, number[]>();
  for (const t of ["tcp", "tcp6", "udp", "udp6"]) {
    for (const line of Deno.readTextFileSync(`/proc/net/${t}`).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (a: string) => parseInt(a.slice(a.lastIndexOf(":") + 1), 16);
      listed.set(f[9]!, [port(f[1]!), port(f[2]!)]);
    }
  }
  for (const line of Deno.readTextFileSync("/proc/net/unix").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 7) listed.set(f[6]!, []);
  }
  return listed;
}

/**
 * Sockets of this process a test on target `port` left behind: any socket with `port` at one end,
 * and any socket opened since `before` that no kernel table lists (a TCP connection closed at both
 * ends but whose descriptor was never released). Sockets that other test files in this process
 * open meanwhile are listed with their own ports and do not count, as a descriptor count would.
 */
export function leakedSockets(before: Set<string>, port: number): string[] {
  const listed = listedSockets();
  return [...socketInodes()].filter((inode) => {
    const ports = listed.get(inode);
    return ports === undefined ? !before.has(inode) : ports.includes(port);
  });
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until truthy or `ms` pass; returns the last value. */
export async function waitUntil<T>(fn: () => T, ms: number, step = 20): Promise<T> {
  const end = performance.now() + ms;
  let v = fn();
  while (!v && performance.now() < end) {
    await sleep(step);
    v = fn();
  }
  return v;
}

/** Sum of a map's or record's numeric values. */
export function total(m: Map<string, number> | Record<string, number>): number {
  let s = 0;
  for (const v of m instanceof Map ? m.values() : Object.values(m)) s += v;
  return s;
}
