/**
 * The Worker side of bench/thread_wake_bench.ts: sleeps until woken (as the UDP Worker's send loop
 * does) or wakes the main thread (as its receive loop does).
 *
 * @module
 */
import { ACK, now, SEQ, type WakeJob } from "./thread_wake_bench.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WakeJob>) => void) | null;
  postMessage(msg: unknown): void;
};

/** Main notifies, this thread sleeps: record when each wake-up ran. */
async function beWoken(job: WakeJob, words: Int32Array, times: Float64Array): Promise<void> {
  for (let i = 0; i < job.rounds; i++) {
    while (Atomics.load(words, SEQ) <= i) {
      if (job.sleeper === "blocked") Atomics.wait(words, SEQ, i);
      else {
        const r = Atomics.waitAsync(words, SEQ, i);
        if (r.async) await r.value;
      }
    }
    times[2 * i + 1] = now();
  }
}

/** This thread notifies the main thread, then blocks or returns to its event loop. */
async function wake(job: WakeJob, words: Int32Array, times: Float64Array): Promise<void> {
  const idle = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < job.rounds; i++) {
    if (job.waker === "blocks") Atomics.wait(idle, 0, 0, job.gapMs);
    else await new Promise((r) => setTimeout(r, job.gapMs));
    // The main thread took the last wake-up (it always does within ms; bounded anyway).
    for (let n = 0; n < 1000 && Atomics.load(words, ACK) < i; n++) Atomics.wait(idle, 0, 0, 1);
    const t = now();
    times[2 * i] = t;
    Atomics.store(words, SEQ, i + 1);
    Atomics.notify(words, SEQ);
    times[2 * job.rounds + i] = now() - t; // the notifier's own cost
  }
}

scope.onmessage = async (e: MessageEvent<WakeJob>) => {
  const job = e.data;
  const words = new Int32Array(job.words);
  const times = new Float64Array(job.times);
  scope.postMessage("ready");
  if (job.direction === "to-worker") await beWoken(job, words, times);
  else await wake(job, words, times);
  scope.postMessage("done");
};
