/**
 * What one thread hop costs on this machine (issue 7): the UDP Worker and the main thread wake
 * each other with `Atomics.notify` whenever the other sleeps — on a connection-rate load that is
 * several times per connection. Measured here, one wake-up every `gapMs` (so the sleeper really
 * sleeps), both ways:
 *
 * - main → Worker, the Worker blocked in `Atomics.wait` or asleep in its event loop
 *   (`Atomics.waitAsync`, as the UDP Worker's send loop is);
 * - Worker → main (always `waitAsync`), the Worker then blocking or returning to its event loop
 *   (as the UDP Worker's receive loop does).
 *
 * Each row: the notifier's own cost (the `Atomics.notify` call) and the wake-up latency (notify →
 * the sleeper running), medians and 90th percentiles in µs. The latency compares clocks of two
 * threads (`performance.timeOrigin + performance.now()`).
 *
 * Run: deno run -A bench/thread_wake_bench.ts [--quick]
 *
 * @module
 */

/** Index of the word the notifier counts wake-ups in (the sleeper waits for it to move). */
export const SEQ = 0;
/** Index of the word the main thread counts the wake-ups it took in (to-main). */
export const ACK = 1;
/** A case that has not finished within this many ms per round (+5 s) failed. */
const CASE_MS_PER_ROUND = 50;

/** One case, as posted to the Worker (bench/_thread_wake_worker.ts). */
export interface WakeJob {
  /** Who sleeps: the Worker ("to-worker") or the main thread ("to-main"). */
  direction: "to-worker" | "to-main";
  /** to-worker: how the Worker sleeps. */
  sleeper: "blocked" | "event-loop";
  /** to-main: what the Worker does after it notified. */
  waker: "blocks" | "event-loop";
  /** Wake-ups to time. */
  rounds: number;
  /** Idle time before each wake-up, ms. */
  gapMs: number;
  /** Int32 words (SEQ, ACK). */
  words: SharedArrayBuffer;
  /** Float64 times: [2i] notified at, [2i + 1] woke at, [2 · rounds + i] notifier's cost (ms). */
  times: SharedArrayBuffer;
}

/** One measured case. */
export interface WakeRow {
  /** What was measured. */
  name: string;
  /** The notifier's `Atomics.notify` call, µs: median, 90th percentile. */
  notifyUs: [number, number];
  /** Notify → the sleeper running, µs: median, 90th percentile. */
  latencyUs: [number, number];
}

/** Milliseconds on a clock both threads read alike (they agree within ~1 µs here). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The q-quantile (0..1) of `xs` (sorted in place). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
}

async function runCase(job: Omit<WakeJob, "words" | "times">, name: string): Promise<WakeRow> {
  const words = new SharedArrayBuffer(16);
  const times = new SharedArrayBuffer(8 * 3 * job.rounds);
  const w = new Int32Array(words);
  const t = new Float64Array(times);
  const worker = new Worker(new URL("./_thread_wake_worker.ts", import.meta.url), {
    type: "module",
  });
  // A pending waitAsync does not keep Deno's event loop alive by itself.
  const keepAlive = setInterval(() => {}, 1000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let ready!: () => void;
    const started = new Promise<void>((r) => ready = r);
    const done = new Promise((resolve, reject) => {
      worker.onmessage = (e) => e.data === "ready" ? ready() : resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`wake worker failed: ${e.message}`));
      };
    });
    worker.postMessage({ ...job, words, times } satisfies WakeJob);
    if (job.direction === "to-worker") {
      await Promise.race([started, done]);
      await new Promise((r) => setTimeout(r, 20)); // the Worker is asleep
    }
    const deadline = Date.now() + 5000 + job.rounds * CASE_MS_PER_ROUND;
    for (let i = 0; i < job.rounds; i++) {
      if (job.direction === "to-worker") {
        await new Promise((r) => setTimeout(r, job.gapMs));
        const at = now();
        t[2 * i] = at;
        Atomics.store(w, SEQ, i + 1);
        Atomics.notify(w, SEQ);
        t[2 * job.rounds + i] = now() - at;
      } else {
        while (Atomics.load(w, SEQ) <= i) {
          const r = Atomics.waitAsync(w, SEQ, i, Math.max(1, deadline - Date.now()));
          if (r.async) await r.value;
          if (Date.now() > deadline) throw new Error(`${name}: no wake-up ${i} in time`);
        }
        t[2 * i + 1] = now();
        Atomics.store(w, ACK, i + 1);
      }
    }
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name}: the Worker did not finish`)),
        Math.max(1, deadline - Date.now()),
      );
    });
    await Promise.race([done, timeout]);
  } finally {
    clearInterval(keepAlive);
    clearTimeout(timer);
    worker.terminate();
  }
  const notify: number[] = [];
  const latency: number[] = [];
  for (let i = 0; i < job.rounds; i++) {
    notify.push(t[2 * job.rounds + i]! * 1000);
    latency.push((t[2 * i + 1]! - t[2 * i]!) * 1000);
  }
  return {
    name,
    notifyUs: [quantile(notify, 0.5), quantile(notify, 0.9)],
    latencyUs: [quantile(latency, 0.5), quantile(latency, 0.9)],
  };
}

/** The cases, in the order they run: who sleeps, how, and what the Worker does after waking. */
const CASES: [Pick<WakeJob, "direction" | "sleeper" | "waker">, string][] = [
  [
    { direction: "to-worker", sleeper: "blocked", waker: "blocks" },
    "main → Worker blocked in Atomics.wait",
  ],
  [
    { direction: "to-worker", sleeper: "event-loop", waker: "blocks" },
    "main → Worker in its event loop (waitAsync)",
  ],
  [
    { direction: "to-main", sleeper: "blocked", waker: "blocks" },
    "Worker → main, the Worker then blocks",
  ],
  [
    { direction: "to-main", sleeper: "blocked", waker: "event-loop" },
    "Worker → main, the Worker then returns to its loop",
  ],
];

/** Times `rounds` wake-ups of each case. */
export async function measureWakes(rounds: number, gapMs = 1): Promise<WakeRow[]> {
  const rows: WakeRow[] = [];
  for (const [kind, name] of CASES) rows.push(await runCase({ ...kind, rounds, gapMs }, name));
  return rows;
}

if (import.meta.main) {
  const rounds = Deno.args.includes("--quick") ? 100 : 1000;
  console.log(`thread wake-ups (${rounds} each, one per ms; µs, median / 90th percentile)`);
  const fmt = ([a, b]: [number, number]) => `${a.toFixed(1)} / ${b.toFixed(1)}`;
  for (const r of await measureWakes(rounds)) {
    console.log(
      `  ${r.name.padEnd(52)} notify ${fmt(r.notifyUs).padStart(13)}   wake-up ${
        fmt(r.latencyUs).padStart(13)
      }`,
    );
  }
}
