/**
 * WireGuard microbenchmarks: transport encrypt/decrypt of 1420-byte packets, the full device
 * data path in memory, handshakes per second, and UDP datagrams per second received by a device.
 * Run: deno run -A --unstable-net bench/wireguard_bench.ts
 */
import { aeadDecrypt, aeadEncrypt } from "../src/wireguard/crypto.ts";
import { Device } from "../src/wireguard/device.ts";
import { generatePrivateKey, publicKey } from "../src/wireguard/keys.ts";
import {
  consumeInitiation,
  consumeResponse,
  createIdentity,
  createInitiation,
  createResponse,
  deriveSessionKeys,
  Handshake,
} from "../src/wireguard/noise.ts";
import { tai64nNow } from "../src/wireguard/tai64n.ts";
import { getLogger } from "../src/log.ts";

/** One result row. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
}

function timeLoop(ms: number, fn: () => void): { n: number; elapsed: number } {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    for (let i = 0; i < 64; i++) fn();
    n += 64;
  }
  return { n, elapsed: performance.now() - start };
}

function ipv4(len: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p.set([10, 0, 0, 1], 12);
  p.set([10, 0, 0, 2], 16);
  return p;
}

/** Runs the WireGuard benchmarks and returns their rows. */
export async function runWireguardBench(seconds = 2): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const key = crypto.getRandomValues(new Uint8Array(32));
  const pkt = crypto.getRandomValues(new Uint8Array(1420));
  const out = new Uint8Array(1436);
  let counter = 0;
  let r = timeLoop(seconds * 1000, () => aeadEncrypt(key, counter++, pkt, undefined, out));
  rows.push({
    name: "encrypt 1420 B (node:crypto)",
    value: (r.n * 1420) / r.elapsed / 1000,
    unit: "MB/s",
  });
  const sealed = aeadEncrypt(key, 1, pkt);
  const plain = new Uint8Array(1436);
  r = timeLoop(seconds * 1000, () => aeadDecrypt(key, 1, sealed, undefined, plain));
  rows.push({
    name: "decrypt 1420 B (node:crypto)",
    value: (r.n * 1420) / r.elapsed / 1000,
    unit: "MB/s",
  });

  // Full device path in memory: route, encrypt, frame → parse, decrypt, replay, AllowedIPs.
  const kA = generatePrivateKey(), kB = generatePrivateKey();
  for (const kind of ["wasm", "node"] as const) {
    const log = getLogger("bench-quiet");
    const a = new Device({ privateKey: kA, logger: log, crypto: kind });
    const b = new Device({ privateKey: kB, logger: log, crypto: kind });
    const from = { address: "127.0.0.1", port: 1 };
    a.sendDatagram = (d) => b.receiveDatagram(d, from);
    b.sendDatagram = (d) => a.receiveDatagram(d, { address: "127.0.0.1", port: 2 });
    a.addPeer({
      publicKey: publicKey(kB),
      allowedIPs: ["10.0.0.2/32"],
      endpoint: { address: "127.0.0.1", port: 2 },
    });
    b.addPeer({ publicKey: publicKey(kA), allowedIPs: ["10.0.0.1/32"] });
    let delivered = 0;
    b.onPacket = () => delivered++;
    const packet = ipv4(1420);
    a.sendPacket(packet);
    delivered = 0;
    r = timeLoop(seconds * 1000, () => a.sendPacket(packet));
    rows.push({
      name: `device path encrypt+decrypt 1420 B (${kind})`,
      value: (delivered * 1420) / r.elapsed / 1000,
      unit: "MB/s",
    });
    a.close();
    b.close();
  }

  // Handshakes: initiation → response → keys, both sides' work.
  const i = createIdentity(kA), s = createIdentity(kB);
  const hsI = new Handshake(i, s.publicKey), hsR = new Handshake(s, i.publicKey);
  let t = 0;
  r = timeLoop(seconds * 1000, () => {
    const m = createInitiation(hsI, 1, tai64nNow())!;
    consumeInitiation(s, m, () => ({ peer: 0, handshake: hsR }), t += 100, 50);
    const resp = createResponse(hsR, 2)!;
    consumeResponse(i, resp, () => ({ peer: 0, handshake: hsI }));
    deriveSessionKeys(hsI);
    deriveSessionKeys(hsR);
    hsR.lastTimestamp = new Uint8Array(12);
  });
  rows.push({
    name: "handshakes (both sides, one core)",
    value: r.n / (r.elapsed / 1000),
    unit: "/s",
  });

  rows.push(await udpReceiveRate(seconds));
  return rows;
}

/**
 * Datagrams per second a listening Device takes in from a C sender on loopback (a JS sender is
 * slower than the receiver and would measure itself). Skipped without a C compiler.
 */
async function udpReceiveRate(seconds: number): Promise<BenchRow> {
  const dir = await Deno.makeTempDir();
  const exe = `${dir}/udp_flood`;
  const cc = await new Deno.Command("cc", {
    args: ["-O2", "-o", exe, new URL("./udp_flood.c", import.meta.url).pathname],
  }).output().catch(() => null);
  if (!cc?.success) {
    return { name: "UDP datagrams received (skipped: no C compiler)", value: 0, unit: "/s" };
  }
  const dev = new Device({ privateKey: generatePrivateKey(), logger: getLogger("bench-quiet") });
  const addr = await dev.listen({ port: 0, hostname: "127.0.0.1" });
  const count = Math.round(300_000 * seconds);
  const start = dev.counters.datagramsReceived;
  const t0 = performance.now();
  const sender = new Deno.Command(exe, { args: [String(addr.port), String(count), "148"] }).spawn();
  await sender.status;
  // Let the receiver drain what the kernel buffered, then count what arrived in the window.
  let last = -1;
  while (dev.counters.datagramsReceived !== last) {
    last = dev.counters.datagramsReceived;
    await new Promise((r) => setTimeout(r, 20));
  }
  const elapsed = performance.now() - t0 - 20;
  const n = dev.counters.datagramsReceived - start;
  dev.close();
  await Deno.remove(dir, { recursive: true });
  return {
    name: `UDP datagrams received by the device (${dev.socket?.backend ?? "?"}; ${n}/${count})`,
    value: n / (elapsed / 1000),
    unit: "/s",
  };
}

if (import.meta.main) {
  for (const row of await runWireguardBench()) {
    console.log(`${row.name.padEnd(50)} ${row.value.toFixed(1).padStart(12)} ${row.unit}`);
  }
}
