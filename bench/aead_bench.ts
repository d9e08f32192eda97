/**
 * Transport AEAD microbenchmark: ChaCha20-Poly1305 seal/open of WireGuard-sized packets, in place
 * with keys preset, WebAssembly (src/wireguard/wasm_aead) against `node:crypto`
 * (src/wireguard/crypto.ts, the current transport path).
 *
 * Run: deno run --no-prompt bench/aead_bench.ts [seconds per row, default 1]
 */
import { aeadDecrypt, aeadEncrypt } from "../src/wireguard/crypto.ts";
import { AEAD_TAG_BYTES, DESCRIPTOR_WORDS, WasmAead } from "../src/wireguard/wasm_aead/mod.ts";
import process from "node:process";

/** One result row: throughput and the time per packet. */
export interface AeadBenchRow {
  /** What was measured. */
  name: string;
  /** Payload megabytes (10^6) per second. */
  mbPerSecond: number;
  /** Wall-clock microseconds per packet. */
  usPerPacket: number;
  /** CPU microseconds per packet (this process; steadier than wall time on a busy machine). */
  cpuUsPerPacket: number;
}

/** Runs `fn` (which handles `perCall` packets) for about `ms` milliseconds. */
function measure(
  name: string,
  bytes: number,
  perCall: number,
  ms: number,
  fn: () => void,
): AeadBenchRow {
  for (let i = 0; i < 200; i++) fn(); // warm-up: let V8 tier up before timing
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let calls = 0;
  let elapsed = 0;
  do {
    for (let i = 0; i < 32; i++) fn();
    calls += 32;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  const cpu = process.cpuUsage(cpu0);
  const packets = calls * perCall;
  return {
    name,
    mbPerSecond: (packets * bytes) / elapsed / 1000,
    usPerPacket: (elapsed * 1000) / packets,
    cpuUsPerPacket: (cpu.user + cpu.system) / packets,
  };
}

/** Runs the AEAD benchmarks for packets of `size` bytes and returns their rows. */
export function runAeadBench(size = 1420, seconds = 1): AeadBenchRow[] {
  const ms = seconds * 1000;
  const rows: AeadBenchRow[] = [];
  const key = crypto.getRandomValues(new Uint8Array(32));
  const plain = crypto.getRandomValues(new Uint8Array(size));

  // node:crypto, writing into a reused output buffer as the device does today.
  const out = new Uint8Array(size + AEAD_TAG_BYTES);
  let n = 0;
  rows.push(measure(`seal ${size} B node:crypto`, size, 1, ms, () => {
    aeadEncrypt(key, n++, plain, undefined, out);
  }));
  const sealed = aeadEncrypt(key, 7, plain);
  rows.push(measure(`open ${size} B node:crypto`, size, 1, ms, () => {
    if (!aeadDecrypt(key, 7, sealed, undefined, out)) throw new Error("open failed");
  }));

  // wasm, one call per packet, in place. Sealing the same bytes repeatedly is fine for timing.
  const aead = WasmAead.create();
  aead.setKey(1, key);
  const ptr = aead.scratch(size + AEAD_TAG_BYTES);
  aead.memory.set(plain, ptr);
  n = 0;
  rows.push(measure(`seal ${size} B wasm`, size, 1, ms, () => {
    aead.seal(1, n++, 0, ptr, size);
  }));
  // Open never modifies a forged packet, so timing a failing open would skip the decryption:
  // seal once, then re-open a pristine copy each time (the copy is ~1% of the cost).
  aead.memory.set(plain, ptr);
  aead.seal(1, 9, 0, ptr, size);
  const pristine = aead.memory.slice(ptr, ptr + size + AEAD_TAG_BYTES);
  rows.push(measure(`open ${size} B wasm (incl. restoring copy)`, size, 1, ms, () => {
    aead.memory.set(pristine, ptr);
    if (!aead.open(1, 9, 0, ptr, size + AEAD_TAG_BYTES)) throw new Error("open failed");
  }));

  // wasm, batches of 64 packets per call (one descriptor each).
  const batch = 64;
  const stride = (size + AEAD_TAG_BYTES + 15) & ~15;
  const base = aead.scratch(batch * stride);
  const d = aead.batch;
  for (let i = 0; i < batch; i++) {
    aead.memory.set(plain, base + i * stride);
    d.set([1, 100 + i, 0, base + i * stride, size, 0], i * DESCRIPTOR_WORDS);
  }
  rows.push(measure(`sealMany ${size} B wasm (64/call)`, size, batch, ms, () => {
    for (let i = 0; i < batch; i++) d[i * DESCRIPTOR_WORDS + 1]! += batch;
    aead.sealMany(batch);
  }));
  for (let i = 0; i < batch; i++) {
    d[i * DESCRIPTOR_WORDS + 1] = 100 + i;
    d[i * DESCRIPTOR_WORDS + 4] = size;
    aead.memory.set(plain, base + i * stride);
  }
  aead.sealMany(batch);
  for (let i = 0; i < batch; i++) d[i * DESCRIPTOR_WORDS + 4] = size + AEAD_TAG_BYTES;
  const sealedBatch = aead.memory.slice(base, base + batch * stride);
  rows.push(
    measure(`openMany ${size} B wasm (64/call, incl. restoring copy)`, size, batch, ms, () => {
      aead.memory.set(sealedBatch, base);
      if (aead.openMany(batch) !== batch) throw new Error("open failed");
    }),
  );
  return rows;
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 1);
  for (const size of [1420, 64]) {
    for (const r of runAeadBench(size, seconds)) {
      console.log(
        `${r.name.padEnd(52)} ${r.mbPerSecond.toFixed(0).padStart(6)} MB/s ${
          r.usPerPacket.toFixed(2).padStart(7)
        } µs/packet ${r.cpuUsPerPacket.toFixed(2).padStart(7)} µs CPU`,
      );
    }
  }
}
